//! `clave serve`: migrate, bind, serve until SIGTERM or Ctrl-C, then finish in-flight requests.

use std::sync::Arc;

use anyhow::Context;
use clave_common::Config;
use clave_common::config::{LogFormat, Overrides};

use crate::App;

/// Flags of `clave serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// The address to listen on (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The public base URL, also the OIDC issuer (default http://localhost:8080).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Do not apply database migrations at start.
    #[arg(long)]
    pub no_migrate: bool,
    /// Log format: human or json.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

/// Log formats accepted on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    /// Readable lines.
    Human,
    /// JSON lines.
    Json,
}

impl ServeArgs {
    pub(crate) fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: None,
            listen: self.listen.clone(),
            public_url: self.public_url.clone(),
        }
    }
}

pub(crate) async fn run(mut config: Config, args: &ServeArgs) -> anyhow::Result<()> {
    let format = args.log_format.map(|f| match f {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    });
    super::init_logging(&config, format);
    if args.no_migrate {
        config.database.migrate_on_start = false;
    }
    let migrate = config.database.migrate_on_start;
    let app = App::open(config, Arc::new(clave_common::clock::SystemClock), migrate).await?;
    if !migrate && !app.db.is_ready().await.unwrap_or(false) {
        anyhow::bail!(
            "the database schema is not current; run `clave migrate` or start without --no-migrate"
        );
    }
    app.ensure_keys().await?;
    let listen = app.config.server.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = app.spawn_workers(stopped);
    println!(
        "clave listening on http://{local} (public URL {})",
        app.config.server.public_url
    );
    tracing::info!(%local, public_url = %app.config.server.public_url, "serving");
    crate::serve(listener, app.router(), shutdown_signal()).await?;
    let _ = stop.send(true);
    for worker in workers {
        let _ = worker.await;
    }
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
