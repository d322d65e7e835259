//! Telling services that a request was decided: a Security Event Token (RFC 8417) signed by
//! clave, POSTed as `application/secevent+jwt` to the request's callback URL. The event
//! carries only the request id and its outcome; the service reads the signed outputs with its
//! own token, so a callback reveals nothing to whoever might receive it by mistake.
//!
//! The decision queues the callback in its own transaction; [`run_request_worker`] sends what
//! is due, each delivery claimed by a conditional update (one node sends it), retried with
//! the back-channel logout's backoff, and every outcome journaled.

use std::time::Duration;

use clave_common::journal::{self, NewEvent};
use clave_idp::oidc::flow::backchannel::{MAX_ATTEMPTS, retry_delay};
use clave_idp::push::Event;
use serde_json::json;

use crate::{Signer, SignerError};

/// The event URI prefix: `…signed`, `…declined`, `…expired`.
pub const EVENT_PREFIX: &str = "urn:clave:event:signature-request:";
/// How often the worker runs: a service hears of a decision within this.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a node owns a delivery it claimed, so one that dies mid-send does not strand it.
const CLAIM_SECS: i64 = 60;

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CallbackReport {
    /// Callbacks the services accepted.
    pub delivered: u32,
    /// Callbacks that failed and will be retried.
    pub failed: u32,
    /// Callbacks that failed for the last time.
    pub abandoned: u32,
}

#[derive(Debug, sqlx::FromRow)]
struct Due {
    id: String,
    client_id: String,
    account_id: String,
    status: String,
    callback_url: String,
    callback_attempts: i64,
    callback_next_at: i64,
}

/// The HTTP client callbacks go out with: short timeouts, no redirects followed.
pub fn http_client() -> Result<reqwest::Client, SignerError> {
    Ok(clave_idp::push::client("clave signature requests")?)
}

impl Signer {
    /// Sends every callback that is due now.
    pub async fn deliver_callbacks(
        &self,
        http: &reqwest::Client,
    ) -> Result<CallbackReport, SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let due: Vec<Due> = sqlx::query_as(
            "SELECT id, client_id, account_id, status, callback_url, callback_attempts, \
             callback_next_at FROM signer_requests \
             WHERE callback_status = 'pending' AND callback_next_at <= $1 \
             ORDER BY callback_next_at LIMIT 32",
        )
        .bind(now)
        .fetch_all(ctx.db.pool())
        .await?;
        let mut report = CallbackReport::default();
        for due in due {
            let claimed = sqlx::query(
                "UPDATE signer_requests SET callback_attempts = callback_attempts + 1, \
                 callback_next_at = $1 WHERE id = $2 AND callback_next_at = $3 \
                 AND callback_status = 'pending'",
            )
            .bind(now + CLAIM_SECS)
            .bind(&due.id)
            .bind(due.callback_next_at)
            .execute(ctx.db.pool())
            .await?
            .rows_affected();
            if claimed != 1 {
                continue; // Another node took it.
            }
            let attempt = due.callback_attempts + 1;
            let outcome = self.send_callback(http, &due).await;
            let finished = ctx.clock.unix();
            let (status, next, problem, kind) = match outcome {
                Ok(()) => {
                    report.delivered += 1;
                    (
                        "delivered",
                        None,
                        None,
                        "signature_request.callback_delivered",
                    )
                }
                Err(problem) if attempt >= MAX_ATTEMPTS => {
                    report.abandoned += 1;
                    (
                        "abandoned",
                        None,
                        Some(problem),
                        "signature_request.callback_abandoned",
                    )
                }
                Err(problem) => {
                    report.failed += 1;
                    (
                        "pending",
                        Some(finished + retry_delay(attempt)),
                        Some(problem),
                        "signature_request.callback_failed",
                    )
                }
            };
            let mut tx = ctx.db.begin().await?;
            sqlx::query(
                "UPDATE signer_requests SET callback_status = $1, callback_next_at = $2, \
                 callback_error = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(next)
            .bind(&problem)
            .bind(&due.id)
            .execute(&mut *tx)
            .await?;
            let event = NewEvent::new(kind)
                .actor(due.client_id.clone())
                .subject(due.account_id.clone())
                .data(json!({
                    "request_id": due.id,
                    "attempt": attempt,
                    "error": problem,
                }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
            tx.commit().await?;
        }
        Ok(report)
    }

    async fn send_callback(&self, http: &reqwest::Client, due: &Due) -> Result<(), String> {
        self.idp()
            .push_event(
                http,
                Event {
                    client_id: &due.client_id,
                    account_id: &due.account_id,
                    event: format!("{EVENT_PREFIX}{}", due.status),
                    payload: json!({ "request_id": due.id }),
                    uri: &due.callback_url,
                },
            )
            .await
    }
}

/// Records lapsed requests as expired and sends due callbacks until `stop` turns true; the
/// server runs one per node.
pub async fn run_request_worker(signer: Signer, mut stop: tokio::sync::watch::Receiver<bool>) {
    let http = match http_client() {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "the signature request worker cannot start");
            return;
        }
    };
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = signer.expire_requests().await {
                    tracing::warn!(%error, "expiring signature requests failed");
                }
                if let Err(error) = signer.deliver_callbacks(&http).await {
                    tracing::warn!(%error, "signature request callbacks failed");
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
