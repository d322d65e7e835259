//! Staff roles: what an account may do beyond being a citizen.
//!
//! Roles are the JSON list in `idp_accounts.roles`: `agent`, `admin` (administrator) and
//! `supervisor` (agent supervisor). A call-centre or front-desk **agent**
//! (the `agent` role) also belongs to an office, which the citizen's access log names beside
//! every look-up the agent makes. Granting and revoking are journaled (`role.granted`,
//! `role.revoked`) with who did it.

use clave_common::journal::{self, NewEvent};
use serde_json::json;

use crate::IdpError;
use crate::accounts::{Account, Accounts};
use crate::factors::lock_account;

/// Call-centre and front-desk agents: verify callers and see what a verification allows.
pub const AGENT: &str = "agent";

/// Administrators: register and edit services, institutions, the attribute catalogue and
/// agents, and read the journal in `/admin`. The first one is made with the CLI.
pub const ADMIN: &str = "admin";

/// Agent supervisors: grant and revoke the agent role, with its office, in `/admin`.
pub const SUPERVISOR: &str = "supervisor";

/// The roles clave knows.
pub const KNOWN_ROLES: &[&str] = &[AGENT, ADMIN, SUPERVISOR];

/// The longest office name.
pub const MAX_OFFICE: usize = 120;

/// A staff member: the account and the office it works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    /// The account.
    pub account: Account,
    /// The office, for roles that have one.
    pub office: Option<String>,
}

fn known(role: &str) -> Result<&'static str, IdpError> {
    KNOWN_ROLES
        .iter()
        .copied()
        .find(|r| *r == role)
        .ok_or_else(|| {
            IdpError::Invalid(format!(
                "unknown role {role:?}; the roles are: {}",
                KNOWN_ROLES.join(", ")
            ))
        })
}

impl Accounts<'_> {
    /// Gives `account_id` `role`; an agent must name its office (a later grant may move the
    /// agent to another office). Journaled as `role.granted` by `actor`.
    pub async fn grant_role(
        &self,
        account_id: &str,
        role: &str,
        office: Option<&str>,
        actor: &str,
    ) -> Result<(), IdpError> {
        let role = known(role)?;
        let office = match office.map(str::trim).filter(|o| !o.is_empty()) {
            Some(o) => Some(clean_office(o)?),
            None if role == AGENT => {
                return Err(IdpError::Invalid(
                    "an agent belongs to an office: give the office's name".into(),
                ));
            }
            None => None,
        };
        let idp = self.idp;
        let now = idp.ctx().clock.now();
        let mut tx = idp.ctx().db.begin().await?;
        let mut roles = locked_roles(&mut tx, account_id).await?;
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
        sqlx::query(
            "UPDATE idp_accounts SET roles = $1, office = COALESCE($2, office), updated_at = $3 \
             WHERE id = $4",
        )
        .bind(json!(roles).to_string())
        .bind(office.as_deref())
        .bind(now.unix_timestamp())
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("role.granted")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "role": role, "office": office }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes `role` from `account_id`; journaled as `role.revoked` by `actor`. Returns
    /// whether the account held it.
    pub async fn revoke_role(
        &self,
        account_id: &str,
        role: &str,
        actor: &str,
    ) -> Result<bool, IdpError> {
        let role = known(role)?;
        let idp = self.idp;
        let now = idp.ctx().clock.now();
        let mut tx = idp.ctx().db.begin().await?;
        let mut roles = locked_roles(&mut tx, account_id).await?;
        let before = roles.len();
        roles.retain(|r| r != role);
        if roles.len() == before {
            return Ok(false);
        }
        sqlx::query("UPDATE idp_accounts SET roles = $1, updated_at = $2 WHERE id = $3")
            .bind(json!(roles).to_string())
            .bind(now.unix_timestamp())
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new("role.revoked")
            .actor(actor)
            .subject(account_id)
            .data(json!({ "role": role }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `account_id` as a holder of `role`, with its office; `None` if it does not hold it.
    pub async fn staff(
        &self,
        account_id: &str,
        role: &str,
    ) -> Result<Option<StaffMember>, IdpError> {
        let Some(account) = self.get(account_id).await? else {
            return Ok(None);
        };
        if !account.roles.iter().any(|r| r == role) {
            return Ok(None);
        }
        let office: Option<(Option<String>,)> =
            sqlx::query_as("SELECT office FROM idp_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.idp.ctx().db.pool())
                .await?;
        Ok(Some(StaffMember {
            account,
            office: office.and_then(|(o,)| o),
        }))
    }

    /// Every holder of a staff role, in account order, at most 1,000 from `after`.
    pub async fn staff_list(&self, after: Option<&str>) -> Result<Vec<StaffMember>, IdpError> {
        let ids: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id, office FROM idp_accounts WHERE roles <> '[]' AND id > $1 ORDER BY id LIMIT 1000",
        )
        .bind(after.unwrap_or(""))
        .fetch_all(self.idp.ctx().db.pool())
        .await?;
        let mut staff = Vec::with_capacity(ids.len());
        for (id, office) in ids {
            if let Some(account) = self.get(&id).await? {
                staff.push(StaffMember { account, office });
            }
        }
        Ok(staff)
    }
}

/// Locks `account_id`'s row for the transaction and reads its roles.
async fn locked_roles(
    conn: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<Vec<String>, IdpError> {
    lock_account(conn, account_id).await?;
    let roles: Option<(String,)> = sqlx::query_as("SELECT roles FROM idp_accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(conn)
        .await?;
    let Some((roles,)) = roles else {
        return Err(IdpError::NotFound("account"));
    };
    Ok(serde_json::from_str(&roles).unwrap_or_default())
}

/// An office's name: whitespace collapsed, 1 to [`MAX_OFFICE`] characters, no control
/// characters.
fn clean_office(text: &str) -> Result<String, IdpError> {
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.chars().count() > MAX_OFFICE {
        return Err(IdpError::Invalid(format!(
            "the office's name is longer than {MAX_OFFICE} characters"
        )));
    }
    if cleaned.chars().any(char::is_control) {
        return Err(IdpError::Invalid(
            "the office's name contains control characters".into(),
        ));
    }
    Ok(cleaned)
}
