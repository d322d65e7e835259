//! Client authentication at the token, PAR, introspection and revocation endpoints.
//!
//! Exactly one method per request (RFC 6749 §2.3): `client_secret_basic` (HTTP Basic, id and
//! secret each form-urlencoded first, §2.3.1), `client_secret_post` (`client_id` and
//! `client_secret` in the body), `private_key_jwt` (RFC 7523: a JWT signed with a key the client
//! registered, whose `jti` is accepted once across all nodes), or none at all for public
//! clients (which must then use PKCE). A failure is `invalid_client` (401), with a `Basic`
//! challenge when Basic was tried.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clave_common::journal::NewEvent;
use josekit::jwk::Jwk;
use serde_json::{Map, Value, json};

use super::{AuthMethod, Client, Clients};
use crate::keys::SigningAlg;
use crate::oidc::error::OAuthError;
use crate::oidc::params::{Params, decode_component};

/// The `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest lifetime an assertion may claim (`exp` this far from now at most).
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;

/// Clock difference tolerated between a client and clave.
const LEEWAY_SECS: i64 = 30;

/// The paths whose URL an assertion's `aud` may name (besides the issuer).
const AUDIENCE_PATHS: &[&str] = &[
    "/oauth2/token",
    "/oauth2/par",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/openid/token/",
];

/// The method a request used, as found in it.
enum Presented<'a> {
    Basic { client_id: String, secret: String },
    Post { client_id: &'a str, secret: &'a str },
    Assertion { assertion: &'a str },
    None { client_id: &'a str },
}

/// The algorithms a client key may sign assertions with.
pub(crate) fn key_algs(jwk: &Jwk) -> Vec<SigningAlg> {
    let by_type = match (jwk.key_type(), jwk.curve()) {
        ("EC", Some("P-256")) => vec![SigningAlg::ES256],
        ("RSA", _) => vec![SigningAlg::RS256],
        _ => vec![],
    };
    match jwk.algorithm() {
        Some(alg) => by_type.into_iter().filter(|a| a.as_str() == alg).collect(),
        None => by_type,
    }
}

fn basic_failure(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(description).with_basic_challenge()
}

/// Reads HTTP Basic credentials, if the request carries an `Authorization: Basic` header.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), OAuthError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().ok();
    let (scheme, rest) = text.and_then(|t| t.split_once(' ')).unwrap_or(("", ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let parsed = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((decode_component(id).ok()?, decode_component(secret).ok()?))
        });
    Some(parsed.ok_or_else(|| {
        basic_failure(
            "the Basic credentials are malformed: send base64(urlencode(client_id) \":\" urlencode(client_secret))",
        )
    }))
}

impl Clients<'_> {
    /// Authenticates the client of a request with exactly one method, and returns it.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        params: &Params,
    ) -> Result<Client, OAuthError> {
        let basic = basic_credentials(headers).transpose()?;
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let secret = params.get("client_secret");

        let mut methods = Vec::new();
        if basic.is_some() {
            methods.push("client_secret_basic");
        }
        if secret.is_some() {
            methods.push("client_secret_post");
        }
        if assertion.is_some() || assertion_type.is_some() {
            methods.push("private_key_jwt");
        }
        if methods.len() > 1 {
            return Err(OAuthError::invalid_request(format!(
                "use exactly one client authentication method; this request used {}",
                methods.join(" and ")
            )));
        }

        let presented = if let Some((client_id, secret)) = basic {
            if params.get("client_id").is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "the `client_id` parameter differs from the client in the Basic credentials",
                ));
            }
            Presented::Basic { client_id, secret }
        } else if let Some(secret) = secret {
            let client_id = params.get("client_id").ok_or_else(|| {
                OAuthError::invalid_request(
                    "`client_secret` needs the `client_id` parameter with it",
                )
            })?;
            Presented::Post { client_id, secret }
        } else if assertion.is_some() || assertion_type.is_some() {
            if assertion_type != Some(JWT_BEARER_ASSERTION) {
                return Err(OAuthError::invalid_request(format!(
                    "`client_assertion_type` must be {JWT_BEARER_ASSERTION}"
                )));
            }
            let assertion = assertion.ok_or_else(|| {
                OAuthError::invalid_request(
                    "the `client_assertion` parameter is required with `client_assertion_type`",
                )
            })?;
            Presented::Assertion { assertion }
        } else {
            let client_id = params.get("client_id").ok_or_else(|| {
                OAuthError::invalid_client(
                    "client authentication is required (client_secret_basic, client_secret_post or private_key_jwt; public clients send client_id)",
                )
            })?;
            Presented::None { client_id }
        };

        match presented {
            Presented::Basic { client_id, secret } => self
                .check_secret(&client_id, &secret)
                .await
                .map_err(OAuthError::with_basic_challenge),
            Presented::Post { client_id, secret } => self.check_secret(client_id, secret).await,
            Presented::Assertion { assertion } => {
                self.check_assertion(assertion, params.get("client_id"))
                    .await
            }
            Presented::None { client_id } => {
                let client = self.known(client_id).await?;
                if client.token_endpoint_auth_method == AuthMethod::None {
                    Ok(client)
                } else {
                    Err(OAuthError::invalid_client(format!(
                        "this client must authenticate ({})",
                        match client.token_endpoint_auth_method {
                            AuthMethod::PrivateKeyJwt => "private_key_jwt",
                            _ => "client_secret_basic or client_secret_post",
                        }
                    )))
                }
            }
        }
    }

    /// The client with this id, or `invalid_client`.
    async fn known(&self, client_id: &str) -> Result<Client, OAuthError> {
        if !clave_common::id::is_plausible_id(client_id) {
            return Err(OAuthError::invalid_client(
                "unknown client: no client with this client_id is registered",
            ));
        }
        self.get(client_id)
            .await
            .map_err(OAuthError::from)?
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "unknown client: no client with this client_id is registered",
                )
            })
    }

    async fn check_secret(&self, client_id: &str, secret: &str) -> Result<Client, OAuthError> {
        let (client, digest) = self
            .get_with_digest(client_id)
            .await
            .map_err(OAuthError::from)?
            .ok_or_else(|| {
                OAuthError::invalid_client(
                    "unknown client: no client with this client_id is registered",
                )
            })?;
        match client.token_endpoint_auth_method {
            AuthMethod::ClientSecretBasic if self.secret_matches(digest.as_deref(), secret) => {
                Ok(client)
            }
            AuthMethod::ClientSecretBasic => {
                Err(OAuthError::invalid_client("the client secret is wrong"))
            }
            AuthMethod::None => Err(OAuthError::invalid_client(
                "this is a public client: it has no secret; send only client_id (and use PKCE)",
            )),
            AuthMethod::PrivateKeyJwt => Err(OAuthError::invalid_client(
                "this client authenticates with private_key_jwt, not with a secret",
            )),
        }
    }

    /// Checks a `private_key_jwt` assertion (RFC 7523 §3) and spends its `jti`.
    async fn check_assertion(
        &self,
        assertion: &str,
        client_id_param: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let fail = |text: &str| OAuthError::invalid_client(text);
        let (header, claims) =
            peek(assertion).ok_or_else(|| fail("the client assertion is not a compact JWT"))?;
        let issuer = claims.get("iss").and_then(Value::as_str);
        let subject = claims.get("sub").and_then(Value::as_str);
        let client_id = match (issuer, subject) {
            (Some(iss), Some(sub)) if iss == sub => iss,
            _ => {
                return Err(fail(
                    "the client assertion's `iss` and `sub` must both be the client_id",
                ));
            }
        };
        if client_id_param.is_some_and(|id| id != client_id) {
            return Err(fail(
                "the `client_id` parameter differs from the assertion's issuer",
            ));
        }
        let client = self.known(client_id).await?;
        let Some(jwks) = client
            .jwks
            .as_ref()
            .filter(|_| client.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt)
        else {
            return Err(fail("this client is not registered for private_key_jwt"));
        };
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .and_then(SigningAlg::parse)
            .ok_or_else(|| fail("the client assertion must be signed with ES256 or RS256"))?;
        let kid = header.get("kid").and_then(Value::as_str);
        if !verifies(assertion, jwks, alg, kid) {
            return Err(fail(
                "the client assertion's signature does not verify with the client's registered keys",
            ));
        }

        let now = self.ctx().clock.unix();
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| fail("the client assertion needs an `exp` claim"))?;
        if exp + LEEWAY_SECS <= now {
            return Err(fail("the client assertion has expired"));
        }
        if exp > now + MAX_ASSERTION_LIFETIME_SECS {
            return Err(fail(&format!(
                "the client assertion's `exp` is more than {MAX_ASSERTION_LIFETIME_SECS} seconds away"
            )));
        }
        for early in ["nbf", "iat"] {
            if claims
                .get(early)
                .and_then(Value::as_i64)
                .is_some_and(|t| t > now + LEEWAY_SECS)
            {
                return Err(fail(&format!(
                    "the client assertion's `{early}` is in the future"
                )));
            }
        }
        let issuer_url = self.ctx().config.issuer();
        let audience_ok = |aud: &str| {
            aud == issuer_url
                || AUDIENCE_PATHS
                    .iter()
                    .any(|path| aud.strip_prefix(issuer_url.as_str()) == Some(path))
        };
        let aud_ok = match claims.get("aud") {
            Some(Value::String(aud)) => audience_ok(aud),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
            _ => false,
        };
        if !aud_ok {
            return Err(fail(&format!(
                "the client assertion's `aud` must be the token endpoint ({issuer_url}/oauth2/token) or the issuer"
            )));
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| {
                fail("the client assertion needs a `jti` claim of at most 256 characters")
            })?;
        self.spend_jti(&client.client_id, jti, exp + LEEWAY_SECS, now)
            .await?;
        Ok(client)
    }

    /// Records an assertion's `jti` until it expires; a second use, on any node, fails. An
    /// entry that has expired is taken over (its assertion could not be accepted any more).
    async fn spend_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), OAuthError> {
        let spent = sqlx::query(
            "INSERT INTO idp_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE idp_assertion_jtis.expires_at < $4",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(self.ctx().db.pool())
        .await?;
        if spent.rows_affected() == 1 {
            return Ok(());
        }
        self.ctx()
            .journal
            .append_now(
                &NewEvent::new("client.assertion_replayed")
                    .actor(client_id)
                    .subject(client_id)
                    .data(json!({"jti": jti})),
            )
            .await?;
        Err(OAuthError::invalid_client(
            "the client assertion was already used (its jti was seen before); make a new one per request",
        ))
    }
}

/// The decoded header and claims of a compact JWT, before any check.
fn peek(token: &str) -> Option<(Map<String, Value>, Map<String, Value>)> {
    let mut parts = token.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    Some((decode(header)?, decode(payload)?))
}

/// Whether `token` verifies under one of the registered keys usable with `alg` (and named
/// `kid`, when the header names one).
fn verifies(token: &str, jwks: &Value, alg: SigningAlg, kid: Option<&str>) -> bool {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return false;
    };
    keys.iter()
        .filter_map(Value::as_object)
        .filter(|key| kid.is_none_or(|kid| key.get("kid").and_then(Value::as_str) == Some(kid)))
        .filter_map(|key| {
            // The header's kid was matched above; the verifier must not insist on one.
            let mut key = key.clone();
            key.remove("kid");
            Jwk::from_map(key).ok()
        })
        .filter(|jwk| key_algs(jwk).contains(&alg))
        .filter_map(|jwk| alg.verifier(&jwk).ok())
        .any(|verifier| josekit::jws::deserialize_compact(token, verifier.as_ref()).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::NewClient;
    use crate::oidc::testing::test_idp;
    use axum::http::HeaderValue;
    use josekit::jwk::KeyPair;
    use josekit::jws::JwsHeader;

    fn basic(id: &str, secret: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        headers
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn service() -> NewClient {
        NewClient {
            name: "Tesorería".into(),
            grants: vec!["client_credentials".into()],
            ..NewClient::default()
        }
    }

    #[tokio::test]
    async fn secrets_by_basic_and_by_post() {
        let (idp, _clock, _dir) = test_idp().await;
        let reg = idp.clients().register(service()).await.unwrap();
        let id = reg.client.client_id.as_str();
        let secret = reg.client_secret.unwrap();
        let clients = idp.clients();

        let ok = clients
            .authenticate(&basic(id, &secret), &Params::default())
            .await
            .unwrap();
        assert_eq!(ok.client_id, id);
        let ok = clients
            .authenticate(
                &HeaderMap::new(),
                &params(&[("client_id", id), ("client_secret", &secret)]),
            )
            .await
            .unwrap();
        assert_eq!(ok.client_id, id);

        let wrong = clients
            .authenticate(&basic(id, "nope"), &Params::default())
            .await
            .unwrap_err();
        assert_eq!(wrong.code.as_str(), "invalid_client");
        let response = axum::response::IntoResponse::into_response(wrong);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        let unknown = clients
            .authenticate(
                &HeaderMap::new(),
                &params(&[("client_id", "ghost"), ("client_secret", "x")]),
            )
            .await
            .unwrap_err();
        assert_eq!(unknown.code.as_str(), "invalid_client");
        let response = axum::response::IntoResponse::into_response(unknown);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));

        // Two methods at once.
        let both = clients
            .authenticate(
                &basic(id, &secret),
                &params(&[("client_id", id), ("client_secret", &secret)]),
            )
            .await
            .unwrap_err();
        assert_eq!(both.code.as_str(), "invalid_request");
        // A confidential client cannot skip authentication.
        let none = clients
            .authenticate(&HeaderMap::new(), &params(&[("client_id", id)]))
            .await
            .unwrap_err();
        assert_eq!(none.code.as_str(), "invalid_client");
        let nothing = clients
            .authenticate(&HeaderMap::new(), &Params::default())
            .await
            .unwrap_err();
        assert_eq!(nothing.code.as_str(), "invalid_client");
        // Malformed Basic.
        let mut garbage = HeaderMap::new();
        garbage.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        let err = clients
            .authenticate(&garbage, &Params::default())
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_client");
    }

    #[tokio::test]
    async fn basic_credentials_are_form_urlencoded() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", STANDARD.encode("my%3Aclient:p%40ss+word"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret, "p@ss word");
        let mut bearer = HeaderMap::new();
        bearer.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert!(basic_credentials(&bearer).is_none());
    }

    #[tokio::test]
    async fn public_clients_send_only_their_id() {
        let (idp, _clock, _dir) = test_idp().await;
        let reg = idp
            .clients()
            .register(NewClient {
                name: "App".into(),
                public: true,
                redirect_uris: vec!["http://127.0.0.1/cb".into()],
                ..NewClient::default()
            })
            .await
            .unwrap();
        let id = reg.client.client_id.as_str();
        let client = idp
            .clients()
            .authenticate(&HeaderMap::new(), &params(&[("client_id", id)]))
            .await
            .unwrap();
        assert!(client.public);
        let err = idp
            .clients()
            .authenticate(
                &HeaderMap::new(),
                &params(&[("client_id", id), ("client_secret", "x")]),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_client");
    }

    fn assertion(signer: &dyn josekit::jws::JwsSigner, kid: Option<&str>, claims: Value) -> String {
        let mut header = JwsHeader::new();
        if let Some(kid) = kid {
            header.set_key_id(kid);
        }
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, signer).unwrap()
    }

    #[tokio::test]
    async fn private_key_jwt_checks_signature_claims_and_replay() {
        let (idp, _clock, _dir) = test_idp().await;
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("k1");
        let jwks: Value = serde_json::from_str(&format!("{{\"keys\":[{public}]}}")).unwrap();
        let reg = idp
            .clients()
            .register(NewClient {
                jwks: Some(jwks),
                ..service()
            })
            .await
            .unwrap();
        assert!(reg.client_secret.is_none());
        let id = reg.client.client_id.clone();
        let signer = josekit::jws::ES256
            .signer_from_der(pair.to_der_private_key())
            .unwrap();
        let now = crate::oidc::testing::START;
        let aud = "https://id.example/oauth2/token";
        let claims = |jti: &str, exp: i64, aud: &str| json!({"iss": id, "sub": id, "aud": aud, "jti": jti, "exp": exp, "iat": now});
        let present = |token: String| {
            params(&[
                ("client_assertion_type", JWT_BEARER_ASSERTION),
                ("client_assertion", &token),
            ])
        };
        let clients = idp.clients();
        let good = assertion(&signer, Some("k1"), claims("j1", now + 60, aud));
        assert_eq!(
            clients
                .authenticate(&HeaderMap::new(), &present(good.clone()))
                .await
                .unwrap()
                .client_id,
            id
        );
        // The same assertion again is a replay.
        let replay = clients
            .authenticate(&HeaderMap::new(), &present(good))
            .await
            .unwrap_err();
        assert!(
            replay.description.contains("already used"),
            "{}",
            replay.description
        );
        // No kid in the header is fine.
        let no_kid = assertion(&signer, None, claims("j2", now + 60, "https://id.example"));
        assert!(
            clients
                .authenticate(&HeaderMap::new(), &present(no_kid))
                .await
                .is_ok()
        );

        for (token, why) in [
            (
                assertion(&signer, Some("k1"), claims("j3", now - 60, aud)),
                "expired",
            ),
            (
                assertion(&signer, Some("k1"), claims("j4", now + 3600, aud)),
                "seconds away",
            ),
            (
                assertion(
                    &signer,
                    Some("k1"),
                    claims("j5", now + 60, "https://elsewhere.example"),
                ),
                "aud",
            ),
            (
                assertion(&signer, Some("other"), claims("j6", now + 60, aud)),
                "signature",
            ),
            (
                assertion(
                    &josekit::jws::ES256
                        .signer_from_der(
                            josekit::jws::ES256
                                .generate_key_pair()
                                .unwrap()
                                .to_der_private_key(),
                        )
                        .unwrap(),
                    Some("k1"),
                    claims("j7", now + 60, aud),
                ),
                "signature",
            ),
            (
                assertion(
                    &signer,
                    Some("k1"),
                    json!({"iss": id, "sub": "x", "aud": aud, "jti": "j8", "exp": now + 60}),
                ),
                "`iss` and `sub`",
            ),
            (
                assertion(
                    &signer,
                    Some("k1"),
                    json!({"iss": id, "sub": id, "aud": aud, "exp": now + 60}),
                ),
                "jti",
            ),
            ("not-a-jwt".to_owned(), "compact"),
        ] {
            let err = clients
                .authenticate(&HeaderMap::new(), &present(token))
                .await
                .unwrap_err();
            assert_eq!(err.code.as_str(), "invalid_client");
            assert!(err.description.contains(why), "{why}: {}", err.description);
        }
        let wrong_type = params(&[
            ("client_assertion_type", "bogus"),
            ("client_assertion", "x"),
        ]);
        assert_eq!(
            clients
                .authenticate(&HeaderMap::new(), &wrong_type)
                .await
                .unwrap_err()
                .code
                .as_str(),
            "invalid_request"
        );
    }
}
