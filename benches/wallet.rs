//! The data wallet's throughput: batch publishing (rows per second through
//! `POST /api/wallet/v1/attributes/batch`) and userinfo releasing five consented attributes
//! (requests per second, each one also appended to the citizen's access log).
//!
//! Run with `cargo bench --bench wallet` (SQLite in a temporary directory), or with
//! `BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/clave_bench` against an empty
//! PostgreSQL database. `BENCH_SECONDS` (default 5) and `BENCH_CONCURRENCY` (default 16)
//! shape the userinfo run. It prints numbers; it asserts nothing about speed.

// A benchmark is a test program: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clave::App;
use clave_common::Config;
use clave_idp::clients::NewClient;
use serde_json::{Value, json};

const RUN: &str = "12.345.678-5";
const PASSWORD: &str = "cerro santa lucia al atardecer";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    config.server.public_url = format!("http://{addr}");
    config.server.listen = addr.to_string();
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        config.database.url = Some(clave_common::config::Secret::new(url));
    }
    config.database.max_connections = 16;
    let backend = if config.database.url.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let app = App::open(config, Arc::new(clave_common::clock::SystemClock), true)
        .await
        .unwrap();
    app.ensure_keys().await.unwrap();
    let router = app.router();
    tokio::spawn(async move {
        let _ = clave::serve(listener, router, std::future::pending()).await;
    });
    let base = format!("http://{addr}");

    // The registry, authoritative for the five profile attributes.
    let registry = app
        .idp
        .clients()
        .register(NewClient {
            name: "Registro Civil".into(),
            scopes: vec!["wallet:publish".into()],
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        })
        .await
        .unwrap();
    let profile = [
        "given_names",
        "family_names",
        "birthdate",
        "sex",
        "nationality",
    ];
    for attribute in profile {
        app.wallet
            .catalogue()
            .grant_source(attribute, &registry.client.client_id)
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let token = client_token(
        &http,
        &base,
        &registry.client.client_id,
        registry.client_secret.as_deref().unwrap(),
        "wallet:publish",
    )
    .await;

    // Batch publishing: new citizens, five attributes each, 500 items a batch.
    let batches = 20;
    let started = Instant::now();
    let mut rows = 0;
    for batch in 0..batches {
        let items: Vec<Value> = (0..100)
            .flat_map(|i| {
                let run = run_for(1_000_000 + batch * 100 + i);
                [
                    json!({"run": run, "attribute": "given_names", "value": "Ana María"}),
                    json!({"run": run, "attribute": "family_names", "value": "Pérez Soto"}),
                    json!({"run": run, "attribute": "birthdate", "value": "1990-04-23"}),
                    json!({"run": run, "attribute": "sex", "value": "F"}),
                    json!({"run": run, "attribute": "nationality", "value": "CL"}),
                ]
            })
            .collect();
        let report: Value = http
            .post(format!("{base}/api/wallet/v1/attributes/batch"))
            .bearer_auth(&token)
            .json(&json!({ "items": items }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        rows += report["written"].as_u64().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "[{backend}] batch publishing: {rows} rows in {elapsed:.2} s = {:.0} rows/s (500 items per batch, 100 new citizens each)",
        rows as f64 / elapsed
    );

    // One citizen who logs in and consents to the five attributes.
    app.idp
        .accounts()
        .create(clave_idp::accounts::NewCitizen {
            run: clave_common::Run::parse(RUN).unwrap(),
            given_names: "María Carmen".into(),
            family_names: "Del Río González".into(),
            email: None,
            password: Some(PASSWORD.into()),
        })
        .await
        .unwrap();
    let items: Vec<Value> = [
        ("given_names", json!("María Carmen")),
        ("family_names", json!("Del Río González")),
        ("birthdate", json!("1985-04-23")),
        ("sex", json!("F")),
        ("nationality", json!("CL")),
    ]
    .into_iter()
    .map(|(a, v)| json!({"run": RUN, "attribute": a, "value": v}))
    .collect();
    http.post(format!("{base}/api/wallet/v1/attributes/batch"))
        .bearer_auth(&token)
        .json(&json!({ "items": items }))
        .send()
        .await
        .unwrap();
    let rp = app
        .idp
        .clients()
        .register(NewClient {
            name: "Servicio".into(),
            redirect_uris: vec![REDIRECT.into()],
            scopes: vec!["openid".into(), "profile".into()],
            ..NewClient::default()
        })
        .await
        .unwrap();
    let access = log_in_and_consent(
        &base,
        &rp.client.client_id,
        rp.client_secret.as_deref().unwrap(),
    )
    .await;
    let check: Value = http
        .get(format!("{base}/oauth2/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        check["attribute_provenance"].as_object().map(|o| o.len()),
        Some(5),
        "{check}"
    );

    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let url = format!("{base}/oauth2/userinfo");
        let access = access.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut latencies) = (0_u64, 0_u64, Vec::new());
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(&url).bearer_auth(&access).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        ok += 1;
                    }
                    _ => failed += 1,
                }
                latencies.push(t.elapsed());
            }
            (ok, failed, latencies)
        }));
    }
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let (o, f, l) = task.await.unwrap();
        ok += o;
        failed += f;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "[{backend}] userinfo with 5 attributes: {ok} ok, {failed} failed in {elapsed:.2} s = {:.0} requests/s (concurrency {concurrency}); p50 {:?}, p99 {:?}",
        ok as f64 / elapsed,
        pct(0.5),
        pct(0.99)
    );
}

/// A RUN with a valid check digit for `number`.
fn run_for(number: u32) -> String {
    let mut sum = 0;
    let mut factor = 2;
    let mut n = number;
    while n > 0 {
        sum += (n % 10) * factor;
        n /= 10;
        factor = if factor == 7 { 2 } else { factor + 1 };
    }
    let digit = match 11 - sum % 11 {
        11 => "0".to_owned(),
        10 => "K".to_owned(),
        d => d.to_string(),
    };
    format!("{number}-{digit}")
}

async fn client_token(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    secret: &str,
    scope: &str,
) -> String {
    let body: Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Drives the browser flow: authorize, the login form, the consent page (approving the five
/// attributes), then the code exchange; returns the access token.
async fn log_in_and_consent(base: &str, client_id: &str, secret: &str) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let details = r#"[{"type": "clave_wallet", "attributes": ["given_names", "family_names", "birthdate", "sex", "nationality"], "purpose": "Benchmark", "mode": "ongoing"}]"#;
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("authorization_details", details),
    ])
    .unwrap();
    let mut url = format!("{base}/oauth2/authorize?{query}");
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        let path = reqwest::Url::parse(&url).unwrap().path().to_owned();
        let response = if response.status().is_success() && (path == "/login" || path == "/consent")
        {
            let html = response.text().await.unwrap();
            let mut fields = hidden_fields(&html);
            if path == "/login" {
                fields.push(("run".into(), RUN.into()));
                fields.push(("password".into(), PASSWORD.into()));
            } else {
                fields.push(("decision".into(), "approve".into()));
            }
            browser
                .post(format!("{base}{path}"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        } else {
            response
        };
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        if location.starts_with(REDIRECT) {
            let code = reqwest::Url::parse(&location)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .into_owned();
            let body: Value = browser
                .post(format!("{base}/oauth2/token"))
                .basic_auth(client_id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            return body["access_token"].as_str().unwrap().to_owned();
        }
        url = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location
        };
    }
    panic!("the login did not finish");
}

/// The hidden inputs of the first form on a page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<input type=\"hidden\"") {
        let end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
        let tag = &rest[at..end];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let start = i + key.len();
                tag[start..start + tag[start..].find('"').unwrap_or(0)].replace("&#x2f;", "/")
            })
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    fields
}
