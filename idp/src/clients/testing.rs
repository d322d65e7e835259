//! Client values for the tests of crates that build on the idp.

use std::sync::Arc;

use super::{AuthMethod, Client, SubjectType};
use crate::keys::{SigningAlg, SubjectKey};

/// A confidential web client registered for `scopes`, with a fixed pairwise-subject key.
pub fn client_with_scopes(scopes: &[String]) -> Client {
    Client {
        client_id: "client-under-test".into(),
        name: "Servicio de prueba".into(),
        redirect_uris: vec!["https://rp.example/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        public: false,
        scopes: scopes.to_vec(),
        grant_types: vec!["authorization_code".into()],
        subject_type: SubjectType::Pairwise,
        sector: "client-under-test".into(),
        backchannel_logout_uri: None,
        require_par: false,
        id_token_alg: SigningAlg::ES256,
        min_acr: None,
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        jwks: None,
        jwks_uri: None,
        created_at: 0,
        updated_at: 0,
        subjects: Arc::new(SubjectKey::fixed()),
    }
}
