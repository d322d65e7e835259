//! Consents: what a service asks for, the citizen's approval as a record with a signed
//! receipt, and its end by revocation or expiry.
//!
//! A service asks through scopes (each attribute's scope; a one-time consent for that login,
//! every attribute optional) or through `authorization_details` (RFC 9396) of type
//! [`DETAILS_TYPE`]:
//!
//! ```json
//! [{"type": "clave_wallet", "attributes": ["health_insurance_tier"],
//!   "optional_attributes": ["phone_number"], "purpose": "…",
//!   "mode": "ongoing", "expires_in": 2592000}]
//! ```
//!
//! `attributes` are required (the citizen approves them or declines the whole request);
//! `optional_attributes` the citizen may untick. An `ongoing` consent lets the service read
//! the attributes later through the agency API until it expires or the citizen revokes it.
//! Every grant, expiry and revocation is a journal event, and so part of the hash chain.

use std::collections::BTreeSet;

use clave_common::journal::{self, NewEvent};
use clave_idp::authreq::AuthRequest;
use clave_idp::clients::Client;
use clave_idp::keys::SigningAlg;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::catalogue::AttributeDef;
use crate::value::rfc3339;
use crate::{Wallet, WalletError};

/// The `authorization_details` type the wallet understands.
pub const DETAILS_TYPE: &str = "clave_wallet";
/// The `typ` of consent receipts.
pub const RECEIPT_TYP: &str = "consent-receipt+jwt";
/// The longest purpose a service may state.
const MAX_PURPOSE: usize = 300;

/// How long a consent lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// For the login it was given in only.
    OneTime,
    /// Until it expires or is revoked; the service may read the data again.
    Ongoing,
}

impl Mode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneTime => "one_time",
            Self::Ongoing => "ongoing",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "one_time" => Some(Self::OneTime),
            "ongoing" => Some(Self::Ongoing),
            _ => None,
        }
    }
}

/// One `authorization_details` entry of type [`DETAILS_TYPE`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DetailsEntry {
    #[serde(rename = "type")]
    _type: String,
    #[serde(default)]
    attributes: Vec<String>,
    #[serde(default)]
    optional_attributes: Vec<String>,
    #[serde(default)]
    purpose: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// What a request asks of the wallet, resolved against the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Attributes the citizen must approve or decline with the whole request.
    pub required: Vec<String>,
    /// Attributes the citizen may untick.
    pub optional: Vec<String>,
    /// The purpose the service states in the request, if any.
    pub purpose: Option<String>,
    /// How long the consent is to last.
    pub mode: Mode,
    /// For an ongoing consent: the seconds asked for.
    pub expires_in: Option<i64>,
}

impl Ask {
    /// Every attribute asked for.
    pub fn all(&self) -> Vec<String> {
        let mut all = self.required.clone();
        all.extend(self.optional.iter().cloned());
        all
    }

    /// Whether nothing is asked.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.optional.is_empty()
    }
}

/// Reads what `scopes` and `authorization_details` ask of the wallet for `client`, checking
/// every attribute against the catalogue and the client's registered scopes; the error says
/// what to fix.
pub fn resolve_ask(
    catalogue: &[AttributeDef],
    client: &Client,
    scopes: &[String],
    details: Option<&str>,
    max_secs: i64,
) -> Result<Ask, String> {
    let mut ask = Ask {
        required: Vec::new(),
        optional: Vec::new(),
        purpose: None,
        mode: Mode::OneTime,
        expires_in: None,
    };
    if let Some(text) = details {
        let entries: Vec<Value> = serde_json::from_str(text).map_err(|_| {
            "`authorization_details` must be a JSON array of objects (RFC 9396)".to_owned()
        })?;
        let [entry] = entries.as_slice() else {
            return Err(format!(
                "send exactly one `authorization_details` entry, of type {DETAILS_TYPE:?}"
            ));
        };
        match entry.get("type").and_then(Value::as_str) {
            Some(DETAILS_TYPE) => {}
            Some(other) => {
                return Err(format!(
                    "unknown authorization_details type {other:?}; this server knows {DETAILS_TYPE:?}"
                ));
            }
            None => return Err("every authorization_details entry needs a `type`".into()),
        }
        let entry: DetailsEntry = serde_json::from_value(entry.clone())
            .map_err(|e| format!("the {DETAILS_TYPE} entry is malformed: {e}"))?;
        if entry.attributes.is_empty() && entry.optional_attributes.is_empty() {
            return Err("the entry names no `attributes`".into());
        }
        for name in entry.attributes.iter().chain(&entry.optional_attributes) {
            let def = catalogue
                .iter()
                .find(|d| &d.name == name)
                .ok_or_else(|| format!("no attribute {name:?} in this server's catalogue"))?;
            if !client.allows_scope(&def.scope) {
                return Err(format!(
                    "{name} is asked for with the scope {:?}, which this client is not registered for",
                    def.scope
                ));
            }
        }
        ask.mode = match entry.mode.as_deref() {
            None => Mode::OneTime,
            Some(text) => Mode::parse(text)
                .ok_or_else(|| format!("`mode` must be one_time or ongoing, not {text:?}"))?,
        };
        if let Some(secs) = entry.expires_in {
            if ask.mode != Mode::Ongoing {
                return Err("`expires_in` is for ongoing consents only".into());
            }
            if secs <= 0 || secs > max_secs {
                return Err(format!(
                    "`expires_in` must be between 1 and {max_secs} seconds"
                ));
            }
            ask.expires_in = Some(secs);
        }
        if let Some(purpose) = entry.purpose {
            let purpose = purpose.trim().to_owned();
            if purpose.is_empty()
                || purpose.chars().count() > MAX_PURPOSE
                || purpose.chars().any(char::is_control)
            {
                return Err(format!(
                    "`purpose` must be one line of 1 to {MAX_PURPOSE} characters"
                ));
            }
            ask.purpose = Some(purpose);
        }
        push_unique(&mut ask.required, entry.attributes);
        let optional: Vec<String> = entry
            .optional_attributes
            .into_iter()
            .filter(|a| !ask.required.contains(a))
            .collect();
        push_unique(&mut ask.optional, optional);
    }
    // Scopes ask for every attribute they name, all optional.
    for def in catalogue {
        if scopes.iter().any(|s| s == &def.scope)
            && !ask.required.contains(&def.name)
            && !ask.optional.contains(&def.name)
        {
            ask.optional.push(def.name.clone());
        }
    }
    Ok(ask)
}

fn push_unique(into: &mut Vec<String>, names: Vec<String>) {
    for name in names {
        if !into.contains(&name) {
            into.push(name);
        }
    }
}

/// A consent as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consent {
    /// Its id.
    pub id: String,
    /// The citizen.
    #[serde(skip)]
    pub account_id: String,
    /// The service.
    pub client_id: String,
    /// The service's name.
    pub client_name: String,
    /// The consented attributes.
    pub attributes: Vec<String>,
    /// The purpose stated.
    pub purpose: String,
    /// The legal basis the service relies on, if registered.
    pub legal_basis: Option<String>,
    /// How long it lasts.
    pub mode: Mode,
    /// When it was given.
    pub granted_at: i64,
    /// When it lapses.
    pub expires_at: i64,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// When it was revoked or expired.
    pub ended_at: Option<i64>,
    /// The signed receipt.
    pub receipt: String,
}

impl Consent {
    /// Whether it releases data at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.status == "active" && now < self.expires_at
    }
}

#[derive(sqlx::FromRow)]
struct ConsentRow {
    id: String,
    account_id: String,
    client_id: String,
    client_name: Option<String>,
    attributes: String,
    purpose: String,
    legal_basis: Option<String>,
    mode: String,
    granted_at: i64,
    expires_at: i64,
    status: String,
    ended_at: Option<i64>,
    receipt: String,
}

impl ConsentRow {
    fn into_consent(self) -> Result<Consent, WalletError> {
        let corrupt = || WalletError::Internal(format!("consent {} is corrupt", self.id));
        Ok(Consent {
            attributes: serde_json::from_str(&self.attributes).map_err(|_| corrupt())?,
            mode: Mode::parse(&self.mode).ok_or_else(corrupt)?,
            client_name: self.client_name.unwrap_or_else(|| self.client_id.clone()),
            id: self.id,
            account_id: self.account_id,
            client_id: self.client_id,
            purpose: self.purpose,
            legal_basis: self.legal_basis,
            granted_at: self.granted_at,
            expires_at: self.expires_at,
            status: self.status,
            ended_at: self.ended_at,
            receipt: self.receipt,
        })
    }
}

const SELECT: &str = "SELECT c.id, c.account_id, c.client_id, k.name AS client_name, c.attributes, \
     c.purpose, c.legal_basis, c.mode, c.granted_at, c.expires_at, c.status, c.ended_at, \
     c.receipt FROM wallet_consents c LEFT JOIN idp_clients k ON k.client_id = c.client_id";

/// What a registered client tells citizens, and where its consent events go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientTerms {
    /// The purpose shown when a request states none.
    pub purpose: Option<String>,
    /// The legal basis it relies on.
    pub legal_basis: Option<String>,
    /// Where consent events (revocations, expiries) are POSTed.
    pub consent_events_uri: Option<String>,
}

impl ClientTerms {
    /// Checks the terms before they are stored: one-line texts of sensible length, and an
    /// events URI that is https (or http on loopback, for development).
    pub fn check(&self) -> Result<(), WalletError> {
        for (what, text) in [
            ("purpose", &self.purpose),
            ("legal basis", &self.legal_basis),
        ] {
            if let Some(text) = text
                && (text.trim().is_empty()
                    || text.chars().count() > MAX_PURPOSE
                    || text.chars().any(char::is_control))
            {
                return Err(WalletError::Invalid(format!(
                    "the {what} must be one line of 1 to {MAX_PURPOSE} characters"
                )));
            }
        }
        if let Some(uri) = &self.consent_events_uri {
            clave_idp::clients::validate::check_uri(uri).map_err(|e| {
                WalletError::Invalid(format!("the consent events URI is not acceptable: {e}"))
            })?;
        }
        Ok(())
    }
}

/// The consents.
#[derive(Debug, Clone, Copy)]
pub struct Consents<'a> {
    wallet: &'a Wallet,
}

impl Wallet {
    /// The consents.
    pub fn consents(&self) -> Consents<'_> {
        Consents { wallet: self }
    }
}

/// Why a consent ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The citizen revoked it.
    Revoked,
    /// Its time ran out.
    Expired,
}

impl Ending {
    fn status(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

impl Consents<'_> {
    /// One consent.
    pub async fn get(&self, id: &str) -> Result<Option<Consent>, WalletError> {
        if !clave_common::id::is_plausible_id(id) {
            return Ok(None);
        }
        let row: Option<ConsentRow> = sqlx::query_as(&format!("{SELECT} WHERE c.id = $1"))
            .bind(id)
            .fetch_optional(self.wallet.db().pool())
            .await?;
        row.map(ConsentRow::into_consent).transpose()
    }

    /// The citizen's consents, newest first.
    pub async fn of_citizen(&self, account_id: &str) -> Result<Vec<Consent>, WalletError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE c.account_id = $1 ORDER BY c.granted_at DESC, c.id DESC"
        ))
        .bind(account_id)
        .fetch_all(self.wallet.db().pool())
        .await?;
        rows.into_iter().map(ConsentRow::into_consent).collect()
    }

    /// The citizen's active ongoing consents for `client_id`.
    pub async fn ongoing(
        &self,
        account_id: &str,
        client_id: &str,
    ) -> Result<Vec<Consent>, WalletError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE c.account_id = $1 AND c.client_id = $2 AND c.status = 'active' \
             AND c.mode = 'ongoing' AND c.expires_at > $3 ORDER BY c.granted_at DESC"
        ))
        .bind(account_id)
        .bind(client_id)
        .bind(self.wallet.now())
        .fetch_all(self.wallet.db().pool())
        .await?;
        rows.into_iter().map(ConsentRow::into_consent).collect()
    }

    /// What `client_id` registered to tell citizens.
    pub async fn terms(&self, client_id: &str) -> Result<ClientTerms, WalletError> {
        let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT purpose, legal_basis, consent_events_uri FROM wallet_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.wallet.db().pool())
        .await?;
        Ok(row
            .map(|(purpose, legal_basis, consent_events_uri)| ClientTerms {
                purpose,
                legal_basis,
                consent_events_uri,
            })
            .unwrap_or_default())
    }

    /// Registers what `client_id` tells citizens; the events URI must be an https URL (or
    /// http on loopback, for development).
    pub async fn set_terms(&self, client_id: &str, terms: &ClientTerms) -> Result<(), WalletError> {
        if self.wallet.idp().clients().get(client_id).await?.is_none() {
            return Err(WalletError::NotFound(format!(
                "no registered client {client_id:?}"
            )));
        }
        terms.check()?;
        sqlx::query(
            "INSERT INTO wallet_clients (client_id, purpose, legal_basis, consent_events_uri, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO UPDATE SET \
             purpose = excluded.purpose, legal_basis = excluded.legal_basis, \
             consent_events_uri = excluded.consent_events_uri, updated_at = excluded.updated_at",
        )
        .bind(client_id)
        .bind(terms.purpose.as_deref().map(str::trim))
        .bind(terms.legal_basis.as_deref().map(str::trim))
        .bind(&terms.consent_events_uri)
        .bind(self.wallet.now())
        .execute(self.wallet.db().pool())
        .await?;
        Ok(())
    }

    /// Records the citizen's consent to release `attributes` to `client` for `request`, with
    /// a signed receipt, in the caller's transaction. Journaled as `consent.granted`.
    pub(crate) async fn grant(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        client: &Client,
        ask: &Ask,
        attributes: Vec<String>,
        request: &AuthRequest,
    ) -> Result<Consent, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let now = ctx.clock.unix();
        let terms = self.terms(&client.client_id).await?;
        let purpose = ask.purpose.clone().or(terms.purpose).unwrap_or_default();
        let expires_at = match ask.mode {
            // A one-time consent lives as long as the login it was given in can.
            Mode::OneTime => now + ctx.config.tokens.session_ttl_secs,
            Mode::Ongoing => {
                now + ask
                    .expires_in
                    .unwrap_or(ctx.config.wallet.consent_default_secs)
            }
        };
        let mut consent = Consent {
            id: clave_common::id::new_id(),
            account_id: account_id.to_owned(),
            client_id: client.client_id.clone(),
            client_name: client.name.clone(),
            attributes,
            purpose,
            legal_basis: terms.legal_basis,
            mode: ask.mode,
            granted_at: now,
            expires_at,
            status: "active".into(),
            ended_at: None,
            receipt: String::new(),
        };
        consent.receipt = self.receipt(&consent, client).await?;
        sqlx::query(
            "INSERT INTO wallet_consents (id, account_id, client_id, attributes, purpose, \
             legal_basis, mode, granted_at, expires_at, status, receipt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10)",
        )
        .bind(&consent.id)
        .bind(account_id)
        .bind(&consent.client_id)
        .bind(serde_json::to_string(&consent.attributes).unwrap_or_default())
        .bind(&consent.purpose)
        .bind(&consent.legal_basis)
        .bind(consent.mode.as_str())
        .bind(now)
        .bind(expires_at)
        .bind(&consent.receipt)
        .execute(&mut *conn)
        .await?;
        let event = NewEvent::new("consent.granted")
            .actor(account_id)
            .subject(account_id)
            .data(json!({
                "consent_id": consent.id,
                "client_id": consent.client_id,
                "attributes": consent.attributes,
                "purpose": consent.purpose,
                "mode": consent.mode.as_str(),
                "expires_at": expires_at,
                "request_id": request.id,
            }));
        journal::append(conn, ctx.clock.now(), &event).await?;
        Ok(consent)
    }

    /// The receipt of `consent`: a JWS signed with clave's ES256 key, verifiable with the
    /// JWKS, stating who consented to what, for whom, why and until when. The citizen is
    /// named by the subject the service knows them by, so the receipt can be handed to the
    /// service (in the token response) without linking the citizen across services.
    async fn receipt(&self, consent: &Consent, client: &Client) -> Result<String, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(ctx.config.issuer()));
        claims.insert("jti".into(), json!(consent.id));
        claims.insert("iat".into(), json!(consent.granted_at));
        claims.insert(
            "sub".into(),
            json!(client.subject_for_account(&consent.account_id)),
        );
        claims.insert("client_id".into(), json!(consent.client_id));
        claims.insert("client_name".into(), json!(consent.client_name));
        claims.insert("attributes".into(), json!(consent.attributes));
        claims.insert("purpose".into(), json!(consent.purpose));
        claims.insert("legal_basis".into(), json!(consent.legal_basis));
        claims.insert("mode".into(), json!(consent.mode.as_str()));
        claims.insert("granted_at".into(), json!(rfc3339(consent.granted_at)));
        claims.insert("expires_at".into(), json!(rfc3339(consent.expires_at)));
        self.wallet
            .idp()
            .tokens()
            .sign_jwt(SigningAlg::ES256, RECEIPT_TYP, &claims)
            .await
            .map_err(|e| WalletError::Internal(format!("cannot sign the receipt: {e}")))
    }

    /// Revokes the citizen's consent `id`: from now on nothing is released under it, every
    /// grant (and so every token) issued under it is revoked, and the service is told if it
    /// registered for consent events. Journaled as `consent.revoked`.
    pub async fn revoke(&self, account_id: &str, id: &str) -> Result<Consent, WalletError> {
        let consent = self
            .get(id)
            .await?
            .filter(|c| c.account_id == account_id)
            .ok_or_else(|| WalletError::NotFound(format!("no consent {id:?} of yours")))?;
        if !self.end(&consent, Ending::Revoked).await? {
            return Err(WalletError::Conflict(format!(
                "the consent is already {}",
                self.get(id)
                    .await?
                    .map_or_else(|| "gone".to_owned(), |c| c.status)
            )));
        }
        self.get(id)
            .await?
            .ok_or_else(|| WalletError::Internal("a revoked consent vanished".into()))
    }

    /// Marks every active consent whose time ran out as expired. Safe on every node at
    /// once. Returns how many expired.
    pub async fn expire_lapsed(&self) -> Result<usize, WalletError> {
        let rows: Vec<ConsentRow> = sqlx::query_as(&format!(
            "{SELECT} WHERE c.status = 'active' AND c.expires_at <= $1 LIMIT 500"
        ))
        .bind(self.wallet.now())
        .fetch_all(self.wallet.db().pool())
        .await?;
        let mut expired = 0;
        for row in rows {
            if self.end(&row.into_consent()?, Ending::Expired).await? {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Ends `consent` in one transaction; `false` when it had already ended.
    async fn end(&self, consent: &Consent, ending: Ending) -> Result<bool, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let now = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        let changed = sqlx::query(
            "UPDATE wallet_consents SET status = $1, ended_at = $2 WHERE id = $3 AND status = 'active'",
        )
        .bind(ending.status())
        .bind(now)
        .bind(&consent.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Ok(false);
        }
        let reason = format!("consent.{}", ending.status());
        let grants = self
            .wallet
            .idp()
            .tokens()
            .revoke_grants_under_consent(&mut tx, &consent.id, &reason)
            .await?;
        let terms = self.terms(&consent.client_id).await?;
        // A one-time consent lapsing with its login is no news to the service.
        let newsworthy = ending == Ending::Revoked || consent.mode == Mode::Ongoing;
        if let Some(uri) = terms.consent_events_uri.as_deref().filter(|_| newsworthy) {
            crate::events::queue(&mut tx, consent, ending.status(), uri, now).await?;
        }
        let actor = match ending {
            Ending::Revoked => Some(consent.account_id.clone()),
            Ending::Expired => None,
        };
        let mut event = NewEvent::new(reason)
            .subject(consent.account_id.clone())
            .data(json!({
                "consent_id": consent.id,
                "client_id": consent.client_id,
                "attributes": consent.attributes,
                "grants_revoked": grants,
            }));
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// The attributes of `ask` the citizen keeps after unticking optional ones: every required
/// one, and the optional ones in `kept`; only those with a value to release.
pub fn chosen(ask: &Ask, kept: &[String], available: &BTreeSet<String>) -> Vec<String> {
    ask.required
        .iter()
        .chain(ask.optional.iter().filter(|a| kept.contains(a)))
        .filter(|a| available.contains(*a))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
