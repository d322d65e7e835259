//! Checks on a client registration, each refusal saying what to fix.
//!
//! Redirect URIs are absolute, carry no fragment and no user information, and use `https`;
//! plain `http` is accepted only on the loopback interface (`localhost`, `127.0.0.1`, `[::1]`)
//! for development. They are matched exactly later, so nothing is normalised here beyond
//! refusing what could never match safely.

use serde_json::Value;

use super::{
    AuthMethod, DEFAULT_SCOPES, GRANT_AUTHORIZATION_CODE, GRANT_CLIENT_CREDENTIALS,
    GRANT_REFRESH_TOKEN, KNOWN_GRANTS, KNOWN_SCOPES, NewClient, SubjectType,
};
use crate::IdpError;
use crate::keys::SigningAlg;
use crate::session::{LOA_1, LOA_2, LOA_3};

/// The longest URI accepted.
const MAX_URI: usize = 2000;
/// The most URIs of one kind.
const MAX_URIS: usize = 20;
/// The longest client name.
const MAX_NAME: usize = 200;
/// The most keys in a client's JWK Set.
const MAX_KEYS: usize = 10;

/// A registration whose every field passed its checks, with defaults applied.
#[derive(Debug, Clone)]
pub(super) struct Checked {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub subject_type: SubjectType,
    pub sector: Option<String>,
    pub id_token_alg: SigningAlg,
    pub require_par: bool,
    pub min_acr: Option<String>,
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
    pub auth_method: AuthMethod,
}

impl Checked {
    /// Whether the client gets a secret.
    pub fn has_secret(&self) -> bool {
        self.auth_method == AuthMethod::ClientSecretBasic
    }
}

fn invalid(text: impl Into<String>) -> IdpError {
    IdpError::Invalid(text.into())
}

/// Checks a registration and applies the defaults.
/// `data_scopes` are the scopes the claims provider defines (the wallet's attribute scopes),
/// allowed beside [`KNOWN_SCOPES`].
pub(super) fn check(new: NewClient, data_scopes: &[String]) -> Result<Checked, IdpError> {
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        return Err(invalid("the client needs a name (--name)"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "the client name must be at most {MAX_NAME} characters without control characters"
        )));
    }

    let redirect_uris = uri_list("redirect URI", new.redirect_uris)?;
    let post_logout_redirect_uris =
        uri_list("post-logout redirect URI", new.post_logout_redirect_uris)?;
    let backchannel_logout_uri = match new.backchannel_logout_uri {
        Some(uri) => {
            check_uri(&uri)
                .map_err(|why| invalid(format!("back-channel logout URI {uri:?}: {why}")))?;
            Some(uri)
        }
        None => None,
    };
    let jwks_uri = match new.jwks_uri {
        Some(uri) => {
            check_uri(&uri).map_err(|why| invalid(format!("JWKS URI {uri:?}: {why}")))?;
            Some(uri)
        }
        None => None,
    };

    let mut grant_types = Vec::new();
    if !redirect_uris.is_empty() {
        grant_types.push(GRANT_AUTHORIZATION_CODE.to_owned());
        grant_types.push(GRANT_REFRESH_TOKEN.to_owned());
    }
    for grant in new.grants {
        if !KNOWN_GRANTS.contains(&grant.as_str()) {
            return Err(invalid(format!(
                "unknown grant {grant:?}; known grants: {}",
                KNOWN_GRANTS.join(", ")
            )));
        }
        if (grant == GRANT_AUTHORIZATION_CODE || grant == GRANT_REFRESH_TOKEN)
            && redirect_uris.is_empty()
        {
            return Err(invalid(format!(
                "the {grant} grant needs at least one --redirect-uri"
            )));
        }
        if !grant_types.contains(&grant) {
            grant_types.push(grant);
        }
    }
    if grant_types.is_empty() {
        return Err(invalid(
            "a client needs at least one --redirect-uri (to log citizens in) or --grant client_credentials (to call APIs as itself)",
        ));
    }
    let service = grant_types.iter().any(|g| g == GRANT_CLIENT_CREDENTIALS);
    if new.public && service {
        return Err(invalid(
            "a public client cannot use client_credentials: it has no secret to authenticate with",
        ));
    }

    let mut scopes: Vec<String> = Vec::new();
    for scope in new
        .scopes
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
    {
        if !KNOWN_SCOPES.contains(&scope) && !data_scopes.iter().any(|s| s == scope) {
            let mut known: Vec<&str> = KNOWN_SCOPES.to_vec();
            known.extend(data_scopes.iter().map(String::as_str));
            return Err(invalid(format!(
                "unknown scope {scope:?}; known scopes: {}",
                known.join(", ")
            )));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() && !redirect_uris.is_empty() {
        scopes = DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect();
    }
    // The authorization endpoint serves OpenID Connect only, so a login client needs `openid`.
    if !redirect_uris.is_empty() && !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".to_owned());
    }

    let sector = match new.sector {
        Some(sector) => {
            let sector = sector.trim().to_owned();
            if sector.is_empty() || sector.len() > 255 || sector.chars().any(char::is_control) {
                return Err(invalid(
                    "the sector must be 1 to 255 characters without control characters",
                ));
            }
            Some(sector)
        }
        None => None,
    };
    let subject_type = new.subject_type.unwrap_or(SubjectType::Pairwise);
    if sector.is_some() && subject_type == SubjectType::Public {
        return Err(invalid("a sector applies to pairwise subjects only"));
    }

    let min_acr = match new.min_acr {
        Some(acr) if [LOA_1, LOA_2, LOA_3].contains(&acr.as_str()) => Some(acr),
        Some(acr) => {
            return Err(invalid(format!(
                "unknown level of assurance {acr:?}; use {LOA_1}, {LOA_2} or {LOA_3}"
            )));
        }
        None => None,
    };

    let jwks = match new.jwks {
        Some(jwks) => {
            check_jwks(&jwks).map_err(|why| invalid(format!("the client's JWK Set: {why}")))?;
            Some(jwks)
        }
        None => None,
    };
    if new.public && jwks.is_some() {
        return Err(invalid(
            "a public client cannot authenticate with keys; drop --public or --jwks",
        ));
    }
    if new.require_par && redirect_uris.is_empty() {
        return Err(invalid(
            "--require-par applies to clients with redirect URIs",
        ));
    }
    let auth_method = if new.public {
        AuthMethod::None
    } else if jwks.is_some() {
        AuthMethod::PrivateKeyJwt
    } else {
        AuthMethod::ClientSecretBasic
    };

    Ok(Checked {
        name,
        redirect_uris,
        post_logout_redirect_uris,
        public: new.public,
        scopes,
        grant_types,
        backchannel_logout_uri,
        subject_type,
        sector,
        id_token_alg: new.id_token_alg.unwrap_or(SigningAlg::ES256),
        require_par: new.require_par,
        min_acr,
        jwks,
        jwks_uri,
        auth_method,
    })
}

fn uri_list(what: &str, uris: Vec<String>) -> Result<Vec<String>, IdpError> {
    if uris.len() > MAX_URIS {
        return Err(invalid(format!("at most {MAX_URIS} of each kind of URI")));
    }
    let mut out: Vec<String> = Vec::new();
    for uri in uris {
        check_uri(&uri).map_err(|why| invalid(format!("{what} {uri:?}: {why}")))?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    Ok(out)
}

/// Whether `uri` may be registered as a redirect, post-logout or back-channel URI; says why
/// not otherwise.
pub fn check_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI {
        return Err(format!("longer than {MAX_URI} characters"));
    }
    let url = url::Url::parse(uri).map_err(|e| format!("not an absolute URL ({e})"))?;
    if uri.contains('#') {
        return Err("must not contain a fragment (#…)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if matches!(host, "localhost" | "127.0.0.1" | "[::1]") => Ok(()),
        "http" => Err(
            "must use https (plain http is allowed only for localhost, 127.0.0.1 and [::1])".into(),
        ),
        _ => Err("must be an https URL".into()),
    }
}

/// Whether `jwks` is a public JWK Set of ES256 or RS256 keys; says why not otherwise.
fn check_jwks(jwks: &Value) -> Result<(), String> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("must be a JSON object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("must hold 1 to {MAX_KEYS} keys"));
    }
    for (i, key) in keys.iter().enumerate() {
        let Some(object) = key.as_object() else {
            return Err(format!("key {i} is not a JSON object"));
        };
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            if object.contains_key(private) {
                return Err(format!(
                    "key {i} contains private key material ({private:?}); register the public key only"
                ));
            }
        }
        let jwk =
            josekit::jwk::Jwk::from_map(object.clone()).map_err(|e| format!("key {i}: {e}"))?;
        if !super::auth::key_algs(&jwk)
            .iter()
            .any(|alg| alg.verifier(&jwk).is_ok())
        {
            return Err(format!(
                "key {i} is not a usable signing key (EC P-256 for ES256, or RSA of 2048 bits or more for RS256)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(new: NewClient) -> Result<Checked, IdpError> {
        super::check(new, &[])
    }

    fn base() -> NewClient {
        NewClient {
            name: "Registro Civil".into(),
            redirect_uris: vec!["https://rp.example/cb".into()],
            ..NewClient::default()
        }
    }

    #[test]
    fn redirect_uris_must_be_safe() {
        for ok in [
            "https://rp.example/cb",
            "https://rp.example:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("/cb", "absolute"),
            ("https://rp.example/cb#frag", "fragment"),
            ("https://rp.example/cb#", "fragment"),
            ("http://rp.example/cb", "https"),
            ("ftp://rp.example/cb", "https"),
            ("javascript:alert(1)", "https"),
            ("https://user:pw@rp.example/cb", "user name"),
        ] {
            let err = check_uri(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn grants_follow_redirect_uris_and_flags() {
        let web = check(base()).unwrap();
        assert_eq!(web.grant_types, ["authorization_code", "refresh_token"]);
        let both = check(NewClient {
            grants: vec!["client_credentials".into()],
            ..base()
        })
        .unwrap();
        assert_eq!(
            both.grant_types,
            ["authorization_code", "refresh_token", "client_credentials"]
        );
        let service = check(NewClient {
            redirect_uris: vec![],
            grants: vec!["client_credentials".into()],
            ..base()
        })
        .unwrap();
        assert_eq!(service.grant_types, ["client_credentials"]);
        assert!(service.scopes.is_empty());
        for (bad, why) in [
            (
                NewClient {
                    redirect_uris: vec![],
                    ..base()
                },
                "at least one",
            ),
            (
                NewClient {
                    grants: vec!["password".into()],
                    ..base()
                },
                "unknown grant",
            ),
            (
                NewClient {
                    public: true,
                    grants: vec!["client_credentials".into()],
                    ..base()
                },
                "public client",
            ),
            (
                NewClient {
                    scopes: vec!["admin".into()],
                    ..base()
                },
                "unknown scope",
            ),
            (
                NewClient {
                    name: "  ".into(),
                    ..base()
                },
                "name",
            ),
            (
                NewClient {
                    min_acr: Some("high".into()),
                    ..base()
                },
                "assurance",
            ),
        ] {
            let err = check(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn scopes_default_and_always_include_openid_for_logins() {
        assert_eq!(
            check(base()).unwrap().scopes,
            ["openid", "profile", "email"]
        );
        let compat = check(NewClient {
            scopes: vec!["run".into(), "name".into()],
            ..base()
        })
        .unwrap();
        assert_eq!(compat.scopes, ["openid", "run", "name"]);
    }

    #[test]
    fn jwks_must_be_public_signing_keys() {
        use josekit::jwk::KeyPair;
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let public: Value = serde_json::from_str(&pair.to_jwk_public_key().to_string()).unwrap();
        let private: Value = serde_json::from_str(&pair.to_jwk_key_pair().to_string()).unwrap();
        let with = |key: Value| NewClient {
            jwks: Some(serde_json::json!({"keys": [key]})),
            ..base()
        };
        let checked = check(with(public)).unwrap();
        assert_eq!(checked.auth_method, AuthMethod::PrivateKeyJwt);
        assert!(!checked.has_secret());
        assert!(
            check(with(private))
                .unwrap_err()
                .to_string()
                .contains("private")
        );
        assert!(check(with(serde_json::json!({"kty": "oct", "k": "AAAA"}))).is_err());
        assert!(
            check(NewClient {
                jwks: Some(serde_json::json!([])),
                ..base()
            })
            .is_err()
        );
    }
}
