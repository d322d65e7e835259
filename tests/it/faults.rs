//! Faults from outside: the database server stopping while clave serves, storage that refuses
//! writes, the process killed in the middle of a write, and two nodes racing for the same
//! single-use thing. Each test checks that clave fails cleanly (a clear 503, never a hang or a
//! 500), leaves nothing half-written, and recovers without a restart.

pub(crate) mod kill;
mod postgres;
mod races;
mod storage;
