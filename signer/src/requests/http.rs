//! The signature request API for services (`sign:request`, a client-credentials token):
//! `POST /api/sign/v1/requests` asks for signatures, `GET /api/sign/v1/requests/{id}`
//! answers the status and, once signed, the signed outputs.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::http::{ApiError, ApiJson};
use clave_idp::clients::Client;
use serde_json::{Value, json};

use super::{MAX_REQUEST_BYTES, NewRequest, SCOPE_REQUEST, SignRequest};
use crate::documents::Format;
use crate::{Signer, SignerError};

/// The OpenAPI description of the request API.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, status),
    components(schemas(NewRequest, super::NewDocument, super::SignerRef))
)]
pub struct ApiDoc;

/// The request API's routes.
pub fn router(signer: Signer) -> Router {
    // Documents travel as base64 in the JSON body: room for all of them, plus the text.
    let body_limit = MAX_REQUEST_BYTES.saturating_mul(4) / 3 + 256 * 1024;
    Router::new()
        .route(
            "/api/sign/v1/requests",
            post(create).layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/api/sign/v1/requests/{id}", get(status))
        .with_state(signer)
}

/// An API failure.
#[derive(Debug)]
pub struct Failure(ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<SignerError> for Failure {
    fn from(e: SignerError) -> Self {
        Self(match e {
            SignerError::NotFound(text) => ApiError::not_found(text),
            SignerError::Invalid(text) => ApiError::invalid_request(text),
            SignerError::Forbidden(text) => ApiError::forbidden("access_denied", text),
            SignerError::Conflict(text) => ApiError::conflict(text),
            SignerError::Unavailable(text) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                text,
            ),
            SignerError::Db(e) => ApiError::from(e),
            other => ApiError::internal(other),
        })
    }
}

fn time(unix: Option<i64>) -> Value {
    unix.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// The request as its service sees it, with the outputs once signed.
async fn status_json(
    signer: &Signer,
    client: &Client,
    request: &SignRequest,
) -> Result<Value, Failure> {
    let mut documents = Vec::with_capacity(request.documents.len());
    for doc in &request.documents {
        let mut entry = json!(doc);
        if request.status == "signed" {
            let output = signer
                .request_document(request, doc.position, true)
                .await?
                .ok_or_else(|| ApiError::internal("a signed request lacks an output"))?;
            entry["signed"] = json!({
                "media_type": request.format.media_type(),
                "detached": request.format != Format::Pades,
                "content": STANDARD.encode(output),
            });
        }
        documents.push(entry);
    }
    Ok(json!({
        "id": request.id,
        "status": request.status,
        "signer": { "sub": client.subject_for_account(&request.account_id) },
        "purpose": request.purpose,
        "institution": request.institution_id,
        "format": request.format.name(),
        "level": request.level(),
        "created_at": time(Some(request.created_at)),
        "expires_at": time(Some(request.expires_at)),
        "decided_at": time(request.decided_at),
        "decline_reason": request.decline_reason,
        "documents": documents,
        "callback": request.callback_url.as_ref().map(|url| json!({
            "url": url,
            "status": request.callback_status,
            "attempts": request.callback_attempts,
            "last_error": request.callback_error,
        })),
    }))
}

#[utoipa::path(
    post,
    path = "/api/sign/v1/requests",
    tag = "signing",
    request_body = NewRequest,
    responses(
        (status = 201, description = "The request, waiting for the signer", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 413, description = "Too large", body = clave_common::http::ApiErrorBody),
        (status = 422, description = "A request that cannot be served", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create(
    State(signer): State<Signer>,
    headers: HeaderMap,
    body: Result<ApiJson<NewRequest>, ApiError>,
) -> Result<Response, Failure> {
    let client = signer.idp().service_bearer(&headers, SCOPE_REQUEST).await?;
    let ApiJson(new) = body?;
    let request = signer.create_request(&client, new).await?;
    let body = status_json(&signer, &client, &request).await?;
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/sign/v1/requests/{}", request.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/sign/v1/requests/{id}",
    tag = "signing",
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request's status and, once signed, the signed outputs", body = Object),
        (status = 401, description = "No valid bearer token (`invalid_token`), or a wrong or stale activation", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the credential is not the caller's", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn status(
    State(signer): State<Signer>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let client = signer.idp().service_bearer(&headers, SCOPE_REQUEST).await?;
    let request = signer.request_for_client(&client.client_id, &id).await?;
    Ok(Json(status_json(&signer, &client, &request).await?).into_response())
}
