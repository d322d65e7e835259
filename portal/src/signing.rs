//! Documents to sign: `/me/sign` lists the signature requests services sent the signer
//! (signing several at once with one code is the batch an official needs) and the ones
//! already decided; `/me/sign/{id}` shows one request with each document's name, size and
//! SHA-256 and a link to the document itself (what you see is what you sign), and signs or
//! declines it. Signing asks for a fresh code from the signer's authenticator app: the
//! activation is bound to exactly the documents shown.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clave_common::http::ClientAddr;
use clave_idp::session::Session;
use clave_signer::SignerError;
use clave_signer::requests::SignRequest;

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

mod passkey;
mod pin;

/// The signing pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/sign", get(list).post(sign_batch))
        .route("/me/sign/pin", axum::routing::post(pin::post))
        .route(
            "/me/sign/passkey/start",
            axum::routing::post(passkey::start),
        )
        .route(
            "/me/sign/passkey/finish",
            axum::routing::post(passkey::finish),
        )
        .route("/me/sign/{id}", get(show).post(decide))
        .route("/me/sign/{id}/documents/{position}", get(document))
}

/// The signing pages' sentences in one language.
#[derive(Debug)]
pub struct SigningTexts {
    /// The list's heading.
    pub title: &'static str,
    /// Under it.
    pub intro: &'static str,
    /// No pending requests.
    pub none_pending: &'static str,
    /// The pending table's caption.
    pub pending_caption: &'static str,
    /// Columns.
    pub col_choose: &'static str,
    /// .
    pub col_from: &'static str,
    /// .
    pub col_purpose: &'static str,
    /// .
    pub col_documents: &'static str,
    /// .
    pub col_until: &'static str,
    /// .
    pub col_state: &'static str,
    /// .
    pub col_date: &'static str,
    /// Choosing one row, for screen readers.
    pub choose_label: &'static str,
    /// The code field.
    pub otp_label: &'static str,
    /// Under the code field.
    pub otp_hint: &'static str,
    /// The batch button.
    pub sign_selected: &'static str,
    /// The single button.
    pub sign: &'static str,
    /// The history's heading.
    pub history: &'static str,
    /// The history table's caption.
    pub history_caption: &'static str,
    /// No history.
    pub no_history: &'static str,
    /// States.
    pub state_pending: &'static str,
    /// .
    pub state_signed: &'static str,
    /// .
    pub state_declined: &'static str,
    /// .
    pub state_expired: &'static str,
    /// After signing.
    pub signed: &'static str,
    /// After declining.
    pub declined: &'static str,
    /// The request page's labels.
    pub from: &'static str,
    /// .
    pub purpose: &'static str,
    /// .
    pub format: &'static str,
    /// Signing as an official of an institution.
    pub as_official: &'static str,
    /// .
    pub received: &'static str,
    /// .
    pub until: &'static str,
    /// .
    pub state: &'static str,
    /// .
    pub documents: &'static str,
    /// .
    pub fingerprint: &'static str,
    /// .
    pub view: &'static str,
    /// .
    pub download_signed: &'static str,
    /// Before signing.
    pub what_you_sign: &'static str,
    /// The decline section.
    pub decline_heading: &'static str,
    /// .
    pub reason_label: &'static str,
    /// .
    pub decline: &'static str,
    /// Back to the list.
    pub back: &'static str,
    /// Size unit.
    pub bytes: &'static str,
    /// Without an authenticator app.
    pub need_totp: &'static str,
    /// The link to enrol one.
    pub need_totp_link: &'static str,
    /// The passkey button.
    pub sign_passkey: &'static str,
    /// While the passkey is asked.
    pub passkey_working: &'static str,
    /// When the passkey did not sign.
    pub passkey_failed: &'static str,
    /// Errors.
    pub error_choose: &'static str,
    /// .
    pub error_code: &'static str,
    /// .
    pub error_decided: &'static str,
    /// .
    pub error_reason: &'static str,
    /// .
    pub error_unavailable: &'static str,
}

/// Spanish.
pub static ES: SigningTexts = SigningTexts {
    title: "Documentos para firmar",
    intro: "Las instituciones te piden firmar estos documentos con tu firma electrónica avanzada. Revisa cada documento antes de firmar: la firma cubre exactamente lo que ves.",
    none_pending: "No tienes documentos pendientes de firma.",
    pending_caption: "Solicitudes de firma pendientes",
    col_choose: "Elegir",
    col_from: "Institución",
    col_purpose: "Motivo",
    col_documents: "Documentos",
    col_until: "Plazo",
    col_state: "Estado",
    col_date: "Fecha",
    choose_label: "Elegir la solicitud",
    otp_label: "Código de tu aplicación de autenticación",
    otp_hint: "Seis dígitos. El código autoriza solo la firma de los documentos elegidos.",
    sign_selected: "Firmar las solicitudes elegidas",
    sign: "Firmar",
    history: "Solicitudes anteriores",
    history_caption: "Solicitudes firmadas, rechazadas o vencidas",
    no_history: "Aún no hay solicitudes anteriores.",
    state_pending: "Pendiente",
    state_signed: "Firmada",
    state_declined: "Rechazada",
    state_expired: "Vencida",
    signed: "Los documentos se firmaron.",
    declined: "La solicitud se rechazó.",
    from: "Institución",
    purpose: "Motivo",
    format: "Formato de firma",
    as_official: "Firmas como funcionario de",
    received: "Recibida",
    until: "Plazo para firmar",
    state: "Estado",
    documents: "Documentos",
    fingerprint: "Huella SHA-256",
    view: "Ver el documento",
    download_signed: "Descargar lo firmado",
    what_you_sign: "Al firmar, tu firma electrónica avanzada quedará sobre estos documentos, identificados por su huella SHA-256.",
    decline_heading: "Rechazar la solicitud",
    reason_label: "Motivo del rechazo (opcional)",
    decline: "Rechazar",
    back: "Volver a los documentos para firmar",
    bytes: "bytes",
    need_totp: "Para firmar necesitas una aplicación de autenticación.",
    need_totp_link: "Agregar una en Mi seguridad",
    sign_passkey: "Firmar con mi llave de acceso",
    passkey_working: "Sigue las indicaciones de tu navegador para usar tu llave de acceso…",
    passkey_failed: "La llave de acceso no firmó: se venció la solicitud, la cancelaste o no fue aceptada. Inténtalo de nuevo.",
    error_choose: "Elige al menos una solicitud para firmar.",
    error_code: "El código no es válido o ya se usó. Espera el siguiente código de tu aplicación.",
    error_decided: "La solicitud ya fue firmada, rechazada o venció.",
    error_reason: "El motivo puede tener hasta 500 caracteres.",
    error_unavailable: "No se pudo obtener el sello de tiempo para la firma. Intenta de nuevo en unos minutos con un código nuevo.",
};

/// English.
pub static EN: SigningTexts = SigningTexts {
    title: "Documents to sign",
    intro: "Public bodies ask you to sign these documents with your advanced electronic signature. Review each document before signing: the signature covers exactly what you see.",
    none_pending: "You have no documents waiting for your signature.",
    pending_caption: "Signature requests waiting",
    col_choose: "Choose",
    col_from: "Public body",
    col_purpose: "Purpose",
    col_documents: "Documents",
    col_until: "Until",
    col_state: "Status",
    col_date: "Date",
    choose_label: "Choose the request",
    otp_label: "Code from your authenticator app",
    otp_hint: "Six digits. The code authorizes signing only the chosen documents.",
    sign_selected: "Sign the chosen requests",
    sign: "Sign",
    history: "Earlier requests",
    history_caption: "Requests signed, declined or expired",
    no_history: "There are no earlier requests yet.",
    state_pending: "Waiting",
    state_signed: "Signed",
    state_declined: "Declined",
    state_expired: "Expired",
    signed: "The documents were signed.",
    declined: "The request was declined.",
    from: "Public body",
    purpose: "Purpose",
    format: "Signature format",
    as_official: "You sign as an official of",
    received: "Received",
    until: "Sign by",
    state: "Status",
    documents: "Documents",
    fingerprint: "SHA-256 fingerprint",
    view: "View the document",
    download_signed: "Download the signed result",
    what_you_sign: "When you sign, your advanced electronic signature is put on these documents, identified by their SHA-256 fingerprint.",
    decline_heading: "Decline the request",
    reason_label: "Why you decline (optional)",
    decline: "Decline",
    back: "Back to documents to sign",
    bytes: "bytes",
    need_totp: "To sign you need an authenticator app.",
    need_totp_link: "Add one in My security",
    sign_passkey: "Sign with my passkey",
    passkey_working: "Follow your browser's prompts to use your passkey…",
    passkey_failed: "The passkey did not sign: the prompt expired, you cancelled it, or it was not accepted. Try again.",
    error_choose: "Choose at least one request to sign.",
    error_code: "The code is not valid or was already used. Wait for the next code in your app.",
    error_decided: "The request was already signed, declined, or it expired.",
    error_reason: "The reason may be at most 500 characters.",
    error_unavailable: "The time-stamp for the signature could not be obtained. Try again in a few minutes with a new code.",
};

/// The signing pages' sentences in `lang`.
pub(crate) fn texts(lang: Lang) -> &'static SigningTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

fn state_text(t: &'static SigningTexts, status: &str) -> &'static str {
    match status {
        "signed" => t.state_signed,
        "declined" => t.state_declined,
        "expired" => t.state_expired,
        _ => t.state_pending,
    }
}

fn format_text(request: &SignRequest) -> String {
    let name = match request.format.name() {
        "pades" => "PAdES",
        "cades" => "CAdES",
        _ => "JAdES",
    };
    format!("{name} {}", request.level())
}

/// Turns a signer failure into the page's own error, or a page error.
fn fail(lang: Lang, e: SignerError) -> PageError {
    match e {
        SignerError::NotFound(_) => PageError::new(PageErrorKind::NotFound, lang),
        SignerError::Db(e) => PageError::from_idp(lang, &clave_idp::IdpError::Db(e)),
        other => PageError::internal(lang, other),
    }
}

/// What the signer should read about a refused signing, or the page error.
fn refusal(
    t: &'static SigningTexts,
    lang: Lang,
    e: SignerError,
) -> Result<&'static str, PageError> {
    match e {
        SignerError::SecondFactor(_) | SignerError::InvalidSad(_) => Ok(t.error_code),
        SignerError::Pin(_) => Ok(pin::texts(lang).error_pin),
        SignerError::Conflict(_) => Ok(t.error_decided),
        SignerError::Invalid(_) => Ok(t.error_choose),
        SignerError::Unavailable(_) => Ok(t.error_unavailable),
        other => Err(fail(lang, other)),
    }
}

/// How the signer can activate a signature: with a code from an authenticator app, with a
/// passkey.
#[derive(Debug, Clone, Copy)]
struct SignFactors {
    totp: bool,
    passkey: bool,
}

async fn sign_factors(
    state: &PortalState,
    session: &Session,
    lang: Lang,
) -> Result<SignFactors, PageError> {
    let totp = state
        .idp
        .totps()
        .is_active(&session.account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let passkey = state
        .idp
        .passkeys()
        .count(&session.account_id)
        .await
        .map_err(|e| PageError::internal(lang, e))?
        > 0;
    Ok(SignFactors { totp, passkey })
}

/// The name a service is shown by.
async fn service_name(state: &PortalState, client_id: &str) -> String {
    match state.idp.clients().get(client_id).await {
        Ok(Some(client)) => client.name,
        _ => client_id.to_owned(),
    }
}

struct Row {
    id: String,
    from: String,
    purpose: String,
    documents: usize,
    until: String,
    state: &'static str,
    date: String,
}

async fn rows(
    state: &PortalState,
    lang: Lang,
    t: &'static SigningTexts,
    list: &[SignRequest],
) -> Vec<Row> {
    let mut rows = Vec::with_capacity(list.len());
    for r in list {
        rows.push(Row {
            id: r.id.clone(),
            from: service_name(state, &r.client_id).await,
            purpose: r.purpose.clone(),
            documents: r.documents.len(),
            until: state.date_time(lang, r.expires_at),
            state: state_text(t, &r.status),
            date: state.date_time(lang, r.decided_at.unwrap_or(r.created_at)),
        });
    }
    rows
}

#[derive(Template)]
#[template(path = "sign_list.html")]
struct ListPage {
    chrome: Chrome,
    t: &'static SigningTexts,
    pending: Vec<Row>,
    history: Vec<Row>,
    can_sign: bool,
    has_totp: bool,
    has_passkey: bool,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    /// The field the error is about.
    error_field: &'static str,
    /// Whether signing asks for a signing PIN.
    has_pin: bool,
    pin: &'static pin::PinTexts,
    csrf: String,
}

async fn list_page(
    state: &PortalState,
    headers: &HeaderMap,
    session: &Session,
    lang: Lang,
    notice: Option<&'static str>,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    list_page_with(
        state,
        headers,
        session,
        lang,
        notice,
        error.map(|e| (e, "otp")),
    )
    .await
}

/// The list, with an error about the field named second.
async fn list_page_with(
    state: &PortalState,
    headers: &HeaderMap,
    session: &Session,
    lang: Lang,
    notice: Option<&'static str>,
    error: Option<(&'static str, &'static str)>,
) -> Result<Response, PageError> {
    let t = texts(lang);
    let (error, error_field) = match error {
        Some((text, field)) => (Some(text), field),
        None => (None, "otp"),
    };
    let has_pin = pin::has_pin(state, &session.account_id)
        .await
        .map_err(|e| fail(lang, e))?;
    let signer = &state.signer;
    let pending = signer
        .requests_of(&session.account_id, true)
        .await
        .map_err(|e| fail(lang, e))?;
    let history = signer
        .requests_of(&session.account_id, false)
        .await
        .map_err(|e| fail(lang, e))?;
    let factors = sign_factors(state, session, lang).await?;
    let (csrf, cookies) = CsrfToken::page(headers, state.config.is_https());
    let page = ListPage {
        chrome: Chrome::with_switch(lang, "/me/sign", &[]),
        t,
        pending: rows(state, lang, t, &pending).await,
        history: rows(state, lang, t, &history).await,
        can_sign: factors.totp || factors.passkey,
        has_totp: factors.totp,
        has_passkey: factors.passkey,
        notice,
        error,
        error_field,
        has_pin,
        pin: pin::texts(lang),
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(&page, lang, status, cookies)
}

async fn list(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let notice = match query.get("done") {
        Some("signed") => Some(t.signed),
        Some("declined") => Some(t.declined),
        Some("pin-saved") => Some(pin::texts(lang).saved),
        Some("pin-removed") => Some(pin::texts(lang).removed),
        _ => None,
    };
    list_page(&state, &headers, &session, lang, notice, None).await
}

/// Signs the chosen requests with one code.
async fn sign_batch(
    State(state): State<PortalState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let ids = form.all("request");
    if ids.is_empty() {
        return list_page(&state, &headers, &session, lang, None, Some(t.error_choose)).await;
    }
    match sign(
        &state,
        &session,
        &ids,
        form.get("otp").unwrap_or_default(),
        form.non_empty("pin"),
        addr,
    )
    .await
    {
        Ok(()) => Ok(see_other("/me/sign?done=signed", Vec::new())),
        Err(e) => {
            let error = refusal(t, lang, e)?;
            list_page(&state, &headers, &session, lang, None, Some(error)).await
        }
    }
}

async fn sign(
    state: &PortalState,
    session: &Session,
    ids: &[String],
    otp: &str,
    pin: Option<&str>,
    addr: std::net::IpAddr,
) -> Result<(), SignerError> {
    let account = state
        .idp
        .accounts()
        .get(&session.account_id)
        .await?
        .ok_or_else(|| SignerError::NotFound("the account is gone".into()))?;
    state
        .signer
        .sign_requests(&account, ids, otp.trim(), pin, addr)
        .await
}

struct DocumentRow {
    position: i64,
    name: String,
    media_type: String,
    size: i64,
    sha256: String,
}

#[derive(Template)]
#[template(path = "sign_request.html")]
struct RequestPage {
    chrome: Chrome,
    t: &'static SigningTexts,
    id: String,
    from: String,
    purpose: String,
    format: String,
    institution: Option<String>,
    received: String,
    until: String,
    state: &'static str,
    pending: bool,
    signed: bool,
    documents: Vec<DocumentRow>,
    can_sign: bool,
    has_totp: bool,
    has_passkey: bool,
    error: Option<&'static str>,
    /// Whether signing asks for a signing PIN.
    has_pin: bool,
    pin: &'static pin::PinTexts,
    csrf: String,
}

async fn request_page(
    state: &PortalState,
    headers: &HeaderMap,
    session: &Session,
    id: &str,
    lang: Lang,
    error: Option<&'static str>,
) -> Result<Response, PageError> {
    let t = texts(lang);
    let request = state
        .signer
        .request_for_signer(&session.account_id, id)
        .await
        .map_err(|e| fail(lang, e))?;
    let factors = sign_factors(state, session, lang).await?;
    let has_pin = pin::has_pin(state, &session.account_id)
        .await
        .map_err(|e| fail(lang, e))?;
    let institution = match &request.institution_id {
        Some(id) => Some(
            state
                .signer
                .institution(id)
                .await
                .map_err(|e| fail(lang, e))?
                .map_or_else(|| id.clone(), |i| i.name),
        ),
        None => None,
    };
    let (csrf, cookies) = CsrfToken::page(headers, state.config.is_https());
    let page = RequestPage {
        institution,
        chrome: Chrome::new(lang),
        t,
        from: service_name(state, &request.client_id).await,
        purpose: request.purpose.clone(),
        format: format_text(&request),
        received: state.date_time(lang, request.created_at),
        until: state.date_time(lang, request.expires_at),
        state: state_text(t, &request.status),
        pending: request.status == "pending",
        signed: request.status == "signed",
        documents: request
            .documents
            .iter()
            .map(|d| DocumentRow {
                position: d.position,
                name: d.name.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                sha256: d.sha256.clone(),
            })
            .collect(),
        id: request.id,
        can_sign: factors.totp || factors.passkey,
        has_totp: factors.totp,
        has_passkey: factors.passkey,
        error,
        has_pin,
        pin: pin::texts(lang),
        csrf,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(&page, lang, status, cookies)
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    request_page(&state, &headers, &session, &id, lang, None).await
}

/// Signs or declines one request.
async fn decide(
    State(state): State<PortalState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let outcome = match form.get("action") {
        Some("sign") => sign(
            &state,
            &session,
            std::slice::from_ref(&id),
            form.get("otp").unwrap_or_default(),
            form.non_empty("pin"),
            addr,
        )
        .await
        .map(|()| "signed"),
        Some("decline") => state
            .signer
            .decline_request(
                &session.account_id,
                &id,
                form.get("reason").unwrap_or_default(),
            )
            .await
            .map(|()| "declined"),
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    match outcome {
        Ok(done) => Ok(see_other(&format!("/me/sign?done={done}"), Vec::new())),
        Err(SignerError::Invalid(_)) if form.get("action") == Some("decline") => {
            request_page(&state, &headers, &session, &id, lang, Some(t.error_reason)).await
        }
        Err(e) => {
            let error = refusal(t, lang, e)?;
            request_page(&state, &headers, &session, &id, lang, Some(error)).await
        }
    }
}

/// A document of a request as sent (shown in the browser when it can show it), or with
/// `?signed=1` the signed result once the request is signed.
async fn document(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path((id, position)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(None, &headers, None);
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let position: i64 = position
        .parse()
        .map_err(|_| PageError::new(PageErrorKind::NotFound, lang))?;
    let signer = &state.signer;
    let request = signer
        .request_for_signer(&session.account_id, &id)
        .await
        .map_err(|e| fail(lang, e))?;
    let Some(doc) = request.documents.iter().find(|d| d.position == position) else {
        return Err(PageError::new(PageErrorKind::NotFound, lang));
    };
    let signed = query.get("signed") == Some("1");
    if signed && request.status != "signed" {
        return Err(PageError::new(PageErrorKind::NotFound, lang));
    }
    let bytes = signer
        .request_document(&request, position, signed)
        .await
        .map_err(|e| fail(lang, e))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?;
    let (media_type, name) = if signed {
        let suffix = match request.format.name() {
            "pades" => "",
            "cades" => ".p7s",
            _ => ".jades.json",
        };
        (request.format.media_type(), format!("{}{suffix}", doc.name))
    } else {
        (doc.media_type.as_str(), doc.name.clone())
    };
    // A PDF is shown inline so the signer reads what they sign; anything else downloads,
    // sandboxed so it can never run in the portal's origin. (Chromium's PDF viewer does not
    // open under a sandbox; a policy allowing nothing else keeps the PDF inert instead.)
    let inline = media_type == "application/pdf" && !signed;
    let policy = if inline {
        "default-src 'none'"
    } else {
        "sandbox"
    };
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        name.replace(|c: char| !c.is_ascii_graphic() && c != ' ', "_")
    );
    let mut response = bytes.into_response();
    let out = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, media_type.to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
        (header::CONTENT_SECURITY_POLICY, policy.to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            out.insert(name, value);
        }
    }
    Ok(response)
}
