//! `/admin`: the administration pages. Who may do what:
//!
//! - an **administrator** (staff role `admin`): services, institutions and their roles, the
//!   attribute catalogue, the journal, and agents with their offices;
//! - an **agent supervisor** (staff role `supervisor`): agents and offices only;
//! - an **institution administrator** or **ministro de fe** (roles within an institution):
//!   that institution's officials and roles, and no other institution's.
//!
//! Every page asks for a level-2 sign-in, like the agents' console. The pages call the same
//! domain functions as the command line, and every change is journaled with the acting
//! account. Refusals are a page saying what the account may not do (403).

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clave_idp::accounts::Account;
use clave_idp::factors;
use clave_idp::roles;
use clave_signer::institutions::{ADMIN as INSTITUTION_ADMIN, MINISTRO_DE_FE};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

mod agents;
mod catalogue;
mod institutions;
mod journal;
mod services;
pub mod texts;

pub use texts::AdminTexts;
use texts::texts;

/// The administration routes.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route(
            "/admin/services",
            get(services::list).post(services::register),
        )
        .route("/admin/services/new", get(services::new_form))
        .route(
            "/admin/services/{id}",
            get(services::edit_form).post(services::edit),
        )
        .route(
            "/admin/services/{id}/rotate-secret",
            post(services::rotate_secret),
        )
        .route("/admin/services/{id}/remove", post(services::remove))
        .route(
            "/admin/institutions",
            get(institutions::list).post(institutions::create),
        )
        .route("/admin/institutions/{id}", get(institutions::staff))
        .route("/admin/institutions/{id}/grant", post(institutions::grant))
        .route(
            "/admin/institutions/{id}/revoke",
            post(institutions::revoke),
        )
        .route(
            "/admin/attributes",
            get(catalogue::list).post(catalogue::define),
        )
        .route(
            "/admin/attributes/{name}/sources",
            post(catalogue::grant_source),
        )
        .route(
            "/admin/attributes/{name}/sources/revoke",
            post(catalogue::revoke_source),
        )
        .route("/admin/journal", get(journal::page))
        .route("/admin/agents", get(agents::list))
        .route("/admin/agents/grant", post(agents::grant))
        .route("/admin/agents/revoke", post(agents::revoke))
}

/// An institution the signed-in account administers (as its administrator or ministro de
/// fe).
#[derive(Debug, Clone)]
pub(crate) struct OwnInstitution {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// The signed-in account and what it may administer.
#[derive(Debug, Clone)]
pub(crate) struct Access {
    /// The account.
    pub account: Account,
    /// Holds the `admin` staff role.
    pub is_admin: bool,
    /// Holds the `supervisor` staff role.
    pub is_supervisor: bool,
    /// The institutions it administers through an institution role.
    pub institutions: Vec<OwnInstitution>,
}

/// What a page needs of the account.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Need {
    /// Any administration role.
    Any,
    /// The administrator.
    Admin,
    /// The administrator or an agent supervisor.
    Agents,
    /// The administrator, or the institution's administrator or ministro de fe.
    Institution,
}

impl Access {
    /// Whether the account may act on the institution `id`'s officials.
    pub fn may_institution(&self, id: &str) -> bool {
        self.is_admin || self.institutions.iter().any(|i| i.id == id)
    }

    fn may(&self, need: Need) -> bool {
        match need {
            Need::Any => self.is_admin || self.is_supervisor || !self.institutions.is_empty(),
            Need::Admin => self.is_admin,
            Need::Agents => self.is_admin || self.is_supervisor,
            Need::Institution => self.is_admin || !self.institutions.is_empty(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin_denied.html")]
struct DeniedPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    message: &'static str,
}

/// The refusal page (403) saying what the account may not administer.
pub(crate) fn denied(lang: Lang, message: &'static str) -> Result<Response, Stop> {
    let page = DeniedPage {
        chrome: Chrome::new(lang),
        t: texts(lang),
        message,
    };
    Ok(render(&page, lang, StatusCode::FORBIDDEN, Vec::new())?)
}

/// Why an administration handler answers early: an error page, or another answer (the
/// login, a refusal page). Handlers return it so that `?` does the early return.
#[derive(Debug)]
pub(crate) enum Stop {
    /// An error page.
    Page(PageError),
    /// Another answer.
    Answer(Box<Response>),
}

impl From<PageError> for Stop {
    fn from(e: PageError) -> Self {
        Self::Page(e)
    }
}

impl IntoResponse for Stop {
    fn into_response(self) -> Response {
        match self {
            Self::Page(e) => e.into_response(),
            Self::Answer(response) => *response,
        }
    }
}

/// The signed-in account's access if it meets `need`; otherwise the login, or the refusal
/// page. A session below level 2 is refused as the agents' console refuses it.
pub(crate) async fn access(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    need: Need,
) -> Result<Access, Stop> {
    let Some(session) = crate::signed_in::page_session(&state.idp, headers, lang).await? else {
        return Err(Stop::Answer(Box::new(see_other("/login", Vec::new()))));
    };
    let account = state
        .idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::Forbidden, lang))?;
    let institutions = own_institutions(state, &account.id)
        .await
        .map_err(|e| PageError::internal(lang, e))?;
    let holds = |role: &str| account.roles.iter().any(|r| r == role);
    let administers_something =
        holds(roles::ADMIN) || holds(roles::SUPERVISOR) || !institutions.is_empty();
    if factors::rank(&session.acr) < 2 {
        // Staff signed in with the password only confirm with their second factor first.
        if administers_something {
            let step_up = see_other("/login/second-factor?then=admin", Vec::new());
            return Err(Stop::Answer(Box::new(step_up)));
        }
        return Err(PageError::new(PageErrorKind::Forbidden, lang).into());
    }
    let access = Access {
        is_admin: holds(roles::ADMIN),
        is_supervisor: holds(roles::SUPERVISOR),
        institutions,
        account,
    };
    if access.may(need) {
        return Ok(access);
    }
    let t = texts(lang);
    let message = match need {
        Need::Any => t.denied_any,
        Need::Admin => t.denied_services,
        Need::Agents => t.denied_agents,
        Need::Institution => t.denied_institution,
    };
    Err(Stop::Answer(Box::new(denied(lang, message)?)))
}

/// The institutions `account_id` administers (as their administrator or ministro de fe).
async fn own_institutions(
    state: &PortalState,
    account_id: &str,
) -> Result<Vec<OwnInstitution>, clave_signer::SignerError> {
    let mut institutions: Vec<OwnInstitution> = Vec::new();
    for (institution, role) in state.signer.institution_roles(account_id).await? {
        let administers = role == INSTITUTION_ADMIN || role == MINISTRO_DE_FE;
        if administers && !institutions.iter().any(|i| i.id == institution.id) {
            institutions.push(OwnInstitution {
                id: institution.id,
                name: institution.name,
            });
        }
    }
    Ok(institutions)
}

/// Whether `account` administers anything, for the link to `/admin` on the home page.
pub(crate) async fn administers_something(
    state: &PortalState,
    account: &Account,
) -> Result<bool, clave_signer::SignerError> {
    let holds = |role: &str| account.roles.iter().any(|r| r == role);
    Ok(holds(roles::ADMIN)
        || holds(roles::SUPERVISOR)
        || !own_institutions(state, &account.id).await?.is_empty())
}

/// A page's GET: its query, its language and the account, if it meets `need`.
pub(crate) async fn open(
    state: &PortalState,
    headers: &HeaderMap,
    query: Option<&str>,
    need: Need,
) -> Result<(Fields, Lang, Access), Stop> {
    let query = Fields::from_query(query);
    let lang = Lang::choose(query.non_empty("lang"), headers, None);
    let access = access(state, headers, lang, need).await?;
    Ok((query, lang, access))
}

/// A form's POST, its CSRF token checked: its fields, its language and the account, if it
/// meets `need`.
pub(crate) async fn posted(
    state: &PortalState,
    headers: &HeaderMap,
    body: &[u8],
    need: Need,
) -> Result<(Fields, Lang, Access), Stop> {
    let (form, lang) = form::checked(headers, body)?;
    let access = access(state, headers, lang, need).await?;
    Ok((form, lang, access))
}

/// A page with forms: its CSRF token goes to `page`, and the status says whether a form
/// was refused (422) or not.
pub(crate) fn render_form<T: Template>(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    refused: bool,
    page: impl FnOnce(String) -> T,
) -> Result<Response, Stop> {
    let (csrf, cookies) = CsrfToken::page(headers, state.config.is_https());
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(&page(csrf), lang, status, cookies)?)
}

/// A domain refusal as the sentence an error summary shows: the localized lead and the
/// domain's own reason (in English, marked as such in the template).
pub(crate) struct Refusal {
    /// The localized sentence.
    pub lead: &'static str,
    /// The domain's reason, if any.
    pub detail: Option<String>,
}

impl Refusal {
    /// A refusal the page words itself.
    pub fn own(lead: &'static str) -> Self {
        Self { lead, detail: None }
    }

    /// A refusal with the domain's reason.
    pub fn detailed(lang: Lang, detail: impl Into<String>) -> Self {
        Self {
            lead: texts(lang).invalid_lead,
            detail: Some(detail.into()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin.html")]
struct DashboardPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    name: String,
    is_admin: bool,
    may_agents: bool,
    institutions: Vec<OwnInstitution>,
}

async fn dashboard(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (_, lang, access) = open(&state, &headers, query.as_deref(), Need::Any).await?;
    let page = DashboardPage {
        chrome: Chrome::with_switch(lang, "/admin", &[]),
        t: texts(lang),
        name: access.account.full_name(),
        is_admin: access.is_admin,
        may_agents: access.is_admin || access.is_supervisor,
        institutions: if access.is_admin {
            Vec::new()
        } else {
            access.institutions
        },
    };
    Ok(render(&page, lang, StatusCode::OK, Vec::new())?)
}
