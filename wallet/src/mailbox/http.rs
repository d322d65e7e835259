//! The mailbox API under `/api/mailbox/v1/`: agencies send notices and read their delivery
//! status with a client-credentials token (`mailbox:send`); citizens list, open and archive
//! their notices with a token from their login (`mailbox`).

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clave_common::http::{ApiError, ApiJson};
use clave_idp::clients::Client;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{MailboxError, NewNotice, Notice};
use crate::Wallet;
use crate::http::{Failure, caller, service};
use crate::value::rfc3339;

/// The scope of the sending API.
pub const SCOPE_SEND: &str = "mailbox:send";
/// The scope of the citizen's own API.
pub const SCOPE_CITIZEN: &str = "mailbox";

/// The mailbox's routes.
pub fn router(wallet: Wallet) -> Router {
    let limits = &wallet.idp().ctx().config.mailbox;
    // Attachments travel as base64 in the JSON body: room for all of them, plus the text.
    let body_limit = limits
        .max_attachments
        .saturating_mul(limits.max_attachment_bytes)
        .saturating_mul(4)
        / 3
        + 256 * 1024;
    Router::new()
        .route(
            "/api/mailbox/v1/messages",
            post(send).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/mailbox/v1/messages/{id}", get(status))
        .route("/api/mailbox/v1/me/messages", get(my_messages))
        .route("/api/mailbox/v1/me/messages/{id}", get(open_mine))
        .route(
            "/api/mailbox/v1/me/messages/{id}/attachments/{position}",
            get(my_attachment),
        )
        .route(
            "/api/mailbox/v1/me/messages/{id}/archive",
            post(archive_mine).delete(restore_mine),
        )
        .with_state(wallet)
}

/// The OpenAPI description of the mailbox API.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        send,
        status,
        my_messages,
        open_mine,
        my_attachment,
        archive_mine,
        restore_mine,
    ),
    components(schemas(super::NewNotice, super::NewAttachment, super::Recipient))
)]
pub struct ApiDoc;

impl From<MailboxError> for Failure {
    fn from(e: MailboxError) -> Self {
        match e {
            MailboxError::NotFound(text) => ApiError::not_found(text).into(),
            MailboxError::Invalid(text) => ApiError::invalid_request(text).into(),
            MailboxError::Forbidden(text) => ApiError::forbidden("forbidden", text).into(),
            MailboxError::IdempotencyReused(text) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                text,
            )
            .into(),
            MailboxError::TooLarge(text) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "attachment_too_large", text).into()
            }
            MailboxError::UnsupportedContent(text) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_attachment",
                text,
            )
            .into(),
            MailboxError::StepUp { required } => {
                let mut e = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "insufficient_user_authentication",
                    format!(
                        "this notice needs the level {required}: log in again with acr_values={required}"
                    ),
                );
                e.challenge = Some(format!(
                    "Bearer error=\"insufficient_user_authentication\", acr_values=\"{required}\""
                ));
                e.into()
            }
            MailboxError::Db(e) => ApiError::from(e).into(),
            MailboxError::Wallet(e) => e.into(),
            MailboxError::Internal(text) => ApiError::internal(text).into(),
        }
    }
}

fn time(at: Option<i64>) -> Value {
    at.map_or(Value::Null, |t| json!(rfc3339(t)))
}

/// A notice as its sender sees it: delivery, the proof of notification and the alert.
fn status_json(client: &Client, notice: &Notice, now: i64, receipt: &str) -> Value {
    let delivered = notice.is_delivered(now);
    let state = match (delivered, notice.first_opened_at) {
        (false, _) => "scheduled",
        (true, None) => "delivered",
        (true, Some(_)) => "opened",
    };
    let alert_error = if notice.alert.status == "failed" || notice.alert.status == "pending" {
        notice.alert.last_error.clone()
    } else {
        None
    };
    json!({
        "id": notice.id,
        "status": state,
        "to": { "sub": client.subject_for_account(&notice.account_id) },
        "subject": notice.subject,
        "sensitive": notice.sensitive,
        "required_level": notice.required_level,
        "content_digest": notice.content_digest,
        "created_at": rfc3339(notice.created_at),
        "deliver_at": rfc3339(notice.deliver_at),
        "delivered_at": time(delivered.then_some(notice.deliver_at)),
        "first_opened_at": time(notice.first_opened_at),
        "alert_sent_at": time(notice.alert.sent_at),
        "alert_error": alert_error,
        "alert": {
            "status": notice.alert.status,
            "attempts": notice.alert.attempts,
            "sent_at": time(notice.alert.sent_at),
            "last_error": notice.alert.last_error,
            "next_attempt_at": time(notice.alert.next_attempt_at),
        },
        "attachments": notice.attachments,
        "receipt": receipt,
    })
}

#[utoipa::path(
    post,
    path = "/api/mailbox/v1/messages",
    tag = "mailbox-senders",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried send return the first one")),
    request_body = super::NewNotice,
    responses(
        (status = 200, description = "Sent earlier with the same Idempotency-Key", body = Object),
        (status = 201, description = "Sent: delivery status and the signed receipt", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 413, description = "Too large", body = clave_common::http::ApiErrorBody),
        (status = 415, description = "An attachment of a type not accepted", body = clave_common::http::ApiErrorBody),
        (status = 422, description = "A value that does not fit the attribute or the request", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn send(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    body: Result<ApiJson<NewNotice>, ApiError>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_SEND).await?;
    let ApiJson(new) = body?;
    let key =
        match headers.get("idempotency-key") {
            Some(value) => Some(value.to_str().map_err(|_| {
                ApiError::invalid_request("Idempotency-Key must be printable ASCII")
            })?),
            None => None,
        };
    let mailbox = wallet.mailbox();
    let sent = mailbox.send(&client, &new, key).await?;
    let receipt = mailbox.receipt(&client, &sent.notice).await?;
    let body = status_json(&client, &sent.notice, wallet.now(), &receipt.jwt);
    let status = if sent.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/mailbox/v1/messages/{}", sent.notice.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/mailbox/v1/messages/{id}",
    tag = "mailbox-senders",
    params(("id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "Delivery status and proof of notification", body = Object),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn status(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_SEND).await?;
    let mailbox = wallet.mailbox();
    let notice = mailbox.sent_by(&client.client_id, &id).await?;
    let receipt = mailbox.receipt(&client, &notice).await?;
    Ok(Json(status_json(&client, &notice, wallet.now(), &receipt.jwt)).into_response())
}

/// The citizen behind a `mailbox` token, and the level they logged in at.
async fn citizen(wallet: &Wallet, headers: &HeaderMap) -> Result<(String, String), Failure> {
    let caller = caller(wallet, headers, SCOPE_CITIZEN).await?;
    let account_id = caller.account_id.ok_or_else(|| {
        Failure::from(ApiError::forbidden(
            "invalid_token",
            "this API is the citizen's: use a token from a citizen's login",
        ))
    })?;
    Ok((account_id, caller.acr.unwrap_or_default()))
}

/// A notice in the citizen's list: a sensitive one hides its sender and subject.
fn summary_json(notice: &Notice) -> Value {
    json!({
        "id": notice.id,
        "sender": (!notice.sensitive).then(|| notice.sender_name.clone()),
        "subject": (!notice.sensitive).then(|| notice.subject.clone()),
        "sensitive": notice.sensitive,
        "required_level": notice.required_level,
        "delivered_at": rfc3339(notice.deliver_at),
        "first_opened_at": time(notice.first_opened_at),
        "archived_at": time(notice.archived_at),
        "unread": notice.first_opened_at.is_none(),
        "attachments": notice.attachments.len(),
    })
}

fn opened_json(notice: &Notice) -> Value {
    let attachments: Vec<Value> = notice
        .attachments
        .iter()
        .map(|a| {
            json!({
                "position": a.position,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "href": format!("/api/mailbox/v1/me/messages/{}/attachments/{}", notice.id, a.position),
            })
        })
        .collect();
    json!({
        "id": notice.id,
        "sender": notice.sender_name,
        "subject": notice.subject,
        "body": notice.body,
        "body_format": notice.body_format,
        "body_html": notice.body_html(),
        "sensitive": notice.sensitive,
        "required_level": notice.required_level,
        "content_digest": notice.content_digest,
        "delivered_at": rfc3339(notice.deliver_at),
        "first_opened_at": time(notice.first_opened_at),
        "archived_at": time(notice.archived_at),
        "attachments": attachments,
    })
}

/// `?archived=true`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    archived: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/api/mailbox/v1/me/messages",
    tag = "mailbox-citizen",
    params(("archived" = Option<bool>, Query, description = "List the archived notices instead")),
    responses(
        (status = 200, description = "`unread` and the notices", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_messages(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let (account_id, _) = citizen(&wallet, &headers).await?;
    let Ok(Query(query)) = query else {
        return Err(ApiError::invalid_request("`archived` must be true or false").into());
    };
    let inbox = wallet
        .mailbox()
        .inbox(&account_id, query.archived.unwrap_or(false))
        .await?;
    let list: Vec<Value> = inbox.notices.iter().map(summary_json).collect();
    Ok(Json(json!({ "unread": inbox.unread, "messages": list })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/mailbox/v1/me/messages/{id}",
    tag = "mailbox-citizen",
    params(("id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "The notice; the first open is the proof of notification", body = Object),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn open_mine(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let (account_id, acr) = citizen(&wallet, &headers).await?;
    let notice = wallet.mailbox().open(&account_id, &id, &acr).await?;
    Ok(Json(opened_json(&notice)).into_response())
}

#[utoipa::path(
    get,
    path = "/api/mailbox/v1/me/messages/{id}/attachments/{position}",
    tag = "mailbox-citizen",
    params(
        ("id" = String, Path, description = "The notice's id"),
        ("position" = String, Path, description = "The attachment's position, from 1"),
    ),
    responses(
        (status = 200, description = "The file, with the content type it was sent with", content_type = "application/octet-stream"),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_attachment(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path((id, position)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let (account_id, acr) = citizen(&wallet, &headers).await?;
    let position: i64 = position
        .parse()
        .map_err(|_| ApiError::not_found("attachments are numbered from 1"))?;
    let (info, content) = wallet
        .mailbox()
        .attachment(&account_id, &id, position, &acr)
        .await?;
    Ok(attachment_response(&info, content))
}

/// An attachment as a download: never rendered by the browser as a page.
pub fn attachment_response(info: &super::AttachmentInfo, content: Vec<u8>) -> Response {
    let ascii: String = info
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = info
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut response = content.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&info.content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[utoipa::path(
    post,
    path = "/api/mailbox/v1/me/messages/{id}/archive",
    tag = "mailbox-citizen",
    params(("id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "The notice, archived", body = Object),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn archive_mine(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let (account_id, _) = citizen(&wallet, &headers).await?;
    let notice = wallet.mailbox().archive(&account_id, &id, true).await?;
    Ok(Json(summary_json(&notice)).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/mailbox/v1/me/messages/{id}/archive",
    tag = "mailbox-citizen",
    params(("id" = String, Path, description = "The notice's id")),
    responses(
        (status = 200, description = "The notice, back in the inbox", body = Object),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn restore_mine(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let (account_id, _) = citizen(&wallet, &headers).await?;
    let notice = wallet.mailbox().archive(&account_id, &id, false).await?;
    Ok(Json(summary_json(&notice)).into_response())
}
