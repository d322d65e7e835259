use serde_json::Value;

use super::softkey::SoftKey;
use super::*;
use crate::accounts::NewCitizen;
use crate::accounts::testing::TestIdp;

const ORIGIN: &str = "https://id.example.cl";
const RP_ID: &str = "id.example.cl";

async fn setup() -> (TestIdp, Account) {
    let t = TestIdp::with_config(|c| c.server.public_url = ORIGIN.into()).await;
    let account = t
        .idp
        .accounts()
        .create(NewCitizen {
            run: clave_common::Run::parse("12.345.678-5").unwrap(),
            given_names: "María Carmen".into(),
            family_names: "Del Río González".into(),
            email: None,
            password: None,
        })
        .await
        .unwrap();
    (t, account)
}

async fn registered(t: &TestIdp, account: &Account) -> (SoftKey, PasskeyInfo) {
    let mut key = SoftKey::new(RP_ID, ORIGIN);
    let ceremony = t.idp.passkeys().start_registration(account).await.unwrap();
    let answer = key.register(&ceremony.options);
    let info = t
        .idp
        .passkeys()
        .finish_registration(&account.id, &ceremony.id, &answer, "  Teléfono ")
        .await
        .unwrap();
    (key, info)
}

async fn journal_kinds(t: &TestIdp, kind: &str) -> Vec<Value> {
    t.idp
        .ctx()
        .journal
        .list(clave_common::journal::JournalFilter {
            kind: Some(kind.into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn registration_asks_for_a_discoverable_verified_credential_of_this_site() {
    let (t, account) = setup().await;
    let ceremony = t.idp.passkeys().start_registration(&account).await.unwrap();
    let options = &ceremony.options["publicKey"];
    assert_eq!(options["rp"]["id"], RP_ID);
    assert_eq!(options["user"]["name"], "12.345.678-5");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
}

#[tokio::test]
async fn a_registered_passkey_is_a_level_3_second_factor() {
    let (t, account) = setup().await;
    let (mut key, info) = registered(&t, &account).await;
    assert_eq!(info.name, "Teléfono");
    assert_eq!(t.idp.passkeys().count(&account.id).await.unwrap(), 1);

    t.clock.advance(time::Duration::seconds(60));
    let ceremony = t
        .idp
        .passkeys()
        .start_second_factor(&account.id)
        .await
        .unwrap();
    let allowed = ceremony.options["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(allowed.len(), 1);
    let answer = key.assert(&ceremony.options);
    let used = t
        .idp
        .passkeys()
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await
        .unwrap();
    assert_eq!(used.account_id, account.id);
    assert_eq!(used.passkey_id, info.id);
    let auth = used.authentication(true);
    assert_eq!(auth.acr, LOA_3);
    assert_eq!(auth.amr, vec!["pwd", "hwk", "user", "mfa"]);

    let listed = t.idp.passkeys().list(&account.id).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(1_800_000_060));
    assert_eq!(journal_kinds(&t, "passkey.registered").await.len(), 1);
    let uses = journal_kinds(&t, "passkey.used").await;
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0]["method"], "second_factor");
}

#[tokio::test]
async fn a_discoverable_passkey_logs_in_without_the_run() {
    let (t, account) = setup().await;
    let (mut key, _) = registered(&t, &account).await;
    let ceremony = t.idp.passkeys().start_passwordless().await.unwrap();
    assert_eq!(ceremony.options["mediation"], "conditional");
    let answer = key.assert(&ceremony.options);
    let used = t
        .idp
        .passkeys()
        .finish_passwordless(&ceremony.id, &answer)
        .await
        .unwrap();
    assert_eq!(used.account_id, account.id);
    let auth = used.authentication(false);
    assert_eq!(auth.acr, LOA_3);
    assert_eq!(auth.amr, vec!["hwk", "user", "mfa"]);
}

#[test]
fn without_user_verification_a_passkey_is_level_2() {
    let used = PasskeyUse {
        account_id: "a".into(),
        passkey_id: "p".into(),
        user_verified: false,
        backup_eligible: true,
    };
    let auth = used.authentication(true);
    assert_eq!(auth.acr, LOA_2);
    assert_eq!(auth.amr, vec!["pwd", "swk", "mfa"]);
}

#[tokio::test]
async fn an_authenticator_that_does_not_verify_the_user_cannot_register() {
    let (t, account) = setup().await;
    let mut key = SoftKey::new(RP_ID, ORIGIN);
    key.user_verified = false;
    let ceremony = t.idp.passkeys().start_registration(&account).await.unwrap();
    let answer = key.register(&ceremony.options);
    let refused = t
        .idp
        .passkeys()
        .finish_registration(&account.id, &ceremony.id, &answer, "")
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(t.idp.passkeys().count(&account.id).await.unwrap(), 0);
}

#[tokio::test]
async fn answers_made_for_another_origin_are_refused() {
    let (t, account) = setup().await;
    // At registration.
    let mut phished = SoftKey::new(RP_ID, "https://id.example.cl.evil.example");
    let ceremony = t.idp.passkeys().start_registration(&account).await.unwrap();
    let answer = phished.register(&ceremony.options);
    let refused = t
        .idp
        .passkeys()
        .finish_registration(&account.id, &ceremony.id, &answer, "")
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );

    // At login.
    let (mut key, _) = registered(&t, &account).await;
    key.origin = "https://evil.example".into();
    let ceremony = t
        .idp
        .passkeys()
        .start_second_factor(&account.id)
        .await
        .unwrap();
    let answer = key.assert(&ceremony.options);
    let refused = t
        .idp
        .passkeys()
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(journal_kinds(&t, "passkey.refused").await.len(), 1);
    assert!(journal_kinds(&t, "passkey.used").await.is_empty());
}

#[tokio::test]
async fn an_answer_to_another_challenge_is_refused() {
    let (t, account) = setup().await;
    let mut key = SoftKey::new(RP_ID, ORIGIN);
    let ceremony = t.idp.passkeys().start_registration(&account).await.unwrap();
    let answer = key.register_with_challenge(
        &ceremony.options,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let refused = t
        .idp
        .passkeys()
        .finish_registration(&account.id, &ceremony.id, &answer, "")
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );

    let (mut key, _) = registered(&t, &account).await;
    let first = t
        .idp
        .passkeys()
        .start_second_factor(&account.id)
        .await
        .unwrap();
    let second = t
        .idp
        .passkeys()
        .start_second_factor(&account.id)
        .await
        .unwrap();
    // Signed for the first challenge, presented for the second.
    let answer = key.assert(&first.options);
    let refused = t
        .idp
        .passkeys()
        .finish_second_factor(&account.id, &second.id, &answer)
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_replayed_assertion_is_refused() {
    let (t, account) = setup().await;
    let (mut key, _) = registered(&t, &account).await;
    let ceremony = t
        .idp
        .passkeys()
        .start_second_factor(&account.id)
        .await
        .unwrap();
    let answer = key.assert(&ceremony.options);
    let passkeys = t.idp.passkeys();
    passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await
        .unwrap();
    // The same answer again, to the same ceremony (now consumed) …
    let again = passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await;
    assert!(
        matches!(again, Err(PasskeyError::CeremonyExpired)),
        "{again:?}"
    );
    // … or to a fresh one (whose challenge it does not carry).
    let fresh = passkeys.start_passwordless().await.unwrap();
    let again = passkeys.finish_passwordless(&fresh.id, &answer).await;
    assert!(matches!(again, Err(PasskeyError::Refused(_))), "{again:?}");
    assert_eq!(journal_kinds(&t, "passkey.used").await.len(), 1);
}

#[tokio::test]
async fn a_counter_that_goes_back_is_refused() {
    let (t, account) = setup().await;
    let (mut key, _) = registered(&t, &account).await;
    let passkeys = t.idp.passkeys();
    key.counter = 10;
    let ceremony = passkeys.start_second_factor(&account.id).await.unwrap();
    let answer = key.assert(&ceremony.options);
    passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await
        .unwrap();

    // A clone still at 5 answers a fresh challenge correctly, but its counter is behind.
    let ceremony = passkeys.start_second_factor(&account.id).await.unwrap();
    let challenge = ceremony.options["publicKey"]["challenge"].as_str().unwrap();
    let answer = key.assert_with(challenge, 5);
    let refused = passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_unknown_credential_is_refused() {
    let (t, account) = setup().await;
    registered(&t, &account).await;
    let mut stranger = SoftKey::new(RP_ID, ORIGIN);
    stranger.user_handle = user_handle(&account.id).unwrap().as_bytes().to_vec();
    let passkeys = t.idp.passkeys();
    let ceremony = passkeys.start_passwordless().await.unwrap();
    let answer = stranger.assert(&ceremony.options);
    let refused = passkeys.finish_passwordless(&ceremony.id, &answer).await;
    assert!(
        matches!(refused, Err(PasskeyError::UnknownCredential)),
        "{refused:?}"
    );

    let ceremony = passkeys.start_second_factor(&account.id).await.unwrap();
    let answer = stranger.assert(&ceremony.options);
    let refused = passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::UnknownCredential)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_ceremony_lapses_and_belongs_to_its_purpose() {
    let (t, account) = setup().await;
    let (mut key, _) = registered(&t, &account).await;
    let passkeys = t.idp.passkeys();

    let ceremony = passkeys.start_second_factor(&account.id).await.unwrap();
    t.clock.advance(time::Duration::seconds(CEREMONY_TTL_SECS));
    let answer = key.assert(&ceremony.options);
    let late = passkeys
        .finish_second_factor(&account.id, &ceremony.id, &answer)
        .await;
    assert!(
        matches!(late, Err(PasskeyError::CeremonyExpired)),
        "{late:?}"
    );

    // A second-factor ceremony cannot finish a passwordless login.
    let ceremony = passkeys.start_second_factor(&account.id).await.unwrap();
    let answer = key.assert(&ceremony.options);
    let wrong = passkeys.finish_passwordless(&ceremony.id, &answer).await;
    assert!(
        matches!(wrong, Err(PasskeyError::CeremonyExpired)),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn passkeys_are_named_listed_and_deleted_by_their_owner_only() {
    let (t, account) = setup().await;
    let (_, info) = registered(&t, &account).await;
    let passkeys = t.idp.passkeys();
    passkeys
        .rename(&account.id, &info.id, "Llave azul")
        .await
        .unwrap();
    assert_eq!(
        passkeys.list(&account.id).await.unwrap()[0].name,
        "Llave azul"
    );
    assert!(matches!(
        passkeys
            .rename(&account.id, &info.id, &"x".repeat(MAX_NAME + 1))
            .await,
        Err(PasskeyError::InvalidName(_))
    ));
    assert!(matches!(
        passkeys.delete("someone-else", &info.id).await,
        Err(PasskeyError::NotFound)
    ));
    passkeys.delete(&account.id, &info.id).await.unwrap();
    assert!(passkeys.list(&account.id).await.unwrap().is_empty());
    assert!(matches!(
        passkeys.start_second_factor(&account.id).await,
        Err(PasskeyError::NoPasskeys)
    ));
    assert_eq!(journal_kinds(&t, "passkey.deleted").await.len(), 1);
}

#[tokio::test]
async fn the_last_factor_stays_while_every_login_asks_for_one_even_when_two_nodes_race() {
    let (t, account) = setup().await;
    let (_, first) = registered(&t, &account).await;
    let (_, second) = registered(&t, &account).await;
    t.idp
        .factors()
        .set_always_ask(&account.id, true)
        .await
        .unwrap();
    // Two nodes delete one passkey each at the same moment: one of them must be refused.
    let other_node = crate::Idp::new(crate::oidc::testing::ctx_like(t.idp.ctx()));
    let (here, there) = (t.idp.passkeys(), other_node.passkeys());
    let (a, b) = tokio::join!(
        here.delete(&account.id, &first.id),
        there.delete(&account.id, &second.id)
    );
    let refused = [&a, &b]
        .iter()
        .filter(|r| matches!(r, Err(PasskeyError::Idp(IdpError::Conflict(_)))))
        .count();
    assert_eq!(
        (usize::from(a.is_ok()) + usize::from(b.is_ok()), refused),
        (1, 1),
        "{a:?} {b:?}"
    );
    assert_eq!(t.idp.passkeys().list(&account.id).await.unwrap().len(), 1);
    assert_eq!(journal_kinds(&t, "passkey.deleted").await.len(), 1);
}
