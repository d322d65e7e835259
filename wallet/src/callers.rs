//! Caller verification: a call-centre or front-desk agent makes sure the person on the line
//! is the citizen they say they are, and only then sees a minimal profile, for a while.
//!
//! Two ways, both started from what the citizen holds (their signed-in portal), never from
//! what a caller knows about them:
//! - **code**: the citizen makes a short single-use code in the portal and reads it to the
//!   agent, who types it with the caller's RUN ([`Callers::issue_code`],
//!   [`Callers::verify_code`]);
//! - **approval** (the CIBA pattern): the agent starts a check for the RUN; the citizen's
//!   portal shows it with the agent's name, office and a binding phrase that the agent reads
//!   aloud, and the citizen approves or denies it ([`Callers::start`], [`Callers::decide`]).
//!
//! A verified check lets its agent see [`PROFILE_ATTRIBUTES`] for [`VIEW_SECS`]; every look
//! is a `data.released` event in the citizen's access log naming the agent and the office.
//! Wrong codes count against the RUN and against the agent on the idp's throttle counters,
//! which every node shares. Everything is journaled (`caller.code_issued`, `caller.requested`,
//! `caller.approved`, `caller.denied`, `caller.verified`, `caller.verification_failed`).

use clave_common::Run;
use clave_common::id::{new_id, random_below};
use clave_common::journal::{self, NewEvent};
use clave_idp::IdpError;
use clave_idp::throttle::{self, ThrottleKey, Verdict};
use serde_json::{Value, json};

use crate::access_log::{Release, record_release};
use crate::{Wallet, WalletError};

/// How long a citizen's code can be used.
pub const CODE_SECS: i64 = 600;
/// How long a verified check lets its agent see the profile.
pub const VIEW_SECS: i64 = 900;
/// How long a citizen has to answer an agent's request.
pub const APPROVAL_SECS: i64 = 300;
/// The digits of a code.
pub const CODE_DIGITS: usize = 6;
/// What an agent sees besides the names.
pub const PROFILE_ATTRIBUTES: &[&str] = &["birthdate", "email", "phone_number"];
/// The purpose the access log shows for an agent's look-up.
pub const PURPOSE: &str = "Verificación de identidad en una atención telefónica o presencial";

const CODE_PURPOSE: &str = "caller-code";

/// Words of the binding phrase: short, common, unambiguous when read aloud in Spanish.
const WORDS: [&str; 32] = [
    "arbol", "barco", "cielo", "campo", "dedo", "flor", "fuego", "gato", "hoja", "isla", "jardin",
    "lago", "llave", "luna", "mesa", "monte", "nieve", "nube", "ola", "perro", "piedra", "playa",
    "puente", "queso", "rio", "sol", "tren", "trigo", "uva", "vaca", "viento", "zorro",
];

/// The agent making a check, as the portal resolved it from the signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The agent's account id.
    pub account_id: String,
    /// The agent's name, as the citizen reads it.
    pub name: String,
    /// The office the agent works in.
    pub office: String,
}

/// A code the citizen reads to the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The digits.
    pub code: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
}

/// How a check was made.
pub const METHOD_CODE: &str = "code";
/// .
pub const METHOD_APPROVAL: &str = "approval";

/// A check's states.
pub const PENDING: &str = "pending";
/// .
pub const VERIFIED: &str = "verified";
/// .
pub const DENIED: &str = "denied";

/// One caller check.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CallerCheck {
    /// Its id.
    pub id: String,
    /// The agent's account id.
    pub agent_id: String,
    /// The agent's office.
    pub office: String,
    /// The citizen's account id.
    pub account_id: String,
    /// [`METHOD_CODE`] or [`METHOD_APPROVAL`].
    pub method: String,
    /// The phrase read aloud (approval only).
    pub binding: Option<String>,
    /// [`PENDING`], [`VERIFIED`] or [`DENIED`].
    pub state: String,
    /// When it was made.
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Pending: the citizen's deadline; verified: the end of the agent's view.
    pub expires_at: i64,
}

impl CallerCheck {
    /// Whether its agent may see the profile at `now`.
    pub fn is_viewable(&self, now: i64) -> bool {
        self.state == VERIFIED && self.expires_at > now
    }

    /// Whether the citizen can still answer it at `now`.
    pub fn is_waiting(&self, now: i64) -> bool {
        self.state == PENDING && self.expires_at > now
    }
}

/// What a verified check shows its agent.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerProfile {
    /// The RUN, formatted.
    pub run: String,
    /// Given names.
    pub given_names: String,
    /// Family names.
    pub family_names: String,
    /// Of [`PROFILE_ATTRIBUTES`], those the wallet holds: name and value.
    pub attributes: Vec<(String, Value)>,
    /// When the agent's view ends.
    pub until: i64,
}

/// Caller verification over the wallet.
#[derive(Debug, Clone, Copy)]
pub struct Callers<'a> {
    wallet: &'a Wallet,
}

impl Wallet {
    /// Caller verification.
    pub fn callers(&self) -> Callers<'_> {
        Callers { wallet: self }
    }
}

const CHECK_COLUMNS: &str =
    "id, agent_id, office, account_id, method, binding, state, created_at, decided_at, expires_at";

/// The refusal for a wrong, lapsed or used code: the same whatever the reason, so an agent
/// learns nothing about the citizen from it.
fn no_match() -> WalletError {
    WalletError::Forbidden(
        "the RUN and the code do not match, or the code expired or was used: ask the caller \
         to make a new code in the portal"
            .into(),
    )
}

fn digest_input(account_id: &str, code: &str) -> Vec<u8> {
    format!("{account_id}:{code}").into_bytes()
}

/// A code as typed (spaces and dashes allowed), as its digits.
fn normalise_code(typed: &str) -> Result<String, WalletError> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if digits.len() == CODE_DIGITS && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(WalletError::Invalid(format!(
            "a caller's code has {CODE_DIGITS} digits"
        )))
    }
}

impl Callers<'_> {
    /// A new code for `account_id`, replacing any earlier one; journaled as
    /// `caller.code_issued`.
    pub async fn issue_code(&self, account_id: &str) -> Result<IssuedCode, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let code: String = (0..CODE_DIGITS)
            .map(|_| char::from(b'0' + u8::try_from(random_below(10)).unwrap_or(0)))
            .collect();
        let digest = ctx
            .master
            .keyed_digest(CODE_PURPOSE, &digest_input(account_id, &code));
        let expires_at = at + CODE_SECS;
        let mut tx = ctx.db.begin().await?;
        sqlx::query(
            "INSERT INTO wallet_caller_codes (account_id, code_digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET \
             code_digest = excluded.code_digest, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
        )
        .bind(account_id)
        .bind(&digest)
        .bind(at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let event = NewEvent::new("caller.code_issued")
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "expires_at": expires_at }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(IssuedCode { code, expires_at })
    }

    /// Checks the code a caller read to `agent` for `run`. On a match the code is used up and
    /// a verified check is returned; otherwise the failure counts against the RUN and the
    /// agent, and the same refusal is returned whatever was wrong.
    pub async fn verify_code(
        &self,
        agent: &Agent,
        run: &Run,
        typed: &str,
    ) -> Result<CallerCheck, WalletError> {
        let code = normalise_code(typed)?;
        let idp = self.wallet.idp();
        let ctx = idp.ctx();
        let run_key = ThrottleKey::caller(run);
        let agent_key = ThrottleKey::agent(&agent.account_id);
        if let Verdict::Locked { retry_after } =
            idp.throttle().check(&[&run_key, &agent_key]).await?
        {
            return Err(IdpError::Throttled { retry_after }.into());
        }
        let account = idp.accounts().find_by_run(run).await?;
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let stored: Option<(String,)> = match &account {
            Some(account) => {
                sqlx::query_as(
                    "SELECT code_digest FROM wallet_caller_codes \
                     WHERE account_id = $1 AND expires_at > $2",
                )
                .bind(&account.id)
                .bind(at)
                .fetch_optional(ctx.db.pool())
                .await?
            }
            None => None,
        };
        let matched = match (&account, &stored) {
            (Some(account), Some((digest,))) => ctx.master.verify_keyed_digest(
                CODE_PURPOSE,
                &digest_input(&account.id, &code),
                digest,
            ),
            _ => false,
        };
        if let (true, Some(account), Some((digest,))) = (matched, &account, &stored) {
            let mut tx = ctx.db.begin().await?;
            // Only one agent's check uses the code up, however many race for it.
            let used = sqlx::query(
                "DELETE FROM wallet_caller_codes \
                 WHERE account_id = $1 AND code_digest = $2 AND expires_at > $3",
            )
            .bind(&account.id)
            .bind(digest)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if used {
                let check = CallerCheck {
                    id: new_id(),
                    agent_id: agent.account_id.clone(),
                    office: agent.office.clone(),
                    account_id: account.id.clone(),
                    method: METHOD_CODE.to_owned(),
                    binding: None,
                    state: VERIFIED.to_owned(),
                    created_at: at,
                    decided_at: Some(at),
                    expires_at: at + VIEW_SECS,
                };
                insert_check(&mut tx, &check).await?;
                let event = NewEvent::new("caller.verified")
                    .actor(&agent.account_id)
                    .subject(&account.id)
                    .data(json!({
                        "check": check.id,
                        "method": METHOD_CODE,
                        "agent_name": agent.name,
                        "office": agent.office,
                    }));
                journal::append(&mut tx, now, &event).await?;
                tx.commit().await?;
                idp.throttle().forget(&run_key).await?;
                return Ok(check);
            }
        }
        self.count_failure(agent, run, &run_key, &agent_key).await?;
        Err(no_match())
    }

    async fn count_failure(
        &self,
        agent: &Agent,
        run: &Run,
        run_key: &ThrottleKey,
        agent_key: &ThrottleKey,
    ) -> Result<(), WalletError> {
        let ctx = self.wallet.idp().ctx();
        let config = &ctx.config.throttle;
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        let on_run = throttle::record_failure(&mut tx, config, run_key, now).await?;
        let on_agent = throttle::record_failure(&mut tx, config, agent_key, now).await?;
        let event = NewEvent::new("caller.verification_failed")
            .actor(&agent.account_id)
            .subject(run.compact())
            .data(json!({ "office": agent.office, "failures": on_run.failures }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        if let Some(until) = on_run.locked_until.max(on_agent.locked_until) {
            return Err(IdpError::Throttled {
                retry_after: (until - now.unix_timestamp()).max(1),
            }
            .into());
        }
        let delay = throttle::delay_for(config, on_run.failures.max(on_agent.failures));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    /// Asks the citizen with `run` to approve a check by `agent` in the portal; the check
    /// carries the binding phrase both read. One request waits per citizen at a time, so an
    /// agent cannot flood a citizen with prompts until one is approved by mistake.
    pub async fn start(&self, agent: &Agent, run: &Run) -> Result<CallerCheck, WalletError> {
        let idp = self.wallet.idp();
        let ctx = idp.ctx();
        let Some(account) = idp.accounts().find_by_run(run).await? else {
            return Err(WalletError::NotFound(
                "no citizen account has this RUN: check it with the caller".into(),
            ));
        };
        if account.id == agent.account_id {
            return Err(WalletError::Forbidden(
                "an agent cannot verify their own call".into(),
            ));
        }
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let binding = format!(
            "{}-{}-{:02}",
            WORDS[random_below(32) as usize],
            WORDS[random_below(32) as usize],
            random_below(100)
        );
        let check = CallerCheck {
            id: new_id(),
            agent_id: agent.account_id.clone(),
            office: agent.office.clone(),
            account_id: account.id.clone(),
            method: METHOD_APPROVAL.to_owned(),
            binding: Some(binding),
            state: PENDING.to_owned(),
            created_at: at,
            decided_at: None,
            expires_at: at + APPROVAL_SECS,
        };
        let mut tx = ctx.db.begin().await?;
        clave_idp::factors::lock_account(&mut tx, &account.id).await?;
        let waiting: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM wallet_caller_checks \
             WHERE account_id = $1 AND state = 'pending' AND expires_at > $2",
        )
        .bind(&account.id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        if waiting.0 > 0 {
            return Err(WalletError::Conflict(format!(
                "the citizen already has a verification waiting; it lapses within {} minutes",
                APPROVAL_SECS / 60
            )));
        }
        insert_check(&mut tx, &check).await?;
        let event = NewEvent::new("caller.requested")
            .actor(&agent.account_id)
            .subject(&account.id)
            .data(json!({
                "check": check.id,
                "agent_name": agent.name,
                "office": agent.office,
            }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(check)
    }

    /// The checks waiting for `account_id`'s answer, oldest first.
    pub async fn waiting(&self, account_id: &str) -> Result<Vec<CallerCheck>, WalletError> {
        let ctx = self.wallet.idp().ctx();
        Ok(sqlx::query_as(&format!(
            "SELECT {CHECK_COLUMNS} FROM wallet_caller_checks \
             WHERE account_id = $1 AND state = 'pending' AND expires_at > $2 ORDER BY created_at, id"
        ))
        .bind(account_id)
        .bind(ctx.clock.unix())
        .fetch_all(ctx.db.pool())
        .await?)
    }

    /// The citizen's answer to a waiting check: approved, the agent may see the profile for
    /// [`VIEW_SECS`]; denied, never. Journaled as `caller.approved` or `caller.denied`.
    pub async fn decide(
        &self,
        account_id: &str,
        check_id: &str,
        approve: bool,
    ) -> Result<CallerCheck, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let now = ctx.clock.now();
        let at = now.unix_timestamp();
        let (state, expires) = if approve {
            (VERIFIED, at + VIEW_SECS)
        } else {
            (DENIED, at)
        };
        let mut tx = ctx.db.begin().await?;
        let answered = sqlx::query(
            "UPDATE wallet_caller_checks SET state = $1, decided_at = $2, expires_at = $3 \
             WHERE id = $4 AND account_id = $5 AND state = 'pending' AND expires_at > $2",
        )
        .bind(state)
        .bind(at)
        .bind(expires)
        .bind(check_id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !answered {
            return Err(WalletError::Conflict(
                "this verification is no longer waiting: it lapsed or was already answered".into(),
            ));
        }
        let check: CallerCheck = sqlx::query_as(&format!(
            "SELECT {CHECK_COLUMNS} FROM wallet_caller_checks WHERE id = $1"
        ))
        .bind(check_id)
        .fetch_one(&mut *tx)
        .await?;
        let kind = if approve {
            "caller.approved"
        } else {
            "caller.denied"
        };
        let event = NewEvent::new(kind)
            .actor(account_id)
            .subject(account_id)
            .data(json!({ "check": check.id, "agent": check.agent_id, "office": check.office }));
        journal::append(&mut tx, now, &event).await?;
        tx.commit().await?;
        Ok(check)
    }

    /// `agent_id`'s check `check_id`; another agent's is not found.
    pub async fn check(&self, agent_id: &str, check_id: &str) -> Result<CallerCheck, WalletError> {
        let ctx = self.wallet.idp().ctx();
        let check: Option<CallerCheck> = sqlx::query_as(&format!(
            "SELECT {CHECK_COLUMNS} FROM wallet_caller_checks WHERE id = $1 AND agent_id = $2"
        ))
        .bind(check_id)
        .bind(agent_id)
        .fetch_optional(ctx.db.pool())
        .await?;
        check.ok_or_else(|| WalletError::NotFound("no such verification of yours".into()))
    }

    /// The profile a verified check shows `agent`, recorded in the citizen's access log.
    pub async fn profile(
        &self,
        agent: &Agent,
        check_id: &str,
    ) -> Result<CallerProfile, WalletError> {
        let check = self.check(&agent.account_id, check_id).await?;
        let now = self.wallet.now();
        if !check.is_viewable(now) {
            return Err(WalletError::Forbidden(
                "this verification is not in force: verify the caller again".into(),
            ));
        }
        let Some(account) = self.wallet.idp().accounts().get(&check.account_id).await? else {
            return Err(WalletError::NotFound(
                "the citizen's account is gone".into(),
            ));
        };
        let wanted: Vec<String> = PROFILE_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect();
        let values = self.wallet.values().holding(&account.id, &wanted).await?;
        let attributes: Vec<(String, Value)> = PROFILE_ATTRIBUTES
            .iter()
            .filter_map(|name| {
                values
                    .iter()
                    .find(|v| v.attribute == *name)
                    .map(|v| ((*name).to_owned(), v.value.clone()))
            })
            .collect();
        let mut released = vec!["given_names".to_owned(), "family_names".to_owned()];
        released.extend(attributes.iter().map(|(name, _)| name.clone()));
        let recipient_name = format!("{} · {}", agent.name, agent.office);
        record_release(
            self.wallet,
            &Release {
                account_id: &account.id,
                client_id: &agent.account_id,
                client_name: &recipient_name,
                attributes: &released,
                purpose: PURPOSE,
                // What authorised the release: for an agent, the caller check.
                consent_ids: std::slice::from_ref(&check.id),
                channel: "agent",
            },
        )
        .await?;
        Ok(CallerProfile {
            run: account.run.to_string(),
            given_names: account.given_names,
            family_names: account.family_names,
            attributes,
            until: check.expires_at,
        })
    }
}

async fn insert_check(
    conn: &mut sqlx::AnyConnection,
    check: &CallerCheck,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO wallet_caller_checks ({CHECK_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&check.id)
    .bind(&check.agent_id)
    .bind(&check.office)
    .bind(&check.account_id)
    .bind(&check.method)
    .bind(check.binding.as_deref())
    .bind(&check.state)
    .bind(check.created_at)
    .bind(check.decided_at)
    .bind(check.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_with_or_without_separators_and_nothing_else() {
        assert_eq!(normalise_code("123456").unwrap(), "123456");
        assert_eq!(normalise_code(" 123-456 ").unwrap(), "123456");
        assert_eq!(normalise_code("123 456").unwrap(), "123456");
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert!(
                matches!(normalise_code(bad), Err(WalletError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
