//! `/admin/institutions`: the institutions (an administrator lists and creates them) and each
//! one's staff, whose roles its own administrator or ministro de fe (or clave's
//! administrator) grants and revokes. Nobody acts on another institution.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use clave_common::Run;
use clave_signer::SignerError;
use clave_signer::institutions::{ADMIN, Institution, MINISTRO_DE_FE, OPERATOR, ROLES};

use super::{Access, AdminTexts, Need, Refusal, Stop, denied, open, posted, render_form, texts};
use crate::PortalState;
use crate::error::{PageError, PageErrorKind};
use crate::i18n::Lang;
use crate::page::{Chrome, see_other};

struct Row {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "admin_institutions.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    rows: Vec<Row>,
    id: String,
    name: String,
    notice: Option<&'static str>,
    error: Option<Refusal>,
    csrf: String,
}

fn signer_failure(lang: Lang) -> impl Fn(SignerError) -> PageError {
    move |e| match e {
        SignerError::NotFound(_) => PageError::new(PageErrorKind::NotFound, lang),
        other => PageError::internal(lang, other),
    }
}

async fn list_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    typed: (String, String),
    notice: Option<&'static str>,
    error: Option<Refusal>,
) -> Result<Response, Stop> {
    let rows = state
        .signer
        .institutions()
        .await
        .map_err(signer_failure(lang))?
        .into_iter()
        .map(|i| Row {
            id: i.id,
            name: i.name,
        })
        .collect();
    render_form(state, headers, lang, error.is_some(), |csrf| ListPage {
        chrome: Chrome::with_switch(lang, "/admin/institutions", &[]),
        t: texts(lang),
        rows,
        id: typed.0,
        name: typed.1,
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
    let (query, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let notice = (query.get("done") == Some("saved")).then_some(texts(lang).saved);
    list_page(&state, &headers, lang, Default::default(), notice, None).await
}

/// An administrator creates an institution (and its issuing CA).
pub(super) async fn create(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Admin).await?;
    let id = form.get("id").unwrap_or_default().trim().to_owned();
    let name = form.get("name").unwrap_or_default().to_owned();
    match state
        .signer
        .create_institution(&id, &name, &access.account.id)
        .await
    {
        Ok(_) => Ok(see_other("/admin/institutions?done=saved", Vec::new())),
        Err(SignerError::Invalid(text) | SignerError::Conflict(text)) => {
            let error = Refusal::detailed(lang, text);
            list_page(&state, &headers, lang, (id, name), None, Some(error)).await
        }
        Err(e) => Err(signer_failure(lang)(e).into()),
    }
}

struct StaffRow {
    account_id: String,
    person: String,
    role: &'static str,
    role_label: &'static str,
}

/// A role of the grant form.
struct RoleChoice {
    value: &'static str,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "admin_institution.html")]
struct StaffPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    id: String,
    name: String,
    rows: Vec<StaffRow>,
    roles: Vec<RoleChoice>,
    run: String,
    notice: Option<&'static str>,
    error: Option<Refusal>,
    csrf: String,
}

fn role_label(t: &'static AdminTexts, role: &str) -> Option<(&'static str, &'static str)> {
    match role {
        ADMIN => Some((ADMIN, t.role_admin)),
        OPERATOR => Some((OPERATOR, t.role_operator)),
        MINISTRO_DE_FE => Some((MINISTRO_DE_FE, t.role_ministro)),
        _ => None,
    }
}

/// The institution `id`, once `access` may act on its officials; the refusal page
/// otherwise.
async fn guarded(
    state: &PortalState,
    lang: Lang,
    access: &Access,
    id: &str,
) -> Result<Institution, Stop> {
    if !access.may_institution(id) {
        return Err(Stop::Answer(Box::new(denied(
            lang,
            texts(lang).denied_institution,
        )?)));
    }
    Ok(state
        .signer
        .institution(id)
        .await
        .map_err(signer_failure(lang))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?)
}

async fn staff_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    institution: Institution,
    run: String,
    notice: Option<&'static str>,
    error: Option<Refusal>,
) -> Result<Response, Stop> {
    let t = texts(lang);
    let mut rows = Vec::new();
    for (account_id, role) in state
        .signer
        .institution_staff(&institution.id)
        .await
        .map_err(signer_failure(lang))?
    {
        let Some((role, role_label)) = role_label(t, &role) else {
            continue;
        };
        let person = match state.idp.accounts().get(&account_id).await {
            Ok(Some(a)) => format!("{} ({})", a.full_name(), a.run.canonical()),
            _ => account_id.clone(),
        };
        rows.push(StaffRow {
            account_id,
            person,
            role,
            role_label,
        });
    }
    let roles = ROLES
        .iter()
        .filter_map(|r| role_label(t, r))
        .map(|(value, label)| RoleChoice { value, label })
        .collect();
    render_form(state, headers, lang, error.is_some(), |csrf| StaffPage {
        chrome: Chrome::new(lang),
        t,
        id: institution.id,
        name: institution.name,
        rows,
        roles,
        run,
        notice,
        error,
        csrf,
    })
}

pub(super) async fn staff(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (query, lang, access) = open(&state, &headers, query.as_deref(), Need::Institution).await?;
    let institution = guarded(&state, lang, &access, &id).await?;
    let notice = (query.get("done") == Some("saved")).then_some(texts(lang).saved);
    staff_page(
        &state,
        &headers,
        lang,
        institution,
        String::new(),
        notice,
        None,
    )
    .await
}

/// Grants a role in the institution to the account with the typed RUN.
pub(super) async fn grant(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Institution).await?;
    let institution = guarded(&state, lang, &access, &id).await?;
    let actor = access.account.id;
    let t = texts(lang);
    let typed = form.get("run").unwrap_or_default().trim().to_owned();
    let again = |error: Refusal| {
        staff_page(
            &state,
            &headers,
            lang,
            institution.clone(),
            typed.clone(),
            None,
            Some(error),
        )
    };
    let Some((role, _)) = role_label(t, form.get("role").unwrap_or_default()) else {
        return again(Refusal::own(t.err_role)).await;
    };
    let Ok(run) = Run::parse(&typed) else {
        return again(Refusal::own(t.err_run)).await;
    };
    let Some(account) = state
        .idp
        .accounts()
        .find_by_run(&run)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return again(Refusal::own(t.err_unknown_run)).await;
    };
    state
        .signer
        .grant_institution_role(&id, &account.id, role, &actor)
        .await
        .map_err(signer_failure(lang))?;
    Ok(see_other(
        &format!("/admin/institutions/{id}?done=saved"),
        Vec::new(),
    ))
}

/// Revokes an account's role in the institution.
pub(super) async fn revoke(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Stop> {
    let (form, lang, access) = posted(&state, &headers, &body, Need::Institution).await?;
    let institution = guarded(&state, lang, &access, &id).await?;
    let actor = access.account.id;
    let t = texts(lang);
    let account_id = form.get("account").unwrap_or_default();
    let role = form.get("role").unwrap_or_default();
    match state
        .signer
        .revoke_institution_role(&id, account_id, role, &actor)
        .await
    {
        Ok(()) => Ok(see_other(
            &format!("/admin/institutions/{id}?done=saved"),
            Vec::new(),
        )),
        Err(SignerError::NotFound(_)) => {
            let error = Some(Refusal::own(t.err_not_held));
            staff_page(
                &state,
                &headers,
                lang,
                institution,
                String::new(),
                None,
                error,
            )
            .await
        }
        Err(e) => Err(signer_failure(lang)(e).into()),
    }
}
