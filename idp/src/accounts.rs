//! Citizen accounts and password login.
//!
//! A citizen is identified by RUN (stored in its compact form, unique). An account may have no
//! password yet: a civil registry can create accounts that the citizen activates later.
//! [`Accounts::verify_password`] is the whole password login: throttling, the hash check
//! (against a dummy hash when the RUN is unknown, so both answers take as long), an upgrade of
//! an outdated hash, and the journal (`login.succeeded`, `login.failed` with the RUN as subject
//! so the citizen can later see attempts on their RUN).

use std::net::IpAddr;

use clave_common::Run;
use clave_common::id::new_id;
use clave_common::journal::{self, NewEvent};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::password::{self, HashParams, check_policy};
use crate::throttle::{self, ThrottleKey, Verdict, delay_for};
use crate::{Idp, IdpError};

/// The longest name (given or family) accepted, in characters.
const MAX_NAME: usize = 200;
/// The longest email address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// Whether an account may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// In use.
    Active,
    /// Blocked by an operator; the password no longer opens it.
    Locked,
}

impl AccountStatus {
    fn from_db(text: &str) -> Self {
        match text {
            "active" => Self::Active,
            // Anything unexpected is treated as the safer state.
            _ => Self::Locked,
        }
    }
}

/// A citizen account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The account id (UUIDv7); never shown to services, which get a pairwise `sub`.
    pub id: String,
    /// The citizen's RUN.
    pub run: Run,
    /// Given names, space separated ("María Carmen").
    pub given_names: String,
    /// Family names, space separated ("Del Río González").
    pub family_names: String,
    /// Email address, if known.
    pub email: Option<String>,
    /// Whether the email address was verified.
    pub email_verified: bool,
    /// Roles beyond citizen (`agent`, `official`, `admin`, …).
    pub roles: Vec<String>,
    /// Whether the account may log in.
    pub status: AccountStatus,
    /// Whether a password has been set.
    pub has_password: bool,
    /// When the account was created (Unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

impl Account {
    /// Given and family names together.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_names, self.family_names)
    }
}

/// A citizen to create.
#[derive(Debug, Clone)]
pub struct NewCitizen {
    /// The RUN.
    pub run: Run,
    /// Given names.
    pub given_names: String,
    /// Family names.
    pub family_names: String,
    /// Email address.
    pub email: Option<String>,
    /// The initial password; `None` for an account the citizen activates later.
    pub password: Option<String>,
}

/// Why a password login failed.
///
/// [`LoginError::InvalidCredentials`] covers an unknown RUN, a wrong password and an account
/// without a password alike, so that the answer says nothing about which RUNs have accounts.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The RUN and password do not match an account.
    #[error("the RUN or the password is wrong")]
    InvalidCredentials,
    /// Too many failed attempts on this RUN or from this address; retry later.
    #[error("too many failed attempts; retry in {retry_after} seconds")]
    LockedOut {
        /// Seconds until the lockout lapses.
        retry_after: i64,
    },
    /// The password is right but an operator locked the account.
    #[error("the account is locked")]
    AccountLocked,
    /// The login could not be checked.
    #[error(transparent)]
    Internal(#[from] IdpError),
}

impl From<sqlx::Error> for LoginError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(IdpError::Db(err))
    }
}

struct AccountRow {
    id: String,
    run: String,
    given_names: String,
    family_names: String,
    email: Option<String>,
    email_verified: i64,
    password_hash: Option<String>,
    roles: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

// sqlx's Any driver cannot decode a SQLite BOOLEAN column, so the flag is read as an integer
// (the cast is valid on both backends); it is still stored as BOOLEAN.
const COLUMNS: &str = "id, run, given_names, family_names, email, \
                       CAST(email_verified AS INTEGER) AS email_verified, password_hash, \
                       roles, status, created_at, updated_at";

/// The names of [`COLUMNS`] as read from the accounts joined as `table` ([`join_on`]), each
/// named with `prefix` before its own name, for [`from_joined_row`]: a query that needs an
/// account besides other rows reads it in the same round trip.
pub(crate) fn joined_columns(table: &str, prefix: &str) -> String {
    COLUMNS
        .split(',')
        .map(|column| {
            let name = column.rsplit(' ').next().unwrap_or_default();
            format!("{table}.{name} AS {prefix}{name}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `LEFT JOIN` of the accounts table as `table`, on the account id `on`, for
/// [`joined_columns`].
pub(crate) fn join_on(table: &str, on: &str) -> String {
    format!("LEFT JOIN (SELECT {COLUMNS} FROM idp_accounts) {table} ON {table}.id = {on}")
}

/// The account in a joined row read with [`joined_columns`], or `None` where the join found
/// none.
pub(crate) fn from_joined_row(row: &AnyRow, prefix: &str) -> Result<Option<Account>, IdpError> {
    AccountRow::read(row, prefix)?
        .map(AccountRow::into_account)
        .transpose()
}

impl<'r> sqlx::FromRow<'r, AnyRow> for AccountRow {
    fn from_row(row: &'r AnyRow) -> Result<Self, sqlx::Error> {
        Self::read(row, "")?.ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "id".into(),
            source: "an account row without an id".into(),
        })
    }
}

impl AccountRow {
    /// The columns named with `prefix`; `None` when its `id` is NULL (an outer join that
    /// found no account).
    fn read(row: &AnyRow, prefix: &str) -> Result<Option<Self>, sqlx::Error> {
        let column = |name: &str| format!("{prefix}{name}");
        let Some(id) = row.try_get::<Option<String>, _>(column("id").as_str())? else {
            return Ok(None);
        };
        Ok(Some(Self {
            id,
            run: row.try_get(column("run").as_str())?,
            given_names: row.try_get(column("given_names").as_str())?,
            family_names: row.try_get(column("family_names").as_str())?,
            email: row.try_get(column("email").as_str())?,
            email_verified: row.try_get(column("email_verified").as_str())?,
            password_hash: row.try_get(column("password_hash").as_str())?,
            roles: row.try_get(column("roles").as_str())?,
            status: row.try_get(column("status").as_str())?,
            created_at: row.try_get(column("created_at").as_str())?,
            updated_at: row.try_get(column("updated_at").as_str())?,
        }))
    }

    fn into_account(self) -> Result<Account, IdpError> {
        let run = Run::parse(&self.run).map_err(|e| {
            IdpError::Internal(format!("account {} holds an invalid RUN: {e}", self.id))
        })?;
        Ok(Account {
            run,
            given_names: self.given_names,
            family_names: self.family_names,
            email: self.email,
            email_verified: self.email_verified != 0,
            roles: serde_json::from_str(&self.roles).unwrap_or_default(),
            status: AccountStatus::from_db(&self.status),
            has_password: self.password_hash.is_some(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            id: self.id,
        })
    }
}

/// The account service.
#[derive(Debug, Clone, Copy)]
pub struct Accounts<'a> {
    pub(crate) idp: &'a Idp,
}

impl Idp {
    /// Citizen accounts and password login.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { idp: self }
    }
}

impl Accounts<'_> {
    /// Creates an account, checking the names, the email and (if given) the password against
    /// the policy; journaled as `account.created`. A second account for one RUN is a
    /// [`IdpError::Conflict`].
    pub async fn create(&self, new: NewCitizen) -> Result<Account, IdpError> {
        let ctx = self.idp.ctx();
        let given_names = clean_name("given names", &new.given_names)?;
        let family_names = clean_name("family names", &new.family_names)?;
        let email = clean_email(new.email.as_deref())?;
        let password_hash = match &new.password {
            Some(pw) => {
                check_policy(
                    &ctx.config.passwords,
                    pw,
                    &new.run,
                    &given_names,
                    &family_names,
                )?;
                Some(password::hash(ctx, pw).await?)
            }
            None => None,
        };
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let account = Account {
            id: new_id(),
            run: new.run,
            given_names,
            family_names,
            email,
            email_verified: false,
            roles: Vec::new(),
            status: AccountStatus::Active,
            has_password: password_hash.is_some(),
            created_at: at,
            updated_at: at,
        };
        let mut tx = ctx.db.begin().await?;
        insert(&mut tx, &account, password_hash.as_deref(), now).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Creates, in the caller's transaction, the account of a citizen a registry knows and
    /// who has not activated it yet (no password, no email); journaled as `account.created`.
    /// A second account for one RUN is a [`IdpError::Conflict`].
    pub async fn create_registered(
        &self,
        conn: &mut sqlx::AnyConnection,
        run: Run,
        given_names: &str,
        family_names: &str,
    ) -> Result<Account, IdpError> {
        let now = self.idp.ctx().clock.now();
        let at = now.unix_timestamp();
        let account = Account {
            id: new_id(),
            run,
            given_names: clean_registry_name("given names", given_names)?,
            family_names: clean_registry_name("family names", family_names)?,
            email: None,
            email_verified: false,
            roles: Vec::new(),
            status: AccountStatus::Active,
            has_password: false,
            created_at: at,
            updated_at: at,
        };
        insert(conn, &account, None, now).await?;
        Ok(account)
    }

    /// Replaces, in the caller's transaction, the names an authoritative registry publishes;
    /// `None` keeps a name as it is.
    pub async fn set_names(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        given_names: Option<&str>,
        family_names: Option<&str>,
    ) -> Result<(), IdpError> {
        let given = given_names
            .map(|n| clean_name("given names", n))
            .transpose()?;
        let family = family_names
            .map(|n| clean_name("family names", n))
            .transpose()?;
        sqlx::query(
            "UPDATE idp_accounts SET given_names = COALESCE($1, given_names), \
             family_names = COALESCE($2, family_names), updated_at = $3 WHERE id = $4",
        )
        .bind(given)
        .bind(family)
        .bind(self.idp.ctx().clock.unix())
        .bind(account_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Sets, in the caller's transaction, the citizen's email address and whether its
    /// ownership has been proven.
    pub async fn set_email(
        &self,
        conn: &mut sqlx::AnyConnection,
        account_id: &str,
        email: Option<&str>,
        verified: bool,
    ) -> Result<(), IdpError> {
        let email = clean_email(email)?;
        let verified = email.is_some() && verified;
        sqlx::query(
            "UPDATE idp_accounts SET email = $1, email_verified = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(email)
        .bind(verified)
        .bind(self.idp.ctx().clock.unix())
        .bind(account_id)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// The account with this RUN.
    pub async fn find_by_run(&self, run: &Run) -> Result<Option<Account>, IdpError> {
        self.row_by_run(run)
            .await?
            .map(AccountRow::into_account)
            .transpose()
    }

    /// The account with this id.
    pub async fn get(&self, account_id: &str) -> Result<Option<Account>, IdpError> {
        let row: Option<AccountRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM idp_accounts WHERE id = $1"))
                .bind(account_id)
                .fetch_optional(self.idp.ctx().db.pool())
                .await?;
        row.map(AccountRow::into_account).transpose()
    }

    /// Up to `limit` accounts in creation order, after the account `after` (for paging).
    pub async fn list(&self, after: Option<&str>, limit: u32) -> Result<Vec<Account>, IdpError> {
        let rows: Vec<AccountRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM idp_accounts WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.clamp(1, 1000)))
        .fetch_all(self.idp.ctx().db.pool())
        .await?;
        rows.into_iter().map(AccountRow::into_account).collect()
    }

    /// Sets a new password after checking it against the policy; journaled as
    /// `password.changed`. The caller decides whether other sessions should end.
    pub async fn set_password(&self, account_id: &str, password: &str) -> Result<(), IdpError> {
        let ctx = self.idp.ctx();
        let account = self
            .get(account_id)
            .await?
            .ok_or(IdpError::NotFound("account"))?;
        check_policy(
            &ctx.config.passwords,
            password,
            &account.run,
            &account.given_names,
            &account.family_names,
        )?;
        let hash = password::hash(ctx, password).await?;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        sqlx::query("UPDATE idp_accounts SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(account_id)
            .bind(&hash)
            .bind(now.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new("password.changed").subject(account_id);
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a RUN and password from `client_addr`: refuses at once while the RUN or the
    /// address is locked out, counts failures (delaying the answer once they pile up), and on
    /// success forgets the failures and upgrades an outdated hash.
    pub async fn verify_password(
        &self,
        run: &Run,
        password: &str,
        client_addr: IpAddr,
    ) -> Result<Account, LoginError> {
        let ctx = self.idp.ctx();
        let run_key = ThrottleKey::run(run);
        // A RUN locked out for guessed second-factor codes is locked for the password too.
        let code_key = ThrottleKey::second_factor(run);
        let addr_key = ThrottleKey::address(client_addr);
        let addr = addr_key.subject().to_owned();

        if let Verdict::Locked { retry_after } = self
            .idp
            .throttle()
            .check(&[&run_key, &code_key, &addr_key])
            .await?
        {
            let event = NewEvent::new("login.failed")
                .subject(run.compact())
                .data(json!({ "reason": "locked_out", "addr": addr }));
            ctx.journal.append_now(&event).await?;
            return Err(LoginError::LockedOut { retry_after });
        }

        let row = self.row_by_run(run).await?;
        let stored = row.as_ref().and_then(|r| r.password_hash.clone());
        let matched = password::verify(ctx, password, stored.as_deref()).await?;

        let row = match row {
            Some(row) if matched => row,
            other => {
                let reason = match (other, &stored) {
                    (None, _) => "unknown_account",
                    (Some(_), None) => "no_password",
                    (Some(_), Some(_)) => "wrong_password",
                };
                return Err(self.count_failure(run, &run_key, &addr_key, reason).await?);
            }
        };

        let account = row.into_account()?;
        if account.status == AccountStatus::Locked {
            let event = NewEvent::new("login.failed")
                .subject(run.compact())
                .data(json!({ "reason": "account_locked", "addr": addr }));
            ctx.journal.append_now(&event).await?;
            return Err(LoginError::AccountLocked);
        }

        // Hash outside the transaction: it takes long and needs no lock.
        let params = HashParams::from_config(&ctx.config.passwords);
        let upgrade = match stored.as_deref() {
            Some(old) if password::needs_rehash(&params, old) => {
                Some((old.to_owned(), password::hash(ctx, password).await?))
            }
            _ => None,
        };

        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let mut rehashed = false;
        if let Some((old, new)) = &upgrade {
            // Only if the password did not change meanwhile.
            rehashed = sqlx::query(
                "UPDATE idp_accounts SET password_hash = $3, updated_at = $4 \
                 WHERE id = $1 AND password_hash = $2",
            )
            .bind(&account.id)
            .bind(old)
            .bind(new)
            .bind(now.unix_timestamp())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        }
        sqlx::query("DELETE FROM idp_throttle WHERE key = $1 AND locked_until IS NULL")
            .bind(run_key.as_str())
            .execute(&mut *tx)
            .await?;
        let event = NewEvent::new("login.succeeded")
            .actor(&account.id)
            .subject(&account.id)
            .data(json!({ "method": "pwd", "addr": addr, "rehashed": rehashed }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Records a failed attempt against the RUN and the address, journals it, waits the
    /// progressive delay, and says what to answer.
    async fn count_failure(
        &self,
        run: &Run,
        run_key: &ThrottleKey,
        addr_key: &ThrottleKey,
        reason: &str,
    ) -> Result<LoginError, IdpError> {
        let ctx = self.idp.ctx();
        let config = &ctx.config.throttle;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let on_run = throttle::record_failure(&mut tx, config, run_key, now).await?;
        let on_addr = throttle::record_failure(&mut tx, config, addr_key, now).await?;
        let locked_until = on_run.locked_until.max(on_addr.locked_until);
        let delay = if locked_until.is_some() {
            std::time::Duration::ZERO
        } else {
            delay_for(config, on_run.failures)
        };
        let event = NewEvent::new("login.failed")
            .subject(run.compact())
            .data(json!({
                "reason": reason,
                "addr": addr_key.subject(),
                "failures": on_run.failures,
                "delay_ms": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;

        if let Some(until) = locked_until {
            return Ok(LoginError::LockedOut {
                retry_after: (until - now.unix_timestamp()).max(1),
            });
        }
        // Held server-side: a client that ignores our answer still cannot go faster.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(LoginError::InvalidCredentials)
    }

    async fn row_by_run(&self, run: &Run) -> Result<Option<AccountRow>, IdpError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM idp_accounts WHERE run = $1"
        ))
        .bind(run.compact())
        .fetch_optional(self.idp.ctx().db.pool())
        .await?)
    }
}

/// A name with surrounding and repeated whitespace removed; refused when empty, too long or
/// holding control characters.
/// Inserts `account` and journals `account.created`, in the caller's transaction.
async fn insert(
    conn: &mut sqlx::AnyConnection,
    account: &Account,
    password_hash: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<(), IdpError> {
    let at = now.unix_timestamp();
    let inserted = sqlx::query(
        "INSERT INTO idp_accounts (id, run, given_names, family_names, email, email_verified, \
         password_hash, roles, status, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&account.id)
    .bind(account.run.compact())
    .bind(&account.given_names)
    .bind(&account.family_names)
    .bind(account.email.as_deref())
    .bind(account.email_verified)
    .bind(password_hash)
    .bind("[]")
    .bind("active")
    .bind(at)
    .bind(at)
    .execute(&mut *conn)
    .await;
    match inserted {
        Ok(_) => {}
        Err(e) if clave_common::db::is_unique_violation(&e) => {
            return Err(IdpError::Conflict(format!(
                "an account with RUN {} already exists",
                account.run
            )));
        }
        Err(e) => return Err(e.into()),
    }
    let event = NewEvent::new("account.created")
        .subject(&account.id)
        .data(json!({ "run": account.run.compact(), "has_password": account.has_password }));
    journal::append(conn, now, &event).await?;
    Ok(())
}

/// A name as a registry sends it: like [`clean_name`], but a registry may publish one name
/// before the other, so an empty one is kept empty until it comes.
fn clean_registry_name(field: &str, text: &str) -> Result<String, IdpError> {
    if text.trim().is_empty() {
        Ok(String::new())
    } else {
        clean_name(field, text)
    }
}

/// A citizen's names as an account keeps them: whitespace collapsed, not empty, at most
/// [`MAX_NAME`] characters, no control characters.
pub fn clean_name(field: &str, text: &str) -> Result<String, IdpError> {
    let cleaned = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if cleaned.is_empty() {
        return Err(IdpError::Invalid(format!("the {field} are empty")));
    }
    if cleaned.chars().count() > MAX_NAME {
        return Err(IdpError::Invalid(format!(
            "the {field} are longer than {MAX_NAME} characters"
        )));
    }
    if cleaned.chars().any(char::is_control) {
        return Err(IdpError::Invalid(format!(
            "the {field} contain control characters"
        )));
    }
    Ok(cleaned)
}

/// An email address trimmed, or `None` when empty; refused unless it has the shape
/// `local@domain`. Ownership is proven later, by a verification message.
fn clean_email(email: Option<&str>) -> Result<Option<String>, IdpError> {
    let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(None);
    };
    let valid = email.len() <= MAX_EMAIL
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain.contains('.')
        });
    if valid {
        Ok(Some(email.to_owned()))
    } else {
        Err(IdpError::Invalid(format!(
            "{email:?} is not an email address such as maria@example.cl"
        )))
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
