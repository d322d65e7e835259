//! clave-wallet will own the citizen's attributes and their provenance, the source-agency API,
//! consents and the hash-chained consent ledger, the access log, and the mailbox.
