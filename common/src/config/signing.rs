//! The `[signing]` section: where B-T signatures get their time-stamps, and where signers'
//! keys live (sealed in the database, or inside a PKCS#11 token).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Secret;

/// Where new signing credentials keep their private keys.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyBackendKind {
    /// PKCS#8 sealed under the master key, in the database (the default).
    #[default]
    Software,
    /// Generated inside a PKCS#11 token, never extractable.
    Pkcs11,
}

/// Remote signing's settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct SigningConfig {
    /// An external RFC 3161 time-stamp authority (its HTTP URL) for B-T signatures; empty
    /// uses clave's own TSA.
    pub tsa_url: String,
    /// The external TSA's certificate (a PEM file): its tokens are checked against it when
    /// they arrive and when signatures are verified.
    pub tsa_certificate: Option<PathBuf>,
    /// Seconds the external TSA gets to answer.
    pub tsa_timeout_secs: u64,
    /// Where new credentials' keys are made and kept.
    pub key_backend: KeyBackendKind,
    /// The PKCS#11 module (a shared library) when `key_backend` is `pkcs11`.
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the token that holds the keys.
    pub pkcs11_token_label: String,
    /// The token's user PIN.
    #[serde(deserialize_with = "pin_text")]
    pub pkcs11_pin: Option<Secret>,
    /// A file holding the token's user PIN (its first line), instead of `pkcs11_pin`.
    pub pkcs11_pin_file: Option<PathBuf>,
}

/// A PIN as text even when it was written as a number (`pkcs11_pin = 1234`, or digits in an
/// environment variable, which the loader reads as a number).
fn pin_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| match t {
        Text::Text(s) => Secret::new(s),
        Text::Number(n) => Secret::new(n.to_string()),
    }))
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            tsa_url: String::new(),
            tsa_certificate: None,
            tsa_timeout_secs: 10,
            key_backend: KeyBackendKind::Software,
            pkcs11_module: None,
            pkcs11_token_label: String::new(),
            pkcs11_pin: None,
            pkcs11_pin_file: None,
        }
    }
}

impl SigningConfig {
    /// The external TSA's URL, when one is configured.
    pub fn external_tsa(&self) -> Option<&str> {
        Some(self.tsa_url.trim()).filter(|u| !u.is_empty())
    }

    /// The PKCS#11 user PIN, from `pkcs11_pin` or the first line of `pkcs11_pin_file`.
    pub fn pkcs11_user_pin(&self) -> Result<String, String> {
        if let Some(pin) = &self.pkcs11_pin {
            return Ok(pin.expose().to_owned());
        }
        let Some(path) = &self.pkcs11_pin_file else {
            return Err(
                "signing.pkcs11_pin or signing.pkcs11_pin_file must give the token's user PIN"
                    .into(),
            );
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "signing.pkcs11_pin_file {} cannot be read: {e}",
                path.display()
            )
        })?;
        let pin = text.lines().next().unwrap_or_default().trim().to_owned();
        if pin.is_empty() {
            return Err(format!(
                "signing.pkcs11_pin_file {} is empty",
                path.display()
            ));
        }
        Ok(pin)
    }
}

/// What is wrong with the section.
pub(super) fn problems(signing: &SigningConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(url) = signing.external_tsa() {
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => problems.push(format!(
                "signing.tsa_url {url:?} must be an http or https URL"
            )),
        }
        match &signing.tsa_certificate {
            None => problems.push(
                "signing.tsa_certificate must name the external TSA's certificate (PEM) when signing.tsa_url is set".into(),
            ),
            Some(path) if !path.is_file() => problems.push(format!(
                "signing.tsa_certificate {} is not a readable file",
                path.display()
            )),
            Some(_) => {}
        }
        if signing.tsa_timeout_secs == 0 {
            problems.push("signing.tsa_timeout_secs must be positive".into());
        }
    }
    if signing.key_backend == KeyBackendKind::Pkcs11 {
        match &signing.pkcs11_module {
            None => problems.push(
                "signing.pkcs11_module must name the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so) when signing.key_backend is \"pkcs11\"".into(),
            ),
            Some(path) if !path.is_file() => problems.push(format!(
                "signing.pkcs11_module {} is not a readable file",
                path.display()
            )),
            Some(_) => {}
        }
        if signing.pkcs11_token_label.trim().is_empty() {
            problems.push(
                "signing.pkcs11_token_label must name the token that keeps the signing keys".into(),
            );
        }
        if signing.pkcs11_pin.is_some() && signing.pkcs11_pin_file.is_some() {
            problems.push("give signing.pkcs11_pin or signing.pkcs11_pin_file, not both".into());
        } else if let Err(problem) = signing.pkcs11_user_pin() {
            problems.push(problem);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_tsa_needs_a_web_url_and_its_certificate() {
        let mut signing = SigningConfig::default();
        assert!(problems(&signing).is_empty());
        signing.tsa_url = "ftp://tsa.example".into();
        let found = problems(&signing);
        assert!(
            found.iter().any(|p| p.contains("http or https")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("signing.tsa_certificate must name")),
            "{found:?}"
        );
        signing.tsa_url = "https://tsa.example/tsr".into();
        signing.tsa_certificate = Some(PathBuf::from("/nonexistent/tsa.pem"));
        let found = problems(&signing);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("not a readable file"));
    }

    #[test]
    fn a_pkcs11_backend_needs_its_module_token_and_pin() {
        let mut signing = SigningConfig {
            key_backend: KeyBackendKind::Pkcs11,
            ..SigningConfig::default()
        };
        let found = problems(&signing);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("signing.pkcs11_module must name"));
        assert!(found[1].contains("pkcs11_token_label"));
        assert!(found[2].contains("pkcs11_pin"));
        signing.pkcs11_module = Some(PathBuf::from("/nonexistent/libpkcs11.so"));
        signing.pkcs11_token_label = "clave".into();
        signing.pkcs11_pin_file = Some(PathBuf::from("/nonexistent/pin"));
        let found = problems(&signing);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("not a readable file"));
        assert!(found[1].contains("cannot be read"));
    }
}
