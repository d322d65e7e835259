//! The foundation: start-up, configuration, operations endpoints, journal, backups.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use crate::support::{TestApp, on_postgres, run_cli};

fn migration_names(dir: &str) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_migrations() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same file names"
    );
    for name in &sqlite {
        let text = std::fs::read_to_string(format!(
            "{}/migrations/sqlite/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(
            text.starts_with("--"),
            "{name} must start with a comment saying why"
        );
    }
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::new().await;
    let http = app.http();
    let health = http.get(app.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("x-request-id").is_some());
    let ready = http.get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
    let metrics = http.get(app.at("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("clave_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"200\"}"),
        "{text}"
    );
    assert!(
        text.contains("clave_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_turns_unready_when_the_schema_is_behind() {
    let app = TestApp::new().await;
    sqlx::query(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .execute(app.app.db.pool())
    .await
    .unwrap();
    let ready = app.http().get(app.at("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("clave migrate"),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::new().await;
    for path in [
        "/healthz",
        "/no/such/page",
        "/.well-known/openid-configuration",
    ] {
        let response = app.http().get(app.at(path)).send().await.unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
    let missing = app
        .http()
        .get(app.at("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// A `clave serve` process started from the real binary.
struct ServerProcess {
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(env: &[(String, String)], extra: &[&str]) -> Result<Self, String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_clave"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CLAVE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("CLAVE_LOG_FILTER", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        if let Some(rest) = line.strip_prefix("clave listening on ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            return Ok(Self { child, url });
        }
        let output = child.wait_with_output().unwrap();
        Err(format!("{line}{}", String::from_utf8_lossy(&output.stderr)))
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }
}

fn sqlite_env(dir: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("CLAVE_DATA_DIR".into(), dir.display().to_string()),
        ("CLAVE_PASSWORDS__ARGON2_MEMORY_KIB".into(), "64".into()),
        ("CLAVE_PASSWORDS__ARGON2_ITERATIONS".into(), "1".into()),
    ]
}

#[tokio::test]
async fn zero_config_start_creates_and_then_reuses_the_data_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let env = sqlite_env(&dir);

    let server = ServerProcess::start(&env, &[]).unwrap();
    let health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let discovery: serde_json::Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(
        discovery["issuer"], "http://localhost:8080",
        "the default public URL is the issuer"
    );
    assert!(server.terminate().success(), "SIGTERM shuts down cleanly");

    assert!(dir.join("clave.db").exists());
    let key_file = dir.join("master.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the master key is readable by its owner only");
    let key = std::fs::read_to_string(&key_file).unwrap();

    let db = clave_common::Db::connect(
        &clave_common::db::sqlite_url_in(&dir),
        &clave_common::db::DbOptions::default(),
    )
    .await
    .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    db.close().await;

    // A second start reuses the key and the database.
    let again = ServerProcess::start(&env, &[]).unwrap();
    assert_eq!(
        reqwest::get(format!("{}/readyz", again.url))
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(again.terminate().success());
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
}

#[test]
fn an_unusable_data_directory_is_refused_with_one_clear_message() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let env = sqlite_env(&file.join("data"));
    let err = ServerProcess::start(&env, &[])
        .err()
        .expect("must not start");
    assert!(err.contains("cannot use the data directory"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_corrupt_master_key_is_refused_with_one_clear_message() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("master.key"), "this is not a key\n").unwrap();
    let err = ServerProcess::start(&sqlite_env(root.path()), &[])
        .err()
        .expect("must not start");
    assert!(err.contains("master key"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_database_from_a_newer_release_is_refused() {
    let app = TestApp::new().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from the future', $2, $3, 0)",
    )
    .bind(99_990_000_i64)
    .bind(true)
    .bind(vec![0_u8; 48])
    .execute(app.app.db.pool())
    .await
    .unwrap();
    let out = app.cli(&["migrate"]);
    assert!(!out.success);
    assert!(
        out.stderr.contains("newer than this clave knows"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn check_config_lists_every_problem_and_fails() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("clave.toml");
    std::fs::write(
        &file,
        "listen_port = 1\n[server]\nlisten = \"everywhere\"\n[tokens]\naccess_token_ttl_secs = -5\n",
    )
    .unwrap();
    let env = vec![
        (
            "CLAVE_DATA_DIR".to_owned(),
            root.path().display().to_string(),
        ),
        (
            "CLAVE_SERVER__PUBLIC_URL".to_owned(),
            "not a url".to_owned(),
        ),
        ("CLAVE_NO_SUCH_THING".to_owned(), "1".to_owned()),
    ];
    let out = run_cli(
        &env,
        &["--config", file.to_str().unwrap(), "check-config"],
        "",
    );
    assert!(!out.success);
    for expected in [
        "unknown key `listen_port`",
        "server.listen",
        "tokens.access_token_ttl_secs must be positive",
        "server.public_url",
        "CLAVE_NO_SUCH_THING",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing {expected:?} in:\n{}",
            out.stderr
        );
    }
    let good = run_cli(&env[..1], &["check-config"], "");
    assert!(good.success, "{}", good.stderr);
    assert!(good.stdout.contains("configuration OK"));
}

#[test]
fn every_subcommand_has_help_and_the_binary_a_version() {
    let version = run_cli(&[], &["--version"], "");
    assert!(version.success);
    assert!(version.stdout.starts_with("clave "), "{}", version.stdout);
    for command in [
        vec!["serve"],
        vec!["migrate"],
        vec!["check-config"],
        vec!["journal", "verify"],
        vec!["backup"],
        vec!["citizen", "add"],
        vec!["client", "add"],
        vec!["keys", "rotate"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        let out = run_cli(&[], &args, "");
        assert!(out.success, "{command:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("Usage: clave"),
            "{command:?}: {}",
            out.stdout
        );
    }
}

#[tokio::test]
async fn journal_verify_names_the_first_tampered_entry() {
    use clave_common::journal::NewEvent;
    let app = TestApp::new().await;
    for i in 0..5 {
        app.app
            .journal
            .append_now(
                &NewEvent::new("test.event")
                    .subject(format!("s{i}"))
                    .data(serde_json::json!({"i": i})),
            )
            .await
            .unwrap();
    }
    let ok = app.cli(&["--json", "journal", "verify"]);
    assert!(ok.success, "{}", ok.stderr);
    assert_eq!(ok.json()["ok"], true);
    let entries = ok.json()["entries"].as_u64().unwrap();
    assert!(entries >= 5);

    let (seq,): (i64,) = sqlx::query_as("SELECT seq FROM journal WHERE subject = 's2'")
        .fetch_one(app.app.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE journal SET data = $1 WHERE seq = $2")
        .bind(r#"{"i":99}"#)
        .bind(seq)
        .execute(app.app.db.pool())
        .await
        .unwrap();
    let broken = app.cli(&["journal", "verify"]);
    assert!(!broken.success);
    assert!(broken.stdout.contains("BROKEN"), "{}", broken.stdout);
    assert!(
        broken.stdout.contains(&seq.to_string()),
        "names the entry: {}",
        broken.stdout
    );

    // Deleting an entry instead is caught as a missing link.
    sqlx::query("UPDATE journal SET data = $1 WHERE seq = $2")
        .bind(r#"{"i":2}"#)
        .bind(seq)
        .execute(app.app.db.pool())
        .await
        .unwrap();
    assert!(
        app.cli(&["journal", "verify"]).success,
        "restoring the row restores the chain"
    );
    sqlx::query("DELETE FROM journal WHERE seq = $1")
        .bind(seq)
        .execute(app.app.db.pool())
        .await
        .unwrap();
    let missing = app.cli(&["journal", "verify"]);
    assert!(!missing.success);
    assert!(
        missing.stdout.contains(&seq.to_string()),
        "{}",
        missing.stdout
    );
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_the_data() {
    use clave_common::journal::NewEvent;
    let app = TestApp::new().await;
    app.app
        .journal
        .append_now(&NewEvent::new("test.before_backup").subject("backup-probe"))
        .await
        .unwrap();
    let target = app.data_dir().join("backup.db");
    let out = app.cli(&["backup", "--to", target.to_str().unwrap()]);
    if on_postgres() {
        assert!(!out.success);
        assert!(out.stderr.contains("pg_dump"), "{}", out.stderr);
        return;
    }
    assert!(out.success, "{}", out.stderr);
    // Refuses to overwrite.
    assert!(
        !app.cli(&["backup", "--to", target.to_str().unwrap()])
            .success
    );

    // Restore: a fresh data directory whose database is the backup.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&target, restored.path().join("clave.db")).unwrap();
    std::fs::copy(
        app.data_dir().join("master.key"),
        restored.path().join("master.key"),
    )
    .unwrap();
    let env = vec![(
        "CLAVE_DATA_DIR".to_owned(),
        restored.path().display().to_string(),
    )];
    let verify = run_cli(&env, &["--json", "journal", "verify"], "");
    assert!(verify.success, "{}", verify.stderr);
    let db = clave_common::Db::connect(
        &clave_common::db::sqlite_url_in(restored.path()),
        &clave_common::db::DbOptions::default(),
    )
    .await
    .unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM journal WHERE subject = 'backup-probe'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn two_nodes_share_one_database() {
    let first = TestApp::new().await;
    let second = first.second_node().await;
    let a: serde_json::Value = first
        .http()
        .get(first.at("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: serde_json::Value = second
        .http()
        .get(second.at("/oauth2/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        a, b,
        "both nodes publish the same keys from the shared database"
    );
    assert_eq!(
        second
            .http()
            .get(second.at("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
