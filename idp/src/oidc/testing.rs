//! Fixtures for the idp's unit tests: a migrated SQLite database, a fixed clock, fresh master
//! keys.

use std::sync::Arc;

use clave_common::clock::FixedClock;
use clave_common::db::{DbOptions, sqlite_url_in};
use clave_common::journal::Journal;
use clave_common::seal::MasterKeys;
use clave_common::{Config, Db, SharedClock};

use crate::{Ctx, Idp};

/// The instant every test starts at.
pub(crate) const START: i64 = 1_750_000_000;

/// An idp on a fresh database with its clock fixed at [`START`]; keep the directory alive.
pub(crate) async fn test_idp() -> (Idp, Arc<FixedClock>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&sqlite_url_in(dir.path()), &DbOptions::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let clock = Arc::new(FixedClock::at_unix(START));
    let shared: SharedClock = clock.clone();
    let mut config = Config::default();
    config.server.public_url = "https://id.example".into();
    let ctx = Ctx {
        config: Arc::new(config),
        journal: Journal::new(db.clone(), shared.clone()),
        db,
        clock: shared,
        master: Arc::new(MasterKeys::generate()),
        hash_slots: Arc::new(crate::password::HashSlots::new(2)),
        claims: Arc::new(crate::claims::NoExtraClaims),
    };
    (Idp::new(ctx), clock, dir)
}

/// A context on the same database, clock and master keys: what a second node would have.
pub(crate) fn ctx_like(ctx: &Ctx) -> Ctx {
    Ctx {
        config: ctx.config.clone(),
        db: ctx.db.clone(),
        clock: ctx.clock.clone(),
        master: ctx.master.clone(),
        journal: ctx.journal.clone(),
        hash_slots: ctx.hash_slots.clone(),
        claims: ctx.claims.clone(),
    }
}
