//! The access log: every release of a citizen's data, through any channel, as a
//! `data.released` journal event about the citizen. The journal is append-only and
//! hash-chained, so the log cannot be edited or trimmed without `clave journal verify`
//! noticing, and nothing in clave deletes from it.

use clave_common::journal::{JournalFilter, NewEvent};
use serde::Serialize;
use serde_json::{Value, json};

use crate::value::rfc3339;
use crate::{Wallet, WalletError};

/// The journal kind of a release.
pub const RELEASED: &str = "data.released";

/// One release, as recorded.
#[derive(Debug, Clone)]
pub struct Release<'a> {
    /// The citizen.
    pub account_id: &'a str,
    /// Who received the data: a client id, or an agent's account id.
    pub client_id: &'a str,
    /// Their name, as the citizen should read it.
    pub client_name: &'a str,
    /// The attributes released.
    pub attributes: &'a [String],
    /// Why, as stated in the consent.
    pub purpose: &'a str,
    /// The consents the release relied on.
    pub consent_ids: &'a [String],
    /// How: `id_token`, `userinfo`, `agency_api`, `agent`.
    pub channel: &'a str,
}

/// Appends `release` to the journal.
pub(crate) async fn record_release(
    wallet: &Wallet,
    release: &Release<'_>,
) -> Result<(), WalletError> {
    let event = NewEvent::new(RELEASED)
        .actor(release.client_id)
        .subject(release.account_id)
        .data(json!({
            "recipient": release.client_id,
            "recipient_name": release.client_name,
            "attributes": release.attributes,
            "purpose": release.purpose,
            "consent_ids": release.consent_ids,
            "channel": release.channel,
        }));
    wallet.idp().ctx().journal.append_now(&event).await?;
    Ok(())
}

/// One line of the citizen's access log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogEntry {
    /// Its position in the journal (the paging cursor).
    pub seq: i64,
    /// When, RFC 3339.
    pub at: String,
    /// Who received the data.
    pub recipient: String,
    /// Their name.
    pub recipient_name: String,
    /// What.
    pub attributes: Vec<String>,
    /// Why.
    pub purpose: String,
    /// Under which consents.
    pub consent_ids: Vec<String>,
    /// Through which channel.
    pub channel: String,
}

/// A page of the access log, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessLogPage {
    /// The entries.
    pub entries: Vec<AccessLogEntry>,
    /// The cursor for the next page (`?after=`), when there may be more.
    pub next: Option<i64>,
}

/// The most entries of one page.
pub const MAX_PAGE: u32 = 500;

impl Wallet {
    /// The releases of `account_id`'s data after journal position `after`, at most `limit`.
    pub async fn access_log(
        &self,
        account_id: &str,
        after: Option<i64>,
        limit: u32,
    ) -> Result<AccessLogPage, WalletError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let entries = self
            .idp()
            .ctx()
            .journal
            .list(JournalFilter {
                subject: Some(account_id.to_owned()),
                kind: Some(RELEASED.to_owned()),
                after_seq: after,
                limit: Some(limit),
            })
            .await?;
        let full = entries.len() == limit as usize;
        let entries: Vec<AccessLogEntry> = entries
            .into_iter()
            .map(|e| {
                let text = |key: &str| {
                    e.data
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                let list = |key: &str| -> Vec<String> {
                    e.data
                        .get(key)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                AccessLogEntry {
                    seq: e.seq,
                    at: rfc3339(e.at),
                    recipient: text("recipient"),
                    recipient_name: text("recipient_name"),
                    attributes: list("attributes"),
                    purpose: text("purpose"),
                    consent_ids: list("consent_ids"),
                    channel: text("channel"),
                }
            })
            .collect();
        let next = if full {
            entries.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AccessLogPage { entries, next })
    }
}

/// The most entries one export holds.
pub const MAX_EXPORT: usize = 50_000;

impl Wallet {
    /// The whole access log of `account_id` (up to [`MAX_EXPORT`] entries), oldest first, for
    /// an export.
    pub async fn access_log_export(
        &self,
        account_id: &str,
    ) -> Result<Vec<AccessLogEntry>, WalletError> {
        let mut entries = Vec::new();
        let mut after = None;
        while entries.len() < MAX_EXPORT {
            let page = self.access_log(account_id, after, MAX_PAGE).await?;
            entries.extend(page.entries);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        entries.truncate(MAX_EXPORT);
        Ok(entries)
    }
}

/// The access log as CSV (RFC 4180), with a header line.
pub fn to_csv(entries: &[AccessLogEntry]) -> String {
    let mut out =
        String::from("at,recipient,recipient_name,attributes,purpose,consent_ids,channel\r\n");
    for e in entries {
        let fields = [
            e.at.clone(),
            e.recipient.clone(),
            e.recipient_name.clone(),
            e.attributes.join(" "),
            e.purpose.clone(),
            e.consent_ids.join(" "),
            e.channel.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field: quoted when needed, and defused when a spreadsheet would read it as a
/// formula.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        let csv = to_csv(&[AccessLogEntry {
            seq: 1,
            at: "2026-01-01T00:00:00Z".into(),
            recipient: "c1".into(),
            recipient_name: "Fonasa, Chile".into(),
            attributes: vec!["a".into(), "b".into()],
            purpose: "p".into(),
            consent_ids: vec!["x".into()],
            channel: "userinfo".into(),
        }]);
        assert_eq!(
            csv,
            "at,recipient,recipient_name,attributes,purpose,consent_ids,channel\r\n\
             2026-01-01T00:00:00Z,c1,\"Fonasa, Chile\",a b,p,x,userinfo\r\n"
        );
    }
}
