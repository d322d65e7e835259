//! HTTP pieces every crate's `http` module shares: the JSON API error, body extraction with
//! clear rejections, the client's address, and the security headers of every response.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An API error: `{"error": "<code>", "error_description": "<text>"}` with its status.
///
/// The description is for the client and says what to fix; internal detail never goes out:
/// it is logged with the request instead.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A short machine-readable code.
    pub code: &'static str,
    /// A sentence for the developer calling the API.
    pub description: String,
    /// For 401: the `WWW-Authenticate` challenge.
    pub challenge: Option<String>,
}

/// The body of every API error, for the OpenAPI description (the handlers send
/// [`ApiError`], which serialises to exactly these two fields).
#[derive(utoipa::ToSchema)]
#[schema(as = ApiError)]
pub struct ApiErrorBody {
    /// A short machine-readable code, such as `invalid_request` or `invalid_token`.
    pub error: String,
    /// A sentence for the developer calling the API.
    pub error_description: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            challenge: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 with a `Bearer` challenge (RFC 6750).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        let challenge = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            description.replace('"', "'")
        );
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            description,
            challenge: Some(challenge),
        }
    }

    /// 403 `insufficient_scope` or another refusal.
    pub fn forbidden(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, description)
    }

    /// 404 `not_found`.
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    /// 409 `conflict`.
    pub fn conflict(description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", description)
    }

    /// 503: the database or another dependency is not answering; the client may retry.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the service is temporarily unavailable; retry shortly",
        )
    }

    /// 500, logging `detail` (never sent).
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "an internal error occurred; it has been logged",
        )
    }
}

/// Whether a database error means the database is unreachable or cannot store anything
/// right now (so 503, not 500).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    ) || matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
        || is_storage_refusal(err)
}

/// Whether the database refused a write because its storage is full, read-only or failing:
/// an operational fault that the client can only wait out, while reads go on working.
fn is_storage_refusal(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if let Some(sqlite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        // The primary result code is the low byte of the extended one: SQLITE_READONLY (8),
        // SQLITE_IOERR (10) or SQLITE_FULL (13).
        return sqlx::error::DatabaseError::code(sqlite)
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 8 | 10 | 13));
    }
    // PostgreSQL: class 53 (insufficient resources, such as disk_full) and a read-only
    // transaction (25006, a standby or `default_transaction_read_only`).
    db.code()
        .is_some_and(|c| c.starts_with("53") || c == "25006")
}

/// Whether the database refused text the client sent (PostgreSQL cannot store NUL, and
/// refuses byte sequences invalid in its encoding): the client's mistake, so a 400.
pub fn is_unstorable_text(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "22021" || c == "22P05"))
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_unstorable_text(&err) {
            Self::invalid_request(
                "the request contains a character that cannot be stored (such as NUL)",
            )
        } else if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::unavailable()
        } else {
            Self::internal(err)
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            error_description: &self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A JSON body whose rejection is an [`ApiError`] saying what is wrong with the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send the body as JSON with Content-Type: application/json",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::invalid_request(format!("the body is not valid JSON: {}", e.body_text()))
        }
        JsonRejection::JsonDataError(e) => ApiError::invalid_request(format!(
            "the JSON body does not have the expected shape: {}",
            e.body_text()
        )),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the body is larger than this server accepts",
        ),
        other => ApiError::invalid_request(other.body_text()),
    }
}

/// Maps a form rejection to a clear 4xx.
pub fn form_rejection(rejection: FormRejection) -> ApiError {
    match rejection.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send the body as application/x-www-form-urlencoded",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the body is larger than this server accepts",
        ),
        _ => ApiError::invalid_request(rejection.body_text()),
    }
}

/// The value of cookie `name` in a request, if present and not empty.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Which proxies may tell us the client's address; set once by the server at start.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<IpAddr>);

/// The address of the client, taking `X-Forwarded-For` only from trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// Finds the client's address from the peer address and the forwarded chain.
    pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let Some(peer) = peer else {
            return Self(IpAddr::from([0, 0, 0, 0]));
        };
        if !trusted.0.contains(&peer) {
            return Self(peer);
        }
        // Walk the chain from the nearest hop; the first address that is not a trusted proxy
        // is the client. Anything further left could have been written by the client itself.
        let forwarded: Vec<IpAddr> = headers
            .get_all(HeaderName::from_static("x-forwarded-for"))
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        for addr in forwarded.iter().rev() {
            if !trusted.0.contains(addr) {
                return Self(*addr);
            }
        }
        Self(peer)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let trusted = parts
            .extensions
            .get::<TrustedProxies>()
            .cloned()
            .unwrap_or_default();
        Ok(Self::resolve(peer, &parts.headers, &trusted))
    }
}

/// The content security policy of every page: no inline script, no external anything.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers every response carries; HSTS only when served over TLS.
pub fn apply_security_headers(headers: &mut HeaderMap, https: bool) {
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers
            .entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(
        headers,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if https {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = TrustedProxies(vec![proxy]);
        let client = ClientAddr::resolve(Some(proxy), &headers("1.2.3.4, 10.0.0.1"), &trusted);
        assert_eq!(client.0, "1.2.3.4".parse::<IpAddr>().unwrap());
        // A spoofed header from an untrusted peer is ignored.
        let direct: IpAddr = "5.6.7.8".parse().unwrap();
        let client = ClientAddr::resolve(Some(direct), &headers("1.2.3.4"), &trusted);
        assert_eq!(client.0, direct);
        // Only the hop the proxy saw counts, not what the client prepended.
        let client = ClientAddr::resolve(Some(proxy), &headers("9.9.9.9, 1.2.3.4"), &trusted);
        assert_eq!(client.0, "1.2.3.4".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("clave_browser_x=no; clave_browser=yes; other=1"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("late=2"));
        assert_eq!(cookie(&headers, "clave_browser"), Some("yes"));
        assert_eq!(cookie(&headers, "late"), Some("2"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn hsts_only_over_tls() {
        let mut h = HeaderMap::new();
        apply_security_headers(&mut h, false);
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        assert!(h.get(header::CONTENT_SECURITY_POLICY).is_some());
        let mut h = HeaderMap::new();
        apply_security_headers(&mut h, true);
        assert!(h.get(header::STRICT_TRANSPORT_SECURITY).is_some());
    }

    /// SQLite's own refusals, produced for real: a database at its page limit is full, one
    /// opened read-only refuses writes. Both are a 503, not a 500.
    #[tokio::test]
    async fn storage_refusals_are_unavailable_not_internal() {
        use sqlx::{Connection, Executor};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
                .await
                .unwrap();
        conn.execute("CREATE TABLE t (v BLOB); PRAGMA max_page_count = 4;")
            .await
            .unwrap();
        let full = sqlx::query("INSERT INTO t (v) VALUES (zeroblob(100000))")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(is_unavailable(&full), "{full}");
        assert_eq!(ApiError::from(full).status, StatusCode::SERVICE_UNAVAILABLE);
        conn.close().await.unwrap();

        let mut read_only =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
                .await
                .unwrap();
        let refused = sqlx::query("INSERT INTO t (v) VALUES (1)")
            .execute(&mut read_only)
            .await
            .unwrap_err();
        assert!(is_unavailable(&refused), "{refused}");
        // A mistake in a query is still an internal error.
        let mistake = sqlx::query("SELECT nothing FROM nowhere")
            .execute(&mut read_only)
            .await
            .unwrap_err();
        assert!(!is_unavailable(&mistake), "{mistake}");
    }
}
