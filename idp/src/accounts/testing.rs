//! An idp on a fresh SQLite database with a clock that stands still, for unit tests.

use std::sync::Arc;

use clave_common::clock::FixedClock;
use clave_common::db::{Db, DbOptions, sqlite_url_in};
use clave_common::journal::Journal;
use clave_common::seal::MasterKeys;
use clave_common::{Config, SharedClock};

use crate::{Ctx, Idp};

/// An idp with its own database in a temporary directory, dropped with it.
pub(crate) struct TestIdp {
    pub(crate) idp: Idp,
    pub(crate) clock: Arc<FixedClock>,
    _dir: tempfile::TempDir,
}

impl TestIdp {
    pub(crate) async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    pub(crate) async fn with_config(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let mut config = Config::default();
        config.passwords.argon2_memory_kib = 64;
        config.passwords.argon2_iterations = 1;
        config.throttle.delay_step_ms = 1;
        config.throttle.max_delay_ms = 4;
        adjust(&mut config);
        let clock = Arc::new(FixedClock::at_unix(1_800_000_000));
        let shared: SharedClock = clock.clone();
        let idp = Idp::new(Ctx {
            config: Arc::new(config),
            db: db.clone(),
            clock: shared.clone(),
            master: Arc::new(MasterKeys::generate()),
            journal: Journal::new(db, shared),
            hash_slots: Arc::new(crate::password::HashSlots::new(2)),
            claims: Arc::new(crate::claims::NoExtraClaims),
        });
        Self {
            idp,
            clock,
            _dir: dir,
        }
    }
}
