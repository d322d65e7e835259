//! The one integration-test binary: drives the whole server over HTTP, and the real `clave`
//! binary for the command line, as outsiders do. Runs on SQLite by default and on PostgreSQL
//! when `TEST_DATABASE_URL` names a server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod accessibility;
mod admin;
mod browser;
mod browser_admin;
mod callers;
mod emergency;
mod faults;
mod foundation;
mod hardening;
mod interop;
mod login;
mod mailbox;
mod oidc;
mod openapi;
mod openapi_fuzz;
mod passkeys;
mod second_factor;
mod security;
mod signing;
mod tokens;
mod wallet;
