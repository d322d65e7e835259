//! `/admin/journal`: the journal for an administrator, newest first, a page at a time,
//! filtered by kind, with whether the chain is intact.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{AdminTexts, Need, Stop, open, texts};
use crate::PortalState;
use crate::error::PageError;
use crate::page::{Chrome, render};

/// Entries per page.
const PAGE: u32 = 50;
/// The longest kind the filter takes (kinds are short dotted names).
const MAX_KIND: usize = 100;

struct Row {
    seq: i64,
    at: String,
    kind: String,
    actor: String,
    subject: String,
    data: String,
}

#[derive(Template)]
#[template(path = "admin_journal.html")]
struct JournalPage {
    chrome: Chrome,
    t: &'static AdminTexts,
    intact: bool,
    verified: u64,
    problem: String,
    kind: String,
    rows: Vec<Row>,
    /// The link to the next (older) page, if there may be one.
    older: Option<String>,
    /// On a later page, the link back to the newest entries.
    newest: Option<String>,
}

pub(super) async fn page(
    State(state): State<PortalState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Stop> {
    let (query, lang, _) = open(&state, &headers, query.as_deref(), Need::Admin).await?;
    let kind: String = query
        .get("kind")
        .unwrap_or_default()
        .trim()
        .chars()
        .take(MAX_KIND)
        .collect();
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let journal = &state.idp.ctx().journal;
    let fail = |e| PageError::from_idp(lang, &clave_idp::IdpError::Db(e));
    let entries = journal
        .list_newest(Some(kind.as_str()).filter(|k| !k.is_empty()), before, PAGE)
        .await
        .map_err(fail)?;
    let report = journal.verify().await.map_err(fail)?;
    let link = |before: Option<i64>| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("kind", &kind);
        if let Some(before) = before {
            query.append_pair("before", &before.to_string());
        }
        format!("/admin/journal?{}", query.finish())
    };
    let older = match entries.last() {
        Some(last) if entries.len() == PAGE as usize => Some(link(Some(last.seq))),
        _ => None,
    };
    let newest = before.map(|_| link(None));
    let rows = entries
        .into_iter()
        .map(|e| Row {
            seq: e.seq,
            at: state.date_time(lang, e.at),
            kind: e.kind,
            actor: e.actor.unwrap_or_default(),
            subject: e.subject.unwrap_or_default(),
            data: e.data.to_string(),
        })
        .collect();
    let params: Vec<(&str, &str)> = if kind.is_empty() {
        Vec::new()
    } else {
        vec![("kind", kind.as_str())]
    };
    let page = JournalPage {
        chrome: Chrome::with_switch(lang, "/admin/journal", &params),
        t: texts(lang),
        intact: report.is_intact(),
        verified: report.entries,
        problem: report
            .first_problem
            .map(|p| p.to_string())
            .unwrap_or_default(),
        kind,
        rows,
        older,
        newest,
    };
    Ok(render(&page, lang, StatusCode::OK, Vec::new())?)
}
