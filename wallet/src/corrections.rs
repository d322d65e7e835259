//! Corrections: a citizen who finds a value from an authoritative source wrong asks that
//! source to correct it, saying what is wrong. The source lists the open requests
//! (`GET /api/wallet/v1/corrections`, its `wallet:publish` token) and answers each
//! (`POST /api/wallet/v1/corrections/{id}`): corrected (having published the right value as
//! usual) or rejected, with a note the citizen reads. One request per attribute is open at a
//! time; every step is journaled, and the answer reaches the citizen's mailbox.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clave_common::db::is_unique_violation;
use clave_common::http::{ApiError, ApiJson};
use clave_common::id::{is_plausible_id, new_id};
use clave_common::journal::{self, NewEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::http::{Failure, SCOPE_PUBLISH, service};
use crate::value::rfc3339;
use crate::values::CITIZEN;
use crate::{Wallet, WalletError};

/// The longest message or answer, in characters.
pub const MAX_TEXT: usize = 1000;

/// A citizen's request to correct a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Correction {
    /// Its id.
    pub id: String,
    /// The citizen.
    #[serde(skip)]
    pub account_id: String,
    /// The attribute.
    pub attribute: String,
    /// The source asked (a client id).
    pub source: String,
    /// The version disputed.
    pub value_id: String,
    /// What the citizen says is wrong.
    pub message: String,
    /// `open`, `corrected` or `rejected`.
    pub status: String,
    /// When it was asked.
    pub created_at: i64,
    /// When it was answered.
    pub answered_at: Option<i64>,
    /// The source's note.
    pub answer: Option<String>,
}

const COLUMNS: &str =
    "id, account_id, attribute, source, value_id, message, status, created_at, answered_at, answer";

/// A text of 1 to [`MAX_TEXT`] characters, trimmed, without control characters but line
/// breaks.
fn text(what: &str, value: &str) -> Result<String, WalletError> {
    let value = value.trim();
    if value.is_empty()
        || value.chars().count() > MAX_TEXT
        || value
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        return Err(WalletError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT} characters of text"
        )));
    }
    Ok(value.to_owned())
}

impl Wallet {
    /// The citizen asks the source of their current `attribute` to correct it.
    pub async fn request_correction(
        &self,
        account_id: &str,
        attribute: &str,
        message: &str,
    ) -> Result<Correction, WalletError> {
        let message = text("the message", message)?;
        let value = self
            .values()
            .current(account_id)
            .await?
            .into_iter()
            .find(|v| v.attribute == attribute)
            .ok_or_else(|| WalletError::NotFound("you have no such data".into()))?;
        if value.source == CITIZEN {
            return Err(WalletError::Invalid(
                "you entered this value yourself: change it in your data instead".into(),
            ));
        }
        let now = self.idp().ctx().clock.now();
        let correction = Correction {
            id: new_id(),
            account_id: account_id.to_owned(),
            attribute: attribute.to_owned(),
            source: value.source.clone(),
            value_id: value.id.clone(),
            message,
            status: "open".into(),
            created_at: now.unix_timestamp(),
            answered_at: None,
            answer: None,
        };
        let mut tx = self.db().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO wallet_corrections (id, account_id, attribute, source, value_id, message, \
             status, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7)",
        )
        .bind(&correction.id)
        .bind(account_id)
        .bind(attribute)
        .bind(&correction.source)
        .bind(&correction.value_id)
        .bind(&correction.message)
        .bind(correction.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(WalletError::Conflict(
                    "a correction of this data is already waiting for the source's answer".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let event = NewEvent::new("correction.requested")
            .actor(account_id)
            .subject(account_id)
            .data(json!({
                "correction_id": correction.id,
                "attribute": attribute,
                "source": correction.source,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(correction)
    }

    /// The citizen's corrections, newest first.
    pub async fn corrections_of(&self, account_id: &str) -> Result<Vec<Correction>, WalletError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM wallet_corrections WHERE account_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 100"
        ))
        .bind(account_id)
        .fetch_all(self.db().pool())
        .await?)
    }

    /// The corrections asked of `source`, oldest first (the open ones only if asked).
    pub async fn corrections_for(
        &self,
        source: &str,
        open_only: bool,
    ) -> Result<Vec<Correction>, WalletError> {
        let filter = if open_only {
            " AND status = 'open'"
        } else {
            ""
        };
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM wallet_corrections WHERE source = $1{filter} \
             ORDER BY created_at, id LIMIT 500"
        ))
        .bind(source)
        .fetch_all(self.db().pool())
        .await?)
    }

    /// The source answers an open correction asked of it.
    pub async fn answer_correction(
        &self,
        source: &str,
        id: &str,
        corrected: bool,
        note: &str,
    ) -> Result<Correction, WalletError> {
        let note = text("note", note)?;
        let now = self.idp().ctx().clock.now();
        let mut tx = self.db().begin().await?;
        let found: Option<Correction> = if is_plausible_id(id) {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM wallet_corrections WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        } else {
            None
        };
        let correction = found.filter(|c| c.source == source).ok_or_else(|| {
            WalletError::NotFound("no such correction asked of this source".into())
        })?;
        let status = if corrected { "corrected" } else { "rejected" };
        let answered = sqlx::query(
            "UPDATE wallet_corrections SET status = $2, answered_at = $3, answer = $4 \
             WHERE id = $1 AND status = 'open'",
        )
        .bind(id)
        .bind(status)
        .bind(now.unix_timestamp())
        .bind(&note)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if answered != 1 {
            return Err(WalletError::Conflict(format!(
                "the correction was already answered ({})",
                correction.status
            )));
        }
        let event = NewEvent::new("correction.answered")
            .actor(source)
            .subject(&correction.account_id)
            .data(json!({
                "correction_id": id,
                "attribute": correction.attribute,
                "status": status,
                "answer": note,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(Correction {
            status: status.into(),
            answered_at: Some(now.unix_timestamp()),
            answer: Some(note),
            ..correction
        })
    }
}

/// The OpenAPI description of the corrections API.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, answer),
    components(schemas(Answer, CorrectionBody, CorrectionList))
)]
pub struct ApiDoc;

/// A correction as its source sees it (documentation only: the handlers build it with
/// `json!`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct CorrectionBody {
    id: String,
    /// The citizen, by RUN (`{"run": "12.345.678-5"}`).
    citizen: serde_json::Value,
    attribute: String,
    /// The version the citizen disputes.
    value_id: String,
    message: String,
    /// `open`, `corrected` or `rejected`.
    status: String,
    created_at: String,
    answered_at: Option<String>,
    answer: Option<String>,
}

/// The corrections asked of a source.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct CorrectionList {
    corrections: Vec<CorrectionBody>,
}

/// The source's side of corrections.
pub fn router(wallet: Wallet) -> Router {
    Router::new()
        .route("/api/wallet/v1/corrections", get(list))
        .route("/api/wallet/v1/corrections/{id}", post(answer))
        .with_state(wallet)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// `open` (the default) or `all`.
    #[serde(default)]
    status: Option<String>,
}

async fn correction_json(wallet: &Wallet, c: &Correction) -> Result<serde_json::Value, Failure> {
    let run = wallet
        .idp()
        .accounts()
        .get(&c.account_id)
        .await
        .map_err(WalletError::from)?
        .map(|a| a.run.canonical());
    Ok(json!({
        "id": c.id,
        "citizen": { "run": run },
        "attribute": c.attribute,
        "value_id": c.value_id,
        "message": c.message,
        "status": c.status,
        "created_at": rfc3339(c.created_at),
        "answered_at": c.answered_at.map(rfc3339),
        "answer": c.answer,
    }))
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/corrections",
    tag = "wallet-sources",
    params(ListQuery),
    responses(
        (status = 200, description = "The corrections asked of this source, oldest first", body = CorrectionList),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks `wallet:publish`, or is a citizen's", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_PUBLISH).await?;
    let Query(query) = query.map_err(|e| ApiError::invalid_request(e.body_text()))?;
    let open_only = match query.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(ApiError::invalid_request("status must be `open` or `all`").into()),
    };
    let mut out = Vec::new();
    for c in wallet.corrections_for(&client.client_id, open_only).await? {
        out.push(correction_json(&wallet, &c).await?);
    }
    Ok(Json(json!({ "corrections": out })).into_response())
}

/// A source's answer to a correction.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Answer {
    /// `corrected` (the right value was published) or `rejected`.
    #[schema(pattern = "^(corrected|rejected)$")]
    outcome: String,
    /// What the citizen reads: 1 to 1000 characters.
    note: String,
}

#[utoipa::path(
    post,
    path = "/api/wallet/v1/corrections/{id}",
    tag = "wallet-sources",
    params(("id" = String, Path, description = "The correction's id")),
    request_body = Answer,
    responses(
        (status = 200, description = "The correction, answered", body = CorrectionBody),
        (status = 400, description = "A malformed answer", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks `wallet:publish`, or is a citizen's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such correction asked of this source", body = clave_common::http::ApiErrorBody),
        (status = 409, description = "Already answered", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn answer(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<ApiJson<Answer>, ApiError>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_PUBLISH).await?;
    let ApiJson(body) = body?;
    let corrected = match body.outcome.as_str() {
        "corrected" => true,
        "rejected" => false,
        _ => {
            return Err(
                ApiError::invalid_request("outcome must be `corrected` or `rejected`").into(),
            );
        }
    };
    let done = wallet
        .answer_correction(&client.client_id, &id, corrected, &body.note)
        .await?;
    Ok(Json(correction_json(&wallet, &done).await?).into_response())
}
