//! The test harness: a real clave server per test, on a fresh database.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use clave::App;
use clave_common::Config;
use clave_common::clock::OffsetClock;
use clave_common::config::Secret;

pub mod accounts;
pub mod browser;
pub mod rp;
pub mod smtp;

/// The PostgreSQL server named by `TEST_DATABASE_URL`, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// Whether this run targets PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_admin_url().is_some()
}

/// A database made for one test and dropped after it.
pub struct TestDatabase {
    /// The URL the server uses.
    pub url: String,
    admin_url: Option<String>,
    name: String,
}

impl TestDatabase {
    async fn create(data_dir: &std::path::Path) -> Self {
        match postgres_admin_url() {
            None => Self {
                url: clave_common::db::sqlite_url_in(data_dir),
                admin_url: None,
                name: String::new(),
            },
            Some(admin) => {
                use sqlx::Connection;
                let name = format!("clave_t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                let mut url = url::Url::parse(&admin).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    admin_url: Some(admin),
                    name,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin) = self.admin_url.take() else {
            return;
        };
        let name = std::mem::take(&mut self.name);
        // Dropping needs async I/O; do it on a thread of its own so Drop can run anywhere.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// What a run of the `clave` binary printed.
#[derive(Debug)]
pub struct CliOutput {
    /// Whether it exited with 0.
    pub success: bool,
    /// The exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliOutput {
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A running server on a fresh database.
pub struct TestApp {
    /// The base URL (also the issuer).
    pub url: String,
    /// The opened application, for fixtures that go through the domain services.
    pub app: App,
    /// The server's clock; `advance` moves it.
    pub clock: Arc<OffsetClock>,
    /// The configuration the server runs with.
    pub config: Config,
    /// The database, dropped with the app.
    pub database: Arc<TestDatabase>,
    data_dir: Arc<tempfile::TempDir>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Cheap password hashing: tests need many logins, not production-grade cost.
pub fn test_config(data_dir: PathBuf, database_url: &str) -> Config {
    let mut config = Config {
        data_dir,
        ..Config::default()
    };
    config.database.url = Some(Secret::new(database_url));
    config.database.max_connections = 8;
    config.passwords.argon2_memory_kib = 64;
    config.passwords.argon2_iterations = 1;
    config.passwords.argon2_parallelism = 1;
    config
}

impl TestApp {
    /// A server with the test configuration.
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A server whose configuration `adjust` changes first.
    pub async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let data_dir = Arc::new(tempfile::tempdir().unwrap());
        let database = Arc::new(TestDatabase::create(data_dir.path()).await);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://127.0.0.1:{}", addr.port());
        let mut config = test_config(data_dir.path().to_path_buf(), &database.url);
        config.server.public_url = url.clone();
        config.server.listen = addr.to_string();
        adjust(&mut config);
        Self::start(config, listener, database, data_dir).await
    }

    /// A server whose public URL (and issuer) is `http://localhost:{port}`: WebAuthn refuses
    /// IP addresses as relying-party ids, so passkey tests in a browser need a host name.
    pub async fn on_localhost() -> Self {
        Self::with_config(|c| {
            let port = c
                .server
                .listen
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            c.server.public_url = format!("http://localhost:{port}");
        })
        .await
    }

    async fn start(
        config: Config,
        listener: tokio::net::TcpListener,
        database: Arc<TestDatabase>,
        data_dir: Arc<tempfile::TempDir>,
    ) -> Self {
        let clock = Arc::new(OffsetClock::default());
        let app = App::open(config.clone(), clock.clone(), true)
            .await
            .unwrap();
        app.ensure_keys().await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = app.router();
        tokio::spawn(async move {
            let _ = clave::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
        });
        Self {
            url: config.server.public_url.clone(),
            app,
            clock,
            config,
            database,
            data_dir,
            stop: Some(stop),
        }
    }

    /// Another server on the same database (a second node).
    pub async fn second_node(&self) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = self.config.clone();
        // Both nodes answer for the same issuer; the test reaches this one by its own port.
        config.server.listen = addr.to_string();
        let mut node = Self::start(
            config,
            listener,
            self.database.clone(),
            self.data_dir.clone(),
        )
        .await;
        node.url = format!("http://127.0.0.1:{}", addr.port());
        node
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// An HTTP client that keeps cookies and does not follow redirects.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// `base URL + path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Runs the real `clave` binary against this server's data directory and database.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_stdin(args, "")
    }

    /// Runs the real `clave` binary with `stdin` as its standard input.
    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> CliOutput {
        run_cli(&self.cli_env(), args, stdin)
    }

    /// The environment that points the binary at this server's database and settings.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "CLAVE_DATA_DIR".into(),
                self.data_dir().display().to_string(),
            ),
            ("CLAVE_DATABASE__URL".into(), self.database.url.clone()),
            (
                "CLAVE_SERVER__PUBLIC_URL".into(),
                self.config.server.public_url.clone(),
            ),
            (
                "CLAVE_PASSWORDS__ARGON2_MEMORY_KIB".into(),
                self.config.passwords.argon2_memory_kib.to_string(),
            ),
            (
                "CLAVE_PASSWORDS__ARGON2_ITERATIONS".into(),
                self.config.passwords.argon2_iterations.to_string(),
            ),
        ]
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs the `clave` binary with exactly the given `CLAVE_*` environment.
pub fn run_cli(env: &[(String, String)], args: &[&str], stdin: &str) -> CliOutput {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_clave"));
    for (name, _) in std::env::vars() {
        if name.starts_with("CLAVE_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("CLAVE_LOG_FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    CliOutput {
        success: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
