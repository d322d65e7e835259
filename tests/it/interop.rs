//! Independent relying parties, written against the specifications with other ecosystems'
//! certified or widely used OpenID Connect libraries, run the code flow and its negative
//! cases against a server set up only through the `clave` command line:
//!
//! - `interop/node/rp.mjs`: panva's `openid-client` (Node.js);
//! - `interop/python/rp.py`: Authlib with joserfc (Python).
//!
//! Each script prints one JSON summary line and exits non-zero naming the first failed
//! check. Their runtimes and packages are installed by `.ci/run`; on a machine without them
//! the tests say so and pass, except under CI (`CI=true`), where a missing install fails.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::support::TestApp;
use crate::support::rp::{PASSWORD, POST_LOGOUT_URI, REDIRECT_URI, RUN};

/// How long a script may run before it is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The checks every relying party must report as passed.
const COMMON_CHECKS: &[&str] = &[
    "discovery",
    "code_flow",
    "userinfo",
    "refresh",
    "code_replay_refused",
    "refresh_replay_refused",
    "wrong_verifier_refused",
    "wrong_secret_refused",
    "tampered_id_token_claims_refused",
    "tampered_id_token_signature_refused",
    "logout",
    "prompt_none_login_required",
];

const GIVEN_NAMES: &str = "María Carmen";
const FAMILY_NAMES: &str = "Del Río González";
const EMAIL: &str = "maria.delrio@example.cl";

/// The folder of one relying party under `interop/`.
fn interop_dir(part: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(part)
}

/// Whether to skip because of `problem` (a missing runtime or package). Under CI a missing
/// install is a failure naming the step that installs it.
fn skip(problem: Option<String>, install: &str) -> bool {
    let Some(problem) = problem else {
        return false;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{problem}; CI must install it first: {install}");
    }
    eprintln!("skipped: {problem} (install with: {install})");
    true
}

/// Runs `program` quietly and returns its standard output if it succeeded.
fn probe(program: &Path, args: &[&str], dir: &Path) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Why the Node relying party cannot run here, if it cannot.
fn node_problem(dir: &Path) -> Option<String> {
    let Some(version) = probe(Path::new("node"), &["--version"], dir) else {
        return Some("Node.js is not installed".into());
    };
    let major = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    if major.is_none_or(|m| m < 20) {
        return Some(format!("Node.js {} is older than 20", version.trim()));
    }
    if !dir
        .join("node_modules/openid-client/package.json")
        .is_file()
    {
        return Some("interop/node/node_modules is not installed".into());
    }
    None
}

/// The Python interpreter of the relying party's virtual environment.
fn python(dir: &Path) -> PathBuf {
    dir.join(".venv/bin/python3")
}

/// Why the Python relying party cannot run here, if it cannot.
fn python_problem(dir: &Path) -> Option<String> {
    let interpreter = python(dir);
    if !interpreter.is_file() {
        return Some("the virtual environment interop/python/.venv does not exist".into());
    }
    if probe(
        &interpreter,
        &["-c", "import authlib, joserfc, requests"],
        dir,
    )
    .is_none()
    {
        return Some("interop/python/.venv cannot import authlib, joserfc and requests".into());
    }
    None
}

/// A fresh server with the test citizen and one client, made with the real `clave` binary;
/// the client's id and secret.
fn set_up_with_cli(app: &TestApp, name: &str, extra: &[&str]) -> (String, String) {
    let citizen = app.cli_stdin(
        &[
            "--json",
            "citizen",
            "add",
            "--run",
            RUN,
            "--given-names",
            GIVEN_NAMES,
            "--family-names",
            FAMILY_NAMES,
            "--email",
            EMAIL,
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(citizen.success, "citizen add failed: {citizen:?}");

    let mut args = vec![
        "--json",
        "client",
        "add",
        "--name",
        name,
        "--redirect-uri",
        REDIRECT_URI,
        "--post-logout-redirect-uri",
        POST_LOGOUT_URI,
    ];
    for scope in ["openid", "profile", "email", "run"] {
        args.extend(["--scope", scope]);
    }
    args.extend(extra);
    let client = app.cli(&args);
    assert!(client.success, "client add failed: {client:?}");
    let registered = client.json();
    (
        registered["client_id"].as_str().unwrap().to_owned(),
        registered["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// Runs a relying-party script against `app` with the client's credentials and returns its
/// summary, failing the test on a non-zero exit, a time-out or a missing summary.
async fn run_relying_party(
    app: &TestApp,
    program: &Path,
    script: &str,
    dir: &Path,
    (client_id, client_secret): (String, String),
) -> Value {
    let child = tokio::process::Command::new(program)
        .arg(script)
        .current_dir(dir)
        .env("RP_ISSUER", &app.url)
        .env("RP_CLIENT_ID", client_id)
        .env("RP_CLIENT_SECRET", client_secret)
        .env("RP_REDIRECT_URI", REDIRECT_URI)
        .env("RP_POST_LOGOUT_REDIRECT_URI", POST_LOGOUT_URI)
        .env("RP_RUN", RUN)
        .env("RP_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A script that outlives its time is killed when the wait below is dropped.
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: Value = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!("{script} printed no summary\nstdout: {stdout}\nstderr: {stderr}")
        });
    assert!(
        output.status.success() && summary["ok"] == true,
        "{script} failed the check {} ({}): {}\nstderr: {stderr}",
        summary["failed"],
        output.status,
        summary["error"],
    );
    summary
}

/// What every relying party must have seen and done, from its summary and the journal.
async fn assert_relying_party_passed(app: &TestApp, summary: &Value, own_checks: &[&str]) {
    let passed: Vec<&str> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for check in COMMON_CHECKS.iter().chain(own_checks) {
        assert!(passed.contains(check), "{check} did not run: {summary}");
    }
    let info = &summary["userinfo"];
    assert_eq!(info["given_name"], GIVEN_NAMES, "{summary}");
    assert_eq!(info["family_name"], FAMILY_NAMES, "{summary}");
    assert_eq!(info["run"], RUN, "{summary}");
    assert_eq!(info["email"], EMAIL, "{summary}");

    // The server saw the attacks as such, not as ordinary failures.
    assert_eq!(app.journal_of_kind("code.replayed").await.len(), 1);
    assert!(!app.journal_of_kind("refresh.replayed").await.is_empty());
    assert!(!app.journal_of_kind("session.ended").await.is_empty());
}

#[tokio::test]
async fn openid_client_for_node_runs_the_code_flow_and_is_refused_what_it_must_be() {
    let dir = interop_dir("node");
    if skip(node_problem(&dir), "npm ci --prefix interop/node") {
        return;
    }
    let app = TestApp::new().await;
    let client = set_up_with_cli(&app, "Servicio de Trámites (openid-client)", &[]);
    let summary = run_relying_party(&app, Path::new("node"), "rp.mjs", &dir, client).await;
    assert_eq!(summary["rp"], "openid-client", "{summary}");
    assert_relying_party_passed(
        &app,
        &summary,
        &["id_token_claims", "introspection", "par_code_flow"],
    )
    .await;
}

#[tokio::test]
async fn authlib_for_python_runs_the_code_flow_and_is_refused_what_it_must_be() {
    let dir = interop_dir("python");
    let install = "python3 -m venv interop/python/.venv && \
                   interop/python/.venv/bin/python3 -m pip install -r interop/python/requirements.txt";
    if skip(python_problem(&dir), install) {
        return;
    }
    let app = TestApp::new().await;
    // RS256 here, the ES256 default for the Node client: both algorithms meet a stranger.
    let client = set_up_with_cli(
        &app,
        "Servicio de Trámites (Authlib)",
        &["--id-token-alg", "RS256"],
    );
    let summary = run_relying_party(&app, &python(&dir), "rp.py", &dir, client).await;
    assert_eq!(summary["rp"], "authlib", "{summary}");
    assert_relying_party_passed(
        &app,
        &summary,
        &["id_token", "revocation", "unsigned_id_token_refused"],
    )
    .await;
    assert!(!app.journal_of_kind("token.revoked").await.is_empty());
}
