//! The citizen's approval of the scopes a service asks for.
//!
//! Approvals are remembered per (citizen, service) in `idp_scope_approvals`, so a service is
//! not asked about again unless it wants more than was approved, or sends `prompt=consent`.
//! The RUN is released only under the `run` scope, and that scope too needs approval. The
//! portal shows the page ([`prompt`]) and reports the decision ([`decide`]); both check that
//! the request belongs to this browser and its logged-in citizen.

use axum::http::HeaderMap;
use axum::response::Response;
use clave_common::journal::{self, NewEvent};
use serde_json::json;

use super::validate::ReturnTo;
use super::{browser_cookie, current_session};
use crate::accounts::Account;
use crate::authreq::AuthRequest;
use crate::claims::{ConsentQuery, SCOPE_NAME, SCOPE_OPENID, SCOPE_PROFILE, scope_list};
use crate::oidc::error::OAuthError;
use crate::{Ctx, Idp, IdpError};

/// Whether the `approved` scopes cover the `requested` ones (`openid` needs no approval, and
/// `name` and `profile` are one scope).
pub fn covers(approved: &[String], requested: &[String]) -> bool {
    let has = |s: &str| approved.iter().any(|a| a == s);
    requested.iter().all(|s| match s.as_str() {
        SCOPE_OPENID => true,
        SCOPE_PROFILE | SCOPE_NAME => has(SCOPE_PROFILE) || has(SCOPE_NAME),
        other => has(other),
    })
}

/// The scopes citizens approved for services.
#[derive(Debug, Clone, Copy)]
pub struct ScopeApprovals<'a> {
    ctx: &'a Ctx,
}

impl Idp {
    /// The scopes citizens approved for services.
    pub fn scope_approvals(&self) -> ScopeApprovals<'_> {
        ScopeApprovals { ctx: self.ctx() }
    }
}

impl ScopeApprovals<'_> {
    /// The scopes `account_id` approved for `client_id` (none when never asked).
    pub async fn approved(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> Result<Vec<String>, IdpError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT scopes FROM idp_scope_approvals WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(self.ctx.db.pool())
        .await?;
        Ok(row.map(|(scopes,)| scope_list(&scopes)).unwrap_or_default())
    }

    /// Adds `scopes` to what `account_id` approved for `client_id`.
    pub(crate) async fn add(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), IdpError> {
        let existing: Option<(String,)> = sqlx::query_as(
            "SELECT scopes FROM idp_scope_approvals WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(client_id)
        .fetch_optional(&mut *conn)
        .await?;
        let mut all = existing.map(|(s,)| scope_list(&s)).unwrap_or_default();
        for scope in scopes {
            if scope != SCOPE_OPENID && !all.contains(scope) {
                all.push(scope.clone());
            }
        }
        sqlx::query(
            "INSERT INTO idp_scope_approvals (account_id, client_id, scopes, approved_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) \
             DO UPDATE SET scopes = excluded.scopes, approved_at = excluded.approved_at",
        )
        .bind(account_id)
        .bind(client_id)
        .bind(all.join(" "))
        .bind(self.ctx.clock.unix())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// Why the consent page cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The request is unknown, finished, lapsed, or belongs to another browser.
    #[error("the authorization request is not pending in this browser")]
    RequestGone,
    /// No one is logged in in this browser: the login page comes first.
    #[error("the citizen is not logged in")]
    NotLoggedIn {
        /// The pending request, to send to the login page.
        request_id: String,
    },
    /// The server failed.
    #[error(transparent)]
    Failed(#[from] IdpError),
}

/// What the consent page shows.
#[derive(Debug, Clone)]
pub struct ConsentPrompt {
    /// The pending request (client name, `ui_locales`, …).
    pub request: AuthRequest,
    /// The logged-in citizen.
    pub account: Account,
    /// The scopes to approve, without `openid` (which needs none).
    pub scopes: Vec<String>,
}

/// The citizen's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Release the scopes to the service.
    Approve,
    /// Refuse: the service gets `access_denied`.
    Deny,
}

async fn pending(
    idp: &Idp,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<(AuthRequest, Account), ConsentError> {
    let request = idp
        .auth_requests()
        .get_for_browser(request_id, browser_cookie(headers))
        .await?
        .ok_or(ConsentError::RequestGone)?;
    let not_logged_in = || ConsentError::NotLoggedIn {
        request_id: request.id.clone(),
    };
    let session = current_session(idp, headers)
        .await?
        .ok_or_else(not_logged_in)?;
    let account = idp
        .accounts()
        .get(&session.account_id)
        .await?
        .ok_or_else(not_logged_in)?;
    Ok((request, account))
}

/// The consent page's content for request `request_id` in this browser.
pub async fn prompt(
    idp: &Idp,
    request_id: &str,
    headers: &HeaderMap,
) -> Result<ConsentPrompt, ConsentError> {
    let (request, account) = pending(idp, request_id, headers).await?;
    let scopes = request
        .scopes()
        .into_iter()
        .filter(|s| s != SCOPE_OPENID)
        .collect();
    Ok(ConsentPrompt {
        request,
        account,
        scopes,
    })
}

/// Records the citizen's `decision` on request `request_id` and answers the browser: on
/// approval, back to the authorization endpoint to get the code; on refusal, `access_denied`
/// to the service. Both are journaled. On approval the claims provider records its consent
/// in the same transaction, keeping of the optional data only `kept`.
pub async fn decide(
    idp: &Idp,
    request_id: &str,
    headers: &HeaderMap,
    decision: Decision,
    kept: &[String],
) -> Result<Response, ConsentError> {
    let (request, account) = pending(idp, request_id, headers).await?;
    let ctx = idp.ctx();
    let client = idp
        .clients()
        .get(&request.client_id)
        .await?
        .ok_or(ConsentError::RequestGone)?;
    let mut tx = ctx.db.begin().await.map_err(IdpError::from)?;
    let kind = match decision {
        Decision::Approve => {
            idp.scope_approvals()
                .add(&mut tx, &account.id, &request.client_id, &request.scopes())
                .await?;
            let query = ConsentQuery {
                account: &account,
                client: &client,
                request: &request,
            };
            let consent_ref = ctx
                .claims
                .record_consent(idp, &mut tx, query, kept)
                .await
                .map_err(|e| IdpError::Internal(format!("the claims provider failed: {e}")))?;
            idp.auth_requests()
                .mark_consented(&mut tx, &request.id, consent_ref.as_deref())
                .await?;
            "consent.approved"
        }
        Decision::Deny => {
            if !idp.auth_requests().complete(&mut tx, &request.id).await? {
                return Err(ConsentError::RequestGone);
            }
            "consent.denied"
        }
    };
    let event = NewEvent::new(kind)
        .actor(account.id.clone())
        .subject(account.id.clone())
        .data(json!({
            "client_id": request.client_id,
            "scope": request.scope,
            "request_id": request.id,
        }));
    journal::append(&mut tx, ctx.clock.now(), &event)
        .await
        .map_err(IdpError::from)?;
    tx.commit().await.map_err(IdpError::from)?;
    Ok(match decision {
        Decision::Approve => {
            super::authorize::see_other(&format!("/oauth2/authorize/resume?req={}", request.id))
        }
        Decision::Deny => ReturnTo::from(&request).error(
            idp,
            OAuthError::access_denied("the citizen declined to share the requested information"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<String> {
        scope_list(text)
    }

    #[test]
    fn approvals_cover_what_was_approved_and_openid() {
        assert!(covers(&[], &list("openid")));
        assert!(covers(&list("profile"), &list("openid profile")));
        assert!(covers(&list("name"), &list("openid profile")));
        assert!(covers(&list("profile"), &list("openid name")));
        assert!(!covers(&list("profile"), &list("openid profile run")));
        assert!(!covers(&list("profile email"), &list("openid run")));
        assert!(covers(&list("profile run email"), &list("openid run")));
    }
}
