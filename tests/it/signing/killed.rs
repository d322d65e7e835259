//! The server killed (SIGKILL) while it signs: the SAD is spent exactly when the signature is
//! journaled, never one without the other, and an unspent SAD still signs afterwards.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Signatory, post_json};
use crate::faults::kill::ServeChild;

#[tokio::test]
async fn a_server_killed_while_signing_spends_the_sad_only_with_the_journaled_signature() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let credential = signatory.credential().await;
    // Each round's kill comes a little later, landing before, during or after the signing.
    for round in 0..16u64 {
        let hash = Sha256::digest(format!("resolución {round}")).to_vec();
        let sad = signatory
            .authorize(&credential, std::slice::from_ref(&hash))
            .await;
        let body = json!({
            "credentialID": credential,
            "SAD": sad,
            "hashes": [STANDARD.encode(&hash)],
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
            "signAlgo": "1.2.840.10045.4.3.2",
        });
        let server = ServeChild::start(&signatory.app);
        let url = format!("{}/csc/v2/signatures/signHash", server.url);
        let token = signatory.token.clone();
        let sent = body.clone();
        let request = tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&sent)
                .send()
                .await
        });
        tokio::time::sleep(Duration::from_millis(4 * round)).await;
        server.kill();
        let _ = request.await.unwrap();

        // Retrying on the surviving node tells whether the SAD was spent. The journal is
        // read after the retry: on PostgreSQL a COMMIT the killed server had already sent
        // may still land a moment after the kill, and the retry waits for it on the SAD's row.
        let (status, answer) = post_json(
            &signatory.app.at("/csc/v2/signatures/signHash"),
            Some(&signatory.token),
            body,
        )
        .await;
        let hex_hash = hash.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let journaled = signatory
            .app
            .journal_of_kind("signature.created")
            .await
            .into_iter()
            .filter(|e| e.data["hashes"][0] == hex_hash.as_str())
            .count();
        // Either the killed server signed (its entry is there, and the SAD refuses the retry)
        // or it did not (the retry signs and makes the only entry): never both, never neither.
        assert_eq!(
            journaled, 1,
            "round {round}: {journaled} signatures journaled for one SAD (retry: {status} {answer})"
        );
        assert!(
            status == StatusCode::OK
                || (status == StatusCode::BAD_REQUEST && answer["error"] == "invalid_sad"),
            "round {round}: the retry got {status} {answer}"
        );
        assert!(
            signatory
                .app
                .app
                .journal
                .verify()
                .await
                .unwrap()
                .is_intact(),
            "round {round}"
        );
    }
}
