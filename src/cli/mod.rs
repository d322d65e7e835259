//! The `clave` command line: one binary to serve, migrate, check the configuration, verify the
//! journal, back up, and administer citizens, clients and keys against the same database the
//! server uses (also while it runs).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use clave_common::Config;
use clave_common::config::{LogFormat, Overrides};
use clave_common::db::Backend;

use crate::App;

pub mod attribute;
pub mod citizen;
pub mod client;
pub mod keys;
mod serve;
pub mod sign;

/// clave: a national digital-identity server.
#[derive(Debug, Parser)]
#[command(name = "clave", version, about, long_about = None)]
pub struct Cli {
    /// A TOML configuration file (see config.example.toml).
    #[arg(long, global = true, env = "CLAVE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The data directory (SQLite database, master key).
    #[arg(long, global = true, env = "CLAVE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrating the database first unless told not to).
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Check the configuration and list every problem.
    CheckConfig,
    /// The security journal.
    #[command(subcommand)]
    Journal(JournalCmd),
    /// Write a consistent copy of the embedded database while the server runs.
    Backup {
        /// The file to write; must not exist yet.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Citizen accounts.
    #[command(subcommand)]
    Citizen(citizen::CitizenCmd),
    /// Registered services (OIDC clients).
    #[command(subcommand)]
    Client(client::ClientCmd),
    /// Token-signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// The data wallet's attribute catalogue and its authoritative sources.
    #[command(subcommand)]
    Attribute(attribute::AttributeCmd),
    /// Bulk imports.
    #[command(subcommand)]
    Import(attribute::ImportCmd),
    /// Advanced electronic signature: certificate authorities and signers' certificates.
    #[command(subcommand)]
    Sign(sign::SignCmd),
}

/// Journal commands.
#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Walk the hash chain and name the first altered, missing or reordered entry.
    Verify,
}

/// What a command gets: the opened application and how to print.
#[derive(Debug)]
pub struct CliContext {
    /// The application, opened on the configured database.
    pub app: App,
    /// Print JSON rather than text.
    pub json: bool,
}

impl CliContext {
    /// Prints a result: the JSON value with `--json`, the human text otherwise.
    pub fn print(&self, value: &serde_json::Value, human: impl std::fmt::Display) {
        if self.json {
            println!("{value}");
        } else {
            println!("{human}");
        }
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("clave: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("clave: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli, overrides: Overrides) -> anyhow::Result<Config> {
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        ..overrides
    };
    Config::load(cli.config.as_deref(), &overrides).map_err(|e| {
        anyhow::anyhow!(
            "the configuration has {} problem(s):\n  {}",
            e.problems.len(),
            e.problems.join("\n  ")
        )
    })
}

async fn open_app(config: Config) -> anyhow::Result<App> {
    let migrate = config.database.migrate_on_start;
    let app = App::open(config, Arc::new(clave_common::clock::SystemClock), migrate).await?;
    // Commands that change the catalogue or import values see the defaults even before the
    // server first ran.
    app.wallet.catalogue().ensure_defaults().await?;
    Ok(app)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Serve(args) => {
            let config = load_config(&cli, args.overrides())?;
            serve::run(config, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig => check_config(&cli),
        Command::Migrate => {
            let config = load_config(&cli, Overrides::default())?;
            init_logging(&config, None);
            let app = App::open(config, Arc::new(clave_common::clock::SystemClock), true).await?;
            let version = app.db.applied_version().await?.unwrap_or(0);
            let ctx = CliContext {
                app,
                json: cli.json,
            };
            ctx.print(
                &serde_json::json!({"migrated": true, "version": version}),
                format!("database is at schema version {version}"),
            );
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let config = load_config(&cli, Overrides::default())?;
            init_logging(&config, None);
            let ctx = CliContext {
                app: open_app(config).await?,
                json: cli.json,
            };
            let code = match command {
                Command::Journal(JournalCmd::Verify) => journal_verify(&ctx).await?,
                Command::Backup { to } => {
                    backup(&ctx, to).await?;
                    ExitCode::SUCCESS
                }
                Command::Citizen(cmd) => {
                    citizen::run(cmd.clone(), &ctx).await?;
                    ExitCode::SUCCESS
                }
                Command::Client(cmd) => {
                    client::run(cmd.clone(), &ctx).await?;
                    ExitCode::SUCCESS
                }
                Command::Keys(cmd) => {
                    keys::run(cmd.clone(), &ctx).await?;
                    ExitCode::SUCCESS
                }
                Command::Attribute(cmd) => {
                    attribute::run(cmd.clone(), &ctx).await?;
                    ExitCode::SUCCESS
                }
                Command::Import(cmd) => {
                    if attribute::import(cmd.clone(), &ctx).await? {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Command::Sign(cmd) => sign::run(cmd.clone(), &ctx).await?,
                Command::Serve(_) | Command::CheckConfig | Command::Migrate => ExitCode::SUCCESS,
            };
            ctx.app.db.close().await;
            Ok(code)
        }
    }
}

fn check_config(cli: &Cli) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        data_dir: cli.data_dir.clone(),
        ..Overrides::default()
    };
    match Config::load(cli.config.as_deref(), &overrides).and_then(sign::check_key_backend) {
        Ok(config) => {
            if cli.json {
                println!("{}", serde_json::json!({"ok": true, "problems": []}));
            } else {
                println!(
                    "configuration OK (database: {}, listen: {}, public URL: {})",
                    clave_common::db::redact_url(&config.database_url()),
                    config.server.listen,
                    config.server.public_url
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "problems": e.problems})
                );
            } else {
                eprintln!("the configuration has {} problem(s):", e.problems.len());
                for problem in &e.problems {
                    eprintln!("  - {problem}");
                }
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn journal_verify(ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let report = ctx.app.journal.verify().await?;
    match &report.first_problem {
        None => {
            ctx.print(
                &serde_json::json!({"ok": true, "entries": report.entries}),
                format!("journal OK: {} entries, chain intact", report.entries),
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            ctx.print(
                &serde_json::json!({"ok": false, "entries": report.entries, "problem": problem.to_string()}),
                format!("journal BROKEN: {problem}"),
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn backup(ctx: &CliContext, to: &Path) -> anyhow::Result<()> {
    if ctx.app.db.backend() != Backend::Sqlite {
        anyhow::bail!(
            "clave backup copies the embedded SQLite database; for PostgreSQL use pg_dump (see the README's Backups section)"
        );
    }
    if to.exists() {
        anyhow::bail!("{} already exists; choose a new file name", to.display());
    }
    let target = to
        .to_str()
        .context("the backup path must be valid UTF-8")?
        .replace('\'', "''");
    // VACUUM INTO writes a consistent snapshot without blocking the running server's writers
    // for longer than one read transaction.
    sqlx::query(&format!("VACUUM INTO '{target}'"))
        .execute(ctx.app.db.pool())
        .await
        .with_context(|| format!("cannot write the backup to {}", to.display()))?;
    let size = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    ctx.print(
        &serde_json::json!({"backup": to.display().to_string(), "bytes": size}),
        format!("backup written to {} ({size} bytes)", to.display()),
    );
    Ok(())
}

/// Sets up logging once: human lines by default, JSON with `log.format = "json"`.
pub(crate) fn init_logging(config: &Config, format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CLAVE_LOG_FILTER")
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format.unwrap_or(config.log.format) {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Human => builder.try_init(),
    };
    // A second initialisation (tests) keeps the first subscriber.
    drop(result);
}
