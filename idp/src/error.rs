//! The idp's error type: what can go wrong in its services, in terms callers can act on.
//!
//! HTTP layers map these to statuses and pages; the text of [`IdpError::Db`] and
//! [`IdpError::Internal`] is for logs only and never reaches a citizen or a client.

use crate::password::PolicyViolation;

/// Why an idp operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The thing would duplicate one that exists, e.g. a second account for one RUN.
    #[error("{0}")]
    Conflict(String),
    /// The input is malformed; the text says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// A password does not meet the password policy.
    #[error("the password is not acceptable: {0}")]
    Policy(PolicyViolation),
    /// Too many failed attempts; retry after this many seconds.
    #[error("too many attempts; retry in {retry_after} seconds")]
    Throttled {
        /// Seconds until the lockout lapses.
        retry_after: i64,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Sealing or opening a secret at rest failed.
    #[error("sealing error: {0}")]
    Seal(#[from] clave_common::seal::SealError),
    /// Something that should not happen did (a failed blocking task, corrupt stored data).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<PolicyViolation> for IdpError {
    fn from(violation: PolicyViolation) -> Self {
        Self::Policy(violation)
    }
}
