//! Passkeys (WebAuthn): registration, use as a second factor after the password, and
//! passwordless login with discoverable credentials.
//!
//! The relying party id is the host of `server.public_url` and the only accepted origin is
//! that URL, so an answer made for another site (a phishing copy) is refused. Each ceremony
//! (a challenge sent to the browser) is kept in the database, not in a node's memory, and is
//! consumed by one `DELETE` whose row count decides the winner: an answer is accepted at most
//! once, on whichever node it reaches. The signature counter is checked by webauthn-rs and the
//! stored value only ever moves forward (one conditional `UPDATE`), so a cloned credential
//! that replays an old counter is refused.
//!
//! Levels: webauthn-rs 0.5 asks every passkey ceremony for user verification (`required`:
//! PIN, fingerprint, face) and refuses an answer without it, so every accepted use is phishing
//! resistant and gives level 3 (`urn:clave:loa:3`), whether after the password (the step-up)
//! or alone (passwordless). An authenticator that cannot verify its user cannot register or
//! answer at all; there is no level-2 passkey. Registration, use and deletion are journaled.

use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::accounts::Account;
use crate::session::{Authentication, LOA_2, LOA_3};
use crate::{Idp, IdpError};

/// How long a citizen has to answer a WebAuthn prompt.
pub const CEREMONY_TTL_SECS: i64 = 300;
/// The longest passkey name kept, in characters.
pub const MAX_NAME: usize = 60;
/// The name given to a passkey registered without one.
pub const DEFAULT_NAME: &str = "Llave de acceso";

/// Why a passkey operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony is unknown, already answered, expired, or was for something else.
    #[error("the passkey prompt has expired or was already answered")]
    CeremonyExpired,
    /// The browser's answer is not a WebAuthn answer at all.
    #[error("malformed WebAuthn response: {0}")]
    Malformed(String),
    /// The answer does not verify: wrong origin, wrong challenge, bad signature, counter went
    /// back, or no user verification where it is needed.
    #[error("the passkey answer was refused: {0}")]
    Refused(String),
    /// The credential used is not registered (to this citizen).
    #[error("unknown passkey")]
    UnknownCredential,
    /// The citizen has no passkey to ask for.
    #[error("no passkey registered")]
    NoPasskeys,
    /// The credential is already registered.
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    /// The passkey named does not exist (for this citizen).
    #[error("passkey not found")]
    NotFound,
    /// The name is empty or too long.
    #[error("{0}")]
    InvalidName(String),
    /// The server's own configuration does not allow WebAuthn (an IP address as public URL).
    #[error("WebAuthn is not available with this public URL: {0}")]
    Unavailable(String),
    /// Something else failed (database, stored data).
    #[error(transparent)]
    Idp(#[from] IdpError),
}

impl From<sqlx::Error> for PasskeyError {
    fn from(e: sqlx::Error) -> Self {
        Self::Idp(IdpError::Db(e))
    }
}

/// A ceremony begun: its id, to send back with the answer, and the options for
/// `navigator.credentials.create()` / `get()` (the `publicKey` member, base64url encoded as
/// webauthn-rs writes it).
#[derive(Debug, Clone, Serialize)]
pub struct Ceremony {
    /// The ceremony id.
    pub id: String,
    /// What to pass to the browser's WebAuthn call.
    pub options: Value,
}

/// A registered passkey as the citizen sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasskeyInfo {
    /// Our id for it.
    pub id: String,
    /// The citizen's name for it.
    pub name: String,
    /// When it was registered (Unix seconds).
    pub created_at: i64,
    /// When it was last used to log in.
    pub last_used_at: Option<i64>,
    /// Whether it may be synchronised between devices.
    pub backup_eligible: bool,
}

/// A successful use of a passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyUse {
    /// The citizen.
    pub account_id: String,
    /// The passkey used.
    pub passkey_id: String,
    /// Whether the authenticator verified the user (PIN, biometrics).
    pub user_verified: bool,
    /// Whether the credential may be synchronised (a software key rather than a device key).
    pub backup_eligible: bool,
}

impl PasskeyUse {
    /// The authentication this use amounts to: after the password (`with_password`) or on
    /// its own; level 3, as every accepted use is user-verified (see the module doc). The
    /// level-2 answer for an unverified use is only a safe fallback should that ever change.
    pub fn authentication(&self, with_password: bool) -> Authentication {
        let mut amr: Vec<String> = Vec::new();
        if with_password {
            amr.push("pwd".into());
        }
        amr.push(if self.backup_eligible { "swk" } else { "hwk" }.into());
        if self.user_verified {
            amr.push("user".into());
        }
        amr.push("mfa".into());
        Authentication {
            acr: if self.user_verified { LOA_3 } else { LOA_2 }.into(),
            amr,
        }
    }
}

/// What a ceremony is for; a ceremony answers only its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Register,
    SecondFactor,
    Passwordless,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SecondFactor => "second_factor",
            Self::Passwordless => "passwordless",
        }
    }
}

#[derive(sqlx::FromRow)]
struct CeremonyRow {
    kind: String,
    account_id: Option<String>,
    state: String,
    expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct PasskeyRow {
    id: String,
    account_id: String,
    name: String,
    credential: String,
    sign_count: i64,
    backup_eligible: i64,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl PasskeyRow {
    fn info(&self) -> PasskeyInfo {
        PasskeyInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            backup_eligible: self.backup_eligible != 0,
        }
    }

    fn passkey(&self) -> Result<Passkey, PasskeyError> {
        serde_json::from_str(&self.credential).map_err(|e| {
            IdpError::Internal(format!("stored passkey {} unreadable: {e}", self.id)).into()
        })
    }
}

const PASSKEY_COLUMNS: &str =
    "id, account_id, name, credential, sign_count, backup_eligible, created_at, last_used_at";

/// The passkey service.
#[derive(Debug, Clone, Copy)]
pub struct Passkeys<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// Passkeys (WebAuthn).
    pub fn passkeys(&self) -> Passkeys<'_> {
        Passkeys { idp: self }
    }
}

/// The base64url (no padding) form of a credential id, as stored.
fn credential_key(raw: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn refused(e: WebauthnError) -> PasskeyError {
    PasskeyError::Refused(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value)
        .map_err(|e| IdpError::Internal(format!("cannot serialise WebAuthn data: {e}")).into())
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(text)
        .map_err(|e| IdpError::Internal(format!("stored WebAuthn state unreadable: {e}")).into())
}

/// Checks and tidies a passkey name.
pub fn clean_name(name: &str) -> Result<String, PasskeyError> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(DEFAULT_NAME.to_owned());
    }
    if name.chars().count() > MAX_NAME {
        return Err(PasskeyError::InvalidName(format!(
            "a passkey name has at most {MAX_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(PasskeyError::InvalidName(
            "a passkey name cannot contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

/// The WebAuthn user handle of an account: its id, which is a UUID.
fn user_handle(account_id: &str) -> Result<Uuid, PasskeyError> {
    Uuid::parse_str(account_id)
        .map_err(|e| IdpError::Internal(format!("account id is not a UUID: {e}")).into())
}

impl Passkeys<'_> {
    /// The relying party, from the public URL: its host is the RP id, the URL the origin.
    fn relying_party(&self) -> Result<Webauthn, PasskeyError> {
        let public_url = &self.idp.ctx().config.server.public_url;
        let origin = Url::parse(public_url)
            .map_err(|e| PasskeyError::Unavailable(format!("public URL {public_url}: {e}")))?;
        let rp_id = origin
            .host_str()
            .ok_or_else(|| PasskeyError::Unavailable("the public URL has no host".into()))?
            .to_owned();
        WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("clave").build())
            .map_err(|e| PasskeyError::Unavailable(e.to_string()))
    }

    async fn rows_of(&self, account_id: &str) -> Result<Vec<PasskeyRow>, PasskeyError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM idp_passkeys WHERE account_id = $1 ORDER BY created_at, id"
        ))
        .bind(account_id)
        .fetch_all(self.idp.ctx().db.pool())
        .await?)
    }

    /// Stores a ceremony's state and returns its id.
    async fn save_ceremony(
        &self,
        purpose: Purpose,
        account_id: Option<&str>,
        state: String,
    ) -> Result<String, PasskeyError> {
        let ctx = self.idp.ctx();
        let at = ctx.clock.unix();
        let id = new_id();
        // Lapsed ceremonies are removed on the way, so the table stays small without a job.
        sqlx::query("DELETE FROM idp_webauthn_ceremonies WHERE expires_at <= $1")
            .bind(at)
            .execute(ctx.db.pool())
            .await?;
        sqlx::query(
            "INSERT INTO idp_webauthn_ceremonies (id, kind, account_id, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(purpose.as_str())
        .bind(account_id)
        .bind(state)
        .bind(at)
        .bind(at + CEREMONY_TTL_SECS)
        .execute(ctx.db.pool())
        .await?;
        Ok(id)
    }

    /// Takes a ceremony out of the database: exactly one caller gets it, and only if it is
    /// still live and was started for `purpose` (and `account_id`, when given).
    async fn take_ceremony(
        &self,
        id: &str,
        purpose: Purpose,
        account_id: Option<&str>,
    ) -> Result<String, PasskeyError> {
        // Client input: what cannot be one of our ids is no live ceremony (and never reaches
        // the database, which may refuse its bytes).
        if !clave_common::id::is_plausible_id(id) {
            return Err(PasskeyError::CeremonyExpired);
        }
        let ctx = self.idp.ctx();
        let mut tx = ctx.db.begin().await?;
        let row: Option<CeremonyRow> = sqlx::query_as(
            "SELECT kind, account_id, state, expires_at FROM idp_webauthn_ceremonies WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM idp_webauthn_ceremonies WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        let Some(row) = row else {
            return Err(PasskeyError::CeremonyExpired);
        };
        if deleted != 1
            || row.expires_at <= ctx.clock.unix()
            || row.kind != purpose.as_str()
            || row.account_id.as_deref() != account_id
        {
            return Err(PasskeyError::CeremonyExpired);
        }
        Ok(row.state)
    }

    /// The citizen's passkeys, oldest first.
    pub async fn list(&self, account_id: &str) -> Result<Vec<PasskeyInfo>, PasskeyError> {
        Ok(self
            .rows_of(account_id)
            .await?
            .iter()
            .map(PasskeyRow::info)
            .collect())
    }

    /// How many passkeys the citizen has.
    pub async fn count(&self, account_id: &str) -> Result<i64, PasskeyError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM idp_passkeys WHERE account_id = $1")
                .bind(account_id)
                .fetch_one(self.idp.ctx().db.pool())
                .await?;
        Ok(count)
    }

    /// Begins registering a new passkey for `account`. The credential is asked to be
    /// discoverable (so it can log in without the RUN) and to verify the user; the citizen's
    /// other passkeys are excluded, so one authenticator is not registered twice.
    pub async fn start_registration(&self, account: &Account) -> Result<Ceremony, PasskeyError> {
        let webauthn = self.relying_party()?;
        let existing = self
            .rows_of(&account.id)
            .await?
            .iter()
            .map(|row| row.passkey().map(|p| p.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (challenge, state) = webauthn
            .start_passkey_registration(
                user_handle(&account.id)?,
                &account.run.canonical(),
                &account.full_name(),
                (!existing.is_empty()).then_some(existing),
            )
            .map_err(|e| IdpError::Internal(format!("cannot start registration: {e}")))?;
        let mut options = serde_json::to_value(&challenge)
            .map_err(|e| IdpError::Internal(format!("cannot serialise options: {e}")))?;
        // webauthn-rs leaves the credential non-discoverable; passwordless login needs it
        // stored on the authenticator. Whether it was cannot be verified, only asked for.
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), json!("required"));
            selection.insert("requireResidentKey".into(), json!(true));
        }
        let id = self
            .save_ceremony(
                Purpose::Register,
                Some(&account.id),
                to_json::<PasskeyRegistration>(&state)?,
            )
            .await?;
        Ok(Ceremony { id, options })
    }

    /// Completes a registration with the browser's answer, names the passkey, and journals
    /// `passkey.registered`.
    pub async fn finish_registration(
        &self,
        account_id: &str,
        ceremony_id: &str,
        response: &Value,
        name: &str,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let name = clean_name(name)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state: PasskeyRegistration = from_json(
            &self
                .take_ceremony(ceremony_id, Purpose::Register, Some(account_id))
                .await?,
        )?;
        let passkey = self
            .relying_party()?
            .finish_passkey_registration(&credential, &state)
            .map_err(refused)?;
        let stored = serde_json::to_value(&passkey)
            .map_err(|e| IdpError::Internal(format!("cannot serialise passkey: {e}")))?;
        let backup_eligible = stored
            .pointer("/cred/backup_eligible")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let sign_count = stored
            .pointer("/cred/counter")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let info = PasskeyInfo {
            id: new_id(),
            name,
            created_at: now.unix_timestamp(),
            last_used_at: None,
            backup_eligible,
        };
        let credential_id = credential_key(passkey.cred_id().as_ref());
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO idp_passkeys (id, account_id, credential_id, name, credential, sign_count, \
             backup_eligible, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&info.id)
        .bind(account_id)
        .bind(&credential_id)
        .bind(&info.name)
        .bind(stored.to_string())
        .bind(sign_count)
        .bind(i64::from(backup_eligible))
        .bind(info.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if clave_common::db::is_unique_violation(&e) => {
                return Err(PasskeyError::AlreadyRegistered);
            }
            Err(e) => return Err(e.into()),
        }
        let event = NewEvent::new("passkey.registered")
            .actor(account_id)
            .subject(account_id)
            .data(json!({
                "passkey_id": info.id,
                "name": info.name,
                "backup_eligible": backup_eligible,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(info)
    }

    /// Begins asking a citizen who gave their password for one of their passkeys.
    pub async fn start_second_factor(&self, account_id: &str) -> Result<Ceremony, PasskeyError> {
        let passkeys = self
            .rows_of(account_id)
            .await?
            .iter()
            .map(PasskeyRow::passkey)
            .collect::<Result<Vec<_>, _>>()?;
        if passkeys.is_empty() {
            return Err(PasskeyError::NoPasskeys);
        }
        let (challenge, state) = self
            .relying_party()?
            .start_passkey_authentication(&passkeys)
            .map_err(|e| IdpError::Internal(format!("cannot start authentication: {e}")))?;
        let id = self
            .save_ceremony(
                Purpose::SecondFactor,
                Some(account_id),
                to_json::<PasskeyAuthentication>(&state)?,
            )
            .await?;
        Ok(Ceremony {
            id,
            options: options_of(&challenge)?,
        })
    }

    /// Completes a second-factor ceremony for `account_id`.
    pub async fn finish_second_factor(
        &self,
        account_id: &str,
        ceremony_id: &str,
        response: &Value,
    ) -> Result<PasskeyUse, PasskeyError> {
        let assertion: PublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state: PasskeyAuthentication = from_json(
            &self
                .take_ceremony(ceremony_id, Purpose::SecondFactor, Some(account_id))
                .await?,
        )?;
        let row = self
            .row_by_credential(assertion.raw_id.as_ref())
            .await?
            .filter(|row| row.account_id == account_id)
            .ok_or(PasskeyError::UnknownCredential)?;
        let result = match self
            .relying_party()?
            .finish_passkey_authentication(&assertion, &state)
        {
            Ok(result) => result,
            Err(e) => return Err(self.refusal(&row, refused(e)).await),
        };
        self.record_use(row, &result, "second_factor").await
    }

    /// Begins a passwordless login: any discoverable passkey of this site may answer. The
    /// options carry `mediation: "conditional"` so the browser can offer the passkeys in the
    /// RUN field's autofill; a button can drop it for a modal prompt.
    pub async fn start_passwordless(&self) -> Result<Ceremony, PasskeyError> {
        let (challenge, state) = self
            .relying_party()?
            .start_discoverable_authentication()
            .map_err(|e| IdpError::Internal(format!("cannot start authentication: {e}")))?;
        let id = self
            .save_ceremony(
                Purpose::Passwordless,
                None,
                to_json::<DiscoverableAuthentication>(&state)?,
            )
            .await?;
        Ok(Ceremony {
            id,
            options: options_of(&challenge)?,
        })
    }

    /// Completes a passwordless login; the credential says who the citizen is. User
    /// verification is required: without it a passkey is not enough on its own.
    pub async fn finish_passwordless(
        &self,
        ceremony_id: &str,
        response: &Value,
    ) -> Result<PasskeyUse, PasskeyError> {
        let assertion: PublicKeyCredential = serde_json::from_value(response.clone())
            .map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let state: DiscoverableAuthentication = from_json(
            &self
                .take_ceremony(ceremony_id, Purpose::Passwordless, None)
                .await?,
        )?;
        let webauthn = self.relying_party()?;
        let (handle, raw_id) = webauthn
            .identify_discoverable_authentication(&assertion)
            .map_err(|_| PasskeyError::UnknownCredential)?;
        let row = self
            .row_by_credential(raw_id)
            .await?
            .filter(|row| user_handle(&row.account_id).ok() == Some(handle))
            .ok_or(PasskeyError::UnknownCredential)?;
        let key = DiscoverableKey::from(row.passkey()?);
        let result = match webauthn.finish_discoverable_authentication(&assertion, state, &[key]) {
            Ok(result) => result,
            Err(e) => return Err(self.refusal(&row, refused(e)).await),
        };
        if !result.user_verified() {
            let error = PasskeyError::Refused(
                "a passkey without user verification cannot log in alone".into(),
            );
            return Err(self.refusal(&row, error).await);
        }
        self.record_use(row, &result, "passwordless").await
    }

    /// Journals a refused answer from a registered passkey (`passkey.refused`, the citizen
    /// as subject, so they can see attempts with their credential) and returns `error`.
    async fn refusal(&self, row: &PasskeyRow, error: PasskeyError) -> PasskeyError {
        let event = NewEvent::new("passkey.refused")
            .subject(&row.account_id)
            .data(json!({ "passkey_id": row.id, "reason": error.to_string() }));
        if let Err(e) = self.idp.ctx().journal.append_now(&event).await {
            return IdpError::Db(e).into();
        }
        error
    }

    async fn row_by_credential(&self, raw_id: &[u8]) -> Result<Option<PasskeyRow>, PasskeyError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM idp_passkeys WHERE credential_id = $1"
        ))
        .bind(credential_key(raw_id))
        .fetch_optional(self.idp.ctx().db.pool())
        .await?)
    }

    /// Stores the new counter (only forwards), the last use, and journals `passkey.used`.
    async fn record_use(
        &self,
        row: PasskeyRow,
        result: &webauthn_rs::prelude::AuthenticationResult,
        method: &str,
    ) -> Result<PasskeyUse, PasskeyError> {
        let mut passkey = row.passkey()?;
        passkey.update_credential(result);
        let counter = i64::from(result.counter());
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        // A counter that did not move past the stored one (when the authenticator counts at
        // all) means a clone or a replay that raced this one: refuse it.
        let updated = sqlx::query(
            "UPDATE idp_passkeys SET credential = $2, sign_count = $3, last_used_at = $4 \
             WHERE id = $1 AND (sign_count < $3 OR ($3 = 0 AND sign_count = 0))",
        )
        .bind(&row.id)
        .bind(to_json(&passkey)?)
        .bind(counter)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            let event = NewEvent::new("passkey.refused")
                .subject(&row.account_id)
                .data(json!({
                    "passkey_id": row.id,
                    "reason": "counter_regression",
                    "stored": row.sign_count,
                    "presented": counter,
                }));
            journal::append(&mut tx, now, &event).await?;
            tx.commit().await?;
            return Err(PasskeyError::Refused(
                "the authenticator's counter went back: possibly a cloned credential".into(),
            ));
        }
        let used = PasskeyUse {
            account_id: row.account_id.clone(),
            passkey_id: row.id.clone(),
            user_verified: result.user_verified(),
            backup_eligible: result.backup_eligible() || row.backup_eligible != 0,
        };
        let event = NewEvent::new("passkey.used")
            .actor(&row.account_id)
            .subject(&row.account_id)
            .data(json!({
                "passkey_id": row.id,
                "method": method,
                "user_verified": used.user_verified,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(used)
    }

    /// Renames one of the citizen's passkeys.
    pub async fn rename(
        &self,
        account_id: &str,
        passkey_id: &str,
        name: &str,
    ) -> Result<(), PasskeyError> {
        if !clave_common::id::is_plausible_id(passkey_id) {
            return Err(PasskeyError::NotFound);
        }
        let name = clean_name(name)?;
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let updated =
            sqlx::query("UPDATE idp_passkeys SET name = $3 WHERE id = $1 AND account_id = $2")
                .bind(passkey_id)
                .bind(account_id)
                .bind(&name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if updated != 1 {
            return Err(PasskeyError::NotFound);
        }
        let event = NewEvent::new("passkey.renamed")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "passkey_id": passkey_id, "name": name }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes one of the citizen's passkeys, journaled as `passkey.deleted`. Whether the
    /// citizen may (fresh authentication, a policy needing a second factor) is the caller's
    /// decision.
    /// Refused with [`IdpError::Conflict`] when it is the last second factor and every login
    /// asks for one.
    pub async fn delete(&self, account_id: &str, passkey_id: &str) -> Result<(), PasskeyError> {
        if !clave_common::id::is_plausible_id(passkey_id) {
            return Err(PasskeyError::NotFound);
        }
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        crate::factors::lock_account(&mut tx, account_id).await?;
        let deleted = sqlx::query("DELETE FROM idp_passkeys WHERE id = $1 AND account_id = $2")
            .bind(passkey_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted != 1 {
            return Err(PasskeyError::NotFound);
        }
        self.idp
            .factors()
            .check_one_left(&mut tx, account_id)
            .await?;
        let event = NewEvent::new("passkey.deleted")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "passkey_id": passkey_id }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn options_of<T: Serialize>(challenge: &T) -> Result<Value, PasskeyError> {
    serde_json::to_value(challenge)
        .map_err(|e| IdpError::Internal(format!("cannot serialise options: {e}")).into())
}

#[cfg(any(test, feature = "testing"))]
pub mod softkey;
#[cfg(test)]
mod tests;
