//! Advanced electronic signature end to end: the PKI's certificates and CRLs as published,
//! the CSC API v2 driven with a citizen's OAuth token and one-time codes from an independent
//! generator (`oathtool`), signatures checked with OpenSSL rather than with clave's own code,
//! and revocation seen by OpenSSL through the published CRL.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clave_idp::accounts::Account;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::rp::{Browser, Rp, citizen, register, web_client};

mod csc;
mod external_tsa;
mod formats;
mod hsm;
mod institutions;
mod killed;
mod pades;
mod passkey;
mod pin;
mod pki;
mod races;
mod requests;

const ADDR: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A citizen who can sign: a `sign` token from a real login, and (once `enrol` ran) an
/// authenticator app.
struct Signatory {
    app: TestApp,
    account: Account,
    token: String,
    totp_secret: Option<String>,
}

impl Signatory {
    /// A fresh server, the test citizen and a token with the `sign` scope from the code flow.
    async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// [`Signatory::new`] on a server whose configuration `adjust` changes.
    async fn with_config(adjust: impl FnOnce(&mut clave_common::Config)) -> Self {
        // Long-lived tokens: the tests move the clock past a SAD's lifetime.
        let app = TestApp::with_config(|c| {
            c.tokens.access_token_ttl_secs = 3600;
            adjust(c);
        })
        .await;
        let account = citizen(&app).await;
        let mut client = web_client("Notaría Digital");
        client.scopes.push("sign".into());
        let registered = register(&app, client).await;
        let rp = Rp::discover(&app, &registered).await;
        let mut browser = Browser::new(&app);
        let (tokens, _) = rp.sign_in(&mut browser, &["openid", "sign"]).await;
        use openidconnect::OAuth2TokenResponse;
        let token = tokens.access_token().secret().clone();
        Self {
            app,
            account,
            token,
            totp_secret: None,
        }
    }

    /// Enrols an authenticator app through the domain, confirmed with oathtool's code; `None`
    /// when oathtool is missing outside CI.
    async fn enrol(&mut self) -> Option<()> {
        let enrolment = self.app.app.idp.totps().begin(&self.account).await.unwrap();
        let code = self.code_for(&enrolment.secret_base32)?;
        self.app
            .app
            .idp
            .totps()
            .confirm(&self.account, &code, ADDR)
            .await
            .unwrap();
        self.totp_secret = Some(enrolment.secret_base32);
        self.app.advance(time::Duration::seconds(30));
        Some(())
    }

    fn code_for(&self, secret: &str) -> Option<String> {
        let unix = self.app.app.idp.ctx().clock.unix();
        let output = Command::new("oathtool")
            .args(["--totp", "-b", secret, "-N", &format!("@{unix}")])
            .output();
        match output {
            Ok(output) if output.status.success() => {
                Some(String::from_utf8(output.stdout).unwrap().trim().to_owned())
            }
            _ if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("oathtool is required in CI (Debian package `oathtool`)")
            }
            _ => {
                eprintln!("skipping: oathtool (Debian package `oathtool`) is not installed");
                None
            }
        }
    }

    /// A fresh one-time code: the clock moves a step on first, so it was never used.
    fn fresh_code(&self) -> String {
        self.app.advance(time::Duration::seconds(30));
        self.code_for(self.totp_secret.as_deref().unwrap()).unwrap()
    }

    /// A CSC call with the signatory's token.
    async fn csc(&self, method: &str, body: Value) -> (StatusCode, Value) {
        post_json(
            &self.app.at(&format!("/csc/v2/{method}")),
            Some(&self.token),
            body,
        )
        .await
    }

    /// The signatory's one credential id (issued on first listing).
    async fn credential(&self) -> String {
        let (status, body) = self.csc("credentials/list", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["credentialIDs"][0].as_str().unwrap().to_owned()
    }

    /// A SAD for `hashes` with a fresh code.
    async fn authorize(&self, credential: &str, hashes: &[Vec<u8>]) -> String {
        let (status, body) = self
            .csc(
                "credentials/authorize",
                json!({
                    "credentialID": credential,
                    "numSignatures": hashes.len(),
                    "hashes": hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                    "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                    "authData": [{ "id": "otp", "value": self.fresh_code() }],
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["SAD"].as_str().unwrap().to_owned()
    }
}

async fn post_json(url: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_bytes(url: &str) -> (StatusCode, String, Vec<u8>) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.bytes().await.unwrap().to_vec())
}

/// `der` as PEM.
fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Runs openssl with `args` in `dir`; whether it succeeded and what it printed (both
/// streams).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package `openssl`) must be installed");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The published root and citizens' CA certificates and the citizens' CRL, fetched over
/// HTTP and written as PEM into `dir` (`root.pem`, `ca.pem`, `crl.pem`).
async fn fetch_pki(app: &TestApp, dir: &Path) {
    for (url, file, label) in [
        ("/pki/root.crt", "root.pem", "CERTIFICATE"),
        ("/pki/ciudadanos.crt", "ca.pem", "CERTIFICATE"),
        ("/pki/crl/ciudadanos.crl", "crl.pem", "X509 CRL"),
        ("/pki/crl/root.crl", "root-crl.pem", "X509 CRL"),
    ] {
        let (status, _, der) = get_bytes(&app.at(url)).await;
        assert_eq!(status, StatusCode::OK, "{url}");
        std::fs::write(dir.join(file), pem(label, &der)).unwrap();
    }
}
