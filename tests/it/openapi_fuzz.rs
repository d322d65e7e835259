//! Property-based testing of the JSON APIs from their own description: schemathesis reads
//! `/openapi.json` from a live server on a loopback port and sends each operation a bounded
//! number of generated requests (valid and invalid ones, boundary values), with real tokens,
//! and requires that no answer is a 5xx and every answer matches the schema the description
//! gives for its status. The runs are deterministic (deterministic generation, with no example database), so a
//! failure reproduces.

use std::path::{Path, PathBuf};

use clave_idp::clients::NewClient;
use openidconnect::OAuth2TokenResponse;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::rp::{Browser, Registered, Rp, citizen, register, web_client};

/// Generated requests per operation in the fuzzing phase; with the coverage phase's boundary
/// values this keeps the whole run to a minute or two on a small machine.
const EXAMPLES: &str = "50";

/// schemathesis from the project's Python environment (`interop/python/.venv`, made by
/// `.ci/run`); `None` outside CI when it is missing.
fn schemathesis() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/python/.venv/bin/schemathesis");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "schemathesis is required in CI: .ci/run installs interop/python/requirements-schemathesis.txt"
        );
    }
    eprintln!(
        "skipping schemathesis: install interop/python/requirements-schemathesis.txt into interop/python/.venv"
    );
    None
}

/// One group of operations and the credentials they take.
struct Group {
    name: &'static str,
    /// `--include-path-regex`: the operations of this group.
    paths: &'static str,
    /// The Authorization header sent with every request.
    authorization: String,
}

async fn client_credentials_token(app: &TestApp, client: &Registered, scope: &str) -> String {
    let response = reqwest::Client::new()
        .post(app.at("/oauth2/token"))
        .basic_auth(&client.client_id, client.secret.as_deref())
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_schema() {
    let Some(program) = schemathesis() else {
        return;
    };
    // Tokens outlive the run.
    let app = TestApp::with_config(|c| c.tokens.access_token_ttl_secs = 3600).await;
    citizen(&app).await;

    // A service the citizen logs in to, with every citizen scope: its token drives the
    // citizen's APIs (wallet, mailbox, CSC signing, both userinfo endpoints).
    let mut web = web_client("Portal de Trámites");
    web.scopes
        .extend(["wallet", "mailbox", "sign"].map(String::from));
    let web = register(&app, web).await;
    let rp = Rp::discover(&app, &web).await;
    let mut browser = Browser::new(&app);
    let (tokens, _) = rp
        .sign_in(
            &mut browser,
            &[
                "openid", "profile", "run", "name", "wallet", "mailbox", "sign",
            ],
        )
        .await;
    let citizen_token = tokens.access_token().secret().clone();

    // A service calling for itself: publishes, reads, sends notices, asks for signatures.
    let service_scopes = "wallet:publish wallet:read mailbox:send sign:request";
    let service = register(
        &app,
        NewClient {
            name: "Servicio de Registro".into(),
            scopes: service_scopes.split(' ').map(String::from).collect(),
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    let service_token = client_credentials_token(&app, &service, service_scopes).await;

    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        web.client_id,
        web.secret.as_deref().unwrap()
    ));

    // `/tsa` is left out: its body is DER (`application/timestamp-query`), which schemathesis
    // cannot generate; tests/it/signing runs RFC 3161 clients against it instead.
    let groups = [
        Group {
            name: "citizen",
            paths: "^/(api/wallet/v1/me/|api/mailbox/v1/me/|csc/v2/|oauth2/userinfo$|openid/userinfo/$)",
            authorization: format!("Bearer {citizen_token}"),
        },
        Group {
            name: "service",
            paths: "^/api/(wallet/v1/(citizens/|attributes/|corrections)|mailbox/v1/messages|sign/v1/requests)",
            authorization: format!("Bearer {service_token}"),
        },
        Group {
            name: "client",
            paths: "^/(oauth2/(token|introspect|revoke|par|jwks)$|openid/token/$|\\.well-known/|api/wallet/v1/catalogue$|api/sign/v1/verify$|pki/|healthz$|readyz$|metrics$|openapi\\.json$)",
            authorization: format!("Basic {basic}"),
        },
    ];

    let reports = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for group in &groups {
        let report = reports.path().join(format!("{}.xml", group.name));
        let output = tokio::process::Command::new(&program)
            .args([
                "run",
                &app.at("/openapi.json"),
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--phases",
                "coverage,fuzzing",
                "--max-examples",
                EXAMPLES,
                "--generation-deterministic",
                "--workers",
                "1",
                "--request-timeout",
                "20",
                "--no-color",
                "--include-path-regex",
                group.paths,
                "--header",
                &format!("Authorization: {}", group.authorization),
                "--report",
                "junit",
                "--report-junit-path",
            ])
            .arg(&report)
            // schemathesis keeps a cache folder where it runs: not in the source tree.
            .current_dir(reports.path())
            .output()
            .await
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        // The summary is the evidence of what ran: printed for `--nocapture` and CI logs.
        eprintln!("==> schemathesis, {} operations\n{text}", group.name);
        if !output.status.success() {
            failures.push(format!("{}:\n{text}", group.name));
        }
    }
    assert!(
        failures.is_empty(),
        "schemathesis found:\n{}",
        failures.join("\n")
    );
}
