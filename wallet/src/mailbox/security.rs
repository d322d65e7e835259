//! Security notices: the follower reads the journal from where it last stopped and turns the
//! events a citizen should hear about (a new passkey, a recovery code used, a changed
//! password, a second factor added or removed, a permission granted or revoked, a signature
//! made) into notices from clave itself, so that a citizen whose account is misused learns
//! of it in the same mailbox, and by e-mail when alerts are on.
//!
//! The follower's position and the notices it makes commit in one transaction, and each
//! notice carries the journal sequence number as its idempotency key, so two nodes running
//! the follower at once never make a notice twice.

use clave_common::journal::{JournalEntry, JournalFilter};
use serde_json::Value;

use super::{Mailbox, MailboxError};

/// The journal events that become security notices.
pub const KINDS: &[&str] = &[
    "passkey.registered",
    "passkey.deleted",
    "recovery_code.used",
    "recovery_codes.generated",
    "password.changed",
    "totp.enrolled",
    "totp.removed",
    "consent.granted",
    "consent.revoked",
    "signature.created",
    "account.locked",
    "account.unlocked",
    "account.activated",
    "activation.code_issued",
    "caller.verified",
    "second_factor.reset",
    "correction.answered",
];

/// Journal entries read per round.
const PAGE: u32 = 200;

fn text(data: &Value, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

const WARNING: &str = "Si no fuiste tú, cambia tu contraseña y revisa tus factores en \
    [Mi seguridad](/me/security).\n\nIf this was not you, change your password and check your \
    factors in the security page.";

impl Mailbox<'_> {
    /// The subject and body of the notice for `entry`, if it concerns a citizen.
    async fn security_notice(
        &self,
        entry: &JournalEntry,
    ) -> Result<Option<(String, String)>, MailboxError> {
        let service = || async {
            let id = text(&entry.data, "client_id");
            match self.wallet.idp().clients().get(&id).await {
                Ok(Some(client)) => client.name,
                _ => id,
            }
        };
        let (subject, what) = match entry.kind.as_str() {
            "passkey.registered" => (
                "Se registró una nueva llave de acceso".to_owned(),
                format!(
                    "Se registró la llave de acceso **{}** en tu cuenta.\n\nA new passkey was registered on your account.",
                    super::markdown::escape(&text(&entry.data, "name"))
                ),
            ),
            "passkey.deleted" => (
                "Se eliminó una llave de acceso".to_owned(),
                "Se eliminó una llave de acceso de tu cuenta.\n\nA passkey was removed from your account.".to_owned(),
            ),
            "recovery_code.used" => (
                "Se usó un código de recuperación".to_owned(),
                "Se ingresó a tu cuenta con un código de recuperación.\n\nA recovery code was used to log in to your account.".to_owned(),
            ),
            "recovery_codes.generated" => (
                "Se generaron nuevos códigos de recuperación".to_owned(),
                "Se generaron nuevos códigos de recuperación; los anteriores ya no sirven.\n\nNew recovery codes were generated; the old ones no longer work.".to_owned(),
            ),
            "password.changed" => (
                "Tu contraseña cambió".to_owned(),
                "La contraseña de tu cuenta cambió.\n\nYour password was changed.".to_owned(),
            ),
            "totp.enrolled" => (
                "Se activó una aplicación de códigos".to_owned(),
                "Se activó una aplicación de códigos (TOTP) como segundo factor.\n\nAn authenticator app (TOTP) was enrolled as a second factor.".to_owned(),
            ),
            "totp.removed" => (
                "Se desactivó la aplicación de códigos".to_owned(),
                "Se desactivó la aplicación de códigos (TOTP) de tu cuenta.\n\nThe authenticator app (TOTP) was removed from your account.".to_owned(),
            ),
            "consent.granted" => {
                let name = service().await;
                (
                    format!("Diste permiso a {name}"),
                    format!(
                        "Diste permiso a **{}** para recibir tus datos. Puedes revisarlo en [Mis permisos](/me/permissions).\n\nYou allowed {} to receive your information.",
                        super::markdown::escape(&name),
                        super::markdown::escape(&name)
                    ),
                )
            }
            "consent.revoked" => {
                let name = service().await;
                (
                    format!("Revocaste el permiso de {name}"),
                    format!(
                        "El permiso de **{}** fue revocado.\n\nThe permission of {} was revoked.",
                        super::markdown::escape(&name),
                        super::markdown::escape(&name)
                    ),
                )
            }
            "signature.created" => (
                "Se firmó un documento con tu firma".to_owned(),
                "Se firmó un documento con tu firma electrónica avanzada.\n\nA document was signed with your advanced electronic signature.".to_owned(),
            ),
            "account.locked" => (
                "Tu cuenta fue bloqueada".to_owned(),
                "Tu cuenta fue bloqueada: se cerraron todas tus sesiones y los servicios perdieron su acceso.\n\nYour account was locked: all your sessions ended and services lost their access.".to_owned(),
            ),
            "account.unlocked" => (
                "Tu cuenta fue desbloqueada".to_owned(),
                format!(
                    "Tu cuenta fue desbloqueada ({}).\n\nYour account was unlocked.",
                    super::markdown::escape(&text(&entry.data, "how"))
                ),
            ),
            "account.activated" => (
                "Se eligió la contraseña de tu cuenta".to_owned(),
                "Se eligió la contraseña de tu cuenta con un código de activación.\n\nYour account's password was set with an activation code.".to_owned(),
            ),
            "activation.code_issued" => (
                "Se entregó un código de activación".to_owned(),
                format!(
                    "Se entregó un código de activación para tu cuenta ({}).\n\nAn activation code was issued for your account.",
                    super::markdown::escape(&text(&entry.data, "place"))
                ),
            ),
            "correction.answered" => (
                "Respondieron tu solicitud de corrección".to_owned(),
                format!(
                    "La institución respondió tu solicitud de corregir **{}**: {}.\n\n> {}\n\nMira tus datos en [Mis datos](/me/data).\n\nThe source answered your correction request.",
                    super::markdown::escape(&text(&entry.data, "attribute")),
                    if text(&entry.data, "status") == "corrected" {
                        "corregido"
                    } else {
                        "rechazado"
                    },
                    super::markdown::escape(&text(&entry.data, "answer"))
                ),
            ),
            "second_factor.reset" => (
                "Se quitaron tus segundos factores".to_owned(),
                format!(
                    "Se quitaron tu aplicación de autenticación, tus llaves de acceso y tus códigos de recuperación ({}), y se cerraron tus sesiones. Entra con tu contraseña y agrega nuevos en [Mi seguridad](/me/security).\n\nYour second factors were removed at a front desk and your sessions ended. Sign in with your password and set up new ones.",
                    super::markdown::escape(&text(&entry.data, "how"))
                ),
            ),
            "caller.verified" => (
                "Un agente verificó tu identidad".to_owned(),
                format!(
                    "**{}** ({}) verificó tu identidad en una atención. Lo que vio está en [Mi actividad](/me/activity).\n\nAn agent verified your identity during a call or visit.",
                    super::markdown::escape(&text(&entry.data, "agent_name")),
                    super::markdown::escape(&text(&entry.data, "office"))
                ),
            ),
            _ => return Ok(None),
        };
        let warn = !matches!(entry.kind.as_str(), "consent.granted" | "consent.revoked");
        let body = if warn {
            format!("{what}\n\n{WARNING}")
        } else {
            what
        };
        Ok(Some((subject.chars().take(200).collect(), body)))
    }

    /// Turns the journal's new security events into notices; returns how many were made.
    pub async fn follow_journal(&self) -> Result<u32, MailboxError> {
        let ctx = self.wallet.idp().ctx();
        let (cursor,): (i64,) =
            sqlx::query_as("SELECT seq FROM mailbox_journal_cursor WHERE id = 1")
                .fetch_one(self.wallet.db().pool())
                .await?;
        let entries = ctx
            .journal
            .list(JournalFilter {
                after_seq: Some(cursor),
                limit: Some(PAGE),
                ..JournalFilter::default()
            })
            .await?;
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(0);
        };
        let mut notices = Vec::new();
        for entry in entries.iter().filter(|e| KINDS.contains(&e.kind.as_str())) {
            let Some(account_id) = entry.subject.clone() else {
                continue;
            };
            if self
                .wallet
                .idp()
                .accounts()
                .get(&account_id)
                .await?
                .is_none()
            {
                continue;
            }
            if let Some((subject, body)) = self.security_notice(entry).await? {
                notices.push((entry.seq, account_id, subject, body));
            }
        }
        let mut tx = self.wallet.db().begin().await?;
        let moved =
            sqlx::query("UPDATE mailbox_journal_cursor SET seq = $1 WHERE id = 1 AND seq = $2")
                .bind(last)
                .bind(cursor)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if moved != 1 {
            // Another node handled these entries.
            return Ok(0);
        }
        for (seq, account_id, subject, body) in &notices {
            self.store_from_clave(
                &mut tx,
                account_id,
                subject,
                body,
                &format!("journal:{seq}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(u32::try_from(notices.len()).unwrap_or(u32::MAX))
    }
}
