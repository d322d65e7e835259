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

/// A `clave serve` child on the app's database, for killing mid-request.
pub(crate) struct ServeChild {
    child: std::process::Child,
    /// Its base URL.
    pub(crate) url: String,
}

impl ServeChild {
    pub(crate) fn start(app: &TestApp) -> Self {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_clave"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CLAVE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(app.cli_env())
            .env("CLAVE_LOG_FILTER", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The server prints its address once it is bound: ready, no sleeping.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("clave listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("clave serve did not start: {line}"))
            .to_owned();
        Self { child, url }
    }

    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test]
async fn a_server_killed_while_granting_a_consent_leaves_it_whole_or_absent() {
    use crate::support::rp::{Browser, Landing, OnConsent, PASSWORD, RUN, Rp, citizen, form_with};
    use crate::wallet::{ONGOING, publish_maria, service_with_wallet_access};

    let app = TestApp::new().await;
    let maria = citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let consents = format!(
        "SELECT COUNT(*) FROM wallet_consents WHERE client_id = '{}'",
        client.client_id
    );
    for round in 0..12u64 {
        // A consent granted in an earlier round would skip the page: revoke it.
        let wallet = app.app.wallet.consents();
        for consent in wallet.of_citizen(&maria.id).await.unwrap() {
            if consent.status == "active" {
                wallet.revoke(&maria.id, &consent.id).await.unwrap();
            }
        }
        // The login and the consent page come from the in-process node; the approval goes to a
        // second node, a real process, killed a little later each round.
        let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
        let landing = browser
            .go(start.url.as_str(), Some((RUN, PASSWORD)), OnConsent::Stop)
            .await;
        let Landing::Page { path, body, .. } = landing else {
            panic!("round {round}: no consent page");
        };
        assert_eq!(path, "/consent", "round {round}");
        let form = form_with(&body, "decision", &app.at("/consent"));
        let server = ServeChild::start(&app);
        let action = form.action.replacen(&app.url, &server.url, 1);
        let mut fields = form.fields.clone();
        fields.push(("decision".into(), "approve".into()));
        let post = tokio::spawn(browser.http.post(action).form(&fields).send());
        tokio::time::sleep(Duration::from_millis(3 * round)).await;
        server.kill();
        let _ = post.await.unwrap();

        journal_verifies(&app);
        let granted = app
            .journal_of_kind("consent.granted")
            .await
            .into_iter()
            .filter(|e| e.data["client_id"] == client.client_id.as_str())
            .count() as i64;
        assert_eq!(
            scalar(&app, &consents).await,
            granted,
            "round {round}: every consent stored is journaled, and only those"
        );
        let unsigned = scalar(
            &app,
            "SELECT COUNT(*) FROM wallet_consents WHERE receipt IS NULL OR receipt = ''",
        )
        .await;
        assert_eq!(unsigned, 0, "round {round}: a consent without its receipt");
    }
}
