//! Publishing values: by authoritative sources (one value or a batch), and by the citizen for
//! the attributes they may assert themselves.
//!
//! A batch is checked item by item first; the items that pass are written in one transaction
//! and the others reported, so nothing is half-written: either every valid item is stored or,
//! if the database fails, none is. A source authoritative for identity (the citizen's names,
//! [`IDENTITY_ATTRIBUTES`]: the civil registry) creates the accounts of citizens it publishes
//! for who have none yet; they activate them later.

use std::collections::{HashMap, HashSet};

use clave_common::Run;
use clave_common::journal::{self, NewEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalogue::{AttributeDef, IDENTITY_ATTRIBUTES};
use crate::value::{self, is_email, is_phone, parse_instant};
use crate::values::{self, CITIZEN, NewValue, Recorded};
use crate::{Wallet, WalletError};

/// The longest `source_reference`.
const MAX_REFERENCE: usize = 200;

/// One value a source publishes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// The citizen's RUN, in any usual notation.
    pub run: String,
    /// The attribute.
    pub attribute: String,
    /// The value, of the attribute's type.
    pub value: Value,
    /// The source's own reference for it.
    #[serde(default)]
    pub source_reference: Option<String>,
    /// From when it holds: a date or an RFC 3339 time.
    #[serde(default)]
    pub valid_from: Option<String>,
    /// Until when it holds.
    #[serde(default)]
    pub valid_until: Option<String>,
}

/// Why one item was not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemError {
    /// The RUN is malformed or its check digit is wrong.
    InvalidRun,
    /// The catalogue has no such attribute.
    UnknownAttribute,
    /// The source is not authoritative for the attribute.
    NotAuthoritative,
    /// The value does not fit the attribute's type, or a validity bound is malformed.
    InvalidValue,
    /// No citizen has this RUN, and the source may not create citizens.
    UnknownCitizen,
    /// The item is not a publication object.
    Malformed,
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemResult {
    /// The item's position in the batch, from 0.
    pub index: usize,
    /// `created`, `updated`, `unchanged` or `rejected`.
    pub status: &'static str,
    /// The citizen's account was created by this item.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub citizen_created: bool,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
    /// What to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl ItemResult {
    fn rejected(index: usize, error: ItemError, description: impl Into<String>) -> Self {
        Self {
            index,
            status: "rejected",
            citizen_created: false,
            error: Some(error),
            error_description: Some(description.into()),
        }
    }
}

/// The outcome of a publication.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchReport {
    /// Items written (created or updated).
    pub written: usize,
    /// Items already current, so not written again.
    pub unchanged: usize,
    /// Items rejected.
    pub rejected: usize,
    /// Accounts created for citizens the registry published.
    pub citizens_created: usize,
    /// One result per item, in order.
    pub results: Vec<ItemResult>,
}

/// An item that passed the checks.
struct Valid {
    index: usize,
    run: Run,
    attribute: String,
    value: Value,
    reference: Option<String>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
}

impl Wallet {
    /// Publishes `items` as source `client_id`; see the module documentation. An item that
    /// could not even be read is passed as `Err(reason)` and reported as malformed.
    pub async fn publish(
        &self,
        client_id: &str,
        items: Vec<Result<Publication, String>>,
    ) -> Result<BatchReport, WalletError> {
        let catalogue: HashMap<String, AttributeDef> = self
            .catalogue()
            .list()
            .await?
            .into_iter()
            .map(|d| (d.name.clone(), d))
            .collect();
        let authoritative: HashSet<String> = catalogue
            .values()
            .filter(|d| d.sources.iter().any(|s| s == client_id))
            .map(|d| d.name.clone())
            .collect();
        let creates_citizens = IDENTITY_ATTRIBUTES
            .iter()
            .any(|a| authoritative.contains(*a));

        let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
        let mut valid = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let item = match item {
                Ok(item) => item,
                Err(reason) => {
                    results[index] =
                        Some(ItemResult::rejected(index, ItemError::Malformed, reason));
                    continue;
                }
            };
            match check_item(index, item, &catalogue, &authoritative) {
                Ok(v) => valid.push(v),
                Err(rejected) => results[index] = Some(rejected),
            }
        }
        // Names a registry sends in the same batch, for the accounts it creates.
        let mut names: HashMap<String, (String, String)> = HashMap::new();
        for v in &valid {
            let entry = names.entry(v.run.compact()).or_default();
            match (v.attribute.as_str(), v.value.as_str()) {
                ("given_names", Some(n)) => entry.0 = n.to_owned(),
                ("family_names", Some(n)) => entry.1 = n.to_owned(),
                _ => {}
            }
        }

        let ctx = self.idp().ctx();
        let now = ctx.clock.unix();
        let mut tx = ctx.db.begin().await?;
        let mut accounts: HashMap<String, String> = HashMap::new();
        let (mut written, mut unchanged, mut created) = (0, 0, 0);
        for v in valid {
            let compact = v.run.compact();
            let mut citizen_created = false;
            let account_id = match accounts.get(&compact) {
                Some(id) => id.clone(),
                None => {
                    let found: Option<(String,)> =
                        sqlx::query_as("SELECT id FROM idp_accounts WHERE run = $1")
                            .bind(&compact)
                            .fetch_optional(&mut *tx)
                            .await?;
                    match found {
                        Some((id,)) => id,
                        None if creates_citizens => {
                            let (given, family) = names.get(&compact).cloned().unwrap_or_default();
                            let account = self
                                .idp()
                                .accounts()
                                .create_registered(&mut tx, v.run, &given, &family)
                                .await?;
                            citizen_created = true;
                            created += 1;
                            account.id
                        }
                        None => {
                            results[v.index] = Some(ItemResult::rejected(
                                v.index,
                                ItemError::UnknownCitizen,
                                format!("no citizen has the RUN {}", v.run),
                            ));
                            continue;
                        }
                    }
                }
            };
            accounts.insert(compact, account_id.clone());
            let new = NewValue {
                account_id: &account_id,
                attribute: &v.attribute,
                value: &v.value,
                source: client_id,
                source_reference: v.reference.as_deref(),
                verified: true,
                valid_from: v.valid_from,
                valid_until: v.valid_until,
            };
            let (recorded, _) = values::record(&mut tx, &new, now).await.map_err(race)?;
            if recorded != Recorded::Unchanged {
                self.mirror_into_account(&mut tx, &account_id, &v.attribute, &v.value, true)
                    .await?;
                written += 1;
            } else {
                unchanged += 1;
            }
            results[v.index] = Some(ItemResult {
                index: v.index,
                status: status_name(recorded),
                citizen_created,
                error: None,
                error_description: None,
            });
        }
        let results: Vec<ItemResult> = results.into_iter().flatten().collect();
        let rejected = results.iter().filter(|r| r.error.is_some()).count();
        if written > 0 || created > 0 {
            let event = NewEvent::new("attribute.published")
                .actor(client_id)
                .data(json!({
                    "source": client_id,
                    "written": written,
                    "citizens_created": created,
                }));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
        }
        tx.commit().await?;
        Ok(BatchReport {
            written,
            unchanged,
            rejected,
            citizens_created: created,
            results,
        })
    }

    /// Records `value` as the citizen's own assertion of `attribute` (unverified).
    /// Journaled as `attribute.asserted`.
    pub async fn assert_value(
        &self,
        account_id: &str,
        attribute: &str,
        value: &Value,
    ) -> Result<Recorded, WalletError> {
        let def = self.catalogue().get(attribute).await?.ok_or_else(|| {
            WalletError::NotFound(format!("no attribute {attribute:?} in the catalogue"))
        })?;
        if !def.self_asserted {
            return Err(WalletError::Forbidden(format!(
                "{attribute} comes from its authoritative source; ask the source to correct it"
            )));
        }
        let value = value::check(def.kind, &def.codes, value).map_err(WalletError::Invalid)?;
        check_contact(attribute, &value)?;
        let ctx = self.idp().ctx();
        let mut tx = ctx.db.begin().await?;
        let new = NewValue {
            account_id,
            attribute,
            value: &value,
            source: CITIZEN,
            source_reference: None,
            verified: false,
            valid_from: None,
            valid_until: None,
        };
        let (recorded, _) = values::record(&mut tx, &new, ctx.clock.unix())
            .await
            .map_err(race)?;
        if recorded != Recorded::Unchanged {
            self.mirror_into_account(&mut tx, account_id, attribute, &value, false)
                .await?;
            let event = NewEvent::new("attribute.asserted")
                .actor(account_id)
                .subject(account_id)
                .data(json!({"attribute": attribute}));
            journal::append(&mut tx, ctx.clock.now(), &event).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// Keeps the idp's copy of the names and the email address in step with the wallet.
    pub(crate) async fn mirror_into_account(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        attribute: &str,
        value: &Value,
        verified: bool,
    ) -> Result<(), WalletError> {
        let accounts = self.idp().accounts();
        match (attribute, value.as_str()) {
            ("given_names", Some(n)) => accounts.set_names(conn, account_id, Some(n), None).await?,
            ("family_names", Some(n)) => {
                accounts.set_names(conn, account_id, None, Some(n)).await?
            }
            ("email", Some(e)) => {
                accounts
                    .set_email(conn, account_id, Some(e), verified)
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}

fn status_name(recorded: Recorded) -> &'static str {
    match recorded {
        Recorded::Created => "created",
        Recorded::Updated => "updated",
        Recorded::Unchanged => "unchanged",
    }
}

/// A unique violation while recording means another writer changed the same value at the
/// same moment.
fn race(e: sqlx::Error) -> WalletError {
    if clave_common::db::is_unique_violation(&e) {
        WalletError::Conflict(
            "another publication changed the same value at the same moment; retry".into(),
        )
    } else {
        WalletError::Db(e)
    }
}

/// Email addresses and phone numbers have shapes of their own.
fn check_contact(attribute: &str, value: &Value) -> Result<(), WalletError> {
    let text = value.as_str().unwrap_or_default();
    match attribute {
        "email" if !is_email(text) => Err(WalletError::Invalid(format!(
            "{text:?} is not an email address such as maria@example.cl"
        ))),
        "phone_number" if !is_phone(text) => Err(WalletError::Invalid(format!(
            "{text:?} is not an international number such as +56 9 1234 5678"
        ))),
        _ => Ok(()),
    }
}

fn check_item(
    index: usize,
    item: Publication,
    catalogue: &HashMap<String, AttributeDef>,
    authoritative: &HashSet<String>,
) -> Result<Valid, ItemResult> {
    let reject = |error, text: String| ItemResult::rejected(index, error, text);
    let run = Run::parse(&item.run).map_err(|e| {
        reject(
            ItemError::InvalidRun,
            format!("{:?} is not a valid RUN: {e}", item.run),
        )
    })?;
    let def = catalogue.get(&item.attribute).ok_or_else(|| {
        reject(
            ItemError::UnknownAttribute,
            format!("no attribute {:?} in the catalogue", item.attribute),
        )
    })?;
    if !authoritative.contains(&item.attribute) {
        return Err(reject(
            ItemError::NotAuthoritative,
            format!(
                "this client is not an authoritative source of {}",
                item.attribute
            ),
        ));
    }
    let value = value::check(def.kind, &def.codes, &item.value)
        .and_then(|v| {
            check_contact(&item.attribute, &v)
                .map(|()| v)
                .map_err(|e| e.to_string())
        })
        .map_err(|e| reject(ItemError::InvalidValue, format!("{}: {e}", item.attribute)))?;
    // The names are mirrored into the account, which has its own rules for them.
    if let ("given_names" | "family_names", Some(name)) = (item.attribute.as_str(), value.as_str())
    {
        clave_idp::accounts::clean_name("names", name)
            .map_err(|e| reject(ItemError::InvalidValue, format!("{}: {e}", item.attribute)))?;
    }
    let bound = |text: &Option<String>| text.as_deref().map(parse_instant).transpose();
    let valid_from = bound(&item.valid_from).map_err(|e| reject(ItemError::InvalidValue, e))?;
    let valid_until = bound(&item.valid_until).map_err(|e| reject(ItemError::InvalidValue, e))?;
    if let (Some(from), Some(until)) = (valid_from, valid_until)
        && from >= until
    {
        return Err(reject(
            ItemError::InvalidValue,
            "valid_from must come before valid_until".into(),
        ));
    }
    let reference = item.source_reference.map(|r| r.trim().to_owned());
    if let Some(r) = &reference
        && (r.chars().count() > MAX_REFERENCE || r.chars().any(char::is_control))
    {
        return Err(reject(
            ItemError::InvalidValue,
            format!("source_reference must be one line of at most {MAX_REFERENCE} characters"),
        ));
    }
    Ok(Valid {
        index,
        run,
        attribute: item.attribute,
        value,
        reference: reference.filter(|r| !r.is_empty()),
        valid_from,
        valid_until,
    })
}
