//! The PKCS#11 key backend against SoftHSMv2: a `clave serve` process configured with
//! `signing.key_backend = "pkcs11"` makes the citizen's key inside a fresh token and signs
//! through it (CSC `signHash` and `signDoc`), OpenSSL and pyHanko accept the results, OpenSC's
//! `pkcs11-tool` sees a sensitive key that is not extractable, and
//! `clave check-config` names a wrong module or token.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when its module is initialized, once per process, so the
//! server runs as a child process with the test token's configuration in its environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::pades::{minimal_pdf, pyhanko_validate};
use super::{Signatory, fetch_pki, openssl, pem, post_json};

const TOKEN_LABEL: &str = "clave-pruebas";
const USER_PIN: &str = "024681";

/// SoftHSM's module, where Debian puts it.
fn softhsm_module() -> Option<PathBuf> {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// A token of its own in a temporary directory.
struct SoftHsm {
    dir: tempfile::TempDir,
    module: PathBuf,
}

impl SoftHsm {
    /// A fresh initialized token; `None` (skipping) when SoftHSM is missing outside CI.
    fn new() -> Option<Self> {
        let Some(module) = softhsm_module().filter(|_| which("softhsm2-util")) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("SoftHSMv2 is required in CI (Debian package `softhsm2`)");
            }
            eprintln!("skipping: SoftHSMv2 (Debian package `softhsm2`) is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tokens")).unwrap();
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )
        .unwrap();
        let hsm = Self { dir, module };
        let out = hsm
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", TOKEN_LABEL])
            .args(["--pin", USER_PIN, "--so-pin", "13579111"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(hsm)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// `program` with this token's configuration in its environment.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SOFTHSM2_CONF", self.conf());
        command
    }

    /// The `CLAVE_*` settings that point clave at this token.
    fn clave_env(&self, label: &str, module: &Path) -> Vec<(String, String)> {
        vec![
            ("CLAVE_SIGNING__KEY_BACKEND".into(), "pkcs11".into()),
            (
                "CLAVE_SIGNING__PKCS11_MODULE".into(),
                module.display().to_string(),
            ),
            ("CLAVE_SIGNING__PKCS11_TOKEN_LABEL".into(), label.into()),
            (
                "CLAVE_SIGNING__PKCS11_PIN".into(),
                format!("\"{USER_PIN}\""),
            ),
        ]
    }

    /// `pkcs11-tool` logged in to the token; whether it succeeded and what it printed.
    fn pkcs11_tool(&self, args: &[&str]) -> Option<(bool, String)> {
        if !which("pkcs11-tool") {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("pkcs11-tool is required in CI (Debian package `opensc`)");
            }
            eprintln!("skipping the pkcs11-tool checks: OpenSC is not installed");
            return None;
        }
        let module = self.module.display().to_string();
        let out = self
            .command("pkcs11-tool")
            .args(["--module", &module, "--token-label", TOKEN_LABEL])
            .args(["--login", "--pin", USER_PIN])
            .args(args)
            .output()
            .unwrap();
        Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `clave serve` process on the signatory's database, keys in the token.
struct HsmServer {
    child: std::process::Child,
    url: String,
}

impl HsmServer {
    fn start(signatory: &Signatory, hsm: &SoftHsm) -> Self {
        use std::io::BufRead;
        let mut command = hsm.command(env!("CARGO_BIN_EXE_clave"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CLAVE_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(signatory.app.cli_env())
            .envs(hsm.clave_env(TOKEN_LABEL, &hsm.module))
            .env("CLAVE_LOG_FILTER", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The server prints its address once it is bound: ready, no sleeping.
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("clave listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("clave serve did not start: {line}"))
            .to_owned();
        Self { child, url }
    }

    async fn csc(
        &self,
        token: &str,
        method: &str,
        body: serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        post_json(&format!("{}/csc/v2/{method}", self.url), Some(token), body).await
    }
}

impl Drop for HsmServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_token_key_signs_through_csc_and_never_leaves_the_token() {
    let Some(hsm) = SoftHsm::new() else {
        return;
    };
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let server = HsmServer::start(&signatory, &hsm);
    let token = signatory.token.clone();

    // The server with the token issues the credential: its key pair is made in the token.
    let (status, body) = server.csc(&token, "credentials/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let credential = body["credentialIDs"][0].as_str().unwrap().to_owned();
    let stored: (String, String, Option<String>) = sqlx::query_as(
        "SELECT key_backend, sealed_key, key_ref FROM signer_credentials WHERE id = $1",
    )
    .bind(&credential)
    .fetch_one(signatory.app.app.db.pool())
    .await
    .unwrap();
    assert_eq!(stored.0, "pkcs11");
    assert_eq!(stored.1, "", "no key material in the database");
    assert_eq!(stored.2.as_deref(), Some(credential.as_str()));

    // signHash: the token signs the digest, OpenSSL checks it with the certificate's key.
    let document = b"Acta de la sesion ordinaria".to_vec();
    let hash = Sha256::digest(&document).to_vec();
    let sad = signatory
        .authorize(&credential, std::slice::from_ref(&hash))
        .await;
    let (status, body) = server
        .csc(
            &token,
            "signatures/signHash",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "hashes": [STANDARD.encode(&hash)],
                "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
                "signAlgo": "1.2.840.10045.4.3.2",
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signature = STANDARD
        .decode(body["signatures"][0].as_str().unwrap())
        .unwrap();
    let (_, info) = signatory
        .csc("credentials/info", json!({ "credentialID": credential }))
        .await;
    let leaf = STANDARD
        .decode(info["cert"]["certificates"][0].as_str().unwrap())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(path.join("leaf.pem"), pem("CERTIFICATE", &leaf)).unwrap();
    std::fs::write(path.join("doc"), &document).unwrap();
    std::fs::write(path.join("sig"), &signature).unwrap();
    let (ok, out) = openssl(
        path,
        &[
            "x509", "-in", "leaf.pem", "-pubkey", "-noout", "-out", "pub.pem",
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig",
            "doc",
        ],
    );
    assert!(ok && out.contains("Verified OK"), "{out}");

    // signDoc: a detached CAdES that `openssl cms -verify` accepts.
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(&document).to_vec()])
        .await;
    let (status, body) = server
        .csc(
            &token,
            "signatures/signDoc",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "documents": [{
                    "document": STANDARD.encode(&document),
                    "signature_format": "C",
                    "conformance_level": "Ades-B-B",
                    "signed_envelope_property": "Detached",
                }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let p7s = STANDARD
        .decode(body["SignatureObject"][0].as_str().unwrap())
        .unwrap();
    std::fs::write(path.join("doc.p7s"), &p7s).unwrap();
    fetch_pki(&signatory.app, path).await;
    let (ok, out) = openssl(
        path,
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "doc.p7s",
            "-content",
            "doc",
            "-CAfile",
            "root.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(ok && out.contains("Verification successful"), "{out}");

    // signDoc: PAdES, which pyHanko validates (chain, CRL, whole file covered).
    let pdf = minimal_pdf();
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(&pdf).to_vec()])
        .await;
    let (status, body) = server
        .csc(
            &token,
            "signatures/signDoc",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "documents": [{
                    "document": STANDARD.encode(&pdf),
                    "signature_format": "P",
                    "conformance_level": "Ades-B-B",
                }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let signed = STANDARD
        .decode(body["DocumentWithSignature"][0].as_str().unwrap())
        .unwrap();
    std::fs::write(path.join("signed.pdf"), &signed).unwrap();
    if let Some((ok, out)) = pyhanko_validate(path, "signed.pdf").await {
        assert!(ok, "{out}");
        assert!(out.contains("entire file"), "{out}");
    }

    // From outside clave: the private key is in the token, labelled by the credential id,
    // sensitive (CKA_SENSITIVE) and not extractable (CKA_EXTRACTABLE false; pkcs11-tool
    // lists `extractable` only when it is true).
    if let Some((ok, out)) = hsm.pkcs11_tool(&["--list-objects", "--type", "privkey"]) {
        assert!(ok, "{out}");
        let object = out
            .split("Private Key Object")
            .find(|o| o.contains(&credential))
            .unwrap_or_else(|| panic!("no private key labelled {credential}:\n{out}"));
        let access: Vec<&str> = object
            .lines()
            .find_map(|l| l.trim().strip_prefix("Access:"))
            .unwrap_or_else(|| panic!("no access flags:\n{object}"))
            .split(',')
            .map(str::trim)
            .collect();
        assert!(access.contains(&"sensitive"), "{access:?}");
        assert!(access.contains(&"never extractable"), "{access:?}");
        assert!(!access.contains(&"extractable"), "{access:?}");
    }
}

#[tokio::test]
async fn check_config_opens_the_token_and_names_a_wrong_module_or_label() {
    let Some(hsm) = SoftHsm::new() else {
        return;
    };
    let app = crate::support::TestApp::new().await;
    let run = |extra: Vec<(String, String)>| {
        let mut env = app.cli_env();
        env.extend(extra);
        let mut command = hsm.command(env!("CARGO_BIN_EXE_clave"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CLAVE_") {
                command.env_remove(name);
            }
        }
        let out = command
            .args(["--json", "check-config"])
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = run(hsm.clave_env(TOKEN_LABEL, &hsm.module));
    assert!(ok, "{out}");

    let (ok, out) = run(hsm.clave_env("no-such-token", &hsm.module));
    assert!(!ok, "{out}");
    assert!(
        out.contains("no initialized token labelled") && out.contains("no-such-token"),
        "{out}"
    );

    // A module path that exists but is no PKCS#11 library.
    let bogus = app.data_dir().join("not-a-module.so");
    std::fs::write(&bogus, b"not a library").unwrap();
    let (ok, out) = run(hsm.clave_env(TOKEN_LABEL, &bogus));
    assert!(!ok, "{out}");
    assert!(out.contains("cannot be loaded"), "{out}");

    let mut wrong_pin = hsm.clave_env(TOKEN_LABEL, &hsm.module);
    wrong_pin.retain(|(k, _)| k != "CLAVE_SIGNING__PKCS11_PIN");
    wrong_pin.push(("CLAVE_SIGNING__PKCS11_PIN".into(), "000000".into()));
    let (ok, out) = run(wrong_pin);
    assert!(!ok, "{out}");
    assert!(out.contains("refused the configured user PIN"), "{out}");
}
