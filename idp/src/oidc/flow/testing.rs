//! Fixtures for the browser flow's unit tests.

use clave_common::id::new_id;

use crate::Idp;
use crate::accounts::NewCitizen;
use crate::authreq::{AuthRequest, ResponseMode};
use crate::clients::{Client, NewClient};
use crate::oidc::testing::START;
use crate::session::{Authentication, ClientMeta, Session};

/// The test client's redirect URI.
pub(crate) const URI: &str = "https://rp.example/cb";

/// A citizen logged in (the session and its cookie value), a client allowed `openid
/// profile`, and a stored request of that client for those scopes.
pub(crate) async fn authorized(idp: &Idp) -> (Client, Session, String, AuthRequest) {
    let account = idp
        .accounts()
        .create(NewCitizen {
            run: clave_common::Run::parse("12.345.678-5").unwrap(),
            given_names: "María".into(),
            family_names: "Soto".into(),
            email: None,
            password: None,
        })
        .await
        .unwrap();
    let client = idp
        .clients()
        .register(NewClient {
            name: "Servicio".into(),
            redirect_uris: vec![URI.into()],
            scopes: vec!["openid".into(), "profile".into()],
            ..NewClient::default()
        })
        .await
        .unwrap()
        .client;
    let (session, cookie) = idp
        .sessions()
        .create(
            &account.id,
            Authentication::password(),
            ClientMeta::default(),
        )
        .await
        .unwrap();
    let request = AuthRequest {
        id: new_id(),
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri: URI.into(),
        redirect_uri_given: true,
        scope: "openid profile".into(),
        state: None,
        nonce: Some("n-1".into()),
        code_challenge: None,
        response_mode: ResponseMode::Query,
        prompt: Vec::new(),
        max_age: None,
        login_hint: None,
        acr_values: None,
        ui_locales: None,
        prior_session_digest: None,
        authorization_details: None,
        min_acr: None,
        hint_subject: None,
        consented_at: None,
        consent_ref: None,
        created_at: START,
        expires_at: START + 600,
    };
    idp.auth_requests()
        .store(&request, "browser")
        .await
        .unwrap();
    (client, session, cookie, request)
}
