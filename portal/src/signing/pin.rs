//! The signing PIN section of `/me/sign`: a signer may add a PIN that every signature then
//! asks for besides the code, change it (the current PIN is required) or remove it. The
//! PIN wraps the signer's keys; the portal never stores or logs it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use clave_common::http::ClientAddr;
use clave_idp::session::Session;
use clave_signer::SignerError;
use clave_signer::pin::PinChange;

use crate::PortalState;
use crate::error::PageError;
use crate::form;
use crate::i18n::Lang;
use crate::page::see_other;

/// The PIN section's sentences in one language.
#[derive(Debug)]
pub struct PinTexts {
    /// The section's heading.
    pub title: &'static str,
    /// Under it, without a PIN.
    pub intro_none: &'static str,
    /// Under it, with a PIN.
    pub intro_set: &'static str,
    /// The PIN field on the signing forms.
    pub pin_label: &'static str,
    /// Under it.
    pub pin_hint: &'static str,
    /// The current PIN field.
    pub current_label: &'static str,
    /// The new PIN field.
    pub new_label: &'static str,
    /// Under it.
    pub new_hint: &'static str,
    /// The confirmation field.
    pub confirm_label: &'static str,
    /// The save button.
    pub save: &'static str,
    /// The remove button.
    pub remove: &'static str,
    /// After saving.
    pub saved: &'static str,
    /// After removing.
    pub removed: &'static str,
    /// A wrong or missing PIN.
    pub error_pin: &'static str,
    /// A malformed new PIN.
    pub error_format: &'static str,
    /// The confirmation differs.
    pub error_mismatch: &'static str,
    /// Nothing to protect or remove, or a change at the same time.
    pub error_conflict: &'static str,
}

/// Spanish.
pub static ES: PinTexts = PinTexts {
    title: "PIN de firma",
    intro_none: "Puedes agregar un PIN de firma: desde entonces cada firma pedirá el PIN además del código de tu aplicación. El PIN protege tu clave de firma; nadie en el servicio lo conoce y no se puede recuperar.",
    intro_set: "Tu firma está protegida por un PIN: cada firma lo pide además del código de tu aplicación.",
    pin_label: "PIN de firma",
    pin_hint: "El PIN que elegiste para firmar.",
    current_label: "PIN actual",
    new_label: "PIN nuevo",
    new_hint: "Entre 6 y 12 dígitos.",
    confirm_label: "Repite el PIN nuevo",
    save: "Guardar el PIN",
    remove: "Quitar el PIN",
    saved: "El PIN de firma se guardó.",
    removed: "El PIN de firma se quitó.",
    error_pin: "El PIN de firma no es correcto.",
    error_format: "El PIN nuevo debe tener entre 6 y 12 dígitos.",
    error_mismatch: "Los dos PIN nuevos no coinciden.",
    error_conflict: "No se pudo cambiar el PIN: no tienes un certificado de firma que proteger, no hay PIN que quitar, o el PIN cambió al mismo tiempo.",
};

/// English.
pub static EN: PinTexts = PinTexts {
    title: "Signing PIN",
    intro_none: "You can add a signing PIN: from then on every signature asks for the PIN as well as the code from your app. The PIN protects your signing key; nobody at the service knows it and it cannot be recovered.",
    intro_set: "Your signature is protected by a PIN: every signature asks for it as well as the code from your app.",
    pin_label: "Signing PIN",
    pin_hint: "The PIN you chose for signing.",
    current_label: "Current PIN",
    new_label: "New PIN",
    new_hint: "6 to 12 digits.",
    confirm_label: "Repeat the new PIN",
    save: "Save the PIN",
    remove: "Remove the PIN",
    saved: "The signing PIN was saved.",
    removed: "The signing PIN was removed.",
    error_pin: "The signing PIN is not correct.",
    error_format: "The new PIN must have 6 to 12 digits.",
    error_mismatch: "The two new PINs differ.",
    error_conflict: "The PIN could not be changed: you have no signing certificate to protect, there is no PIN to remove, or the PIN changed at the same time.",
};

/// The PIN section's sentences in `lang`.
pub(crate) fn texts(lang: Lang) -> &'static PinTexts {
    match lang {
        Lang::Es => &ES,
        Lang::En => &EN,
    }
}

/// Whether any of the signer's usable credentials asks for a signing PIN.
pub(crate) async fn has_pin(state: &PortalState, account_id: &str) -> Result<bool, SignerError> {
    let now = state.idp.ctx().clock.unix();
    Ok(state
        .signer
        .credentials_of(account_id)
        .await?
        .iter()
        .any(|c| c.is_usable(now) && c.pin_protected))
}

/// Applies a change to every usable credential whose key is kept in software: the signer
/// has one PIN, whichever certificate signs.
async fn change(
    state: &PortalState,
    session: &Session,
    current: Option<&str>,
    new: Option<&str>,
    addr: std::net::IpAddr,
) -> Result<(), SignerError> {
    let account = state
        .idp
        .accounts()
        .get(&session.account_id)
        .await?
        .ok_or_else(|| SignerError::NotFound("the account is gone".into()))?;
    let signer = &state.signer;
    // A citizen who never signed gets the certificate the PIN is to protect.
    signer.citizen_credential(&account).await?;
    let now = state.idp.ctx().clock.unix();
    let mut changed = 0;
    for credential in signer.credentials_of(&account.id).await? {
        if !credential.is_usable(now) || credential.key_backend != "software" {
            continue;
        }
        if new.is_none() && !credential.pin_protected {
            continue;
        }
        signer
            .set_signing_pin(PinChange {
                account: &account,
                credential_id: &credential.id,
                current,
                new,
                addr,
            })
            .await?;
        changed += 1;
    }
    if changed == 0 {
        return Err(SignerError::Conflict(
            "there is no certificate kept in software to protect".into(),
        ));
    }
    Ok(())
}

/// Sets, changes (`action=save`) or removes (`action=remove`) the signing PIN.
pub(crate) async fn post(
    State(state): State<PortalState>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, lang) = form::checked(&headers, &body)?;
    let Some(session) = crate::signed_in::page_session(&state.idp, &headers, lang).await? else {
        return Ok(see_other("/login", Vec::new()));
    };
    let t = texts(lang);
    let refuse = |error: &'static str, field: &'static str| {
        super::list_page_with(&state, &headers, &session, lang, None, Some((error, field)))
    };
    let current = form.non_empty("current_pin");
    let new = match form.get("action") {
        Some("remove") => None,
        _ => {
            let new = form.get("new_pin").unwrap_or_default().trim();
            if clave_signer::pin::check_format(new).is_err() {
                return refuse(t.error_format, "new_pin").await;
            }
            if form.get("confirm_pin").unwrap_or_default().trim() != new {
                return refuse(t.error_mismatch, "confirm_pin").await;
            }
            Some(new)
        }
    };
    let done = if new.is_some() {
        "pin-saved"
    } else {
        "pin-removed"
    };
    match change(&state, &session, current, new, addr).await {
        Ok(()) => Ok(see_other(&format!("/me/sign?done={done}"), Vec::new())),
        Err(SignerError::Pin(_)) => refuse(t.error_pin, "current_pin").await,
        Err(SignerError::Conflict(_) | SignerError::Invalid(_)) => {
            refuse(t.error_conflict, "new_pin").await
        }
        Err(e) => Err(super::fail(lang, e)),
    }
}
