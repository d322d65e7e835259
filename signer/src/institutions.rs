//! Institutions and their officials' certificates, on the ministro-de-fe model: each public
//! body has its own issuing CA under the root (so a whole institution can be revoked), and
//! staff with a role in it. An institution's **operator** (or administrator) asks for a
//! certificate for an official; its **ministro de fe** approves or rejects the request with a
//! fresh code from their own authenticator app, and only then is the certificate issued
//! from the institution's CA; the **administrator** or the ministro de fe revokes. Every role
//! acts on its own institution only, and every step is journaled.

use std::net::IpAddr;

use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use clave_idp::accounts::Account;
use serde_json::json;

use crate::ca::{CITIZENS, ISSUING_YEARS, ROOT};
use crate::credentials::Credential;
use crate::profile::Official;
use crate::{Signer, SignerError};

/// Administers the institution's officials: asks for and revokes their certificates.
pub const ADMIN: &str = "admin";
/// Asks for officials' certificates.
pub const OPERATOR: &str = "operator";
/// Certifies the institution's officials: approves or rejects certificate requests, revokes.
pub const MINISTRO_DE_FE: &str = "ministro_de_fe";
/// The roles staff can hold in an institution.
pub const ROLES: &[&str] = &[ADMIN, OPERATOR, MINISTRO_DE_FE];

/// Ids that name other things in `/pki/` and cannot be institutions.
const RESERVED: &[&str] = &[ROOT, CITIZENS, crate::tsa::TSA, "crl"];
/// The longest institution name.
const MAX_NAME: usize = 120;
/// The longest position (title) of an official.
const MAX_TITLE: usize = 120;

/// A public body whose officials sign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Institution {
    /// Its short id, also its CA's id (in `/pki/{id}.crt`).
    pub id: String,
    /// Its name, the O of its officials' certificates.
    pub name: String,
    /// When it was registered.
    pub created_at: i64,
}

/// A request for an official's certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct CertificateRequest {
    /// Its id.
    pub id: String,
    /// The institution.
    pub institution_id: String,
    /// The official.
    pub account_id: String,
    /// The official's position.
    pub title: String,
    /// Who asked.
    pub requested_by: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// When it was asked.
    pub created_at: i64,
    /// The ministro de fe who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<i64>,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// The credential issued on approval.
    pub credential_id: Option<String>,
}

const REQUEST_COLUMNS: &str = "id, institution_id, account_id, title, requested_by, status, \
    created_at, decided_by, decided_at, reason, credential_id";

fn invalid(text: impl Into<String>) -> SignerError {
    SignerError::Invalid(text.into())
}

/// Whether `id` can name an institution: 2 to 40 lowercase letters, digits and hyphens.
fn check_id(id: &str) -> Result<(), SignerError> {
    let shaped = (2..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if !shaped {
        return Err(invalid(
            "an institution id is 2 to 40 lowercase letters, digits and hyphens, e.g. `registro-civil`",
        ));
    }
    if RESERVED.contains(&id) {
        return Err(invalid(format!("`{id}` is reserved; choose another id")));
    }
    Ok(())
}

/// A one-line text of at most `max` characters, trimmed.
fn line(what: &str, text: &str, max: usize) -> Result<String, SignerError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{what} must be one line of 1 to {max} characters"
        )));
    }
    Ok(text.to_owned())
}

impl Signer {
    /// Registers an institution and creates its issuing CA under the root, with a first CRL.
    pub async fn create_institution(
        &self,
        id: &str,
        name: &str,
        actor: &str,
    ) -> Result<Institution, SignerError> {
        check_id(id)?;
        let name = line("the name", name, MAX_NAME)?;
        if self.institution(id).await?.is_some() || self.ca(id).await?.is_some() {
            return Err(SignerError::Conflict(format!(
                "there is already an institution `{id}`"
            )));
        }
        self.create_ca(
            id,
            Some(ROOT),
            &format!("clave CA {name}"),
            0,
            ISSUING_YEARS,
        )
        .await?;
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_institutions (id, name, created_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(&name)
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if clave_common::db::is_unique_violation(&e) => {
                return Err(SignerError::Conflict(format!(
                    "an institution is already called {name:?}"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let event = NewEvent::new("institution.created")
            .actor(actor)
            .subject(id)
            .data(json!({ "name": name }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.issue_crl(id).await?;
        Ok(Institution {
            id: id.to_owned(),
            name,
            created_at: now.unix_timestamp(),
        })
    }

    /// The institution `id`.
    pub async fn institution(&self, id: &str) -> Result<Option<Institution>, SignerError> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM signer_institutions WHERE id = $1")
                .bind(id)
                .fetch_optional(self.ctx().db.pool())
                .await?,
        )
    }

    /// Every institution, by name.
    pub async fn institutions(&self) -> Result<Vec<Institution>, SignerError> {
        Ok(
            sqlx::query_as("SELECT id, name, created_at FROM signer_institutions ORDER BY name")
                .fetch_all(self.ctx().db.pool())
                .await?,
        )
    }

    /// Gives `account_id` `role` in `institution_id` (journaled as done by `actor`).
    pub async fn grant_institution_role(
        &self,
        institution_id: &str,
        account_id: &str,
        role: &str,
        actor: &str,
    ) -> Result<(), SignerError> {
        if !ROLES.contains(&role) {
            return Err(invalid(format!(
                "unknown role {role:?}; the roles are: {}",
                ROLES.join(", ")
            )));
        }
        self.institution(institution_id)
            .await?
            .ok_or_else(|| SignerError::NotFound(format!("no institution `{institution_id}`")))?;
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_institution_staff (institution_id, account_id, role, granted_at, granted_by) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (institution_id, account_id, role) DO NOTHING",
        )
        .bind(institution_id)
        .bind(account_id)
        .bind(role)
        .bind(now.unix_timestamp())
        .bind(actor)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            let event = NewEvent::new("institution.role_granted")
                .actor(actor)
                .subject(account_id)
                .data(json!({ "institution_id": institution_id, "role": role }));
            journal::append(&mut tx, now, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Takes `role` in `institution_id` away from `account_id`.
    pub async fn revoke_institution_role(
        &self,
        institution_id: &str,
        account_id: &str,
        role: &str,
        actor: &str,
    ) -> Result<(), SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let removed = sqlx::query(
            "DELETE FROM signer_institution_staff WHERE institution_id = $1 AND account_id = $2 AND role = $3",
        )
        .bind(institution_id)
        .bind(account_id)
        .bind(role)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if removed == 0 {
            return Err(SignerError::NotFound(format!(
                "the account has no role {role:?} in `{institution_id}`"
            )));
        }
        let event = NewEvent::new("institution.role_revoked")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "institution_id": institution_id, "role": role }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The roles `account_id` holds, as (institution, role), by institution.
    pub async fn institution_roles(
        &self,
        account_id: &str,
    ) -> Result<Vec<(Institution, String)>, SignerError> {
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT i.id, i.name, i.created_at, s.role FROM signer_institution_staff s \
             JOIN signer_institutions i ON i.id = s.institution_id \
             WHERE s.account_id = $1 ORDER BY i.name, s.role",
        )
        .bind(account_id)
        .fetch_all(self.ctx().db.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, role)| {
                (
                    Institution {
                        id,
                        name,
                        created_at,
                    },
                    role,
                )
            })
            .collect())
    }

    /// The staff of `institution_id` as (account id, role), by account then role.
    pub async fn institution_staff(
        &self,
        institution_id: &str,
    ) -> Result<Vec<(String, String)>, SignerError> {
        Ok(sqlx::query_as(
            "SELECT account_id, role FROM signer_institution_staff WHERE institution_id = $1 \
             ORDER BY account_id, role",
        )
        .bind(institution_id)
        .fetch_all(self.ctx().db.pool())
        .await?)
    }

    /// Whether `account_id` holds one of `roles` in `institution_id`; refused otherwise, so
    /// nobody acts on another institution.
    async fn require_role(
        &self,
        account_id: &str,
        institution_id: &str,
        roles: &[&str],
        what: &str,
    ) -> Result<Institution, SignerError> {
        let held = self.institution_roles(account_id).await?;
        held.iter()
            .find(|(i, role)| i.id == institution_id && roles.contains(&role.as_str()))
            .map(|(i, _)| i.clone())
            .ok_or_else(|| {
                SignerError::Forbidden(format!(
                    "{what} needs the role {} in this institution",
                    roles.join(" or ")
                ))
            })
    }

    /// `actor` (an operator or administrator of the institution) asks for a certificate for
    /// `official` as `title`.
    pub async fn request_official_certificate(
        &self,
        actor: &Account,
        institution_id: &str,
        official: &Account,
        title: &str,
    ) -> Result<CertificateRequest, SignerError> {
        self.require_role(
            &actor.id,
            institution_id,
            &[OPERATOR, ADMIN],
            "asking for an official's certificate",
        )
        .await?;
        let title = line("the position", title, MAX_TITLE)?;
        if !self.idp().totps().is_active(&official.id).await? {
            return Err(SignerError::Conflict(
                "the official has no authenticator app; every signature needs a one-time code, so they must enrol one first"
                    .into(),
            ));
        }
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let request = CertificateRequest {
            id: new_id(),
            institution_id: institution_id.to_owned(),
            account_id: official.id.clone(),
            title,
            requested_by: actor.id.clone(),
            status: "pending".into(),
            created_at: now.unix_timestamp(),
            decided_by: None,
            decided_at: None,
            reason: None,
            credential_id: None,
        };
        let mut tx = ctx.db.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO signer_certificate_requests (id, institution_id, account_id, title, \
             requested_by, status, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
        )
        .bind(&request.id)
        .bind(&request.institution_id)
        .bind(&request.account_id)
        .bind(&request.title)
        .bind(&request.requested_by)
        .bind(request.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if clave_common::db::is_unique_violation(&e) => {
                return Err(SignerError::Conflict(
                    "a request for this official is already waiting for the ministro de fe".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let event = NewEvent::new("certificate_request.created")
            .actor(&actor.id)
            .subject(&official.id)
            .data(json!({
                "request_id": request.id,
                "institution_id": institution_id,
                "title": request.title,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(request)
    }

    /// The institution's certificate requests, newest first (pending ones only if asked).
    pub async fn certificate_requests(
        &self,
        institution_id: &str,
        pending_only: bool,
    ) -> Result<Vec<CertificateRequest>, SignerError> {
        let filter = if pending_only {
            " AND status = 'pending'"
        } else {
            ""
        };
        Ok(sqlx::query_as(&format!(
            "SELECT {REQUEST_COLUMNS} FROM signer_certificate_requests \
             WHERE institution_id = $1{filter} ORDER BY created_at DESC, id DESC LIMIT 200"
        ))
        .bind(institution_id)
        .fetch_all(self.ctx().db.pool())
        .await?)
    }

    /// The institution's ministro de fe approves (issuing the certificate from the
    /// institution's CA) or rejects a pending request, with a fresh code from their own
    /// authenticator app. Nobody decides on their own certificate.
    pub async fn decide_certificate_request(
        &self,
        actor: &Account,
        request_id: &str,
        approve: bool,
        otp: &str,
        reason: &str,
        addr: IpAddr,
    ) -> Result<CertificateRequest, SignerError> {
        let request: CertificateRequest = sqlx::query_as(&format!(
            "SELECT {REQUEST_COLUMNS} FROM signer_certificate_requests WHERE id = $1"
        ))
        .bind(request_id)
        .fetch_optional(self.ctx().db.pool())
        .await?
        .ok_or_else(|| SignerError::NotFound("no such certificate request".into()))?;
        let institution = self
            .require_role(
                &actor.id,
                &request.institution_id,
                &[MINISTRO_DE_FE],
                "approving or rejecting a certificate",
            )
            .await?;
        if request.account_id == actor.id {
            return Err(SignerError::Forbidden(
                "a ministro de fe cannot decide on their own certificate".into(),
            ));
        }
        if request.status != "pending" {
            return Err(SignerError::Conflict(format!(
                "the request was already {}",
                request.status
            )));
        }
        let reason = reason.trim();
        if reason.chars().count() > 500 {
            return Err(invalid("the reason may be at most 500 characters"));
        }
        self.check_code(actor, otp, addr).await?;
        let ctx = self.ctx();
        let credential_id = if approve {
            let official = self
                .idp()
                .accounts()
                .get(&request.account_id)
                .await?
                .ok_or_else(|| SignerError::NotFound("the official's account is gone".into()))?;
            let credential = self
                .issue(
                    &official,
                    &institution.id,
                    Some(Official {
                        institution: institution.name.clone(),
                        title: request.title.clone(),
                    }),
                    &actor.id,
                )
                .await?;
            Some(credential.id)
        } else {
            None
        };
        let now = ctx.clock.now();
        let status = if approve { "approved" } else { "rejected" };
        let mut tx = ctx.db.begin().await?;
        let decided = sqlx::query(
            "UPDATE signer_certificate_requests SET status = $2, decided_by = $3, decided_at = $4, \
             reason = $5, credential_id = $6 WHERE id = $1 AND status = 'pending'",
        )
        .bind(&request.id)
        .bind(status)
        .bind(&actor.id)
        .bind(now.unix_timestamp())
        .bind((!reason.is_empty()).then_some(reason))
        .bind(&credential_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if decided != 1 {
            tx.rollback().await?;
            if let Some(id) = &credential_id {
                // Another ministro de fe decided meanwhile: the certificate just made must
                // not outlive the race.
                self.revoke(id, "superseded", &actor.id).await?;
            }
            return Err(SignerError::Conflict(
                "the request was decided meanwhile".into(),
            ));
        }
        let event = NewEvent::new(if approve {
            "certificate_request.approved"
        } else {
            "certificate_request.rejected"
        })
        .actor(&actor.id)
        .subject(&request.account_id)
        .data(json!({
            "request_id": request.id,
            "institution_id": request.institution_id,
            "credential_id": credential_id,
            "reason": (!reason.is_empty()).then_some(reason),
        }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(CertificateRequest {
            status: status.into(),
            decided_by: Some(actor.id.clone()),
            decided_at: Some(now.unix_timestamp()),
            reason: (!reason.is_empty()).then(|| reason.to_owned()),
            credential_id,
            ..request
        })
    }

    /// The institution's officials' credentials (its CA's), newest first.
    pub async fn institution_credentials(
        &self,
        institution_id: &str,
    ) -> Result<Vec<Credential>, SignerError> {
        self.credentials_of_ca(institution_id).await
    }

    /// An administrator or the ministro de fe of the institution that issued it revokes an
    /// official's certificate.
    pub async fn revoke_official_certificate(
        &self,
        actor: &Account,
        credential_id: &str,
        reason: &str,
    ) -> Result<Credential, SignerError> {
        let credential = self
            .credential(credential_id)
            .await?
            .ok_or_else(|| SignerError::NotFound("no such credential".into()))?;
        if self.institution(&credential.ca_id).await?.is_none() {
            return Err(SignerError::Forbidden(
                "only officials' certificates are revoked here".into(),
            ));
        }
        self.require_role(
            &actor.id,
            &credential.ca_id,
            &[ADMIN, MINISTRO_DE_FE],
            "revoking an official's certificate",
        )
        .await?;
        self.revoke(credential_id, reason, &actor.id).await
    }

    /// Whether `account_id` has a place in the officials' console: a role in an institution,
    /// or a certificate (even a revoked one) from an institution's CA.
    pub async fn is_official_or_staff(&self, account_id: &str) -> Result<bool, SignerError> {
        if !self.institution_roles(account_id).await?.is_empty() {
            return Ok(true);
        }
        let institutions = self.institutions().await?;
        Ok(self
            .credentials_of(account_id)
            .await?
            .iter()
            .any(|c| institutions.iter().any(|i| i.id == c.ca_id)))
    }

    /// The usable credential of `account_id` from the institution's CA, if any.
    pub async fn official_credential(
        &self,
        account_id: &str,
        institution_id: &str,
    ) -> Result<Option<Credential>, SignerError> {
        let now = self.ctx().clock.unix();
        Ok(self
            .credentials_of(account_id)
            .await?
            .into_iter()
            .find(|c| c.ca_id == institution_id && c.is_usable(now)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn institution_ids_are_short_slugs_and_not_reserved() {
        for good in ["registro-civil", "sii", "minsal2"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "Registro",
            "registro civil",
            "-x",
            "x-",
            "root",
            "tsa",
            "ciudadanos",
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
        assert!(check_id(&"x".repeat(41)).is_err());
    }
}
