//! The citizen's mailbox pages: `/me/mailbox` (the inbox with the unread count, the archive,
//! and whether to get e-mail alerts) and `/me/mailbox/{id}` (a notice: opening it records the
//! first reading, the proof of notification; a notice that needs a higher level asks for the
//! step-up first), with its attachments as downloads and archiving.

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use clave_idp::session::Session;
use clave_wallet::mailbox::{MailboxError, Notice};

use crate::PortalState;
use crate::csrf::CsrfToken;
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// The mailbox pages.
pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/me/mailbox", get(inbox).post(preferences))
        .route("/me/mailbox/{id}", get(notice).post(file))
        .route("/me/mailbox/{id}/attachments/{position}", get(attachment))
}

/// The mailbox pages' sentences in one language.
#[derive(Debug)]
pub struct MailboxTexts {
    /// The inbox's heading.
    pub title: &'static str,
    /// The archive's heading.
    pub archive_title: &'static str,
    /// Under the heading.
    pub intro: &'static str,
    /// Before the unread count.
    pub unread_before: &'static str,
    /// After it.
    pub unread_after: &'static str,
    /// When nothing is unread.
    pub all_read: &'static str,
    /// An empty inbox.
    pub empty: &'static str,
    /// The table caption.
    pub caption: &'static str,
    /// Columns.
    pub col_date: &'static str,
    /// .
    pub col_from: &'static str,
    /// .
    pub col_subject: &'static str,
    /// .
    pub col_state: &'static str,
    /// A notice not opened yet.
    pub state_new: &'static str,
    /// An opened one.
    pub state_read: &'static str,
    /// What a sensitive notice shows instead of its sender.
    pub hidden_sender: &'static str,
    /// And instead of its subject.
    pub hidden_subject: &'static str,
    /// Links between the inbox and the archive.
    pub to_archive: &'static str,
    /// .
    pub to_inbox: &'static str,
    /// The alerts section.
    pub alerts_heading: &'static str,
    /// .
    pub alerts_label: &'static str,
    /// .
    pub alerts_hint: &'static str,
    /// .
    pub alerts_on: &'static str,
    /// .
    pub alerts_off: &'static str,
    /// .
    pub save: &'static str,
    /// After saving.
    pub saved: &'static str,
    /// The notice page's labels.
    pub from: &'static str,
    /// .
    pub delivered: &'static str,
    /// .
    pub first_opened: &'static str,
    /// .
    pub attachments: &'static str,
    /// .
    pub digest: &'static str,
    /// The archive button.
    pub archive: &'static str,
    /// The restore button.
    pub restore: &'static str,
    /// Back to the list.
    pub back: &'static str,
    /// After archiving.
    pub archived: &'static str,
    /// After restoring.
    pub restored: &'static str,
    /// The step-up page.
    pub step_up_title: &'static str,
    /// .
    pub step_up_text: &'static str,
    /// .
    pub step_up_link: &'static str,
    /// The navigation's label.
    pub nav_label: &'static str,
    /// Size unit.
    pub bytes: &'static str,
}

/// Spanish.
pub static ES: MailboxTexts = MailboxTexts {
    title: "Mi casilla",
    archive_title: "Notificaciones archivadas",
    intro: "Las notificaciones que te envían las instituciones del Estado. La fecha en que abres cada una queda registrada como constancia de notificación.",
    unread_before: "Tienes",
    unread_after: "sin leer.",
    all_read: "No tienes notificaciones sin leer.",
    empty: "No hay notificaciones aquí.",
    caption: "Tus notificaciones, de la más reciente a la más antigua",
    col_date: "Fecha",
    col_from: "Remitente",
    col_subject: "Asunto",
    col_state: "Estado",
    state_new: "Nueva",
    state_read: "Leída",
    hidden_sender: "Remitente reservado",
    hidden_subject: "Notificación confidencial",
    to_archive: "Ver archivadas",
    to_inbox: "Volver a la casilla",
    alerts_heading: "Avisos por correo",
    alerts_label: "Avisarme por correo cuando llegue una notificación",
    alerts_hint: "El aviso va a tu correo verificado y no incluye el contenido de la notificación.",
    alerts_on: "Sí, avisarme",
    alerts_off: "No avisarme",
    save: "Guardar",
    saved: "Tu preferencia se guardó.",
    from: "Remitente",
    delivered: "Recibida",
    first_opened: "Abierta por primera vez",
    attachments: "Documentos adjuntos",
    digest: "Huella del contenido (SHA-256)",
    archive: "Archivar",
    restore: "Devolver a la casilla",
    back: "Volver a la casilla",
    archived: "La notificación se archivó.",
    restored: "La notificación volvió a la casilla.",
    step_up_title: "Esta notificación pide más seguridad",
    step_up_text: "Para abrirla, confirma tu identidad con tu segundo factor. La notificación no se marca como leída hasta que la abras.",
    step_up_link: "Confirmar con mi segundo factor",
    nav_label: "Tu casilla",
    bytes: "bytes",
};

/// English.
pub static EN: MailboxTexts = MailboxTexts {
    title: "My mailbox",
    archive_title: "Archived notices",
    intro: "Notices sent to you by public agencies. When you first open each one is recorded as proof of notification.",
    unread_before: "You have",
    unread_after: "unread.",
    all_read: "You have no unread notices.",
    empty: "There are no notices here.",
    caption: "Your notices, newest first",
    col_date: "Date",
    col_from: "From",
    col_subject: "Subject",
    col_state: "Status",
    state_new: "New",
    state_read: "Read",
    hidden_sender: "Sender withheld",
    hidden_subject: "Confidential notice",
    to_archive: "See archived notices",
    to_inbox: "Back to the mailbox",
    alerts_heading: "E-mail alerts",
    alerts_label: "Tell me by e-mail when a notice arrives",
    alerts_hint: "The alert goes to your verified address and does not include the notice itself.",
    alerts_on: "Yes, tell me",
    alerts_off: "Do not tell me",
    save: "Save",
    saved: "Your preference was saved.",
    from: "From",
    delivered: "Received",
    first_opened: "First opened",
    attachments: "Attachments",
    digest: "Content fingerprint (SHA-256)",
    archive: "Archive",
    restore: "Move back to the mailbox",
    back: "Back to the mailbox",
    archived: "The notice was archived.",
    restored: "The notice is back in the mailbox.",
    step_up_title: "This notice asks for more security",
    step_up_text: "To open it, confirm who you are with your second factor. The notice is not marked as read until you open it.",
    step_up_link: "Confirm with my second factor",
    nav_label: "Your mailbox",
    bytes: "bytes",
};

/// The mailbox's sentences in `lang`.
pub(crate) fn texts(lang: Lang) -> &'static MailboxTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

fn fail(lang: Lang) -> impl Fn(MailboxError) -> PageError {
    move |e| match e {
        MailboxError::NotFound(_) => PageError::new(PageErrorKind::NotFound, lang),
        MailboxError::Invalid(_) | MailboxError::Forbidden(_) => {
            PageError::new(PageErrorKind::BadRequest, lang)
        }
        MailboxError::Wallet(e) => PageError::from_idp(lang, &e.into_idp()),
        MailboxError::Db(e) => PageError::from_idp(lang, &clave_idp::IdpError::Db(e)),
        other => PageError::internal(lang, other.to_string()),
    }
}

struct Row {
    id: String,
    date: String,
    from: String,
    subject: String,
    unread: bool,
}

#[derive(Template)]
#[template(path = "mailbox.html")]
struct InboxPage {
    chrome: Chrome,
    t: &'static MailboxTexts,
    archived: bool,
    rows: Vec<Row>,
    unread: i64,
    alerts: bool,
    notice: Option<&'static str>,
    csrf: String,
}

async fn inbox(
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
    let archived = query.get("archived") == Some("1");
    let mailbox = state.wallet.mailbox();
    let inbox = mailbox
        .inbox(&session.account_id, archived)
        .await
        .map_err(fail(lang))?;
    let rows = inbox
        .notices
        .iter()
        .map(|n| Row {
            id: n.id.clone(),
            date: state.date_time(lang, n.deliver_at),
            from: if n.sensitive {
                t.hidden_sender.to_owned()
            } else {
                n.sender_name.clone()
            },
            subject: if n.sensitive {
                t.hidden_subject.to_owned()
            } else {
                n.subject.clone()
            },
            unread: n.first_opened_at.is_none(),
        })
        .collect();
    let alerts = mailbox
        .alerts_wanted(&session.account_id)
        .await
        .map_err(fail(lang))?;
    let csrf = CsrfToken::for_page(&headers);
    let cookies: Vec<String> = csrf
        .set_cookie(state.config.is_https())
        .into_iter()
        .collect();
    let notice = match query.get("done") {
        Some("saved") => Some(t.saved),
        Some("archived") => Some(t.archived),
        Some("restored") => Some(t.restored),
        _ => None,
    };
    let page = InboxPage {
        chrome: if archived {
            Chrome::with_switch(lang, "/me/mailbox", &[("archived", "1")])
        } else {
            Chrome::with_switch(lang, "/me/mailbox", &[])
        },
        t,
        archived,
        rows,
        unread: inbox.unread,
        alerts,
        notice,
        csrf: csrf.value().to_owned(),
    };
    render(&page, lang, StatusCode::OK, cookies)
}

/// Reads a form posted by a signed-in citizen: checked content type and CSRF token.
async fn posted(
    state: &PortalState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Fields, Lang, Option<Session>), PageError> {
    let (form, lang) = form::checked(headers, body)?;
    let session = crate::signed_in::page_session(&state.idp, headers, lang).await?;
    Ok((form, lang, session))
}

async fn preferences(
    State(state): State<PortalState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang, session) = posted(&state, &headers, &body).await?;
    let Some(session) = session else {
        return Ok(see_other("/login", Vec::new()));
    };
    let wanted = match form.get("alerts") {
        Some("on") => true,
        Some("off") => false,
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    state
        .wallet
        .mailbox()
        .set_alerts(&session.account_id, wanted)
        .await
        .map_err(fail(lang))?;
    Ok(see_other("/me/mailbox?done=saved", Vec::new()))
}

struct AttachmentRow {
    position: i64,
    filename: String,
    content_type: String,
    size: i64,
}

#[derive(Template)]
#[template(path = "mailbox_notice.html")]
struct NoticePage {
    chrome: Chrome,
    t: &'static MailboxTexts,
    id: String,
    from: String,
    subject: String,
    body_html: String,
    delivered: String,
    first_opened: String,
    digest: String,
    archived: bool,
    attachments: Vec<AttachmentRow>,
    csrf: String,
}

#[derive(Template)]
#[template(path = "mailbox_step_up.html")]
struct StepUpPage {
    chrome: Chrome,
    t: &'static MailboxTexts,
}

fn notice_page(
    state: &PortalState,
    notice: Notice,
    t: &'static MailboxTexts,
    lang: Lang,
    csrf: String,
) -> NoticePage {
    NoticePage {
        chrome: Chrome::new(lang),
        t,
        body_html: notice.body_html(),
        from: notice.sender_name,
        subject: notice.subject,
        delivered: state.date_time(lang, notice.deliver_at),
        first_opened: notice
            .first_opened_at
            .map(|at| state.date_time(lang, at))
            .unwrap_or_default(),
        digest: notice.content_digest,
        archived: notice.archived_at.is_some(),
        attachments: notice
            .attachments
            .into_iter()
            .map(|a| AttachmentRow {
                position: a.position,
                filename: a.filename,
                content_type: a.content_type,
                size: a.size,
            })
            .collect(),
        id: notice.id,
        csrf,
    }
}

async fn notice(
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
    let t = texts(lang);
    match state
        .wallet
        .mailbox()
        .open(&session.account_id, &id, &session.acr)
        .await
    {
        Ok(notice) => {
            let csrf = CsrfToken::for_page(&headers);
            let cookies: Vec<String> = csrf
                .set_cookie(state.config.is_https())
                .into_iter()
                .collect();
            let page = notice_page(&state, notice, t, lang, csrf.value().to_owned());
            render(&page, lang, StatusCode::OK, cookies)
        }
        Err(MailboxError::StepUp { .. }) => {
            let page = StepUpPage {
                chrome: Chrome::new(lang),
                t,
            };
            render(&page, lang, StatusCode::FORBIDDEN, Vec::new())
        }
        Err(e) => Err(fail(lang)(e)),
    }
}

async fn file(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang, session) = posted(&state, &headers, &body).await?;
    let Some(session) = session else {
        return Ok(see_other("/login", Vec::new()));
    };
    let (archived, done) = match form.get("action") {
        Some("archive") => (true, "archived"),
        Some("restore") => (false, "restored"),
        _ => return Err(PageError::new(PageErrorKind::BadRequest, lang)),
    };
    state
        .wallet
        .mailbox()
        .archive(&session.account_id, &id, archived)
        .await
        .map_err(fail(lang))?;
    Ok(see_other(&format!("/me/mailbox?done={done}"), Vec::new()))
}

async fn attachment(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Path((id, position)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let lang = Lang::choose(None, &headers, None);
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let position: i64 = position
        .parse()
        .map_err(|_| PageError::new(PageErrorKind::NotFound, lang))?;
    match state
        .wallet
        .mailbox()
        .attachment(&session.account_id, &id, position, &session.acr)
        .await
    {
        Ok((info, content)) => Ok(clave_wallet::mailbox::http::attachment_response(
            &info, content,
        )),
        Err(MailboxError::StepUp { .. }) => Ok(see_other(
            &format!("/me/mailbox/{}", form_safe(&id)),
            Vec::new(),
        )),
        Err(e) => Err(fail(lang)(e)),
    }
}

/// An id put back into a path: only characters ids have.
fn form_safe(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
