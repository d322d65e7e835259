//! Random and hostile input against the browser-flow endpoints: whatever arrives, the answer
//! is a 2xx, 3xx or 4xx, never a server error.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::authorize_url;
use crate::support::TestApp;
use crate::support::rp::{Browser, PASSWORD, RUN, citizen, register, web_client};

/// Pieces that hostile query strings are made of.
const PIECES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "request_uri",
    "request",
    "response_mode",
    "ui_locales",
    "acr_values",
    "login_hint",
    "access_token",
    "req",
    "id_token_hint",
    "post_logout_redirect_uri",
    "=",
    "&",
    "&&",
    "%",
    "%0",
    "%zz",
    "%00",
    "%FF",
    "%C3%A9",
    "+",
    ";",
    "#",
    "?",
    "/",
    "\\",
    "'",
    "\"",
    "<script>",
    "..",
    "é",
    "null",
    "code",
    "openid",
    "none",
    "login",
    "S256",
    "plain",
    "form_post",
    "-1",
    "99999999999999999999",
    "urn:ietf:params:oauth:request_uri:",
    "javascript:alert(1)",
    "http://127.0.0.1:9/callback",
];

fn hostile_query(rng: &mut StdRng, client_id: &str) -> String {
    let mut query = String::new();
    for _ in 0..rng.gen_range(0..12) {
        match rng.gen_range(0..6) {
            0 => query.push_str(&format!("client_id={client_id}")),
            1 => {
                let len = rng.gen_range(0..40);
                query.extend((0..len).map(|_| char::from(rng.gen_range(0x20_u8..0x7f))));
            }
            _ => query.push_str(PIECES[rng.gen_range(0..PIECES.len())]),
        }
        query.push(if rng.gen_bool(0.8) { '&' } else { '=' });
    }
    query
}

#[tokio::test]
async fn hostile_queries_and_bodies_never_cause_a_server_error() {
    let app = TestApp::new().await;
    citizen(&app).await;
    let client = register(&app, web_client("Blanco")).await;
    let secret = client.secret.clone().unwrap();
    let browser = Browser::new(&app);
    // A live session, so the flow gets past login too.
    browser.log_in(RUN, PASSWORD).await;
    let http = &browser.http;

    let (valid, _) = authorize_url(&app, &client, &[]);
    let valid_query = valid.split_once('?').unwrap().1.to_owned();
    let mut queries: Vec<String> = vec![
        String::new(),
        "%".into(),
        "a=%zz".into(),
        "client_id=%00".into(),
        format!("client_id={}", "x".repeat(20_000)),
        format!("{valid_query}&scope=openid"),
        format!("{valid_query}&max_age=99999999999999999999"),
        format!("{valid_query}&max_age=9223372036854775807"),
        format!("{valid_query}&prompt=none%20none"),
        format!("{valid_query}&request_uri=urn:ietf:params:oauth:request_uri:nope"),
        format!("{valid_query}&ui_locales={}", "es ".repeat(3000)),
        format!("{valid_query}&login_hint=%3Cscript%3E"),
        format!("{valid_query}&acr_values=urn:clave:loa:3"),
        valid_query.replace("state=st-123", "state=%FF%FE"),
        valid_query.replace("openid+profile", "openid%00profile"),
        (0..70)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&"),
    ];
    let mut rng = StdRng::seed_from_u64(20_261_126);
    queries.extend((0..150).map(|_| hostile_query(&mut rng, &client.client_id)));

    let form = |body: &str| {
        http.post(format!("{}/oauth2/authorize", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
    };
    for query in &queries {
        let mut checks = vec![
            (
                "GET authorize",
                http.get(with_query(&app, "/oauth2/authorize", query)),
            ),
            (
                "GET openid authorize",
                http.get(with_query(&app, "/openid/authorize/", query)),
            ),
            ("POST authorize", form(query)),
            (
                "POST par",
                http.post(format!("{}/oauth2/par", app.url))
                    .basic_auth(&client.client_id, Some(&secret))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(query.clone()),
            ),
            (
                "GET userinfo",
                http.get(with_query(&app, "/oauth2/userinfo", query))
                    .bearer_auth(query),
            ),
            (
                "POST userinfo",
                http.post(format!("{}/oauth2/userinfo", app.url))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(query.clone()),
            ),
            (
                "POST openid userinfo",
                http.post(format!("{}/openid/userinfo/", app.url))
                    .bearer_auth("x.y.z"),
            ),
            (
                "GET logout",
                http.get(with_query(&app, "/oauth2/logout", query)),
            ),
            (
                "GET resume",
                http.get(with_query(&app, "/oauth2/authorize/resume", query)),
            ),
        ];
        if query.contains("S256") {
            checks.push((
                "POST par unauthenticated",
                http.post(format!("{}/oauth2/par", app.url))
                    .body(query.clone()),
            ));
        }
        for (what, request) in checks {
            let Ok(response) = request.send().await else {
                // A request reqwest itself refuses to build or send is not the server's doing.
                continue;
            };
            let status = response.status();
            assert!(
                !status.is_server_error(),
                "{what} with {query:?} gave {status}"
            );
        }
    }
}

fn with_query(app: &TestApp, path: &str, query: &str) -> url::Url {
    let mut url = url::Url::parse(&format!("{}{path}", app.url)).unwrap();
    url.set_query(Some(query));
    url
}
