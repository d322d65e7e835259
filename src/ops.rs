//! Operational endpoints (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`) and the layers every request
//! passes through: request ids, tracing, metrics, security headers, body limit, timeout.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clave_common::Db;
use clave_common::http::{ApiError, TrustedProxies, apply_security_headers};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

const REQUEST_ID: &str = "x-request-id";

/// The Prometheus recorder is process-wide by the `metrics` crate's design; install it once.
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ])
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

/// How often the recorder folds recorded histogram samples into its buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Keeps the metrics recorder's memory bounded until `stop` turns true: a recorder installed
/// without its own HTTP listener holds every histogram sample until upkeep folds it into the
/// buckets, so without this the process grows with every request between two scrapes.
pub(crate) async fn run_metrics_upkeep(mut stop: tokio::sync::watch::Receiver<bool>) {
    let Some(handle) = prometheus() else {
        return;
    };
    let mut ticks = tokio::time::interval(METRICS_UPKEEP);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => handle.run_upkeep(),
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
}

pub(crate) fn routes(db: Db) -> Router {
    let _ = prometheus();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .with_state(db)
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process is up: `{\"status\": \"ok\"}`", body = Object))
)]
pub(crate) async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers and its schema is current: `{\"status\": \"ready\"}`", body = Object),
        (status = 503, description = "Not ready: `{\"status\": \"unready\", \"reason\": …}`", body = Object),
    )
)]
pub(crate) async fn readyz(State(db): State<Db>) -> Response {
    match tokio::time::timeout(Duration::from_secs(3), db.is_ready()).await {
        Ok(Ok(true)) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Ok(Ok(false)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({
                "status": "unready",
                "reason": "the database schema is not at this release's version; run `clave migrate`"
            })),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unready", "reason": "the database is not reachable"})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "unready", "reason": "the database did not answer in time"})),
        )
            .into_response(),
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Prometheus metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 503, description = "The metrics recorder is not installed", body = clave_common::http::ApiErrorBody),
    )
)]
pub(crate) async fn metrics_text() -> Response {
    match prometheus() {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            handle.render(),
        )
            .into_response(),
        None => ApiError::unavailable().into_response(),
    }
}

/// An unknown path: a browser asking for a page gets the portal's "page not found" in its
/// language; every API client gets the JSON error.
pub(crate) async fn not_found(uri: axum::http::Uri, headers: axum::http::HeaderMap) -> Response {
    let api = [
        "/api/",
        "/oauth2/",
        "/.well-known/",
        "/csc/",
        "/metrics",
        "/healthz",
        "/readyz",
    ]
    .iter()
    .any(|prefix| uri.path().starts_with(prefix));
    let wants_page = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page && !api {
        let lang = clave_portal::i18n::Lang::choose(None, &headers, None);
        return clave_portal::error::PageError::new(
            clave_portal::error::PageErrorKind::NotFound,
            lang,
        )
        .into_response();
    }
    ApiError::not_found("no such resource; see /.well-known/openid-configuration for the endpoints")
        .into_response()
}

async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("clave_http_requests_total", &labels).increment(1);
    metrics::histogram!("clave_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

async fn security_headers(https: bool, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    apply_security_headers(response.headers_mut(), https);
    response
}

async fn timeout(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the request took too long; retry shortly",
        )
        .into_response(),
    }
}

/// Wraps `router` in the layers every request passes through.
pub(crate) fn with_layers(
    router: Router,
    config: &clave_common::Config,
    trusted: TrustedProxies,
) -> Router {
    let https = config.is_https();
    let limit = Duration::from_secs(config.server.request_timeout_secs.max(1));
    let max_body = config.server.max_body_bytes;
    let request_id = axum::http::HeaderName::from_static(REQUEST_ID);
    router
        .layer(middleware::from_fn(move |req, next| timeout(limit, req, next)))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(axum::extract::Extension(trusted))
        .layer(middleware::from_fn(track))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(https, req, next)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<Body>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
