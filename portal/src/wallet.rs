//! The citizen's data pages: `/me/data` (every attribute with its source, whether it is
//! verified and when it changed; the self-asserted ones editable), `/me/permissions` (active
//! and past consents with purpose, attributes and expiry; revoke; download the signed
//! receipt) and `/me/activity` (the access log, also as CSV).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clave_wallet::WalletError;
use clave_wallet::value::ADDRESS_FIELDS;
use serde_json::{Map, Value};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// The data pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/data", get(data).post(edit))
        .route("/me/data/corrections", post(ask_correction))
        .route("/me/data/email-code", axum::routing::post(email_code))
        .route("/me/permissions", get(permissions).post(revoke))
        .route("/me/permissions/{id}/receipt", get(receipt))
        .route("/me/activity", get(activity))
        .route("/me/activity.csv", get(activity_csv))
}

/// The data pages' sentences in one language.
#[derive(Debug)]
pub struct WalletTexts {
    /// `/me/data`'s heading.
    pub data_title: &'static str,
    /// Under the heading.
    pub data_intro: &'static str,
    /// When the wallet is empty.
    pub data_empty: &'static str,
    /// The table's caption.
    pub data_caption: &'static str,
    /// Column headings.
    pub col_data: &'static str,
    /// .
    pub col_value: &'static str,
    /// .
    pub col_source: &'static str,
    /// .
    pub col_verified: &'static str,
    /// .
    pub col_updated: &'static str,
    /// A value the citizen entered.
    pub source_citizen: &'static str,
    /// Yes.
    pub yes: &'static str,
    /// No.
    pub no: &'static str,
    /// The editing section's heading.
    pub edit_heading: &'static str,
    /// Its explanation.
    pub edit_intro: &'static str,
    /// The save button.
    pub save: &'static str,
    /// After saving.
    pub saved: &'static str,
    /// How to correct data from a source.
    pub correction: &'static str,
    /// The correction section's heading.
    pub correction_heading: &'static str,
    /// Its fields.
    pub correction_attribute: &'static str,
    /// .
    pub correction_message: &'static str,
    /// .
    pub correction_hint: &'static str,
    /// The button.
    pub correction_send: &'static str,
    /// After sending.
    pub correction_sent: &'static str,
    /// The list's caption.
    pub corrections_caption: &'static str,
    /// Columns and states.
    pub col_asked: &'static str,
    /// .
    pub col_request: &'static str,
    /// .
    pub col_answer: &'static str,
    /// .
    pub col_correction_state: &'static str,
    /// .
    pub correction_open: &'static str,
    /// .
    pub correction_corrected: &'static str,
    /// .
    pub correction_rejected: &'static str,
    /// Address field labels, in [`ADDRESS_FIELDS`] order.
    pub address_fields: [&'static str; 5],
    /// `/me/permissions`' heading.
    pub permissions_title: &'static str,
    /// When there are none.
    pub permissions_empty: &'static str,
    /// Section headings.
    pub active_heading: &'static str,
    /// .
    pub past_heading: &'static str,
    /// Labels of a consent's facts.
    pub purpose: &'static str,
    /// .
    pub data_shared: &'static str,
    /// .
    pub granted: &'static str,
    /// .
    pub expires: &'static str,
    /// .
    pub status: &'static str,
    /// .
    pub once: &'static str,
    /// The revoke button.
    pub revoke: &'static str,
    /// The receipt link.
    pub receipt: &'static str,
    /// After revoking.
    pub revoked: &'static str,
    /// Status names.
    pub status_active: &'static str,
    /// .
    pub status_revoked: &'static str,
    /// .
    pub status_expired: &'static str,
    /// `/me/activity`'s heading.
    pub activity_title: &'static str,
    /// Under it.
    pub activity_intro: &'static str,
    /// When empty.
    pub activity_empty: &'static str,
    /// The table caption.
    pub activity_caption: &'static str,
    /// Columns.
    pub col_when: &'static str,
    /// .
    pub col_who: &'static str,
    /// .
    pub col_what: &'static str,
    /// .
    pub col_why: &'static str,
    /// .
    pub col_how: &'static str,
    /// The CSV link.
    pub download_csv: &'static str,
    /// Navigation between the pages.
    pub nav_label: &'static str,
    /// The filter's label and buttons.
    pub filter_who: &'static str,
    /// .
    pub filter_all: &'static str,
    /// .
    pub filter_apply: &'static str,
    /// The sign-in history's heading.
    pub logins_heading: &'static str,
    /// Under it.
    pub logins_intro: &'static str,
    /// Its caption.
    pub logins_caption: &'static str,
    /// Columns.
    pub col_event: &'static str,
    /// .
    pub col_detail: &'static str,
    /// .
    pub col_address: &'static str,
    /// Event names, in [`clave_idp::history::SignInKind`] order.
    pub login_kinds: [&'static str; 5],
    /// Verifying a self-asserted e-mail address: the section's heading.
    pub verify_heading: &'static str,
    /// Its explanation, before the address.
    pub verify_intro: &'static str,
    /// The button that sends a code.
    pub verify_send: &'static str,
    /// The code field's label.
    pub verify_code_label: &'static str,
    /// Its hint.
    pub verify_code_hint: &'static str,
    /// The button that checks the code.
    pub verify_confirm: &'static str,
    /// After a code was sent.
    pub code_sent: &'static str,
    /// After the address was verified.
    pub email_verified: &'static str,
    /// When no SMTP server is configured.
    pub mail_off: &'static str,
}

/// Spanish.
pub static ES: WalletTexts = WalletTexts {
    data_title: "Mis datos",
    data_intro: "Estos son los datos que el Estado tiene de ti, con la institución que respalda cada uno.",
    data_empty: "Aún no hay datos en tu billetera.",
    data_caption: "Tus datos, su fuente y su última actualización",
    col_data: "Dato",
    col_value: "Valor",
    col_source: "Fuente",
    col_verified: "Verificado",
    col_updated: "Actualizado",
    source_citizen: "Ingresado por ti",
    yes: "Sí",
    no: "No",
    edit_heading: "Tus datos de contacto",
    edit_intro: "Puedes cambiar estos datos tú mismo; quedarán sin verificar hasta que se verifiquen.",
    save: "Guardar",
    saved: "Tus datos se guardaron.",
    correction: "Si un dato de una institución está equivocado, pide la corrección a esa institución.",
    correction_heading: "Pedir una corrección",
    correction_attribute: "Dato equivocado",
    correction_message: "Qué está mal y cuál es el dato correcto",
    correction_hint: "La institución que entregó el dato recibe tu solicitud y te responde; verás su respuesta aquí y en tu casilla.",
    correction_send: "Enviar la solicitud",
    correction_sent: "Tu solicitud de corrección se envió a la institución.",
    corrections_caption: "Tus solicitudes de corrección",
    col_asked: "Fecha",
    col_request: "Solicitud",
    col_answer: "Respuesta",
    col_correction_state: "Estado",
    correction_open: "Esperando respuesta",
    correction_corrected: "Corregido",
    correction_rejected: "Rechazado",
    address_fields: [
        "Calle y número",
        "Comuna",
        "Región",
        "Código postal",
        "País",
    ],
    permissions_title: "Mis permisos",
    permissions_empty: "No has dado permisos a ningún servicio.",
    active_heading: "Permisos vigentes",
    past_heading: "Permisos anteriores",
    purpose: "Para qué",
    data_shared: "Datos",
    granted: "Otorgado",
    expires: "Vence",
    status: "Estado",
    once: "Solo para un ingreso",
    revoke: "Revocar",
    receipt: "Descargar comprobante",
    revoked: "El permiso fue revocado. El servicio ya no puede leer esos datos.",
    status_active: "Vigente",
    status_revoked: "Revocado",
    status_expired: "Vencido",
    activity_title: "Mi actividad",
    activity_intro: "Cada vez que un servicio recibió tus datos, con qué permiso y para qué.",
    activity_empty: "Ningún servicio ha recibido tus datos.",
    activity_caption: "Quién recibió tus datos, cuándo y por qué",
    col_when: "Cuándo",
    col_who: "Quién",
    col_what: "Qué datos",
    col_why: "Para qué",
    col_how: "Cómo",
    download_csv: "Descargar como CSV",
    nav_label: "Tus datos",
    filter_who: "Quién",
    filter_all: "Todos",
    filter_apply: "Filtrar",
    logins_heading: "Inicios de sesión",
    logins_intro: "Los ingresos a tu cuenta y los intentos fallidos. Si ves uno que no hiciste, cambia tu contraseña o bloquea tu cuenta.",
    logins_caption: "Los últimos ingresos e intentos",
    col_event: "Qué pasó",
    col_detail: "Cómo",
    col_address: "Dirección IP",
    login_kinds: [
        "Ingreso",
        "Contraseña incorrecta",
        "Segundo factor incorrecto",
        "Cuenta bloqueada",
        "Cuenta desbloqueada",
    ],
    verify_heading: "Verifica tu correo",
    verify_intro: "Tu correo queda sin verificar hasta que escribas el código que te enviamos a",
    verify_send: "Enviarme un código",
    verify_code_label: "Código de verificación",
    verify_code_hint: "Seis dígitos; vence en 15 minutos.",
    verify_confirm: "Verificar",
    code_sent: "Te enviamos un código. Revisa tu correo.",
    email_verified: "Tu correo quedó verificado.",
    mail_off: "Este servicio no tiene el envío de correos configurado; no se puede verificar el correo por ahora.",
};

/// English.
pub static EN: WalletTexts = WalletTexts {
    data_title: "My data",
    data_intro: "This is the information the State holds about you, with the agency that vouches for each item.",
    data_empty: "Your wallet holds no information yet.",
    data_caption: "Your information, its source and its last update",
    col_data: "Information",
    col_value: "Value",
    col_source: "Source",
    col_verified: "Verified",
    col_updated: "Updated",
    source_citizen: "Entered by you",
    yes: "Yes",
    no: "No",
    edit_heading: "Your contact details",
    edit_intro: "You can change these yourself; they stay unverified until they are verified.",
    save: "Save",
    saved: "Your information was saved.",
    correction: "If an agency's information is wrong, ask that agency to correct it.",
    correction_heading: "Ask for a correction",
    correction_attribute: "Wrong information",
    correction_message: "What is wrong and what is right",
    correction_hint: "The agency that provided it gets your request and answers you; you will see the answer here and in your mailbox.",
    correction_send: "Send the request",
    correction_sent: "Your correction request was sent to the agency.",
    corrections_caption: "Your correction requests",
    col_asked: "Date",
    col_request: "Request",
    col_answer: "Answer",
    col_correction_state: "Status",
    correction_open: "Waiting for an answer",
    correction_corrected: "Corrected",
    correction_rejected: "Rejected",
    address_fields: [
        "Street and number",
        "Municipality",
        "Region",
        "Postal code",
        "Country",
    ],
    permissions_title: "My permissions",
    permissions_empty: "You have not given any service a permission.",
    active_heading: "Active permissions",
    past_heading: "Past permissions",
    purpose: "Purpose",
    data_shared: "Information",
    granted: "Granted",
    expires: "Expires",
    status: "Status",
    once: "For one login only",
    revoke: "Revoke",
    receipt: "Download the receipt",
    revoked: "The permission was revoked. The service can no longer read that information.",
    status_active: "Active",
    status_revoked: "Revoked",
    status_expired: "Expired",
    activity_title: "My activity",
    activity_intro: "Every time a service received your information, under which permission and why.",
    activity_empty: "No service has received your information.",
    activity_caption: "Who received your information, when and why",
    col_when: "When",
    col_who: "Who",
    col_what: "Which information",
    col_why: "Purpose",
    col_how: "How",
    download_csv: "Download as CSV",
    nav_label: "Your information",
    filter_who: "Who",
    filter_all: "Everyone",
    filter_apply: "Filter",
    logins_heading: "Sign-ins",
    logins_intro: "Sign-ins to your account and failed attempts. If you see one you did not make, change your password or lock your account.",
    logins_caption: "The latest sign-ins and attempts",
    col_event: "What happened",
    col_detail: "How",
    col_address: "IP address",
    login_kinds: [
        "Signed in",
        "Wrong password",
        "Wrong second factor",
        "Account locked",
        "Account unlocked",
    ],
    verify_heading: "Verify your e-mail address",
    verify_intro: "Your address stays unverified until you type the code we send to",
    verify_send: "Send me a code",
    verify_code_label: "Verification code",
    verify_code_hint: "Six digits; it expires in 15 minutes.",
    verify_confirm: "Verify",
    code_sent: "We sent you a code. Check your e-mail.",
    email_verified: "Your e-mail address is verified.",
    mail_off: "This service cannot send e-mail yet, so the address cannot be verified for now.",
};

fn texts(lang: Lang) -> &'static WalletTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

fn fail(lang: Lang) -> impl Fn(WalletError) -> PageError {
    move |e| match e {
        WalletError::NotFound(_) => PageError::new(PageErrorKind::NotFound, lang),
        WalletError::Invalid(_) | WalletError::Forbidden(_) | WalletError::Conflict(_) => {
            PageError::new(PageErrorKind::BadRequest, lang)
        }
        other => PageError::from_idp(lang, &other.into_idp()),
    }
}

/// The signed-in citizen's account id, or `None` (go to the login).
async fn citizen(
    state: &PortalState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<Option<String>, PageError> {
    Ok(crate::signed_in::page_session(&state.idp, headers, lang)
        .await?
        .map(|s| s.account_id))
}

/// A value as a citizen reads it.
fn shown(value: &Value, t: &WalletTexts) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => t.yes.to_owned(),
        Value::Bool(false) => t.no.to_owned(),
        Value::Object(fields) => ADDRESS_FIELDS
            .iter()
            .filter_map(|f| fields.get(*f).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

struct DataRow {
    label: String,
    value: String,
    source: String,
    verified: bool,
    updated: String,
}

/// An editable attribute: a text field, or the address's fields.
struct Editable {
    name: String,
    label: String,
    /// For text: the current value; for an address, its fields (name, label, value).
    value: String,
    fields: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "my_data.html")]
struct DataPage {
    chrome: Chrome,
    t: &'static WalletTexts,
    rows: Vec<DataRow>,
    editable: Vec<Editable>,
    notice: Option<&'static str>,
    error: Option<String>,
    csrf: String,
    /// The self-asserted address waiting for verification, if any.
    verify_email: Option<String>,
    /// Whether a code was just sent (the code field gets the focus).
    code_sent: bool,
    /// The values from sources a correction can be asked of: (attribute, label).
    correctable: Vec<(String, String)>,
    /// The citizen's correction requests.
    corrections: Vec<CorrectionRow>,
}

struct CorrectionRow {
    date: String,
    label: String,
    message: String,
    state: &'static str,
    answer: String,
}

async fn data_page(
    state: &PortalState,
    account_id: &str,
    lang: Lang,
    csrf: String,
) -> Result<DataPage, PageError> {
    let t = texts(lang);
    let wallet = &state.wallet;
    let catalogue = wallet.catalogue().list().await.map_err(fail(lang))?;
    let values = wallet
        .values()
        .current(account_id)
        .await
        .map_err(fail(lang))?;
    let names = wallet
        .values()
        .source_names(&values)
        .await
        .map_err(fail(lang))?;
    let label = |name: &str| {
        catalogue
            .iter()
            .find(|d| d.name == name)
            .map_or_else(|| name.to_owned(), |d| d.label(lang).to_owned())
    };
    let rows = values
        .iter()
        .map(|v| DataRow {
            label: label(&v.attribute),
            value: shown(&v.value, t),
            source: if v.source == clave_wallet::values::CITIZEN {
                t.source_citizen.to_owned()
            } else {
                names.get(&v.source).cloned().unwrap_or_default()
            },
            verified: v.verified,
            updated: state.date(lang, v.recorded_at),
        })
        .collect();
    let editable = catalogue
        .iter()
        .filter(|d| d.self_asserted)
        .map(|d| {
            let current = values
                .iter()
                .find(|v| v.attribute == d.name)
                .map(|v| &v.value);
            let fields = if d.kind == clave_wallet::value::Kind::Address {
                ADDRESS_FIELDS
                    .iter()
                    .zip(t.address_fields)
                    .map(|(f, l)| {
                        let value = current
                            .and_then(|c| c.get(*f))
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned();
                        ((*f).to_owned(), l.to_owned(), value)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Editable {
                name: d.name.clone(),
                label: d.label(lang).to_owned(),
                value: current
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                fields,
            }
        })
        .collect();
    let correctable = values
        .iter()
        .filter(|v| v.source != clave_wallet::values::CITIZEN)
        .map(|v| (v.attribute.clone(), label(&v.attribute)))
        .collect();
    let corrections = wallet
        .corrections_of(account_id)
        .await
        .map_err(fail(lang))?
        .into_iter()
        .map(|c| CorrectionRow {
            date: state.date(lang, c.created_at),
            label: label(&c.attribute),
            message: c.message,
            state: match c.status.as_str() {
                "corrected" => t.correction_corrected,
                "rejected" => t.correction_rejected,
                _ => t.correction_open,
            },
            answer: c.answer.unwrap_or_default(),
        })
        .collect();
    Ok(DataPage {
        correctable,
        corrections,
        chrome: Chrome::with_switch(lang, "/me/data", &[]),
        t,
        rows,
        editable,
        notice: None,
        error: None,
        csrf,
        verify_email: wallet
            .unverified_email(account_id)
            .await
            .map_err(fail(lang))?,
        code_sent: false,
    })
}

async fn data(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let csrf = CsrfToken::for_page(&headers);
    let cookies: Vec<String> = csrf
        .set_cookie(state.config.is_https())
        .into_iter()
        .collect();
    let mut page = data_page(&state, &account_id, lang, csrf.value().to_owned()).await?;
    match query.get("done") {
        Some("saved") => page.notice = Some(page.t.saved),
        Some("code_sent") => {
            page.notice = Some(page.t.code_sent);
            page.code_sent = true;
        }
        Some("email_verified") => page.notice = Some(page.t.email_verified),
        Some("correction_sent") => page.notice = Some(page.t.correction_sent),
        _ => {}
    }
    render(&page, lang, StatusCode::OK, cookies)
}

async fn edit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let Some(attribute) = form.non_empty("attribute") else {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    };
    let value = if attribute == "address" {
        let mut fields = Map::new();
        for f in ADDRESS_FIELDS {
            if let Some(v) = form.non_empty(f) {
                fields.insert((*f).to_owned(), Value::String(v.to_owned()));
            }
        }
        Value::Object(fields)
    } else {
        Value::String(form.get("value").unwrap_or_default().to_owned())
    };
    match state
        .wallet
        .assert_value(&account_id, attribute, &value)
        .await
    {
        Ok(_) => Ok(see_other("/me/data?done=saved", Vec::new())),
        Err(WalletError::Invalid(text) | WalletError::Forbidden(text)) => {
            let csrf = CsrfToken::for_page(&headers);
            let mut page = data_page(&state, &account_id, lang, csrf.value().to_owned()).await?;
            page.error = Some(text);
            let cookies = csrf
                .set_cookie(state.config.is_https())
                .into_iter()
                .collect();
            render(&page, lang, StatusCode::BAD_REQUEST, cookies)
        }
        Err(e) => Err(fail(lang)(e)),
    }
}

/// `POST /me/data/corrections`: asks the source of a value to correct it.
async fn ask_correction(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    match state
        .wallet
        .request_correction(
            &account_id,
            form.get("attribute").unwrap_or_default(),
            form.get("message").unwrap_or_default(),
        )
        .await
    {
        Ok(_) => Ok(see_other("/me/data?done=correction_sent", Vec::new())),
        Err(
            WalletError::Invalid(text) | WalletError::Conflict(text) | WalletError::NotFound(text),
        ) => {
            let csrf = CsrfToken::for_page(&headers);
            let mut page = data_page(&state, &account_id, lang, csrf.value().to_owned()).await?;
            page.error = Some(text);
            let cookies = csrf
                .set_cookie(state.config.is_https())
                .into_iter()
                .collect();
            render(&page, lang, StatusCode::UNPROCESSABLE_ENTITY, cookies)
        }
        Err(e) => Err(fail(lang)(e)),
    }
}

/// `POST /me/data/email-code`: `action=send` mails a code to the unverified address,
/// `action=confirm` with `code` checks it.
async fn email_code(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let wallet = &state.wallet;
    let outcome = match form.get("action") {
        Some("send") => match clave_common::mail::Mailer::new(&state.config.mail) {
            Ok(Some(mailer)) => wallet
                .send_email_code(&account_id, &mailer)
                .await
                .map(|_| "code_sent"),
            Ok(None) => Err(WalletError::Conflict(texts(lang).mail_off.to_owned())),
            Err(e) => Err(WalletError::Internal(e.to_string())),
        },
        Some("confirm") => wallet
            .confirm_email_code(&account_id, form.get("code").unwrap_or_default())
            .await
            .map(|()| "email_verified"),
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    match outcome {
        Ok(done) => Ok(see_other(&format!("/me/data?done={done}"), Vec::new())),
        Err(WalletError::Invalid(text) | WalletError::Conflict(text)) => {
            let csrf = CsrfToken::for_page(&headers);
            let mut page = data_page(&state, &account_id, lang, csrf.value().to_owned()).await?;
            page.error = Some(text);
            page.code_sent = true;
            let cookies = csrf
                .set_cookie(state.config.is_https())
                .into_iter()
                .collect();
            render(&page, lang, StatusCode::BAD_REQUEST, cookies)
        }
        Err(e) => Err(fail(lang)(e)),
    }
}

struct PermissionRow {
    id: String,
    service: String,
    purpose: String,
    data: String,
    granted: String,
    expires: String,
    status: &'static str,
    one_time: bool,
}

#[derive(Template)]
#[template(path = "permissions.html")]
struct PermissionsPage {
    chrome: Chrome,
    t: &'static WalletTexts,
    active: Vec<PermissionRow>,
    past: Vec<PermissionRow>,
    notice: Option<&'static str>,
    csrf: String,
}

async fn permissions(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let wallet = &state.wallet;
    let catalogue = wallet.catalogue().list().await.map_err(fail(lang))?;
    let now = wallet.idp().ctx().clock.unix();
    let (mut active, mut past) = (Vec::new(), Vec::new());
    for c in wallet
        .consents()
        .of_citizen(&account_id)
        .await
        .map_err(fail(lang))?
    {
        let live = c.is_active(now);
        let status = match c.status.as_str() {
            "revoked" => t.status_revoked,
            _ if live => t.status_active,
            _ => t.status_expired,
        };
        let data = c
            .attributes
            .iter()
            .map(|a| {
                catalogue
                    .iter()
                    .find(|d| &d.name == a)
                    .map_or_else(|| a.clone(), |d| d.label(lang).to_owned())
            })
            .collect::<Vec<_>>()
            .join(", ");
        let row = PermissionRow {
            id: c.id.clone(),
            service: c.client_name.clone(),
            purpose: c.purpose.clone(),
            data,
            granted: state.date(lang, c.granted_at),
            expires: state.date(lang, c.expires_at),
            status,
            one_time: c.mode == clave_wallet::consent::Mode::OneTime,
        };
        if live {
            active.push(row)
        } else {
            past.push(row)
        }
    }
    let csrf = CsrfToken::for_page(&headers);
    let cookies: Vec<String> = csrf
        .set_cookie(state.config.is_https())
        .into_iter()
        .collect();
    let page = PermissionsPage {
        chrome: Chrome::with_switch(lang, "/me/permissions", &[]),
        t,
        active,
        past,
        notice: (query.get("done") == Some("revoked")).then_some(t.revoked),
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::OK, cookies)
}

async fn revoke(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let Some(id) = form.non_empty("consent") else {
        return Err(PageError::new(PageErrorKind::BadRequest, lang));
    };
    match state.wallet.consents().revoke(&account_id, id).await {
        // Revoked now, or already ended by another tab: either way it no longer releases data.
        Ok(_) | Err(WalletError::Conflict(_)) => {
            Ok(see_other("/me/permissions?done=revoked", Vec::new()))
        }
        Err(e) => Err(fail(lang)(e)),
    }
}

async fn receipt(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let lang = Lang::choose(None, &headers, None);
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let consent = state
        .wallet
        .consents()
        .get(&id)
        .await
        .map_err(fail(lang))?
        .filter(|c| c.account_id == account_id)
        .ok_or(PageError::new(PageErrorKind::NotFound, lang))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jwt".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"clave-consent-{}.jwt\"", consent.id),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        consent.receipt,
    )
        .into_response())
}

struct ActivityRow {
    when: String,
    who: String,
    what: String,
    why: String,
    how: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    chrome: Chrome,
    t: &'static WalletTexts,
    rows: Vec<ActivityRow>,
    next: Option<i64>,
    /// Recipients to filter by (id, name), and the one chosen.
    recipients: Vec<(String, String)>,
    who: String,
    logins: Vec<LoginRow>,
}

struct LoginRow {
    when: String,
    event: &'static str,
    detail: String,
    address: String,
}

/// The most sign-in events the page shows.
const LOGIN_ROWS: usize = 50;

async fn activity(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let lang = Lang::choose(query.non_empty("lang"), &headers, None);
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let after = query.get("after").and_then(|a| a.parse().ok());
    let who = query.non_empty("who").map(str::to_owned);
    // Filtered, the whole log is read (up to its export limit) and only the chosen
    // recipient's releases are kept; unfiltered, it pages by position.
    let (entries, next) = match &who {
        Some(_) => (
            state
                .wallet
                .access_log_export(&account_id)
                .await
                .map_err(fail(lang))?,
            None,
        ),
        None => {
            let page = state
                .wallet
                .access_log(&account_id, after, 100)
                .await
                .map_err(fail(lang))?;
            (page.entries, page.next)
        }
    };
    let mut recipients: Vec<(String, String)> = Vec::new();
    for e in &entries {
        if !recipients.iter().any(|(id, _)| *id == e.recipient) {
            recipients.push((e.recipient.clone(), e.recipient_name.clone()));
        }
    }
    let rows = entries
        .into_iter()
        .filter(|e| who.as_deref().is_none_or(|w| e.recipient == w))
        .map(|e| ActivityRow {
            when: e.at.replace('T', " ").trim_end_matches('Z').to_owned(),
            who: e.recipient_name,
            what: e.attributes.join(", "),
            why: e.purpose,
            how: e.channel,
        })
        .collect();
    let account = state
        .idp
        .accounts()
        .get(&account_id)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .ok_or_else(|| PageError::new(PageErrorKind::NotFound, lang))?;
    let logins = state
        .idp
        .sign_in_history(&account, LOGIN_ROWS)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?
        .into_iter()
        .map(|e| LoginRow {
            when: state.date_time(lang, e.at),
            event: t.login_kinds[e.kind as usize],
            detail: e.detail,
            address: e.addr.unwrap_or_default(),
        })
        .collect();
    let page = ActivityPage {
        chrome: Chrome::with_switch(lang, "/me/activity", &[]),
        t,
        rows,
        next,
        recipients,
        who: who.unwrap_or_default(),
        logins,
    };
    render(&page, lang, StatusCode::OK, Vec::new())
}

async fn activity_csv(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let lang = Lang::choose(None, &headers, None);
    let Some(account_id) = citizen(&state, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let entries = state
        .wallet
        .access_log_export(&account_id)
        .await
        .map_err(fail(lang))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"clave-access-log.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        clave_wallet::access_log::to_csv(&entries),
    )
        .into_response())
}
