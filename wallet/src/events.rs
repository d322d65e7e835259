//! Consent events for services: when a consent ends (revoked by the citizen, or expired),
//! a service that registered a consent events URI receives a Security Event Token (RFC 8417)
//! by push delivery (RFC 8935): a JWT signed by clave, POSTed as `application/secevent+jwt`.
//! Deliveries are queued in the transaction that ends the consent and sent by a worker with
//! retries, so ending a consent never waits for the service.
//!
//! The same worker expires lapsed consents.

use std::time::Duration;

use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use clave_idp::oidc::flow::backchannel::{MAX_ATTEMPTS, retry_delay};
use clave_idp::push::Event;
use serde_json::json;

use crate::consent::Consent;
use crate::{Wallet, WalletError};

/// The `typ` of consent event tokens.
pub use clave_idp::push::EVENT_TYP;
/// The event URI prefix: `…/consent/revoked`, `…/consent/expired`.
pub const EVENT_PREFIX: &str = "urn:clave:event:consent:";
/// How often the worker runs.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// How long a node owns a delivery it claimed.
const CLAIM_SECS: i64 = 60;

/// Queues the event `kind` (`revoked` or `expired`) of `consent` for `uri`, in the caller's
/// transaction.
pub(crate) async fn queue(
    conn: &mut sqlx::AnyConnection,
    consent: &Consent,
    kind: &str,
    uri: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO wallet_consent_events (id, consent_id, client_id, event, uri, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(new_id())
    .bind(&consent.id)
    .bind(&consent.client_id)
    .bind(kind)
    .bind(uri)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
struct Delivery {
    id: String,
    consent_id: String,
    client_id: String,
    event: String,
    uri: String,
    attempts: i64,
    next_attempt_at: i64,
}

/// What one round of deliveries did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventReport {
    /// Events the services accepted.
    pub delivered: u32,
    /// Events that failed and will be retried.
    pub failed: u32,
    /// Events that failed for the last time.
    pub abandoned: u32,
}

impl Wallet {
    /// Sends every consent event that is due now.
    pub async fn deliver_events(&self, http: &reqwest::Client) -> Result<EventReport, WalletError> {
        let ctx = self.idp().ctx();
        let now = ctx.clock.unix();
        let due: Vec<Delivery> = sqlx::query_as(
            "SELECT id, consent_id, client_id, event, uri, attempts, next_attempt_at \
             FROM wallet_consent_events WHERE delivered_at IS NULL AND abandoned_at IS NULL \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 32",
        )
        .bind(now)
        .fetch_all(ctx.db.pool())
        .await?;
        let mut report = EventReport::default();
        for delivery in due {
            let claimed = sqlx::query(
                "UPDATE wallet_consent_events SET attempts = attempts + 1, next_attempt_at = $1 \
                 WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL",
            )
            .bind(now + CLAIM_SECS)
            .bind(&delivery.id)
            .bind(delivery.next_attempt_at)
            .execute(ctx.db.pool())
            .await?
            .rows_affected();
            if claimed != 1 {
                continue;
            }
            let attempt = delivery.attempts + 1;
            let outcome = self.send_event(http, &delivery).await;
            let finished = ctx.clock.unix();
            let (sql, next, problem, kind) = match outcome {
                Ok(()) => {
                    report.delivered += 1;
                    (
                        "UPDATE wallet_consent_events SET delivered_at = $1, last_error = $2 WHERE id = $3",
                        finished,
                        None,
                        "consent.event_delivered",
                    )
                }
                Err(problem) if attempt >= MAX_ATTEMPTS => {
                    report.abandoned += 1;
                    (
                        "UPDATE wallet_consent_events SET abandoned_at = $1, last_error = $2 WHERE id = $3",
                        finished,
                        Some(problem),
                        "consent.event_abandoned",
                    )
                }
                Err(problem) => {
                    report.failed += 1;
                    (
                        "UPDATE wallet_consent_events SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                        finished + retry_delay(attempt),
                        Some(problem),
                        "consent.event_failed",
                    )
                }
            };
            let mut tx = ctx.db.begin().await?;
            sqlx::query(sql)
                .bind(next)
                .bind(&problem)
                .bind(&delivery.id)
                .execute(&mut *tx)
                .await?;
            let event = NewEvent::new(kind)
                .actor(delivery.client_id.clone())
                .data(json!({
                    "consent_id": delivery.consent_id,
                    "event": delivery.event,
                    "attempt": attempt,
                    "error": problem,
                }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
            tx.commit().await?;
        }
        Ok(report)
    }

    async fn send_event(&self, http: &reqwest::Client, delivery: &Delivery) -> Result<(), String> {
        let consent = self
            .consents()
            .get(&delivery.consent_id)
            .await
            .map_err(|e| format!("cannot load the consent: {e}"))?
            .ok_or_else(|| "the consent is gone".to_owned())?;
        self.idp()
            .push_event(
                http,
                Event {
                    client_id: &delivery.client_id,
                    account_id: &consent.account_id,
                    event: format!("{EVENT_PREFIX}{}", delivery.event),
                    payload: json!({
                        "consent_id": consent.id,
                        "attributes": consent.attributes,
                    }),
                    uri: &delivery.uri,
                },
            )
            .await
    }
}

/// Expires lapsed consents and sends consent events until `stop` turns true; the server runs
/// one per node.
pub async fn run_wallet_worker(wallet: Wallet, mut stop: tokio::sync::watch::Receiver<bool>) {
    let http = match clave_idp::push::client("clave consent events") {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "the wallet worker cannot start");
            return;
        }
    };
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = wallet.consents().expire_lapsed().await {
                    tracing::warn!(%error, "expiring consents failed");
                }
                if let Err(error) = wallet.deliver_events(&http).await {
                    tracing::warn!(%error, "consent event round failed");
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
