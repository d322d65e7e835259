//! The `[signing]` section: where B-T signatures get their time-stamps.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
}

impl Default for SigningConfig {
    fn default() -> Self {
        Self {
            tsa_url: String::new(),
            tsa_certificate: None,
            tsa_timeout_secs: 10,
        }
    }
}

impl SigningConfig {
    /// The external TSA's URL, when one is configured.
    pub fn external_tsa(&self) -> Option<&str> {
        Some(self.tsa_url.trim()).filter(|u| !u.is_empty())
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
}
