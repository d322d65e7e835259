//! Reading notices: the citizen's inbox, opening (the proof of notification), attachments,
//! archiving and alert preferences; the sender's view of delivery and its signed receipt.

use clave_common::journal::{self, NewEvent};
use clave_idp::clients::Client;
use clave_idp::factors::rank;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::{
    Mailbox, MailboxError, NOTICE_COLUMNS, Notice, NoticeRow, RECEIPT_TYP, decode_content,
};
use crate::value::rfc3339;

/// A citizen's mailbox at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Inbox {
    /// The delivered notices, newest first.
    pub notices: Vec<Notice>,
    /// How many delivered, unarchived notices are not opened yet.
    pub unread: i64,
}

/// A signed receipt of delivery and first opening, for the sender.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The JWS compact serialization.
    pub jwt: String,
}

impl Mailbox<'_> {
    /// The delivered notices of `account_id` (archived ones when `archived`), newest first,
    /// with the count of unread ones.
    pub async fn inbox(&self, account_id: &str, archived: bool) -> Result<Inbox, MailboxError> {
        let now = self.now();
        let filter = if archived {
            "archived_at IS NOT NULL"
        } else {
            "archived_at IS NULL"
        };
        let rows: Vec<NoticeRow> = sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM mailbox_notices \
             WHERE account_id = $1 AND deliver_at <= $2 AND {filter} \
             ORDER BY deliver_at DESC, id DESC LIMIT 500"
        ))
        .bind(account_id)
        .bind(now)
        .fetch_all(self.wallet.db().pool())
        .await?;
        let notices = self.complete(rows).await?;
        Ok(Inbox {
            notices,
            unread: self.unread(account_id).await?,
        })
    }

    /// How many delivered, unarchived notices `account_id` has not opened.
    pub async fn unread(&self, account_id: &str) -> Result<i64, MailboxError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM mailbox_notices WHERE account_id = $1 AND deliver_at <= $2 \
             AND first_opened_at IS NULL AND archived_at IS NULL",
        )
        .bind(account_id)
        .bind(self.now())
        .fetch_one(self.wallet.db().pool())
        .await?;
        Ok(n)
    }

    /// A delivered notice of `account_id`, without opening it.
    pub async fn peek(&self, account_id: &str, id: &str) -> Result<Notice, MailboxError> {
        let not_found = || MailboxError::NotFound(format!("no notice {id:?} in your mailbox"));
        if !clave_common::id::is_plausible_id(id) {
            return Err(not_found());
        }
        let notice = self
            .one("id = $1 AND account_id = $2", &[id, account_id])
            .await?
            .ok_or_else(not_found)?;
        if !notice.is_delivered(self.now()) {
            return Err(not_found());
        }
        Ok(notice)
    }

    /// Opens a notice for a citizen authenticated at `acr`: refused below the notice's
    /// required level; the first opening is recorded once and journaled as
    /// `mailbox.notice_opened`.
    pub async fn open(
        &self,
        account_id: &str,
        id: &str,
        acr: &str,
    ) -> Result<Notice, MailboxError> {
        let notice = self.peek(account_id, id).await?;
        if let Some(required) = &notice.required_level
            && rank(acr) < rank(required)
        {
            return Err(MailboxError::StepUp {
                required: required.clone(),
            });
        }
        if notice.first_opened_at.is_some() {
            return Ok(notice);
        }
        let ctx = self.wallet.idp().ctx();
        let at = ctx.clock.now();
        let mut tx = self.wallet.db().begin().await?;
        let claimed = sqlx::query(
            "UPDATE mailbox_notices SET first_opened_at = $1 WHERE id = $2 AND first_opened_at IS NULL",
        )
        .bind(at.unix_timestamp())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            let event = NewEvent::new("mailbox.notice_opened")
                .actor(account_id)
                .subject(account_id)
                .data(json!({
                    "notice_id": id,
                    "sender": notice.sender,
                    "content_digest": notice.content_digest,
                    "acr": acr,
                }));
            let entry = journal::append(&mut tx, at, &event).await?;
            sqlx::query("UPDATE mailbox_notices SET opened_entry = $1 WHERE id = $2")
                .bind(&entry.id)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.peek(account_id, id).await
    }

    /// An attachment's name, type and content; opening it opens the notice.
    pub async fn attachment(
        &self,
        account_id: &str,
        id: &str,
        position: i64,
        acr: &str,
    ) -> Result<(super::AttachmentInfo, Vec<u8>), MailboxError> {
        let notice = self.open(account_id, id, acr).await?;
        let info = notice
            .attachments
            .into_iter()
            .find(|a| a.position == position)
            .ok_or_else(|| {
                MailboxError::NotFound(format!("the notice has no attachment {position}"))
            })?;
        let (content,): (String,) = sqlx::query_as(
            "SELECT content FROM mailbox_attachments WHERE notice_id = $1 AND position = $2",
        )
        .bind(id)
        .bind(position)
        .fetch_one(self.wallet.db().pool())
        .await?;
        Ok((info, decode_content(&content)?))
    }

    /// Archives (or, with `archived` false, restores) a delivered notice.
    pub async fn archive(
        &self,
        account_id: &str,
        id: &str,
        archived: bool,
    ) -> Result<Notice, MailboxError> {
        self.peek(account_id, id).await?;
        let at = archived.then(|| self.now());
        sqlx::query(
            "UPDATE mailbox_notices SET archived_at = $1 WHERE id = $2 AND account_id = $3",
        )
        .bind(at)
        .bind(id)
        .bind(account_id)
        .execute(self.wallet.db().pool())
        .await?;
        self.peek(account_id, id).await
    }

    /// A notice `client_id` sent, for its delivery status.
    pub async fn sent_by(&self, client_id: &str, id: &str) -> Result<Notice, MailboxError> {
        let not_found = || MailboxError::NotFound(format!("this client sent no notice {id:?}"));
        if !clave_common::id::is_plausible_id(id) {
            return Err(not_found());
        }
        self.one("id = $1 AND sender = $2", &[id, client_id])
            .await?
            .ok_or_else(not_found)
    }

    /// A receipt signed by clave stating what `client` sent, to whom (by the `sub` it knows),
    /// when it was delivered and when it was first opened.
    pub async fn receipt(&self, client: &Client, notice: &Notice) -> Result<Receipt, MailboxError> {
        let ctx = self.wallet.idp().ctx();
        let now = self.now();
        let delivered = notice.is_delivered(now);
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(ctx.config.issuer()));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(now));
        claims.insert("jti".into(), json!(notice.id));
        claims.insert(
            "sub".into(),
            json!(client.subject_for_account(&notice.account_id)),
        );
        claims.insert(
            "notice".into(),
            json!({
                "id": notice.id,
                "content_digest": notice.content_digest,
                "sent_at": rfc3339(notice.created_at),
                "delivered_at": delivered.then(|| rfc3339(notice.deliver_at)),
                "first_opened_at": notice.first_opened_at.map(rfc3339),
                "journal_entry": notice.opened_entry,
                "attachments": notice.attachments.iter().map(|a| json!({
                    "filename": a.filename, "sha256": a.sha256,
                })).collect::<Vec<Value>>(),
            }),
        );
        let jwt = self
            .wallet
            .idp()
            .tokens()
            .sign_jwt(client.id_token_alg, RECEIPT_TYP, &claims)
            .await
            .map_err(|e| MailboxError::Internal(format!("cannot sign the receipt: {e:?}")))?;
        Ok(Receipt { jwt })
    }

    /// Whether `account_id` wants e-mail alerts (yes unless turned off).
    pub async fn alerts_wanted(&self, account_id: &str) -> Result<bool, MailboxError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT alerts FROM mailbox_preferences WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(self.wallet.db().pool())
                .await?;
        Ok(row.is_none_or(|(a,)| a != 0))
    }

    /// Turns e-mail alerts on or off for `account_id`.
    pub async fn set_alerts(&self, account_id: &str, wanted: bool) -> Result<(), MailboxError> {
        sqlx::query(
            "INSERT INTO mailbox_preferences (account_id, alerts, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO UPDATE SET alerts = $2, updated_at = $3",
        )
        .bind(account_id)
        .bind(i64::from(wanted))
        .bind(self.now())
        .execute(self.wallet.db().pool())
        .await?;
        Ok(())
    }
}
