//! The `clave` server: opens the database and keys, wires the domain crates' routers into one
//! listener with the operational endpoints and the cross-cutting layers, and serves it.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use clave_common::db::{DbError, DbOptions};
use clave_common::http::TrustedProxies;
use clave_common::journal::Journal;
use clave_common::seal::{MasterKeys, SealError};
use clave_common::{Config, Db, SharedClock};
use clave_idp::Idp;
use clave_signer::Signer;
use clave_wallet::Wallet;

pub mod cli;
pub mod openapi;
mod ops;

/// Why the server could not start; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory cannot be created or written.
    #[error(
        "cannot use the data directory {path}: {source}; fix its permissions or choose another with --data-dir"
    )]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The master key could not be read or created.
    #[error("master key: {0}")]
    MasterKey(#[from] SealError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] DbError),
    /// Another start-up step failed.
    #[error("{0}")]
    Other(String),
}

/// Everything a running clave holds; cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    /// The configuration in force.
    pub config: Arc<Config>,
    /// The database.
    pub db: Db,
    /// The clock every service reads.
    pub clock: SharedClock,
    /// Keys sealing secrets at rest.
    pub master: Arc<MasterKeys>,
    /// The security journal.
    pub journal: Journal,
    /// The identity provider.
    pub idp: Idp,
    /// The data wallet.
    pub wallet: Wallet,
    /// Advanced electronic signature: CAs, credentials, activation, formats.
    pub signer: Signer,
}

impl App {
    /// Prepares the data directory, the master key and the database (migrating it when
    /// `migrate` is set), and builds the services.
    pub async fn open(
        config: Config,
        clock: SharedClock,
        migrate: bool,
    ) -> Result<Self, StartupError> {
        let config = Arc::new(config);
        prepare_data_dir(&config.data_dir)?;
        let master = Arc::new(match &config.secrets.master_key {
            Some(text) => MasterKeys::from_text(text.expose())?,
            None => MasterKeys::load_or_create(&config.master_key_path())?,
        });
        let db = Db::connect(
            &config.database_url(),
            &DbOptions {
                max_connections: config.database.max_connections,
                acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
            },
        )
        .await?;
        if migrate {
            db.migrate().await?;
        }
        let journal = Journal::new(db.clone(), clock.clone());
        let hash_slots = match config.passwords.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let idp = Idp::new(clave_idp::Ctx {
            config: config.clone(),
            db: db.clone(),
            clock: clock.clone(),
            master: master.clone(),
            journal: journal.clone(),
            hash_slots: Arc::new(clave_idp::password::HashSlots::new(hash_slots)),
            claims: Arc::new(clave_wallet::WalletClaims),
        });
        let wallet = Wallet::new(idp.clone());
        let signer = Signer::new(idp.clone());
        Ok(Self {
            config,
            db,
            clock,
            master,
            journal,
            idp,
            wallet,
            signer,
        })
    }

    /// Creates signing keys, the certificate authorities and the default attribute catalogue on
    /// a fresh deployment.
    pub async fn ensure_keys(&self) -> Result<(), StartupError> {
        self.idp
            .keys()
            .ensure_keys()
            .await
            .map_err(|e| StartupError::Other(format!("cannot create signing keys: {e}")))?;
        self.signer.ensure_pki().await.map_err(|e| {
            StartupError::Other(format!("cannot create the certificate authorities: {e}"))
        })?;
        self.wallet
            .catalogue()
            .ensure_defaults()
            .await
            .map_err(|e| StartupError::Other(format!("cannot write the attribute catalogue: {e}")))
    }

    /// Starts the background workers (back-channel logout delivery; consent expiry and
    /// consent events; mailbox alerts, security notices and retention; CRL reissue); they
    /// stop when `stop` turns true.
    pub fn spawn_workers(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        vec![
            tokio::spawn(clave_idp::oidc::flow::backchannel::run_backchannel_worker(
                self.idp.clone(),
                stop.clone(),
            )),
            tokio::spawn(clave_wallet::events::run_wallet_worker(
                self.wallet.clone(),
                stop.clone(),
            )),
            // Mailbox alerts, security notices and retention.
            tokio::spawn(clave_wallet::mailbox::alerts::run_mailbox_worker(
                self.wallet.clone(),
                stop.clone(),
            )),
            tokio::spawn(clave_signer::crl::run_crl_worker(
                self.signer.clone(),
                stop.clone(),
            )),
            // Signature requests: expiry and the services' callbacks.
            tokio::spawn(clave_signer::requests::callbacks::run_request_worker(
                self.signer.clone(),
                stop.clone(),
            )),
            // The metrics recorder's histograms, folded so memory stays bounded.
            tokio::spawn(ops::run_metrics_upkeep(stop)),
        ]
    }

    /// The whole HTTP surface with its layers.
    pub fn router(&self) -> Router {
        let trusted = TrustedProxies(
            self.config
                .server
                .trusted_proxies
                .iter()
                .filter_map(|p| p.parse::<IpAddr>().ok())
                .collect(),
        );
        let portal = clave_portal::PortalState {
            idp: self.idp.clone(),
            wallet: self.wallet.clone(),
            signer: self.signer.clone(),
            config: self.config.clone(),
        };
        let routes = Router::new()
            .merge(ops::routes(self.db.clone()))
            .merge(clave_idp::http::router(self.idp.clone()))
            .merge(clave_wallet::http::router(self.wallet.clone()))
            .merge(clave_wallet::corrections::router(self.wallet.clone()))
            .merge(clave_wallet::mailbox::http::router(self.wallet.clone()))
            .merge(clave_signer::http::router(self.signer.clone()))
            .merge(clave_portal::router(portal))
            .fallback(ops::not_found);
        ops::with_layers(routes, &self.config, trusted)
    }
}

/// Opens the application from configuration with the real clock, and returns its router.
pub async fn build_app(config: Config) -> Result<Router, StartupError> {
    let migrate = config.database.migrate_on_start;
    let app = App::open(config, Arc::new(clave_common::clock::SystemClock), migrate).await?;
    app.ensure_keys().await?;
    Ok(app.router())
}

/// Serves `router` on an already-bound listener until `shutdown` completes, then lets
/// in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

fn prepare_data_dir(dir: &Path) -> Result<(), StartupError> {
    let fail = |source| StartupError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    // Creating the directory succeeds on an existing read-only one; prove we can write.
    let probe = dir.join(".clave-write-check");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}
