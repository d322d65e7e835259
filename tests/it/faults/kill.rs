//! The `clave` process killed (SIGKILL: no clean-up, no flush) in the middle of writing: a
//! batch import and a key rotation. Whatever it had committed stays whole, whatever it had not
//! leaves no trace, the journal verifies, and the work can simply be run again.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clave_common::run::Run;
use clave_idp::clients::NewClient;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::rp::register;

/// Starts the real binary with the app's environment, its output discarded.
fn spawn_cli(app: &TestApp, args: &[&str]) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clave"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CLAVE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(app.cli_env())
        .env("CLAVE_LOG_FILTER", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
    n
}

/// `clave journal verify` through the binary, as an operator would after the crash.
fn journal_verifies(app: &TestApp) {
    let out = app.cli(&["--json", "journal", "verify"]);
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["ok"], true, "{}", out.stdout);
}

/// The sums of the `attribute.published` entries' counters: what the journal says was written.
async fn journaled_publications(app: &TestApp) -> (i64, i64) {
    let entries = app.journal_of_kind("attribute.published").await;
    entries.iter().fold((0, 0), |(written, created), e| {
        (
            written + e.data["written"].as_i64().unwrap(),
            created + e.data["citizens_created"].as_i64().unwrap(),
        )
    })
}

#[tokio::test]
async fn an_import_killed_midway_leaves_whole_chunks_and_can_be_run_again() {
    const LINES: u32 = 12_000;
    let app = TestApp::new().await;
    let registry = register(
        &app,
        NewClient {
            name: "Registro Civil".into(),
            scopes: vec!["wallet:publish".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        },
    )
    .await;
    app.app
        .wallet
        .catalogue()
        .grant_source("given_names", &registry.client_id)
        .await
        .unwrap();
    // Every line creates a citizen and writes a value: two tables and the journal per chunk.
    let file = app.data_dir().join("registry.jsonl");
    let text: String = (0..LINES)
        .map(|i| {
            let run = Run::from_number(10_000_000 + i).unwrap().canonical();
            format!("{{\"run\": \"{run}\", \"attribute\": \"given_names\", \"value\": \"Persona {i}\"}}\n")
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();
    let args = [
        "import",
        "attributes",
        file.as_str(),
        "--source",
        registry.client_id.as_str(),
    ];

    let mut child = spawn_cli(&app, &args);
    // Kill it once at least one chunk has committed and before the last has.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (written, _) = journaled_publications(&app).await;
        if written > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before a chunk was seen"
        );
        assert!(
            Instant::now() < deadline,
            "no chunk committed in two minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let finished_first = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !finished_first,
        "the import finished before it could be killed"
    );

    journal_verifies(&app);
    let (written, created) = journaled_publications(&app).await;
    let values = scalar(
        &app,
        &format!(
            "SELECT COUNT(*) FROM wallet_values WHERE source = '{}'",
            registry.client_id
        ),
    )
    .await;
    let accounts = scalar(&app, "SELECT COUNT(*) FROM idp_accounts").await;
    assert_eq!(
        values, written,
        "every value written is journaled, and only those"
    );
    assert_eq!(
        accounts, created,
        "every citizen created is journaled, and only those"
    );
    assert_eq!(
        values % clave_wallet::import::CHUNK as i64,
        0,
        "a chunk is all or nothing"
    );
    assert!(values < i64::from(LINES), "the kill came before the end");

    // Running it again finishes the work; nothing is written twice.
    let again = app.cli(&[
        "--json",
        "import",
        "attributes",
        &file,
        "--source",
        &registry.client_id,
    ]);
    assert!(again.success, "{}", again.stderr);
    let summary: Value = again.json();
    assert_eq!(summary["unchanged"].as_i64().unwrap(), values);
    assert_eq!(
        summary["written"].as_i64().unwrap(),
        i64::from(LINES) - values
    );
    journal_verifies(&app);
    let (written, created) = journaled_publications(&app).await;
    assert_eq!((written, created), (i64::from(LINES), i64::from(LINES)));
}

/// Per algorithm, the signing keys not retired.
async fn active_keys(app: &TestApp) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT alg, COUNT(*) FROM idp_signing_keys WHERE retired_at IS NULL GROUP BY alg ORDER BY alg",
    )
    .fetch_all(app.app.db.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn key_rotations_killed_at_any_moment_leave_one_signing_key_per_algorithm() {
    let app = TestApp::new().await;
    let before = active_keys(&app).await;
    assert!(before.iter().all(|(_, n)| *n == 1), "{before:?}");
    let initial_keys = scalar(&app, "SELECT COUNT(*) FROM idp_signing_keys").await;
    let mut killed = 0;
    // Each rotation is killed a little later than the one before, so the kills land all
    // along its way: starting up, generating keys, inside the transaction, committing.
    for round in 0..16u64 {
        let mut child = spawn_cli(&app, &["keys", "rotate"]);
        tokio::time::sleep(Duration::from_millis(25 * round)).await;
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let active = active_keys(&app).await;
        assert_eq!(
            active
                .iter()
                .map(|(alg, n)| (alg.as_str(), *n))
                .collect::<Vec<_>>(),
            before
                .iter()
                .map(|(alg, _)| (alg.as_str(), 1))
                .collect::<Vec<_>>(),
            "round {round}: exactly one active key per algorithm"
        );
        let rotations = app.journal_of_kind("keys.rotated").await;
        let total = scalar(&app, "SELECT COUNT(*) FROM idp_signing_keys").await;
        assert_eq!(
            total,
            initial_keys + before.len() as i64 * rotations.len() as i64,
            "round {round}: every key stored is a rotation's, and every journaled rotation stored its keys"
        );
        for rotation in &rotations {
            for created in rotation.data["created"].as_array().unwrap() {
                let kid = created["kid"].as_str().unwrap();
                let n = scalar(
                    &app,
                    &format!("SELECT COUNT(*) FROM idp_signing_keys WHERE kid = '{kid}'"),
                )
                .await;
                assert_eq!(n, 1, "round {round}: journaled key {kid} is stored");
            }
        }
    }
    assert!(killed > 0, "no rotation was still running when killed");
    journal_verifies(&app);
    // A rotation run to the end still works, and the server signs with what is stored.
    let out = app.cli(&["--json", "keys", "rotate"]);
    assert!(out.success, "{}", out.stderr);
    let mut service = crate::support::rp::web_client("Servicio de prueba");
    service.grants = vec!["client_credentials".into()];
    service.redirect_uris.clear();
    let client = register(&app, service).await;
    let (status, body) = crate::support::rp::post_form(
        &app.at("/oauth2/token"),
        &[("grant_type", "client_credentials")],
        Some((&client.client_id, client.secret.as_deref().unwrap())),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    crate::support::rp::verify_with_jwks(&app.url, body["access_token"].as_str().unwrap()).await;
}
