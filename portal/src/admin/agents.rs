//! `/admin/agents`: who holds a staff role, and granting or revoking one. An agent supervisor
//! grants and revokes the agent role (with its office); an administrator also the supervisor
//! and administrator roles.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use clave_common::Run;
use clave_idp::IdpError;
use clave_idp::roles::{ADMIN, AGENT, SUPERVISOR};

use super::{Access, AdminTexts, Need, Refusal, Stop, denied, open, posted, render_form, texts};
use crate::PortalState;
use crate::error::PageError;
use crate::i18n::Lang;
use crate::page::{Chrome, see_other};

struct Row {
    account_id: String,
    person: String,
    office: String,
    roles: Vec<(&'static str, &'static str)>,
}

/// A role of the grant form.
struct RoleChoice {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "admin_agents.html")]
struct AgentsPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    rows: Vec<Row>,
    roles: Vec<RoleChoice>,
    run: String,
    office: String,
    notice: Option<&'static str>,
    error: Option<Refusal>,
    csrf: String,
}

/// The staff roles `access` may grant and revoke, with their labels.
fn grantable(access: &Access, t: &'static AdminTexts) -> Vec<(&'static str, &'static str)> {
    let mut roles = vec![(AGENT, t.role_agent)];
    if access.is_admin {
        roles.push((SUPERVISOR, t.role_supervisor));
        roles.push((ADMIN, t.role_admin_staff));
    }
    roles
}

async fn agents_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    access: &Access,
    typed: (String, String),
    notice: Option<&'static str>,
    error: Option<Refusal>,
) -> Result<Response, Stop> {
    let t = texts(lang);
    let labels = [
        (AGENT, t.role_agent),
        (SUPERVISOR, t.role_supervisor),
        (ADMIN, t.role_admin_staff),
    ];
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = state
            .idp
            .accounts()
            .staff_list(after.as_deref())
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?;
        let Some(last) = page.last() else { break };
        after = Some(last.account.id.clone());
        for member in page {
            let roles: Vec<_> = labels
                .iter()
                .copied()
                .filter(|(role, _)| member.account.roles.iter().any(|r| r == role))
                .collect();
            if roles.is_empty() {
                continue;
            }
            rows.push(Row {
                person: format!(
                    "{} ({})",
                    member.account.full_name(),
                    member.account.run.canonical()
                ),
                account_id: member.account.id,
                office: member.office.unwrap_or_default(),
                roles,
            });
        }
    }
    let roles = grantable(access, t)
        .into_iter()
        .map(|(value, label)| RoleChoice { value, label })
        .collect();
    render_form(state, headers, lang, error.is_some(), |csrf| AgentsPage {
        chrome: Chrome::with_switch(lang, "/admin/agents", &[]),
        t,
        rows,
        roles,
        run: typed.0,
        office: typed.1,
        notice,
        error,
        csrf,
    })
}

pub(super) async fn list(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (query, lang, access) = open(&state, &headers, query.as_deref(), Need::Agents).await?;
    let notice = (query.get("done") == Some("saved")).then_some(texts(lang).saved);
    agents_page(
        &state,
        &headers,
        lang,
        &access,
        Default::default(),
        notice,
        None,
    )
    .await
}

/// A role a form names, as the account may act on it.
enum Chosen {
    /// One it may grant and revoke.
    Role(&'static str),
    /// A staff role beyond its reach (a supervisor naming administrators).
    Beyond,
    /// No staff role.
    Unknown,
}

fn chosen_role(access: &Access, lang: Lang, role: &str) -> Chosen {
    if let Some((role, _)) = grantable(access, texts(lang))
        .into_iter()
        .find(|(r, _)| *r == role)
    {
        Chosen::Role(role)
    } else if [SUPERVISOR, ADMIN].contains(&role) {
        Chosen::Beyond
    } else {
        Chosen::Unknown
    }
}

/// Grants a staff role to the account with the typed RUN; an agent names its office.
pub(super) async fn grant(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Agents).await?;
    let t = texts(lang);
    let typed = (
        form.get("run").unwrap_or_default().trim().to_owned(),
        form.get("office").unwrap_or_default().to_owned(),
    );
    let again = |error: &'static str| {
        agents_page(
            &state,
            &headers,
            lang,
            &access,
            typed.clone(),
            None,
            Some(Refusal::own(error)),
        )
    };
    let role = match chosen_role(&access, lang, form.get("role").unwrap_or_default()) {
        Chosen::Role(role) => role,
        Chosen::Unknown => return again(t.err_role).await,
        Chosen::Beyond => return denied(lang, t.denied_services),
    };
    let Ok(run) = Run::parse(&typed.0) else {
        return again(t.err_run).await;
    };
    let accounts = state.idp.accounts();
    let Some(account) = accounts
        .find_by_run(&run)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return again(t.err_unknown_run).await;
    };
    match accounts
        .grant_role(&account.id, role, Some(&typed.1), &access.account.id)
        .await
    {
        Ok(()) => Ok(see_other("/admin/agents?done=saved", Vec::new())),
        Err(IdpError::Invalid(_)) => again(t.err_office).await,
        Err(e) => Err(PageError::from_idp(lang, &e).into()),
    }
}

/// Revokes a staff role.
pub(super) async fn revoke(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Agents).await?;
    let t = texts(lang);
    let again = |error: &'static str| {
        agents_page(
            &state,
            &headers,
            lang,
            &access,
            Default::default(),
            None,
            Some(Refusal::own(error)),
        )
    };
    let role = match chosen_role(&access, lang, form.get("role").unwrap_or_default()) {
        Chosen::Role(role) => role,
        Chosen::Unknown => return again(t.err_role).await,
        Chosen::Beyond => return denied(lang, t.denied_services),
    };
    let account_id = form.get("account").unwrap_or_default();
    match state
        .idp
        .accounts()
        .revoke_role(account_id, role, &access.account.id)
        .await
    {
        Ok(true) => Ok(see_other("/admin/agents?done=saved", Vec::new())),
        Ok(false) | Err(IdpError::NotFound(_)) => again(t.err_not_held).await,
        Err(e) => Err(PageError::from_idp(lang, &e).into()),
    }
}
