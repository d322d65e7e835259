//! The citizen mailbox: notices that agencies send to citizens (through the API under
//! `/api/mailbox/v1/`) and that clave itself sends about security events, read in the portal
//! or through the citizen's API.
//!
//! A notice is addressed by the `sub` the sending client knows the citizen by, or by RUN
//! for clients registered to do so ([`Mailbox::set_by_run`]). It is delivered at once or at
//! its `deliver_at`, and its first opening is the proof of notification: written once,
//! journaled as `mailbox.notice_opened` in the same transaction, and returned to the sender
//! in a receipt signed by clave ([`Mailbox::receipt`]). Each notice's content digest
//! ([`content_digest`]) lets the sender prove what was notified.
//!
//! An e-mail alert ("you have a new notice") goes to the citizen's verified address unless
//! the citizen turned alerts off; the worker in [`alerts`] sends it with retries, so sending
//! a notice never waits for SMTP.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Wallet, WalletError};

pub mod alerts;
pub mod http;
pub mod markdown;
mod read;
pub mod security;
mod send;

pub use read::{Inbox, Receipt};
pub use send::{NewAttachment, NewNotice, Recipient, Sent};

/// The sender of notices from clave itself.
pub const CLAVE_SENDER: &str = "clave";
/// The `typ` of notification receipts.
pub const RECEIPT_TYP: &str = "notification-receipt+jwt";

/// Why a mailbox operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// No such notice (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The input is malformed; the text says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// An Idempotency-Key was used before for a different notice.
    #[error("{0}")]
    IdempotencyReused(String),
    /// An attachment is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// An attachment's content is not what it claims, or not a type notices may carry.
    #[error("{0}")]
    UnsupportedContent(String),
    /// Opening the notice needs a higher level of assurance than the citizen's session has.
    #[error("this notice needs the level {required}")]
    StepUp {
        /// The `acr` needed.
        required: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Another wallet service failed.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// Something that should not happen did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<clave_idp::IdpError> for MailboxError {
    fn from(e: clave_idp::IdpError) -> Self {
        Self::Wallet(WalletError::Idp(e))
    }
}

/// An attachment's description (its content is fetched apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentInfo {
    /// Its place in the notice, from 1.
    pub position: i64,
    /// The file name.
    pub filename: String,
    /// The content type, as checked against the content.
    pub content_type: String,
    /// Its size in bytes.
    pub size: i64,
    /// The SHA-256 of the content, hex.
    pub sha256: String,
}

/// What an alert did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertState {
    /// `pending`, `sent`, `failed` (given up), `disabled` (the citizen turned alerts off),
    /// `no_address` (no verified e-mail address) or `not_configured` (no SMTP server).
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the e-mail was accepted by the SMTP server.
    pub sent_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<i64>,
}

/// A notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The notice id (UUIDv7).
    pub id: String,
    /// The citizen.
    #[serde(skip)]
    pub account_id: String,
    /// The sending client's id, or [`CLAVE_SENDER`].
    pub sender: String,
    /// The sender's name, as citizens see it.
    pub sender_name: String,
    /// How the sender named the citizen.
    #[serde(skip)]
    pub addressed_as: String,
    /// The subject.
    pub subject: String,
    /// The body, as sent.
    pub body: String,
    /// `text` or `markdown`.
    pub body_format: String,
    /// Whether lists and alerts hide the subject and sender.
    pub sensitive: bool,
    /// The `acr` needed to open it.
    pub required_level: Option<String>,
    /// The sender's idempotency key.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
    /// The SHA-256 over subject, body and attachments ([`content_digest`]).
    pub content_digest: String,
    /// When the sender sent it.
    pub created_at: i64,
    /// When it is or was delivered.
    pub deliver_at: i64,
    /// When the citizen first opened it: the proof of notification.
    pub first_opened_at: Option<i64>,
    /// The journal entry that recorded the first opening.
    pub opened_entry: Option<String>,
    /// When the citizen archived it.
    pub archived_at: Option<i64>,
    /// The e-mail alert.
    pub alert: AlertState,
    /// The attachments.
    pub attachments: Vec<AttachmentInfo>,
}

impl Notice {
    /// Whether it has reached the mailbox at `now`.
    pub fn is_delivered(&self, now: i64) -> bool {
        self.deliver_at <= now
    }

    /// The body as safe HTML: Markdown's subset, or the text with its line breaks.
    pub fn body_html(&self) -> String {
        if self.body_format == "markdown" {
            markdown::to_html(&self.body)
        } else {
            markdown::text_to_html(&self.body)
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct NoticeRow {
    id: String,
    account_id: String,
    sender: String,
    sender_name: String,
    addressed_as: String,
    subject: String,
    body: String,
    body_format: String,
    sensitive: i64,
    required_level: Option<String>,
    idempotency_key: Option<String>,
    content_digest: String,
    created_at: i64,
    deliver_at: i64,
    first_opened_at: Option<i64>,
    opened_entry: Option<String>,
    archived_at: Option<i64>,
    alert_status: String,
    alert_attempts: i64,
    alert_next_at: Option<i64>,
    alert_sent_at: Option<i64>,
    alert_error: Option<String>,
}

const NOTICE_COLUMNS: &str = "id, account_id, sender, sender_name, addressed_as, subject, body, \
    body_format, sensitive, required_level, idempotency_key, content_digest, \
    created_at, deliver_at, first_opened_at, opened_entry, archived_at, alert_status, \
    alert_attempts, alert_next_at, alert_sent_at, alert_error";

impl NoticeRow {
    fn into_notice(self, attachments: Vec<AttachmentInfo>) -> Notice {
        Notice {
            alert: AlertState {
                next_attempt_at: self
                    .alert_next_at
                    .filter(|_| self.alert_status == "pending"),
                status: self.alert_status,
                attempts: self.alert_attempts,
                sent_at: self.alert_sent_at,
                last_error: self.alert_error,
            },
            id: self.id,
            account_id: self.account_id,
            sender: self.sender,
            sender_name: self.sender_name,
            addressed_as: self.addressed_as,
            subject: self.subject,
            body: self.body,
            body_format: self.body_format,
            sensitive: self.sensitive != 0,
            required_level: self.required_level,
            idempotency_key: self.idempotency_key,
            content_digest: self.content_digest,
            created_at: self.created_at,
            deliver_at: self.deliver_at,
            first_opened_at: self.first_opened_at,
            opened_entry: self.opened_entry,
            archived_at: self.archived_at,
            attachments,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct AttachmentRow {
    notice_id: String,
    position: i64,
    filename: String,
    content_type: String,
    size: i64,
    sha256: String,
}

impl AttachmentRow {
    fn info(self) -> AttachmentInfo {
        AttachmentInfo {
            position: self.position,
            filename: self.filename,
            content_type: self.content_type,
            size: self.size,
            sha256: self.sha256,
        }
    }
}

/// The SHA-256 (hex) of a notice's content: the string `clave/notice/v1`, the subject, the
/// body, then each attachment's file name, content type and content SHA-256 (hex), every
/// string preceded by its byte length as 8 bytes big-endian.
pub fn content_digest(subject: &str, body: &str, attachments: &[AttachmentInfo]) -> String {
    let mut hasher = Sha256::new();
    let mut put = |s: &str| {
        hasher.update((s.len() as u64).to_be_bytes());
        hasher.update(s.as_bytes());
    };
    put("clave/notice/v1");
    put(subject);
    put(body);
    for a in attachments {
        put(&a.filename);
        put(&a.content_type);
        put(&a.sha256);
    }
    hex::encode(hasher.finalize())
}

/// The mailbox: a cheap handle over the wallet.
#[derive(Debug, Clone, Copy)]
pub struct Mailbox<'a> {
    wallet: &'a Wallet,
}

impl Wallet {
    /// The citizen mailbox.
    pub fn mailbox(&self) -> Mailbox<'_> {
        Mailbox { wallet: self }
    }
}

impl Mailbox<'_> {
    fn now(&self) -> i64 {
        self.wallet.now()
    }

    fn config(&self) -> &clave_common::Config {
        &self.wallet.idp().ctx().config
    }

    /// Whether `client_id` may address citizens by RUN.
    pub async fn may_address_by_run(&self, client_id: &str) -> Result<bool, MailboxError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT by_run FROM mailbox_senders WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(self.wallet.db().pool())
                .await?;
        Ok(row.is_some_and(|(b,)| b != 0))
    }

    /// Allows or forbids `client_id` to address citizens by RUN; journaled as
    /// `mailbox.sender_changed`.
    pub async fn set_by_run(&self, client_id: &str, allowed: bool) -> Result<(), MailboxError> {
        if self.wallet.idp().clients().get(client_id).await?.is_none() {
            return Err(MailboxError::NotFound(format!(
                "no client {client_id:?} is registered"
            )));
        }
        let now = self.now();
        let mut tx = self.wallet.db().begin().await?;
        sqlx::query(
            "INSERT INTO mailbox_senders (client_id, by_run, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO UPDATE SET by_run = $2, updated_at = $3",
        )
        .bind(client_id)
        .bind(i64::from(allowed))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let event = clave_common::journal::NewEvent::new("mailbox.sender_changed")
            .subject(client_id)
            .data(serde_json::json!({ "by_run": allowed }));
        clave_common::journal::append(&mut tx, self.wallet.idp().ctx().clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attachments_of(&self, ids: &[&str]) -> Result<Vec<AttachmentRow>, MailboxError> {
        let mut all = Vec::new();
        for id in ids {
            let rows: Vec<AttachmentRow> = sqlx::query_as(
                "SELECT notice_id, position, filename, content_type, size, sha256 \
                 FROM mailbox_attachments WHERE notice_id = $1 ORDER BY position",
            )
            .bind(*id)
            .fetch_all(self.wallet.db().pool())
            .await?;
            all.extend(rows);
        }
        Ok(all)
    }

    /// Notices from rows, with their attachments.
    async fn complete(&self, rows: Vec<NoticeRow>) -> Result<Vec<Notice>, MailboxError> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut attachments = self.attachments_of(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    attachments.drain(..).partition(|a| a.notice_id == row.id);
                attachments = rest;
                row.into_notice(mine.into_iter().map(AttachmentRow::info).collect())
            })
            .collect())
    }

    async fn one(&self, sql_where: &str, binds: &[&str]) -> Result<Option<Notice>, MailboxError> {
        let sql = format!("SELECT {NOTICE_COLUMNS} FROM mailbox_notices WHERE {sql_where}");
        let mut query = sqlx::query_as::<_, NoticeRow>(&sql);
        for b in binds {
            query = query.bind(*b);
        }
        let row = query.fetch_optional(self.wallet.db().pool()).await?;
        Ok(self.complete(row.into_iter().collect()).await?.pop())
    }
}

fn decode_content(text: &str) -> Result<Vec<u8>, MailboxError> {
    STANDARD
        .decode(text)
        .map_err(|_| MailboxError::Internal("a stored attachment is not base64".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_covers_every_part_and_their_boundaries() {
        let a = content_digest("ab", "c", &[]);
        let b = content_digest("a", "bc", &[]);
        assert_ne!(a, b);
        let file = AttachmentInfo {
            position: 1,
            filename: "x.pdf".into(),
            content_type: "application/pdf".into(),
            size: 4,
            sha256: "00".into(),
        };
        assert_ne!(a, content_digest("ab", "c", &[file]));
        assert_eq!(a.len(), 64);
    }
}
