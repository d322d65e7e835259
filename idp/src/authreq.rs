//! Pending authorization requests: a validated `/oauth2/authorize` request kept in the
//! database while the citizen logs in and approves, so that any node can continue it.
//!
//! A request is bound to the browser that started it: the browser holds a random value in the
//! [`BROWSER_COOKIE`] cookie and the request keeps that value's digest. Resuming a request
//! from another browser (someone else's request id in a link) is refused, so a citizen can
//! never be made to complete an authorization an attacker started.

use clave_common::id::token_digest;
use subtle::ConstantTimeEq;

use crate::{Ctx, Idp, IdpError};

/// The cookie binding pending authorization requests to the browser that made them.
pub const BROWSER_COOKIE: &str = "clave_browser";

/// How long a citizen has to log in and approve before the request lapses.
pub const AUTH_REQUEST_TTL_SECS: i64 = 30 * 60;

/// How the authorization response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    /// Parameters in the redirect URI's query (the default for `response_type=code`).
    Query,
    /// An auto-submitted HTML form POSTed to the redirect URI (OAuth 2.0 Form Post).
    FormPost,
}

impl ResponseMode {
    /// The value of the `response_mode` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }

    /// Reads a `response_mode` value; `None` for a mode clave does not offer.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "query" => Some(Self::Query),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }
}

/// One value of the `prompt` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// Show nothing: answer at once or fail with `login_required` / `consent_required`.
    None,
    /// Ask for the password again even with a live session.
    Login,
    /// Ask for approval again even when it was given before.
    Consent,
}

impl Prompt {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Login => "login",
            Self::Consent => "consent",
        }
    }

    /// Reads one `prompt` value; `None` for a value clave does not know.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "login" => Some(Self::Login),
            "consent" => Some(Self::Consent),
            _ => None,
        }
    }
}

/// A validated authorization request waiting for the citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The request's id, carried as `req=` through the login and consent pages.
    pub id: String,
    /// The client that asked.
    pub client_id: String,
    /// The client's name, for the pages.
    pub client_name: String,
    /// Where the response goes (a URI registered for the client).
    pub redirect_uri: String,
    /// Whether the request named `redirect_uri` (then the token request must repeat it).
    pub redirect_uri_given: bool,
    /// The requested scopes, space separated.
    pub scope: String,
    /// The client's opaque `state`, echoed back.
    pub state: Option<String>,
    /// The client's `nonce`, put into the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// How the response is delivered.
    pub response_mode: ResponseMode,
    /// The `prompt` values.
    pub prompt: Vec<Prompt>,
    /// The most seconds since the citizen last typed the password that the client accepts.
    pub max_age: Option<i64>,
    /// Who the client thinks is logging in (a RUN), to prefill the login form.
    pub login_hint: Option<String>,
    /// The requested authentication levels, space separated, preferred first.
    pub acr_values: Option<String>,
    /// The client's preferred page languages, space separated.
    pub ui_locales: Option<String>,
    /// The digest of the session cookie the browser had when the request came, if any.
    pub prior_session_digest: Option<String>,
    /// The `authorization_details` (RFC 9396) as sent, checked by the claims provider.
    pub authorization_details: Option<String>,
    /// The lowest level of assurance the requested data needs, beyond the client's own.
    pub min_acr: Option<String>,
    /// The `sub` of the request's `id_token_hint`: who the client expects to be signed in.
    pub hint_subject: Option<String>,
    /// When the citizen approved the scopes during this request.
    pub consented_at: Option<i64>,
    /// The consent the citizen gave during this request, as the claims provider named it.
    pub consent_ref: Option<String>,
    /// When the request was made.
    pub created_at: i64,
    /// When it lapses.
    pub expires_at: i64,
}

impl AuthRequest {
    /// The requested scopes, one by one.
    pub fn scopes(&self) -> Vec<String> {
        crate::claims::scope_list(&self.scope)
    }

    /// Whether `prompt` includes `value`.
    pub fn prompts(&self, value: Prompt) -> bool {
        self.prompt.contains(&value)
    }
}

#[derive(sqlx::FromRow)]
struct AuthRequestRow {
    id: String,
    client_id: String,
    client_name: String,
    redirect_uri: String,
    // Read as an integer: the Any driver cannot decode SQLite's BOOLEAN.
    redirect_uri_given: i64,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    response_mode: String,
    prompt: String,
    max_age: Option<i64>,
    login_hint: Option<String>,
    acr_values: Option<String>,
    ui_locales: Option<String>,
    browser_digest: String,
    prior_session_digest: Option<String>,
    authorization_details: Option<String>,
    min_acr: Option<String>,
    hint_subject: Option<String>,
    consented_at: Option<i64>,
    consent_ref: Option<String>,
    created_at: i64,
    expires_at: i64,
}

impl AuthRequestRow {
    fn into_request(self) -> AuthRequest {
        AuthRequest {
            id: self.id,
            client_id: self.client_id,
            client_name: self.client_name,
            redirect_uri: self.redirect_uri,
            redirect_uri_given: self.redirect_uri_given != 0,
            scope: self.scope,
            state: self.state,
            nonce: self.nonce,
            code_challenge: self.code_challenge,
            response_mode: ResponseMode::parse(&self.response_mode).unwrap_or(ResponseMode::Query),
            prompt: self.prompt.split(' ').filter_map(Prompt::parse).collect(),
            max_age: self.max_age,
            login_hint: self.login_hint,
            acr_values: self.acr_values,
            ui_locales: self.ui_locales,
            prior_session_digest: self.prior_session_digest,
            authorization_details: self.authorization_details,
            min_acr: self.min_acr,
            hint_subject: self.hint_subject,
            consented_at: self.consented_at,
            consent_ref: self.consent_ref,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

const SELECT_PENDING: &str = "SELECT id, client_id, client_name, redirect_uri, \
     CAST(redirect_uri_given AS INTEGER) AS redirect_uri_given, \
     scope, state, nonce, code_challenge, response_mode, prompt, max_age, login_hint, acr_values, \
     ui_locales, browser_digest, prior_session_digest, authorization_details, min_acr, \
     hint_subject, consented_at, consent_ref, created_at, expires_at \
     FROM idp_auth_requests WHERE id = $1 AND completed_at IS NULL AND expires_at > $2";

/// The pending authorization requests.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequests<'a> {
    ctx: &'a Ctx,
}

impl Idp {
    /// The pending authorization requests.
    pub fn auth_requests(&self) -> AuthRequests<'_> {
        AuthRequests { ctx: self.ctx() }
    }
}

impl AuthRequests<'_> {
    /// A request still waiting for the citizen (not completed, not lapsed).
    pub async fn get(&self, id: &str) -> Result<Option<AuthRequest>, IdpError> {
        Ok(self
            .pending_row(id)
            .await?
            .map(AuthRequestRow::into_request))
    }

    /// A pending request, only if `browser_cookie` is the value of the [`BROWSER_COOKIE`] of
    /// the browser that made it.
    pub async fn get_for_browser(
        &self,
        id: &str,
        browser_cookie: Option<&str>,
    ) -> Result<Option<AuthRequest>, IdpError> {
        let Some(cookie) = browser_cookie else {
            return Ok(None);
        };
        let Some(row) = self.pending_row(id).await? else {
            return Ok(None);
        };
        let presented = token_digest(cookie);
        if bool::from(presented.as_bytes().ct_eq(row.browser_digest.as_bytes())) {
            Ok(Some(row.into_request()))
        } else {
            Ok(None)
        }
    }

    async fn pending_row(&self, id: &str) -> Result<Option<AuthRequestRow>, IdpError> {
        // Ids are UUIDs; anything else (a NUL, which PostgreSQL cannot even compare) is unknown.
        if id.is_empty() || id.len() > 64 || id.contains('\0') {
            return Ok(None);
        }
        Ok(sqlx::query_as::<_, AuthRequestRow>(SELECT_PENDING)
            .bind(id)
            .bind(self.ctx.clock.unix())
            .fetch_optional(self.ctx.db.pool())
            .await?)
    }

    /// Keeps a validated request, bound to the browser whose cookie value is `browser_cookie`.
    pub(crate) async fn store(
        &self,
        request: &AuthRequest,
        browser_cookie: &str,
    ) -> Result<(), IdpError> {
        let prompt: Vec<&str> = request.prompt.iter().map(|p| p.as_str()).collect();
        sqlx::query(
            "INSERT INTO idp_auth_requests (id, client_id, client_name, redirect_uri, \
             redirect_uri_given, scope, state, nonce, code_challenge, response_mode, prompt, \
             max_age, login_hint, acr_values, ui_locales, browser_digest, prior_session_digest, \
             authorization_details, min_acr, hint_subject, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22)",
        )
        .bind(&request.id)
        .bind(&request.client_id)
        .bind(&request.client_name)
        .bind(&request.redirect_uri)
        .bind(request.redirect_uri_given)
        .bind(&request.scope)
        .bind(&request.state)
        .bind(&request.nonce)
        .bind(&request.code_challenge)
        .bind(request.response_mode.as_str())
        .bind(prompt.join(" "))
        .bind(request.max_age)
        .bind(&request.login_hint)
        .bind(&request.acr_values)
        .bind(&request.ui_locales)
        .bind(token_digest(browser_cookie))
        .bind(&request.prior_session_digest)
        .bind(&request.authorization_details)
        .bind(&request.min_acr)
        .bind(&request.hint_subject)
        .bind(request.created_at)
        .bind(request.expires_at)
        .execute(self.ctx.db.pool())
        .await?;
        Ok(())
    }

    /// Records that the citizen approved the scopes during this request (under the claims
    /// provider's consent `consent_ref`, if it made one), so `prompt=consent` is satisfied
    /// and the consent page is not shown again when the request resumes.
    pub(crate) async fn mark_consented(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
        consent_ref: Option<&str>,
    ) -> Result<(), IdpError> {
        sqlx::query(
            "UPDATE idp_auth_requests SET consented_at = $1, consent_ref = $2 WHERE id = $3",
        )
        .bind(self.ctx.clock.unix())
        .bind(consent_ref)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Closes a request. Only one caller wins: `false` means it was already completed (a
    /// double submit, or another node), or has lapsed.
    pub(crate) async fn complete(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<bool, IdpError> {
        let now = self.ctx.clock.unix();
        let done = sqlx::query(
            "UPDATE idp_auth_requests SET completed_at = $1 \
             WHERE id = $2 AND completed_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::flow::testing::authorized;
    use crate::oidc::testing::test_idp;

    #[tokio::test]
    async fn a_stored_request_is_found_only_while_pending_and_only_by_its_browser() {
        let (idp, clock, _dir) = test_idp().await;
        let (_, _, _, request) = authorized(&idp).await;
        let requests = idp.auth_requests();
        assert_eq!(
            requests.get(&request.id).await.unwrap(),
            Some(request.clone())
        );
        assert_eq!(
            requests
                .get_for_browser(&request.id, Some("browser"))
                .await
                .unwrap(),
            Some(request.clone())
        );
        assert_eq!(
            requests
                .get_for_browser(&request.id, Some("other"))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            requests.get_for_browser(&request.id, None).await.unwrap(),
            None
        );
        let mut conn = idp.ctx().db.pool().acquire().await.unwrap();
        assert!(requests.complete(&mut conn, &request.id).await.unwrap());
        assert!(!requests.complete(&mut conn, &request.id).await.unwrap());
        assert_eq!(requests.get(&request.id).await.unwrap(), None);
        drop(conn);
        let lapsing = AuthRequest {
            id: clave_common::id::new_id(),
            ..request
        };
        requests.store(&lapsing, "browser").await.unwrap();
        assert!(requests.get(&lapsing.id).await.unwrap().is_some());
        clock.advance(time::Duration::seconds(
            lapsing.expires_at - lapsing.created_at,
        ));
        assert_eq!(requests.get(&lapsing.id).await.unwrap(), None);
    }

    #[test]
    fn modes_and_prompts_round_trip() {
        for mode in [ResponseMode::Query, ResponseMode::FormPost] {
            assert_eq!(ResponseMode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(ResponseMode::parse("fragment"), None);
        for prompt in [Prompt::None, Prompt::Login, Prompt::Consent] {
            assert_eq!(Prompt::parse(prompt.as_str()), Some(prompt));
        }
        assert_eq!(Prompt::parse("select_account"), None);
    }
}
