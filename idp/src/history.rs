//! A citizen's sign-in history, read from the journal: every session started (with the level
//! and methods), every failed password for their RUN, every failed second factor, and every
//! lock and unlock. It shows the citizen attempts on their account that they did not make.

use clave_common::journal::{JournalEntry, JournalFilter, MAX_LIST_LIMIT};
use serde_json::Value;

use crate::accounts::Account;
use crate::{Idp, IdpError};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInKind {
    /// A session started.
    Succeeded,
    /// A wrong password (or a locked-out attempt) for the citizen's RUN.
    PasswordFailed,
    /// A wrong second-factor code.
    SecondFactorFailed,
    /// The account was locked.
    Locked,
    /// The account was unlocked.
    Unlocked,
}

impl SignInKind {
    /// A stable name (`succeeded`, `password_failed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::PasswordFailed => "password_failed",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::Locked => "locked",
            Self::Unlocked => "unlocked",
        }
    }
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEvent {
    /// Its journal position.
    pub seq: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// What happened.
    pub kind: SignInKind,
    /// The methods (`pwd`, `otp`, `hwk`…) of a session, or the failure's reason.
    pub detail: String,
    /// The client address, when recorded.
    pub addr: Option<String>,
}

/// The journal kinds read, with the subject they are filed under.
const SOURCES: &[(&str, bool, SignInKind)] = &[
    ("session.created", true, SignInKind::Succeeded),
    ("login.failed", false, SignInKind::PasswordFailed),
    ("second_factor.failed", true, SignInKind::SecondFactorFailed),
    ("account.locked", true, SignInKind::Locked),
    ("account.unlocked", true, SignInKind::Unlocked),
];

fn text(data: &Value, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl Idp {
    /// The latest `limit` sign-in events of `account`, newest first.
    pub async fn sign_in_history(
        &self,
        account: &Account,
        limit: usize,
    ) -> Result<Vec<SignInEvent>, IdpError> {
        let mut events = Vec::new();
        for (kind, by_account, what) in SOURCES {
            // Failed passwords are filed under the RUN typed: the attempt may name a RUN
            // before anyone knows whose it is.
            let subject = if *by_account {
                account.id.clone()
            } else {
                account.run.compact()
            };
            let mut after = None;
            loop {
                let page: Vec<JournalEntry> = self
                    .ctx()
                    .journal
                    .list(JournalFilter {
                        subject: Some(subject.clone()),
                        kind: Some((*kind).to_owned()),
                        after_seq: after,
                        limit: Some(MAX_LIST_LIMIT),
                    })
                    .await?;
                let full = page.len() == MAX_LIST_LIMIT as usize;
                after = page.last().map(|e| e.seq);
                events.extend(page.into_iter().map(|e| {
                    SignInEvent {
                        seq: e.seq,
                        at: e.at,
                        kind: *what,
                        detail: match what {
                            SignInKind::Succeeded => e
                                .data
                                .get("amr")
                                .and_then(Value::as_array)
                                .map(|m| {
                                    m.iter()
                                        .filter_map(Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join(" ")
                                })
                                .unwrap_or_default(),
                            SignInKind::Locked => text(&e.data, "reason").unwrap_or_default(),
                            SignInKind::Unlocked => text(&e.data, "how").unwrap_or_default(),
                            _ => text(&e.data, "reason").unwrap_or_default(),
                        },
                        addr: text(&e.data, "addr").or_else(|| text(&e.data, "ip")),
                    }
                }));
                if !full {
                    break;
                }
            }
        }
        events.sort_by_key(|e| std::cmp::Reverse(e.seq));
        events.truncate(limit);
        Ok(events)
    }
}
