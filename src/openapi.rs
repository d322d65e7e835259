//! The OpenAPI 3.1 description of every JSON API, assembled from the annotations on each
//! crate's handlers and served at `GET /openapi.json`.
//!
//! Browser pages (the portal, the interactive login, and the front-channel OAuth endpoints
//! that answer with redirects and pages) are not described; `tests/it/openapi.rs` lists them
//! and fails when a route is in neither the document nor that list.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use clave_common::http::ApiError;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The operational endpoints and the description itself; the domain crates' descriptions are
/// merged in by [`document`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "clave",
        description = "A national digital-identity server: OpenID Connect provider, data wallet, citizen mailbox, remote signing (CSC API v2) and portal. This document describes its JSON APIs; error bodies are `{\"error\", \"error_description\"}`."
    ),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics_text,
        openapi_json
    ),
    components(schemas(clave_common::http::ApiErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oidc", description = "OpenID Connect and OAuth 2.0 endpoints for relying parties"),
        (name = "claveunica", description = "Drop-in compatibility with ClaveÚnica's endpoints"),
        (name = "wallet", description = "The attribute catalogue"),
        (name = "wallet-sources", description = "Source agencies publish attributes (`wallet:publish`, client credentials)"),
        (name = "wallet-agencies", description = "Services read consented attributes once-only (`wallet:read`, client credentials)"),
        (name = "wallet-citizen", description = "The citizen's own data, permissions and access log (`wallet`, a citizen's token)"),
        (name = "mailbox-senders", description = "Agencies send notices (`mailbox:send`, client credentials)"),
        (name = "mailbox-citizen", description = "The citizen's notices (`mailbox`, a citizen's token)"),
        (name = "csc", description = "Cloud Signature Consortium API v2 (`sign`, a citizen's token)"),
        (name = "signing", description = "Signature requests (`sign:request`, client credentials) and verification"),
        (name = "pki", description = "Time-stamps (RFC 3161), CA certificates and CRLs"),
        (name = "operations", description = "Health, readiness, metrics and this description"),
    )
)]
struct ServerDoc;

/// Declares the two ways of authenticating that the operations name: a bearer access token
/// from the token endpoint, and HTTP Basic client authentication at the token endpoint (whose
/// alternative, `client_id` and `client_secret` in the form, is part of the request bodies).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from /oauth2/token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "client_secret_basic: the client id and secret (RFC 6749 §2.3.1)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The whole description: the server's own operations and every crate's API.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ServerDoc::openapi();
    doc.merge(clave_idp::http::ApiDoc::openapi());
    doc.merge(clave_wallet::http::ApiDoc::openapi());
    doc.merge(clave_wallet::corrections::ApiDoc::openapi());
    doc.merge(clave_wallet::mailbox::http::ApiDoc::openapi());
    doc.merge(clave_signer::http::ApiDoc::openapi());
    doc.merge(clave_signer::requests::http::ApiDoc::openapi());
    doc
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
pub(crate) async fn openapi_json() -> Response {
    match document().to_json() {
        Ok(json) => {
            let mut response = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                json,
            )
                .into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}
