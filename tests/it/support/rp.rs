//! A relying party and a browser for the OpenID Connect tests.
//!
//! The [`Browser`] is a cookie-keeping HTTP client that follows clave's own redirects and
//! fills in the real login and consent pages, stopping where clave sends it back to the
//! client. The [`Rp`] is a client built with the `openidconnect` crate: it discovers clave,
//! exchanges codes with PKCE, verifies ID tokens against the published keys, calls userinfo
//! and refreshes. [`LogoutListener`] stands in for a service's back-channel logout endpoint.

use clave_idp::accounts::Account;
use clave_idp::clients::NewClient;
use openidconnect::core::{
    CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
    CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope, TokenResponse as _,
};
use serde_json::Value;
use url::Url;

use super::TestApp;

/// The redirect URI of the test clients (never contacted: the browser stops there).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// Where the test clients want the browser after logout.
pub const POST_LOGOUT_URI: &str = "http://127.0.0.1:9/signed-out";
/// The test citizen's RUN.
pub const RUN: &str = "12.345.678-5";
/// The test citizen's password.
pub const PASSWORD: &str = "cerro santa lucia al atardecer";

/// Creates the test citizen, María Carmen Del Río González, with [`RUN`] and [`PASSWORD`].
pub async fn citizen(app: &TestApp) -> Account {
    app.citizen(RUN, PASSWORD).await
}

/// A confidential web client allowed every scope, with the usual URIs.
pub fn web_client(name: &str) -> NewClient {
    NewClient {
        name: name.into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        post_logout_redirect_uris: vec![POST_LOGOUT_URI.into()],
        scopes: ["openid", "profile", "email", "run", "name"]
            .map(String::from)
            .to_vec(),
        ..NewClient::default()
    }
}

/// A registered client's credentials.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The client id.
    pub client_id: String,
    /// The secret (none for public clients).
    pub secret: Option<String>,
}

/// Registers a client through the domain service.
pub async fn register(app: &TestApp, new: NewClient) -> Registered {
    let registered = app.app.idp.clients().register(new).await.unwrap();
    Registered {
        client_id: registered.client.client_id,
        secret: registered.client_secret,
    }
}

/// Where a browser ended up.
#[derive(Debug)]
pub enum Landing {
    /// clave sent it to the client (its redirect URI, with the response).
    Client(Url),
    /// clave showed a page.
    Page {
        /// The status.
        status: u16,
        /// The path of the page.
        path: String,
        /// The HTML.
        body: String,
    },
}

impl Landing {
    /// The URL the client received; panics on a page.
    pub fn client_url(&self) -> &Url {
        match self {
            Self::Client(url) => url,
            Self::Page { status, path, body } => {
                panic!("expected a redirect to the client, got page {path} ({status}): {body}")
            }
        }
    }

    /// A query parameter of the client's URL.
    pub fn param(&self, name: &str) -> Option<String> {
        self.client_url()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The code the client received.
    pub fn code(&self) -> String {
        self.param("code")
            .unwrap_or_else(|| panic!("no code in {}", self.client_url()))
    }
}

/// What the browser does on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConsent {
    /// Press "approve".
    Approve,
    /// Press "deny".
    Deny,
    /// Stop there.
    Stop,
}

/// A browser: keeps cookies, follows clave's redirects, fills in clave's forms.
pub struct Browser {
    /// The underlying client (cookie store, no automatic redirects).
    pub http: reqwest::Client,
    base: String,
    /// Every clave path the browser was sent to, in order.
    pub visited: Vec<String>,
}

/// A form found on a page.
#[derive(Debug, Clone)]
pub struct Form {
    /// Where it posts (absolute).
    pub action: String,
    /// Its hidden fields and ticked checkboxes.
    pub fields: Vec<(String, String)>,
}

impl Browser {
    /// A fresh browser for `app`.
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: app.http(),
            base: app.url.clone(),
            visited: Vec::new(),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        }
    }

    fn is_clave(&self, url: &str) -> bool {
        url.starts_with('/') || url.starts_with(&format!("{}/", self.base))
    }

    /// Goes to `url` and follows clave's redirects, logging in as `login` (RUN, password)
    /// on the login page and answering the consent page as `consent` says. Records every
    /// clave path it was redirected to in [`Browser::visited`].
    pub async fn go(
        &mut self,
        url: &str,
        login: Option<(&str, &str)>,
        consent: OnConsent,
    ) -> Landing {
        let mut target = self.absolute(url);
        for hop in 0..20 {
            let path = Url::parse(&target).unwrap().path().to_owned();
            if hop > 0 {
                self.visited.push(path.clone());
            }
            let page = self.http.get(&target).send().await.unwrap();
            let response = match (path.as_str(), login, consent) {
                ("/login", Some((run, password)), _) if page.status().is_success() => {
                    let html = page.text().await.unwrap();
                    let form = form_with(&html, "password", &target);
                    self.submit(&form, &[("run", run), ("password", password)])
                        .await
                }
                ("/consent", _, OnConsent::Approve | OnConsent::Deny)
                    if page.status().is_success() =>
                {
                    let html = page.text().await.unwrap();
                    let form = form_with(&html, "decision", &target);
                    let decision = if consent == OnConsent::Approve {
                        "approve"
                    } else {
                        "deny"
                    };
                    self.submit(&form, &[("decision", decision)]).await
                }
                _ => page,
            };
            if !response.status().is_redirection() {
                return Landing::Page {
                    status: response.status().as_u16(),
                    path: response.url().path().to_owned(),
                    body: response.text().await.unwrap(),
                };
            }
            let location = response.headers()[reqwest::header::LOCATION]
                .to_str()
                .unwrap()
                .to_owned();
            if !self.is_clave(&location) {
                return Landing::Client(Url::parse(&location).unwrap());
            }
            target = self.absolute(&location);
        }
        panic!("too many redirects from {url}");
    }

    /// Posts `form` with its hidden fields and `extra`.
    pub async fn submit(&self, form: &Form, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(String, String)> = form.fields.clone();
        fields.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.http
            .post(&form.action)
            .form(&fields)
            .send()
            .await
            .unwrap()
    }

    /// Logs in afresh: `/login` without a pending request.
    pub async fn log_in(&self, run: &str, password: &str) {
        let url = self.absolute("/login");
        let html = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let form = form_with(&html, "password", &url);
        let response = self
            .submit(&form, &[("run", run), ("password", password)])
            .await;
        assert!(
            response.status().is_redirection(),
            "login failed: {}",
            response.status()
        );
    }
}

/// The POST form on `html` that has a field named `field` (an input or a button).
pub fn form_with(html: &str, field: &str, page_url: &str) -> Form {
    let needle = format!("name=\"{field}\"");
    let mut rest = html;
    while let Some(start) = rest.find("<form") {
        let after = &rest[start..];
        let end = after.find("</form>").unwrap_or(after.len());
        let form = &after[..end];
        if form.contains(&needle) {
            let open = &form[..form.find('>').unwrap_or(form.len())];
            let action = attribute(open, "action")
                .filter(|a| !a.is_empty())
                .map(|a| resolve(page_url, &a))
                .unwrap_or_else(|| page_url.to_owned());
            let mut fields = Vec::new();
            let mut inputs = form;
            while let Some(at) = inputs.find("<input") {
                let tag_end = inputs[at..].find('>').map_or(inputs.len(), |e| at + e);
                let tag = &inputs[at..tag_end];
                // What a browser sends: hidden fields and ticked boxes.
                let kind = attribute(tag, "type");
                let sent = kind.as_deref() == Some("hidden")
                    || (kind.as_deref() == Some("checkbox") && tag.contains(" checked"));
                if sent && let Some(name) = attribute(tag, "name") {
                    fields.push((name, attribute(tag, "value").unwrap_or_default()));
                }
                inputs = &inputs[tag_end..];
            }
            return Form { action, fields };
        }
        rest = &after[end..];
    }
    panic!("no form with a field `{field}` in:\n{html}");
}

fn resolve(page_url: &str, action: &str) -> String {
    Url::parse(page_url)
        .unwrap()
        .join(action)
        .unwrap()
        .to_string()
}

/// The value of attribute `name` in an HTML tag, unescaped.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let len = tag[start..].find('"')?;
    Some(
        tag[start..start + len]
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&#60;", "<")
            .replace("&gt;", ">")
            .replace("&#62;", ">")
            .replace("&#x2f;", "/")
            .replace("&#47;", "/")
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

/// A client discovered with the `openidconnect` crate.
pub type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A relying party built with the `openidconnect` crate.
pub struct Rp {
    /// The client, configured from discovery.
    pub client: DiscoveredClient,
    /// Its HTTP client (no redirects).
    pub http: openidconnect::reqwest::Client,
    /// The credentials.
    pub registered: Registered,
}

/// The secrets of one authorization request.
pub struct Start {
    /// Where to send the browser.
    pub url: Url,
    /// The PKCE verifier.
    pub verifier: PkceCodeVerifier,
    /// The `state`.
    pub state: CsrfToken,
    /// The `nonce`.
    pub nonce: Nonce,
}

impl Rp {
    /// Discovers clave at `app.url` and configures a client with `registered`.
    pub async fn discover(app: &TestApp, registered: &Registered) -> Self {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let metadata =
            CoreProviderMetadata::discover_async(IssuerUrl::new(app.url.clone()).unwrap(), &http)
                .await
                .unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(registered.client_id.clone()),
            registered.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.into()).unwrap());
        Self {
            client,
            http,
            registered: registered.clone(),
        }
    }

    /// An authorization request with PKCE for `scopes` (besides `openid`) and `extra` parameters.
    pub fn start(&self, scopes: &[&str], extra: &[(&str, &str)]) -> Start {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state, nonce) = request.url();
        Start {
            url,
            verifier,
            state,
            nonce,
        }
    }

    /// Redeems `code` with `verifier`.
    pub async fn exchange(&self, code: &str, verifier: PkceCodeVerifier) -> CoreTokenResponse {
        self.client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .unwrap()
    }

    /// Verifies the ID token of `tokens` against the discovered keys; `nonce` when the
    /// token came from a code exchange.
    pub fn id_claims(
        &self,
        tokens: &CoreTokenResponse,
        nonce: Option<&Nonce>,
    ) -> CoreIdTokenClaims {
        let verifier = self.client.id_token_verifier().set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ]);
        let id_token = tokens.id_token().expect("an ID token");
        let claims = match nonce {
            Some(nonce) => id_token.claims(&verifier, nonce).unwrap().clone(),
            None => id_token
                .claims(&verifier, |_: Option<&Nonce>| Ok(()))
                .unwrap()
                .clone(),
        };
        // at_hash binds the ID token to the access token issued with it.
        let expected = openidconnect::AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&expected));
        claims
    }

    /// Calls userinfo through the library.
    pub async fn userinfo(&self, access_token: &AccessToken) -> CoreUserInfoClaims {
        self.client
            .user_info(access_token.clone(), None)
            .unwrap()
            .request_async(&self.http)
            .await
            .unwrap()
    }

    /// Exchanges a refresh token.
    pub async fn refresh(&self, token: &RefreshToken) -> CoreTokenResponse {
        self.client
            .exchange_refresh_token(token)
            .unwrap()
            .request_async(&self.http)
            .await
            .unwrap()
    }

    /// Runs the code flow in `browser` for `scopes` (logging in if needed and approving)
    /// and returns the token response with the request's nonce.
    pub async fn sign_in(
        &self,
        browser: &mut Browser,
        scopes: &[&str],
    ) -> (CoreTokenResponse, Nonce) {
        let start = self.start(scopes, &[]);
        let landing = browser
            .go(
                start.url.as_str(),
                Some((RUN, PASSWORD)),
                OnConsent::Approve,
            )
            .await;
        assert_eq!(
            landing.param("state").as_deref(),
            Some(start.state.secret().as_str())
        );
        let tokens = self.exchange(&landing.code(), start.verifier).await;
        (tokens, start.nonce)
    }
}

/// A token-endpoint (or any form) POST with optional HTTP Basic credentials; the status and
/// the JSON body.
pub async fn post_form(
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut request = http.post(url).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Redeems a code with the client's secret in the body; the status and the JSON.
pub async fn redeem(base: &str, client: &Registered, code: &str, verifier: &str) -> (u16, Value) {
    let secret = client.secret.clone().unwrap_or_default();
    post_form(
        &format!("{base}/oauth2/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", &client.client_id),
            ("client_secret", &secret),
        ],
        None,
    )
    .await
}

/// GET userinfo with a bearer token; the status and the body.
pub async fn userinfo(base: &str, access_token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{base}/oauth2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A service's back-channel logout endpoint on a loopback port: records each `logout_token`
/// it receives, answering with `503` to the first `fail_first` deliveries.
pub struct LogoutListener {
    /// The endpoint's URI, to register.
    pub uri: String,
    tokens: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl LogoutListener {
    /// Starts listening.
    pub async fn start(fail_first: usize) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
        let (sender, tokens) = tokio::sync::mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(
                move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                    let sender = sender.clone();
                    let seen = seen.clone();
                    async move {
                        let _ = sender.send(form.get("logout_token").cloned().unwrap_or_default());
                        if seen.fetch_add(1, Ordering::SeqCst) < fail_first {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                },
            ),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { uri, tokens }
    }

    /// The next logout token received, if one already arrived.
    pub fn received(&mut self) -> Option<String> {
        self.tokens.try_recv().ok()
    }
}

/// A service's event endpoint on a loopback port (consent events, signature request
/// callbacks): records each Security Event Token POSTed to it, answering `503` to the first
/// `fail_first`.
pub struct EventListener {
    /// The endpoint's URI.
    pub uri: String,
    tokens: tokio::sync::mpsc::UnboundedReceiver<(String, String)>,
}

impl EventListener {
    /// Starts listening.
    pub async fn start(fail_first: usize) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/events", listener.local_addr().unwrap());
        let (sender, tokens) = tokio::sync::mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let sender = sender.clone();
                let seen = seen.clone();
                async move {
                    let kind = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let _ = sender.send((kind, body));
                    if seen.fetch_add(1, Ordering::SeqCst) < fail_first {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        axum::http::StatusCode::ACCEPTED
                    }
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { uri, tokens }
    }

    /// The next event token received, checked to come as `application/secevent+jwt`.
    pub fn received(&mut self) -> Option<String> {
        let (kind, token) = self.tokens.try_recv().ok()?;
        assert_eq!(kind, "application/secevent+jwt");
        Some(token)
    }
}

/// The header and claims of a compact JWS, without checking the signature.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let decode = |part: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    let mut parts = token.split('.');
    let header = decode(parts.next().unwrap());
    let claims = decode(parts.next().unwrap());
    (header, claims)
}

/// Verifies a compact JWS against the server's published JWKS and returns its claims.
pub async fn verify_with_jwks(base: &str, token: &str) -> Value {
    let jwks: Value = reqwest::get(format!("{base}/oauth2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (header, _) = jwt_parts(token);
    let kid = header["kid"].as_str().unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} is not published"));
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier: Box<dyn josekit::jws::JwsVerifier> = match header["alg"].as_str().unwrap() {
        "ES256" => Box::new(josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap()),
        "RS256" => Box::new(josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap()),
        other => panic!("unexpected alg {other}"),
    };
    let (payload, _) = josekit::jws::deserialize_compact(token, verifier.as_ref()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}
