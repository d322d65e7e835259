//! The signer's error type, in terms callers can act on.

/// Why a signing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The thing asked for does not exist or is not the caller's.
    #[error("{0}")]
    NotFound(String),
    /// The input is malformed; the text says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The thing exists in a state that does not allow this (e.g. already revoked).
    #[error("{0}")]
    Conflict(String),
    /// The signature activation data is missing, wrong, expired, used up or bound to other
    /// hashes.
    #[error("{0}")]
    InvalidSad(String),
    /// The second factor was refused.
    #[error("{0}")]
    SecondFactor(String),
    /// The signing PIN is missing or wrong.
    #[error("{0}")]
    Pin(String),
    /// A service clave depends on (an external time-stamp authority) did not answer as it
    /// should; trying again later may work.
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// Sealing or opening a key failed.
    #[error("sealing error: {0}")]
    Seal(#[from] clave_common::seal::SealError),
    /// Something that should not happen did (corrupt stored data, a certificate that cannot
    /// be built).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<rcgen::Error> for SignerError {
    fn from(e: rcgen::Error) -> Self {
        Self::Internal(format!("certificate: {e}"))
    }
}

impl From<clave_idp::IdpError> for SignerError {
    fn from(e: clave_idp::IdpError) -> Self {
        use clave_idp::IdpError;
        match e {
            IdpError::Db(e) => Self::Db(e),
            IdpError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            IdpError::Invalid(text) => Self::Invalid(text),
            IdpError::Conflict(text) => Self::Conflict(text),
            other => Self::Internal(other.to_string()),
        }
    }
}
