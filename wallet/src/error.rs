//! The wallet's error type.

use clave_idp::IdpError;

/// Why a wallet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The thing asked for does not exist (or is not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// The input is malformed; the text says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this; the text says why.
    #[error("{0}")]
    Forbidden(String),
    /// The operation conflicts with the current state (a race, an ended consent).
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// An idp service failed.
    #[error(transparent)]
    Idp(#[from] IdpError),
    /// Something that should not happen did (corrupt stored data, a signing failure).
    #[error("internal error: {0}")]
    Internal(String),
}

impl WalletError {
    /// The idp's view of the failure, for the idp's own error paths.
    pub fn into_idp(self) -> IdpError {
        match self {
            Self::Db(e) => IdpError::Db(e),
            Self::Idp(e) => e,
            other => IdpError::Internal(other.to_string()),
        }
    }
}
