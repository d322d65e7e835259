//! Databases for tests: a temporary SQLite file, or a fresh PostgreSQL database on the server
//! that `TEST_DATABASE_URL` names, dropped again when the test ends (even if it fails).

use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

use crate::db::{Db, DbOptions, sqlite_url_in};

/// The variable naming a PostgreSQL database whose server may host test databases.
const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A migrated database that exists for one test.
pub(crate) struct TestDb {
    /// The handle to use.
    pub(crate) db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removing the directory removes the database.
    Sqlite { _dir: TempDir },
    /// The database to drop, and a URL on the same server to drop it from.
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A migrated SQLite database in a temporary directory.
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        Self {
            db,
            cleanup: Cleanup::Sqlite { _dir: dir },
        }
    }

    /// A migrated, uniquely named PostgreSQL database, or `None` when `TEST_DATABASE_URL` is
    /// not set.
    pub(crate) async fn postgres() -> Option<Self> {
        let admin_url = std::env::var(TEST_DATABASE_URL).ok()?;
        let name = format!("clave_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .unwrap();
        admin.close().await.unwrap();

        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{name}"));
        let test = Self {
            db: Db::connect(url.as_str(), &DbOptions::default())
                .await
                .unwrap(),
            cleanup: Cleanup::Postgres { admin_url, name },
        };
        test.db.migrate().await.unwrap();
        Some(test)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        let shown = name.clone();
        // Drop cannot await, and the test's runtime may be shutting down, so the database is
        // dropped from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await?;
                admin.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop the test database {}; remove it by hand",
                shown
            );
        }
    }
}
