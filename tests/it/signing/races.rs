//! A SAD sent to two nodes at once signs once: the single use holds across nodes sharing the
//! database (see also `faults::races`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Signatory, post_json};

#[tokio::test]
async fn a_sad_sent_to_two_nodes_at_once_signs_once() {
    let mut signatory = Signatory::new().await;
    if signatory.enrol().await.is_none() {
        return;
    }
    let node = signatory.app.second_node().await;
    let credential = signatory.credential().await;
    for round in 0..3 {
        let hash = Sha256::digest(format!("acta {round}")).to_vec();
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
        let (one, other) = (
            signatory.app.at("/csc/v2/signatures/signHash"),
            format!("{}/csc/v2/signatures/signHash", node.url),
        );
        let (first, second) = tokio::join!(
            post_json(&one, Some(&signatory.token), body.clone()),
            post_json(&other, Some(&signatory.token), body.clone()),
        );
        let winners = [&first, &second]
            .iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .count();
        assert_eq!(winners, 1, "round {round}: {first:?} {second:?}");
        let loser = if first.0 == StatusCode::OK {
            &second
        } else {
            &first
        };
        assert_eq!(
            (loser.0, loser.1["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_sad")),
            "round {round}"
        );
    }
    assert!(
        signatory
            .app
            .app
            .journal
            .verify()
            .await
            .unwrap()
            .is_intact()
    );
}
