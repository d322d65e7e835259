//! Two nodes on one database racing for the same single-use thing: exactly one wins, the other
//! gets a clear refusal, and the journal records one outcome.
//!
//! Covered elsewhere: a code redeemed on two nodes at once (`oidc::requests`), concurrent
//! login failures on two nodes (`login`).

use openidconnect::OAuth2TokenResponse;

use crate::support::TestApp;
use crate::support::rp::{
    Browser, OnConsent, PASSWORD, RUN, Rp, citizen, post_form, register, web_client,
};
use crate::wallet::{ONGOING, call, publish_maria, service_with_wallet_access};

#[tokio::test]
async fn a_refresh_token_sent_to_two_nodes_at_once_is_redeemed_once() {
    let app = TestApp::new().await;
    let node = app.second_node().await;
    citizen(&app).await;
    let client = register(&app, web_client("Nodo")).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    let secret = client.secret.clone().unwrap();
    let basic = Some((client.client_id.as_str(), secret.as_str()));
    for round in 0..3 {
        let (tokens, _) = rp.sign_in(&mut browser, &["profile"]).await;
        let refresh = tokens.refresh_token().unwrap().secret().clone();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let (one, other) = (
            app.at("/oauth2/token"),
            format!("{}/oauth2/token", node.url),
        );
        let (first, second) = tokio::join!(
            post_form(&one, &form, basic),
            post_form(&other, &form, basic),
        );
        let winners = [&first, &second]
            .iter()
            .filter(|(status, _)| *status == 200)
            .count();
        assert_eq!(winners, 1, "round {round}: {first:?} {second:?}");
        let loser = if first.0 == 200 { &second } else { &first };
        assert_eq!(
            (loser.0, loser.1["error"].as_str()),
            (400, Some("invalid_grant")),
            "round {round}"
        );
    }
    assert!(app.app.journal.verify().await.unwrap().is_intact());
}

#[tokio::test]
async fn a_consent_revoked_on_two_nodes_at_once_is_revoked_once() {
    let app = TestApp::new().await;
    let node = app.second_node().await;
    citizen(&app).await;
    publish_maria(&app).await;
    let client = service_with_wallet_access(&app, None).await;
    let rp = Rp::discover(&app, &client).await;
    let mut browser = Browser::new(&app);
    for round in 0..3 {
        let start = rp.start(&["wallet"], &[("authorization_details", ONGOING)]);
        let landing = browser
            .go(
                start.url.as_str(),
                Some((RUN, PASSWORD)),
                OnConsent::Approve,
            )
            .await;
        let tokens = rp.exchange(&landing.code(), start.verifier).await;
        let access = tokens.access_token().secret().clone();
        let (_, list) = call(
            reqwest::Method::GET,
            &app.at("/api/wallet/v1/me/consents"),
            &access,
            None,
        )
        .await;
        let id = list["consents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == "active")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/api/wallet/v1/me/consents/{id}");
        let (one, other) = (app.at(&path), format!("{}{path}", node.url));
        let (first, second) = tokio::join!(
            call(reqwest::Method::DELETE, &one, &access, None),
            call(reqwest::Method::DELETE, &other, &access, None),
        );
        let statuses = [first.0.as_u16(), second.0.as_u16()];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {first:?} {second:?}"
        );
        // The loser either finds the consent already revoked, or its token already revoked
        // with the consent, depending on which step the winner's commit overtook.
        let loser = if statuses[0] == 200 {
            statuses[1]
        } else {
            statuses[0]
        };
        assert!(
            matches!(loser, 401 | 409),
            "round {round}: {first:?} {second:?}"
        );
        let revocations = app
            .journal_of_kind("consent.revoked")
            .await
            .into_iter()
            .filter(|e| e.data["consent_id"] == id.as_str())
            .count();
        assert_eq!(revocations, 1, "round {round}: one revocation journaled");
    }
    assert!(app.app.journal.verify().await.unwrap().is_intact());
}
