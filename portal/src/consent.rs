//! `/consent`: the citizen approves (or declines) what a service asks to know.
//!
//! Reached from the authorization endpoint with `?req=<id>` when a service asks for scopes the
//! citizen has not approved for it yet, asks for data from the wallet, or sends
//! `prompt=consent`. The page names the service and each piece of information in plain words;
//! for wallet data it shows the purpose, the legal basis, the duration, and each attribute
//! with its current value and source, optional ones with a box to untick. The decision goes
//! to the idp
//! ([`clave_idp::oidc::flow::consent`]), which remembers it, journals it and answers the
//! browser: back to the authorization endpoint, or `access_denied` to the service.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_idp::oidc::flow::consent::{self, ConsentError, ConsentPrompt, Decision};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET` and `POST /consent`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/consent", get(show).post(submit))
}

/// The consent page's sentences in one language.
#[derive(Debug)]
pub struct ConsentTexts {
    /// The page's heading.
    pub title: &'static str,
    /// Before the list: "<service> asks to:".
    pub asks: &'static str,
    /// Before the citizen's name.
    pub signed_in_as: &'static str,
    /// The approve button.
    pub approve: &'static str,
    /// The decline button.
    pub deny: &'static str,
    /// Under the buttons: what declining means.
    pub deny_note: &'static str,
    /// When a service asks for nothing beyond knowing it is the citizen.
    pub identity_only: &'static str,
    /// `profile` / `name`.
    pub names: &'static str,
    /// `email`.
    pub email: &'static str,
    /// `run`.
    pub run: &'static str,
    /// `offline_access`.
    pub offline: &'static str,
    /// `wallet`: the citizen's own wallet API on their behalf.
    pub wallet: &'static str,
    /// `mailbox`: reading the citizen's notices on their behalf.
    pub mailbox: &'static str,
    /// `sign`: the citizen's signing credentials, each use authorised by them.
    pub sign: &'static str,
    /// Before a scope clave has no words for.
    pub other: &'static str,
    /// The heading of the data table.
    pub data_heading: &'static str,
    /// The table's caption.
    pub data_caption: &'static str,
    /// Column: the information.
    pub col_data: &'static str,
    /// Column: its current value.
    pub col_value: &'static str,
    /// Column: who vouches for it.
    pub col_source: &'static str,
    /// Column: whether to share it.
    pub col_share: &'static str,
    /// For a value the citizen entered.
    pub source_citizen: &'static str,
    /// Marks a value no source has verified.
    pub unverified: &'static str,
    /// For required data: approve or decline the whole request.
    pub required: &'static str,
    /// The label of the box that shares optional data.
    pub share: &'static str,
    /// Before the purpose.
    pub purpose: &'static str,
    /// When the service stated no purpose.
    pub no_purpose: &'static str,
    /// Before the legal basis.
    pub legal_basis: &'static str,
    /// Before the duration.
    pub duration: &'static str,
    /// A one-time consent.
    pub once: &'static str,
    /// An ongoing consent: "until" and a date follow.
    pub until: &'static str,
    /// After an ongoing consent's date: how to withdraw it.
    pub revocable: &'static str,
    /// Yes and no, for boolean values.
    pub yes: &'static str,
    /// No.
    pub no: &'static str,
}

/// Spanish.
pub static ES: ConsentTexts = ConsentTexts {
    title: "Autoriza el acceso a tus datos",
    asks: "solicita:",
    signed_in_as: "Ingresaste como",
    approve: "Autorizar",
    deny: "No autorizar",
    deny_note: "Si no autorizas, volverás al servicio sin compartir tus datos.",
    identity_only: "Confirmar que eres tú, sin otros datos",
    names: "Conocer tu nombre: nombres y apellidos",
    email: "Conocer tu correo electrónico",
    run: "Conocer tu RUN (tu número de identidad)",
    offline: "Seguir accediendo a estos datos mientras tu sesión esté activa",
    wallet: "Ver y administrar en tu nombre tus datos, permisos y actividad en Clave",
    mailbox: "Leer en tu nombre los avisos de tu casilla",
    sign: "Firmar documentos en tu nombre, cada vez con tu autorización",
    other: "Otro permiso:",
    data_heading: "Datos que se compartirán",
    data_caption: "Cada dato, su valor actual y la institución que lo respalda",
    col_data: "Dato",
    col_value: "Valor actual",
    col_source: "Fuente",
    col_share: "Compartir",
    source_citizen: "Ingresado por ti",
    unverified: "(sin verificar)",
    required: "Necesario para el servicio",
    share: "Compartir",
    purpose: "Para qué:",
    no_purpose: "El servicio no declaró un propósito.",
    legal_basis: "Fundamento legal:",
    duration: "Duración:",
    once: "Solo para este ingreso.",
    until: "Hasta el",
    revocable: "Puedes revocar este permiso cuando quieras en Mis permisos.",
    yes: "Sí",
    no: "No",
};

/// English.
pub static EN: ConsentTexts = ConsentTexts {
    title: "Allow access to your information",
    asks: "asks to:",
    signed_in_as: "Logged in as",
    approve: "Allow",
    deny: "Do not allow",
    deny_note: "If you do not allow it, you go back to the service without sharing your information.",
    identity_only: "Confirm that it is you, with no other information",
    names: "Know your name: given names and family names",
    email: "Know your email address",
    run: "Know your RUN (your national identity number)",
    offline: "Keep accessing this information while your session lasts",
    wallet: "See and manage your information, permissions and activity in Clave on your behalf",
    mailbox: "Read the notices in your mailbox on your behalf",
    sign: "Sign documents for you, each time with your approval",
    other: "Another permission:",
    data_heading: "Information to be shared",
    data_caption: "Each piece of information, its current value and the agency that vouches for it",
    col_data: "Information",
    col_value: "Current value",
    col_source: "Source",
    col_share: "Share",
    source_citizen: "Entered by you",
    unverified: "(not verified)",
    required: "Needed by the service",
    share: "Share",
    purpose: "Purpose:",
    no_purpose: "The service stated no purpose.",
    legal_basis: "Legal basis:",
    duration: "Duration:",
    once: "For this login only.",
    until: "Until",
    revocable: "You can revoke this permission at any time in My permissions.",
    yes: "Yes",
    no: "No",
};

fn texts(lang: Lang) -> &'static ConsentTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// The plain words for each requested scope (names once, even if asked as both `profile`
/// and `name`).
fn describe(scopes: &[String], t: &'static ConsentTexts) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for scope in scopes {
        let item = match scope.as_str() {
            "profile" | "name" => t.names.to_owned(),
            "email" => t.email.to_owned(),
            "run" => t.run.to_owned(),
            "offline_access" => t.offline.to_owned(),
            // Raw scope names mean nothing to a citizen deciding what to allow.
            "wallet" => t.wallet.to_owned(),
            "mailbox" => t.mailbox.to_owned(),
            "sign" => t.sign.to_owned(),
            other => format!("{} {other}", t.other),
        };
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if items.is_empty() {
        items.push(t.identity_only.to_owned());
    }
    items
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    chrome: Chrome,
    t: &'static ConsentTexts,
    service: String,
    citizen: String,
    items: Vec<String>,
    data: Option<DataRequest>,
    req: String,
    csrf: String,
}

/// What the wallet would release, as the page shows it.
struct DataRequest {
    rows: Vec<DataRow>,
    purpose: Option<String>,
    legal_basis: Option<String>,
    /// `None` for a one-time consent; the end date of an ongoing one.
    until: Option<String>,
}

/// One attribute on the page.
struct DataRow {
    name: String,
    label: String,
    value: String,
    source: String,
    verified: bool,
    required: bool,
}

/// The wallet's part of the request: the attributes the citizen has a value for, with their
/// sources, and the terms of the consent.
async fn data_request(
    state: &PortalState,
    prompt: &ConsentPrompt,
    lang: Lang,
    t: &'static ConsentTexts,
) -> Result<Option<DataRequest>, clave_wallet::WalletError> {
    let wallet = &state.wallet;
    let Some(client) = state.idp.clients().get(&prompt.request.client_id).await? else {
        return Ok(None);
    };
    let ask = wallet.ask_of(&client, &prompt.request).await?;
    let values = wallet
        .values()
        .holding(&prompt.account.id, &ask.all())
        .await?;
    if values.is_empty() {
        return Ok(None);
    }
    let names = wallet.values().source_names(&values).await?;
    let catalogue = wallet.catalogue().list().await?;
    let mut rows = Vec::new();
    for name in ask.all() {
        let Some(value) = values.iter().find(|v| v.attribute == name) else {
            continue;
        };
        let label = catalogue
            .iter()
            .find(|d| d.name == name)
            .map_or_else(|| name.clone(), |d| d.label(lang).to_owned());
        let source = if value.source == clave_wallet::values::CITIZEN {
            t.source_citizen.to_owned()
        } else {
            names.get(&value.source).cloned().unwrap_or_default()
        };
        rows.push(DataRow {
            required: ask.required.contains(&name),
            name,
            label,
            value: shown(&value.value, t),
            source,
            verified: value.verified,
        });
    }
    let terms = wallet.consents().terms(&client.client_id).await?;
    let until = match ask.mode {
        clave_wallet::consent::Mode::OneTime => None,
        clave_wallet::consent::Mode::Ongoing => {
            let secs = ask
                .expires_in
                .unwrap_or(state.config.wallet.consent_default_secs);
            let end = wallet.idp().ctx().clock.unix() + secs;
            Some(state.date(lang, end))
        }
    };
    Ok(Some(DataRequest {
        rows,
        purpose: ask.purpose.or(terms.purpose),
        legal_basis: terms.legal_basis,
        until,
    }))
}

/// A value as a citizen reads it.
fn shown(value: &serde_json::Value, t: &ConsentTexts) -> String {
    use serde_json::Value;
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => t.yes.to_owned(),
        Value::Bool(false) => t.no.to_owned(),
        Value::Object(fields) => clave_wallet::value::ADDRESS_FIELDS
            .iter()
            .filter_map(|f| fields.get(*f).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn page_error(error: ConsentError, lang: Lang) -> Result<Response, PageError> {
    match error {
        ConsentError::RequestGone => Err(PageError::new(PageErrorKind::RequestExpired, lang)),
        ConsentError::NotLoggedIn { request_id } => Ok(see_other(
            &format!(
                "/login?req={}",
                url::form_urlencoded::byte_serialize(request_id.as_bytes()).collect::<String>()
            ),
            Vec::new(),
        )),
        ConsentError::Failed(e) => Err(PageError::from_idp(lang, &e)),
    }
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let fallback = Lang::choose(explicit, &headers, None);
    let Some(req) = query.non_empty("req") else {
        return Err(PageError::new(PageErrorKind::RequestExpired, fallback));
    };
    let prompt: ConsentPrompt = match consent::prompt(&state.idp, req, &headers).await {
        Ok(prompt) => prompt,
        Err(error) => return page_error(error, fallback),
    };
    let lang = Lang::choose(explicit, &headers, prompt.request.ui_locales.as_deref());
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    let t = texts(lang);
    let data = data_request(&state, &prompt, lang, t)
        .await
        .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?;
    // Scopes whose data is listed in the table need no words of their own.
    let data_scopes = state.wallet.catalogue().scopes().await.unwrap_or_default();
    let scopes: Vec<String> = prompt
        .scopes
        .iter()
        .filter(|s| {
            matches!(s.as_str(), "profile" | "name" | "email")
                || !data_scopes.iter().any(|d| d == *s)
        })
        .cloned()
        .collect();
    let page = ConsentPage {
        chrome: Chrome::with_switch(lang, "/consent", &[("req", req)]),
        t,
        service: prompt.request.client_name.clone(),
        citizen: prompt.account.full_name(),
        items: describe(&scopes, t),
        data,
        req: prompt.request.id.clone(),
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(req) = form.non_empty("req") else {
        return Err(PageError::new(PageErrorKind::RequestExpired, lang));
    };
    let decision = match form.get("decision") {
        Some("approve") => Decision::Approve,
        Some("deny") => Decision::Deny,
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    let kept = form.all("share");
    match consent::decide(&state.idp, req, &headers, decision, &kept).await {
        Ok(response) => Ok(response),
        Err(error) => page_error(error, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn every_scope_is_said_in_plain_words_once() {
        let items = describe(&scopes(&["profile", "name", "run"]), &ES);
        assert_eq!(items, vec![ES.names.to_owned(), ES.run.to_owned()]);
        assert_eq!(describe(&[], &EN), vec![EN.identity_only.to_owned()]);
        assert_eq!(
            describe(&scopes(&["wallet:health"]), &EN),
            vec!["Another permission: wallet:health".to_owned()]
        );
    }
}
