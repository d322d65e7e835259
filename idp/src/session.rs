//! Browser sessions: what single sign-on rests on.
//!
//! The `clave_session` cookie holds a random 256-bit token; the database keeps only its
//! SHA-256, so a copy of the database cannot be replayed as cookies. A session records when
//! and how the citizen authenticated (`auth_time`, `acr`, `amr`) for the ID tokens issued
//! under it, lives `tokens.session_ttl_secs`, and ends on logout, on expiry, or when the
//! operator or the citizen ends it. Creation and end are journaled.

use clave_common::id::{new_id, random_token, token_digest};
use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::json;

use crate::{Idp, IdpError};

/// The name of the session cookie.
pub const COOKIE: &str = "clave_session";

/// Level of assurance 1: something the citizen knows (the password).
pub const LOA_1: &str = "urn:clave:loa:1";
/// Level of assurance 2: password and a one-time code (TOTP).
pub const LOA_2: &str = "urn:clave:loa:2";
/// Level of assurance 3: a phishing-resistant authenticator (passkey).
pub const LOA_3: &str = "urn:clave:loa:3";

/// How the citizen authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    /// The level of assurance reached, one of [`LOA_1`], [`LOA_2`], [`LOA_3`].
    pub acr: String,
    /// Authentication method references (RFC 8176), e.g. `["pwd"]` or `["pwd", "otp"]`.
    pub amr: Vec<String>,
}

impl Authentication {
    /// A login with the password alone.
    pub fn password() -> Self {
        Self {
            acr: LOA_1.into(),
            amr: vec!["pwd".into()],
        }
    }
}

/// What the browser told us about itself, kept so the citizen can recognise a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientMeta {
    /// The `User-Agent` header, shortened.
    pub user_agent: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
}

/// The longest `User-Agent` kept.
const MAX_USER_AGENT: usize = 256;

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The session id (the `sid` claim).
    pub id: String,
    /// The citizen.
    pub account_id: String,
    /// When the session began.
    pub created_at: i64,
    /// When the citizen last authenticated in it.
    pub auth_time: i64,
    /// The level of assurance of that authentication.
    pub acr: String,
    /// The methods used.
    pub amr: Vec<String>,
    /// When it expires.
    pub expires_at: i64,
    /// When it ended, if it has.
    pub ended_at: Option<i64>,
    /// Why it ended (`logout`, `replaced`, `ended_by_citizen`, …).
    pub ended_reason: Option<String>,
    /// The browser's `User-Agent`.
    pub user_agent: Option<String>,
    /// The address it was created from.
    pub ip: Option<String>,
}

impl Session {
    /// Whether the session can still be used at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.ended_at.is_none() && self.expires_at > now
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    account_id: String,
    created_at: i64,
    auth_time: i64,
    acr: String,
    amr: String,
    expires_at: i64,
    ended_at: Option<i64>,
    ended_reason: Option<String>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            account_id: row.account_id,
            created_at: row.created_at,
            auth_time: row.auth_time,
            acr: row.acr,
            // Written by this module as a JSON array; anything else reads as no methods.
            amr: serde_json::from_str(&row.amr).unwrap_or_default(),
            expires_at: row.expires_at,
            ended_at: row.ended_at,
            ended_reason: row.ended_reason,
            user_agent: row.user_agent,
            ip: row.ip,
        }
    }
}

const COLUMNS: &str = "id, account_id, created_at, auth_time, acr, amr, expires_at, ended_at, \
                       ended_reason, user_agent, ip";

/// The `Set-Cookie` value that gives the browser its session token.
pub fn cookie_header(token: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie_header(secure: bool) -> String {
    cookie_header("", 0, secure)
}

/// The session service.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    idp: &'a Idp,
}

impl Idp {
    /// Browser sessions.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { idp: self }
    }
}

impl Sessions<'_> {
    /// Starts a session for `account_id`, journaled as `session.created`. Returns the session
    /// and the token for the cookie (see [`cookie_header`]); the token is not stored.
    pub async fn create(
        &self,
        account_id: &str,
        authentication: Authentication,
        client: ClientMeta,
    ) -> Result<(Session, String), IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let token = random_token(32);
        let session = Session {
            id: new_id(),
            account_id: account_id.to_owned(),
            created_at: at,
            auth_time: at,
            acr: authentication.acr,
            amr: authentication.amr,
            expires_at: at + ctx.config.tokens.session_ttl_secs,
            ended_at: None,
            ended_reason: None,
            user_agent: client.user_agent.map(|ua| truncate(&ua, MAX_USER_AGENT)),
            ip: client.ip,
        };
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO idp_sessions (id, account_id, token_digest, created_at, auth_time, acr, amr, \
             expires_at, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&session.id)
        .bind(&session.account_id)
        .bind(token_digest(&token))
        .bind(session.created_at)
        .bind(session.auth_time)
        .bind(&session.acr)
        .bind(amr_json(&session.amr))
        .bind(session.expires_at)
        .bind(session.user_agent.as_deref())
        .bind(session.ip.as_deref())
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("session.created")
            .actor(&session.account_id)
            .subject(&session.account_id)
            .data(json!({
                "session_id": session.id,
                "acr": session.acr,
                "amr": session.amr,
                "ip": session.ip,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok((session, token))
    }

    /// Records a fresh authentication in an active session (a forced re-login, or a step-up)
    /// and replaces its token, so a token seen before the re-authentication is worth nothing.
    /// The session id stays, keeping single sign-on with the services already using it.
    /// Returns the updated session and the new cookie token, or `None` if the session is no
    /// longer active.
    pub async fn reauthenticate(
        &self,
        session_id: &str,
        authentication: Authentication,
    ) -> Result<Option<(Session, String)>, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let token = random_token(32);
        let mut tx = ctx.db.begin().await?;
        let updated = sqlx::query(
            "UPDATE idp_sessions SET token_digest = $2, auth_time = $3, acr = $4, amr = $5, expires_at = $6 \
             WHERE id = $1 AND ended_at IS NULL AND expires_at > $3",
        )
        .bind(session_id)
        .bind(token_digest(&token))
        .bind(at)
        .bind(&authentication.acr)
        .bind(amr_json(&authentication.amr))
        .bind(at + ctx.config.tokens.session_ttl_secs)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row: SessionRow =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM idp_sessions WHERE id = $1"))
                .bind(session_id)
                .fetch_one(&mut *tx)
                .await?;
        let session = Session::from(row);
        let event = NewEvent::new("session.reauthenticated")
            .actor(&session.account_id)
            .subject(&session.account_id)
            .data(json!({ "session_id": session.id, "acr": session.acr, "amr": session.amr }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(Some((session, token)))
    }

    /// The active session a cookie value stands for, if any.
    pub async fn from_cookie(&self, token: &str) -> Result<Option<Session>, IdpError> {
        // Tokens are 43 characters; anything far off is not worth a query.
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        let ctx = self.idp.ctx();
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM idp_sessions \
             WHERE token_digest = $1 AND ended_at IS NULL AND expires_at > $2"
        ))
        .bind(token_digest(token))
        .bind(ctx.clock.unix())
        .fetch_optional(ctx.db.pool())
        .await?;
        Ok(row.map(Session::from))
    }

    /// A session by id, active or not.
    pub async fn get(&self, session_id: &str) -> Result<Option<Session>, IdpError> {
        let row: Option<SessionRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM idp_sessions WHERE id = $1"))
                .bind(session_id)
                .fetch_optional(self.idp.ctx().db.pool())
                .await?;
        Ok(row.map(Session::from))
    }

    /// The active sessions of an account, newest first.
    pub async fn list_active(&self, account_id: &str) -> Result<Vec<Session>, IdpError> {
        let ctx = self.idp.ctx();
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM idp_sessions \
             WHERE account_id = $1 AND ended_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(account_id)
        .bind(ctx.clock.unix())
        .fetch_all(ctx.db.pool())
        .await?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    /// Ends a session, journaled as `session.ended` with `reason`. Returns the session if it
    /// was active (and so was ended by this call), `None` if it was unknown, expired or
    /// already ended: exactly one of several concurrent calls gets it.
    pub async fn end(&self, session_id: &str, reason: &str) -> Result<Option<Session>, IdpError> {
        let ctx = self.idp.ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let mut tx = ctx.db.begin().await?;
        let ended = sqlx::query(
            "UPDATE idp_sessions SET ended_at = $2, ended_reason = $3 \
             WHERE id = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(session_id)
        .bind(at)
        .bind(reason)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if ended != 1 {
            tx.rollback().await?;
            return Ok(None);
        }
        let row: SessionRow =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM idp_sessions WHERE id = $1"))
                .bind(session_id)
                .fetch_one(&mut *tx)
                .await?;
        let session = Session::from(row);
        journal_ended(&mut tx, now, &session, reason).await?;
        // Whatever ended it (logout, a new citizen on the browser, "sign out everywhere"),
        // the session's grants die with it and its services hear of it, in the same commit.
        crate::oidc::flow::backchannel::on_session_ended(self.idp, &mut tx, &session).await?;
        tx.commit().await?;
        Ok(Some(session))
    }

    /// Ends every active session of an account (after a password change, or at the citizen's
    /// or an operator's request). Returns the sessions ended.
    pub async fn end_all(&self, account_id: &str, reason: &str) -> Result<Vec<Session>, IdpError> {
        let mut ended = Vec::new();
        for session in self.list_active(account_id).await? {
            if let Some(session) = self.end(&session.id, reason).await? {
                ended.push(session);
            }
        }
        Ok(ended)
    }
}

async fn journal_ended(
    tx: &mut clave_common::Tx,
    now: time::OffsetDateTime,
    session: &Session,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let event = NewEvent::new("session.ended")
        .subject(&session.account_id)
        .data(json!({ "session_id": session.id, "reason": reason }));
    journal::append(tx, now, &event).await?;
    Ok(())
}

fn amr_json(amr: &[String]) -> String {
    serde_json::Value::from(amr.to_vec()).to_string()
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::NewCitizen;
    use crate::accounts::testing::TestIdp;

    async fn citizen(t: &TestIdp) -> String {
        t.idp
            .accounts()
            .create(NewCitizen {
                run: clave_common::Run::parse("12.345.678-5").unwrap(),
                given_names: "María Carmen".into(),
                family_names: "Del Río González".into(),
                email: None,
                password: None,
            })
            .await
            .unwrap()
            .id
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_only_over_tls() {
        let plain = cookie_header("tok", 3600, false);
        assert_eq!(
            plain,
            "clave_session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"
        );
        assert!(cookie_header("tok", 3600, true).ends_with("; Secure"));
        assert!(clear_cookie_header(false).contains("Max-Age=0"));
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_until_it_expires() {
        let t = TestIdp::new().await;
        let account = citizen(&t).await;
        let (session, token) = t
            .idp
            .sessions()
            .create(&account, Authentication::password(), ClientMeta::default())
            .await
            .unwrap();
        assert_eq!(session.acr, LOA_1);
        assert_eq!(session.amr, vec!["pwd".to_owned()]);
        let found = t.idp.sessions().from_cookie(&token).await.unwrap().unwrap();
        assert_eq!(found, session);
        assert!(
            t.idp
                .sessions()
                .from_cookie("forged")
                .await
                .unwrap()
                .is_none()
        );

        // One second before the lifetime ends it is still there; at the end it is gone.
        let ttl = t.idp.ctx().config.tokens.session_ttl_secs;
        t.clock.advance(time::Duration::seconds(ttl - 1));
        assert!(
            t.idp
                .sessions()
                .from_cookie(&token)
                .await
                .unwrap()
                .is_some()
        );
        t.clock.advance(time::Duration::seconds(1));
        assert!(
            t.idp
                .sessions()
                .from_cookie(&token)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            t.idp
                .sessions()
                .list_active(&account)
                .await
                .unwrap()
                .is_empty()
        );
        // An expired session cannot be ended (it already has).
        assert!(
            t.idp
                .sessions()
                .end(&session.id, "logout")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn ending_is_journaled_once_and_end_all_returns_what_it_ended() {
        let t = TestIdp::new().await;
        let account = citizen(&t).await;
        let sessions = t.idp.sessions();
        let (first, first_token) = sessions
            .create(&account, Authentication::password(), ClientMeta::default())
            .await
            .unwrap();
        let (second, _) = sessions
            .create(&account, Authentication::password(), ClientMeta::default())
            .await
            .unwrap();
        let (third, _) = sessions
            .create(&account, Authentication::password(), ClientMeta::default())
            .await
            .unwrap();

        let ended = sessions.end(&first.id, "logout").await.unwrap().unwrap();
        assert_eq!(ended.ended_reason.as_deref(), Some("logout"));
        assert!(sessions.end(&first.id, "logout").await.unwrap().is_none());
        assert!(sessions.from_cookie(&first_token).await.unwrap().is_none());

        let mut all: Vec<String> = sessions
            .end_all(&account, "password_changed")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        all.sort();
        let mut expected = vec![second.id, third.id];
        expected.sort();
        assert_eq!(all, expected);

        let journal = t
            .idp
            .ctx()
            .journal
            .list(clave_common::journal::JournalFilter {
                kind: Some("session.ended".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(journal.len(), 3);
        assert_eq!(journal[0].data["reason"], "logout");
    }

    #[tokio::test]
    async fn reauthentication_keeps_the_id_and_replaces_the_token() {
        let t = TestIdp::new().await;
        let account = citizen(&t).await;
        let sessions = t.idp.sessions();
        let (session, old_token) = sessions
            .create(&account, Authentication::password(), ClientMeta::default())
            .await
            .unwrap();
        t.clock.advance(time::Duration::seconds(600));
        let (again, new_token) = sessions
            .reauthenticate(&session.id, Authentication::password())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, session.id);
        assert_eq!(again.auth_time, session.auth_time + 600);
        assert!(sessions.from_cookie(&old_token).await.unwrap().is_none());
        assert_eq!(
            sessions.from_cookie(&new_token).await.unwrap().unwrap().id,
            session.id
        );
    }
}
