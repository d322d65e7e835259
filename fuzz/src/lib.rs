//! What the fuzz targets share: one clave application on a temporary SQLite database, built
//! once per fuzzing process, and a way to send it a request as a client would.
//!
//! A target treats a panic, a hang and a 5xx other than 503 as a finding: untrusted input must
//! get a clear 4xx, never a server error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clave::App;
use clave_common::Config;
use clave_common::config::Secret;
use clave_idp::clients::NewClient;
use tower::ServiceExt;

/// The registered redirect URI of the fuzzing clients.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// The application and the clients the targets talk as.
pub struct Harness {
    /// Runs the application's async code.
    pub runtime: tokio::runtime::Runtime,
    /// The application, for targets that call a service directly.
    pub app: App,
    router: Router,
    /// A confidential web client.
    pub client_id: String,
    /// Its secret.
    pub secret: String,
    /// A client that authenticates with `private_key_jwt` (its key is an EC P-256 key).
    pub jwt_client_id: String,
    _data: tempfile::TempDir,
}

/// The harness, built on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(build)
}

fn build() -> Harness {
    let data = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config {
        data_dir: data.path().to_path_buf(),
        ..Config::default()
    };
    config.database.url = Some(Secret::new(clave_common::db::sqlite_url_in(data.path())));
    config.server.public_url = "http://127.0.0.1:1".into();
    config.passwords.argon2_memory_kib = 64;
    config.passwords.argon2_iterations = 1;
    config.passwords.argon2_parallelism = 1;
    let app = runtime
        .block_on(App::open(
            config,
            Arc::new(clave_common::clock::SystemClock),
            true,
        ))
        .unwrap();
    runtime.block_on(app.ensure_keys()).unwrap();
    let web = NewClient {
        name: "Fuzz web".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:9/out".into()],
        scopes: ["openid", "profile", "email", "run", "name"]
            .map(String::from)
            .to_vec(),
        grants: vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ],
        ..NewClient::default()
    };
    let web = runtime.block_on(app.idp.clients().register(web)).unwrap();
    let key = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut jwk = key.to_jwk_public_key();
    jwk.set_key_id("fuzz");
    let jwks = serde_json::json!({ "keys": [serde_json::Value::Object(jwk.as_ref().clone())] });
    let signed = NewClient {
        name: "Fuzz jwt".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        scopes: vec!["openid".into()],
        grants: vec!["authorization_code".into(), "client_credentials".into()],
        jwks: Some(jwks),
        ..NewClient::default()
    };
    let signed = runtime
        .block_on(app.idp.clients().register(signed))
        .unwrap();
    let router = app.router();
    Harness {
        runtime,
        router,
        client_id: web.client.client_id,
        secret: web.client_secret.unwrap_or_default(),
        jwt_client_id: signed.client.client_id,
        app,
        _data: data,
    }
}

impl Harness {
    /// Sends `request` through every layer the server has; the status and the body.
    pub fn send(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        self.runtime.block_on(async {
            let response = self.router.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 24)
                .await
                .unwrap();
            (status, body.to_vec())
        })
    }

    /// A form POST to `path`, optionally with HTTP Basic credentials.
    pub fn post_form(
        &self,
        path: &str,
        body: Vec<u8>,
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, Vec<u8>) {
        let mut request =
            Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            use base64::Engine;
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("authorization", format!("Basic {encoded}"));
        }
        self.send(request.body(Body::from(body)).unwrap())
    }

    /// A GET of `path_and_query`, if it is a valid request target at all.
    pub fn get(&self, path_and_query: &str) -> Option<(StatusCode, Vec<u8>)> {
        let request = Request::get(path_and_query)
            .header("accept", "text/html")
            .body(Body::empty())
            .ok()?;
        Some(self.send(request))
    }
}

/// Fails the run when untrusted input got a server error.
pub fn refused_cleanly(what: &str, (status, body): &(StatusCode, Vec<u8>)) {
    assert!(
        !status.is_server_error() || *status == StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {status}: {}",
        String::from_utf8_lossy(body)
    );
}

/// `value` percent-encoded for a query string or form body.
pub fn encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(b) {
            out.push(char::from(*b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
