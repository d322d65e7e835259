//! The values in citizens' wallets: every version kept, the current one marked, each with
//! its provenance (who published it, their reference, whether it is verified, when).

use serde::Serialize;
use serde_json::Value;

use crate::value::rfc3339;
use crate::{Wallet, WalletError};

/// The source name of values the citizen asserted.
pub const CITIZEN: &str = "citizen";

/// One version of one attribute's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredValue {
    /// The version's id.
    pub id: String,
    /// The attribute.
    pub attribute: String,
    /// The value.
    pub value: Value,
    /// The publishing client's id, or [`CITIZEN`].
    pub source: String,
    /// The source's own reference for it (a registry entry, a resolution number).
    pub source_reference: Option<String>,
    /// Whether an authoritative source vouches for it.
    pub verified: bool,
    /// From when it holds, if the source said.
    pub valid_from: Option<i64>,
    /// Until when it holds, if the source said.
    pub valid_until: Option<i64>,
    /// When it was recorded.
    pub recorded_at: i64,
    /// When a later version replaced it; `None` for the current version.
    pub superseded_at: Option<i64>,
}

impl StoredValue {
    /// Whether the value holds at `now` (inside its validity window).
    pub fn holds_at(&self, now: i64) -> bool {
        self.valid_from.is_none_or(|from| from <= now)
            && self.valid_until.is_none_or(|until| now < until)
    }

    /// The provenance claim of this value: `{"source", "verified", "updated_at"}`.
    pub fn provenance(&self, source_name: &str) -> Value {
        serde_json::json!({
            "source": source_name,
            "verified": self.verified,
            "updated_at": rfc3339(self.recorded_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ValueRow {
    id: String,
    attribute: String,
    value: String,
    source: String,
    source_reference: Option<String>,
    verified: i64,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    recorded_at: i64,
    superseded_at: Option<i64>,
}

impl ValueRow {
    pub(crate) fn into_value(self) -> Result<StoredValue, WalletError> {
        let value = serde_json::from_str(&self.value)
            .map_err(|_| WalletError::Internal(format!("stored value {} is not JSON", self.id)))?;
        Ok(StoredValue {
            id: self.id,
            attribute: self.attribute,
            value,
            source: self.source,
            source_reference: self.source_reference,
            verified: self.verified != 0,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            recorded_at: self.recorded_at,
            superseded_at: self.superseded_at,
        })
    }
}

pub(crate) const VALUE_COLUMNS: &str = "id, attribute, value, source, source_reference, verified, \
    valid_from, valid_until, recorded_at, superseded_at";

/// A current value as a release needs it.
#[derive(Debug, Clone)]
pub(crate) struct ReleasableValue {
    pub(crate) value: StoredValue,
    /// Whether its attribute is released only at level 2 or more.
    pub(crate) sensitive: bool,
    /// Its source as the citizen and the recipient see it.
    pub(crate) source_name: String,
}

#[derive(sqlx::FromRow)]
struct ReleasableRow {
    #[sqlx(flatten)]
    value: ValueRow,
    sensitive: i64,
    source_name: Option<String>,
}

/// A value to record.
#[derive(Debug, Clone)]
pub(crate) struct NewValue<'a> {
    pub(crate) account_id: &'a str,
    pub(crate) attribute: &'a str,
    pub(crate) value: &'a Value,
    pub(crate) source: &'a str,
    pub(crate) source_reference: Option<&'a str>,
    pub(crate) verified: bool,
    pub(crate) valid_from: Option<i64>,
    pub(crate) valid_until: Option<i64>,
}

/// What recording a value did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recorded {
    /// The citizen had no value for the attribute.
    Created,
    /// A new version superseded the current one, which stays as history.
    Updated,
    /// The same value from the same source was already current: nothing was written.
    Unchanged,
}

/// Records `new` as the current value in the caller's transaction, keeping the previous one
/// as history. Two writers racing on one attribute: the partial unique index lets one win and
/// the other fails with a unique violation, to be retried.
pub(crate) async fn record(
    conn: &mut sqlx::AnyConnection,
    new: &NewValue<'_>,
    now: i64,
) -> Result<(Recorded, String), sqlx::Error> {
    let current: Option<ValueRow> = sqlx::query_as(&format!(
        "SELECT {VALUE_COLUMNS} FROM wallet_values \
         WHERE account_id = $1 AND attribute = $2 AND superseded_at IS NULL"
    ))
    .bind(new.account_id)
    .bind(new.attribute)
    .fetch_optional(&mut *conn)
    .await?;
    let text = new.value.to_string();
    if let Some(current) = &current
        && current.value == text
        && current.source == new.source
        && current.source_reference.as_deref() == new.source_reference
        && (current.verified != 0) == new.verified
        && current.valid_from == new.valid_from
        && current.valid_until == new.valid_until
    {
        return Ok((Recorded::Unchanged, current.id.clone()));
    }
    if let Some(current) = &current {
        sqlx::query(
            "UPDATE wallet_values SET superseded_at = $1 WHERE id = $2 AND superseded_at IS NULL",
        )
        .bind(now)
        .bind(&current.id)
        .execute(&mut *conn)
        .await?;
    }
    let id = clave_common::id::new_id();
    sqlx::query(
        "INSERT INTO wallet_values (id, account_id, attribute, value, source, source_reference, \
         verified, valid_from, valid_until, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(new.account_id)
    .bind(new.attribute)
    .bind(&text)
    .bind(new.source)
    .bind(new.source_reference)
    .bind(i64::from(new.verified))
    .bind(new.valid_from)
    .bind(new.valid_until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let recorded = if current.is_some() {
        Recorded::Updated
    } else {
        Recorded::Created
    };
    Ok((recorded, id))
}

/// The citizens' values.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    wallet: &'a Wallet,
}

impl Wallet {
    /// The citizens' values.
    pub fn values(&self) -> Values<'_> {
        Values { wallet: self }
    }
}

impl Values<'_> {
    /// The current value of every attribute `account_id` has, by attribute name.
    pub async fn current(&self, account_id: &str) -> Result<Vec<StoredValue>, WalletError> {
        let rows: Vec<ValueRow> = sqlx::query_as(&format!(
            "SELECT {VALUE_COLUMNS} FROM wallet_values \
             WHERE account_id = $1 AND superseded_at IS NULL ORDER BY attribute"
        ))
        .bind(account_id)
        .fetch_all(self.wallet.db().pool())
        .await?;
        rows.into_iter().map(ValueRow::into_value).collect()
    }

    /// The current values of `account_id` that hold now, each with whether its attribute is
    /// sensitive and the name of its source, read in one query: a release reads them on
    /// every userinfo and agency call.
    pub(crate) async fn releasable(
        &self,
        account_id: &str,
    ) -> Result<Vec<ReleasableValue>, WalletError> {
        let rows: Vec<ReleasableRow> = sqlx::query_as(
            "SELECT v.id, v.attribute, v.value, v.source, v.source_reference, v.verified, \
             v.valid_from, v.valid_until, v.recorded_at, v.superseded_at, \
             a.sensitive, c.name AS source_name \
             FROM wallet_values v JOIN wallet_attributes a ON a.name = v.attribute \
             LEFT JOIN idp_clients c ON c.client_id = v.source \
             WHERE v.account_id = $1 AND v.superseded_at IS NULL ORDER BY v.attribute",
        )
        .bind(account_id)
        .fetch_all(self.wallet.db().pool())
        .await?;
        let now = self.wallet.now();
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let value = row.value.into_value()?;
            if !value.holds_at(now) {
                continue;
            }
            // The citizen's own values name no client; a vanished client is named by its id.
            let source_name = row.source_name.unwrap_or_else(|| value.source.clone());
            values.push(ReleasableValue {
                value,
                sensitive: row.sensitive != 0,
                source_name,
            });
        }
        Ok(values)
    }

    /// The current values of `attributes` for `account_id` that hold now.
    pub async fn holding(
        &self,
        account_id: &str,
        attributes: &[String],
    ) -> Result<Vec<StoredValue>, WalletError> {
        let now = self.wallet.now();
        Ok(self
            .current(account_id)
            .await?
            .into_iter()
            .filter(|v| attributes.contains(&v.attribute) && v.holds_at(now))
            .collect())
    }

    /// Every version of `attribute` for `account_id`, newest first.
    pub async fn history(
        &self,
        account_id: &str,
        attribute: &str,
    ) -> Result<Vec<StoredValue>, WalletError> {
        let rows: Vec<ValueRow> = sqlx::query_as(&format!(
            "SELECT {VALUE_COLUMNS} FROM wallet_values \
             WHERE account_id = $1 AND attribute = $2 ORDER BY recorded_at DESC, id DESC"
        ))
        .bind(account_id)
        .bind(attribute)
        .fetch_all(self.wallet.db().pool())
        .await?;
        rows.into_iter().map(ValueRow::into_value).collect()
    }

    /// The names of the sources `values` came from: each client's registered name, or
    /// [`CITIZEN`] for the citizen's own.
    pub async fn source_names(
        &self,
        values: &[StoredValue],
    ) -> Result<std::collections::HashMap<String, String>, WalletError> {
        let mut names = std::collections::HashMap::new();
        for value in values {
            if names.contains_key(&value.source) {
                continue;
            }
            let name = if value.source == CITIZEN {
                CITIZEN.to_owned()
            } else {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT name FROM idp_clients WHERE client_id = $1")
                        .bind(&value.source)
                        .fetch_optional(self.wallet.db().pool())
                        .await?;
                row.map_or_else(|| value.source.clone(), |(n,)| n)
            };
            names.insert(value.source.clone(), name);
        }
        Ok(names)
    }
}
