//! The database handle: one query text for SQLite and PostgreSQL through `sqlx::Any`.
//!
//! Conventions every query in clave follows, so the same text runs on both backends:
//! `$N` placeholders; ids (UUIDv7) and times (Unix seconds, `BIGINT`) made in Rust;
//! booleans as `BIGINT` 0/1 read as `i64` (the Any driver cannot decode SQLite's BOOLEAN);
//! JSON as `TEXT`; upserts with `ON CONFLICT`.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, ConnectOptions, Executor};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// A transaction on either backend.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server (or a compatible distributed SQL engine).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// Problems opening or migrating the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported backend.
    #[error("database_url must start with sqlite: or postgres:// (got {0:?})")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// The database was migrated by a newer clave than this one.
    #[error(
        "the database schema is at version {found}, newer than this clave knows ({known}); \
         run the clave release that created it, or restore a backup"
    )]
    SchemaTooNew {
        /// The newest migration recorded in the database.
        found: i64,
        /// The newest migration this binary carries.
        known: i64,
    },
    /// A migration recorded in the database differs from the one this binary carries.
    #[error(
        "migration {0} in the database differs from this clave's copy; the schema was changed by hand or by another build"
    )]
    Diverged(i64),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[source] MigrateError),
    /// Any other database error.
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing (never a hang).
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The shared database handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite only: the task that checkpoints the write-ahead log, stopped with the last clone.
    _checkpointer: Option<Arc<Checkpointer>>,
}

/// How often the SQLite write-ahead log is copied back into the database file.
///
/// SQLite's own automatic checkpoint runs inside whichever commit crosses 1,000 pages of log,
/// so one request in a thousand writes and syncs the database file before it can answer.
/// Pooled connections leave it off, and [`Checkpointer`] does it in the background instead:
/// requests never wait for it, and a page written many times in one interval is copied once.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The background checkpoint of a SQLite database ([`CHECKPOINT_EVERY`]).
#[derive(Debug)]
struct Checkpointer(tokio::task::AbortHandle);

impl Checkpointer {
    fn start(pool: AnyPool) -> Self {
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECKPOINT_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if pool.is_closed() {
                    break;
                }
                // PASSIVE: copies what no reader still needs, never waits for anyone.
                if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(%error, "the write-ahead log checkpoint failed");
                }
            }
        });
        Self(task.abort_handle())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long after the pool last pinged a connection it is lent out without another ping.
const RECENTLY_CHECKED: Duration = Duration::from_secs(1);

/// The URL of the embedded SQLite database inside a data directory.
pub fn sqlite_url_in(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("clave.db").display())
}

impl Db {
    /// Opens a pool to `url`. SQLite files are created when missing and put in WAL mode with
    /// foreign keys and a busy timeout.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend =
            Backend::of_url(url).ok_or_else(|| DbError::UnsupportedUrl(redact_url(url)))?;
        let connect = AnyConnectOptions::from_str(url)
            .map_err(DbError::Connect)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let max = match backend {
            // SQLite has one writer; a few readers are enough and keep memory low.
            Backend::Sqlite => options.max_connections.clamp(1, 8),
            Backend::Postgres => options.max_connections.max(1),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
                             PRAGMA wal_autocheckpoint = 0;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            // A connection must come out of the pool outside any transaction. When a write fails
            // with the storage full, SQLite rolls the transaction back by itself, so the
            // rollback the driver later sends fails and leaves its transaction count
            // behind: every later `begin` on that connection would fail. Such a connection is
            // closed and replaced instead of lent out.
            //
            // The pool pings every connection it takes back, so one that was idle for less
            // than `RECENTLY_CHECKED` is known to be alive: pinging it again on the way out
            // (sqlx's default) would cost every query a second round trip. Connections idle
            // longer, which may have died with the database, are still pinged.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    let clean = !sqlx::Connection::is_in_transaction(conn);
                    if !clean {
                        tracing::warn!("closing a pooled connection left inside a transaction");
                        return Ok(false);
                    }
                    if meta.idle_for >= RECENTLY_CHECKED
                        && let Err(error) = sqlx::Connection::ping(conn).await
                    {
                        tracing::info!(%error, "closing a pooled connection that stopped answering");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .map_err(DbError::Connect)?;
        let checkpointer =
            (backend == Backend::Sqlite).then(|| Arc::new(Checkpointer::start(pool.clone())));
        Ok(Self {
            pool,
            backend,
            _checkpointer: checkpointer,
        })
    }

    /// The connection pool, for reads and single statements.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write.
    ///
    /// On SQLite this takes the write lock at once (`BEGIN IMMEDIATE`), so a transaction that
    /// reads first cannot fail later when it upgrades to a writer.
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The newest migration version this binary carries.
    pub fn latest_known_version(&self) -> i64 {
        self.migrator().iter().map(|m| m.version).max().unwrap_or(0)
    }

    /// The newest migration applied to the database, or `None` on an empty database.
    pub async fn applied_version(&self) -> Result<Option<i64>, sqlx::Error> {
        let exists: Option<(String,)> = match self.backend {
            Backend::Sqlite => sqlx::query_as(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(&self.pool)
            .await?,
            Backend::Postgres => {
                sqlx::query_as(
                    "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'",
                )
                .fetch_optional(&self.pool)
                .await?
            }
        };
        if exists.is_none() {
            return Ok(None);
        }
        let (max,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success = $1")
                .bind(true)
                .fetch_one(&self.pool)
                .await?;
        Ok(max)
    }

    /// Refuses a database created by a newer clave, then applies missing migrations.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.refuse_newer_schema().await?;
        self.migrator().run(&self.pool).await.map_err(|e| match e {
            MigrateError::VersionMismatch(v) => DbError::Diverged(v),
            MigrateError::VersionMissing(v) => DbError::SchemaTooNew {
                found: v,
                known: self.latest_known_version(),
            },
            other => DbError::Migrate(other),
        })
    }

    async fn refuse_newer_schema(&self) -> Result<(), DbError> {
        let known = self.latest_known_version();
        match self.applied_version().await? {
            Some(found) if found > known => Err(DbError::SchemaTooNew { found, known }),
            _ => Ok(()),
        }
    }

    /// Whether the database answers and carries every migration this binary knows.
    pub async fn is_ready(&self) -> Result<bool, sqlx::Error> {
        Ok(self.applied_version().await? == Some(self.latest_known_version()))
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether an error is a unique-constraint violation (a duplicate), on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_chosen_by_scheme() {
        assert_eq!(Backend::of_url("sqlite:///tmp/x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), None);
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://clave:s3cret@db.example/clave"),
            "postgres://clave:****@db.example/clave"
        );
    }

    #[tokio::test]
    async fn sqlite_is_created_in_wal_mode_with_foreign_keys_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
            .await
            .unwrap();
        assert_eq!(db.applied_version().await.unwrap(), None);
        db.migrate().await.unwrap();
        assert!(db.is_ready().await.unwrap());
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[tokio::test]
    async fn the_sqlite_log_is_checkpointed_in_the_background_not_by_commits() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
            .await
            .unwrap();
        let (auto,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(auto, 0, "commits must not checkpoint");
        sqlx::query("CREATE TABLE filler (n BIGINT PRIMARY KEY, text TEXT NOT NULL)")
            .execute(db.pool())
            .await
            .unwrap();
        // Some 1,500 pages of log: past SQLite's automatic threshold of 1,000.
        for n in 0..1500_i64 {
            sqlx::query("INSERT INTO filler (n, text) VALUES ($1, $2)")
                .bind(n)
                .bind("x".repeat(4000))
                .execute(db.pool())
                .await
                .unwrap();
        }
        let file = dir.path().join("clave.db");
        let size = || std::fs::metadata(&file).unwrap().len();
        let mut waited = Duration::ZERO;
        while size() < 1500 * 4000 && waited < CHECKPOINT_EVERY * 10 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += Duration::from_millis(100);
        }
        assert!(
            size() >= 1500 * 4000,
            "the rows reached the database file: {} bytes",
            size()
        );
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM filler")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 1500);
    }

    #[tokio::test]
    async fn a_schema_from_a_newer_release_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, 'future', $2, $3, 0)",
        )
        .bind(99_990_000_i64)
        .bind(true)
        .bind(vec![0_u8; 48])
        .execute(db.pool())
        .await
        .unwrap();
        let err = db.migrate().await.unwrap_err();
        assert!(
            matches!(
                err,
                DbError::SchemaTooNew {
                    found: 99_990_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!db.is_ready().await.unwrap());
    }
}
