//! A real headless Chromium driven over the Chrome DevTools Protocol, for tests of what a
//! citizen's browser does: pages, forms, scripts, cookies and (later) WebAuthn.
//!
//! Chromium comes from the system (`chromium` on Debian). Where it is missing the browser
//! tests skip with a message, except under `CI=true`, where a missing browser fails the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type Sink = futures::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// How long a browser step may take before the test fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// The Chromium binary, if installed.
pub fn chromium_path() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A headless Chromium process and its DevTools connection.
pub struct Browser {
    child: Child,
    sink: Mutex<Sink>,
    pending: Pending,
    next_id: AtomicU64,
    _profile: tempfile::TempDir,
}

/// One tab, attached in flat mode.
pub struct Page<'b> {
    browser: &'b Browser,
    session: String,
}

impl Browser {
    /// Starts Chromium, or returns `None` (skipping the test) when it is not installed;
    /// under `CI=true` a missing browser is a failure.
    pub async fn launch() -> Option<Self> {
        let Some(binary) = chromium_path() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "Chromium is not installed; .ci/run installs the `chromium` package"
            );
            eprintln!(
                "skipping browser test: Chromium is not installed (apt-get install chromium)"
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ws_url = wait_for_devtools(profile.path(), &mut child).await;
        let (stream, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .unwrap();
        let (sink, mut source) = stream.split();
        let pending: Pending = Arc::default();
        let readers = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = source.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                if let Some(id) = value.get("id").and_then(Value::as_u64)
                    && let Some(reply) = readers.lock().await.remove(&id)
                {
                    let _ = reply.send(value);
                }
            }
        });
        Some(Self {
            child,
            sink: Mutex::new(sink),
            pending,
            next_id: AtomicU64::new(1),
            _profile: profile,
        })
    }

    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self.try_call(session, method, params).await {
            Ok(result) => result,
            Err(error) => panic!("{method} failed: {error}"),
        }
    }

    /// A DevTools call; the protocol's error when it refuses.
    async fn try_call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().await.insert(id, tx);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.sink
            .lock()
            .await
            .send(Message::text(message.to_string()))
            .await
            .unwrap();
        let reply = tokio::time::timeout(STEP_TIMEOUT, rx)
            .await
            .unwrap_or_else(|_| panic!("no answer to {method}"))
            .unwrap();
        if let Some(error) = reply.get("error") {
            return Err(error.clone());
        }
        Ok(reply["result"].clone())
    }

    /// Opens a new tab.
    pub async fn new_page(&self) -> Page<'_> {
        self.open(json!({"url": "about:blank"})).await
    }

    /// Opens a tab in a browser context of its own, with its own cookies and storage, as a
    /// second person at another computer would have (an agent beside the caller).
    pub async fn new_private_page(&self) -> Page<'_> {
        let context = self
            .call(None, "Target.createBrowserContext", json!({}))
            .await;
        self.open(json!({"url": "about:blank", "browserContextId": context["browserContextId"]}))
            .await
    }

    async fn open(&self, params: Value) -> Page<'_> {
        let target = self.call(None, "Target.createTarget", params).await;
        let attached = self
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await;
        let page = Page {
            browser: self,
            session: attached["sessionId"].as_str().unwrap().to_owned(),
        };
        page.call("Page.enable", json!({})).await;
        page.call("Runtime.enable", json!({})).await;
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_for_devtools(profile: &Path, child: &mut Child) -> String {
    let file = profile.join("DevToolsActivePort");
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file) {
            let mut lines = text.lines();
            if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                return format!("ws://127.0.0.1:{port}{path}");
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("Chromium exited early: {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Chromium did not open DevTools"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Page<'_> {
    /// Sends a DevTools command to this tab.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        self.browser.call(Some(&self.session), method, params).await
    }

    /// Evaluates JavaScript in the page and returns its value (promises are awaited).
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("script failed: {exception}\n{expression}");
        }
        result["result"]["value"].clone()
    }

    /// Like [`Page::eval`] while the page may be navigating: `None` when the document went
    /// away under the evaluation (Chromium then refuses it), so the caller polls again.
    async fn poll_eval(&self, expression: &str) -> Option<Value> {
        let reply = self
            .browser
            .try_call(
                Some(&self.session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .await;
        match reply {
            Ok(result) => Some(result["result"]["value"].clone()),
            Err(error)
                if error.to_string().contains("navigated or closed")
                    || error.to_string().contains("Cannot find context") =>
            {
                None
            }
            Err(error) => panic!("Runtime.evaluate failed: {error}"),
        }
    }

    /// Navigates and waits until the new document has loaded.
    pub async fn goto(&self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_until_loaded(|_| true).await;
    }

    /// Waits until the document at a URL accepted by `accept` has finished loading.
    pub async fn wait_until_loaded(&self, accept: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let state = self
                .poll_eval("JSON.stringify([location.href, document.readyState])")
                .await
                .unwrap_or_default();
            let state: (String, String) =
                serde_json::from_str(state.as_str().unwrap_or("[\"\",\"\"]")).unwrap();
            if state.1 == "complete" && accept(&state.0) && state.0 != "about:blank" {
                return state.0;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "page did not load in time; last at {}",
                state.0
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.eval("location.href")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Sets a form field's value as typing would.
    pub async fn fill(&self, selector: &str, value: &str) {
        let script = format!(
            "(() => {{ const el = document.querySelector({s}); if (!el) return false; el.focus(); el.value = {v}; el.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()",
            s = json!(selector),
            v = json!(value)
        );
        assert_eq!(
            self.eval(&script).await,
            json!(true),
            "no element {selector}"
        );
    }

    /// Clicks an element.
    pub async fn click(&self, selector: &str) {
        let script = format!(
            "(() => {{ const el = document.querySelector({s}); if (!el) return false; el.click(); return true; }})()",
            s = json!(selector)
        );
        assert_eq!(
            self.eval(&script).await,
            json!(true),
            "no element {selector}"
        );
    }

    /// Clicks an element that submits or navigates, and waits until a new document has
    /// loaded in its place (the old page is marked, so it cannot be mistaken for the new one).
    pub async fn click_and_wait(&self, selector: &str) -> String {
        self.eval("window.__claveOldDocument = true").await;
        self.click(selector).await;
        self.wait_for_new_document(&format!("clicking {selector}"))
            .await
    }

    /// Waits until a document other than the one marked `window.__claveOldDocument` has
    /// loaded; `cause` names what should have navigated, for the failure message.
    pub async fn wait_for_new_document(&self, cause: &str) -> String {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let state = self
                .poll_eval("JSON.stringify([location.href, document.readyState, !!window.__claveOldDocument])")
                .await
                .unwrap_or_default();
            let (href, ready, old): (String, String, bool) =
                serde_json::from_str(state.as_str().unwrap_or("[\"\",\"\",true]")).unwrap();
            if !old && ready == "complete" {
                return href;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new page after {cause}; still at {href}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.eval("document.body ? document.body.innerText : ''")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the JavaScript `expression` is truthy in the page (a script's answer, a
    /// page that updates itself), failing with `what` when it never is.
    pub async fn wait_for(&self, expression: &str, what: &str) {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let value = self
                .poll_eval(&format!("!!({expression})"))
                .await
                .unwrap_or_default();
            if value == json!(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what} did not happen; the page says: {}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sizes the viewport as a device of `width` x `height` CSS pixels; `mobile` also
    /// emulates a phone's screen (touch-sized layout, device scale 2).
    pub async fn set_viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height,
                   "deviceScaleFactor": if mobile { 2 } else { 1 }, "mobile": mobile}),
        )
        .await;
    }

    /// Adds a virtual platform authenticator (CTAP2, built in, with resident keys and user
    /// verification that always succeeds) to this tab, as a phone's or laptop's passkey
    /// store; its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        self.call("WebAuthn.enable", json!({"enableUI": false}))
            .await;
        let added = self
            .call(
                "WebAuthn.addVirtualAuthenticator",
                json!({"options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                }}),
            )
            .await;
        added["authenticatorId"].as_str().unwrap().to_owned()
    }

    /// Makes this tab a browser without passkey autofill (conditional mediation reported
    /// unavailable in every document it loads from now on), so only explicit requests, such
    /// as a button's, reach the authenticator.
    pub async fn disable_passkey_autofill(&self) {
        self.call(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": "if (window.PublicKeyCredential) { \
                PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false); }"}),
        )
        .await;
    }

    /// The credentials a virtual authenticator holds.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let listed = self
            .call(
                "WebAuthn.getCredentials",
                json!({"authenticatorId": authenticator}),
            )
            .await;
        listed["credentials"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Saves a PNG screenshot of the whole page (up to 4000 CSS pixels tall), not only the
    /// part in the viewport.
    pub async fn screenshot_full_page(&self, path: &Path) {
        use base64::Engine;
        let metrics = self.call("Page.getLayoutMetrics", json!({})).await;
        let width = metrics["cssLayoutViewport"]["clientWidth"]
            .as_f64()
            .unwrap_or(1280.0);
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(800.0)
            .min(4000.0);
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}}),
            )
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// Saves a PNG screenshot of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }
}

/// A service's redirect endpoint on loopback that records the query strings it receives.
pub struct Callback {
    /// Its URL, to register as a redirect URI.
    pub url: String,
    /// Every query string received, oldest first.
    pub received: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Callback {
    /// Starts the endpoint on a free port.
    pub async fn start() -> Self {
        let received: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let seen = received.clone();
        let app = axum::Router::new().route(
            "/cb",
            axum::routing::get(move |uri: axum::http::Uri| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(uri.query().unwrap_or_default().to_owned());
                    axum::response::Html("<!doctype html><title>service</title><p>signed in</p>")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/cb",
            listener.local_addr().unwrap().port()
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, received }
    }
}
