//! The account's own journeys in a real browser: activating with a front-desk code,
//! enrolling an authenticator app and signing in with it, and registering a passkey on a
//! (virtual) platform authenticator and signing in with it alone.

use clave_common::Run;
use clave_idp::accounts::NewCitizen;

use super::callers::{agent, agent_signs_in};
use super::{Size, follow, heading, shot, sign_in, text_of, totp_from_uri};
use crate::support::TestApp;
use crate::support::browser::{Browser, Page};
use crate::support::rp::{self, PASSWORD, RUN};

/// The home page's greeting for María.
const GREETING: &str = "Hola, María Carmen";

/// From the home page, signs out through the confirmation page.
async fn sign_out(page: &Page<'_>) {
    let home = page.url().await;
    assert!(
        home.ends_with('/'),
        "signing out from the home page: {home}"
    );
    follow(page, "/logout").await;
    assert_eq!(heading(page).await, "¿Cerrar sesión?");
    page.click_and_wait("button[name=decision][value=logout]")
        .await;
    assert_eq!(heading(page).await, "Cerraste tu sesión");
}

#[tokio::test]
async fn a_citizen_activates_with_a_front_desk_code_and_is_invited_to_add_a_second_factor() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    // Known to the civil registry, never signed in: no password yet.
    let run = Run::parse(RUN).unwrap();
    let maria = app
        .app
        .idp
        .accounts()
        .create(NewCitizen {
            run,
            given_names: "María Carmen".into(),
            family_names: "Del Río González".into(),
            email: None,
            password: None,
        })
        .await
        .unwrap();
    let (pedro, secret) = agent(&app).await;

    // At the front desk, the agent checks her card and issues a code in the console.
    let desk = browser.new_private_page().await;
    Size::Desktop.apply(&desk).await;
    agent_signs_in(&desk, &app, &secret).await;
    follow(&desk, "/agent").await;
    desk.fill("#activation-run", RUN).await;
    desk.click("#activation-in-person").await;
    desk.click_and_wait("form[action='/agent/activation'] button[type=submit]")
        .await;
    let code = text_of(&desk, "#activation-code").await;
    assert_eq!(code.len(), 19, "four groups of four: {code}");
    let issued = app.journal_of_kind("activation.code_issued").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].actor.as_deref(), Some(pedro.id.as_str()));
    assert_eq!(issued[0].subject.as_deref(), Some(maria.id.as_str()));

    // At home, on her phone, she activates: a typo in the repeated password first.
    let page = browser.new_private_page().await;
    Size::Phone.apply(&page).await;
    page.goto(&app.at("/")).await;
    follow(&page, "/login").await;
    follow(&page, "/activate").await;
    assert_eq!(heading(&page).await, "Activar mi cuenta");
    shot(&page, Size::Phone, "activate").await;
    page.fill("#run", RUN).await;
    page.fill("#code", &code.to_lowercase()).await;
    page.fill("#password", PASSWORD).await;
    page.fill("#password-again", "cerro santa lucia al amanecer")
        .await;
    page.click_and_wait("form[action='/activate'] button[type=submit]")
        .await;
    assert!(
        text_of(&page, "#error-summary")
            .await
            .contains("Las contraseñas no coinciden."),
        "{}",
        page.text().await
    );
    page.fill("#run", RUN).await;
    page.fill("#code", &code).await;
    page.fill("#password", PASSWORD).await;
    page.fill("#password-again", PASSWORD).await;
    page.click_and_wait("form[action='/activate'] button[type=submit]")
        .await;
    assert_eq!(heading(&page).await, "Tu cuenta está activa");
    let invitation = text_of(&page, "#activated").await;
    assert!(invitation.contains("segundo factor"), "{invitation}");
    shot(&page, Size::Phone, "activated").await;

    // The code is spent, and the password she chose opens her account.
    follow(&page, "/login").await;
    page.fill("#run", RUN).await;
    page.fill("#password", PASSWORD).await;
    let landed = page
        .click_and_wait("form[action='/login'] button[type=submit]")
        .await;
    assert!(landed.ends_with('/'), "{landed}");
    assert!(page.text().await.contains(GREETING));
    // The security page is where the invitation leads: no second factor yet, one to add.
    follow(&page, "/me/security").await;
    assert_eq!(heading(&page).await, "Seguridad de tu cuenta");
    assert!(
        page.eval("!!document.querySelector('button[name=action][value=totp_begin]')")
            .await
            == true
    );
    let account = app
        .app
        .idp
        .accounts()
        .find_by_run(&Run::parse(RUN).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.id, maria.id);
    assert!(
        app.journal_of_kind("account.activated")
            .await
            .iter()
            .any(|e| e.subject.as_deref() == Some(maria.id.as_str())),
        "the activation is journaled"
    );
}

/// Enrols an authenticator app from the security page, asks for it at every login, signs
/// out and back in with password and code.
async fn totp_journey(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    let maria = rp::citizen(&app).await;
    let page = browser.new_page().await;
    size.apply(&page).await;
    let landed = sign_in(&page, &app, RUN, PASSWORD).await;
    assert!(landed.ends_with('/'), "{landed}");
    assert_eq!(heading(&page).await, "Tu Clave");
    shot(&page, size, "home").await;

    follow(&page, "/me/security").await;
    page.click_and_wait("button[name=action][value=totp_begin]")
        .await;
    // The page shows the QR code, the key as text and an otpauth link for this phone.
    assert!(
        page.eval("!!document.querySelector('.qr-code svg')").await == true,
        "a QR code is shown"
    );
    let key = text_of(&page, ".totp-key").await;
    assert!(key.len() >= 16, "{key}");
    let uri = page
        .eval("document.querySelector('a[href^=\"otpauth:\"]').href")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        uri.contains(&format!("secret={}", key.replace(' ', ""))),
        "{uri}"
    );
    shot(&page, size, "security-totp").await;
    // A wrong code first: refused, and the enrolment still open.
    page.fill("#code", "000000").await;
    page.click_and_wait("form input[value=totp_confirm] ~ button[type=submit]")
        .await;
    assert!(
        page.eval("!!document.querySelector('#error-summary')")
            .await
            == true,
        "{}",
        page.text().await
    );
    let code = totp_from_uri(&app, &uri);
    page.fill("#code", &code).await;
    page.click_and_wait("form input[value=totp_confirm] ~ button[type=submit]")
        .await;
    assert_eq!(
        text_of(&page, "p.notice[role=status]").await,
        "La aplicación de autenticación quedó activa."
    );
    assert!(app.app.idp.factors().summary(&maria.id).await.unwrap().totp);

    // Changing more now needs the new factor: the page says so and leads to it.
    app.advance(time::Duration::seconds(30));
    follow(&page, "/login/second-factor?then=security").await;
    page.fill("#code", &totp_from_uri(&app, &uri)).await;
    let back = page
        .click_and_wait("form[action='/login/second-factor'] button[type=submit]")
        .await;
    assert!(back.ends_with("/me/security"), "{back}");
    page.click_and_wait("button[name=value][value=on]").await;
    assert!(
        app.app
            .idp
            .factors()
            .summary(&maria.id)
            .await
            .unwrap()
            .always_ask
    );
    shot(&page, size, "security").await;

    page.goto(&app.at("/")).await;
    sign_out(&page).await;
    // Signed out, the portal's pages send the browser to the login.
    page.goto(&app.at("/me/security")).await;
    assert!(page.url().await.ends_with("/login"));

    // Password, then the code from the app.
    page.goto(&app.at("/")).await;
    follow(&page, "/login").await;
    assert_eq!(heading(&page).await, "Ingresa con tu Clave");
    shot(&page, size, "login").await;
    page.fill("#run", RUN).await;
    page.fill("#password", PASSWORD).await;
    let landed = page
        .click_and_wait("form[action='/login'] button[type=submit]")
        .await;
    assert!(landed.ends_with("/login/second-factor"), "{landed}");
    shot(&page, size, "second-factor").await;
    app.advance(time::Duration::seconds(30));
    page.fill("#code", &totp_from_uri(&app, &uri)).await;
    let home = page
        .click_and_wait("form[action='/login/second-factor'] button[type=submit]")
        .await;
    assert!(home.ends_with('/'), "{home}");
    assert!(page.text().await.contains(GREETING));
    // At level 2 the security page opens its changes without asking again.
    follow(&page, "/me/security").await;
    assert!(
        page.eval("!!document.querySelector('button[name=value][value=off]')")
            .await
            == true,
        "{}",
        page.text().await
    );
    assert_eq!(app.journal_of_kind("totp.enrolled").await.len(), 1);
    assert_eq!(
        app.journal_of_kind("factors.always_ask_changed")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_citizen_enrols_an_authenticator_app_and_signs_in_with_it_on_a_phone() {
    totp_journey(Size::Phone).await;
}

#[tokio::test]
async fn a_citizen_enrols_an_authenticator_app_and_signs_in_with_it_on_a_desktop() {
    totp_journey(Size::Desktop).await;
}

/// Registers a passkey from the passkeys page on the device's authenticator, signs out and
/// signs in with the passkey alone.
async fn passkey_journey(size: Size) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    // WebAuthn needs a host name for the relying party, not an IP address.
    let app = TestApp::on_localhost().await;
    let maria = rp::citizen(&app).await;
    let page = browser.new_page().await;
    size.apply(&page).await;
    let authenticator = page.add_virtual_authenticator().await;
    sign_in(&page, &app, RUN, PASSWORD).await;
    follow(&page, "/me/security").await;
    follow(&page, "/me/passkeys").await;
    assert_eq!(heading(&page).await, "Llaves de acceso");
    page.wait_for(
        "!document.getElementById('passkey-register-box').hidden",
        "the registration button showing",
    )
    .await;
    page.fill("#passkey-name", "Mi teléfono").await;
    let saved = page.click_and_wait("#passkey-register").await;
    assert!(saved.contains("/me/passkeys?done=saved"), "{saved}");
    let row = text_of(&page, "#passkeys tbody tr").await;
    assert!(row.contains("Nunca"), "not used yet: {row}");
    assert_eq!(
        page.eval("document.querySelector('#passkeys tbody input[name=name]').value")
            .await,
        "Mi teléfono"
    );
    shot(&page, size, "passkeys").await;
    let held = page.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );
    assert_eq!(
        app.app.idp.passkeys().count(&maria.id).await.unwrap(),
        1,
        "the server keeps it"
    );

    page.goto(&app.at("/")).await;
    sign_out(&page).await;

    // No RUN, no password. The login page offers the passkey two ways: in the RUN field's
    // autofill (conditional mediation, what a phone's keyboard shows), which a virtual
    // authenticator answers by itself, and with a button. The phone takes the first; the
    // desktop, in a browser without passkey autofill, presses the button.
    let home = match size {
        Size::Phone => {
            page.goto(&app.at("/login")).await;
            page.wait_until_loaded(|url| !url.contains("/login")).await
        }
        Size::Desktop => {
            page.disable_passkey_autofill().await;
            page.goto(&app.at("/login")).await;
            page.wait_for(
                "!document.getElementById('passkey-login-box').hidden",
                "the passkey button showing",
            )
            .await;
            page.click_and_wait("#passkey-login").await
        }
    };
    assert!(home.ends_with('/'), "{home}");
    assert!(page.text().await.contains(GREETING));
    follow(&page, "/me/security").await;
    follow(&page, "/me/passkeys").await;
    let row = text_of(&page, "#passkeys tbody tr").await;
    assert!(!row.contains("Nunca"), "the passkey was used: {row}");
    let signed = page.authenticator_credentials(&authenticator).await[0]["signCount"]
        .as_u64()
        .unwrap_or_default();
    assert!(signed >= 1, "the authenticator signed");
}

#[tokio::test]
async fn a_citizen_registers_a_passkey_and_signs_in_with_it_on_a_phone() {
    passkey_journey(Size::Phone).await;
}

#[tokio::test]
async fn a_citizen_registers_a_passkey_and_signs_in_with_it_on_a_desktop() {
    passkey_journey(Size::Desktop).await;
}
