//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when a session ends, every
//! service that got tokens in it is told, server to server, so it can end its own session.
//!
//! [`on_session_ended`] revokes the session's grants and queues one notice per service with a
//! registered `backchannel_logout_uri` in `idp_backchannel_deliveries`. [`deliver_due`] sends
//! what is due: it claims each notice with a conditional update (so among several nodes only
//! one sends it), POSTs a freshly signed logout token, and on failure schedules a retry with
//! exponential backoff until [`MAX_ATTEMPTS`]. Every success and failure is journaled.
//! [`run_backchannel_worker`] calls it periodically on every node.

use std::collections::BTreeMap;
use std::time::Duration;

use clave_common::Tx;
use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use serde_json::{Map, Value, json};

use crate::session::Session;
use crate::{Idp, IdpError};

/// The event a logout token carries.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The `typ` header of a logout token.
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// How long a logout token is valid after it is signed (each attempt signs a new one).
const LOGOUT_TOKEN_TTL_SECS: i64 = 120;
/// Attempts before a notice is abandoned.
pub const MAX_ATTEMPTS: i64 = 8;
/// The wait after the first failure; it doubles with each further failure.
const FIRST_RETRY_SECS: i64 = 10;
/// The longest wait between attempts.
const MAX_RETRY_SECS: i64 = 3600;
/// How long a node owns a notice it claimed, so a node that dies mid-send does not strand it.
const CLAIM_SECS: i64 = 60;
/// Notices claimed per round.
const BATCH: i64 = 32;
/// How often the worker looks for due notices: a service learns of a logout within this.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Rounds between purges of lapsed rows (about ten minutes).
const PURGE_EVERY: u32 = 300;

/// Inside the transaction that ends a session: revokes every grant made in it, so its access
/// and refresh tokens stop working at once, and queues a back-channel notice for each service
/// that had one. Every way a session ends goes through here (see `Sessions::end`).
pub(crate) async fn on_session_ended(
    idp: &Idp,
    tx: &mut Tx,
    session: &Session,
) -> Result<(), IdpError> {
    let grants: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, client_id, revoked_at FROM idp_grants WHERE session_id = $1 ORDER BY id",
    )
    .bind(&session.id)
    .fetch_all(&mut **tx)
    .await?;
    let account = idp.accounts().get(&session.account_id).await?;

    let mut notices: BTreeMap<String, (String, String)> = BTreeMap::new();
    if let Some(account) = &account {
        for (_, client_id, _) in &grants {
            if notices.contains_key(client_id) {
                continue;
            }
            if let Some(client) = idp.clients().get(client_id).await?
                && let Some(uri) = &client.backchannel_logout_uri
            {
                notices.insert(
                    client_id.clone(),
                    (uri.clone(), client.subject_for(account)),
                );
            }
        }
    }

    let now = idp.ctx().clock.unix();
    for (grant_id, _, revoked_at) in &grants {
        if revoked_at.is_none() {
            idp.tokens().revoke_grant(tx, grant_id, "logout").await?;
        }
    }
    for (client_id, (uri, subject)) in &notices {
        sqlx::query(
            "INSERT INTO idp_backchannel_deliveries (id, client_id, session_id, account_id, \
             subject, uri, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
        )
        .bind(new_id())
        .bind(client_id)
        .bind(&session.id)
        .bind(&session.account_id)
        .bind(subject)
        .bind(uri)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// What one round of [`deliver_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Notices the services accepted.
    pub delivered: u32,
    /// Notices that failed and will be retried.
    pub failed: u32,
    /// Notices that failed for the last time.
    pub abandoned: u32,
}

/// Sends every notice that is due now, on this node.
pub async fn deliver_due(idp: &Idp) -> Result<DeliveryReport, IdpError> {
    deliver_due_with(idp, &http_client()?).await
}

/// Sends due notices until `stop` turns true; the server runs one per node. Every
/// [`PURGE_EVERY`] rounds it also deletes the browser flow's lapsed rows
/// ([`super::purge_lapsed`]).
pub async fn run_backchannel_worker(idp: Idp, mut stop: tokio::sync::watch::Receiver<bool>) {
    let http = match http_client() {
        Ok(http) => http,
        Err(error) => {
            tracing::error!(%error, "back-channel logout worker cannot start");
            return;
        }
    };
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds: u32 = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = deliver_due_with(&idp, &http).await {
                    tracing::warn!(%error, "back-channel logout round failed");
                }
                rounds = rounds.wrapping_add(1);
                if rounds.is_multiple_of(PURGE_EVERY)
                    && let Err(error) = super::purge_lapsed(&idp).await
                {
                    tracing::warn!(%error, "purging lapsed authorization rows failed");
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

pub(crate) fn http_client() -> Result<reqwest::Client, IdpError> {
    crate::push::client("clave back-channel logout")
}

#[derive(Debug, sqlx::FromRow)]
struct Delivery {
    id: String,
    client_id: String,
    session_id: String,
    account_id: String,
    subject: String,
    uri: String,
    attempts: i64,
    next_attempt_at: i64,
}

async fn deliver_due_with(idp: &Idp, http: &reqwest::Client) -> Result<DeliveryReport, IdpError> {
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let due: Vec<Delivery> = sqlx::query_as(
        "SELECT id, client_id, session_id, account_id, subject, uri, attempts, next_attempt_at \
         FROM idp_backchannel_deliveries \
         WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(ctx.db.pool())
    .await?;
    let mut report = DeliveryReport::default();
    for delivery in due {
        let claimed = sqlx::query(
            "UPDATE idp_backchannel_deliveries SET attempts = attempts + 1, next_attempt_at = $1 \
             WHERE id = $2 AND next_attempt_at = $3 AND delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .bind(now + CLAIM_SECS)
        .bind(&delivery.id)
        .bind(delivery.next_attempt_at)
        .execute(ctx.db.pool())
        .await?
        .rows_affected();
        if claimed != 1 {
            continue; // Another node took it.
        }
        let attempt = delivery.attempts + 1;
        let outcome = send(idp, http, &delivery).await;
        let finished = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        let (kind, problem) = match outcome {
            Ok(()) => {
                sqlx::query(
                    "UPDATE idp_backchannel_deliveries SET delivered_at = $1, last_error = NULL WHERE id = $2",
                )
                .bind(finished)
                .bind(&delivery.id)
                .execute(&mut *tx)
                .await?;
                report.delivered += 1;
                ("backchannel.delivered", None)
            }
            Err(problem) if attempt >= MAX_ATTEMPTS => {
                sqlx::query(
                    "UPDATE idp_backchannel_deliveries SET abandoned_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(finished)
                .bind(&problem)
                .bind(&delivery.id)
                .execute(&mut *tx)
                .await?;
                report.abandoned += 1;
                ("backchannel.abandoned", Some(problem))
            }
            Err(problem) => {
                sqlx::query(
                    "UPDATE idp_backchannel_deliveries SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(finished + retry_delay(attempt))
                .bind(&problem)
                .bind(&delivery.id)
                .execute(&mut *tx)
                .await?;
                report.failed += 1;
                ("backchannel.failed", Some(problem))
            }
        };
        let event = NewEvent::new(kind)
            .actor(delivery.client_id.clone())
            .subject(delivery.account_id.clone())
            .data(json!({
                "client_id": delivery.client_id,
                "session_id": delivery.session_id,
                "attempt": attempt,
                "error": problem,
            }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
    }
    Ok(report)
}

/// The wait before attempt `attempt + 1`: 10 s, 20 s, 40 s, … up to an hour. Other outbound
/// deliveries (the wallet's consent events) back off the same way.
pub fn retry_delay(attempt: i64) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    FIRST_RETRY_SECS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_SECS)
}

/// Signs a logout token for `delivery` and POSTs it; the error says what went wrong.
async fn send(idp: &Idp, http: &reqwest::Client, delivery: &Delivery) -> Result<(), String> {
    let client = idp
        .clients()
        .get(&delivery.client_id)
        .await
        .map_err(|e| format!("cannot load the client: {e}"))?
        .ok_or_else(|| "the client is no longer registered".to_owned())?;
    let claims = logout_claims(idp, delivery, &client.sid_for(&delivery.session_id));
    let token = idp
        .tokens()
        .sign_jwt(client.id_token_alg, LOGOUT_TOKEN_TYPE, &claims)
        .await
        .map_err(|e| format!("cannot sign the logout token: {e}"))?;
    let response = http
        .post(&delivery.uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the service answered HTTP {}", status.as_u16()))
    }
}

/// The claims of a logout token (Back-Channel Logout 1.0 §2.4).
fn logout_claims(idp: &Idp, delivery: &Delivery, sid: &str) -> Map<String, Value> {
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(ctx.config.issuer()));
    claims.insert("aud".into(), json!(delivery.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + LOGOUT_TOKEN_TTL_SECS));
    claims.insert("jti".into(), json!(new_id()));
    claims.insert("sub".into(), json!(delivery.subject));
    claims.insert("sid".into(), json!(sid));
    claims.insert("events".into(), json!({ LOGOUT_EVENT: {} }));
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        assert_eq!(retry_delay(1), 10);
        assert_eq!(retry_delay(2), 20);
        assert_eq!(retry_delay(3), 40);
        assert_eq!(retry_delay(9), 2560);
        assert_eq!(retry_delay(10), 3600);
        assert_eq!(retry_delay(i64::MAX), 3600);
        assert_eq!(retry_delay(0), 10);
    }
}
