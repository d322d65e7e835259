//! PAdES from `signatures/signDoc` with format `P`: an incremental update that `qpdf --check`
//! accepts, whose CMS over the byte range `openssl cms -verify` accepts, that poppler's
//! `pdfsig` reports as a valid signature covering the whole file and pyHanko judges VALID
//! (trusting clave's root, checking revocation against the CRLs served by the test server);
//! a second signer keeps the first signature valid, and after revocation pyHanko reports the
//! certificate revoked.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Signatory, fetch_pki, openssl};

/// A one-page PDF 1.7 with a classic cross-reference table.
pub(super) fn minimal_pdf() -> Vec<u8> {
    let content = "BT /F1 18 Tf 72 760 Td (Resolucion exenta 1234) Tj ET";
    let stream = format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        stream.as_str(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ];
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Runs a tool; whether it succeeded and what it printed. `None` when it is not installed
/// outside CI.
fn tool(dir: &Path, program: &str, args: &[&str], package: &str) -> Option<(bool, String)> {
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(out) => Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{program} is required in CI (Debian package `{package}`)")
        }
        Err(_) => {
            eprintln!("skipping {program}: install the Debian package `{package}`");
            None
        }
    }
}

/// pyHanko's command line from the project's Python environment (`interop/python/.venv`,
/// made by `.ci/run`); `None` outside CI when it is missing.
fn pyhanko() -> Option<std::path::PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/python/.venv/bin/pyhanko");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("pyHanko is required in CI: .ci/run installs interop/python/requirements.txt");
    }
    eprintln!(
        "skipping pyHanko: install interop/python/requirements.txt into interop/python/.venv"
    );
    None
}

/// `pyhanko sign validate` on `file` trusting `root.pem`, revocation checked against the
/// CRLs the certificates point to (served by the test server); whether it exited 0 and
/// what it printed.
pub(super) async fn pyhanko_validate(dir: &Path, file: &str) -> Option<(bool, String)> {
    let program = pyhanko()?;
    // Asynchronously: pyHanko fetches the CRLs from the test server on this runtime.
    let out = tokio::process::Command::new(program)
        .args([
            "sign",
            "validate",
            "--trust",
            "root.pem",
            "--trust-replace",
            "--pretty-print",
            file,
        ])
        .current_dir(dir)
        .output()
        .await
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

/// The last signature's byte range and CMS, as a verifier extracts them.
fn last_signature(pdf: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let marker = b"/ByteRange";
    let name = pdf
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap();
    let at = name + pdf[name..].iter().position(|b| *b == b'[').unwrap() + 1;
    let end = at + pdf[at..].iter().position(|b| *b == b']').unwrap();
    let range: Vec<usize> = std::str::from_utf8(&pdf[at..end])
        .unwrap()
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let (a, b, c, d) = (range[0], range[1], range[2], range[3]);
    assert_eq!(
        c + d,
        pdf.len(),
        "the byte range must reach the end of the file"
    );
    let covered = [&pdf[a..a + b], &pdf[c..c + d]].concat();
    let hex = std::str::from_utf8(&pdf[a + b + 1..c - 1]).unwrap();
    let mut cms: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    // The DER length says where the CMS ends inside the zero padding.
    assert_eq!(cms[0], 0x30);
    let len = match cms[1] {
        0x82 => 4 + ((cms[2] as usize) << 8 | cms[3] as usize),
        0x83 => 5 + ((cms[2] as usize) << 16 | (cms[3] as usize) << 8 | cms[4] as usize),
        n => 2 + n as usize,
    };
    cms.truncate(len);
    (covered, cms)
}

async fn sign_pdf(signatory: &Signatory, credential: &str, pdf: &[u8], level: &str) -> Vec<u8> {
    let sad = signatory
        .authorize(credential, &[Sha256::digest(pdf).to_vec()])
        .await;
    let (status, body) = signatory
        .csc(
            "signatures/signDoc",
            json!({
                "credentialID": credential,
                "SAD": sad,
                "documents": [{
                    "document": STANDARD.encode(pdf),
                    "signature_format": "P",
                    "conformance_level": level,
                }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["SignatureObject"], json!([]));
    STANDARD
        .decode(body["DocumentWithSignature"][0].as_str().unwrap())
        .unwrap()
}

#[tokio::test]
async fn pades_is_an_incremental_update_that_qpdf_openssl_and_pdfsig_accept() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    fetch_pki(&signatory.app, path).await;
    let original = minimal_pdf();
    std::fs::write(path.join("original.pdf"), &original).unwrap();
    if let Some((ok, out)) = tool(path, "qpdf", &["--check", "original.pdf"], "qpdf") {
        assert!(ok, "the fixture itself must be a sound PDF: {out}");
    }

    let signed = sign_pdf(&signatory, &credential, &original, "Ades-B-B").await;
    assert!(
        signed.starts_with(&original),
        "an incremental update keeps the original bytes"
    );
    std::fs::write(path.join("signed.pdf"), &signed).unwrap();
    if let Some((ok, out)) = tool(path, "qpdf", &["--check", "signed.pdf"], "qpdf") {
        assert!(
            ok && out.contains("No syntax or stream encoding errors"),
            "{out}"
        );
    }
    let (covered, cms) = last_signature(&signed);
    std::fs::write(path.join("covered.bin"), &covered).unwrap();
    std::fs::write(path.join("sig.p7s"), &cms).unwrap();
    let verify = |content: &str| {
        openssl(
            path,
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                "sig.p7s",
                "-content",
                content,
                "-CAfile",
                "root.pem",
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
        )
    };
    let (ok, out) = verify("covered.bin");
    assert!(ok && out.contains("Verification successful"), "{out}");
    let mut tampered = covered.clone();
    tampered[100] ^= 1;
    std::fs::write(path.join("tampered.bin"), &tampered).unwrap();
    assert!(!verify("tampered.bin").0);
    if let Some((_, out)) = tool(path, "pdfsig", &["signed.pdf"], "poppler-utils") {
        assert!(out.contains("ETSI.CAdES.detached"), "{out}");
        assert!(out.contains("Total document signed"), "{out}");
        assert!(out.contains("Signature is Valid"), "{out}");
    }
    if let Some((ok, out)) = pyhanko_validate(path, "signed.pdf").await {
        assert!(ok, "{out}");
        assert!(out.contains("The signer's certificate is trusted"), "{out}");
        assert!(
            out.contains("The signature covers the entire file"),
            "{out}"
        );
        assert!(out.contains("The signature is judged VALID"), "{out}");
    }
    let mut broken = signed.clone();
    let at = original.len() / 2;
    broken[at] = if broken[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(path.join("broken.pdf"), &broken).unwrap();
    if let Some((_, out)) = tool(path, "pdfsig", &["broken.pdf"], "poppler-utils") {
        assert!(!out.contains("Signature is Valid"), "{out}");
    }

    // A second signature (B-T) on the signed PDF keeps the first one valid.
    let twice = sign_pdf(&signatory, &credential, &signed, "Ades-B-T").await;
    assert!(twice.starts_with(&signed));
    std::fs::write(path.join("twice.pdf"), &twice).unwrap();
    if let Some((ok, out)) = tool(path, "qpdf", &["--check", "twice.pdf"], "qpdf") {
        assert!(ok, "{out}");
    }
    let (covered, cms) = last_signature(&twice);
    std::fs::write(path.join("covered.bin"), &covered).unwrap();
    std::fs::write(path.join("sig.p7s"), &cms).unwrap();
    let (ok, out) = verify("covered.bin");
    assert!(ok, "{out}");
    let (ok, out) = openssl(
        path,
        &[
            "cms", "-cmsout", "-print", "-inform", "DER", "-in", "sig.p7s", "-noout",
        ],
    );
    assert!(ok && out.contains("id-smime-aa-timeStampToken"), "{out}");
    assert!(
        !out.contains("signingTime"),
        "PAdES keeps the time in /M: {out}"
    );
    if let Some((_, out)) = tool(path, "pdfsig", &["twice.pdf"], "poppler-utils") {
        assert!(out.contains("Signature #2"), "{out}");
        assert_eq!(out.matches("Signature is Valid").count(), 2, "{out}");
        assert_eq!(out.matches("Total document signed").count(), 1, "{out}");
    }

    if let Some((ok, out)) = pyhanko_validate(path, "twice.pdf").await {
        assert!(ok, "{out}");
        assert_eq!(
            out.matches("The signature is judged VALID").count(),
            2,
            "{out}"
        );
    }

    // clave's verifier reads both signatures out of the PDF.
    let (status, body) = super::post_json(
        &signatory.app.at("/api/sign/v1/verify"),
        None,
        json!({ "document": STANDARD.encode(&twice) }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reports = body["signatures"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "{body}");
    assert_eq!(reports[0]["format"], "PAdES-B-B", "{body}");
    assert_eq!(reports[1]["format"], "PAdES-B-T", "{body}");
    assert!(reports.iter().all(|r| r["valid"] == true), "{body}");
    assert!(
        reports[0]["coverage"]
            .as_str()
            .unwrap()
            .contains("earlier revision")
    );
    assert_eq!(reports[1]["coverage"], "whole document");
    assert_eq!(reports[1]["signer_run"], "12345678-5");
    let out = signatory
        .app
        .cli(&["sign", "verify", path.join("twice.pdf").to_str().unwrap()]);
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.matches(": VALID").count(), 2, "{}", out.stdout);
    let out = signatory
        .app
        .cli(&["sign", "verify", path.join("broken.pdf").to_str().unwrap()]);
    assert!(!out.success, "{}", out.stdout);
    assert!(out.stdout.contains("INVALID"), "{}", out.stdout);
    let (status, body) = super::post_json(
        &signatory.app.at("/api/sign/v1/verify"),
        None,
        json!({ "document": STANDARD.encode(&original) }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no signature")
    );

    // Something that is not a PDF is refused with a reason, and spends the SAD on nothing.
    let sad = signatory
        .authorize(&credential, &[Sha256::digest(b"hola").to_vec()])
        .await;
    let (status, body) = signatory
        .csc(
            "signatures/signDoc",
            json!({
                "credentialID": credential, "SAD": sad,
                "documents": [{ "document": STANDARD.encode(b"hola"), "signature_format": "P" }],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not a PDF"),
        "{body}"
    );

    // After revocation, pyHanko finds the certificate on the published CRL.
    let out = signatory.app.cli(&["sign", "cert", "revoke", &credential]);
    assert!(out.success, "{}", out.stderr);
    if let Some((ok, out)) = pyhanko_validate(path, "signed.pdf").await {
        assert!(!ok, "{out}");
        assert!(out.contains("The signer's certificate is revoked"), "{out}");
        assert!(out.contains("The signature is judged INVALID"), "{out}");
    }
}
