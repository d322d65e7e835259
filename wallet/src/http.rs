//! The wallet's HTTP API under `/api/wallet/v1/`: the source API (`wallet:publish`), the
//! once-only agency API (`wallet:read`), and the citizen's own API (`wallet`). Every route
//! takes an OAuth 2.0 bearer token from clave's token endpoint.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use clave_common::http::{ApiError, ApiJson};
use clave_idp::IdpError;
use clave_idp::clients::Client;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::access_log;
use crate::publish::{ItemError, Publication};
use crate::release::ReadError;
use crate::value::rfc3339;
use crate::{Wallet, WalletError};

/// The scope of the source API.
pub const SCOPE_PUBLISH: &str = "wallet:publish";
/// The scope of the once-only agency API.
pub const SCOPE_READ: &str = "wallet:read";
/// The scope of the citizen's own API.
pub const SCOPE_CITIZEN: &str = "wallet";

/// The wallet's routes.
pub fn router(wallet: Wallet) -> Router {
    Router::new()
        .route("/api/wallet/v1/catalogue", get(catalogue))
        .route(
            "/api/wallet/v1/citizens/{citizen}/attributes/{name}",
            put(publish_one),
        )
        .route(
            "/api/wallet/v1/attributes/batch",
            axum::routing::post(publish_batch),
        )
        .route(
            "/api/wallet/v1/citizens/{citizen}/attributes",
            get(agency_read),
        )
        .route("/api/wallet/v1/me/attributes", get(my_attributes))
        .route("/api/wallet/v1/me/attributes/{name}", put(assert_mine))
        .route("/api/wallet/v1/me/consents", get(my_consents))
        .route(
            "/api/wallet/v1/me/consents/{id}",
            get(my_consent).delete(revoke_mine),
        )
        .route("/api/wallet/v1/me/access-log", get(my_access_log))
        .with_state(wallet)
}

/// The OpenAPI description of the wallet's API.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        catalogue,
        publish_one,
        publish_batch,
        agency_read,
        my_attributes,
        assert_mine,
        my_consents,
        my_consent,
        revoke_mine,
        my_access_log,
    ),
    components(schemas(
        OneValue,
        Batch,
        MyValue,
        docs::AttributeList,
        docs::Consent,
        docs::ConsentList,
        clave_common::http::ApiErrorBody,
    ))
)]
pub struct ApiDoc;

/// Shapes of the wallet's answers, for the OpenAPI description only (the handlers build them
/// with `json!`).
pub mod docs {
    use utoipa::ToSchema;

    /// A list of attributes: the catalogue's definitions, or the citizen's values.
    #[derive(ToSchema)]
    pub struct AttributeList {
        /// The attributes.
        #[schema(value_type = Vec<Object>)]
        pub attributes: Vec<String>,
    }

    /// A permission the citizen granted a service.
    #[derive(ToSchema)]
    pub struct Consent {
        /// Its id.
        pub id: String,
        /// The service.
        pub client_id: String,
        /// The service's name.
        pub client_name: String,
        /// The attributes it releases.
        pub attributes: Vec<String>,
        /// Why the service reads them.
        pub purpose: String,
        /// The legal basis of the reading.
        pub legal_basis: Option<String>,
        /// How the service reads: at login only, or later as well.
        pub mode: String,
        /// When it was granted (RFC 3339).
        pub granted_at: String,
        /// When it expires (RFC 3339).
        pub expires_at: String,
        /// `active`, `expired`, `revoked`, …
        pub status: String,
        /// When it ended (RFC 3339).
        pub ended_at: Option<String>,
        /// The signed receipt.
        pub receipt: String,
    }

    /// The citizen's permissions.
    #[derive(ToSchema)]
    pub struct ConsentList {
        /// The permissions.
        pub consents: Vec<Consent>,
    }
}

/// An API failure: the JSON error with its status.
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

impl From<WalletError> for Failure {
    fn from(e: WalletError) -> Self {
        Self(match e {
            WalletError::NotFound(text) => ApiError::not_found(text),
            WalletError::Invalid(text) => ApiError::invalid_request(text),
            WalletError::Forbidden(text) => ApiError::forbidden("forbidden", text),
            WalletError::Conflict(text) => ApiError::conflict(text),
            WalletError::Db(e) => ApiError::from(e),
            WalletError::Idp(e) => idp_failure(e),
            WalletError::Internal(text) => ApiError::internal(text),
        })
    }
}

pub(crate) fn idp_failure(e: IdpError) -> ApiError {
    match e {
        IdpError::Db(e) => ApiError::from(e),
        IdpError::Invalid(text) => ApiError::invalid_request(text),
        IdpError::Conflict(text) => ApiError::conflict(text),
        IdpError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
        other => ApiError::internal(other),
    }
}

pub(crate) use clave_idp::bearer::Bearer as Caller;

/// Validates the bearer token and requires `scope`.
pub(crate) async fn caller(
    wallet: &Wallet,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Caller, Failure> {
    Ok(wallet.idp().bearer(headers, scope).await?)
}

/// A service calling for itself (a client-credentials token, not a citizen's).
pub(crate) async fn service(
    wallet: &Wallet,
    headers: &HeaderMap,
    scope: &str,
) -> Result<Client, Failure> {
    Ok(wallet.idp().service_bearer(headers, scope).await?)
}

/// A citizen, through a token issued to some service with the `wallet` scope.
async fn citizen(wallet: &Wallet, headers: &HeaderMap) -> Result<String, Failure> {
    caller(wallet, headers, SCOPE_CITIZEN)
        .await?
        .account_id
        .ok_or_else(|| {
            ApiError::forbidden(
                "invalid_token",
                "this API is the citizen's: use a token from a citizen's login",
            )
            .into()
        })
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/catalogue",
    tag = "wallet",
    responses(
        (status = 200, description = "The attributes the wallet knows: names, labels, types, sources", body = docs::AttributeList),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    )
)]
async fn catalogue(State(wallet): State<Wallet>) -> Result<Response, Failure> {
    let list = wallet.catalogue().list().await?;
    Ok(Json(json!({ "attributes": list })).into_response())
}

/// The body of a single publication.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OneValue {
    /// The value, of the attribute's type.
    #[schema(value_type = Value)]
    value: Value,
    #[serde(default)]
    source_reference: Option<String>,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/wallet/v1/citizens/{citizen}/attributes/{name}",
    tag = "wallet-sources",
    params(
        ("citizen" = String, Path, description = "The citizen's RUN"),
        ("name" = String, Path, description = "The attribute's name in the catalogue"),
    ),
    request_body = OneValue,
    responses(
        (status = 200, description = "The value was already current, or replaced an older one", body = Object),
        (status = 201, description = "A new value", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 422, description = "A value that does not fit the attribute or the request", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn publish_one(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path((citizen, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<OneValue>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_PUBLISH).await?;
    let item = Publication {
        run: citizen,
        attribute: name,
        value: body.value,
        source_reference: body.source_reference,
        valid_from: body.valid_from,
        valid_until: body.valid_until,
    };
    let report = wallet.publish(&client.client_id, vec![Ok(item)]).await?;
    let Some(result) = report.results.into_iter().next() else {
        return Err(ApiError::internal("a publication gave no result").into());
    };
    if let (Some(error), Some(text)) = (result.error, result.error_description.clone()) {
        let (status, code) = match error {
            ItemError::InvalidRun => (StatusCode::BAD_REQUEST, "invalid_run"),
            ItemError::UnknownAttribute => (StatusCode::NOT_FOUND, "unknown_attribute"),
            ItemError::NotAuthoritative => (StatusCode::FORBIDDEN, "not_authoritative"),
            ItemError::InvalidValue | ItemError::Malformed => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value")
            }
            ItemError::UnknownCitizen => (StatusCode::NOT_FOUND, "unknown_citizen"),
        };
        return Err(ApiError::new(status, code, text).into());
    }
    let status = if result.status == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result)).into_response())
}

/// The body of a batch publication.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// Publications: `run`, `attribute`, `value`, and optionally `source_reference`,
    /// `valid_from`, `valid_until`.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
}

#[utoipa::path(
    post,
    path = "/api/wallet/v1/attributes/batch",
    tag = "wallet-sources",
    request_body = Batch,
    responses(
        (status = 200, description = "One result per item, in order", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 413, description = "Too large", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn publish_batch(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Batch>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_PUBLISH).await?;
    let max = wallet.idp().ctx().config.wallet.batch_max_items;
    if body.items.is_empty() {
        return Err(ApiError::invalid_request("the batch has no `items`").into());
    }
    if body.items.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!("a batch carries at most {max} items; split it"),
        )
        .into());
    }
    let items = body
        .items
        .into_iter()
        .map(|v| {
            serde_json::from_value::<Publication>(v)
                .map_err(|e| format!("not a publication ({e}); expected run, attribute, value"))
        })
        .collect();
    let report = wallet.publish(&client.client_id, items).await?;
    Ok(Json(report).into_response())
}

/// `?names=a,b`.
#[derive(Debug, Deserialize)]
struct Names {
    names: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/citizens/{citizen}/attributes",
    tag = "wallet-agencies",
    params(
        ("citizen" = String, Path, description = "The citizen's pairwise subject for the calling client"),
        ("names" = String, Query, description = "The attributes to read, comma-separated (1 to 50)"),
    ),
    responses(
        (status = 200, description = "`sub` and the consented attributes, as claims", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn agency_read(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(subject): Path<String>,
    query: Result<Query<Names>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let client = service(&wallet, &headers, SCOPE_READ).await?;
    let Ok(Query(Names { names: Some(names) })) = query else {
        return Err(ApiError::invalid_request(
            "name the attributes to read: `?names=given_names,birthdate`",
        )
        .into());
    };
    let mut list: Vec<String> = Vec::new();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !list.iter().any(|n| n == name) {
            list.push(name.to_owned());
        }
    }
    if list.is_empty() || list.len() > 50 {
        return Err(
            ApiError::invalid_request("name between 1 and 50 attributes in `names`").into(),
        );
    }
    let account_id = wallet
        .idp()
        .clients()
        .account_for_subject(&client, &subject)
        .await
        .map_err(idp_failure)?
        .ok_or_else(|| ApiError::not_found("no citizen is known to this client by that subject"))?;
    match wallet.agency_read(&client, &account_id, &list).await {
        Ok(claims) => {
            let mut body = serde_json::Map::new();
            body.insert("sub".into(), json!(subject));
            body.extend(claims);
            Ok(Json(Value::Object(body)).into_response())
        }
        Err(ReadError::ConsentRequired(missing)) => {
            let body = json!({
                "error": "consent_required",
                "error_description": format!(
                    "the citizen has not consented to release {} to this service; ask through a login with authorization_details",
                    missing.join(", ")
                ),
                "missing": missing,
            });
            Ok((StatusCode::FORBIDDEN, Json(body)).into_response())
        }
        Err(ReadError::Failed(e)) => Err(e.into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/me/attributes",
    tag = "wallet-citizen",
    responses(
        (status = 200, description = "The citizen's current values with their provenance", body = docs::AttributeList),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_attributes(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let catalogue = wallet.catalogue().list().await?;
    let values = wallet.values().current(&account_id).await?;
    let names = wallet.values().source_names(&values).await?;
    let now = wallet.now();
    let list: Vec<Value> = values
        .iter()
        .map(|v| {
            let def = catalogue.iter().find(|d| d.name == v.attribute);
            json!({
                "name": v.attribute,
                "label_es": def.map(|d| d.label_es.as_str()),
                "label_en": def.map(|d| d.label_en.as_str()),
                "value": v.value,
                "source": v.source,
                "source_name": names.get(&v.source),
                "verified": v.verified,
                "updated_at": rfc3339(v.recorded_at),
                "valid_from": v.valid_from.map(rfc3339),
                "valid_until": v.valid_until.map(rfc3339),
                "current": v.holds_at(now),
                "self_asserted": def.is_some_and(|d| d.self_asserted),
            })
        })
        .collect();
    Ok(Json(json!({ "attributes": list })).into_response())
}

/// The body of a self-asserted value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MyValue {
    /// The value, of the attribute's type.
    #[schema(value_type = Value)]
    value: Value,
}

#[utoipa::path(
    put,
    path = "/api/wallet/v1/me/attributes/{name}",
    tag = "wallet-citizen",
    params(("name" = String, Path, description = "A self-asserted attribute's name")),
    request_body = MyValue,
    responses(
        (status = 200, description = "Recorded as self-asserted", body = Object),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 409, description = "A conflict with the current state", body = clave_common::http::ApiErrorBody),
        (status = 422, description = "A value that does not fit the attribute or the request", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn assert_mine(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<MyValue>,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let recorded = wallet.assert_value(&account_id, &name, &body.value).await?;
    Ok(Json(json!({ "status": recorded, "verified": false })).into_response())
}

fn consent_json(consent: &crate::consent::Consent, now: i64) -> Value {
    let status = if consent.status == "active" && now >= consent.expires_at {
        "expired"
    } else {
        consent.status.as_str()
    };
    json!({
        "id": consent.id,
        "client_id": consent.client_id,
        "client_name": consent.client_name,
        "attributes": consent.attributes,
        "purpose": consent.purpose,
        "legal_basis": consent.legal_basis,
        "mode": consent.mode,
        "granted_at": rfc3339(consent.granted_at),
        "expires_at": rfc3339(consent.expires_at),
        "status": status,
        "ended_at": consent.ended_at.map(rfc3339),
        "receipt": consent.receipt,
    })
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/me/consents",
    tag = "wallet-citizen",
    responses(
        (status = 200, description = "The citizen's permissions, every status", body = docs::ConsentList),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_consents(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let now = wallet.now();
    let list: Vec<Value> = wallet
        .consents()
        .of_citizen(&account_id)
        .await?
        .iter()
        .map(|c| consent_json(c, now))
        .collect();
    Ok(Json(json!({ "consents": list })).into_response())
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/me/consents/{id}",
    tag = "wallet-citizen",
    params(("id" = String, Path, description = "The permission's id")),
    responses(
        (status = 200, description = "One permission", body = docs::Consent),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_consent(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let consent = wallet
        .consents()
        .get(&id)
        .await?
        .filter(|c| c.account_id == account_id)
        .ok_or_else(|| ApiError::not_found(format!("no consent {id:?} of yours")))?;
    Ok(Json(consent_json(&consent, wallet.now())).into_response())
}

#[utoipa::path(
    delete,
    path = "/api/wallet/v1/me/consents/{id}",
    tag = "wallet-citizen",
    params(("id" = String, Path, description = "The permission's id")),
    responses(
        (status = 200, description = "The permission, now revoked", body = docs::Consent),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 404, description = "No such resource", body = clave_common::http::ApiErrorBody),
        (status = 409, description = "A conflict with the current state", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn revoke_mine(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let consent = wallet.consents().revoke(&account_id, &id).await?;
    Ok(Json(consent_json(&consent, wallet.now())).into_response())
}

/// `?after=&limit=&format=`.
#[derive(Debug, Deserialize)]
struct LogQuery {
    after: Option<i64>,
    limit: Option<u32>,
    format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/wallet/v1/me/access-log",
    tag = "wallet-citizen",
    params(
        ("after" = Option<i64>, Query, description = "The `next` of the previous page"),
        ("limit" = Option<u32>, Query, description = "Entries per page"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv`"),
    ),
    responses(
        (status = 200, description = "A page of the citizen's access log (newest first), or all of it as CSV", content(
            (Object = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "A malformed request", body = clave_common::http::ApiErrorBody),
        (status = 401, description = "No valid bearer token (`invalid_token`)", body = clave_common::http::ApiErrorBody),
        (status = 403, description = "The token lacks the scope, or the caller may not do this", body = clave_common::http::ApiErrorBody),
        (status = 503, description = "The database is not answering", body = clave_common::http::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
async fn my_access_log(
    State(wallet): State<Wallet>,
    headers: HeaderMap,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let account_id = citizen(&wallet, &headers).await?;
    let Ok(Query(query)) = query else {
        return Err(ApiError::invalid_request(
            "`after` must be a number from a previous page's `next`, and `limit` a number",
        )
        .into());
    };
    match query.format.as_deref() {
        None | Some("json") => {
            let page = wallet
                .access_log(&account_id, query.after, query.limit.unwrap_or(100))
                .await?;
            Ok(Json(page).into_response())
        }
        Some("csv") => {
            let entries = wallet.access_log_export(&account_id).await?;
            let csv = access_log::to_csv(&entries);
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"clave-access-log.csv\"",
                    ),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                csv,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::invalid_request(format!(
            "unknown format {other:?}: use json or csv"
        ))
        .into()),
    }
}
