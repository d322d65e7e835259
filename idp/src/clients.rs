//! Registered clients: the services (relying parties and service accounts) that use clave.
//!
//! A client is registered by the operator (`clave client add`) with its exact redirect URIs,
//! the scopes it may request and the grants it may use. Confidential clients authenticate with
//! a secret of 256 random bits that is shown once and stored only as a keyed digest (an HMAC
//! under the master key: a slow password hash adds nothing for random secrets and would cap
//! token throughput), or with `private_key_jwt` against a JWK Set registered with them. Public
//! clients (apps that cannot keep a secret) have no secret and must use PKCE.
//!
//! Clients are never deleted: removal marks the row and revokes every grant the client holds,
//! so its tokens stop working and its history stays readable. How clients prove who they are
//! at the token endpoint is in [`auth`].

use std::sync::Arc;

use clave_common::id::{random_identifier, random_token};
use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::FromRow;
use sqlx::any::AnyRow;

use crate::accounts::Account;
use crate::keys::{SigningAlg, SubjectKey};
use crate::{Ctx, Idp, IdpError};

pub mod auth;
mod manage;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod validate;

/// Every scope a client may be registered for. Extend this list when a new scope is defined
/// (the wallet's scopes, for example); registration refuses anything else.
pub const KNOWN_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "run",
    "name",
    "offline_access",
    // The data wallet's APIs; the scopes that release attributes come from its catalogue.
    "wallet",
    "wallet:read",
    "wallet:publish",
    // The citizen mailbox: agencies send notices; citizens read theirs.
    "mailbox",
    "mailbox:send",
    // Remote signing (the CSC API): a signer's own token.
    "sign",
    // Services asking citizens and officials for signatures.
    "sign:request",
];

/// Scopes a client with redirect URIs gets when the operator names none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email"];

/// The authorization code grant (browser login).
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";
/// The refresh token grant.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";
/// The client credentials grant (service to service).
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// Every grant type clave supports.
pub const KNOWN_GRANTS: &[&str] = &[
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
];

/// The keyed-digest purpose of client secrets.
const SECRET_PURPOSE: &str = "client-secret";

/// How the `sub` claim is chosen for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// A different, unlinkable `sub` per sector (the default).
    Pairwise,
    /// The account id itself, the same for every client that asks for it.
    Public,
}

impl SubjectType {
    /// The registration value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Public => "public",
        }
    }

    /// Parses a registration value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pairwise" => Some(Self::Pairwise),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// How a client authenticates at the token, introspection, revocation and PAR endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A secret in HTTP Basic (`client_secret_post` is accepted too).
    ClientSecretBasic,
    /// A JWT signed with one of the client's registered keys (RFC 7523).
    PrivateKeyJwt,
    /// No authentication: a public client.
    None,
}

impl AuthMethod {
    /// The registration value (RFC 7591 names).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// A registered client.
#[derive(Debug, Clone, Serialize)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// The service's name, shown to citizens on the login and consent pages.
    pub name: String,
    /// Redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// Whether the client cannot keep a secret (then it uses PKCE and no client
    /// authentication).
    pub public: bool,
    /// The scopes it may request.
    pub scopes: Vec<String>,
    /// The grant types it may use.
    pub grant_types: Vec<String>,
    /// How its `sub` is chosen.
    pub subject_type: SubjectType,
    /// The sector its pairwise subjects are derived for; clients sharing a sector see the
    /// same `sub` for a citizen. Defaults to the client id.
    pub sector: String,
    /// Where back-channel logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// Whether authorization requests must come through PAR.
    pub require_par: bool,
    /// The algorithm of its ID tokens.
    pub id_token_alg: SigningAlg,
    /// The lowest level of assurance it accepts, if any.
    pub min_acr: Option<String>,
    /// How it authenticates.
    pub token_endpoint_auth_method: AuthMethod,
    /// Its public keys for `private_key_jwt` (a JWK Set).
    pub jwks: Option<Value>,
    /// Where its public keys are published (recorded; keys are read from `jwks`).
    pub jwks_uri: Option<String>,
    /// When it was registered.
    pub created_at: i64,
    /// When its registration or secret last changed.
    pub updated_at: i64,
    #[serde(skip)]
    subjects: Arc<SubjectKey>,
}

impl Client {
    /// The `sub` this client knows `account` by.
    pub fn subject_for(&self, account: &Account) -> String {
        self.subject_for_account(&account.id)
    }

    /// The `sub` this client knows the account `account_id` by: pairwise (a keyed digest of
    /// the sector and the account id, stable and unlinkable across sectors) or public (the
    /// account id).
    pub fn subject_for_account(&self, account_id: &str) -> String {
        match self.subject_type {
            SubjectType::Pairwise => self.subjects.subject(&self.sector, account_id),
            SubjectType::Public => account_id.to_owned(),
        }
    }

    /// The `sid` this client knows a session by: a keyed digest per sector, like a pairwise
    /// `sub`, so services sharing one single sign-on session cannot join their subjects
    /// through it.
    pub fn sid_for(&self, session_id: &str) -> String {
        self.subjects
            .subject(&format!("sid:{}", self.sector), session_id)
    }

    /// Whether the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether the client is registered for `scope`.
    pub fn allows_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// What the operator registers.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// The service's name.
    pub name: String,
    /// Redirect URIs (none for a pure service client).
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// The scopes it may request; empty means [`DEFAULT_SCOPES`] for clients with redirect
    /// URIs and none for service clients.
    pub scopes: Vec<String>,
    /// Grants beyond the ones its redirect URIs imply (`client_credentials`).
    pub grants: Vec<String>,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// `public` or `pairwise` (default).
    pub subject_type: Option<SubjectType>,
    /// The pairwise sector (default: the client id).
    pub sector: Option<String>,
    /// ID token algorithm (default ES256).
    pub id_token_alg: Option<SigningAlg>,
    /// Requests must come through PAR.
    pub require_par: bool,
    /// Lowest acceptable level of assurance.
    pub min_acr: Option<String>,
    /// A JWK Set for `private_key_jwt`; such a client gets no secret.
    pub jwks: Option<Value>,
    /// Where the JWK Set is published (recorded only).
    pub jwks_uri: Option<String>,
}

/// A newly registered client and its secret, which is shown this once.
#[derive(Debug, Clone)]
pub struct RegisteredClient {
    /// The client.
    pub client: Client,
    /// The secret, for clients that authenticate with one.
    pub client_secret: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_digest: Option<String>,
    public: i64,
    token_endpoint_auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    grant_types: String,
    subject_type: String,
    sector: String,
    backchannel_logout_uri: Option<String>,
    require_par: i64,
    id_token_alg: String,
    min_acr: Option<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "client_id, name, secret_digest, public, token_endpoint_auth_method, \
    redirect_uris, post_logout_redirect_uris, scopes, grant_types, subject_type, sector, \
    backchannel_logout_uri, require_par, id_token_alg, min_acr, jwks, jwks_uri, created_at, updated_at";

/// [`COLUMNS`] for reading: the Any driver cannot decode SQLite's BOOLEAN columns, so they are
/// read as integers on both backends.
pub(crate) const SELECT_COLUMNS: &str = "client_id, name, secret_digest, CAST(public AS INTEGER) AS public, \
    token_endpoint_auth_method, redirect_uris, post_logout_redirect_uris, scopes, grant_types, \
    subject_type, sector, backchannel_logout_uri, CAST(require_par AS INTEGER) AS require_par, \
    id_token_alg, min_acr, jwks, jwks_uri, created_at, updated_at";

fn corrupt(client_id: &str, what: &str) -> IdpError {
    IdpError::Internal(format!("stored client {client_id} has a corrupt {what}"))
}

fn list_of(client_id: &str, what: &str, text: &str) -> Result<Vec<String>, IdpError> {
    serde_json::from_str(text).map_err(|_| corrupt(client_id, what))
}

impl ClientRow {
    fn into_client(self, subjects: Arc<SubjectKey>) -> Result<(Client, Option<String>), IdpError> {
        let id = self.client_id.as_str();
        let jwks = match &self.jwks {
            Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt(id, "jwks"))?),
            None => None,
        };
        let client = Client {
            redirect_uris: list_of(id, "redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: list_of(
                id,
                "post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            scopes: list_of(id, "scopes", &self.scopes)?,
            grant_types: list_of(id, "grant_types", &self.grant_types)?,
            subject_type: SubjectType::parse(&self.subject_type)
                .ok_or_else(|| corrupt(id, "subject_type"))?,
            id_token_alg: SigningAlg::parse(&self.id_token_alg)
                .ok_or_else(|| corrupt(id, "id_token_alg"))?,
            token_endpoint_auth_method: AuthMethod::parse(&self.token_endpoint_auth_method)
                .ok_or_else(|| corrupt(id, "token_endpoint_auth_method"))?,
            jwks,
            client_id: self.client_id,
            name: self.name,
            public: self.public != 0,
            sector: self.sector,
            backchannel_logout_uri: self.backchannel_logout_uri,
            require_par: self.require_par != 0,
            min_acr: self.min_acr,
            jwks_uri: self.jwks_uri,
            created_at: self.created_at,
            updated_at: self.updated_at,
            subjects,
        };
        Ok((client, self.secret_digest))
    }
}

impl Idp {
    /// The registered clients.
    pub fn clients(&self) -> Clients<'_> {
        Clients { idp: self }
    }
}

/// The client registry; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    idp: &'a Idp,
}

/// A statement on the Any driver.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds a checked registration's fields from `redirect_uris` to `jwks_uri`, in [`COLUMNS`]
/// order: what a registration and an edit both store.
fn bind_checked<'q>(
    query: AnyQuery<'q>,
    checked: &'q validate::Checked,
    sector: &'q str,
    jwks_text: Option<&'q str>,
) -> AnyQuery<'q> {
    query
        .bind(to_json(&checked.redirect_uris))
        .bind(to_json(&checked.post_logout_redirect_uris))
        .bind(to_json(&checked.scopes))
        .bind(to_json(&checked.grant_types))
        .bind(checked.subject_type.as_str())
        .bind(sector)
        .bind(checked.backchannel_logout_uri.as_deref())
        .bind(checked.require_par)
        .bind(checked.id_token_alg.as_str())
        .bind(checked.min_acr.as_deref())
        .bind(jwks_text)
        .bind(checked.jwks_uri.as_deref())
}

fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl Clients<'_> {
    fn ctx(&self) -> &Ctx {
        self.idp.ctx()
    }

    /// Checks a registration against the known scopes and the claims provider's.
    async fn check(&self, new: NewClient) -> Result<validate::Checked, IdpError> {
        let data_scopes = self
            .ctx()
            .claims
            .data_scopes(self.idp)
            .await
            .map_err(|e| IdpError::Internal(format!("the claims provider failed: {e}")))?;
        validate::check(new, &data_scopes)
    }

    /// Registers a client after checking every field; journaled as `client.registered`.
    pub async fn register(&self, new: NewClient) -> Result<RegisteredClient, IdpError> {
        self.register_by(new, None, None).await
    }

    /// [`Clients::register`] by `actor` (an administrator's account, journaled with the
    /// event), with the logo citizens see beside the service's name.
    pub async fn register_by(
        &self,
        new: NewClient,
        actor: Option<&str>,
        logo_uri: Option<&str>,
    ) -> Result<RegisteredClient, IdpError> {
        let logo_uri = manage::check_logo(logo_uri)?;
        let checked = self.check(new).await?;
        let client_id = random_identifier(18);
        let secret = checked.has_secret().then(|| random_token(32));
        let digest = secret
            .as_deref()
            .map(|s| self.ctx().master.keyed_digest(SECRET_PURPOSE, s.as_bytes()));
        let sector = checked.sector.clone().unwrap_or_else(|| client_id.clone());
        let now = self.ctx().clock.unix();
        let jwks_text = checked.jwks.as_ref().map(Value::to_string);
        let mut tx = self.ctx().db.begin().await?;
        let sql = format!(
            "INSERT INTO idp_clients ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        );
        let insert = sqlx::query(&sql)
            .bind(&client_id)
            .bind(&checked.name)
            .bind(digest.as_deref())
            .bind(checked.public)
            .bind(checked.auth_method.as_str());
        bind_checked(insert, &checked, &sector, jwks_text.as_deref())
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if let Some(logo) = &logo_uri {
            manage::store_logo(&mut tx, &client_id, logo).await?;
        }
        let mut event = NewEvent::new("client.registered").subject(client_id.clone());
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        journal::append(
            &mut tx,
            self.ctx().clock.now(),
            &event.data(json!({
                "name": checked.name,
                "public": checked.public,
                "redirect_uris": checked.redirect_uris,
                "scopes": checked.scopes,
                "grant_types": checked.grant_types,
                "subject_type": checked.subject_type.as_str(),
                "token_endpoint_auth_method": checked.auth_method.as_str(),
            })),
        )
        .await?;
        tx.commit().await?;
        let client = self
            .get(&client_id)
            .await?
            .ok_or(IdpError::NotFound("client"))?;
        Ok(RegisteredClient {
            client,
            client_secret: secret,
        })
    }

    /// The client with this id, unless unknown or removed.
    pub async fn get(&self, client_id: &str) -> Result<Option<Client>, IdpError> {
        Ok(self
            .get_with_digest(client_id)
            .await?
            .map(|(client, _)| client))
    }

    /// The client in a row that holds [`SELECT_COLUMNS`] under their own names (a join's).
    pub(crate) async fn in_joined_row(&self, row: &AnyRow) -> Result<Client, IdpError> {
        let subjects = self.idp.keys().subject_key().await?;
        Ok(ClientRow::from_row(row)?.into_client(subjects)?.0)
    }

    /// The client and its secret digest.
    async fn get_with_digest(
        &self,
        client_id: &str,
    ) -> Result<Option<(Client, Option<String>)>, IdpError> {
        let row: Option<ClientRow> = sqlx::query_as(&format!(
            "SELECT {SELECT_COLUMNS} FROM idp_clients WHERE client_id = $1 AND removed_at IS NULL"
        ))
        .bind(client_id)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        match row {
            Some(row) => {
                let subjects = self.idp.keys().subject_key().await?;
                Ok(Some(row.into_client(subjects)?))
            }
            None => Ok(None),
        }
    }

    /// The account `client` knows by `subject`, if any: for a public subject the account
    /// itself, for a pairwise one the citizen whose authorization this client's sector redeemed
    /// under that subject (see [`Clients::remember_subject`]).
    pub async fn account_for_subject(
        &self,
        client: &Client,
        subject: &str,
    ) -> Result<Option<String>, IdpError> {
        let found: Option<(String,)> = match client.subject_type {
            SubjectType::Public => {
                sqlx::query_as("SELECT id FROM idp_accounts WHERE id = $1")
                    .bind(subject)
                    .fetch_optional(self.ctx().db.pool())
                    .await?
            }
            SubjectType::Pairwise => {
                sqlx::query_as(
                    "SELECT account_id FROM idp_subjects WHERE sector = $1 AND subject = $2",
                )
                .bind(&client.sector)
                .bind(subject)
                .fetch_optional(self.ctx().db.pool())
                .await?
            }
        };
        Ok(found.map(|(id,)| id))
    }

    /// Records which account `client`'s pairwise subject for `account_id` stands for, so a
    /// later [`Clients::account_for_subject`] finds it. Idempotent.
    pub async fn remember_subject(
        &self,
        conn: &mut sqlx::AnyConnection,
        client: &Client,
        account_id: &str,
    ) -> Result<(), sqlx::Error> {
        if client.subject_type == SubjectType::Public {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO idp_subjects (sector, subject, account_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (sector, subject) DO NOTHING",
        )
        .bind(&client.sector)
        .bind(client.subject_for_account(account_id))
        .bind(account_id)
        .bind(self.ctx().clock.unix())
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Every registered client (removed ones excluded), oldest first.
    pub async fn list(&self) -> Result<Vec<Client>, IdpError> {
        let rows: Vec<ClientRow> = sqlx::query_as(&format!(
            "SELECT {SELECT_COLUMNS} FROM idp_clients WHERE removed_at IS NULL ORDER BY created_at, client_id"
        ))
        .fetch_all(self.ctx().db.pool())
        .await?;
        let subjects = self.idp.keys().subject_key().await?;
        rows.into_iter()
            .map(|row| row.into_client(subjects.clone()).map(|(c, _)| c))
            .collect()
    }

    /// Removes a client: it can no longer authenticate or log anyone in, and every grant it
    /// holds is revoked. Journaled as `client.removed`.
    pub async fn remove(&self, client_id: &str) -> Result<(), IdpError> {
        self.remove_by(client_id, None).await
    }

    /// [`Clients::remove`] by `actor` (an administrator's account, journaled with the event).
    pub async fn remove_by(&self, client_id: &str, actor: Option<&str>) -> Result<(), IdpError> {
        let now = self.ctx().clock.unix();
        let mut tx = self.ctx().db.begin().await?;
        let removed = sqlx::query(
            "UPDATE idp_clients SET removed_at = $1, updated_at = $1 \
             WHERE client_id = $2 AND removed_at IS NULL",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() == 0 {
            return Err(IdpError::NotFound("client"));
        }
        let revoked = sqlx::query(
            "UPDATE idp_grants SET revoked_at = $1, revoked_reason = 'client_removed' \
             WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        let mut event = NewEvent::new("client.removed")
            .subject(client_id)
            .data(json!({"grants_revoked": revoked.rows_affected()}));
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        journal::append(&mut tx, self.ctx().clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a confidential client's secret; the old one stops working at once. Returns
    /// the new secret (shown once). Journaled as `client.secret_rotated`.
    pub async fn rotate_secret(&self, client_id: &str) -> Result<String, IdpError> {
        self.rotate_secret_by(client_id, None).await
    }

    /// [`Clients::rotate_secret`] by `actor` (an administrator's account, journaled with the
    /// event).
    pub async fn rotate_secret_by(
        &self,
        client_id: &str,
        actor: Option<&str>,
    ) -> Result<String, IdpError> {
        let client = self
            .get(client_id)
            .await?
            .ok_or(IdpError::NotFound("client"))?;
        if client.token_endpoint_auth_method != AuthMethod::ClientSecretBasic {
            return Err(IdpError::Invalid(format!(
                "client {client_id} has no secret: it authenticates with {}",
                client.token_endpoint_auth_method.as_str()
            )));
        }
        let secret = random_token(32);
        let digest = self
            .ctx()
            .master
            .keyed_digest(SECRET_PURPOSE, secret.as_bytes());
        let now = self.ctx().clock.unix();
        let mut tx = self.ctx().db.begin().await?;
        let updated = sqlx::query(
            "UPDATE idp_clients SET secret_digest = $1, updated_at = $2 \
             WHERE client_id = $3 AND removed_at IS NULL",
        )
        .bind(&digest)
        .bind(now)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(IdpError::NotFound("client"));
        }
        let mut event = NewEvent::new("client.secret_rotated").subject(client_id);
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        journal::append(&mut tx, self.ctx().clock.now(), &event).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Whether `secret` is the client's current secret (constant-time comparison).
    fn secret_matches(&self, digest: Option<&str>, secret: &str) -> bool {
        digest.is_some_and(|d| {
            self.ctx()
                .master
                .verify_keyed_digest(SECRET_PURPOSE, secret.as_bytes(), d)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::testing::test_idp;

    pub(crate) fn web_client() -> NewClient {
        NewClient {
            name: "Servicio de Impuestos".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            ..NewClient::default()
        }
    }

    #[tokio::test]
    async fn registration_defaults_and_secret_handling() {
        let (idp, _clock, _dir) = test_idp().await;
        let registered = idp.clients().register(web_client()).await.unwrap();
        let client = &registered.client;
        let secret = registered.client_secret.clone().unwrap();
        // 32 random bytes, base64url.
        assert_eq!(secret.len(), 43);
        assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(client.scopes, ["openid", "profile", "email"]);
        assert_eq!(client.subject_type, SubjectType::Pairwise);
        assert_eq!(client.sector, client.client_id);
        assert_eq!(client.id_token_alg, SigningAlg::ES256);
        assert_eq!(
            client.token_endpoint_auth_method,
            AuthMethod::ClientSecretBasic
        );
        // Only a keyed digest is stored.
        let (stored,): (String,) =
            sqlx::query_as("SELECT secret_digest FROM idp_clients WHERE client_id = $1")
                .bind(&client.client_id)
                .fetch_one(idp.ctx().db.pool())
                .await
                .unwrap();
        assert!(!stored.contains(&secret));
        let clients = idp.clients();
        assert!(clients.secret_matches(Some(&stored), &secret));
        assert!(!clients.secret_matches(Some(&stored), "wrong"));

        let rotated = clients.rotate_secret(&client.client_id).await.unwrap();
        assert_ne!(rotated, secret);
        let (_, digest) = clients
            .get_with_digest(&client.client_id)
            .await
            .unwrap()
            .unwrap();
        assert!(clients.secret_matches(digest.as_deref(), &rotated));
        assert!(!clients.secret_matches(digest.as_deref(), &secret));

        assert_eq!(clients.list().await.unwrap().len(), 1);
        clients.remove(&client.client_id).await.unwrap();
        assert!(clients.get(&client.client_id).await.unwrap().is_none());
        assert!(clients.list().await.unwrap().is_empty());
        assert!(matches!(
            clients.remove(&client.client_id).await,
            Err(IdpError::NotFound(_))
        ));
        let kinds: Vec<String> = idp
            .ctx()
            .journal
            .list(clave_common::journal::JournalFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        for kind in [
            "client.registered",
            "client.secret_rotated",
            "client.removed",
        ] {
            assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
        }
    }

    #[tokio::test]
    async fn public_clients_have_no_secret_to_rotate() {
        let (idp, _clock, _dir) = test_idp().await;
        let registered = idp
            .clients()
            .register(NewClient {
                public: true,
                ..web_client()
            })
            .await
            .unwrap();
        assert!(registered.client_secret.is_none());
        assert!(registered.client.public);
        assert!(matches!(
            idp.clients()
                .rotate_secret(&registered.client.client_id)
                .await,
            Err(IdpError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn pairwise_subjects_are_stable_per_sector_and_unlinkable_across() {
        let (idp, _clock, _dir) = test_idp().await;
        let clients = idp.clients();
        let a = clients.register(web_client()).await.unwrap().client;
        let b = clients.register(web_client()).await.unwrap().client;
        let shared_1 = clients
            .register(NewClient {
                sector: Some("ministerio.example".into()),
                ..web_client()
            })
            .await
            .unwrap()
            .client;
        let shared_2 = clients
            .register(NewClient {
                sector: Some("ministerio.example".into()),
                ..web_client()
            })
            .await
            .unwrap()
            .client;
        let public = clients
            .register(NewClient {
                subject_type: Some(SubjectType::Public),
                ..web_client()
            })
            .await
            .unwrap()
            .client;
        let account = "0190a1b2-0000-7000-8000-000000000001";
        let sub_a = a.subject_for_account(account);
        assert_eq!(sub_a, a.subject_for_account(account));
        // A reloaded client (another node, later) derives the same subject.
        let reloaded = clients.get(&a.client_id).await.unwrap().unwrap();
        assert_eq!(reloaded.subject_for_account(account), sub_a);
        assert_ne!(sub_a, b.subject_for_account(account));
        assert_ne!(sub_a, a.subject_for_account("another-account"));
        assert!(!sub_a.contains(account));
        assert_eq!(
            shared_1.subject_for_account(account),
            shared_2.subject_for_account(account)
        );
        assert_eq!(public.subject_for_account(account), account);
    }
}
