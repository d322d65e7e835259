//! The PostgreSQL server stops while clave serves, and comes back.
//!
//! The test runs its own PostgreSQL server (the `initdb`/`pg_ctl` of the installed release, on a
//! free port in a temporary directory), so stopping it disturbs no other test.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use clave_common::config::Secret;
use serde_json::Value;

use crate::support::TestApp;
use crate::support::rp::{register, web_client};

/// How long any single request may take before the test calls it a hang: far above the
/// configured pool acquire timeout, far below forever.
const NO_HANG: Duration = Duration::from_secs(30);

/// A PostgreSQL server of the test's own.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

/// The newest installed PostgreSQL release's programs, if any.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PrivatePostgres {
    /// Initialises and starts a server, or says why it cannot.
    pub fn start() -> Result<Self, String> {
        let bin = postgres_bin()
            .ok_or("no PostgreSQL programs under /usr/lib/postgresql/*/bin (install postgresql)")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        // PostgreSQL refuses to run as root; the Debian package's `postgres` user runs it.
        let as_postgres_user = running_as_root();
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("cannot hand the temporary directory to the postgres user".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let server = Self {
            bin,
            dir,
            port,
            as_postgres_user,
        };
        let data = server.data().display().to_string();
        let out = server.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        server.resume()?;
        Ok(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }

    /// The URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn resume(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data().display().to_string();
        let log = self.dir.path().join("server.log").display().to_string();
        let out = self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        );
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            ))
        }
    }

    /// Stops the server, disconnecting every client (`pg_ctl stop -m fast`).
    pub fn stop(&self) {
        let data = self.data().display().to_string();
        let out = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

async fn timed(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = tokio::time::timeout(NO_HANG, request.send())
        .await
        .expect("the request hung instead of failing")
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> (u16, String) {
    timed(
        reqwest::Client::new()
            .post(app.at("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await
}

#[tokio::test]
async fn postgres_stopping_makes_clave_unready_and_503_then_it_recovers_without_a_restart() {
    let server = match PrivatePostgres::start() {
        Ok(server) => server,
        Err(reason) => {
            eprintln!("skipped: cannot run a private PostgreSQL server: {reason}");
            return;
        }
    };
    let url = server.url();
    let app = TestApp::with_config(|c| {
        c.database.url = Some(Secret::new(&url));
        c.database.acquire_timeout_secs = 2;
    })
    .await;
    let mut service = web_client("Servicio de prueba");
    service.grants = vec!["client_credentials".into()];
    service.redirect_uris.clear();
    let client = register(&app, service).await;
    let secret = client.secret.clone().unwrap();
    let http = reqwest::Client::new();
    let (status, body) = timed(http.get(app.at("/readyz"))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client_credentials(&app, &client.client_id, &secret).await;
    assert_eq!(status, 200, "{body}");

    server.stop();

    let started = Instant::now();
    let (status, body) = timed(http.get(app.at("/readyz"))).await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "unready", "{body}");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("database")),
        "{body}"
    );
    for _ in 0..3 {
        let (status, body) = client_credentials(&app, &client.client_id, &secret).await;
        assert_eq!(status, 503, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    // A page that needs the database says so in the citizen's language, as a page.
    let (status, page) = timed(
        http.get(app.at("/me/data"))
            .header("accept", "text/html")
            .header("cookie", "clave_session=not-a-session"),
    )
    .await;
    assert_eq!(status, 503, "{page}");
    assert!(!page.contains("panicked"), "{page}");
    assert!(
        started.elapsed() < NO_HANG,
        "failing took {:?}",
        started.elapsed()
    );

    server.resume().unwrap();

    // The pool reconnects on its own: readiness and requests come back with no restart.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _) = timed(http.get(app.at("/readyz"))).await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still unready a minute after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = client_credentials(&app, &client.client_id, &secret).await;
    assert_eq!(status, 200, "{body}");
}
