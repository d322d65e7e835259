//! `/admin/attributes`: the attribute catalogue, defining an attribute or changing its
//! definition, as `clave attribute define` does, and granting and revoking its
//! authoritative sources, as `clave attribute grant-source` and `revoke-source` do.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use clave_common::journal::NewEvent;
use clave_wallet::WalletError;
use clave_wallet::catalogue::{AttributeDef, NewAttribute};
use clave_wallet::value::Kind;
use serde_json::json;

use super::{AdminTexts, Need, Refusal, Stop, open, posted, render_form, texts};
use crate::PortalState;
use crate::error::{PageError, PageErrorKind};
use crate::form::Fields;
use crate::i18n::Lang;
use crate::page::{Chrome, see_other};

struct Row {
    name: String,
    label: String,
    kind: &'static str,
    scope: String,
    flags: Vec<&'static str>,
}

/// The define form as typed.
#[derive(Debug, Clone, Default)]
struct DefineForm {
    name: String,
    label_es: String,
    label_en: String,
    kind: String,
    codes: String,
    sensitive: bool,
    scope: String,
    self_asserted: bool,
}

impl DefineForm {
    fn read(form: &Fields) -> Self {
        let text = |name: &str| form.get(name).unwrap_or_default().to_owned();
        Self {
            name: text("name").trim().to_owned(),
            label_es: text("label_es"),
            label_en: text("label_en"),
            kind: text("kind"),
            codes: text("codes"),
            sensitive: form.get("sensitive") == Some("yes"),
            scope: text("scope").trim().to_owned(),
            self_asserted: form.get("self_asserted") == Some("yes"),
        }
    }

    fn of(def: &AttributeDef) -> Self {
        Self {
            name: def.name.clone(),
            label_es: def.label_es.clone(),
            label_en: def.label_en.clone(),
            kind: def.kind.as_str().to_owned(),
            codes: def.codes.join(" "),
            sensitive: def.sensitive,
            scope: def.scope.clone(),
            self_asserted: def.self_asserted,
        }
    }
}

/// A registered service, as a source or a choice of one.
struct Service {
    client_id: String,
    /// Its name; empty for a source whose registration was removed.
    name: String,
}

/// The authoritative sources of the attribute being edited.
struct Sources {
    attribute: String,
    granted: Vec<Service>,
    /// The registered services not yet sources.
    choices: Vec<Service>,
}

/// A type of the define form.
struct KindChoice {
    value: &'static str,
}

#[derive(Template)]
#[template(path = "admin_attributes.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    rows: Vec<Row>,
    kinds: Vec<KindChoice>,
    f: DefineForm,
    /// When editing an attribute that is defined.
    sources: Option<Sources>,
    notice: Option<&'static str>,
    error: Option<Refusal>,
    csrf: String,
}

async fn list_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    f: Option<DefineForm>,
    notice: Option<&'static str>,
    error: Option<Refusal>,
) -> Result<Response, Stop> {
    let t = texts(lang);
    let defs = state
        .wallet
        .catalogue()
        .list()
        .await
        .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?;
    let rows = defs
        .iter()
        .map(|d| Row {
            name: d.name.clone(),
            label: d.label(lang).to_owned(),
            kind: d.kind.as_str(),
            scope: d.scope.clone(),
            flags: [
                (d.sensitive, t.sensitive),
                (d.self_asserted, t.self_asserted),
            ]
            .into_iter()
            .filter_map(|(on, flag)| on.then_some(flag))
            .collect(),
        })
        .collect();
    let sources = match f
        .as_ref()
        .and_then(|f| defs.iter().find(|d| d.name == f.name))
    {
        Some(def) => Some(sources(state, lang, def).await?),
        None => None,
    };
    let f = f.unwrap_or_else(|| DefineForm {
        kind: Kind::Text.as_str().to_owned(),
        ..DefineForm::default()
    });
    render_form(state, headers, lang, error.is_some(), |csrf| ListPage {
        chrome: Chrome::with_switch(lang, "/admin/attributes", &[]),
        t,
        rows,
        kinds: Kind::ALL
            .iter()
            .map(|k| KindChoice { value: k.as_str() })
            .collect(),
        f,
        sources,
        notice,
        error,
        csrf,
    })
}

/// `def`'s sources, and the registered services that could become one.
async fn sources(state: &PortalState, lang: Lang, def: &AttributeDef) -> Result<Sources, Stop> {
    let services = state
        .idp
        .clients()
        .list()
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let granted = def
        .sources
        .iter()
        .map(|id| Service {
            client_id: id.clone(),
            name: services
                .iter()
                .find(|c| &c.client_id == id)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
        })
        .collect();
    let choices = services
        .into_iter()
        .filter(|c| !def.sources.contains(&c.client_id))
        .map(|c| Service {
            client_id: c.client_id,
            name: c.name,
        })
        .collect();
    Ok(Sources {
        attribute: def.name.clone(),
        granted,
        choices,
    })
}

/// The catalogue; `?name=` fills the form with that attribute's definition to change it.
pub(super) async fn list(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (query, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let f = match query.non_empty("name") {
        Some(name) => state
            .wallet
            .catalogue()
            .get(name)
            .await
            .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?
            .map(|d| DefineForm::of(&d)),
        None => None,
    };
    let t = texts(lang);
    let notice = match query.get("done") {
        Some("saved") => Some(t.saved),
        Some("granted") => Some(t.source_granted),
        Some("revoked") => Some(t.source_revoked),
        _ => None,
    };
    list_page(&state, &headers, lang, f, notice, None).await
}

/// Defines (or redefines) an attribute; journaled by the catalogue as `attribute.defined`
/// and here as `admin.attribute_defined` with the administrator.
pub(super) async fn define(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let f = DefineForm::read(&form);
    let Some(kind) = Kind::parse(&f.kind) else {
        let error = Refusal::detailed(lang, format!("unknown type {:?}", f.kind));
        return list_page(&state, &headers, lang, Some(f), None, Some(error)).await;
    };
    let new = NewAttribute {
        name: f.name.clone(),
        label_es: f.label_es.clone(),
        label_en: f.label_en.clone(),
        kind,
        codes: f.codes.split_whitespace().map(str::to_owned).collect(),
        sensitive: f.sensitive,
        scope: f.scope.clone(),
        self_asserted: f.self_asserted,
    };
    match state.wallet.catalogue().define(new).await {
        Ok(def) => {
            let event = NewEvent::new("admin.attribute_defined")
                .actor(access.account.id.as_str())
                .subject(def.name.as_str())
                .data(json!({ "kind": def.kind.as_str(), "scope": def.scope }));
            state
                .idp
                .ctx()
                .journal
                .append_now(&event)
                .await
                .map_err(|e| PageError::internal(lang, e))?;
            Ok(see_other("/admin/attributes?done=saved", Vec::new()))
        }
        Err(WalletError::Invalid(text) | WalletError::Conflict(text)) => {
            let error = Refusal::detailed(lang, text);
            list_page(&state, &headers, lang, Some(f), None, Some(error)).await
        }
        Err(e) => Err(PageError::from_idp(lang, &e.into_idp()).into()),
    }
}

/// Makes the chosen registered service an authoritative source of the attribute `name`.
/// Journaled by the catalogue as `attribute.source_granted` with the administrator.
pub(super) async fn grant_source(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    set_source(state, headers, name, body, true).await
}

/// Takes back a source of the attribute `name`; what it published stays. Journaled by the
/// catalogue as `attribute.source_revoked` with the administrator.
pub(super) async fn revoke_source(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    set_source(state, headers, name, body, false).await
}

async fn set_source(
    state: PortalState,
    headers: HeaderMap,
    name: String,
    body: Bytes,
    grant: bool,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let catalogue = state.wallet.catalogue();
    let def = catalogue
        .get(&name)
        .await
        .map_err(|e| PageError::from_idp(lang, &e.into_idp()))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?;
    let client_id = form.non_empty("client_id").unwrap_or_default().trim();
    let outcome = if client_id.is_empty() {
        Err(Refusal::own(texts(lang).err_source))
    } else {
        match catalogue
            .set_source_by(&def.name, client_id, grant, &access.account.id)
            .await
        {
            Ok(()) => Ok(()),
            // The attribute is there, so what is missing is the service.
            Err(WalletError::NotFound(_)) => Err(Refusal::own(texts(lang).err_source)),
            Err(WalletError::Invalid(text) | WalletError::Conflict(text)) => {
                Err(Refusal::detailed(lang, text))
            }
            Err(e) => return Err(PageError::from_idp(lang, &e.into_idp()).into()),
        }
    };
    match outcome {
        Ok(()) => {
            let done = if grant { "granted" } else { "revoked" };
            let to = format!(
                "/admin/attributes?name={}&done={done}#sources-heading",
                def.name
            );
            Ok(see_other(&to, Vec::new()))
        }
        Err(error) => {
            let f = Some(DefineForm::of(&def));
            list_page(&state, &headers, lang, f, None, Some(error)).await
        }
    }
}
