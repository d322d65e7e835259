//! Sending a notice: checking it, finding the citizen, storing it with its attachments and
//! journaling it, once per idempotency key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::db::is_unique_violation;
use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use clave_common::run::Run;
use clave_idp::clients::Client;
use clave_idp::factors::rank;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AttachmentInfo, Mailbox, MailboxError, Notice, content_digest};

/// Whom a notice is for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Recipient {
    /// The `sub` the sending client knows the citizen by.
    Sub(String),
    /// The citizen's RUN (only for clients allowed to address by RUN).
    Run(String),
}

/// An attachment as sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttachment {
    /// The file name shown to the citizen.
    pub filename: String,
    /// The content type the sender claims; checked against the content.
    pub content_type: String,
    /// The content, base64.
    pub content_base64: String,
}

/// A notice as an agency sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNotice {
    /// The citizen.
    pub to: Recipient,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// `text` (default) or `markdown` (a safe subset, never raw HTML).
    #[serde(default)]
    pub body_format: Option<String>,
    /// Hide the subject and sender in lists and alerts.
    #[serde(default)]
    pub sensitive: bool,
    /// The `acr` needed to open it.
    #[serde(default)]
    pub required_level: Option<String>,
    /// When to deliver it (RFC 3339); now when absent or past.
    #[serde(default)]
    pub deliver_at: Option<String>,
    /// Files.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
}

/// The result of a send.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The notice.
    pub notice: Notice,
    /// False when an earlier request with the same idempotency key made it.
    pub created: bool,
}

/// The content types notices may carry, each recognised by its content.
const ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/plain",
    "application/xml",
];

/// The content type `bytes` really are, among [`ALLOWED_TYPES`].
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if let Ok(text) = std::str::from_utf8(bytes) {
        let printable = text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'));
        if !printable {
            None
        } else if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with("<?xml")
        {
            Some("application/xml")
        } else {
            Some("text/plain")
        }
    } else {
        None
    }
}

fn has_control(text: &str, allow_newlines: bool) -> bool {
    text.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
}

fn check_filename(n: usize, name: &str) -> Result<String, MailboxError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > 200
        || has_control(name, false)
        || name.contains(['/', '\\', '"'])
        || name.starts_with('.')
    {
        return Err(MailboxError::Invalid(format!(
            "attachments[{n}].filename must be a plain file name of 1 to 200 characters, \
             without slashes, quotes or control characters, not starting with a dot"
        )));
    }
    Ok(name.to_owned())
}

/// A checked attachment, ready to store.
struct Checked {
    info: AttachmentInfo,
    content_base64: String,
}

impl Mailbox<'_> {
    fn check_attachments(&self, list: &[NewAttachment]) -> Result<Vec<Checked>, MailboxError> {
        let limits = &self.config().mailbox;
        if list.len() > limits.max_attachments {
            return Err(MailboxError::Invalid(format!(
                "a notice carries at most {} attachments",
                limits.max_attachments
            )));
        }
        let mut out = Vec::with_capacity(list.len());
        for (n, a) in list.iter().enumerate() {
            let filename = check_filename(n, &a.filename)?;
            let claimed = a
                .content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if !ALLOWED_TYPES.contains(&claimed.as_str()) {
                return Err(MailboxError::UnsupportedContent(format!(
                    "attachments[{n}] ({filename}): content type {:?} is not accepted; use one of {}",
                    a.content_type,
                    ALLOWED_TYPES.join(", ")
                )));
            }
            let compact: String = a
                .content_base64
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            // Refuse before decoding what cannot fit.
            if compact.len() / 4 * 3 > limits.max_attachment_bytes + 3 {
                return Err(too_large(n, &filename, limits.max_attachment_bytes));
            }
            let bytes = STANDARD.decode(compact.as_bytes()).map_err(|_| {
                MailboxError::Invalid(format!(
                    "attachments[{n}] ({filename}): content_base64 is not base64 (standard alphabet, padded)"
                ))
            })?;
            if bytes.is_empty() {
                return Err(MailboxError::Invalid(format!(
                    "attachments[{n}] ({filename}) is empty"
                )));
            }
            if bytes.len() > limits.max_attachment_bytes {
                return Err(too_large(n, &filename, limits.max_attachment_bytes));
            }
            match sniff(&bytes) {
                Some(found) if found == claimed => {}
                Some(found) => {
                    return Err(MailboxError::UnsupportedContent(format!(
                        "attachments[{n}] ({filename}) claims {claimed} but its content is {found}"
                    )));
                }
                None => {
                    return Err(MailboxError::UnsupportedContent(format!(
                        "attachments[{n}] ({filename}) claims {claimed} but its content is not of any accepted type ({})",
                        ALLOWED_TYPES.join(", ")
                    )));
                }
            }
            out.push(Checked {
                info: AttachmentInfo {
                    position: i64::try_from(n + 1).unwrap_or(i64::MAX),
                    filename,
                    content_type: claimed,
                    size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
                    sha256: hex::encode(Sha256::digest(&bytes)),
                },
                content_base64: STANDARD.encode(&bytes),
            });
        }
        Ok(out)
    }

    fn check_texts(&self, subject: &str, body: &str) -> Result<(String, String), MailboxError> {
        let limits = &self.config().mailbox;
        let subject = subject.trim();
        if subject.is_empty() || subject.chars().count() > limits.max_subject_chars {
            return Err(MailboxError::Invalid(format!(
                "subject must have 1 to {} characters",
                limits.max_subject_chars
            )));
        }
        if has_control(subject, false) {
            return Err(MailboxError::Invalid(
                "subject must be one line without control characters".into(),
            ));
        }
        if body.trim().is_empty() || body.chars().count() > limits.max_body_chars {
            return Err(MailboxError::Invalid(format!(
                "body must have 1 to {} characters",
                limits.max_body_chars
            )));
        }
        if has_control(body, true) {
            return Err(MailboxError::Invalid(
                "body must not contain control characters other than line breaks and tabs".into(),
            ));
        }
        Ok((subject.to_owned(), body.to_owned()))
    }

    fn check_schedule(&self, deliver_at: Option<&str>) -> Result<i64, MailboxError> {
        let now = self.now();
        let Some(text) = deliver_at else {
            return Ok(now);
        };
        let at = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|_| {
                MailboxError::Invalid(format!(
                    "deliver_at {text:?} is not an RFC 3339 time such as 2030-01-31T09:00:00Z"
                ))
            })?
            .unix_timestamp();
        let max_days = self.config().mailbox.max_schedule_days;
        if at > now + max_days * 86_400 {
            return Err(MailboxError::Invalid(format!(
                "deliver_at may be at most {max_days} days ahead"
            )));
        }
        Ok(at.max(now))
    }

    async fn recipient(
        &self,
        client: &Client,
        to: &Recipient,
    ) -> Result<(String, String), MailboxError> {
        let idp = self.wallet.idp();
        match to {
            Recipient::Sub(sub) => {
                if !clave_common::id::is_plausible_id(sub) {
                    return Err(MailboxError::Invalid(
                        "to.sub is not a subject this server issues".into(),
                    ));
                }
                let account = idp
                    .clients()
                    .account_for_subject(client, sub)
                    .await?
                    .ok_or_else(|| {
                        MailboxError::NotFound(
                            "no citizen is known to this client by that sub; a citizen becomes known when they log in to the service".into(),
                        )
                    })?;
                Ok((account, format!("sub:{sub}")))
            }
            Recipient::Run(text) => {
                if !self.may_address_by_run(&client.client_id).await? {
                    return Err(MailboxError::Forbidden(
                        "this client may not address citizens by RUN; address them by the sub you know, or ask the operator to allow it (clave client mailbox --by-run)".into(),
                    ));
                }
                let run = Run::parse(text).map_err(|e| {
                    MailboxError::Invalid(format!("to.run is not a valid RUN: {e}"))
                })?;
                let account = idp
                    .accounts()
                    .find_by_run(&run)
                    .await?
                    .ok_or_else(|| MailboxError::NotFound("no citizen has that RUN".into()))?;
                Ok((account.id, "run".to_owned()))
            }
        }
    }

    /// The notice `sender` made under `key`, if any.
    async fn by_key(
        &self,
        sender: &str,
        key: &str,
    ) -> Result<Option<(Notice, String)>, MailboxError> {
        let digest: Option<(String, String)> = sqlx::query_as(
            "SELECT id, request_digest FROM mailbox_notices WHERE sender = $1 AND idempotency_key = $2",
        )
        .bind(sender)
        .bind(key)
        .fetch_optional(self.wallet.db().pool())
        .await?;
        let Some((id, digest)) = digest else {
            return Ok(None);
        };
        Ok(self
            .one("id = $1", &[&id])
            .await?
            .map(|notice| (notice, digest)))
    }

    fn replay(&self, found: (Notice, String), digest: &str) -> Result<Sent, MailboxError> {
        let (notice, earlier) = found;
        if earlier == digest {
            Ok(Sent {
                notice,
                created: false,
            })
        } else {
            Err(MailboxError::IdempotencyReused(
                "this Idempotency-Key was already used for a different notice; use a new key for a new notice".into(),
            ))
        }
    }

    /// Sends `new` from `client`: checked, stored, journaled as `mailbox.notice_sent`. A
    /// repeated `idempotency_key` with the same request returns the first notice.
    pub async fn send(
        &self,
        client: &Client,
        new: &NewNotice,
        idempotency_key: Option<&str>,
    ) -> Result<Sent, MailboxError> {
        if let Some(key) = idempotency_key
            && (key.is_empty() || key.len() > 255 || has_control(key, false) || !key.is_ascii())
        {
            return Err(MailboxError::Invalid(
                "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
            ));
        }
        let request_digest = hex::encode(Sha256::digest(
            serde_json::to_vec(new).map_err(|e| MailboxError::Internal(e.to_string()))?,
        ));
        if let Some(key) = idempotency_key
            && let Some(found) = self.by_key(&client.client_id, key).await?
        {
            return self.replay(found, &request_digest);
        }
        let (subject, body) = self.check_texts(&new.subject, &new.body)?;
        let format = match new.body_format.as_deref() {
            None | Some("text") => "text",
            Some("markdown") => "markdown",
            Some(other) => {
                return Err(MailboxError::Invalid(format!(
                    "body_format {other:?} is not text or markdown"
                )));
            }
        };
        if let Some(level) = &new.required_level
            && rank(level) == 0
        {
            return Err(MailboxError::Invalid(format!(
                "required_level {level:?} is not urn:clave:loa:1, urn:clave:loa:2 or urn:clave:loa:3"
            )));
        }
        let deliver_at = self.check_schedule(new.deliver_at.as_deref())?;
        let attachments = self.check_attachments(&new.attachments)?;
        let (account_id, addressed_as) = self.recipient(client, &new.to).await?;
        let infos: Vec<AttachmentInfo> = attachments.iter().map(|a| a.info.clone()).collect();
        let draft = Draft {
            account_id,
            sender: client.client_id.clone(),
            sender_name: client.name.clone(),
            addressed_as,
            subject,
            body,
            body_format: format.to_owned(),
            sensitive: new.sensitive,
            required_level: new.required_level.clone(),
            idempotency_key: idempotency_key.map(str::to_owned),
            request_digest: request_digest.clone(),
            deliver_at,
        };
        match self.store(&draft, &attachments, &infos).await {
            Ok(id) => {
                if matches!(new.to, Recipient::Run(_)) {
                    // The receipt names the citizen by this client's `sub`; from now on the
                    // client may address them by it.
                    let mut conn = self.wallet.db().pool().acquire().await?;
                    self.wallet
                        .idp()
                        .clients()
                        .remember_subject(&mut conn, client, &draft.account_id)
                        .await?;
                }
                let notice = self
                    .one("id = $1", &[&id])
                    .await?
                    .ok_or_else(|| MailboxError::Internal("a stored notice is gone".into()))?;
                Ok(Sent {
                    notice,
                    created: true,
                })
            }
            // Two retries raced: the other one stored it.
            Err(MailboxError::Db(e)) if is_unique_violation(&e) => {
                let key = idempotency_key.unwrap_or_default();
                let found = self
                    .by_key(&client.client_id, key)
                    .await?
                    .ok_or(MailboxError::Db(e))?;
                self.replay(found, &request_digest)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores a notice from clave itself (a security notice) for `account_id`, in `conn`.
    pub(crate) async fn store_from_clave(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        subject: &str,
        body: &str,
        key: &str,
    ) -> Result<(), MailboxError> {
        let draft = Draft {
            account_id: account_id.to_owned(),
            sender: super::CLAVE_SENDER.to_owned(),
            sender_name: "ClaveÚnica".to_owned(),
            addressed_as: super::CLAVE_SENDER.to_owned(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            body_format: "markdown".to_owned(),
            sensitive: false,
            required_level: None,
            idempotency_key: Some(key.to_owned()),
            request_digest: String::new(),
            deliver_at: self.now(),
        };
        self.insert(conn, &draft, &[], &[]).await?;
        Ok(())
    }

    async fn store(
        &self,
        draft: &Draft,
        attachments: &[Checked],
        infos: &[AttachmentInfo],
    ) -> Result<String, MailboxError> {
        let mut tx = self.wallet.db().begin().await?;
        let id = self.insert(&mut tx, draft, attachments, infos).await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn insert(
        &self,
        conn: &mut sqlx::AnyConnection,
        draft: &Draft,
        attachments: &[Checked],
        infos: &[AttachmentInfo],
    ) -> Result<String, MailboxError> {
        let id = new_id();
        let now = self.now();
        let digest = content_digest(&draft.subject, &draft.body, infos);
        let alert_status = if self.config().mail.is_enabled() {
            "pending"
        } else {
            "not_configured"
        };
        sqlx::query(
            "INSERT INTO mailbox_notices (id, account_id, sender, sender_name, addressed_as, \
             subject, body, body_format, sensitive, required_level, idempotency_key, \
             request_digest, content_digest, created_at, deliver_at, alert_status, \
             alert_attempts, alert_next_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0, $15)",
        )
        .bind(&id)
        .bind(&draft.account_id)
        .bind(&draft.sender)
        .bind(&draft.sender_name)
        .bind(&draft.addressed_as)
        .bind(&draft.subject)
        .bind(&draft.body)
        .bind(&draft.body_format)
        .bind(i64::from(draft.sensitive))
        .bind(draft.required_level.as_deref())
        .bind(draft.idempotency_key.as_deref())
        .bind(&draft.request_digest)
        .bind(&digest)
        .bind(now)
        .bind(draft.deliver_at)
        .bind(alert_status)
        .execute(&mut *conn)
        .await?;
        for a in attachments {
            sqlx::query(
                "INSERT INTO mailbox_attachments (notice_id, position, filename, content_type, \
                 size, sha256, content) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(a.info.position)
            .bind(&a.info.filename)
            .bind(&a.info.content_type)
            .bind(a.info.size)
            .bind(&a.info.sha256)
            .bind(&a.content_base64)
            .execute(&mut *conn)
            .await?;
        }
        let event = NewEvent::new("mailbox.notice_sent")
            .actor(draft.sender.clone())
            .subject(draft.account_id.clone())
            .data(json!({
                "notice_id": id,
                "content_digest": digest,
                "deliver_at": draft.deliver_at,
                "sensitive": draft.sensitive,
                "attachments": infos.len(),
            }));
        journal::append(conn, self.wallet.idp().ctx().clock.now(), &event).await?;
        Ok(id)
    }
}

fn too_large(n: usize, filename: &str, max: usize) -> MailboxError {
    MailboxError::TooLarge(format!(
        "attachments[{n}] ({filename}) is larger than {max} bytes"
    ))
}

/// A notice about to be stored.
struct Draft {
    account_id: String,
    sender: String,
    sender_name: String,
    addressed_as: String,
    subject: String,
    body: String,
    body_format: String,
    sensitive: bool,
    required_level: Option<String>,
    idempotency_key: Option<String>,
    request_digest: String,
    deliver_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_recognised_by_its_bytes_not_its_name() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff("hola\nmundo".as_bytes()), Some("text/plain"));
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><a/>"),
            Some("application/xml")
        );
        assert_eq!(sniff(b"MZ\x90\x00\x03\x00\x00\x00"), None);
        assert_eq!(sniff(b"bad\x00nul"), None);
    }

    #[test]
    fn file_names_cannot_climb_or_hide() {
        assert!(check_filename(0, "resolucion.pdf").is_ok());
        for bad in ["", "../etc/passwd", "a\\b", ".htaccess", "a\nb", "x\"y"] {
            assert!(check_filename(0, bad).is_err(), "{bad:?}");
        }
    }
}
