//! The mailbox's background work, run by [`run_mailbox_worker`] on every node: e-mail alerts
//! for delivered notices (retried with backoff, never holding up the sender), security
//! notices from the journal ([`super::security`]), and the retention policy.

use std::time::Duration;

use clave_common::journal::{self, NewEvent};
use clave_common::mail::{Email, Mailer};
use serde_json::json;

use super::{Mailbox, MailboxError, NOTICE_COLUMNS, Notice, NoticeRow};
use crate::Wallet;

/// Attempts before an alert is given up.
pub const MAX_ATTEMPTS: i64 = 6;
/// The wait after the first failure; it doubles with each further failure.
const FIRST_RETRY_SECS: i64 = 30;
/// The longest wait between attempts.
const MAX_RETRY_SECS: i64 = 3600;
/// How long a node owns an alert it claimed.
const CLAIM_SECS: i64 = 120;
/// How often the worker runs.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The wait before attempt `attempt + 1`, after `attempt` failures.
pub fn retry_delay(attempt: i64) -> i64 {
    let shift = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    FIRST_RETRY_SECS
        .saturating_mul(1_i64 << shift)
        .min(MAX_RETRY_SECS)
}

/// A notice past the retention period.
#[derive(Debug, sqlx::FromRow)]
struct Expired {
    id: String,
    account_id: String,
    sender: String,
    content_digest: String,
    deliver_at: i64,
    first_opened_at: Option<i64>,
    opened_entry: Option<String>,
}

/// What one round of alerts did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AlertReport {
    /// Alerts the SMTP server accepted.
    pub sent: u32,
    /// Alerts that failed and will be retried.
    pub failed: u32,
    /// Alerts that failed for the last time.
    pub abandoned: u32,
    /// Alerts not sent because the citizen turned them off or has no verified address.
    pub skipped: u32,
}

/// The alert's text: that a notice arrived and where to read it; a sensitive notice's
/// sender and subject are left out.
pub fn alert_email(base_url: &str, notice: &Notice, to: &str) -> Email {
    let link = format!("{base_url}/me/mailbox/{}", notice.id);
    let about = if notice.sensitive {
        "Tienes una notificación confidencial. / You have a confidential notice.".to_owned()
    } else {
        format!(
            "De / From: {}\nAsunto / Subject: {}",
            notice.sender_name, notice.subject
        )
    };
    Email {
        to: to.to_owned(),
        subject: "Tienes una notificación nueva / You have a new notice".into(),
        body: format!(
            "Hola:\n\nLlegó una notificación nueva a tu casilla. Léela en el portal, después de \
             ingresar:\n\nA new notice arrived in your mailbox. Read it in the portal, after \
             logging in:\n\n{about}\n\n{link}\n\nEste correo no contiene el contenido de la \
             notificación. / This e-mail does not contain the notice itself.\n"
        ),
    }
}

impl Mailbox<'_> {
    /// Sends every alert that is due now through `mailer`.
    pub async fn send_alerts(&self, mailer: &Mailer) -> Result<AlertReport, MailboxError> {
        let ctx = self.wallet.idp().ctx();
        let now = self.now();
        let due: Vec<NoticeRow> = sqlx::query_as(&format!(
            "SELECT {NOTICE_COLUMNS} FROM mailbox_notices WHERE alert_status = 'pending' \
             AND alert_next_at <= $1 AND deliver_at <= $1 ORDER BY alert_next_at LIMIT 32"
        ))
        .bind(now)
        .fetch_all(self.wallet.db().pool())
        .await?;
        let mut report = AlertReport::default();
        for row in due {
            let claimed = sqlx::query(
                "UPDATE mailbox_notices SET alert_next_at = $1 \
                 WHERE id = $2 AND alert_next_at = $3 AND alert_status = 'pending'",
            )
            .bind(now + CLAIM_SECS)
            .bind(&row.id)
            .bind(row.alert_next_at)
            .execute(self.wallet.db().pool())
            .await?
            .rows_affected();
            if claimed != 1 {
                continue;
            }
            let notice = row.into_notice(Vec::new());
            let to = match self.alert_address(&notice.account_id).await? {
                Ok(to) => to,
                Err(status) => {
                    self.finish(&notice, status, None, None).await?;
                    report.skipped += 1;
                    continue;
                }
            };
            let attempt = notice.alert.attempts + 1;
            let email = alert_email(&ctx.config.issuer(), &notice, &to);
            match mailer.send(&email).await {
                Ok(()) => {
                    self.finish(&notice, "sent", Some(ctx.clock.unix()), None)
                        .await?;
                    report.sent += 1;
                }
                Err(problem) if attempt >= MAX_ATTEMPTS => {
                    self.finish(&notice, "failed", None, Some(problem.to_string()))
                        .await?;
                    report.abandoned += 1;
                }
                Err(problem) => {
                    let next = ctx.clock.unix() + retry_delay(attempt);
                    sqlx::query(
                        "UPDATE mailbox_notices SET alert_attempts = $1, alert_next_at = $2, \
                         alert_error = $3 WHERE id = $4",
                    )
                    .bind(attempt)
                    .bind(next)
                    .bind(problem.to_string())
                    .bind(&notice.id)
                    .execute(self.wallet.db().pool())
                    .await?;
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// The verified address an alert for `account_id` goes to, or why there is none.
    async fn alert_address(
        &self,
        account_id: &str,
    ) -> Result<Result<String, &'static str>, MailboxError> {
        if !self.alerts_wanted(account_id).await? {
            return Ok(Err("disabled"));
        }
        let account = self.wallet.idp().accounts().get(account_id).await?;
        Ok(match account {
            Some(a) if a.email_verified => a.email.ok_or("no_address"),
            _ => Err("no_address"),
        })
    }

    /// Records an alert's final state and journals it.
    async fn finish(
        &self,
        notice: &Notice,
        status: &str,
        sent_at: Option<i64>,
        error: Option<String>,
    ) -> Result<(), MailboxError> {
        let ctx = self.wallet.idp().ctx();
        let attempts = notice.alert.attempts + i64::from(sent_at.is_some() || error.is_some());
        let mut tx = self.wallet.db().begin().await?;
        sqlx::query(
            "UPDATE mailbox_notices SET alert_status = $1, alert_sent_at = $2, \
             alert_error = COALESCE($3, alert_error), alert_attempts = $4, alert_next_at = NULL \
             WHERE id = $5",
        )
        .bind(status)
        .bind(sent_at)
        .bind(error.as_deref())
        .bind(attempts)
        .bind(&notice.id)
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new(format!("mailbox.alert_{status}"))
            .subject(notice.account_id.clone())
            .data(json!({ "notice_id": notice.id, "attempts": attempts, "error": error }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes notices delivered longer ago than the retention period, each journaled as
    /// `mailbox.notice_deleted` with its digest and proof of notification. Returns how many.
    pub async fn apply_retention(&self) -> Result<u32, MailboxError> {
        let days = self.config().mailbox.retention_days;
        if days <= 0 {
            return Ok(0);
        }
        let ctx = self.wallet.idp().ctx();
        let cutoff = self.now() - days * 86_400;
        let old: Vec<Expired> = sqlx::query_as(
            "SELECT id, account_id, sender, content_digest, deliver_at, first_opened_at, \
             opened_entry FROM mailbox_notices WHERE deliver_at < $1 ORDER BY deliver_at LIMIT 100",
        )
        .bind(cutoff)
        .fetch_all(self.wallet.db().pool())
        .await?;
        let mut deleted = 0;
        for Expired {
            id,
            account_id,
            sender,
            content_digest: digest,
            deliver_at: delivered,
            first_opened_at: opened,
            opened_entry: entry,
        } in old
        {
            let mut tx = self.wallet.db().begin().await?;
            sqlx::query("DELETE FROM mailbox_attachments WHERE notice_id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let gone = sqlx::query("DELETE FROM mailbox_notices WHERE id = $1")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if gone != 1 {
                continue;
            }
            let event = NewEvent::new("mailbox.notice_deleted")
                .actor(super::CLAVE_SENDER)
                .subject(account_id)
                .data(json!({
                    "notice_id": id,
                    "sender": sender,
                    "content_digest": digest,
                    "delivered_at": delivered,
                    "first_opened_at": opened,
                    "opened_entry": entry,
                    "reason": "retention",
                    "retention_days": days,
                }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
            tx.commit().await?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

/// Sends alerts, turns security events into notices and applies the retention policy until
/// `stop` turns true; the server runs one per node.
pub async fn run_mailbox_worker(wallet: Wallet, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mailer = match Mailer::new(&wallet.idp().ctx().config.mail) {
        Ok(mailer) => mailer,
        Err(error) => {
            tracing::error!(%error, "mailbox alerts are off: the [mail] section cannot be used");
            None
        }
    };
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let mailbox = wallet.mailbox();
                if let Err(error) = mailbox.follow_journal().await {
                    tracing::warn!(%error, "security notices round failed");
                }
                if let Some(mailer) = &mailer
                    && let Err(error) = mailbox.send_alerts(mailer).await
                {
                    tracing::warn!(%error, "mailbox alert round failed");
                }
                if let Err(error) = mailbox.apply_retention().await {
                    tracing::warn!(%error, "mailbox retention round failed");
                }
            }
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_an_hour() {
        assert_eq!(retry_delay(1), 30);
        assert_eq!(retry_delay(2), 60);
        assert_eq!(retry_delay(3), 120);
        assert_eq!(retry_delay(20), 3600);
    }
}
