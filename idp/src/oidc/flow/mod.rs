//! The browser flow of the OpenID Connect provider: the authorization endpoint and its pushed
//! requests, the citizen's approval of scopes, authorization codes and refresh tokens,
//! userinfo, logout with back-channel notices, and the ClaveÚnica-compatible endpoints.
//!
//! The order of one login: a client sends the browser to `/oauth2/authorize`; the request is
//! validated, stored ([`crate::authreq`]) and bound to the browser; the citizen logs in at
//! `/login` and approves at `/consent` when needed; both send the browser back to
//! `/oauth2/authorize/resume`, which issues a single-use code; the client redeems it at the
//! token endpoint ([`grants::redeem_code`]).

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::session::Session;
use crate::{Idp, IdpError};

pub mod authorize;
pub mod backchannel;
pub mod compat;
pub mod consent;
pub mod grants;
pub mod logout;
pub mod names;
pub mod pages;
pub mod par;
pub mod userinfo;
pub mod validate;

#[cfg(test)]
pub(crate) mod testing;

/// The routes of the browser flow, for the idp router to merge.
pub fn routes() -> Router<Idp> {
    Router::new()
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth2/authorize/resume", get(authorize::resume))
        .route("/oauth2/par", post(par::push))
        .route(
            "/oauth2/userinfo",
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(
            "/oauth2/logout",
            get(logout::logout_get).post(logout::logout_post),
        )
        .merge(compat::routes())
}

/// How long lapsed requests and codes are kept before [`purge_lapsed`] deletes them (a day,
/// so that a late replay is still recognised as one for a while).
const KEEP_LAPSED_SECS: i64 = 24 * 3600;
/// How long settled back-channel notices are kept, for the operator to look into.
const KEEP_NOTICES_SECS: i64 = 30 * 24 * 3600;

/// Deletes what the browser flow no longer needs: authorization requests, pushed requests and
/// codes that lapsed over a day ago, refresh tokens past their expiry by as long, and
/// back-channel notices settled a month ago. Safe on every node at once. Returns the number
/// of rows deleted.
pub async fn purge_lapsed(idp: &Idp) -> Result<u64, IdpError> {
    let ctx = idp.ctx();
    let now = ctx.clock.unix();
    let lapsed = now - KEEP_LAPSED_SECS;
    let settled = now - KEEP_NOTICES_SECS;
    let mut deleted = 0;
    for (sql, cutoff) in [
        (
            "DELETE FROM idp_auth_requests WHERE expires_at < $1",
            lapsed,
        ),
        (
            "DELETE FROM idp_pushed_requests WHERE expires_at < $1",
            lapsed,
        ),
        ("DELETE FROM idp_codes WHERE expires_at < $1", lapsed),
        (
            "DELETE FROM idp_refresh_tokens WHERE expires_at < $1",
            lapsed,
        ),
        (
            "DELETE FROM idp_backchannel_deliveries \
             WHERE delivered_at < $1 OR abandoned_at < $1",
            settled,
        ),
    ] {
        deleted += sqlx::query(sql)
            .bind(cutoff)
            .execute(ctx.db.pool())
            .await?
            .rows_affected();
    }
    Ok(deleted)
}

pub use clave_common::http::cookie;

/// The citizen's live session in this browser, if any.
pub async fn current_session(idp: &Idp, headers: &HeaderMap) -> Result<Option<Session>, IdpError> {
    match cookie(headers, crate::session::COOKIE) {
        Some(value) => idp.sessions().from_cookie(value).await,
        None => Ok(None),
    }
}

/// The digest of the session cookie the browser sent, if any.
pub fn session_cookie_digest(headers: &HeaderMap) -> Option<String> {
    cookie(headers, crate::session::COOKIE).map(clave_common::id::token_digest)
}

/// The browser's binding cookie ([`crate::authreq::BROWSER_COOKIE`]), if sent.
pub fn browser_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, crate::authreq::BROWSER_COOKIE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lapsed_rows_are_purged_after_a_day() {
        let (idp, clock, _dir) = crate::oidc::testing::test_idp().await;
        let (_, session, _, request) = testing::authorized(&idp).await;
        let code = grants::issue_code(&idp, &request, &session, None)
            .await
            .unwrap();
        assert!(code.is_some());
        assert_eq!(purge_lapsed(&idp).await.unwrap(), 0);
        clock.advance(time::Duration::seconds(
            request.expires_at - request.created_at + KEEP_LAPSED_SECS + 1,
        ));
        // The request and its code.
        assert_eq!(purge_lapsed(&idp).await.unwrap(), 2);
        assert_eq!(purge_lapsed(&idp).await.unwrap(), 0);
    }
}
