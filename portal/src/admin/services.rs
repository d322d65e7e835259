//! `/admin/services`: the registered services, registering one (its secret shown once),
//! editing one (every field `clave client add` sets, and its terms), rotating its secret
//! (`clave client rotate-secret`) and removing it (`clave client remove`).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use clave_idp::clients::{AuthMethod, Client, GRANT_CLIENT_CREDENTIALS, NewClient, SubjectType};
use clave_idp::keys::SigningAlg;
use clave_idp::session::{LOA_1, LOA_2, LOA_3};
use clave_wallet::WalletError;
use clave_wallet::consent::ClientTerms;
use clave_wallet::services::ServiceTerms;

use super::{AdminTexts, Need, Refusal, Stop, open, posted, render_form, texts};
use crate::PortalState;
use crate::error::{PageError, PageErrorKind};
use crate::form::Fields;
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// How a registration authenticates, as the form names it.
const AUTH_SECRET: &str = "secret";
const AUTH_PUBLIC: &str = "public";
const AUTH_KEYS: &str = "keys";

/// One row of the list.
struct Row {
    id: String,
    name: String,
    auth: &'static str,
    level: String,
}

#[derive(Template)]
#[template(path = "admin_services.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    rows: Vec<Row>,
    notice: Option<&'static str>,
    error: Option<Refusal>,
}

pub(super) async fn list(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (query, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let t = texts(lang);
    let rows = state
        .idp
        .clients()
        .list()
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .into_iter()
        .map(|c| Row {
            auth: c.token_endpoint_auth_method.as_str(),
            level: c.min_acr.clone().unwrap_or_else(|| "—".into()),
            id: c.client_id,
            name: c.name,
        })
        .collect();
    let page = ListPage {
        chrome: Chrome::with_switch(lang, "/admin/services", &[]),
        t,
        rows,
        notice: match query.get("done") {
            Some("saved") => Some(t.saved),
            Some("removed") => Some(t.removed),
            _ => None,
        },
        error: None,
    };
    Ok(render(&page, lang, StatusCode::OK, Vec::new())?)
}

/// The form's fields as typed, to show again.
#[derive(Debug, Clone, Default)]
struct ServiceForm {
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    auth: String,
    jwks: String,
    scopes: String,
    client_credentials: bool,
    backchannel_logout_uri: String,
    subject_type: String,
    sector: String,
    id_token_alg: String,
    require_par: bool,
    min_acr: String,
    jwks_uri: String,
    logo_uri: String,
    purpose: String,
    legal_basis: String,
    consent_events_uri: String,
    mailbox_by_run: bool,
}

fn lines(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

impl ServiceForm {
    fn read(form: &Fields) -> Self {
        let text = |name: &str| form.get(name).unwrap_or_default().to_owned();
        let ticked = |name: &str| form.get(name) == Some("yes");
        Self {
            name: text("name"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            auth: text("auth"),
            jwks: text("jwks"),
            scopes: text("scopes"),
            client_credentials: ticked("client_credentials"),
            backchannel_logout_uri: text("backchannel_logout_uri"),
            subject_type: text("subject_type"),
            sector: text("sector"),
            id_token_alg: text("id_token_alg"),
            require_par: ticked("require_par"),
            min_acr: text("min_acr"),
            jwks_uri: text("jwks_uri"),
            logo_uri: text("logo_uri"),
            purpose: text("purpose"),
            legal_basis: text("legal_basis"),
            consent_events_uri: text("consent_events_uri"),
            mailbox_by_run: ticked("mailbox_by_run"),
        }
    }

    /// The form filled with a registration, for editing.
    fn of(client: &Client, extra: &ServiceTerms) -> Self {
        Self {
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            auth: match client.token_endpoint_auth_method {
                AuthMethod::None => AUTH_PUBLIC,
                AuthMethod::PrivateKeyJwt => AUTH_KEYS,
                _ => AUTH_SECRET,
            }
            .to_owned(),
            jwks: client
                .jwks
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            scopes: client.scopes.join(" "),
            client_credentials: client.allows_grant(GRANT_CLIENT_CREDENTIALS),
            backchannel_logout_uri: client.backchannel_logout_uri.clone().unwrap_or_default(),
            subject_type: client.subject_type.as_str().to_owned(),
            sector: if client.sector == client.client_id {
                String::new()
            } else {
                client.sector.clone()
            },
            id_token_alg: client.id_token_alg.as_str().to_owned(),
            require_par: client.require_par,
            min_acr: client.min_acr.clone().unwrap_or_default(),
            jwks_uri: client.jwks_uri.clone().unwrap_or_default(),
            logo_uri: extra.logo_uri.clone().unwrap_or_default(),
            purpose: extra.terms.purpose.clone().unwrap_or_default(),
            legal_basis: extra.terms.legal_basis.clone().unwrap_or_default(),
            consent_events_uri: extra.terms.consent_events_uri.clone().unwrap_or_default(),
            mailbox_by_run: extra.mailbox_by_run,
        }
    }

    /// The registration and terms the form asks for, or what to fix first.
    fn parse(&self, t: &'static AdminTexts) -> Result<(NewClient, ServiceTerms), Refusal> {
        if self.name.trim().is_empty() {
            return Err(Refusal::own(t.err_name));
        }
        let jwks = match (self.auth.as_str(), self.jwks.trim()) {
            (AUTH_KEYS, text) => {
                Some(serde_json::from_str(text).map_err(|_| Refusal::own(t.err_jwks))?)
            }
            _ => None,
        };
        let new = NewClient {
            name: self.name.clone(),
            redirect_uris: lines(&self.redirect_uris),
            post_logout_redirect_uris: lines(&self.post_logout_redirect_uris),
            public: self.auth == AUTH_PUBLIC,
            scopes: lines(&self.scopes),
            grants: if self.client_credentials {
                vec![GRANT_CLIENT_CREDENTIALS.to_owned()]
            } else {
                Vec::new()
            },
            backchannel_logout_uri: optional(&self.backchannel_logout_uri),
            subject_type: SubjectType::parse(&self.subject_type),
            sector: optional(&self.sector),
            id_token_alg: SigningAlg::parse(&self.id_token_alg),
            require_par: self.require_par,
            min_acr: optional(&self.min_acr),
            jwks,
            jwks_uri: optional(&self.jwks_uri),
        };
        let extra = ServiceTerms {
            terms: ClientTerms {
                purpose: optional(&self.purpose),
                legal_basis: optional(&self.legal_basis),
                consent_events_uri: optional(&self.consent_events_uri),
            },
            mailbox_by_run: self.mailbox_by_run,
            logo_uri: optional(&self.logo_uri),
        };
        Ok((new, extra))
    }
}

/// A choice of a `<select>` or radio group.
struct Choice {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "admin_service_form.html")]
struct FormPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    /// `None` when registering.
    client_id: Option<String>,
    /// Whether the service authenticates with a secret, which can then be rotated.
    has_secret: bool,
    f: ServiceForm,
    auths: Vec<Choice>,
    subject_types: Vec<Choice>,
    algs: Vec<Choice>,
    levels: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<Refusal>,
    csrf: String,
}

impl FormPage {
    fn auth_label(&self) -> &'static str {
        self.auths
            .iter()
            .find(|c| c.value == self.f.auth)
            .map_or("", |c| c.label)
    }
}

fn form_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    client_id: Option<String>,
    f: ServiceForm,
    error: Option<Refusal>,
) -> Result<Response, Stop> {
    let t = texts(lang);
    let choice = |value, label| Choice { value, label };
    let has_secret = client_id.is_some() && f.auth == AUTH_SECRET;
    render_form(state, headers, lang, error.is_some(), |csrf| FormPage {
        chrome: Chrome::new(lang),
        t,
        client_id,
        has_secret,
        f,
        auths: vec![
            choice(AUTH_SECRET, t.auth_secret),
            choice(AUTH_PUBLIC, t.auth_public),
            choice(AUTH_KEYS, t.auth_keys),
        ],
        subject_types: vec![
            choice("pairwise", t.subject_pairwise),
            choice("public", t.subject_public),
        ],
        algs: vec![choice("ES256", "ES256"), choice("RS256", "RS256")],
        levels: vec![
            choice("", t.acr_none),
            choice(LOA_1, t.acr_1),
            choice(LOA_2, t.acr_2),
            choice(LOA_3, t.acr_3),
        ],
        notice: None,
        error,
        csrf,
    })
}

pub(super) async fn new_form(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (_, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let f = ServiceForm {
        auth: AUTH_SECRET.into(),
        scopes: "openid profile email".into(),
        subject_type: "pairwise".into(),
        id_token_alg: "ES256".into(),
        ..ServiceForm::default()
    };
    form_page(&state, &headers, lang, None, f, None)
}

/// A domain refusal of a form: what to fix, or the error page for anything else.
fn refusal(lang: Lang, e: WalletError) -> Result<Refusal, PageError> {
    match e {
        WalletError::Invalid(text)
        | WalletError::Idp(clave_idp::IdpError::Invalid(text))
        | WalletError::Conflict(text) => Ok(Refusal::detailed(lang, text)),
        WalletError::NotFound(_) | WalletError::Idp(clave_idp::IdpError::NotFound(_)) => {
            Err(PageError::new(PageErrorKind::NotFound, lang))
        }
        other => Err(PageError::from_idp(lang, &other.into_idp())),
    }
}

#[derive(Template)]
#[template(path = "admin_service_created.html")]
struct CreatedPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    /// The heading: registered, or its secret rotated.
    title: &'static str,
    name: String,
    client_id: String,
    secret: Option<String>,
}

/// Registers a service; the answer is the page with its secret, shown this once (never a
/// redirect to a page that could show it again).
pub(super) async fn register(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let f = ServiceForm::read(&form);
    let (new, extra) = match f.parse(texts(lang)) {
        Ok(parsed) => parsed,
        Err(error) => return form_page(&state, &headers, lang, None, f, Some(error)),
    };
    match state
        .wallet
        .register_service(new, &extra, Some(&access.account.id))
        .await
    {
        Ok(registered) => {
            let page = CreatedPage {
                chrome: Chrome::new(lang),
                t: texts(lang),
                title: texts(lang).created_title,
                name: registered.client.name,
                client_id: registered.client.client_id,
                secret: registered.client_secret,
            };
            Ok(render(&page, lang, StatusCode::CREATED, Vec::new())?)
        }
        Err(e) => {
            let error = refusal(lang, e)?;
            form_page(&state, &headers, lang, None, f, Some(error))
        }
    }
}

pub(super) async fn edit_form(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (_, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let client = state
        .idp
        .clients()
        .get(&id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?;
    let extra = state
        .wallet
        .service_terms(&id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?;
    let f = ServiceForm::of(&client, &extra);
    form_page(&state, &headers, lang, Some(id), f, None)
}

pub(super) async fn edit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let client = state
        .idp
        .clients()
        .get(&id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?;
    let mut f = ServiceForm::read(&form);
    // The authentication method was set at registration and is not a field of the edit.
    f.auth = ServiceForm::of(&client, &ServiceTerms::default()).auth;
    let (mut edit, extra) = match f.parse(texts(lang)) {
        Ok(parsed) => parsed,
        Err(error) => return form_page(&state, &headers, lang, Some(id), f, Some(error)),
    };
    edit.jwks = client.jwks.clone();
    match state
        .wallet
        .update_service(&id, edit, &extra, &access.account.id)
        .await
    {
        Ok(_) => Ok(see_other("/admin/services?done=saved", Vec::new())),
        Err(e) => {
            let error = refusal(lang, e)?;
            form_page(&state, &headers, lang, Some(id), f, Some(error))
        }
    }
}

/// The registration `id`, or the "not found" page.
async fn registered(state: &PortalState, lang: Lang, id: &str) -> Result<Client, Stop> {
    Ok(state
        .idp
        .clients()
        .get(id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?)
}

/// The edit page again, its fields as stored, with what to fix in a form of its own.
async fn refused_on_edit_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    client: &Client,
    error: Refusal,
) -> Result<Response, Stop> {
    let extra = state
        .wallet
        .service_terms(&client.client_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?;
    let f = ServiceForm::of(client, &extra);
    let id = Some(client.client_id.clone());
    form_page(state, headers, lang, id, f, Some(error))
}

/// Replaces the service's secret once the box confirming it is ticked; the answer is the
/// page with the new secret, shown this once, as after registering. Journaled by the
/// identity provider as `client.secret_rotated` with the administrator.
pub(super) async fn rotate_secret(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let t = texts(lang);
    let client = registered(&state, lang, &id).await?;
    if form.get("confirm") != Some("yes") {
        let error = Refusal::own(t.err_rotate_confirm);
        return refused_on_edit_page(&state, &headers, lang, &client, error).await;
    }
    match state
        .idp
        .clients()
        .rotate_secret_by(&id, Some(&access.account.id))
        .await
    {
        Ok(secret) => {
            let page = CreatedPage {
                chrome: Chrome::new(lang),
                t,
                title: t.rotated_title,
                name: client.name,
                client_id: client.client_id,
                secret: Some(secret),
            };
            Ok(render(&page, lang, StatusCode::OK, Vec::new())?)
        }
        Err(e) => {
            let error = refusal(lang, WalletError::Idp(e))?;
            refused_on_edit_page(&state, &headers, lang, &client, error).await
        }
    }
}

/// Removes the service once its client_id is typed to confirm: it can no longer sign anyone
/// in or get tokens, and its grants are revoked. Journaled by the identity provider as
/// `client.removed` with the administrator.
pub(super) async fn remove(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let client = registered(&state, lang, &id).await?;
    // Typing the identifier, not ticking a box, so that the service removed is the one meant.
    if form.get("confirm").map(str::trim) != Some(client.client_id.as_str()) {
        let error = Refusal::own(texts(lang).err_remove_confirm);
        return refused_on_edit_page(&state, &headers, lang, &client, error).await;
    }
    match state
        .idp
        .clients()
        .remove_by(&id, Some(&access.account.id))
        .await
    {
        Ok(()) => Ok(see_other("/admin/services?done=removed", Vec::new())),
        Err(e) => {
            let error = refusal(lang, WalletError::Idp(e))?;
            refused_on_edit_page(&state, &headers, lang, &client, error).await
        }
    }
}
