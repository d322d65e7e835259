//! Verifying a self-asserted e-mail address by a one-time code: the citizen asks for a code,
//! it goes by e-mail to the address in their wallet, and typing it back marks that address
//! verified (a new version of the value, verified, and the account's address with it).
//!
//! Only a keyed digest of the code is stored; a code lasts [`CODE_TTL_SECS`] and allows
//! [`MAX_ATTEMPTS`] guesses; asking again replaces it. Verification is journaled as
//! `email.verified`.

use clave_common::journal::{self, NewEvent};
use clave_common::mail::{Email, Mailer};
use rand::Rng;
use serde_json::{Value, json};

use crate::values::{self, CITIZEN, NewValue};
use crate::{Wallet, WalletError};

/// How long a code is valid, in seconds.
pub const CODE_TTL_SECS: i64 = 15 * 60;
/// Guesses allowed per code.
pub const MAX_ATTEMPTS: i64 = 5;
/// The keyed-digest purpose of codes.
const PURPOSE: &str = "email-code";

impl Wallet {
    fn code_digest(&self, account_id: &str, email: &str, code: &str) -> String {
        self.idp()
            .ctx()
            .master
            .keyed_digest(PURPOSE, format!("{account_id}\n{email}\n{code}").as_bytes())
    }

    /// The citizen's current e-mail address if they entered it and it is not verified.
    pub async fn unverified_email(&self, account_id: &str) -> Result<Option<String>, WalletError> {
        let values = self.values().current(account_id).await?;
        Ok(values
            .into_iter()
            .find(|v| v.attribute == "email" && v.source == CITIZEN && !v.verified)
            .and_then(|v| v.value.as_str().map(str::to_owned)))
    }

    /// Makes a new code for the citizen's unverified address and sends it through `mailer`;
    /// returns the address.
    pub async fn send_email_code(
        &self,
        account_id: &str,
        mailer: &Mailer,
    ) -> Result<String, WalletError> {
        let email = self.unverified_email(account_id).await?.ok_or_else(|| {
            WalletError::Conflict("there is no unverified e-mail address to verify".into())
        })?;
        let code = format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000));
        let now = self.now();
        sqlx::query(
            "INSERT INTO wallet_email_codes (account_id, email, code_digest, expires_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (account_id) DO UPDATE SET email = $2, \
             code_digest = $3, expires_at = $4, attempts = 0, created_at = $5",
        )
        .bind(account_id)
        .bind(&email)
        .bind(self.code_digest(account_id, &email, &code))
        .bind(now + CODE_TTL_SECS)
        .bind(now)
        .execute(self.db().pool())
        .await?;
        let message = Email {
            to: email.clone(),
            subject: format!("Tu código de verificación: {code} / Your verification code"),
            body: format!(
                "Tu código para verificar este correo en ClaveÚnica es {code}. Vence en 15 minutos.\n\
                 Si no lo pediste, ignora este mensaje.\n\n\
                 Your code to verify this address is {code}. It expires in 15 minutes.\n\
                 If you did not ask for it, ignore this message.\n"
            ),
        };
        if let Err(error) = mailer.send(&message).await {
            tracing::warn!(%error, "cannot send an e-mail verification code");
            return Err(WalletError::Conflict(
                "the code could not be sent; try again in a few minutes".into(),
            ));
        }
        Ok(email)
    }

    /// Checks `code`; when right, the address is verified.
    pub async fn confirm_email_code(
        &self,
        account_id: &str,
        code: &str,
    ) -> Result<(), WalletError> {
        let code = code.trim();
        let ctx = self.idp().ctx();
        let now = self.now();
        let mut tx = ctx.db.begin().await?;
        let row: Option<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT email, code_digest, expires_at, attempts FROM wallet_email_codes WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email, digest, expires_at, attempts)) = row else {
            return Err(WalletError::Conflict(
                "ask for a code first: there is none waiting".into(),
            ));
        };
        if expires_at <= now {
            return Err(WalletError::Conflict(
                "the code expired; ask for a new one".into(),
            ));
        }
        if attempts >= MAX_ATTEMPTS {
            return Err(WalletError::Conflict(
                "too many wrong codes; ask for a new one".into(),
            ));
        }
        sqlx::query("UPDATE wallet_email_codes SET attempts = attempts + 1 WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let right = code.len() == 6
            && code.bytes().all(|b| b.is_ascii_digit())
            && self.code_digest(account_id, &email, code) == digest;
        if !right {
            tx.commit().await?;
            let left = MAX_ATTEMPTS - attempts - 1;
            return Err(WalletError::Invalid(format!(
                "that code is not right; {left} attempts left"
            )));
        }
        if self.unverified_email(account_id).await?.as_deref() != Some(email.as_str()) {
            return Err(WalletError::Conflict(
                "the address changed since the code was sent; ask for a new one".into(),
            ));
        }
        let value = Value::String(email.clone());
        let new = NewValue {
            account_id,
            attribute: "email",
            value: &value,
            source: CITIZEN,
            source_reference: Some("email-code"),
            verified: true,
            valid_from: None,
            valid_until: None,
        };
        values::record(&mut tx, &new, now).await?;
        self.mirror_into_account(&mut tx, account_id, "email", &value, true)
            .await?;
        sqlx::query("DELETE FROM wallet_email_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new("email.verified")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "method": "email-code" }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }
}
