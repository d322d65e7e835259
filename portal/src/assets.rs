//! The portal's static files, compiled into the binary: no file system lookups at run time,
//! and every node serves the same bytes.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::PortalState;

/// How long browsers may keep a static file, in seconds.
const MAX_AGE: &str = "public, max-age=3600";

/// One embedded file: its name under `/static/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "clave.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../static/clave.css"),
    },
    Asset {
        name: "form-post.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/form-post.js"),
    },
    Asset {
        name: "passkey.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/passkey.js"),
    },
    Asset {
        name: "sign-passkey.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/sign-passkey.js"),
    },
];

/// `GET /static/{name}`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/static/{name}", get(serve))
}

async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static(MAX_AGE)),
            ],
            asset.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
