//! The portal in English: a citizen switches language from the header once, and every page
//! she then reaches through the links is in English, with its language declared for screen
//! readers.

use super::{Size, follow, heading, sign_in};
use crate::support::TestApp;
use crate::support::browser::Browser;
use crate::support::rp::{self, PASSWORD, RUN};

/// Spanish words from the pages' shared parts, which an English page must not show.
const SPANISH: &[&str] = &[
    "Saltar al contenido",
    "Mis datos",
    "Mis permisos",
    "Mi actividad",
    "Cerrar sesión",
    "Hay un problema",
];

#[tokio::test]
async fn a_citizen_switches_to_english_and_every_page_follows_on_a_phone() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let app = TestApp::new().await;
    rp::citizen(&app).await;
    let page = browser.new_page().await;
    Size::Phone.apply(&page).await;
    sign_in(&page, &app, RUN, PASSWORD).await;
    page.click_and_wait("header a[hreflang=en]").await;
    assert_eq!(heading(&page).await, "Your Clave");

    for (href, title) in [
        ("/me/data", "My data"),
        ("/me/permissions", "My permissions"),
        ("/me/activity", "My activity"),
        ("/me/security", "Your account's security"),
        ("/me/sessions", "My sessions"),
        ("/me/verify-call", "Verify a call"),
        ("/me/mailbox", "My mailbox"),
        ("/me/sign", "Documents to sign"),
    ] {
        page.goto(&app.at("/")).await;
        follow(&page, href).await;
        assert_eq!(heading(&page).await, title, "{href}");
        assert_eq!(
            page.eval("document.documentElement.lang").await,
            "en",
            "{href}"
        );
        let text = page.text().await;
        for spanish in SPANISH {
            assert!(!text.contains(spanish), "{href} shows {spanish:?}: {text}");
        }
    }
    page.goto(&app.at("/")).await;
    follow(&page, "/logout").await;
    assert_eq!(heading(&page).await, "Log out?");
}
