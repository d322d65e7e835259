//! Configuration: defaults → TOML file → `CLAVE_*` environment variables → command-line flags.
//!
//! One [`Config`] is built at start and passed around as `Arc<Config>`; there are no globals.
//! [`Config::load`] reports every problem at once so `clave check-config` can list them all.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::db::{Backend, sqlite_url_in};

mod mailbox;
mod signing;
pub use mailbox::{MailConfig, MailTls, MailboxConfig};
pub use signing::{KeyBackendKind, SigningConfig};

/// The prefix of every environment variable clave reads.
pub const ENV_PREFIX: &str = "CLAVE_";

/// A value that never appears in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"[redacted]\"")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines for a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    /// Where the SQLite database, the master key and generated files live.
    pub data_dir: PathBuf,
    /// The HTTP listener and public address.
    pub server: ServerConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// Keys for sealing secrets at rest.
    pub secrets: SecretsConfig,
    /// Logging.
    pub log: LogConfig,
    /// Password hashing and policy.
    pub passwords: PasswordConfig,
    /// Login throttling and lockout.
    pub throttle: ThrottleConfig,
    /// Lifetimes of codes, tokens and sessions.
    pub tokens: TokenConfig,
    /// The data wallet: consents and publishing.
    pub wallet: WalletConfig,
    /// Outgoing e-mail (SMTP), for mailbox alerts.
    pub mail: MailConfig,
    /// The citizen mailbox.
    pub mailbox: MailboxConfig,
    /// Remote signing.
    pub signing: SigningConfig,
}

/// The data wallet's limits.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct WalletConfig {
    /// How long an ongoing consent lasts when the service names no duration, in seconds.
    pub consent_default_secs: i64,
    /// The longest ongoing consent a service may ask for, in seconds.
    pub consent_max_secs: i64,
    /// The most items one batch publication may carry.
    pub batch_max_items: usize,
}

impl Default for WalletConfig {
    fn default() -> Self {
        Self {
            consent_default_secs: 90 * 24 * 3600,
            consent_max_secs: 365 * 24 * 3600,
            batch_max_items: 1000,
        }
    }
}

/// The HTTP listener and the public address clave is reached at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    /// The socket address to listen on.
    pub listen: String,
    /// The public base URL: the OIDC issuer, the WebAuthn origin and the base of every link.
    pub public_url: String,
    /// Trust `X-Forwarded-For` from these proxy addresses when finding a client's address.
    pub trusted_proxies: Vec<String>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Seconds an in-flight request may take before it is cut off.
    pub request_timeout_secs: u64,
    /// The IANA time zone pages show times in, e.g. `America/Santiago`.
    pub time_zone: String,
}

/// The database connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; empty means the SQLite file in the data directory.
    pub url: Option<Secret>,
    /// A file holding the URL (for a URL with a password).
    pub url_file: Option<PathBuf>,
    /// The most connections one node opens.
    pub max_connections: u32,
    /// Seconds a request waits for a connection before failing with 503.
    pub acquire_timeout_secs: u64,
    /// Apply migrations when `serve` starts.
    pub migrate_on_start: bool,
}

/// Where the master key comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SecretsConfig {
    /// The master key file; created with mode 0600 on first start. Default: `<data_dir>/master.key`.
    pub master_key_file: Option<PathBuf>,
    /// The master key file's content given directly (for platforms that inject secrets as variables).
    pub master_key: Option<Secret>,
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LogConfig {
    /// `human` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info,clave_idp=debug`.
    pub level: String,
}

/// Argon2id parameters and the password policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PasswordConfig {
    /// Memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// Iterations.
    pub argon2_iterations: u32,
    /// Lanes.
    pub argon2_parallelism: u32,
    /// Minimum password length in characters.
    pub min_length: usize,
    /// How many password hashes may run at once (0: one per CPU).
    pub max_concurrent_hashes: usize,
}

/// Throttling of failed logins, per account and per client address.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ThrottleConfig {
    /// Failures allowed before delays start.
    pub free_failures: u32,
    /// Failures after which the account or address is locked out.
    pub lockout_failures: u32,
    /// Seconds a lockout lasts.
    pub lockout_secs: i64,
    /// Seconds after which counted failures are forgotten.
    pub window_secs: i64,
    /// Failures from one address (across accounts) before that address is locked out.
    pub address_lockout_failures: u32,
    /// The delay after the first failure beyond `free_failures`, in milliseconds; it doubles
    /// with each further failure.
    pub delay_step_ms: u64,
    /// The longest delay before a failed login is answered, in milliseconds.
    pub max_delay_ms: u64,
}

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TokenConfig {
    /// Authorization codes.
    pub code_ttl_secs: i64,
    /// Access tokens.
    pub access_token_ttl_secs: i64,
    /// ID tokens.
    pub id_token_ttl_secs: i64,
    /// Refresh tokens (each rotation gets a fresh lifetime, capped by the session's).
    pub refresh_token_ttl_secs: i64,
    /// Login sessions (single sign-on).
    pub session_ttl_secs: i64,
    /// Pushed authorization requests.
    pub par_ttl_secs: i64,
    /// Seconds a retired signing key stays published after it stops signing.
    pub key_retire_grace_secs: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            secrets: SecretsConfig::default(),
            log: LogConfig::default(),
            passwords: PasswordConfig::default(),
            throttle: ThrottleConfig::default(),
            tokens: TokenConfig::default(),
            wallet: WalletConfig::default(),
            mail: MailConfig::default(),
            mailbox: MailboxConfig::default(),
            signing: SigningConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            trusted_proxies: Vec::new(),
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            time_zone: "America/Santiago".into(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            max_connections: 16,
            acquire_timeout_secs: 5,
            migrate_on_start: true,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        Self {
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            min_length: 10,
            max_concurrent_hashes: 0,
        }
    }
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures: 3,
            lockout_failures: 10,
            lockout_secs: 15 * 60,
            window_secs: 15 * 60,
            address_lockout_failures: 50,
            delay_step_ms: 500,
            max_delay_ms: 4000,
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            access_token_ttl_secs: 300,
            id_token_ttl_secs: 300,
            refresh_token_ttl_secs: 8 * 3600,
            session_ttl_secs: 8 * 3600,
            par_ttl_secs: 60,
            key_retire_grace_secs: 24 * 3600,
        }
    }
}

/// Command-line flags that override every other layer.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--public-url`.
    pub public_url: Option<String>,
}

/// Every problem found while loading a configuration.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ConfigError {
    /// One line per problem, each saying what to fix.
    pub problems: Vec<String>,
}

/// The environment, as name/value pairs (injected so tests need not touch the process's own).
pub type EnvVars = Vec<(String, String)>;

impl Config {
    /// Loads the configuration from the process environment, an optional TOML file and flags.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars().collect(), overrides)
    }

    /// Loads the configuration with an explicit environment.
    pub fn load_from(
        file: Option<&Path>,
        env: EnvVars,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let known = known_keys();
        let mut figment = Figment::from(Serialized::defaults(Config::default()));

        if let Some(path) = file {
            match std::fs::read_to_string(path) {
                Ok(text) => match text.parse::<toml::Table>() {
                    Ok(table) => {
                        let mut keys = Vec::new();
                        flatten_toml("", &toml::Value::Table(table), &mut keys);
                        for key in keys {
                            if !is_known(&known, &key) {
                                problems.push(format!(
                                    "{}: unknown key `{key}` (see config.example.toml for every key)",
                                    path.display()
                                ));
                            }
                        }
                        figment = figment.merge(Toml::string(&text));
                    }
                    Err(e) => problems.push(format!("{}: not valid TOML: {e}", path.display())),
                },
                Err(e) => problems.push(format!("cannot read config file {}: {e}", path.display())),
            }
        }

        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // Variables the CLI reads itself.
            if matches!(rest, "CONFIG" | "DATA_DIR" | "LOG_FILTER") {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace("__", ".");
            if is_known(&known, &key) {
                let parsed = value
                    .parse::<figment::value::Value>()
                    .unwrap_or_else(|_| figment::value::Value::from(value.clone()));
                figment = figment.merge(Serialized::default(&key, parsed));
            } else {
                problems.push(format!(
                    "unknown environment variable {name} (keys nest with `__`, e.g. CLAVE_SERVER__LISTEN)"
                ));
            }
        }

        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(listen) = &overrides.listen {
            figment = figment.merge(Serialized::default("server.listen", listen));
        }
        if let Some(url) = &overrides.public_url {
            figment = figment.merge(Serialized::default("server.public_url", url));
        }

        let mut config = match figment.extract::<Config>() {
            Ok(config) => config,
            Err(errors) => {
                for e in errors {
                    problems.push(e.to_string());
                }
                return Err(ConfigError { problems });
            }
        };

        if let Some(path) = config.database.url_file.clone() {
            match std::fs::read_to_string(&path) {
                Ok(url) => config.database.url = Some(Secret::new(url.trim())),
                Err(e) => problems.push(format!(
                    "database.url_file {}: cannot read: {e}",
                    path.display()
                )),
            }
        }

        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Problems with values that parsed but make no sense.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.server.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "server.listen {:?} is not a socket address such as 127.0.0.1:8080",
                self.server.listen
            ));
        }
        match url::Url::parse(&self.server.public_url) {
            Ok(url) => {
                if !matches!(url.scheme(), "http" | "https") {
                    problems.push("server.public_url must be an http:// or https:// URL".into());
                }
                if url.query().is_some() || url.fragment().is_some() {
                    problems.push("server.public_url must not have a query or fragment".into());
                }
                if url.host_str().is_none() {
                    problems.push("server.public_url must name a host".into());
                }
            }
            Err(e) => problems.push(format!(
                "server.public_url {:?} is not a URL: {e}",
                self.server.public_url
            )),
        }
        for proxy in &self.server.trusted_proxies {
            if proxy.parse::<std::net::IpAddr>().is_err() {
                problems.push(format!(
                    "server.trusted_proxies: {proxy:?} is not an IP address"
                ));
            }
        }
        if self.server.max_body_bytes < 1024 {
            problems.push("server.max_body_bytes must be at least 1024".into());
        }
        if let Some(url) = &self.database.url
            && Backend::of_url(url.expose()).is_none()
        {
            problems.push("database.url must start with sqlite: or postgres://".into());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".into());
        }
        let p = &self.passwords;
        if p.argon2_parallelism == 0 || p.argon2_iterations == 0 {
            problems.push(
                "passwords.argon2_iterations and argon2_parallelism must be at least 1".into(),
            );
        }
        if p.argon2_memory_kib < 8 * p.argon2_parallelism.max(1) {
            problems
                .push("passwords.argon2_memory_kib must be at least 8 × argon2_parallelism".into());
        }
        if p.min_length < 8 {
            problems.push("passwords.min_length must be at least 8".into());
        }
        let t = &self.throttle;
        if t.lockout_failures <= t.free_failures {
            problems.push(
                "throttle.lockout_failures must be larger than throttle.free_failures".into(),
            );
        }
        if t.lockout_secs <= 0 || t.window_secs <= 0 {
            problems.push("throttle.lockout_secs and throttle.window_secs must be positive".into());
        }
        if t.address_lockout_failures <= t.free_failures {
            problems.push(
                "throttle.address_lockout_failures must be larger than throttle.free_failures"
                    .into(),
            );
        }
        let w = &self.wallet;
        if w.consent_default_secs <= 0 || w.consent_max_secs < w.consent_default_secs {
            problems.push(
                "wallet.consent_default_secs must be positive and at most wallet.consent_max_secs"
                    .into(),
            );
        }
        if w.batch_max_items == 0 || w.batch_max_items > 100_000 {
            problems.push("wallet.batch_max_items must be between 1 and 100000".into());
        }
        // A request held open longer than this ties up connections and looks like an outage.
        if t.max_delay_ms > 10_000 || t.delay_step_ms > t.max_delay_ms {
            problems.push(
                "throttle.max_delay_ms must be at most 10000 and at least throttle.delay_step_ms"
                    .into(),
            );
        }
        let k = &self.tokens;
        for (name, value) in [
            ("code_ttl_secs", k.code_ttl_secs),
            ("access_token_ttl_secs", k.access_token_ttl_secs),
            ("id_token_ttl_secs", k.id_token_ttl_secs),
            ("refresh_token_ttl_secs", k.refresh_token_ttl_secs),
            ("session_ttl_secs", k.session_ttl_secs),
            ("par_ttl_secs", k.par_ttl_secs),
        ] {
            if value <= 0 {
                problems.push(format!("tokens.{name} must be positive"));
            }
        }
        if k.key_retire_grace_secs < k.id_token_ttl_secs.max(k.access_token_ttl_secs) {
            problems.push(
                "tokens.key_retire_grace_secs must outlast every token: at least the longest of id_token_ttl_secs and access_token_ttl_secs".into(),
            );
        }
        if jiff::tz::TimeZone::get(&self.server.time_zone).is_err() {
            problems.push(format!(
                "server.time_zone {:?} is not an IANA time zone such as America/Santiago",
                self.server.time_zone
            ));
        }
        problems.extend(mailbox::problems(&self.mail, &self.mailbox));
        problems.extend(signing::problems(&self.signing));
        problems
    }

    /// The database URL in force: the configured one or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) if !url.expose().is_empty() => url.expose().to_owned(),
            _ => sqlite_url_in(&self.data_dir),
        }
    }

    /// The master key file in force.
    pub fn master_key_path(&self) -> PathBuf {
        self.secrets
            .master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The public base URL without a trailing slash (the OIDC issuer).
    pub fn issuer(&self) -> String {
        self.server.public_url.trim_end_matches('/').to_owned()
    }

    /// Whether clave is reached over TLS (cookies get `Secure`, responses get HSTS).
    pub fn is_https(&self) -> bool {
        self.server.public_url.starts_with("https://")
    }
}

fn known_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if let Ok(value) = serde_json::to_value(Config::default()) {
        flatten_json("", &value, &mut keys);
    }
    keys
}

fn is_known(known: &BTreeSet<String>, key: &str) -> bool {
    known.contains(key)
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_json(&join(prefix, k), v, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

fn flatten_toml(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                flatten_toml(&join(prefix, k), v, out);
            }
        }
        _ => out.push(prefix.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_zero_config() {
        let config = Config::load_from(None, Vec::new(), &Overrides::default()).unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8080");
        assert_eq!(config.issuer(), "http://localhost:8080");
        assert!(config.database_url().starts_with("sqlite://"));
        assert_eq!(config.passwords.argon2_memory_kib, 19_456);
    }

    #[test]
    fn layers_apply_in_order_file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clave.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\npublic_url = \"https://id.example\"\n[tokens]\ncode_ttl_secs = 30\n",
        )
        .unwrap();
        let config = Config::load_from(
            Some(&file),
            env(&[
                ("CLAVE_TOKENS__CODE_TTL_SECS", "45"),
                ("CLAVE_SERVER__LISTEN", "127.0.0.1:9001"),
            ]),
            &Overrides {
                listen: Some("127.0.0.1:9002".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.server.public_url, "https://id.example");
        assert_eq!(config.tokens.code_ttl_secs, 45);
        assert_eq!(config.server.listen, "127.0.0.1:9002");
        assert!(config.is_https());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("clave.toml");
        std::fs::write(
            &file,
            "colour = \"blue\"\n[server]\nlisten = \"nowhere\"\npublic_url = \"ftp://x\"\n",
        )
        .unwrap();
        let err = Config::load_from(
            Some(&file),
            env(&[
                ("CLAVE_SERVR__LISTEN", "x"),
                ("CLAVE_TOKENS__CODE_TTL_SECS", "0"),
            ]),
            &Overrides::default(),
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("unknown key `colour`"), "{all}");
        assert!(all.contains("CLAVE_SERVR__LISTEN"), "{all}");
        assert!(all.contains("server.listen"), "{all}");
        assert!(all.contains("server.public_url must be an http"), "{all}");
        assert!(
            all.contains("tokens.code_ttl_secs must be positive"),
            "{all}"
        );
        assert_eq!(err.problems.len(), 5, "{all}");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let mut config = Config::default();
        config.database.url = Some(Secret::new("postgres://u:pw@h/db"));
        let shown = format!("{config:?}");
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn the_database_url_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("db-url");
        std::fs::write(&url_file, "postgres://clave@127.0.0.1/clave\n").unwrap();
        let config = Config::load_from(
            None,
            env(&[("CLAVE_DATABASE__URL_FILE", url_file.to_str().unwrap())]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.database_url(), "postgres://clave@127.0.0.1/clave");
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.example.toml");
        let loaded = Config::load_from(Some(&path), Vec::new(), &Overrides::default()).unwrap();
        assert_eq!(loaded, Config::default());
        let text = std::fs::read_to_string(&path).unwrap();
        for key in known_keys() {
            let leaf = key.rsplit('.').next().unwrap();
            assert!(
                text.lines()
                    .any(|l| l.trim_start_matches("# ").starts_with(&format!("{leaf} ="))),
                "config.example.toml does not document `{key}`"
            );
        }
    }
}
