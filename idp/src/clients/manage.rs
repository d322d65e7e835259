//! Changing a registration after the fact (the administration pages' "edit a service"), and
//! the logo citizens see beside a service's name.
//!
//! An edit goes through the same checks as a registration and replaces every field in one
//! transaction, journaled as `client.updated` with the administrator who made it. How the
//! client authenticates (secret, keys, none) is fixed at registration: changing it would
//! invalidate or create a secret behind the service's back, so such an edit is refused.

use clave_common::journal::{self, NewEvent};
use serde_json::{Value, json};

use super::{Client, Clients, NewClient, bind_checked, validate};
use crate::IdpError;

/// Checks a logo's URL: an image the portal links to, so the same rules as a redirect URI
/// (https, or http on loopback for development). Blank means none.
pub(super) fn check_logo(logo: Option<&str>) -> Result<Option<String>, IdpError> {
    match logo.map(str::trim).filter(|l| !l.is_empty()) {
        Some(uri) => {
            validate::check_uri(uri)
                .map_err(|why| IdpError::Invalid(format!("logo URL {uri:?}: {why}")))?;
            Ok(Some(uri.to_owned()))
        }
        None => Ok(None),
    }
}

/// Stores a client's logo in the registration's transaction.
pub(super) async fn store_logo(
    conn: &mut sqlx::AnyConnection,
    client_id: &str,
    logo: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE idp_clients SET logo_uri = $1 WHERE client_id = $2")
        .bind(logo)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl Clients<'_> {
    /// The logo registered for `client_id`, if any.
    pub async fn logo_uri(&self, client_id: &str) -> Result<Option<String>, IdpError> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT logo_uri FROM idp_clients WHERE client_id = $1")
                .bind(client_id)
                .fetch_optional(self.ctx().db.pool())
                .await?;
        Ok(row.and_then(|(logo,)| logo))
    }

    /// Replaces `client_id`'s registration with `edit` (checked as a registration is) and its
    /// logo, in one transaction; journaled as `client.updated` by `actor`. The authentication
    /// method must stay the one registered; a blank sector keeps the current one.
    pub async fn update(
        &self,
        client_id: &str,
        edit: NewClient,
        logo_uri: Option<&str>,
        actor: &str,
    ) -> Result<Client, IdpError> {
        let current = self
            .get(client_id)
            .await?
            .ok_or(IdpError::NotFound("client"))?;
        let logo_uri = check_logo(logo_uri)?;
        let checked = self.check(edit).await?;
        if checked.auth_method != current.token_endpoint_auth_method {
            return Err(IdpError::Invalid(format!(
                "the service authenticates with {}, set when it was registered; register a new \
                 service to change it",
                current.token_endpoint_auth_method.as_str()
            )));
        }
        let sector = checked.sector.clone().unwrap_or(current.sector);
        let jwks_text = checked.jwks.as_ref().map(Value::to_string);
        let now = self.ctx().clock.now();
        let mut tx = self.ctx().db.begin().await?;
        let update = sqlx::query(
            "UPDATE idp_clients SET redirect_uris = $1, post_logout_redirect_uris = $2, \
             scopes = $3, grant_types = $4, subject_type = $5, sector = $6, \
             backchannel_logout_uri = $7, require_par = $8, id_token_alg = $9, min_acr = $10, \
             jwks = $11, jwks_uri = $12, name = $13, logo_uri = $14, updated_at = $15 \
             WHERE client_id = $16 AND removed_at IS NULL",
        );
        let updated = bind_checked(update, &checked, &sector, jwks_text.as_deref())
            .bind(&checked.name)
            .bind(logo_uri.as_deref())
            .bind(now.unix_timestamp())
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(IdpError::NotFound("client"));
        }
        let event = NewEvent::new("client.updated")
            .actor(actor)
            .subject(client_id)
            .data(json!({
                "name": checked.name,
                "redirect_uris": checked.redirect_uris,
                "post_logout_redirect_uris": checked.post_logout_redirect_uris,
                "scopes": checked.scopes,
                "grant_types": checked.grant_types,
                "subject_type": checked.subject_type.as_str(),
                "min_acr": checked.min_acr,
                "require_par": checked.require_par,
                "logo_uri": logo_uri,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        self.get(client_id)
            .await?
            .ok_or(IdpError::NotFound("client"))
    }
}
