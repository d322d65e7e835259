//! Telling services about events, server to server: Security Event Tokens (RFC 8417) signed
//! by clave and pushed by HTTP POST (RFC 8935). The wallet's consent events and the signer's
//! request callbacks go out this way; each queues its deliveries and retries them with
//! [`crate::oidc::flow::backchannel::retry_delay`].

use std::time::Duration;

use clave_common::id::new_id;
use serde_json::{Map, Value, json};

use crate::{Idp, IdpError};

/// The `typ` header of a Security Event Token, and its media type after `application/`.
pub const EVENT_TYP: &str = "secevent+jwt";

/// An HTTP client for pushing to services: a dead service must not hold a worker up, and a
/// redirect is never followed (the URL registered is the only one called).
pub fn client(user_agent: &'static str) -> Result<reqwest::Client, IdpError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .map_err(|e| IdpError::Internal(format!("cannot build the HTTP client: {e}")))
}

/// One event for one service about one account.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The service.
    pub client_id: &'a str,
    /// The account the event concerns; the token names it by the service's own `sub`.
    pub account_id: &'a str,
    /// The event's URI.
    pub event: String,
    /// What the event says.
    pub payload: Value,
    /// Where to POST it.
    pub uri: &'a str,
}

impl Idp {
    /// Signs `event` as a Security Event Token for its service and POSTs it; the error says
    /// what went wrong, for the delivery's record.
    pub async fn push_event(&self, http: &reqwest::Client, event: Event<'_>) -> Result<(), String> {
        let client = self
            .clients()
            .get(event.client_id)
            .await
            .map_err(|e| format!("cannot load the client: {e}"))?
            .ok_or_else(|| "the client is no longer registered".to_owned())?;
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(self.ctx().config.issuer()));
        claims.insert("aud".into(), json!(client.client_id));
        claims.insert("iat".into(), json!(self.ctx().clock.unix()));
        claims.insert("jti".into(), json!(new_id()));
        claims.insert(
            "sub".into(),
            json!(client.subject_for_account(event.account_id)),
        );
        claims.insert("events".into(), json!({ event.event: event.payload }));
        let token = self
            .tokens()
            .sign_jwt(client.id_token_alg, EVENT_TYP, &claims)
            .await
            .map_err(|e| format!("cannot sign the event: {e}"))?;
        let response = http
            .post(event.uri)
            .header("content-type", format!("application/{EVENT_TYP}"))
            .body(token)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!(
                "the service answered HTTP {}",
                response.status().as_u16()
            ))
        }
    }
}
