//! Signature requests from services: a service asks a signer, named by the `sub` it knows
//! (or by RUN, for services entitled to RUNs), to sign documents in one format. The signer
//! sees each pending request in the portal, views the exact documents and their SHA-256,
//! and signs (one activation with a fresh second factor covers a batch of requests) or
//! declines. The service reads the outcome and the signed outputs, and is told of the
//! decision by a callback if it gave one ([`callbacks`]).
//!
//! A request is decided once: the move from `pending` is a conditional update, so two
//! browsers signing at once, or a signature racing the expiry, leave exactly one outcome.

mod batch;
pub mod callbacks;
pub mod http;
pub mod passkey;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_common::id::{is_plausible_id, new_id};
use clave_common::journal::{self, NewEvent};
use clave_common::run::Run;
use clave_idp::clients::Client;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::documents::Format;
use crate::{MULTISIGN, Signer, SignerError, pades};

/// The scope a service needs to ask for signatures.
pub const SCOPE_REQUEST: &str = "sign:request";
/// The most documents in one request.
pub const MAX_DOCUMENTS: usize = 20;
/// The most bytes of documents in one request, decoded.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
/// How long a request waits for its signer unless the service says otherwise.
pub const DEFAULT_TTL_SECS: i64 = 7 * 86_400;
/// The shortest wait a service may ask for.
pub const MIN_TTL_SECS: i64 = 300;
/// The longest.
pub const MAX_TTL_SECS: i64 = 30 * 86_400;
/// The longest purpose text.
pub const MAX_PURPOSE: usize = 500;
/// The longest document name.
pub const MAX_NAME: usize = 200;
/// The longest reason for declining.
pub const MAX_REASON: usize = 500;
/// The client id the portal's activations are recorded under.
pub const PORTAL_CLIENT: &str = "clave-portal";

/// Who is to sign: the subject the service knows, or the RUN.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SignerRef {
    /// The `sub` the service got for the signer.
    Sub(String),
    /// The signer's RUN; only for services registered with the `run` scope.
    Run(String),
}

/// A document in a new request.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Its file name, shown to the signer.
    pub name: String,
    /// Its media type; `application/pdf` for PAdES.
    #[serde(default)]
    pub media_type: Option<String>,
    /// Its bytes, base64.
    pub content: String,
}

/// What a service sends to ask for signatures.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// Who is to sign.
    pub signer: SignerRef,
    /// Why, shown to the signer.
    pub purpose: String,
    /// `pades`, `cades` or `jades`.
    pub format: String,
    /// `B-B` or `B-T` (time-stamped by clave's TSA); B-T by default for PAdES and CAdES.
    #[serde(default)]
    pub level: Option<String>,
    /// The documents.
    pub documents: Vec<NewDocument>,
    /// Seconds the request waits for the signer.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Where to POST a signed event once the request is decided.
    #[serde(default)]
    pub callback_url: Option<String>,
    /// The institution the signer signs for, as its official (with the certificate from the
    /// institution's CA); none for a signature in the signer's own name.
    #[serde(default)]
    pub institution: Option<String>,
}

/// A document of a request, without its content.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RequestDocument {
    /// Its place in the request, from 0.
    pub position: i64,
    /// Its file name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
}

/// A signature request.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// Its id.
    pub id: String,
    /// The service that asked.
    pub client_id: String,
    /// The signer.
    pub account_id: String,
    /// The institution the signer signs for, if as an official.
    pub institution_id: Option<String>,
    /// Why.
    pub purpose: String,
    /// The signature format.
    pub format: Format,
    /// Whether the signatures are time-stamped (B-T).
    pub time_stamped: bool,
    /// `pending`, `signed`, `declined` or `expired`: a pending request past its expiry is
    /// reported expired even before the worker records it.
    pub status: String,
    /// When it was made.
    pub created_at: i64,
    /// When it stops waiting.
    pub expires_at: i64,
    /// When it was signed, declined or expired.
    pub decided_at: Option<i64>,
    /// The signer's reason for declining.
    pub decline_reason: Option<String>,
    /// The credential that signed.
    pub credential_id: Option<String>,
    /// The callback URL.
    pub callback_url: Option<String>,
    /// The callback's delivery: `pending`, `delivered` or `abandoned`.
    pub callback_status: Option<String>,
    /// Delivery attempts so far.
    pub callback_attempts: i64,
    /// The last delivery failure.
    pub callback_error: Option<String>,
    /// The documents.
    pub documents: Vec<RequestDocument>,
}

impl SignRequest {
    /// The level's name.
    pub fn level(&self) -> &'static str {
        if self.time_stamped { "B-T" } else { "B-B" }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct RequestRow {
    id: String,
    client_id: String,
    account_id: String,
    institution_id: Option<String>,
    purpose: String,
    format: String,
    level: String,
    status: String,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    decline_reason: Option<String>,
    credential_id: Option<String>,
    callback_url: Option<String>,
    callback_status: Option<String>,
    callback_attempts: i64,
    callback_error: Option<String>,
}

const REQUEST_COLUMNS: &str = "id, client_id, account_id, institution_id, purpose, format, level, status, \
    created_at, expires_at, decided_at, decline_reason, credential_id, callback_url, \
    callback_status, callback_attempts, callback_error";

#[derive(Debug, sqlx::FromRow)]
struct DocumentRow {
    request_id: String,
    position: i64,
    name: String,
    media_type: String,
    sha256: String,
    size: i64,
}

fn invalid(text: impl Into<String>) -> SignerError {
    SignerError::Invalid(text.into())
}

/// Whether `name` is a file name that can be shown and put in a download header.
fn check_name(i: usize, name: &str) -> Result<(), SignerError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME {
        return Err(invalid(format!(
            "documents[{i}].name must be 1 to {MAX_NAME} characters"
        )));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() || matches!(c, '/' | '\\' | '"'))
    {
        return Err(invalid(format!(
            "documents[{i}].name must be a plain file name: no control characters, slashes or quotes"
        )));
    }
    Ok(())
}

/// Whether `media_type` looks like `type/subtype`.
fn check_media_type(i: usize, media_type: &str) -> Result<(), SignerError> {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 64
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c))
    };
    match media_type.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(()),
        _ => Err(invalid(format!(
            "documents[{i}].media_type must be a media type such as application/pdf"
        ))),
    }
}

impl Signer {
    /// Records a request from `client`; the documents are checked (a PAdES document must be
    /// a PDF clave can sign) before anything is written.
    pub async fn create_request(
        &self,
        client: &Client,
        new: NewRequest,
    ) -> Result<SignRequest, SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.now();
        let format = Format::from_name(&new.format)
            .ok_or_else(|| invalid("format must be `pades`, `cades` or `jades`"))?;
        let time_stamped = match new.level.as_deref() {
            None => format != Format::Jades,
            Some("B-B") => false,
            Some("B-T") if format != Format::Jades => true,
            Some("B-T") => return Err(invalid("JAdES is offered at level B-B only")),
            Some(_) => return Err(invalid("level must be `B-B` or `B-T`")),
        };
        let purpose = new.purpose.trim();
        if purpose.is_empty() || purpose.chars().count() > MAX_PURPOSE {
            return Err(invalid(format!(
                "purpose must say why the signature is asked for, in 1 to {MAX_PURPOSE} characters"
            )));
        }
        if new.documents.is_empty() || new.documents.len() > MAX_DOCUMENTS {
            return Err(invalid(format!(
                "documents must hold 1 to {MAX_DOCUMENTS} documents"
            )));
        }
        let ttl = new.expires_in.unwrap_or(DEFAULT_TTL_SECS);
        if !(MIN_TTL_SECS..=MAX_TTL_SECS).contains(&ttl) {
            return Err(invalid(format!(
                "expires_in must be {MIN_TTL_SECS} to {MAX_TTL_SECS} seconds"
            )));
        }
        let callback_url = match new.callback_url.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => {
                clave_idp::clients::validate::check_uri(url)
                    .map_err(|why| invalid(format!("callback_url {why}")))?;
                Some(url.to_owned())
            }
        };
        let mut documents = Vec::with_capacity(new.documents.len());
        let mut total = 0usize;
        for (i, doc) in new.documents.iter().enumerate() {
            check_name(i, &doc.name)?;
            let media_type = match (format, doc.media_type.as_deref()) {
                (Format::Pades, None | Some("application/pdf")) => "application/pdf",
                (Format::Pades, Some(_)) => {
                    return Err(invalid(format!(
                        "documents[{i}]: PAdES signs PDF documents; media_type must be application/pdf"
                    )));
                }
                (_, Some(m)) => {
                    check_media_type(i, m)?;
                    m
                }
                (_, None) => "application/octet-stream",
            };
            let bytes = STANDARD
                .decode(doc.content.trim())
                .map_err(|_| invalid(format!("documents[{i}].content is not valid base64")))?;
            if bytes.is_empty() {
                return Err(invalid(format!("documents[{i}].content is empty")));
            }
            total = total.saturating_add(bytes.len());
            if total > MAX_REQUEST_BYTES {
                return Err(invalid(format!(
                    "the documents of one request may hold at most {MAX_REQUEST_BYTES} bytes"
                )));
            }
            if format == Format::Pades {
                // The same preparation signing will do: refuse now what could not be signed.
                pades::prepare(&bytes, now).map_err(|e| match e {
                    SignerError::Invalid(text) => invalid(format!("documents[{i}]: {text}")),
                    other => other,
                })?;
            }
            let sha256 = hex::encode(Sha256::digest(&bytes));
            if documents
                .iter()
                .any(|(_, _, h, _): &(String, String, String, Vec<u8>)| *h == sha256)
            {
                return Err(invalid(format!(
                    "documents[{i}] is the same as an earlier document of the request"
                )));
            }
            documents.push((
                doc.name.trim().to_owned(),
                media_type.to_owned(),
                sha256,
                bytes,
            ));
        }
        let (account_id, addressed_as) = self.addressee(client, &new.signer).await?;
        let institution_id = match new.institution.as_deref() {
            None => None,
            Some(id) => {
                let institution = self.institution(id).await?.ok_or_else(|| {
                    SignerError::NotFound(format!("institution: there is no institution `{id}`"))
                })?;
                if self
                    .official_credential(&account_id, &institution.id)
                    .await?
                    .is_none()
                {
                    return Err(SignerError::Conflict(format!(
                        "the signer holds no valid certificate as an official of {}",
                        institution.name
                    )));
                }
                Some(institution.id)
            }
        };
        let id = new_id();
        let created_at = now.unix_timestamp();
        let expires_at = created_at + ttl;
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO signer_requests (id, client_id, account_id, addressed_as, institution_id, \
             purpose, format, level, status, created_at, expires_at, callback_url, callback_attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10, $11, 0)",
        )
        .bind(&id)
        .bind(&client.client_id)
        .bind(&account_id)
        .bind(addressed_as)
        .bind(&institution_id)
        .bind(purpose)
        .bind(format.name())
        .bind(if time_stamped { "B-T" } else { "B-B" })
        .bind(created_at)
        .bind(expires_at)
        .bind(&callback_url)
        .execute(&mut *tx)
        .await?;
        for (position, (name, media_type, sha256, bytes)) in documents.iter().enumerate() {
            sqlx::query(
                "INSERT INTO signer_request_documents (request_id, position, name, media_type, \
                 sha256, size, content) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(position as i64)
            .bind(name)
            .bind(media_type)
            .bind(sha256)
            .bind(bytes.len() as i64)
            .bind(STANDARD.encode(bytes))
            .execute(&mut *tx)
            .await?;
        }
        let event = NewEvent::new("signature_request.created")
            .actor(client.client_id.clone())
            .subject(account_id.clone())
            .data(json!({
                "request_id": id,
                "client_id": client.client_id,
                "purpose": purpose,
                "format": format.name(),
                "institution_id": institution_id,
                "documents": documents.iter().map(|(_, _, h, _)| h.clone()).collect::<Vec<_>>(),
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.request(&id)
            .await?
            .ok_or_else(|| SignerError::Internal("a request just made is missing".into()))
    }

    /// The account `signer` names for `client`, and how it was named.
    async fn addressee(
        &self,
        client: &Client,
        signer: &SignerRef,
    ) -> Result<(String, &'static str), SignerError> {
        let idp = self.idp();
        match signer {
            SignerRef::Sub(sub) => {
                if !is_plausible_id(sub) {
                    return Err(invalid("signer.sub is not a subject this server issues"));
                }
                let account = idp
                    .clients()
                    .account_for_subject(client, sub)
                    .await?
                    .ok_or_else(|| {
                        SignerError::NotFound(
                            "no signer is known to this client by that sub; a citizen becomes known when they log in to the service".into(),
                        )
                    })?;
                Ok((account, "sub"))
            }
            SignerRef::Run(text) => {
                if !client.scopes.iter().any(|s| s == "run") {
                    return Err(SignerError::Forbidden(
                        "this client may not name signers by RUN (it is not registered for the `run` scope); name them by the sub you know".into(),
                    ));
                }
                let run = Run::parse(text)
                    .map_err(|e| invalid(format!("signer.run is not a valid RUN: {e}")))?;
                let account = idp
                    .accounts()
                    .find_by_run(&run)
                    .await?
                    .ok_or_else(|| SignerError::NotFound("no citizen has that RUN".into()))?;
                Ok((account.id, "run"))
            }
        }
    }

    /// The requests matching `filter` (SQL over `signer_requests` with `$1` bound to `a`
    /// and `$2`, if used, to `b`), newest first, with their documents.
    async fn requests_where(
        &self,
        filter: &str,
        a: &str,
        b: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SignRequest>, SignerError> {
        let pool = self.ctx().db.pool();
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM signer_requests WHERE {filter} \
             ORDER BY created_at DESC, id DESC LIMIT {limit}"
        );
        let mut query = sqlx::query_as::<_, RequestRow>(&sql).bind(a);
        if let Some(b) = b {
            query = query.bind(b);
        }
        let rows = query.fetch_all(pool).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut documents: HashMap<String, Vec<RequestDocument>> = HashMap::new();
        for row in &rows {
            let docs: Vec<DocumentRow> = sqlx::query_as(
                "SELECT request_id, position, name, media_type, sha256, size \
                 FROM signer_request_documents WHERE request_id = $1 ORDER BY position",
            )
            .bind(&row.id)
            .fetch_all(pool)
            .await?;
            for d in docs {
                documents
                    .entry(d.request_id)
                    .or_default()
                    .push(RequestDocument {
                        position: d.position,
                        name: d.name,
                        media_type: d.media_type,
                        sha256: d.sha256,
                        size: d.size,
                    });
            }
        }
        let now = self.ctx().clock.unix();
        rows.into_iter()
            .map(|row| {
                let format = Format::from_name(&row.format).ok_or_else(|| {
                    SignerError::Internal(format!("request {} has format {:?}", row.id, row.format))
                })?;
                let status = if row.status == "pending" && row.expires_at <= now {
                    "expired".to_owned()
                } else {
                    row.status
                };
                Ok(SignRequest {
                    documents: documents.remove(&row.id).unwrap_or_default(),
                    id: row.id,
                    client_id: row.client_id,
                    account_id: row.account_id,
                    institution_id: row.institution_id,
                    purpose: row.purpose,
                    format,
                    time_stamped: row.level == "B-T",
                    status,
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                    decided_at: row.decided_at,
                    decline_reason: row.decline_reason,
                    credential_id: row.credential_id,
                    callback_url: row.callback_url,
                    callback_status: row.callback_status,
                    callback_attempts: row.callback_attempts,
                    callback_error: row.callback_error,
                })
            })
            .collect()
    }

    /// The request `id`.
    pub async fn request(&self, id: &str) -> Result<Option<SignRequest>, SignerError> {
        Ok(self
            .requests_where("id = $1", id, None, 1)
            .await?
            .into_iter()
            .next())
    }

    /// The request `id` as the service `client_id` may see it: its own only.
    pub async fn request_for_client(
        &self,
        client_id: &str,
        id: &str,
    ) -> Result<SignRequest, SignerError> {
        self.request(id)
            .await?
            .filter(|r| r.client_id == client_id)
            .ok_or_else(|| SignerError::NotFound("no such signature request of this client".into()))
    }

    /// The request `id` as its signer sees it.
    pub async fn request_for_signer(
        &self,
        account_id: &str,
        id: &str,
    ) -> Result<SignRequest, SignerError> {
        self.request(id)
            .await?
            .filter(|r| r.account_id == account_id)
            .ok_or_else(|| SignerError::NotFound("no such signature request".into()))
    }

    /// The signer's requests: the pending ones, or the last decided ones.
    pub async fn requests_of(
        &self,
        account_id: &str,
        pending: bool,
    ) -> Result<Vec<SignRequest>, SignerError> {
        let now = self.ctx().clock.unix();
        if pending {
            self.requests_where(
                "account_id = $1 AND status = 'pending' AND expires_at > $2",
                account_id,
                Some(now),
                MULTISIGN,
            )
            .await
        } else {
            self.requests_where(
                "account_id = $1 AND (status <> 'pending' OR expires_at <= $2)",
                account_id,
                Some(now),
                50,
            )
            .await
        }
    }

    /// How many requests wait for the signer.
    pub async fn pending_count(&self, account_id: &str) -> Result<i64, SignerError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM signer_requests \
             WHERE account_id = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(account_id)
        .bind(self.ctx().clock.unix())
        .fetch_one(self.ctx().db.pool())
        .await?;
        Ok(count)
    }

    /// A document's bytes (`signed`: the signed output instead), for whoever may see the
    /// request.
    pub async fn request_document(
        &self,
        request: &SignRequest,
        position: i64,
        signed: bool,
    ) -> Result<Option<Vec<u8>>, SignerError> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT content, signed FROM signer_request_documents \
             WHERE request_id = $1 AND position = $2",
        )
        .bind(&request.id)
        .bind(position)
        .fetch_optional(self.ctx().db.pool())
        .await?;
        let Some((content, output)) = row else {
            return Ok(None);
        };
        let text = if signed { output } else { Some(content) };
        text.map(|t| {
            STANDARD
                .decode(t)
                .map_err(|_| SignerError::Internal("a stored document is not base64".into()))
        })
        .transpose()
    }

    /// The signer declines the pending request `id`, saying why if they wish.
    pub async fn decline_request(
        &self,
        account_id: &str,
        id: &str,
        reason: &str,
    ) -> Result<(), SignerError> {
        let request = self.request_for_signer(account_id, id).await?;
        let reason = reason.trim();
        if reason.chars().count() > MAX_REASON {
            return Err(invalid(format!(
                "the reason may be at most {MAX_REASON} characters"
            )));
        }
        if reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            return Err(invalid("the reason holds characters that cannot be shown"));
        }
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        let decided = sqlx::query(
            "UPDATE signer_requests SET status = 'declined', decided_at = $2, decline_reason = $3, \
             callback_status = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, \
             callback_next_at = $2 WHERE id = $1 AND status = 'pending' AND expires_at > $2",
        )
        .bind(&request.id)
        .bind(now)
        .bind((!reason.is_empty()).then_some(reason))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if decided != 1 {
            return Err(SignerError::Conflict(format!(
                "the request is {} and can no longer be declined",
                request.status
            )));
        }
        let event = NewEvent::new("signature_request.declined")
            .actor(account_id.to_owned())
            .subject(account_id.to_owned())
            .data(json!({ "request_id": request.id, "client_id": request.client_id }));
        journal::append(&mut tx, ctx.clock.now(), &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records every pending request past its expiry as expired (queuing its callback);
    /// returns how many.
    pub async fn expire_requests(&self) -> Result<u32, SignerError> {
        let ctx = self.ctx();
        let now = ctx.clock.unix();
        let lapsed: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT id, client_id, account_id, expires_at FROM signer_requests \
             WHERE status = 'pending' AND expires_at <= $1 LIMIT 100",
        )
        .bind(now)
        .fetch_all(ctx.db.pool())
        .await?;
        let mut expired = 0;
        for (id, client_id, account_id, expires_at) in lapsed {
            let mut tx = ctx.db.begin().await?;
            let done = sqlx::query(
                "UPDATE signer_requests SET status = 'expired', decided_at = $2, \
                 callback_status = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, \
                 callback_next_at = $3 WHERE id = $1 AND status = 'pending'",
            )
            .bind(&id)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done != 1 {
                continue; // Another node recorded it.
            }
            let event = NewEvent::new("signature_request.expired")
                .actor(client_id.clone())
                .subject(account_id)
                .data(json!({ "request_id": id, "client_id": client_id }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
            tx.commit().await?;
            expired += 1;
        }
        Ok(expired)
    }
}
