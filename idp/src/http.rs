//! The idp's HTTP surface: the token service's endpoints merged with the browser flow's.

use axum::Router;
use axum::routing::{get, post};

use crate::Idp;
use crate::oidc::{discovery, flow, introspect, jwks, revoke, token};

/// Every OpenID Connect and OAuth endpoint, ready to merge into the server's router.
pub fn router(idp: Idp) -> Router {
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/oauth2/jwks", get(jwks::jwks))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2/revoke", post(revoke::revoke))
        .merge(flow::routes())
        .with_state(idp)
}

/// The OpenAPI description of the idp's JSON endpoints. The front-channel endpoints
/// (`/oauth2/authorize`, its `resume`, `/oauth2/logout`, `/openid/authorize/`) answer browsers
/// with redirects and pages, so they are not in it.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        discovery::openid_configuration,
        jwks::jwks,
        token::token,
        introspect::introspect,
        revoke::revoke,
        flow::par::push,
        flow::userinfo::userinfo_get,
        flow::userinfo::userinfo_post,
        flow::compat::token,
        flow::compat::userinfo,
    ),
    components(schemas(
        docs::OAuthErrorBody,
        docs::TokenRequest,
        docs::GrantType,
        docs::TokenTypeHint,
        docs::TokenAnswer,
        docs::TokenForm,
        docs::Introspection,
        docs::PushedAnswer,
        docs::Jwks,
        docs::RolUnico,
        docs::CompatName,
        docs::CompatUserinfo,
    ))
)]
pub struct ApiDoc;

/// Shapes of the idp's request and response bodies, for the OpenAPI description only: the
/// handlers read raw forms and build their answers from the domain types.
pub mod docs {
    use utoipa::ToSchema;

    /// An OAuth 2.0 error (RFC 6749 §5.2, RFC 6750 §3.1).
    #[derive(ToSchema)]
    #[schema(as = OAuthError)]
    pub struct OAuthErrorBody {
        /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
        /// `unsupported_grant_type`, `invalid_scope`, `invalid_token`, `server_error`,
        /// `temporarily_unavailable`, …
        pub error: String,
        /// What to fix.
        pub error_description: String,
    }

    /// A token request (RFC 6749 §4.1.3, §4.4.2, §6). The client authenticates with HTTP
    /// Basic (`client_secret_basic`), with `client_id` and `client_secret` in the form
    /// (`client_secret_post`), or, for a public client, with `client_id` and PKCE.
    #[derive(ToSchema)]
    pub struct TokenRequest {
        /// The grant.
        pub grant_type: GrantType,
        /// The authorization code (`authorization_code`).
        pub code: Option<String>,
        /// The redirect URI of the authorization request (`authorization_code`).
        pub redirect_uri: Option<String>,
        /// The PKCE verifier (`authorization_code`).
        pub code_verifier: Option<String>,
        /// The refresh token (`refresh_token`).
        pub refresh_token: Option<String>,
        /// The scopes asked for, space-separated.
        pub scope: Option<String>,
        /// The client (`client_secret_post`, public clients).
        pub client_id: Option<String>,
        /// The client's secret (`client_secret_post`).
        pub client_secret: Option<String>,
    }

    /// The grants the token endpoint serves.
    #[derive(ToSchema)]
    #[allow(non_camel_case_types)] // The wire names of RFC 6749.
    pub enum GrantType {
        /// Redeems an authorization code.
        authorization_code,
        /// Rotates a refresh token.
        refresh_token,
        /// A service's token for itself.
        client_credentials,
    }

    /// The kinds of token a client may name when it introspects or revokes.
    #[derive(ToSchema)]
    #[allow(non_camel_case_types)] // The wire names of RFC 7009 and RFC 7662.
    pub enum TokenTypeHint {
        /// An access token.
        access_token,
        /// A refresh token.
        refresh_token,
    }

    /// A successful token response (RFC 6749 §5.1).
    #[derive(ToSchema)]
    #[schema(as = TokenResponse)]
    pub struct TokenAnswer {
        /// A signed JWT access token.
        pub access_token: String,
        /// Always `Bearer`.
        pub token_type: String,
        /// Seconds until the access token expires.
        pub expires_in: i64,
        /// A refresh token, when the grant gives one.
        pub refresh_token: Option<String>,
        /// An ID token, when the scope holds `openid`.
        pub id_token: Option<String>,
        /// The granted scopes, space-separated.
        pub scope: Option<String>,
    }

    /// A request about one token (introspection, RFC 7662 §2.1; revocation, RFC 7009 §2.1),
    /// from an authenticated client.
    #[derive(ToSchema)]
    pub struct TokenForm {
        /// The token.
        pub token: String,
        /// What kind of token it is, as a hint.
        pub token_type_hint: Option<TokenTypeHint>,
        /// The client (`client_secret_post`, public clients).
        pub client_id: Option<String>,
        /// The client's secret (`client_secret_post`).
        pub client_secret: Option<String>,
    }

    /// An introspection answer (RFC 7662 §2.2): only `{"active": false}` for a token that is
    /// not active or not the caller's; otherwise the token's claims as well.
    #[derive(ToSchema)]
    #[schema(as = Introspection)]
    pub struct Introspection {
        /// Whether the token is active.
        pub active: bool,
        /// The granted scopes, space-separated.
        pub scope: Option<String>,
        /// The client the token was issued to.
        pub client_id: Option<String>,
        /// The subject.
        pub sub: Option<String>,
        /// Expiry, seconds since the epoch.
        pub exp: Option<i64>,
        /// Issue time, seconds since the epoch.
        pub iat: Option<i64>,
        /// `Bearer` or `refresh_token`.
        pub token_type: Option<String>,
    }

    /// A pushed authorization request's handle (RFC 9126 §2.2).
    #[derive(ToSchema)]
    #[schema(as = PushedAuthorizationResponse)]
    pub struct PushedAnswer {
        /// The `request_uri` to send to `/oauth2/authorize`.
        pub request_uri: String,
        /// Seconds it stays valid.
        pub expires_in: i64,
    }

    /// The provider's public signing keys (RFC 7517 §5).
    #[derive(ToSchema)]
    pub struct Jwks {
        /// The JSON Web Keys.
        #[schema(value_type = Vec<Object>)]
        pub keys: Vec<String>,
    }

    /// ClaveÚnica's RUN object.
    #[derive(ToSchema)]
    #[allow(non_snake_case)] // ClaveÚnica's field names, as its integrations read them.
    pub struct RolUnico {
        /// The RUN without its check digit.
        pub numero: i64,
        /// The check digit, `0`–`9` or `K`.
        pub DV: String,
        /// Always `RUN`.
        pub tipo: String,
    }

    /// ClaveÚnica's name object.
    #[derive(ToSchema)]
    pub struct CompatName {
        /// The given names.
        pub nombres: Vec<String>,
        /// The surnames, keeping their particles.
        pub apellidos: Vec<String>,
    }

    /// The citizen in ClaveÚnica's shape: `RolUnico` with the `run` scope, `name` with `name`
    /// or `profile`.
    #[derive(ToSchema)]
    #[allow(non_snake_case)] // ClaveÚnica's field names, as its integrations read them.
    pub struct CompatUserinfo {
        /// The pairwise subject.
        pub sub: String,
        /// The RUN.
        pub RolUnico: Option<RolUnico>,
        /// The names.
        pub name: Option<CompatName>,
    }
}
