//! The OpenAPI description at `/openapi.json` covers every route the server has: each route
//! registered in the crates' sources is either described there (with its method) or listed
//! below as a browser page, nothing is described that the server does not route, and every
//! described operation reaches its handler rather than the "no such resource" fallback.
//!
//! axum cannot list a router's routes, so the routes are read from the sources: every
//! `.route("<path>", <method>(…).<method>(…))` call in the crates that serve HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

/// Routes that are not JSON APIs, so not in the description: the portal's pages and forms, the
/// interactive login, the front-channel OAuth endpoints (they answer a browser with redirects
/// and HTML pages), the portal's static files, and the WebAuthn ceremonies that the portal's
/// own script runs inside a browser session (cookie and CSRF token, not a bearer token).
const PAGES: &[&str] = &[
    // Front-channel OAuth / OpenID Connect: redirects and pages for the browser.
    "/oauth2/authorize",
    "/oauth2/authorize/resume",
    "/oauth2/logout",
    "/openid/authorize/",
    // The interactive login and its second factor, activation and emergency unlock.
    "/login",
    "/login/second-factor",
    "/consent",
    "/logout",
    "/logout/done",
    "/activate",
    "/unlock",
    // WebAuthn ceremonies of the portal's script (browser session, CSRF-protected).
    "/webauthn/register/start",
    "/webauthn/register/finish",
    "/webauthn/second-factor/start",
    "/webauthn/second-factor/finish",
    "/webauthn/login/start",
    "/webauthn/login/finish",
    // The portal: home, static files, the citizen's pages.
    "/",
    "/static/{name}",
    "/me/security",
    "/me/sessions",
    "/me/passkeys",
    "/me/passkeys/{id}/rename",
    "/me/passkeys/{id}/delete",
    "/me/data",
    "/me/data/email-code",
    "/me/data/corrections",
    "/me/permissions",
    "/me/permissions/{id}/receipt",
    "/me/activity",
    "/me/activity.csv",
    "/me/mailbox",
    "/me/mailbox/{id}",
    "/me/mailbox/{id}/attachments/{position}",
    "/me/sign",
    "/me/sign/{id}",
    "/me/sign/{id}/documents/{position}",
    "/me/sign/pin",
    "/me/sign/passkey/start",
    "/me/sign/passkey/finish",
    "/me/lock",
    "/me/verify-call",
    // Call-centre and front-desk agents.
    "/agent",
    "/agent/verify",
    "/agent/start",
    "/agent/checks/{id}",
    "/agent/unlock",
    "/agent/activation",
    "/agent/factors",
    // Officials.
    "/official",
    "/official/requests",
    "/official/requests/{id}",
    "/official/credentials/{id}",
    // The administration pages.
    "/admin",
    "/admin/services",
    "/admin/services/new",
    "/admin/services/{id}",
    "/admin/services/{id}/rotate-secret",
    "/admin/services/{id}/remove",
    "/admin/institutions",
    "/admin/institutions/{id}",
    "/admin/institutions/{id}/grant",
    "/admin/institutions/{id}/revoke",
    "/admin/attributes",
    "/admin/attributes/{name}/sources",
    "/admin/attributes/{name}/sources/revoke",
    "/admin/journal",
    "/admin/agents",
    "/admin/agents/grant",
    "/admin/agents/revoke",
];

/// The crates' source folders that register routes, relative to the workspace root.
const SOURCES: &[&str] = &[
    "src",
    "idp/src",
    "wallet/src",
    "signer/src",
    "portal/src",
    "common/src",
];

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch", "head", "options"];

/// Every route in the sources: path → methods (lower case).
fn routes_in_sources() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in SOURCES {
        collect_rust_files(&root.join(dir), &mut files);
    }
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (path, methods) in parse_routes(&text) {
            assert!(
                !methods.is_empty(),
                "{}: the route {path} names no method this parser knows",
                file.display()
            );
            routes.entry(path).or_default().extend(methods);
        }
    }
    routes
}

fn collect_rust_files(dir: &Path, into: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The `.route("<path>", …)` calls of one source file, with the methods in their method
/// routers: the identifiers `get`, `post`, … called inside the call's parentheses.
fn parse_routes(text: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let args = rest.trim_start();
        let Some(literal) = args.strip_prefix('"') else {
            continue;
        };
        let Some(end) = literal.find('"') else {
            continue;
        };
        let path = literal[..end].to_owned();
        // The call's arguments run to the parenthesis that closes `.route(`.
        let mut depth = 1usize;
        let mut close = literal.len();
        for (i, c) in literal[end + 1..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = end + 1 + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &literal[end + 1..close];
        let mut methods = BTreeSet::new();
        for method in METHODS {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = call[from..].find(&needle) {
                let start = from + i;
                let before = call[..start].chars().last();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    methods.insert((*method).to_owned());
                }
                from = start + needle.len();
            }
        }
        found.push((path, methods));
    }
    found
}

/// The described operations: path → methods.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .expect("the description has paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

async fn description(app: &TestApp) -> Value {
    let response = reqwest::get(app.at("/openapi.json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    response.json().await.unwrap()
}

#[test]
fn the_route_parser_reads_one_and_several_methods() {
    let text = r#"
        Router::new()
            .route("/a", get(show))
            .route(
                "/b/{id}",
                get(one).delete(remove),
            )
            .route("/c", post(send).layer(DefaultBodyLimit::max(limit(1, 2))))
            .route("/d", axum::routing::put(replace))
            .route("/e", get(targets).post(set_targets))
    "#;
    let routes: Vec<(String, Vec<String>)> = parse_routes(text)
        .into_iter()
        .map(|(p, m)| (p, m.into_iter().collect()))
        .collect();
    assert_eq!(
        routes,
        vec![
            ("/a".to_owned(), vec!["get".to_owned()]),
            (
                "/b/{id}".to_owned(),
                vec!["delete".to_owned(), "get".to_owned()]
            ),
            ("/c".to_owned(), vec!["post".to_owned()]),
            ("/d".to_owned(), vec!["put".to_owned()]),
            ("/e".to_owned(), vec!["get".to_owned(), "post".to_owned()]),
        ]
    );
}

#[tokio::test]
async fn every_route_is_described_or_a_listed_page() {
    let app = TestApp::new().await;
    let doc = description(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "OpenAPI 3.1"
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    for scheme in ["bearer", "client_basic"] {
        assert!(
            doc["components"]["securitySchemes"][scheme].is_object(),
            "the security scheme {scheme}"
        );
    }
    let routes = routes_in_sources();
    assert!(
        routes.len() > 60,
        "the sources were read ({} routes)",
        routes.len()
    );
    let described = documented(&doc);
    let pages: BTreeSet<&str> = PAGES.iter().copied().collect();

    let mut missing = Vec::new();
    for (path, methods) in &routes {
        if pages.contains(path.as_str()) {
            continue;
        }
        for method in methods {
            if !described.get(path).is_some_and(|m| m.contains(method)) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes neither in /openapi.json nor listed as pages in tests/it/openapi.rs: {missing:#?}"
    );

    let mut phantom = Vec::new();
    for (path, methods) in &described {
        for method in methods {
            if !routes.get(path).is_some_and(|m| m.contains(method)) {
                phantom.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        assert!(
            !pages.contains(path.as_str()),
            "{path} is both described and listed as a page"
        );
    }
    assert!(
        phantom.is_empty(),
        "described in /openapi.json but routed nowhere: {phantom:#?}"
    );

    let stale: Vec<&&str> = PAGES.iter().filter(|p| !routes.contains_key(**p)).collect();
    assert!(
        stale.is_empty(),
        "listed as pages but routed nowhere: {stale:?}"
    );
}

#[tokio::test]
async fn every_described_operation_reaches_its_handler() {
    let app = TestApp::new().await;
    let doc = description(&app).await;
    let http = app.http();
    for (path, methods) in documented(&doc) {
        // Path parameters get a value no resource has: the handler answers 404 for it, which
        // is told apart from the router's fallback by the fallback's own description.
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "no-such-thing"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in methods {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = http
                .request(method.clone(), app.at(&concrete))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap();
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: not routed for this method"
            );
            assert!(
                status.as_u16() < 500 || status == StatusCode::SERVICE_UNAVAILABLE,
                "{method} {path}: {status} {body}"
            );
            assert!(
                !(status == StatusCode::NOT_FOUND && body.contains("no such resource; see")),
                "{method} {path}: answered by the fallback, so not routed"
            );
        }
    }
}
