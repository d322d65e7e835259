//! Caller verification in the portal.
//!
//! The citizen's side is `/me/verify-call`: make a code to read to an agent, and answer the
//! agents' requests (approve or deny, after comparing the phrase the agent reads aloud). The
//! agent's side is `/agent`: verify a caller with their RUN and code, or ask the citizen to
//! approve; then `/agent/checks/{id}` shows the check and, while it is in force, the caller's
//! minimal profile (each view lands in the citizen's access log). Agents are accounts with
//! the `agent` role, signed in at level 2 or more.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use clave_common::Run;
use clave_idp::IdpError;
use clave_idp::factors;
use clave_idp::roles::AGENT;
use clave_wallet::WalletError;
use clave_wallet::callers::{APPROVAL_SECS, Agent, CODE_DIGITS, CallerCheck, DENIED, VERIFIED};
use clave_wallet::value::ADDRESS_FIELDS;
use serde_json::Value;

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// The caller-verification pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/verify-call", get(citizen_page).post(citizen_post))
        .route("/agent", get(console))
        .route("/agent/verify", post(verify))
        .route("/agent/start", post(start))
        .route("/agent/checks/{id}", get(check_page))
        .route("/agent/unlock", post(front_desk_unlock))
        .route("/agent/activation", post(front_desk_activation))
        .route("/agent/factors", post(front_desk_factors))
}

/// The pages' sentences in one language.
#[derive(Debug)]
pub struct CallerTexts {
    /// The citizen's page heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// The code section's heading.
    pub code_heading: &'static str,
    /// What the code is for.
    pub code_intro: &'static str,
    /// The button.
    pub make_code: &'static str,
    /// Before the code.
    pub your_code: &'static str,
    /// After it: how long it lasts.
    pub code_valid: &'static str,
    /// The requests section's heading.
    pub requests_heading: &'static str,
    /// When there are none.
    pub no_requests: &'static str,
    /// Before the agent's name.
    pub agent_label: &'static str,
    /// Before the office.
    pub office_label: &'static str,
    /// Before the phrase.
    pub phrase_label: &'static str,
    /// What to compare.
    pub phrase_hint: &'static str,
    /// Buttons.
    pub approve: &'static str,
    /// .
    pub deny: &'static str,
    /// After answering.
    pub approved: &'static str,
    /// .
    pub denied: &'static str,
    /// The agent console's heading.
    pub console_title: &'static str,
    /// Under it.
    pub console_intro: &'static str,
    /// The code form's heading.
    pub by_code: &'static str,
    /// The approval form's heading.
    pub by_approval: &'static str,
    /// Its explanation.
    pub by_approval_intro: &'static str,
    /// Field labels.
    pub run_label: &'static str,
    /// .
    pub code_label: &'static str,
    /// Buttons.
    pub verify: &'static str,
    /// .
    pub ask: &'static str,
    /// The check page's heading.
    pub check_title: &'static str,
    /// A check waiting for the citizen.
    pub waiting: &'static str,
    /// What to read aloud.
    pub read_phrase: &'static str,
    /// The reload link.
    pub refresh: &'static str,
    /// A denied check.
    pub was_denied: &'static str,
    /// A lapsed check.
    pub lapsed: &'static str,
    /// A verified check's heading.
    pub verified: &'static str,
    /// Until when the profile shows.
    pub view_until: &'static str,
    /// The profile table's caption.
    pub profile_caption: &'static str,
    /// Profile rows.
    pub names: &'static str,
    /// .
    pub run: &'static str,
    /// .
    pub birthdate: &'static str,
    /// .
    pub email: &'static str,
    /// .
    pub phone: &'static str,
    /// That each view is logged.
    pub logged: &'static str,
    /// Back to the console.
    pub new_check: &'static str,
    /// Form errors.
    pub bad_run: &'static str,
    /// .
    pub throttled: &'static str,
    /// .
    pub bad_code: &'static str,
    /// .
    pub no_match: &'static str,
    /// .
    pub unknown_run: &'static str,
    /// .
    pub already_waiting: &'static str,
    /// The front-desk section's heading.
    pub front_desk: &'static str,
    /// Its explanation.
    pub front_desk_intro: &'static str,
    /// The identity-check checkbox.
    pub in_person: &'static str,
    /// The button.
    pub unlock: &'static str,
    /// The activation section's heading.
    pub activation: &'static str,
    /// Its explanation.
    pub activation_intro: &'static str,
    /// The button.
    pub issue: &'static str,
    /// Before the code issued.
    pub issued: &'static str,
    /// The factor-reset section's heading.
    pub factors: &'static str,
    /// Its explanation.
    pub factors_intro: &'static str,
    /// The button.
    pub factors_reset: &'static str,
    /// After a reset.
    pub factors_done: &'static str,
    /// When there was nothing to remove.
    pub factors_none: &'static str,
}

/// Spanish.
pub static ES: CallerTexts = CallerTexts {
    title: "Verificar una llamada",
    intro: "Cuando llamas o visitas una oficina, el agente puede confirmar que eres tú sin preguntarte datos que otros podrían saber.",
    code_heading: "Código para el agente",
    code_intro: "Crea un código y léeselo al agente. Sirve una sola vez.",
    make_code: "Crear un código",
    your_code: "Tu código es",
    code_valid: "Vale por 10 minutos y una sola vez. No lo compartas con nadie más que el agente que te atiende.",
    requests_heading: "Solicitudes de agentes",
    no_requests: "No hay solicitudes esperando tu respuesta.",
    agent_label: "Agente",
    office_label: "Oficina",
    phrase_label: "Frase",
    phrase_hint: "Aprueba solo si el agente te leyó esta misma frase.",
    approve: "Sí, soy yo quien habla con este agente",
    deny: "No, rechazar",
    approved: "Aprobaste la verificación. El agente verá tus datos básicos por 15 minutos.",
    denied: "Rechazaste la verificación. El agente no verá tus datos.",
    console_title: "Atención: verificar a quien llama",
    console_intro: "Verifica a la persona antes de atenderla. Cada consulta queda en el registro de actividad del ciudadano con tu nombre y oficina.",
    by_code: "Con el código que te lee",
    by_approval: "Pedir aprobación en su portal",
    by_approval_intro: "La persona verá tu solicitud en su portal; léele la frase que te mostraremos y espera que la apruebe.",
    run_label: "RUN de quien llama",
    code_label: "Código de 6 dígitos",
    verify: "Verificar",
    ask: "Pedir aprobación",
    check_title: "Verificación de quien llama",
    waiting: "Esperando que la persona apruebe en su portal.",
    read_phrase: "Léele esta frase:",
    refresh: "Actualizar",
    was_denied: "La persona rechazó la verificación. No la atiendas como verificada.",
    lapsed: "La verificación ya no está vigente. Verifica a la persona otra vez.",
    verified: "Persona verificada",
    view_until: "Puedes ver estos datos hasta las",
    profile_caption: "Datos básicos de la persona verificada",
    names: "Nombre",
    run: "RUN",
    birthdate: "Fecha de nacimiento",
    email: "Correo electrónico",
    phone: "Teléfono",
    logged: "Esta consulta quedó en el registro de actividad de la persona.",
    new_check: "Nueva verificación",
    bad_run: "El RUN no es válido. Escríbelo con su dígito verificador, por ejemplo 12.345.678-5.",
    throttled: "Demasiados intentos fallidos. Espera unos minutos antes de intentarlo de nuevo.",
    bad_code: "El código tiene 6 dígitos. Pídele a la persona que te lo lea otra vez.",
    no_match: "El RUN y el código no coinciden, o el código venció o ya se usó. Pídele a la persona que cree un código nuevo en su portal.",
    unknown_run: "Ninguna cuenta tiene este RUN. Confírmalo con la persona.",
    already_waiting: "La persona ya tiene una solicitud esperando respuesta. Espera que la responda o que venza (5 minutos).",
    front_desk: "Atención presencial: desbloquear una cuenta",
    front_desk_intro: "Si la persona bloqueó su cuenta por emergencia, desbloquéala después de revisar su cédula de identidad frente a ti.",
    in_person: "Revisé en persona la cédula de identidad y corresponde a este RUN",
    unlock: "Desbloquear la cuenta",
    activation: "Atención presencial: código de activación",
    activation_intro: "Para quien no tiene contraseña o la perdió: entrégale este código después de revisar su cédula de identidad frente a ti. Vale por 7 días, una vez, en /activate.",
    issue: "Entregar un código de activación",
    issued: "Código de activación (muéstralo solo a la persona; vale por 7 días):",
    factors: "Atención presencial: quitar los segundos factores",
    factors_intro: "Para quien perdió su teléfono o sus llaves de acceso: quita su aplicación de autenticación, sus llaves de acceso y sus códigos de recuperación después de revisar su cédula de identidad frente a ti. Sus sesiones se cierran y podrá entrar con su contraseña para agregar nuevos.",
    factors_reset: "Quitar los segundos factores",
    factors_done: "Se quitaron los segundos factores de la cuenta y se cerraron sus sesiones. La persona recibe un aviso en su casilla.",
    factors_none: "La cuenta no tiene segundos factores que quitar.",
};

/// English.
pub static EN: CallerTexts = CallerTexts {
    title: "Verify a call",
    intro: "When you call or visit an office, the agent can confirm it is you without asking for details others might know.",
    code_heading: "A code for the agent",
    code_intro: "Make a code and read it to the agent. It works once.",
    make_code: "Make a code",
    your_code: "Your code is",
    code_valid: "It works for 10 minutes and only once. Share it with no one but the agent serving you.",
    requests_heading: "Requests from agents",
    no_requests: "No request is waiting for your answer.",
    agent_label: "Agent",
    office_label: "Office",
    phrase_label: "Phrase",
    phrase_hint: "Approve only if the agent read this very phrase to you.",
    approve: "Yes, I am the one talking to this agent",
    deny: "No, refuse",
    approved: "You approved the verification. The agent will see your basic details for 15 minutes.",
    denied: "You refused the verification. The agent will not see your details.",
    console_title: "Service desk: verify the caller",
    console_intro: "Verify the person before serving them. Every look-up lands in the citizen's activity log with your name and office.",
    by_code: "With the code they read to you",
    by_approval: "Ask for approval in their portal",
    by_approval_intro: "The person will see your request in their portal; read them the phrase we show you and wait for their approval.",
    run_label: "Caller's RUN",
    code_label: "6-digit code",
    verify: "Verify",
    ask: "Ask for approval",
    check_title: "Caller verification",
    waiting: "Waiting for the person to approve in their portal.",
    read_phrase: "Read them this phrase:",
    refresh: "Refresh",
    was_denied: "The person refused the verification. Do not treat them as verified.",
    lapsed: "The verification is no longer in force. Verify the person again.",
    verified: "Person verified",
    view_until: "You can see these details until",
    profile_caption: "Basic details of the verified person",
    names: "Name",
    run: "RUN",
    birthdate: "Date of birth",
    email: "Email",
    phone: "Phone",
    logged: "This look-up was recorded in the person's activity log.",
    new_check: "New verification",
    bad_run: "The RUN is not valid. Type it with its check digit, for example 12.345.678-5.",
    throttled: "Too many failed attempts. Wait a few minutes before trying again.",
    bad_code: "The code has 6 digits. Ask the person to read it to you again.",
    no_match: "The RUN and the code do not match, or the code expired or was used. Ask the person to make a new code in their portal.",
    unknown_run: "No account has this RUN. Confirm it with the person.",
    already_waiting: "The person already has a request waiting for an answer. Wait until they answer it or it lapses (5 minutes).",
    front_desk: "In person: unlock an account",
    front_desk_intro: "If the person locked their account in an emergency, unlock it after checking their identity card in front of you.",
    in_person: "I checked the identity card in person and it matches this RUN",
    unlock: "Unlock the account",
    activation: "In person: activation code",
    activation_intro: "For someone without a password or who lost it: hand them this code after checking their identity card in front of you. It works once, for 7 days, at /activate.",
    issue: "Issue an activation code",
    issued: "Activation code (show it only to the person; it works for 7 days):",
    factors: "In person: remove second factors",
    factors_intro: "For someone who lost their phone or passkeys: remove their authenticator app, passkeys and recovery codes after checking their identity card in front of you. Their sessions end and they can sign in with their password to add new ones.",
    factors_reset: "Remove the second factors",
    factors_done: "The account's second factors were removed and its sessions ended. The person gets a notice in their mailbox.",
    factors_none: "The account has no second factors to remove.",
};

fn texts(lang: Lang) -> &'static CallerTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

fn fail(lang: Lang) -> impl Fn(WalletError) -> PageError {
    move |e| match e {
        WalletError::NotFound(_) => PageError::new(PageErrorKind::NotFound, lang),
        WalletError::Invalid(_) | WalletError::Conflict(_) => {
            PageError::new(PageErrorKind::BadRequest, lang)
        }
        WalletError::Forbidden(_) => PageError::new(PageErrorKind::Forbidden, lang),
        other => PageError::from_idp(lang, &other.into_idp()),
    }
}

// ---------------------------------------------------------------- the citizen's side

struct Request {
    id: String,
    agent: String,
    office: String,
    phrase: String,
}

#[derive(Template)]
#[template(path = "verify_call.html")]
struct CitizenPage {
    chrome: Chrome,
    t: &'static CallerTexts,
    code: Option<String>,
    requests: Vec<Request>,
    notice: Option<&'static str>,
    csrf: String,
}

async fn citizen_view(
    state: &PortalState,
    account_id: &str,
    lang: Lang,
    csrf: String,
) -> Result<CitizenPage, PageError> {
    let mut requests = Vec::new();
    for check in state
        .wallet
        .callers()
        .waiting(account_id)
        .await
        .map_err(fail(lang))?
    {
        let agent = state
            .idp
            .accounts()
            .get(&check.agent_id)
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?
            .map(|a| a.full_name())
            .unwrap_or_default();
        requests.push(Request {
            id: check.id,
            agent,
            office: check.office,
            phrase: check.binding.unwrap_or_default(),
        });
    }
    Ok(CitizenPage {
        chrome: Chrome::with_switch(lang, "/me/verify-call", &[]),
        t: texts(lang),
        code: None,
        requests,
        notice: None,
        csrf,
    })
}

async fn citizen_page(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(session) = crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(see_other("/login", Vec::new()));
    };
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let mut page = citizen_view(&state, &session.account_id, lang, csrf).await?;
    page.notice = match query.get("done") {
        Some("approved") => Some(page.t.approved),
        Some("denied") => Some(page.t.denied),
        _ => None,
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn citizen_post(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(session) = crate::signed_in::session(&state.idp, &headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(see_other("/login", Vec::new()));
    };
    let callers = state.wallet.callers();
    match form.get("action") {
        Some("code") => {
            let issued = callers
                .issue_code(&session.account_id)
                .await
                .map_err(fail(lang))?;
            let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
            let mut page = citizen_view(&state, &session.account_id, lang, csrf).await?;
            // Shown in groups of three, as it is read aloud.
            let (a, b) = issued.code.split_at(CODE_DIGITS / 2);
            page.code = Some(format!("{a} {b}"));
            render(&page, lang, StatusCode::OK, cookies)
        }
        Some(action @ ("approve" | "deny")) => {
            let Some(check) = form.non_empty("check") else {
                return Err(PageError::new(PageErrorKind::BadRequest, lang));
            };
            let approve = action == "approve";
            callers
                .decide(&session.account_id, check, approve)
                .await
                .map_err(fail(lang))?;
            let done = if approve { "approved" } else { "denied" };
            Ok(see_other(
                &format!("/me/verify-call?done={done}"),
                Vec::new(),
            ))
        }
        _ => Err(PageError::new(PageErrorKind::BadRequest, lang)),
    }
}

// ---------------------------------------------------------------- the agent's side

/// The signed-in agent, or where to send whoever is asking: to the login when nobody is
/// signed in, to the second factor when an agent signed in with a password only. A citizen
/// is refused.
async fn agent(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Result<Agent, &'static str>, PageError> {
    let Some(session) = crate::signed_in::session(&state.idp, headers)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    else {
        return Ok(Err("/login"));
    };
    let staff = state
        .idp
        .accounts()
        .staff(&session.account_id, AGENT)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    match staff {
        Some(staff) if factors::rank(&session.acr) >= 2 => Ok(Ok(Agent {
            account_id: staff.account.id.clone(),
            name: staff.account.full_name(),
            office: staff.office.unwrap_or_default(),
        })),
        Some(_) => Ok(Err("/login/second-factor?then=agent")),
        None => Err(PageError::new(PageErrorKind::Forbidden, lang)),
    }
}

#[derive(Template)]
#[template(path = "agent.html")]
struct ConsolePage {
    chrome: Chrome,
    t: &'static CallerTexts,
    agent: Agent,
    run: String,
    notice: Option<&'static str>,
    /// An activation code just issued, shown this once.
    activation_code: Option<String>,
    error: Option<String>,
    csrf: String,
}

fn console_page(lang: Lang, agent: Agent, csrf: String) -> ConsolePage {
    ConsolePage {
        chrome: Chrome::with_switch(lang, "/agent", &[]),
        t: texts(lang),
        agent,
        run: String::new(),
        notice: None,
        activation_code: None,
        error: None,
        csrf,
    }
}

async fn console(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let agent = match agent(&state, &headers, lang).await? {
        Ok(agent) => agent,
        Err(elsewhere) => return Ok(see_other(elsewhere, Vec::new())),
    };
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let page = console_page(lang, agent, csrf);
    render(&page, lang, StatusCode::OK, cookies)
}

/// The console again with what went wrong, the RUN kept.
fn console_error(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    agent: Agent,
    run: &str,
    status: StatusCode,
    error: String,
) -> Result<Response, PageError> {
    let (csrf, cookies) = CsrfToken::page(headers, state.config.is_https());
    let mut page = console_page(lang, agent, csrf);
    page.run = run.to_owned();
    page.error = Some(error);
    render(&page, lang, status, cookies)
}

/// An agent's form that passed the form's checks.
struct AgentForm {
    lang: Lang,
    agent: Agent,
    form: Fields,
    run: Run,
}

/// An agent's form, or the answer already decided (the login, the console with an error).
enum Parsed {
    Form(AgentForm),
    Answer(Response),
}

/// Reads an agent's form: CSRF, the signed-in agent, the RUN.
async fn agent_form(
    state: &PortalState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Parsed, PageError> {
    let (form, lang) = form::checked(headers, body)?;
    let agent = match agent(state, headers, lang).await? {
        Ok(agent) => agent,
        Err(elsewhere) => return Ok(Parsed::Answer(see_other(elsewhere, Vec::new()))),
    };
    let typed = form.get("run").unwrap_or_default().trim().to_owned();
    match Run::parse(&typed) {
        Ok(run) => Ok(Parsed::Form(AgentForm {
            lang,
            agent,
            form,
            run,
        })),
        Err(_) => Ok(Parsed::Answer(console_error(
            state,
            headers,
            lang,
            agent,
            &typed,
            StatusCode::BAD_REQUEST,
            texts(lang).bad_run.to_owned(),
        )?)),
    }
}

/// A refusal the agent can act on, as the console with the reason.
fn refused(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
    agent: Agent,
    run: &Run,
    e: WalletError,
) -> Result<Response, PageError> {
    let t = texts(lang);
    let (status, text) = match e {
        WalletError::Invalid(_) => (StatusCode::BAD_REQUEST, t.bad_code),
        WalletError::Forbidden(_) => (StatusCode::FORBIDDEN, t.no_match),
        WalletError::NotFound(_) => (StatusCode::NOT_FOUND, t.unknown_run),
        WalletError::Conflict(_) => (StatusCode::CONFLICT, t.already_waiting),
        WalletError::Idp(IdpError::Throttled { .. }) => {
            (StatusCode::TOO_MANY_REQUESTS, t.throttled)
        }
        other => return Err(fail(lang)(other)),
    };
    console_error(
        state,
        headers,
        lang,
        agent,
        &run.to_string(),
        status,
        text.to_owned(),
    )
}

async fn verify(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let AgentForm {
        lang,
        agent,
        form,
        run,
    } = match agent_form(&state, &headers, &body).await? {
        Parsed::Form(parts) => parts,
        Parsed::Answer(response) => return Ok(response),
    };
    let code = form.get("code").unwrap_or_default();
    match state.wallet.callers().verify_code(&agent, &run, code).await {
        Ok(check) => Ok(see_other(
            &format!("/agent/checks/{}", check.id),
            Vec::new(),
        )),
        Err(e) => refused(&state, &headers, lang, agent, &run, e),
    }
}

async fn start(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let AgentForm {
        lang, agent, run, ..
    } = match agent_form(&state, &headers, &body).await? {
        Parsed::Form(parts) => parts,
        Parsed::Answer(response) => return Ok(response),
    };
    match state.wallet.callers().start(&agent, &run).await {
        Ok(check) => Ok(see_other(
            &format!("/agent/checks/{}", check.id),
            Vec::new(),
        )),
        Err(e) => refused(&state, &headers, lang, agent, &run, e),
    }
}

/// A front desk lifts a citizen's emergency lock after checking the identity card in person;
/// journaled with the agent and the office. An operator's lock stays.
async fn front_desk_unlock(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let AgentForm {
        lang,
        agent,
        form,
        run,
    } = match agent_form(&state, &headers, &body).await? {
        Parsed::Form(parts) => parts,
        Parsed::Answer(response) => return Ok(response),
    };
    let lt = crate::emergency::texts(lang);
    let accounts = state.idp.accounts();
    let outcome = if form.get("in_person") == Some("yes") {
        match accounts
            .find_by_run(&run)
            .await
            .map_err(|e| PageError::from_idp(lang, &e))?
        {
            None => Err((StatusCode::NOT_FOUND, texts(lang).unknown_run)),
            Some(account) => {
                let how = format!("front_desk: {}", agent.office);
                if accounts
                    .unlock(&account.id, &agent.account_id, &how, false)
                    .await
                    .map_err(|e| PageError::from_idp(lang, &e))?
                {
                    Ok(lt.desk_unlocked)
                } else if accounts
                    .lock_reason(&account.id)
                    .await
                    .map_err(|e| PageError::from_idp(lang, &e))?
                    .is_some()
                {
                    Err((StatusCode::FORBIDDEN, lt.operator_locked))
                } else {
                    Err((StatusCode::CONFLICT, lt.not_locked))
                }
            }
        }
    } else {
        Err((StatusCode::BAD_REQUEST, lt.desk_unconfirmed))
    };
    match outcome {
        Ok(notice) => {
            let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
            let mut page = console_page(lang, agent, csrf);
            page.notice = Some(notice);
            render(&page, lang, StatusCode::OK, cookies)
        }
        Err((status, text)) => console_error(
            &state,
            &headers,
            lang,
            agent,
            &run.to_string(),
            status,
            text.to_owned(),
        ),
    }
}

/// The citizen a front-desk form names, once the agent confirmed checking the identity card
/// in person; otherwise the console with the reason (`Ok(Err(page))`).
async fn in_person_citizen(
    state: &PortalState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Result<(Lang, Agent, clave_idp::accounts::Account), Response>, PageError> {
    let AgentForm {
        lang,
        agent,
        form,
        run,
    } = match agent_form(state, headers, body).await? {
        Parsed::Form(parts) => parts,
        Parsed::Answer(response) => return Ok(Err(response)),
    };
    let refuse = |status: StatusCode, text: &'static str, agent: Agent| {
        console_error(
            state,
            headers,
            lang,
            agent,
            &run.to_string(),
            status,
            text.to_owned(),
        )
        .map(Err)
    };
    if form.get("in_person") != Some("yes") {
        return refuse(
            StatusCode::BAD_REQUEST,
            crate::emergency::texts(lang).desk_unconfirmed,
            agent,
        );
    }
    match state
        .idp
        .accounts()
        .find_by_run(&run)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
    {
        Some(account) => Ok(Ok((lang, agent, account))),
        None => refuse(StatusCode::NOT_FOUND, texts(lang).unknown_run, agent),
    }
}

/// A front desk issues an activation code after checking the identity card in person.
async fn front_desk_activation(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (lang, agent, account) = match in_person_citizen(&state, &headers, &body).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(refusal),
    };
    let accounts = state.idp.accounts();
    let issued = accounts
        .issue_activation_code(
            &account.id,
            &agent.account_id,
            &format!("front_desk: {}", agent.office),
        )
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let mut page = console_page(lang, agent, csrf);
    page.activation_code = Some(issued.code);
    render(&page, lang, StatusCode::OK, cookies)
}

/// A front desk removes a citizen's second factors after checking the identity card in
/// person.
async fn front_desk_factors(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (lang, agent, account) = match in_person_citizen(&state, &headers, &body).await? {
        Ok(found) => found,
        Err(refusal) => return Ok(refusal),
    };
    let t = texts(lang);
    let removed = state
        .idp
        .factors()
        .reset_all(
            &account.id,
            &agent.account_id,
            &format!("front_desk: {}", agent.office),
        )
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    if !removed {
        return console_error(
            &state,
            &headers,
            lang,
            agent,
            &account.run.to_string(),
            StatusCode::CONFLICT,
            t.factors_none.to_owned(),
        );
    }
    let (csrf, cookies) = CsrfToken::page(&headers, state.config.is_https());
    let mut page = console_page(lang, agent, csrf);
    page.notice = Some(t.factors_done);
    render(&page, lang, StatusCode::OK, cookies)
}

/// One row of the profile.
struct ProfileRow {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "agent_check.html")]
struct CheckPage {
    chrome: Chrome,
    t: &'static CallerTexts,
    /// `waiting`, `denied`, `lapsed` or `verified`.
    state: &'static str,
    id: String,
    phrase: String,
    rows: Vec<ProfileRow>,
    until: String,
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(fields) => ADDRESS_FIELDS
            .iter()
            .filter_map(|f| fields.get(*f).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

async fn check_page(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let agent = match agent(&state, &headers, lang).await? {
        Ok(agent) => agent,
        Err(elsewhere) => return Ok(see_other(elsewhere, Vec::new())),
    };
    let t = texts(lang);
    let callers = state.wallet.callers();
    let check: CallerCheck = callers
        .check(&agent.account_id, &id)
        .await
        .map_err(fail(lang))?;
    let now = state.idp.ctx().clock.unix();
    let mut page = CheckPage {
        chrome: Chrome::new(lang),
        t,
        state: "lapsed",
        id: check.id.clone(),
        phrase: check.binding.clone().unwrap_or_default(),
        rows: Vec::new(),
        until: String::new(),
    };
    if check.is_waiting(now) {
        page.state = "waiting";
        page.until = state.time_of_day(check.created_at + APPROVAL_SECS);
    } else if check.state == DENIED {
        page.state = "denied";
    } else if check.state == VERIFIED && check.is_viewable(now) {
        let profile = callers
            .profile(&agent, &check.id)
            .await
            .map_err(fail(lang))?;
        page.state = "verified";
        page.until = state.time_of_day(profile.until);
        page.rows.push(ProfileRow {
            label: t.names,
            value: format!("{} {}", profile.given_names, profile.family_names),
        });
        page.rows.push(ProfileRow {
            label: t.run,
            value: profile.run,
        });
        for (name, value) in &profile.attributes {
            let label = match name.as_str() {
                "birthdate" => t.birthdate,
                "email" => t.email,
                "phone_number" => t.phone,
                _ => continue,
            };
            page.rows.push(ProfileRow {
                label,
                value: shown(value),
            });
        }
    }
    render(&page, lang, StatusCode::OK, Vec::new())
}
