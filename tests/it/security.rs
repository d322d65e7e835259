//! Security checks swept over the whole surface: the headers of every page and API answer, the
//! flags of every cookie, open redirects through every parameter that leads somewhere, and
//! login timing that does not tell an unknown RUN from a wrong password.
//!
//! Covered elsewhere: CSRF on every form (`hardening`), throttling and lockout shared by two
//! nodes (`login`: `failures_are_delayed_then_locked_out_on_every_node_…` and
//! `concurrent_failures_on_two_nodes_…`).

use std::collections::BTreeMap;
use std::time::Instant;

use clave_common::run::Run;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use crate::support::TestApp;
use crate::support::rp::{PASSWORD, POST_LOGOUT_URI, RUN, citizen, register, web_client};

/// Every GET path of the portal, the login flow, the OpenID Connect provider, the APIs and
/// operations (ids are made up: the answer is an error page, which needs the headers too).
const PATHS: &[&str] = &[
    "/",
    "/?lang=en",
    "/login",
    "/login/second-factor",
    "/activate",
    "/unlock",
    "/consent",
    "/logout",
    "/logout/done",
    "/me/data",
    "/me/permissions",
    "/me/permissions/0190d000-0000-7000-8000-000000000000/receipt",
    "/me/mailbox",
    "/me/mailbox/0190d000-0000-7000-8000-000000000000",
    "/me/security",
    "/me/sessions",
    "/me/passkeys",
    "/me/activity",
    "/me/activity.csv",
    "/me/lock",
    "/me/verify-call",
    "/agent",
    "/agent/checks/0190d000-0000-7000-8000-000000000000",
    "/static/clave.css",
    "/no/such/page",
    "/oauth2/authorize",
    "/oauth2/authorize?client_id=nobody&response_type=code",
    "/oauth2/authorize/resume",
    "/oauth2/logout",
    "/oauth2/userinfo",
    "/oauth2/jwks",
    "/openid/authorize/",
    "/openid/userinfo/",
    "/.well-known/openid-configuration",
    "/api/wallet/v1/catalogue",
    "/api/wallet/v1/me/consents",
    "/api/mailbox/v1/notices",
    "/csc/v2/info",
    "/pki/none.crt",
    "/healthz",
    "/readyz",
    "/metrics",
];

/// A browser that keeps cookies by hand, so that `Secure` cookies still travel to a server
/// reached over plain HTTP behind a (pretend) TLS proxy.
struct Visitor {
    base: String,
    http: reqwest::Client,
    jar: BTreeMap<String, String>,
    /// Every `Set-Cookie` value received.
    seen: Vec<String>,
}

struct Answer {
    path: String,
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Visitor {
    fn new(app: &TestApp) -> Self {
        Self {
            // The listener itself: with an https public URL, TLS would end at a proxy.
            base: format!("http://{}", app.config.server.listen),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
            seen: Vec::new(),
        }
    }

    async fn send(&mut self, path: &str, request: reqwest::RequestBuilder) -> Answer {
        let cookie = self
            .jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = if cookie.is_empty() {
            request
        } else {
            request.header("cookie", cookie)
        };
        let response = request.header("accept", "text/html").send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap().to_owned();
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                if v.is_empty() || value.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), v.to_owned());
                }
            }
            self.seen.push(value);
        }
        let body = response.text().await.unwrap_or_default();
        Answer {
            path: path.to_owned(),
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(path, request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(path, request).await
    }

    /// Logs the test citizen in through the login page.
    async fn log_in(&mut self) {
        let page = self.get("/login").await;
        let csrf = crate::support::accounts::input_value(&page.body, "csrf")
            .expect("the login page has a CSRF token");
        let done = self
            .post(
                "/login",
                &[("csrf", &csrf), ("run", RUN), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(done.status, 303, "{}", done.body);
    }
}

fn check_headers(answer: &Answer, https: bool) {
    let path = &answer.path;
    let header = |name: &str| {
        answer
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path} ({}): no {name}", answer.status))
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{path}: {csp}"
    );
    assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
    assert_eq!(header("x-frame-options"), "DENY", "{path}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
    let hsts = answer.headers.get("strict-transport-security");
    if https {
        let hsts = hsts
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{path}: no HSTS behind TLS"));
        let max_age: u64 = hsts
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            max_age >= 31_536_000,
            "{path}: HSTS for less than a year: {hsts}"
        );
    } else {
        assert!(hsts.is_none(), "{path}: HSTS over plain HTTP");
    }
    assert!(
        answer.status < 500,
        "{path}: {} for a plain GET: {}",
        answer.status,
        answer.body
    );
}

fn check_cookies(seen: &[String], https: bool) {
    assert!(!seen.is_empty());
    for cookie in seen {
        let attributes: Vec<String> = cookie
            .split(';')
            .skip(1)
            .map(|a| a.trim().to_ascii_lowercase())
            .collect();
        let has = |a: &str| attributes.iter().any(|x| x == a);
        assert!(has("httponly"), "not HttpOnly: {cookie}");
        assert!(
            has("samesite=lax") || has("samesite=strict"),
            "no SameSite: {cookie}"
        );
        assert!(has("path=/"), "not for the whole site: {cookie}");
        assert!(
            !attributes.iter().any(|a| a.starts_with("domain=")),
            "shared with other hosts: {cookie}"
        );
        if https {
            assert!(has("secure"), "not Secure behind TLS: {cookie}");
        }
    }
}

async fn sweep(https: bool) {
    let app = TestApp::with_config(|c| {
        if https {
            c.server.public_url = "https://clave.example".into();
        }
    })
    .await;
    citizen(&app).await;
    let mut visitor = Visitor::new(&app);
    for path in PATHS {
        let answer = visitor.get(path).await;
        check_headers(&answer, https);
    }
    visitor.log_in().await;
    assert!(
        visitor.jar.contains_key("clave_session"),
        "{:?}",
        visitor.seen
    );
    for path in PATHS {
        let answer = visitor.get(path).await;
        check_headers(&answer, https);
    }
    // Errors of forms and APIs carry them too.
    for (path, form) in [
        ("/login", vec![("run", "1-9")]),
        ("/oauth2/token", vec![("grant_type", "password")]),
        ("/oauth2/revoke", vec![("token", "x")]),
        ("/api/sign/v1/verify", vec![]),
    ] {
        let answer = visitor.post(path, &form).await;
        check_headers(&answer, https);
    }
    let logout = visitor.get("/logout").await;
    if let Some(csrf) = crate::support::accounts::input_value(&logout.body, "csrf") {
        let answer = visitor.post("/logout", &[("csrf", &csrf)]).await;
        check_headers(&answer, https);
    }
    check_cookies(&visitor.seen, https);
}

#[tokio::test]
async fn every_page_and_answer_carries_the_security_headers_and_cookies_their_flags() {
    sweep(false).await;
}

#[tokio::test]
async fn behind_tls_every_answer_carries_hsts_and_every_cookie_is_secure() {
    sweep(true).await;
}

/// Places a hostile parameter can try to send the browser to.
const HOSTILE: &[&str] = &[
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "https:evil.example",
    "http://evil.example@127.0.0.1:9/callback",
    "http://127.0.0.1:9@evil.example/callback",
    "http://127.0.0.1:9/callback.evil.example",
    "http://127.0.0.1:9/callback/../../evil.example",
    "http://127.0.0.1:9/callback?next=https://evil.example",
    "HTTP://127.0.0.1:9/callback#https://evil.example",
    "javascript:alert('evil.example')",
    "data:text/html,evil.example",
];

/// Whether an answer sends the browser (by redirect, refresh, form or link) to the hostile
/// host.
fn leads_to_evil(answer: &Answer) -> Option<String> {
    if let Some(location) = answer.headers.get(LOCATION).and_then(|v| v.to_str().ok()) {
        let relative_elsewhere = location.starts_with("//") || location.starts_with("/\\");
        if location.contains("evil.example")
            || relative_elsewhere
            || location.starts_with("javascript:")
            || location.starts_with("data:")
        {
            return Some(format!("Location: {location}"));
        }
    }
    if let Some(refresh) = answer.headers.get("refresh").and_then(|v| v.to_str().ok())
        && refresh.contains("evil.example")
    {
        return Some(format!("Refresh: {refresh}"));
    }
    // Pages may show the bad value as text, escaped; never as somewhere to go.
    for attribute in ["href=\"", "action=\"", "src=\"", "url="] {
        for (i, _) in answer.body.match_indices(attribute) {
            let target: String = answer.body[i + attribute.len()..]
                .chars()
                .take_while(|c| *c != '"')
                .collect();
            if target.contains("evil.example") {
                return Some(format!("{attribute}{target}"));
            }
        }
    }
    None
}

#[tokio::test]
async fn no_redirecting_parameter_leads_off_site() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Servicio")).await;
    let id = client.client_id.clone();
    let mut visitor = Visitor::new(&app);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    // Signed out and signed in, since a signed-in browser skips the login page.
    for signed_in in [false, true] {
        if signed_in {
            visitor.log_in().await;
        }
        for hostile in HOSTILE {
            let h = enc(hostile);
            let authorize = format!(
                "response_type=code&client_id={id}&scope=openid&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri={h}"
            );
            let paths = [
                format!("/oauth2/authorize?{authorize}"),
                format!("/openid/authorize/?{authorize}"),
                format!("/oauth2/logout?client_id={id}&post_logout_redirect_uri={h}"),
                format!("/oauth2/logout?post_logout_redirect_uri={h}"),
                format!("/login?req={h}"),
                format!("/login/second-factor?then={h}"),
                format!("/consent?req={h}"),
                format!("/logout?post_logout_redirect_uri={h}"),
                format!("/?lang={h}"),
            ];
            for path in &paths {
                let answer = visitor.get(path).await;
                assert!(
                    answer.status < 500,
                    "{path}: {}: {}",
                    answer.status,
                    answer.body
                );
                if let Some(how) = leads_to_evil(&answer) {
                    panic!("{path} leads off site ({}): {how}", answer.status);
                }
            }
            let answer = visitor
                .post(
                    "/oauth2/authorize",
                    &url::form_urlencoded::parse(authorize.as_bytes())
                        .into_owned()
                        .collect::<Vec<_>>()
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<Vec<_>>(),
                )
                .await;
            assert!(
                leads_to_evil(&answer).is_none(),
                "POST /oauth2/authorize with {hostile}"
            );
        }
        // The registered addresses still work, so the refusals above are not blanket ones.
        let fine = visitor
            .get(&format!(
                "/oauth2/authorize?response_type=code&client_id={id}&scope=openid&state=s&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&redirect_uri={}",
                enc(crate::support::rp::REDIRECT_URI)
            ))
            .await;
        assert!(
            fine.headers.get(LOCATION).is_some(),
            "the registered redirect URI is followed: {} {}",
            fine.status,
            fine.body
        );
        let good = visitor
            .get(&format!(
                "/oauth2/logout?client_id={id}&post_logout_redirect_uri={}",
                enc(POST_LOGOUT_URI)
            ))
            .await;
        assert!(good.status < 500, "{}", good.body);
    }
    // A forged Host header does not steer redirects either.
    let request = visitor
        .http
        .get(format!("{}/me/data", visitor.base))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example");
    let answer = visitor.send("/me/data (forged host)", request).await;
    assert!(
        leads_to_evil(&answer).is_none(),
        "forged Host steers a redirect"
    );
}

/// Milliseconds one failed login takes, from the form post to the answer.
async fn failed_login(http: &reqwest::Client, app: &TestApp, csrf: &str, run: &str) -> f64 {
    let started = Instant::now();
    let response = http
        .post(app.at("/login"))
        .form(&[
            ("csrf", csrf),
            ("run", run),
            ("password", "no es la clave correcta"),
        ])
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(
        status.is_client_error() && body.contains("<form"),
        "a failed login for {run} shows the form again: {status} {body}"
    );
    elapsed.as_secs_f64() * 1000.0
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

#[tokio::test]
async fn an_unknown_run_and_a_wrong_password_take_as_long() {
    // Production password hashing, so that skipping it for an unknown RUN would show; the
    // throttle is opened up, since its delays would hide (and dominate) what is measured.
    let app = TestApp::with_config(|c| {
        let defaults = clave_common::Config::default();
        c.passwords.argon2_memory_kib = defaults.passwords.argon2_memory_kib;
        c.passwords.argon2_iterations = defaults.passwords.argon2_iterations;
        c.throttle.free_failures = 10_000;
        c.throttle.lockout_failures = 20_000;
        c.throttle.address_lockout_failures = 20_000;
    })
    .await;
    citizen(&app).await;
    let http = crate::callers::cookie_client();
    let page = http
        .get(app.at("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::support::accounts::input_value(&page, "csrf").unwrap();
    // Warm up both paths, then interleave, so that load on the machine hits both alike.
    failed_login(&http, &app, &csrf, RUN).await;
    let warm = Run::from_number(11_111_112).unwrap().canonical();
    failed_login(&http, &app, &csrf, &warm).await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..25u32 {
        let stranger = Run::from_number(20_000_000 + i * 7919).unwrap().canonical();
        if i % 2 == 0 {
            known.push(failed_login(&http, &app, &csrf, RUN).await);
            unknown.push(failed_login(&http, &app, &csrf, &stranger).await);
        } else {
            unknown.push(failed_login(&http, &app, &csrf, &stranger).await);
            known.push(failed_login(&http, &app, &csrf, RUN).await);
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    // A skipped hash would make the unknown RUN several times faster; noise on a busy machine
    // stays well within a factor of two for medians.
    let ratio = unknown / known;
    eprintln!("median failed login: wrong password {known:.1} ms, unknown RUN {unknown:.1} ms");
    assert!(
        (0.5..=2.0).contains(&ratio),
        "median failed login: wrong password {known:.1} ms, unknown RUN {unknown:.1} ms"
    );
    assert!(
        known > 1.0,
        "the hash is too cheap to tell anything ({known:.2} ms)"
    );
}
