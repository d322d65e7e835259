//! The HTTP exchanges of each scenario, done as a browser and a service would do them.

use anyhow::{Context, anyhow, bail};
use clave_common::clock::{Clock, SystemClock};
use serde_json::{Value, json};

use crate::seed::{ATTRIBUTES, Credentials, REDIRECT_URI, Setup, run_text};

/// The level of assurance of a password and a second factor.
pub const LOA_2: &str = "urn:clave:loa:2";

/// The `authorization_details` of a standing consent to the five seeded attributes.
pub fn five_attributes() -> String {
    let names: Vec<&str> = ATTRIBUTES.iter().map(|(a, _)| *a).collect();
    json!([{
        "type": "clave_wallet",
        "attributes": names,
        "purpose": "Medición de carga",
        "mode": "ongoing",
    }])
    .to_string()
}

/// Why a request failed, for the error tally.
pub fn kind_of(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    match text.split_once(':') {
        Some((head, _)) if head.len() < 40 => head.to_owned(),
        _ => text.chars().take(40).collect(),
    }
}

/// A client_credentials token.
pub async fn client_token(
    http: &reqwest::Client,
    base: &str,
    client: &Credentials,
    scope: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        bail!("http {}: token", status.as_u16());
    }
    let body: Value = response.json().await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access token"))
}

/// The tokens of a login.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// The access token.
    pub access: String,
    /// The refresh token.
    pub refresh: Option<String>,
    /// The citizen's subject for the relying party.
    pub sub: String,
}

/// The whole browser flow for citizen number `index`: authorization request, the login form
/// (CSRF token and cookies as a browser keeps them), the consent page when it comes (approved),
/// the code, and the code exchange.
pub async fn log_in(
    base: &str,
    setup: &Setup,
    index: u32,
    scope: &str,
    details: Option<&str>,
) -> anyhow::Result<Tokens> {
    log_in_with(base, setup, index, scope, details, None).await
}

/// [`log_in`] asking for level 2 (`acr_values`), with `code` from the citizen's authenticator
/// for the second-factor page.
pub async fn log_in_with(
    base: &str,
    setup: &Setup,
    index: u32,
    scope: &str,
    details: Option<&str>,
    code: Option<&str>,
) -> anyhow::Result<Tokens> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let run = run_text(setup.first_run + index % setup.citizens.max(1));
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", setup.rp.client_id.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("scope", scope),
        ("state", "bench"),
    ];
    if let Some(details) = details {
        params.push(("authorization_details", details));
    }
    if code.is_some() {
        params.push(("acr_values", LOA_2));
    }
    let mut url = format!(
        "{base}/oauth2/authorize?{}",
        serde_urlencoded::to_string(&params)?
    );
    for _ in 0..12 {
        let response = browser.get(&url).send().await?;
        let path = url::Url::parse(&url)?.path().to_owned();
        let form = ["/login", "/consent", "/login/second-factor"].contains(&path.as_str());
        let response = if response.status().is_success() && form {
            let html = response.text().await?;
            let mut fields = form_fields(&html);
            match path.as_str() {
                "/login" => {
                    fields.push(("run".into(), run.clone()));
                    fields.push(("password".into(), setup.password.clone()));
                }
                "/consent" => fields.push(("decision".into(), "approve".into())),
                _ => {
                    let code = code.context("the second-factor page came without a code")?;
                    fields.push(("code".into(), code.to_owned()));
                }
            }
            browser
                .post(format!("{base}{path}"))
                .form(&fields)
                .send()
                .await?
        } else {
            response
        };
        if !response.status().is_redirection() {
            bail!("http {}: login flow at {path}", response.status().as_u16());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .context("a redirect without a location")?
            .to_owned();
        if location.starts_with(REDIRECT_URI) {
            let code = url::Url::parse(&location)?
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .ok_or_else(|| anyhow!("refused: {location}"))?;
            let response = browser
                .post(format!("{base}/oauth2/token"))
                .basic_auth(&setup.rp.client_id, Some(&setup.rp.client_secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT_URI),
                ])
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("http {}: code exchange", response.status().as_u16());
            }
            let body: Value = response.json().await?;
            let id_token = body["id_token"].as_str().unwrap_or_default();
            return Ok(Tokens {
                access: body["access_token"].as_str().unwrap_or_default().to_owned(),
                refresh: body["refresh_token"].as_str().map(str::to_owned),
                sub: subject_of(id_token).unwrap_or_default(),
            });
        }
        url = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location
        };
    }
    bail!("login flow: too many redirects")
}

/// One-time codes of the seeded citizens' authenticators, each handed out once: clave accepts
/// a code of the previous, current or next 30-second step, never one of a step at or before
/// the last it accepted for that citizen.
#[derive(Debug)]
pub struct Codes {
    generator: totp_rs::TOTP,
    last_step: std::sync::Mutex<std::collections::HashMap<u32, u64>>,
}

impl Codes {
    /// The codes of the seed every seeded citizen shares.
    pub fn new() -> anyhow::Result<Self> {
        let generator = totp_rs::TOTP::new(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            crate::seed::TOTP_SEED.to_vec(),
            None,
            "bench".into(),
        )
        .map_err(|e| anyhow!("TOTP parameters: {e}"))?;
        Ok(Self {
            generator,
            last_step: Default::default(),
        })
    }

    /// A code citizen `index` has not used yet (of the current step, or else the next), or
    /// `None` when both are spent.
    pub fn take(&self, index: u32) -> Option<String> {
        let current = u64::try_from(SystemClock.unix()).ok()? / 30;
        let mut used = self.last_step.lock().ok()?;
        let step = match used.get(&index) {
            Some(&last) if last > current => return None,
            Some(&last) if last >= current => last + 1,
            _ => current,
        };
        used.insert(index, step);
        Some(self.generator.generate(step * 30))
    }

    /// Seconds until the next step begins.
    pub fn until_next_step() -> std::time::Duration {
        let millis = SystemClock.now().unix_timestamp_nanos() / 1_000_000;
        let into = u64::try_from(millis.rem_euclid(30_000)).unwrap_or(0);
        std::time::Duration::from_millis(30_000 - into + 50)
    }
}

/// The `sub` of an ID token (its signature was checked by the server that just issued it).
fn subject_of(id_token: &str) -> Option<String> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// The hidden fields and ticked boxes of the first form of a page, as a browser sends them.
fn form_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("<input") {
        let end = rest[at..].find('>').map_or(rest.len(), |e| at + e);
        let tag = &rest[at..end];
        let attr = |name: &str| {
            let key = format!(" {name}=\"");
            tag.find(&key).map(|i| {
                let start = i + key.len();
                let value = &tag[start..start + tag[start..].find('"').unwrap_or(0)];
                value
                    .replace("&#x2f;", "/")
                    .replace("&amp;", "&")
                    .replace("&quot;", "\"")
            })
        };
        let sent = match attr("type").as_deref() {
            Some("hidden") => true,
            Some("checkbox") => tag.contains(" checked"),
            _ => false,
        };
        if sent && let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    fields
}
