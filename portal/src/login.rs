//! `/login`: the RUN and password page.
//!
//! Reached from `/oauth2/authorize` with `?req=<id>` of the pending authorization request
//! (whose client name, `login_hint` and `ui_locales` shape the page), or directly. The form
//! always authenticates when posted, even in a browser with a session: the flow sends the
//! citizen here precisely when it wants a fresh login (`prompt=login`, `max_age`).
//!
//! A wrong RUN *format* is said so; a wrong password and an unknown RUN get one identical
//! message (and similar timing, see `clave_idp::accounts`); a lockout adds a note about too
//! many attempts to that same message. On success the page sets the session cookie and
//! redirects (303) to `/oauth2/authorize/resume?req=<id>`, or to `/` without a request: never
//! to an address taken from the request.

use crate::i18n::Localized as _;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use clave_common::Run;
use clave_common::http::ClientAddr;
use clave_idp::accounts::{Account, LoginError};
use clave_idp::authreq::AuthRequest;
use clave_idp::session::{self, Authentication, ClientMeta};

use crate::PortalState;
use crate::csrf::{self, CsrfToken};
use crate::error::{PageError, PageErrorKind};
use crate::form::{self, Fields};
use crate::i18n::Lang;
use crate::page::{Chrome, render, see_other};

/// `GET` and `POST /login`.
pub fn routes() -> Router<PortalState> {
    Router::new().route("/login", get(show).post(submit))
}

/// A problem with the form, shown in the summary and beside its field.
#[derive(Debug, Clone)]
struct FormError {
    /// The id of the field it concerns (`run` or `password`).
    field: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    /// The name of the service asking, when reached from one.
    service: Option<String>,
    req: Option<String>,
    csrf: String,
    /// The RUN to show in the field (typed before, or the service's hint).
    run: String,
    error: Option<FormError>,
}

impl LoginPage {
    fn error_on(&self, field: &str) -> bool {
        self.error.as_ref().is_some_and(|e| e.field == field)
    }
}

/// The pending request named by `req`, if any; a `req` that names nothing pending (lapsed,
/// completed, made up) is an error page, since logging in could lead nowhere.
async fn pending_request(
    state: &PortalState,
    req: Option<&str>,
    headers: &HeaderMap,
    explicit_lang: Option<&str>,
) -> Result<Option<AuthRequest>, PageError> {
    let Some(id) = req else {
        return Ok(None);
    };
    // Only the browser that made the request may see it: its service name and `login_hint`
    // (a RUN) are not for whoever else learns the id.
    let browser = clave_idp::oidc::flow::browser_cookie(headers);
    match state.idp.auth_requests().get_for_browser(id, browser).await {
        Ok(Some(request)) => Ok(Some(request)),
        Ok(None) => Err(PageError::new(
            PageErrorKind::RequestExpired,
            Lang::choose(explicit_lang, headers, None),
        )),
        Err(e) => Err(PageError::from_idp(
            Lang::choose(explicit_lang, headers, None),
            &e,
        )),
    }
}

struct PageParts<'a> {
    lang: Lang,
    request: Option<&'a AuthRequest>,
    csrf: &'a CsrfToken,
    run: String,
    error: Option<FormError>,
}

fn login_page(parts: PageParts<'_>) -> LoginPage {
    let req = parts.request.map(|r| r.id.clone());
    let switch_params: Vec<(&str, &str)> = req.iter().map(|id| ("req", id.as_str())).collect();
    LoginPage {
        chrome: Chrome::with_switch(parts.lang, "/login", &switch_params),
        service: parts.request.map(|r| r.client_name.clone()),
        req,
        csrf: parts.csrf.value().to_owned(),
        run: parts.run,
        error: parts.error,
    }
}

async fn show(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = Fields::from_query(query.as_deref());
    let explicit = query.non_empty("lang");
    let request = pending_request(&state, query.non_empty("req"), &headers, explicit).await?;
    let lang = Lang::choose(
        explicit,
        &headers,
        request.as_ref().and_then(|r| r.ui_locales.as_deref()),
    );
    let secure = state.config.is_https();
    let csrf = CsrfToken::for_page(&headers);
    let mut cookies: Vec<String> = csrf.set_cookie(secure).into_iter().collect();
    if explicit.and_then(Lang::from_tag).is_some() {
        cookies.push(lang.remember(secure));
    }
    // A hint that is a valid RUN prefills the field, in the form people recognise.
    let run = request
        .as_ref()
        .and_then(|r| r.login_hint.as_deref())
        .and_then(|hint| Run::parse(hint).ok())
        .map(|run| run.canonical())
        .unwrap_or_default();
    let page = login_page(PageParts {
        lang,
        request: request.as_ref(),
        csrf: &csrf,
        run,
        error: None,
    });
    render(&page, lang, StatusCode::OK, cookies)
}

async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = Fields::parse(&body);
    let explicit = form.non_empty("lang");
    if !form::is_form(&headers) {
        return Err(PageError::new(
            PageErrorKind::BadRequest,
            Lang::choose(explicit, &headers, None),
        ));
    }
    let request = pending_request(&state, form.non_empty("req"), &headers, explicit).await?;
    let lang = Lang::choose(
        explicit,
        &headers,
        request.as_ref().and_then(|r| r.ui_locales.as_deref()),
    );
    csrf::verify(&headers, form.get(csrf::FIELD), lang)?;
    let csrf = CsrfToken::for_page(&headers);
    let t = lang.texts();
    let typed_run = form.get("run").unwrap_or_default().trim().to_owned();

    let again = |status: StatusCode, run: String, error: FormError| {
        let page = login_page(PageParts {
            lang,
            request: request.as_ref(),
            csrf: &csrf,
            run,
            error: Some(error),
        });
        render(&page, lang, status, Vec::new())
    };

    let run = match Run::parse(&typed_run) {
        Ok(run) => run,
        Err(e) => {
            let error = FormError {
                field: "run",
                message: lang.run_error(&e).to_owned(),
            };
            return again(StatusCode::BAD_REQUEST, typed_run, error);
        }
    };
    let password = form.get("password").unwrap_or_default();
    if password.is_empty() {
        let error = FormError {
            field: "password",
            message: t.password_missing.to_owned(),
        };
        return again(StatusCode::BAD_REQUEST, typed_run, error);
    }

    let account = match state
        .idp
        .accounts()
        .verify_password(&run, password, addr)
        .await
    {
        Ok(account) => account,
        Err(LoginError::InvalidCredentials) => {
            let error = FormError {
                field: "password",
                message: t.bad_credentials.to_owned(),
            };
            return again(StatusCode::BAD_REQUEST, typed_run, error);
        }
        Err(LoginError::LockedOut { .. }) => {
            let error = FormError {
                field: "password",
                message: format!("{} {}", t.bad_credentials, t.too_many_attempts),
            };
            return again(StatusCode::TOO_MANY_REQUESTS, typed_run, error);
        }
        Err(LoginError::AccountLocked) => {
            let error = FormError {
                field: "password",
                message: t.account_locked.to_owned(),
            };
            return again(StatusCode::FORBIDDEN, typed_run, error);
        }
        Err(LoginError::Internal(e)) => return Err(PageError::from_idp(lang, &e)),
    };

    let token = start_session(&state, &headers, &account, addr)
        .await
        .map_err(|e| PageError::from_idp(lang, &e))?;
    let secure = state.config.is_https();
    let cookie = session::cookie_header(&token, state.config.tokens.session_ttl_secs, secure);
    let location = match &request {
        Some(request) => format!(
            "/oauth2/authorize/resume?req={}",
            url::form_urlencoded::byte_serialize(request.id.as_bytes()).collect::<String>()
        ),
        // A citizen who asked to be asked for the second factor at every login is; with a
        // request, the authorization endpoint decides (see `clave_idp::factors`).
        None if asks_always(&state, &account.id).await => "/login/second-factor".to_owned(),
        None => "/".to_owned(),
    };
    Ok(see_other(&location, vec![cookie]))
}

/// Whether the citizen chose "always ask for my second factor" and has one. A failure to
/// read it sends the citizen to the second-factor page, which checks again.
async fn asks_always(state: &PortalState, account_id: &str) -> bool {
    state
        .idp
        .factors()
        .summary(account_id)
        .await
        .map_or(true, |summary| summary.own_minimum() >= 2)
}

/// Records the login in this browser's session, returning the new cookie token: the same
/// session re-authenticated if it belongs to this citizen (keeping single sign-on with the
/// services already using it), else a new session, ending another citizen's session first.
/// The token changes either way, so a token planted before the login is worth nothing.
async fn start_session(
    state: &PortalState,
    headers: &HeaderMap,
    account: &Account,
    addr: std::net::IpAddr,
) -> Result<String, clave_idp::IdpError> {
    let sessions = state.idp.sessions();
    let current = match crate::cookies::get(headers, session::COOKIE) {
        Some(token) => sessions.from_cookie(token).await?,
        None => None,
    };
    if let Some(current) = current {
        if current.account_id == account.id {
            if let Some((_, token)) = sessions
                .reauthenticate(&current.id, Authentication::password())
                .await?
            {
                return Ok(token);
            }
        } else {
            sessions.end(&current.id, "replaced").await?;
        }
    }
    let meta = ClientMeta {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ip: Some(addr.to_string()),
    };
    let (_, token) = sessions
        .create(&account.id, Authentication::password(), meta)
        .await?;
    Ok(token)
}
