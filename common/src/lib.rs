//! clave-common owns what every other crate stands on: the database handle and its
//! migrations, the injected clock, the RUN (Chile's national number), the hash-chained
//! journal, sealing of secrets at rest, identifiers and the configuration.

pub mod clock;
pub mod config;
pub mod db;
pub mod http;
pub mod id;
pub mod journal;
pub mod lang;
pub mod mail;
pub mod run;
pub mod seal;
#[cfg(test)]
mod testdb;

pub use clock::{Clock, SharedClock};
pub use config::Config;
pub use db::{Db, Tx};
pub use run::Run;
