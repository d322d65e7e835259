//! `/official`: the officials' console. An official sees their certificates as an official
//! and what waits for their signature (signed, one batch per activation, at `/me/sign`). Staff
//! of an institution act on it, and on it only: an operator (or administrator) asks for an
//! official's certificate, the ministro de fe approves or rejects each request with a fresh
//! code from their own authenticator app, and an administrator or the ministro de fe revokes
//! officials' certificates. The console asks for a level-2 sign-in.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use clave_common::Run;
use clave_common::http::ClientAddr;
use clave_idp::accounts::Account;
use clave_idp::factors;
use clave_signer::SignerError;
use clave_signer::institutions::{ADMIN, MINISTRO_DE_FE, OPERATOR};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// The console's routes.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/official", get(console))
        .route("/official/requests", post(ask))
        .route("/official/requests/{id}", post(decide))
        .route("/official/credentials/{id}", post(revoke))
}

/// The revocation reasons the console offers (RFC 5280 names).
const REVOCATION_REASONS: &[&str] = &[
    "affiliationChanged",
    "privilegeWithdrawn",
    "keyCompromise",
    "superseded",
    "cessationOfOperation",
];

/// A staff member acting in the console, to show the console again with an error.
struct Staff {
    account: Account,
    roles: Vec<(String, String, String)>,
}

impl Staff {
    async fn page(
        &self,
        state: &PortalState,
        headers: &HeaderMap,
        lang: Lang,
        error: Option<&'static str>,
        run: String,
    ) -> Result<Response, PageError> {
        console_page(
            state,
            headers,
            lang,
            &self.account,
            &self.roles,
            None,
            error,
            run,
        )
        .await
    }
}

/// The console's sentences in one language.
#[derive(Debug)]
pub struct OfficialTexts {
    /// The heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// The signing section.
    pub signing: &'static str,
    /// Before the pending count.
    pub pending_before: &'static str,
    /// After it.
    pub pending_after: &'static str,
    /// The link to sign.
    pub to_sign: &'static str,
    /// The official's certificates.
    pub my_certificates: &'static str,
    /// None.
    pub no_certificates: &'static str,
    /// Columns.
    pub col_institution: &'static str,
    /// .
    pub col_serial: &'static str,
    /// .
    pub col_until: &'static str,
    /// .
    pub col_state: &'static str,
    /// .
    pub col_official: &'static str,
    /// .
    pub col_title: &'static str,
    /// .
    pub col_date: &'static str,
    /// .
    pub col_action: &'static str,
    /// Roles.
    pub role_admin: &'static str,
    /// .
    pub role_operator: &'static str,
    /// .
    pub role_ministro: &'static str,
    /// Before the roles list.
    pub your_roles: &'static str,
    /// The request form.
    pub ask_heading: &'static str,
    /// .
    pub run_label: &'static str,
    /// .
    pub title_label: &'static str,
    /// .
    pub ask: &'static str,
    /// The requests list.
    pub requests_heading: &'static str,
    /// .
    pub no_requests: &'static str,
    /// The approvals.
    pub approve_heading: &'static str,
    /// .
    pub approve_intro: &'static str,
    /// .
    pub otp_label: &'static str,
    /// .
    pub reason_label: &'static str,
    /// .
    pub approve: &'static str,
    /// .
    pub reject: &'static str,
    /// The officials' certificates.
    pub officials_heading: &'static str,
    /// .
    pub revoke: &'static str,
    /// States.
    pub state_pending: &'static str,
    /// .
    pub state_approved: &'static str,
    /// .
    pub state_rejected: &'static str,
    /// .
    pub state_valid: &'static str,
    /// .
    pub state_revoked: &'static str,
    /// Outcomes.
    pub done_requested: &'static str,
    /// .
    pub done_approved: &'static str,
    /// .
    pub done_rejected: &'static str,
    /// .
    pub done_revoked: &'static str,
    /// Errors.
    pub error_run: &'static str,
    /// .
    pub error_unknown: &'static str,
    /// .
    pub error_title: &'static str,
    /// .
    pub error_no_totp: &'static str,
    /// .
    pub error_pending: &'static str,
    /// .
    pub error_code: &'static str,
    /// .
    pub error_forbidden: &'static str,
    /// .
    pub error_decided: &'static str,
}

/// Spanish.
pub static ES: OfficialTexts = OfficialTexts {
    title: "Consola de funcionarios",
    intro: "Firma como funcionario y administra los certificados de tu institución.",
    signing: "Firmar como funcionario",
    pending_before: "Tienes",
    pending_after: "solicitudes de firma pendientes.",
    to_sign: "Ir a los documentos para firmar",
    my_certificates: "Tus certificados de funcionario",
    no_certificates: "No tienes certificados de funcionario.",
    col_institution: "Institución",
    col_serial: "Número de serie",
    col_until: "Vigente hasta",
    col_state: "Estado",
    col_official: "Funcionario",
    col_title: "Cargo",
    col_date: "Fecha",
    col_action: "Acción",
    role_admin: "administración",
    role_operator: "operación",
    role_ministro: "ministro de fe",
    your_roles: "Tus funciones",
    ask_heading: "Solicitar un certificado para un funcionario",
    run_label: "RUN del funcionario",
    title_label: "Cargo",
    ask: "Solicitar el certificado",
    requests_heading: "Solicitudes de certificado",
    no_requests: "No hay solicitudes.",
    approve_heading: "Solicitudes que esperan al ministro de fe",
    approve_intro: "Aprobar emite el certificado desde la CA de la institución. Confirma cada decisión con un código de tu aplicación de autenticación.",
    otp_label: "Código de tu aplicación de autenticación",
    reason_label: "Motivo (opcional)",
    approve: "Aprobar",
    reject: "Rechazar",
    officials_heading: "Certificados de los funcionarios",
    revoke: "Revocar",
    state_pending: "Pendiente",
    state_approved: "Aprobada",
    state_rejected: "Rechazada",
    state_valid: "Vigente",
    state_revoked: "Revocado",
    done_requested: "La solicitud quedó esperando al ministro de fe.",
    done_approved: "Se aprobó la solicitud y se emitió el certificado.",
    done_rejected: "Se rechazó la solicitud.",
    done_revoked: "Se revocó el certificado y se publicó una nueva lista de revocación.",
    error_run: "Escribe un RUN válido, por ejemplo 12.345.678-5.",
    error_unknown: "No hay una persona con ese RUN.",
    error_title: "Escribe el cargo del funcionario, en una línea de hasta 120 caracteres.",
    error_no_totp: "El funcionario aún no tiene una aplicación de autenticación; debe agregarla antes.",
    error_pending: "Ya hay una solicitud pendiente para este funcionario.",
    error_code: "El código no es válido o ya se usó. Espera el siguiente código de tu aplicación.",
    error_forbidden: "No tienes la función necesaria en esa institución para hacer esto.",
    error_decided: "La solicitud ya fue resuelta, o el certificado ya estaba revocado.",
};

/// English.
pub static EN: OfficialTexts = OfficialTexts {
    title: "Officials' console",
    intro: "Sign as an official and manage your institution's certificates.",
    signing: "Signing as an official",
    pending_before: "You have",
    pending_after: "signature requests waiting.",
    to_sign: "Go to documents to sign",
    my_certificates: "Your certificates as an official",
    no_certificates: "You have no certificates as an official.",
    col_institution: "Institution",
    col_serial: "Serial number",
    col_until: "Valid until",
    col_state: "Status",
    col_official: "Official",
    col_title: "Position",
    col_date: "Date",
    col_action: "Action",
    role_admin: "administration",
    role_operator: "operations",
    role_ministro: "ministro de fe",
    your_roles: "Your roles",
    ask_heading: "Ask for an official's certificate",
    run_label: "The official's RUN",
    title_label: "Position",
    ask: "Ask for the certificate",
    requests_heading: "Certificate requests",
    no_requests: "There are no requests.",
    approve_heading: "Requests waiting for the ministro de fe",
    approve_intro: "Approving issues the certificate from the institution's CA. Confirm each decision with a code from your authenticator app.",
    otp_label: "Code from your authenticator app",
    reason_label: "Reason (optional)",
    approve: "Approve",
    reject: "Reject",
    officials_heading: "Officials' certificates",
    revoke: "Revoke",
    state_pending: "Waiting",
    state_approved: "Approved",
    state_rejected: "Rejected",
    state_valid: "Valid",
    state_revoked: "Revoked",
    done_requested: "The request is waiting for the ministro de fe.",
    done_approved: "The request was approved and the certificate issued.",
    done_rejected: "The request was rejected.",
    done_revoked: "The certificate was revoked and a new revocation list published.",
    error_run: "Enter a valid RUN, for example 12.345.678-5.",
    error_unknown: "Nobody has that RUN.",
    error_title: "Enter the official's position, one line of up to 120 characters.",
    error_no_totp: "The official has no authenticator app yet; they must add one first.",
    error_pending: "A request for this official is already waiting.",
    error_code: "The code is not valid or was already used. Wait for the next code in your app.",
    error_forbidden: "You do not have the role in that institution this needs.",
    error_decided: "The request was already decided, or the certificate already revoked.",
};

fn texts(lang: Lang) -> &'static OfficialTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// The signed-in account at level 2, with its institution roles; `Ok(None)` means go to
/// the login. Anyone else is refused.
async fn staff(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<(Account, Vec<(String, String, String)>)>, PageError> {
    let Some(session) = crate::signed_in::page_session(&state.idp, headers, lang).await? else {
        return Ok(None);
    };
    if factors::rank(&session.acr) < 2 {
        return Err(PageError::new(PageErrorKind::Forbidden, lang));
    }
    let account = state
        .idp
        .accounts()
        .get(&session.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::Forbidden, lang))?;
    let roles = state
        .signer
        .institution_roles(&account.id)
        .await
        .map_err(|e| PageError::internal(lang, e))?
        .into_iter()
        .map(|(i, role)| (i.id, i.name, role))
        .collect::<Vec<_>>();
    if !state
        .signer
        .is_official_or_staff(&account.id)
        .await
        .map_err(|e| PageError::internal(lang, e))?
    {
        return Err(PageError::new(PageErrorKind::Forbidden, lang));
    }
    Ok(Some((account, roles)))
}

struct Certificate {
    id: String,
    institution: String,
    holder: String,
    serial: String,
    until: String,
    valid: bool,
}

struct RequestRow {
    id: String,
    official: String,
    title: String,
    date: String,
    state: &'static str,
}

struct InstitutionPanel {
    id: String,
    name: String,
    roles: Vec<&'static str>,
    can_ask: bool,
    is_ministro: bool,
    can_revoke: bool,
    requests: Vec<RequestRow>,
    pending: Vec<RequestRow>,
    certificates: Vec<Certificate>,
}

#[derive(Template)]
#[template(path = "official.html")]
struct ConsolePage {
    chrome: Chrome,
    t: &'static OfficialTexts,
    pending_signatures: i64,
    mine: Vec<Certificate>,
    panels: Vec<InstitutionPanel>,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    run: String,
    csrf: String,
}

async fn name_of(state: &PortalState, account_id: &str) -> String {
    match state.idp.accounts().get(account_id).await {
        Ok(Some(a)) => format!("{} ({})", a.full_name(), a.run.canonical()),
        _ => account_id.to_owned(),
    }
}

async fn certificate(
    state: &PortalState,
    lang: Lang,
    c: &clave_signer::credentials::Credential,
    institution: &str,
    now: i64,
) -> Certificate {
    Certificate {
        id: c.id.clone(),
        institution: institution.to_owned(),
        holder: name_of(state, &c.account_id).await,
        serial: c.serial.clone(),
        until: state.date_time(lang, c.not_after),
        valid: c.is_usable(now),
    }
}

#[allow(clippy::too_many_arguments)]
async fn console_page(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    account: &Account,
    roles: &[(String, String, String)],
    notice: Option<&'static str>,
    error: Option<&'static str>,
    run: String,
) -> Result<Response, PageError> {
    let t = texts(lang);
    let signer = &state.signer;
    let fail = |e: SignerError| PageError::internal(lang, e);
    let now = state.idp.ctx().clock.unix();
    let mut mine = Vec::new();
    for institution in signer.institutions().await.map_err(fail)? {
        for c in signer.credentials_of(&account.id).await.map_err(fail)? {
            if c.ca_id == institution.id {
                mine.push(certificate(state, lang, &c, &institution.name, now).await);
            }
        }
    }
    let mut panels: Vec<InstitutionPanel> = Vec::new();
    for (id, name, role) in roles {
        let role_text = match role.as_str() {
            ADMIN => t.role_admin,
            OPERATOR => t.role_operator,
            _ => t.role_ministro,
        };
        if let Some(panel) = panels.iter_mut().find(|p| p.id == *id) {
            panel.roles.push(role_text);
            continue;
        }
        panels.push(InstitutionPanel {
            id: id.clone(),
            name: name.clone(),
            roles: vec![role_text],
            can_ask: false,
            is_ministro: false,
            can_revoke: false,
            requests: Vec::new(),
            pending: Vec::new(),
            certificates: Vec::new(),
        });
    }
    for panel in &mut panels {
        let held: Vec<&str> = roles
            .iter()
            .filter(|(id, _, _)| *id == panel.id)
            .map(|(_, _, r)| r.as_str())
            .collect();
        panel.can_ask = held.contains(&OPERATOR) || held.contains(&ADMIN);
        panel.is_ministro = held.contains(&MINISTRO_DE_FE);
        panel.can_revoke = held.contains(&ADMIN) || panel.is_ministro;
        for r in signer
            .certificate_requests(&panel.id, false)
            .await
            .map_err(fail)?
        {
            let row = RequestRow {
                id: r.id.clone(),
                official: name_of(state, &r.account_id).await,
                title: r.title.clone(),
                date: state.date_time(lang, r.decided_at.unwrap_or(r.created_at)),
                state: match r.status.as_str() {
                    "approved" => t.state_approved,
                    "rejected" => t.state_rejected,
                    _ => t.state_pending,
                },
            };
            if r.status == "pending" && panel.is_ministro && r.account_id != account.id {
                panel.pending.push(row);
            } else {
                panel.requests.push(row);
            }
        }
        if panel.can_revoke {
            for c in signer
                .institution_credentials(&panel.id)
                .await
                .map_err(fail)?
            {
                panel
                    .certificates
                    .push(certificate(state, lang, &c, &panel.name, now).await);
            }
        }
    }
    let pending_signatures = signer.pending_count(&account.id).await.map_err(fail)?;
    let (csrf, cookies) = CsrfToken::page(headers, state.config.is_https());
    let page = ConsolePage {
        chrome: Chrome::with_switch(lang, "/official", &[]),
        t,
        pending_signatures,
        mine,
        panels,
        notice,
        error,
        run,
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(&page, lang, status, cookies)
}

async fn console(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some((account, roles)) = staff(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let notice = match query.get("done") {
        Some("requested") => Some(t.done_requested),
        Some("approved") => Some(t.done_approved),
        Some("rejected") => Some(t.done_rejected),
        Some("revoked") => Some(t.done_revoked),
        _ => None,
    };
    console_page(
        &state,
        &headers,
        lang,
        &account,
        &roles,
        notice,
        None,
        String::new(),
    )
    .await
}

/// What the page says about a refused action, or the page error.
fn refusal(
    t: &'static OfficialTexts,
    lang: Lang,
    e: SignerError,
) -> Result<&'static str, PageError> {
    match e {
        SignerError::Forbidden(_) => Ok(t.error_forbidden),
        SignerError::SecondFactor(_) => Ok(t.error_code),
        SignerError::Invalid(_) => Ok(t.error_title),
        SignerError::NotFound(_) => Err(PageError::new(PageErrorKind::NotFound, lang)),
        other => Err(PageError::internal(lang, other)),
    }
}

/// An operator asks for an official's certificate.
async fn ask(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some((account, roles)) = staff(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let typed = form.get("run").unwrap_or_default().to_owned();
    let again = |error: &'static str| {
        console_page(
            &state,
            &headers,
            lang,
            &account,
            &roles,
            None,
            Some(error),
            typed.clone(),
        )
    };
    let Ok(run) = Run::parse(&typed) else {
        return again(t.error_run).await;
    };
    let official = state
        .idp
        .accounts()
        .find_by_run(&run)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let Some(official) = official else {
        return again(t.error_unknown).await;
    };
    let institution = form.get("institution").unwrap_or_default();
    match state
        .signer
        .request_official_certificate(
            &account,
            institution,
            &official,
            form.get("title").unwrap_or_default(),
        )
        .await
    {
        Ok(_) => Ok(see_other("/official?done=requested", Vec::new())),
        Err(SignerError::Conflict(text)) => {
            again(if text.contains("authenticator") {
                t.error_no_totp
            } else {
                t.error_pending
            })
            .await
        }
        Err(e) => again(refusal(t, lang, e)?).await,
    }
}

/// The ministro de fe approves or rejects a request.
async fn decide(
    State(state): State<PortalState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some((account, roles)) = staff(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let approve = match form.get("action") {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    match state
        .signer
        .decide_certificate_request(
            &account,
            &id,
            approve,
            form.get("otp").unwrap_or_default(),
            form.get("reason").unwrap_or_default(),
            addr,
        )
        .await
    {
        Ok(_) if approve => Ok(see_other("/official?done=approved", Vec::new())),
        Ok(_) => Ok(see_other("/official?done=rejected", Vec::new())),
        Err(e) => {
            let error = match e {
                SignerError::Conflict(_) => t.error_decided,
                other => refusal(t, lang, other)?,
            };
            let again = Staff { account, roles };
            again
                .page(&state, &headers, lang, Some(error), String::new())
                .await
        }
    }
}

/// An administrator or the ministro de fe revokes an official's certificate.
async fn revoke(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some((account, roles)) = staff(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let reason = form
        .get("reason")
        .filter(|r| REVOCATION_REASONS.contains(r))
        .unwrap_or("unspecified");
    match state
        .signer
        .revoke_official_certificate(&account, &id, reason)
        .await
    {
        Ok(_) => Ok(see_other("/official?done=revoked", Vec::new())),
        Err(e) => {
            let error = match e {
                SignerError::Conflict(_) => t.error_decided,
                other => refusal(t, lang, other)?,
            };
            let again = Staff { account, roles };
            again
                .page(&state, &headers, lang, Some(error), String::new())
                .await
        }
    }
}
