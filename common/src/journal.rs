//! The journal: an append-only, hash-chained record of every security-relevant event.
//!
//! Each entry's hash covers its own fields and the previous entry's hash, so altering,
//! removing, reordering or adding a row breaks the chain at that point, and
//! [`Journal::verify`] names the first broken link. The single `journal_head` row holds the last
//! sequence number and hash; appenders update it first, and its row lock serialises appends
//! across every node sharing the database until the appending transaction ends.
//!
//! An event is appended inside the caller's transaction ([`append`]), so it commits or rolls
//! back with the change it records.
//!
//! # Hash
//!
//! `hash` is the lowercase hex SHA-256 of these fields, in this order, where a *string* is its
//! byte length as 8 bytes big-endian followed by its UTF-8 bytes, and an *integer* is 8 bytes
//! big-endian two's complement:
//!
//! 1. the string `clave/journal/v1`;
//! 2. `seq` (integer), `id` (string), `at` (integer, Unix seconds), `kind` (string);
//! 3. `actor`, then `subject`: the byte `0` when absent, or the byte `1` and the string;
//! 4. `data` (string): the JSON text exactly as stored, which clave writes with object keys
//!    sorted by their UTF-8 bytes and no whitespace;
//! 5. `prev_hash` (string): the previous entry's hash, or 64 zeros for the first entry.
//!
//! Every field is length-prefixed or fixed-size, so no two different entries hash the same
//! bytes, and anyone can check an exported journal without clave.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::clock::SharedClock;
use crate::db::Db;
use crate::id::new_id;

/// The `prev_hash` of the first entry: the hash `journal_head` starts with.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Entries [`Journal::list`] returns when the filter sets no limit.
pub const DEFAULT_LIST_LIMIT: u32 = 100;
/// The most entries [`Journal::list`] returns at once.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// Entries [`Journal::verify`] reads per query, so that memory stays flat however long the
/// journal grows.
const VERIFY_PAGE: i64 = 1000;

const COLUMNS: &str = "seq, id, at, kind, actor, subject, data, prev_hash, hash";

/// An event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened, e.g. `login.succeeded` or `consent.granted`.
    pub kind: String,
    /// Who did it: an account, client or official id, if anyone.
    pub actor: Option<String>,
    /// Whom or what it concerns, e.g. the citizen's account id.
    pub subject: Option<String>,
    /// Details, as a JSON value.
    pub data: Value,
}

impl NewEvent {
    /// An event of `kind` with no actor, no subject and empty data (`{}`).
    pub fn new(kind: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            actor: None,
            subject: None,
            data: Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets who did it.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets whom or what it concerns.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the details.
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// A recorded event, with its place in the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JournalEntry {
    /// Position in the journal, from 1, without gaps.
    pub seq: i64,
    /// Unique id (UUIDv7).
    pub id: String,
    /// When it was recorded, in Unix seconds.
    pub at: i64,
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: Option<String>,
    /// Whom or what it concerns.
    pub subject: Option<String>,
    /// Details.
    pub data: Value,
    /// The previous entry's hash ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Which entries [`Journal::list`] returns, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalFilter {
    /// Only entries about this subject.
    pub subject: Option<String>,
    /// Only entries of this kind.
    pub kind: Option<String>,
    /// Only entries after this sequence number (for paging).
    pub after_seq: Option<i64>,
    /// At most this many entries ([`DEFAULT_LIST_LIMIT`] when unset, never above
    /// [`MAX_LIST_LIMIT`]).
    pub limit: Option<u32>,
}

/// The first thing wrong with the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's fields no longer match its hash.
    Altered {
        /// The altered entry.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// Entries `first..=last` are gone.
    Missing {
        /// The first missing sequence number.
        first: i64,
        /// The last missing sequence number.
        last: i64,
    },
    /// The entry matches its own hash but names a different previous hash than the entry
    /// before it has: an earlier entry was rewritten with a fresh hash, or entries were
    /// reordered.
    BrokenLink {
        /// The entry whose link is broken.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// A row with a sequence number below 1, where no entry can be.
    BeforeFirst {
        /// The row's sequence number.
        seq: i64,
        /// Its id.
        id: String,
    },
    /// The last entry is not the one `journal_head` records: the tail was removed, rewritten
    /// or extended outside clave.
    HeadMismatch {
        /// The sequence number the head records as last.
        head_seq: i64,
        /// The sequence number of the last entry actually present (0 when there is none).
        last_seq: i64,
    },
}

impl ChainProblem {
    /// The sequence number of the first entry affected.
    pub fn seq(&self) -> i64 {
        match self {
            Self::Altered { seq, .. }
            | Self::BrokenLink { seq, .. }
            | Self::BeforeFirst { seq, .. } => *seq,
            Self::Missing { first, .. } => *first,
            Self::HeadMismatch { head_seq, last_seq } if head_seq == last_seq => *last_seq,
            Self::HeadMismatch { head_seq, last_seq } => head_seq.min(last_seq) + 1,
        }
    }
}

impl fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { seq, id } => write!(
                f,
                "entry {seq} ({id}) was altered: its content no longer matches its hash"
            ),
            Self::Missing { first, last } if first == last => write!(
                f,
                "entry {first} is missing: the chain jumps from entry {} to entry {}",
                first - 1,
                last + 1
            ),
            Self::Missing { first, last } => write!(
                f,
                "entries {first} to {last} are missing: the chain jumps from entry {} to entry {}",
                first - 1,
                last + 1
            ),
            Self::BrokenLink { seq, id } => write!(
                f,
                "entry {seq} ({id}) does not follow from entry {}: an earlier entry was \
                 rewritten or the entries were reordered",
                seq - 1
            ),
            Self::BeforeFirst { seq, id } => write!(
                f,
                "a row numbered {seq} ({id}) sits before the first entry, which is numbered 1"
            ),
            Self::HeadMismatch { head_seq, last_seq } if last_seq < head_seq => write!(
                f,
                "the journal ends at entry {last_seq}, but its head records entry {head_seq} as \
                 the last: {} removed",
                removed_range(last_seq + 1, *head_seq)
            ),
            Self::HeadMismatch { head_seq, last_seq } if last_seq > head_seq => write!(
                f,
                "entries {} to {last_seq} lie beyond entry {head_seq}, which the journal head \
                 records as the last: they were added outside clave",
                head_seq + 1
            ),
            Self::HeadMismatch { last_seq, .. } => write!(
                f,
                "the last entry, {last_seq}, is not the one the journal head records: it was \
                 rewritten"
            ),
        }
    }
}

/// "entry N was" or "entries N to M were", for messages.
fn removed_range(first: i64, last: i64) -> String {
    if first == last {
        format!("entry {first} was")
    } else {
        format!("entries {first} to {last} were")
    }
}

/// The outcome of [`Journal::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries found intact, in order, before the first problem (all of them when there is
    /// none).
    pub entries: u64,
    /// The first broken link, if any.
    pub first_problem: Option<ChainProblem>,
}

impl VerifyReport {
    /// Whether the whole chain is intact.
    pub fn is_intact(&self) -> bool {
        self.first_problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.first_problem {
            None => write!(f, "journal intact: {} entries", self.entries),
            Some(problem) => write!(
                f,
                "journal broken after {} intact entries: {problem}",
                self.entries
            ),
        }
    }
}

/// Appends `event`, recorded at `at`, through `conn`.
///
/// Pass the transaction that makes the change the event records (`&mut *tx`), so both commit
/// or neither does; other appenders, on any node, wait for that transaction to end. Called
/// outside a transaction, the append is still atomic on its own.
pub async fn append(
    conn: &mut AnyConnection,
    at: OffsetDateTime,
    event: &NewEvent,
) -> Result<JournalEntry, sqlx::Error> {
    // A savepoint inside the caller's transaction, or a transaction of its own without one:
    // either way the head never moves without its entry.
    let mut tx = conn.begin().await?;
    let mut entries = append_in(&mut tx, &[(at, event)]).await?;
    tx.commit().await?;
    entries.pop().ok_or(sqlx::Error::RowNotFound)
}

/// The most rows of one `INSERT`: 9 parameters each stays far below the parameter limits of
/// both backends.
const MAX_ROWS_PER_INSERT: usize = 64;

/// How a batch of `n` rows is split into inserts: powers of two, largest first, so only a
/// handful of distinct statement texts exist and each stays in the prepared-statement cache.
fn insert_sizes(mut n: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut size = MAX_ROWS_PER_INSERT;
    while n > 0 {
        while size > n {
            size /= 2;
        }
        sizes.push(size);
        n -= size;
    }
    sizes
}

/// Appends `events` in order, through `conn`, which must be inside a transaction: one head
/// update and a few multi-row inserts, however many events there are.
async fn append_in(
    conn: &mut AnyConnection,
    events: &[(OffsetDateTime, &NewEvent)],
) -> Result<Vec<JournalEntry>, sqlx::Error> {
    let count = i64::try_from(events.len()).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    if count == 0 {
        return Ok(Vec::new());
    }
    // Updating the head first takes its row lock before anything is read, so no other
    // appender can read the same head in between.
    let claimed = sqlx::query("UPDATE journal_head SET seq = seq + $1 WHERE id = 1")
        .bind(count)
        .execute(&mut *conn)
        .await?;
    if claimed.rows_affected() != 1 {
        return Err(sqlx::Error::RowNotFound);
    }
    let (last_seq, mut prev_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM journal_head WHERE id = 1")
            .fetch_one(&mut *conn)
            .await?;
    // The head already counts the whole batch, but still holds the hash before it.
    let mut entries = Vec::with_capacity(events.len());
    let mut texts = Vec::with_capacity(events.len());
    for (seq, (at, event)) in (last_seq - count + 1..).zip(events) {
        let id = new_id();
        let at = at.unix_timestamp();
        let data = canonical_json(&event.data);
        let hash = ChainedFields {
            seq,
            id: &id,
            at,
            kind: &event.kind,
            actor: event.actor.as_deref(),
            subject: event.subject.as_deref(),
            data: &data,
            prev_hash: &prev_hash,
        }
        .hash();
        entries.push(JournalEntry {
            seq,
            id,
            at,
            kind: event.kind.clone(),
            actor: event.actor.clone(),
            subject: event.subject.clone(),
            data: event.data.clone(),
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
            hash,
        });
        texts.push(data);
    }
    let mut start = 0;
    for size in insert_sizes(entries.len()) {
        let (rows, texts) = (&entries[start..start + size], &texts[start..start + size]);
        start += size;
        let mut sql = String::from(
            "INSERT INTO journal (seq, id, at, kind, actor, subject, data, prev_hash, hash) VALUES ",
        );
        for i in 0..rows.len() {
            let p = i * 9;
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for j in 1..=9 {
                if j > 1 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${}", p + j));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql);
        for (entry, data) in rows.iter().zip(texts) {
            query = query
                .bind(entry.seq)
                .bind(&entry.id)
                .bind(entry.at)
                .bind(&entry.kind)
                .bind(entry.actor.as_deref())
                .bind(entry.subject.as_deref())
                .bind(data)
                .bind(&entry.prev_hash)
                .bind(&entry.hash);
        }
        query.execute(&mut *conn).await?;
    }
    sqlx::query("UPDATE journal_head SET hash = $1 WHERE id = 1")
        .bind(&prev_hash)
        .execute(&mut *conn)
        .await?;
    Ok(entries)
}

/// The journal of one database, with the clock that stamps its entries.
#[derive(Debug, Clone)]
pub struct Journal {
    db: Db,
    clock: SharedClock,
    group: Arc<GroupCommit>,
}

/// Events waiting for [`Journal::append_now`] to write them, and the lock one writer holds
/// while it writes everything that queued up.
///
/// Every append takes the journal head's row lock until its transaction commits, so appends
/// from one node run one after another however many requests make them. Writing all the
/// events that queued meanwhile in one transaction (group commit) turns a queue of lock
/// waits, transactions and commits into one of each, and each caller still returns only
/// after its own entry has committed.
#[derive(Debug, Default)]
struct GroupCommit {
    queue: std::sync::Mutex<Vec<Queued>>,
    writer: tokio::sync::Mutex<()>,
}

/// One event waiting in the queue.
#[derive(Debug)]
struct Queued {
    at: OffsetDateTime,
    event: NewEvent,
    reply: oneshot::Sender<Result<JournalEntry, String>>,
}

/// The most events one group commit writes.
const MAX_GROUP: usize = 256;

impl Journal {
    /// The journal in `db`, stamping entries with `clock`.
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self {
            db,
            clock,
            group: Arc::default(),
        }
    }

    /// Appends `event` in a transaction of its own, for events that record no other change.
    /// Returns once the entry has committed; appends made at the same moment on this node
    /// share that transaction.
    pub async fn append_now(&self, event: &NewEvent) -> Result<JournalEntry, sqlx::Error> {
        let (reply, mut answer) = oneshot::channel();
        self.group.queued().push(Queued {
            at: self.clock.now(),
            event: event.clone(),
            reply,
        });
        let writer = self.group.writer.lock().await;
        match answer.try_recv() {
            // An earlier writer took it along.
            Ok(result) => return result.map_err(sqlx::Error::Protocol),
            Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch: Vec<Queued> = {
            let mut queue = self.group.queued();
            let take = queue.len().min(MAX_GROUP);
            queue.drain(..take).collect()
        };
        if !batch.is_empty() {
            // A task of its own, so that a caller who stops waiting (a client that hung up)
            // cannot leave the others' entries half written.
            let db = self.db.clone();
            let _ = tokio::spawn(write_group(db, batch)).await;
        }
        drop(writer);
        // Ours was in this batch, or in one still being written by an earlier writer.
        match answer.await {
            Ok(result) => result.map_err(sqlx::Error::Protocol),
            Err(_) => Err(abandoned()),
        }
    }
    /// The entries matching `filter`, oldest first.
    pub async fn list(&self, filter: JournalFilter) -> Result<Vec<JournalEntry>, sqlx::Error> {
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_LIST_LIMIT)
            .min(MAX_LIST_LIMIT);
        let mut sql = format!("SELECT {COLUMNS} FROM journal WHERE seq > $1");
        let mut placeholders = 1;
        for (column, value) in [("subject", &filter.subject), ("kind", &filter.kind)] {
            if value.is_some() {
                placeholders += 1;
                sql.push_str(&format!(" AND {column} = ${placeholders}"));
            }
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", placeholders + 1));

        let mut query = sqlx::query_as::<_, JournalRow>(&sql).bind(filter.after_seq.unwrap_or(0));
        for value in [filter.subject, filter.kind].into_iter().flatten() {
            query = query.bind(value);
        }
        query
            .bind(i64::from(limit))
            .fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(JournalRow::into_entry)
            .collect()
    }

    /// At most `limit` entries (capped at [`MAX_LIST_LIMIT`]) newest first, before sequence
    /// number `before_seq` when given, of `kind` when given: a reader's page, latest on top.
    pub async fn list_newest(
        &self,
        kind: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<JournalEntry>, sqlx::Error> {
        let kind_clause = if kind.is_some() { " AND kind = $3" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM journal WHERE seq < $1{kind_clause} ORDER BY seq DESC LIMIT $2"
        );
        let mut query = sqlx::query_as::<_, JournalRow>(&sql)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(i64::from(limit.min(MAX_LIST_LIMIT)));
        if let Some(kind) = kind {
            query = query.bind(kind.to_owned());
        }
        query
            .fetch_all(self.db.pool())
            .await?
            .into_iter()
            .map(JournalRow::into_entry)
            .collect()
    }

    /// Walks the whole chain in order and reports the first broken link, if any.
    pub async fn verify(&self) -> Result<VerifyReport, sqlx::Error> {
        self.verify_in_pages(VERIFY_PAGE).await
    }

    async fn verify_in_pages(&self, page_size: i64) -> Result<VerifyReport, sqlx::Error> {
        let pool = self.db.pool();
        // Only entries up to the head as read now are checked: later ones belong to appends
        // still under way, and every entry up to this head has committed with it.
        let (head_seq, head_hash) = read_head(pool).await?;
        let mut walk = ChainWalk::default();
        let mut after = i64::MIN;
        loop {
            let page: Vec<JournalRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM journal WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3"
            ))
            .bind(after)
            .bind(head_seq)
            .bind(page_size)
            .fetch_all(pool)
            .await?;
            for row in &page {
                if let Err(problem) = walk.step(row) {
                    return Ok(walk.report(Some(problem)));
                }
            }
            match page.last() {
                Some(last) if i64::try_from(page.len()).is_ok_and(|n| n == page_size) => {
                    after = last.seq;
                }
                _ => break,
            }
        }
        if walk.last_seq != head_seq || walk.last_hash != head_hash {
            let problem = ChainProblem::HeadMismatch {
                head_seq,
                last_seq: walk.last_seq,
            };
            return Ok(walk.report(Some(problem)));
        }
        // Rows past the head: read the rows first and the head second, so that a row an
        // append commits in between is covered by the head read after it.
        let (beyond,): (Option<i64>,) = sqlx::query_as("SELECT MAX(seq) FROM journal")
            .fetch_one(pool)
            .await?;
        let (head_now, _) = read_head(pool).await?;
        if let Some(last_seq) = beyond.filter(|&seq| seq > head_now) {
            let problem = ChainProblem::HeadMismatch {
                head_seq: head_now,
                last_seq,
            };
            return Ok(walk.report(Some(problem)));
        }
        Ok(walk.report(None))
    }
}

impl GroupCommit {
    fn queued(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn abandoned() -> sqlx::Error {
    sqlx::Error::Protocol("the journal append was abandoned before it committed".into())
}

/// Writes a group of queued events in one transaction and tells each caller how it went.
async fn write_group(db: Db, batch: Vec<Queued>) {
    let result = async {
        let events: Vec<(OffsetDateTime, &NewEvent)> =
            batch.iter().map(|q| (q.at, &q.event)).collect();
        let mut tx = db.begin().await?;
        let entries = append_in(&mut tx, &events).await?;
        tx.commit().await?;
        Ok::<_, sqlx::Error>(entries)
    }
    .await;
    match result {
        Ok(entries) => {
            for (queued, entry) in batch.into_iter().zip(entries) {
                let _ = queued.reply.send(Ok(entry));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, events = batch.len(), "a journal group commit failed");
            let text = format!("the journal append failed: {e}");
            for queued in batch {
                let _ = queued.reply.send(Err(text.clone()));
            }
        }
    }
}

async fn read_head(pool: &sqlx::AnyPool) -> Result<(i64, String), sqlx::Error> {
    sqlx::query_as("SELECT seq, hash FROM journal_head WHERE id = 1")
        .fetch_one(pool)
        .await
}

/// The state of a walk along the chain: the last entry found intact.
#[derive(Debug)]
struct ChainWalk {
    last_seq: i64,
    last_hash: String,
    entries: u64,
}

impl Default for ChainWalk {
    fn default() -> Self {
        Self {
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
            entries: 0,
        }
    }
}

impl ChainWalk {
    /// Checks the next row in sequence order against the chain so far.
    fn step(&mut self, row: &JournalRow) -> Result<(), ChainProblem> {
        let expected = self.last_seq + 1;
        if row.seq < 1 {
            return Err(ChainProblem::BeforeFirst {
                seq: row.seq,
                id: row.id.clone(),
            });
        }
        if row.seq > expected {
            return Err(ChainProblem::Missing {
                first: expected,
                last: row.seq - 1,
            });
        }
        if row.fields().hash() != row.hash {
            return Err(ChainProblem::Altered {
                seq: row.seq,
                id: row.id.clone(),
            });
        }
        if row.prev_hash != self.last_hash {
            return Err(ChainProblem::BrokenLink {
                seq: row.seq,
                id: row.id.clone(),
            });
        }
        self.last_seq = row.seq;
        self.last_hash.clone_from(&row.hash);
        self.entries += 1;
        Ok(())
    }

    fn report(&self, first_problem: Option<ChainProblem>) -> VerifyReport {
        VerifyReport {
            entries: self.entries,
            first_problem,
        }
    }
}

/// A journal row as stored, with `data` as its raw text (which is what the hash covers).
#[derive(Debug, sqlx::FromRow)]
struct JournalRow {
    seq: i64,
    id: String,
    at: i64,
    kind: String,
    actor: Option<String>,
    subject: Option<String>,
    data: String,
    prev_hash: String,
    hash: String,
}

impl JournalRow {
    fn fields(&self) -> ChainedFields<'_> {
        ChainedFields {
            seq: self.seq,
            id: &self.id,
            at: self.at,
            kind: &self.kind,
            actor: self.actor.as_deref(),
            subject: self.subject.as_deref(),
            data: &self.data,
            prev_hash: &self.prev_hash,
        }
    }

    fn into_entry(self) -> Result<JournalEntry, sqlx::Error> {
        let data =
            serde_json::from_str(&self.data).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(JournalEntry {
            seq: self.seq,
            id: self.id,
            at: self.at,
            kind: self.kind,
            actor: self.actor,
            subject: self.subject,
            data,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// The fields an entry's hash covers.
struct ChainedFields<'a> {
    seq: i64,
    id: &'a str,
    at: i64,
    kind: &'a str,
    actor: Option<&'a str>,
    subject: Option<&'a str>,
    data: &'a str,
    prev_hash: &'a str,
}

impl ChainedFields<'_> {
    /// The entry's hash, encoded as the module documentation describes.
    fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let string = |hasher: &mut Sha256, text: &str| {
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
        };
        string(&mut hasher, "clave/journal/v1");
        hasher.update(self.seq.to_be_bytes());
        string(&mut hasher, self.id);
        hasher.update(self.at.to_be_bytes());
        string(&mut hasher, self.kind);
        for optional in [self.actor, self.subject] {
            match optional {
                None => hasher.update([0]),
                Some(text) => {
                    hasher.update([1]);
                    string(&mut hasher, text);
                }
            }
        }
        string(&mut hasher, self.data);
        string(&mut hasher, self.prev_hash);
        hex::encode(hasher.finalize())
    }
}

/// JSON text with object keys sorted by their UTF-8 bytes and no whitespace, so that the same
/// value always gives the same text whatever order its keys were built in.
fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical_json(value, &mut out);
    out
}

fn write_canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                write_canonical_json(member, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::clock::FixedClock;

    const T0: i64 = 1_700_000_000;

    fn journal_on(db: &Db) -> Journal {
        Journal::new(db.clone(), Arc::new(FixedClock::at_unix(T0)))
    }

    /// A journal holding `n` entries about two subjects.
    async fn journal_with(db: &Db, n: i64) -> Journal {
        let journal = journal_on(db);
        for i in 1..=n {
            let subject = if i % 2 == 0 { "acct-even" } else { "acct-odd" };
            journal
                .append_now(
                    &NewEvent::new("login.succeeded")
                        .actor(format!("client-{i}"))
                        .subject(subject)
                        .data(json!({ "n": i, "amr": ["pwd", "otp"] })),
                )
                .await
                .unwrap();
        }
        journal
    }

    async fn first_problem(journal: &Journal) -> ChainProblem {
        let report = journal.verify().await.unwrap();
        report.first_problem.unwrap()
    }

    async fn id_of(db: &Db, seq: i64) -> String {
        let (id,): (String,) = sqlx::query_as("SELECT id FROM journal WHERE seq = $1")
            .bind(seq)
            .fetch_one(db.pool())
            .await
            .unwrap();
        id
    }

    async fn exec(db: &Db, sql: &str) {
        sqlx::query(sql).execute(db.pool()).await.unwrap();
    }

    // Scenarios, run on SQLite and (when a server is named) PostgreSQL by the macro below.

    async fn appended_entries_chain_and_verify(db: Db) {
        let journal = journal_on(&db);
        let empty = journal.verify().await.unwrap();
        assert_eq!(
            empty,
            VerifyReport {
                entries: 0,
                first_problem: None
            }
        );

        let first = journal
            .append_now(
                &NewEvent::new("consent.granted")
                    .actor("svc-salud")
                    .subject("acct-1")
                    .data(json!({ "scope": "name birthdate", "z": 1, "a": null })),
            )
            .await
            .unwrap();
        assert_eq!(first.seq, 1);
        assert_eq!(first.at, T0);
        assert_eq!(first.prev_hash, GENESIS_HASH);
        assert_eq!(first.hash.len(), 64);
        let second = journal
            .append_now(&NewEvent::new("journal.exported"))
            .await
            .unwrap();
        assert_eq!(second.seq, 2);
        assert_eq!(second.prev_hash, first.hash);
        assert_eq!(
            (second.actor.as_deref(), second.subject.as_deref()),
            (None, None)
        );

        let listed = journal.list(JournalFilter::default()).await.unwrap();
        assert_eq!(listed, [first, second]);
        let report = journal.verify().await.unwrap();
        assert!(report.is_intact(), "{report}");
        assert_eq!(report.entries, 2);
        assert_eq!(report.to_string(), "journal intact: 2 entries");
    }

    async fn altered_data_is_found(db: Db) {
        let journal = journal_with(&db, 5).await;
        sqlx::query("UPDATE journal SET data = $1 WHERE seq = $2")
            .bind(r#"{"amr":["pwd"],"n":3}"#)
            .bind(3_i64)
            .execute(db.pool())
            .await
            .unwrap();
        let report = journal.verify().await.unwrap();
        let id = id_of(&db, 3).await;
        assert_eq!(report.entries, 2);
        assert_eq!(
            report.first_problem,
            Some(ChainProblem::Altered {
                seq: 3,
                id: id.clone()
            })
        );
        assert!(
            report
                .to_string()
                .contains(&format!("entry 3 ({id}) was altered")),
            "{report}"
        );
    }

    async fn every_altered_column_is_found(db: Db) {
        let journal = journal_with(&db, 3).await;
        for change in [
            "UPDATE journal SET at = at + 1 WHERE seq = 2",
            "UPDATE journal SET kind = 'login.failed' WHERE seq = 2",
            "UPDATE journal SET actor = NULL WHERE seq = 2",
            "UPDATE journal SET subject = 'acct-other' WHERE seq = 2",
            "UPDATE journal SET id = 'forged' WHERE seq = 2",
        ] {
            let before: (i64, String, String, Option<String>, Option<String>) =
                sqlx::query_as("SELECT at, id, kind, actor, subject FROM journal WHERE seq = 2")
                    .fetch_one(db.pool())
                    .await
                    .unwrap();
            exec(&db, change).await;
            assert_eq!(first_problem(&journal).await.seq(), 2, "{change}");
            sqlx::query("UPDATE journal SET at = $1, id = $2, kind = $3, actor = $4, subject = $5 WHERE seq = 2")
                .bind(before.0)
                .bind(before.1)
                .bind(before.2)
                .bind(before.3)
                .bind(before.4)
                .execute(db.pool())
                .await
                .unwrap();
            assert!(
                journal.verify().await.unwrap().is_intact(),
                "restored after {change}"
            );
        }
    }

    async fn a_deleted_middle_entry_is_missing(db: Db) {
        let journal = journal_with(&db, 5).await;
        exec(&db, "DELETE FROM journal WHERE seq = 3").await;
        let report = journal.verify().await.unwrap();
        assert_eq!(
            report.first_problem,
            Some(ChainProblem::Missing { first: 3, last: 3 })
        );
        assert_eq!(report.entries, 2);
        assert!(
            report.to_string().contains("entry 3 is missing"),
            "{report}"
        );

        exec(&db, "DELETE FROM journal WHERE seq = 4").await;
        let problem = first_problem(&journal).await;
        assert_eq!(problem, ChainProblem::Missing { first: 3, last: 4 });
        assert!(
            problem
                .to_string()
                .starts_with("entries 3 to 4 are missing"),
            "{problem}"
        );
    }

    async fn swapped_entries_are_found(db: Db) {
        let journal = journal_with(&db, 5).await;
        let moved = id_of(&db, 3).await;
        exec(&db, "UPDATE journal SET seq = -3 WHERE seq = 3").await;
        exec(&db, "UPDATE journal SET seq = 3 WHERE seq = 2").await;
        exec(&db, "UPDATE journal SET seq = 2 WHERE seq = -3").await;
        assert_eq!(
            first_problem(&journal).await,
            ChainProblem::Altered { seq: 2, id: moved }
        );
    }

    async fn a_rewritten_entry_breaks_the_next_link(db: Db) {
        // A forger who recomputes the altered entry's own hash still breaks the link after it.
        let journal = journal_with(&db, 5).await;
        let row: JournalRow =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM journal WHERE seq = 3"))
                .fetch_one(db.pool())
                .await
                .unwrap();
        let forged_data = r#"{"n":3,"note":"nothing happened"}"#;
        let forged_hash = ChainedFields {
            data: forged_data,
            ..row.fields()
        }
        .hash();
        sqlx::query("UPDATE journal SET data = $1, hash = $2 WHERE seq = 3")
            .bind(forged_data)
            .bind(&forged_hash)
            .execute(db.pool())
            .await
            .unwrap();
        let id = id_of(&db, 4).await;
        let problem = first_problem(&journal).await;
        assert_eq!(
            problem,
            ChainProblem::BrokenLink {
                seq: 4,
                id: id.clone()
            }
        );
        assert!(
            problem
                .to_string()
                .contains(&format!("entry 4 ({id}) does not follow from entry 3")),
            "{problem}"
        );
    }

    async fn a_removed_tail_is_found_against_the_head(db: Db) {
        let journal = journal_with(&db, 5).await;
        exec(&db, "DELETE FROM journal WHERE seq = 5").await;
        let report = journal.verify().await.unwrap();
        assert_eq!(
            report.first_problem,
            Some(ChainProblem::HeadMismatch {
                head_seq: 5,
                last_seq: 4
            })
        );
        assert_eq!(report.entries, 4);
        assert!(
            report.to_string().ends_with("entry 5 was removed"),
            "{report}"
        );

        exec(&db, "DELETE FROM journal").await;
        assert_eq!(
            first_problem(&journal).await,
            ChainProblem::HeadMismatch {
                head_seq: 5,
                last_seq: 0
            }
        );
    }

    async fn a_rewritten_last_entry_is_found_against_the_head(db: Db) {
        let journal = journal_with(&db, 3).await;
        let row: JournalRow =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM journal WHERE seq = 3"))
                .fetch_one(db.pool())
                .await
                .unwrap();
        let forged_hash = ChainedFields {
            kind: "nothing",
            ..row.fields()
        }
        .hash();
        sqlx::query("UPDATE journal SET kind = 'nothing', hash = $1 WHERE seq = 3")
            .bind(&forged_hash)
            .execute(db.pool())
            .await
            .unwrap();
        let problem = first_problem(&journal).await;
        assert_eq!(
            problem,
            ChainProblem::HeadMismatch {
                head_seq: 3,
                last_seq: 3
            }
        );
        assert_eq!(problem.seq(), 3);
    }

    async fn rows_added_outside_clave_are_found(db: Db) {
        let journal = journal_with(&db, 2).await;
        let (_, head_hash) = read_head(db.pool()).await.unwrap();
        let forged = ChainedFields {
            seq: 3,
            id: "forged",
            at: T0,
            kind: "login.succeeded",
            actor: None,
            subject: Some("acct-odd"),
            data: "{}",
            prev_hash: &head_hash,
        };
        insert_raw(&db, &forged).await;
        let problem = first_problem(&journal).await;
        assert_eq!(
            problem,
            ChainProblem::HeadMismatch {
                head_seq: 2,
                last_seq: 3
            }
        );
        assert_eq!(problem.seq(), 3);
        assert!(
            problem.to_string().contains("added outside clave"),
            "{problem}"
        );

        exec(&db, "DELETE FROM journal WHERE seq = 3").await;
        insert_raw(
            &db,
            &ChainedFields {
                seq: 0,
                id: "zero",
                prev_hash: GENESIS_HASH,
                ..forged
            },
        )
        .await;
        assert_eq!(
            first_problem(&journal).await,
            ChainProblem::BeforeFirst {
                seq: 0,
                id: "zero".into()
            }
        );
    }

    async fn insert_raw(db: &Db, fields: &ChainedFields<'_>) {
        sqlx::query(
            "INSERT INTO journal (seq, id, at, kind, actor, subject, data, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(fields.seq)
        .bind(fields.id)
        .bind(fields.at)
        .bind(fields.kind)
        .bind(fields.actor)
        .bind(fields.subject)
        .bind(fields.data)
        .bind(fields.prev_hash)
        .bind(fields.hash())
        .execute(db.pool())
        .await
        .unwrap();
    }

    async fn a_rolled_back_append_leaves_no_trace(db: Db) {
        let journal = journal_with(&db, 2).await;
        let mut tx = db.begin().await.unwrap();
        let entry = append(
            &mut tx,
            OffsetDateTime::UNIX_EPOCH,
            &NewEvent::new("account.created"),
        )
        .await
        .unwrap();
        assert_eq!(entry.seq, 3);
        tx.rollback().await.unwrap();

        let report = journal.verify().await.unwrap();
        assert!(report.is_intact(), "{report}");
        assert_eq!(report.entries, 2);
        let filter = JournalFilter {
            kind: Some("account.created".into()),
            ..JournalFilter::default()
        };
        assert!(journal.list(filter).await.unwrap().is_empty());

        // The event commits together with the change it records.
        let mut tx = db.begin().await.unwrap();
        let entry = append(
            &mut tx,
            OffsetDateTime::UNIX_EPOCH,
            &NewEvent::new("account.created"),
        )
        .await
        .unwrap();
        assert_eq!(entry.seq, 3);
        tx.commit().await.unwrap();
        assert_eq!(journal.verify().await.unwrap().entries, 3);
    }

    async fn an_append_outside_a_transaction_is_atomic(db: Db) {
        let journal = journal_on(&db);
        let mut conn = db.pool().acquire().await.unwrap();
        let entry = append(
            &mut conn,
            OffsetDateTime::UNIX_EPOCH,
            &NewEvent::new("key.rotated"),
        )
        .await
        .unwrap();
        assert_eq!(entry.seq, 1);
        drop(conn);
        assert_eq!(journal.verify().await.unwrap().entries, 1);
    }

    async fn concurrent_appends_get_consecutive_seqs(db: Db) {
        const TASKS: i64 = 8;
        const EACH: i64 = 10;
        let journal = journal_on(&db);
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let journal = journal.clone();
            tasks.spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    let event = NewEvent::new("data.read").data(json!({ "task": task, "i": i }));
                    seqs.push(journal.append_now(&event).await.unwrap().seq);
                }
                seqs
            });
        }
        let mut seqs: Vec<i64> = tasks.join_all().await.into_iter().flatten().collect();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=TASKS * EACH).collect::<Vec<_>>());
        let report = journal.verify().await.unwrap();
        assert!(report.is_intact(), "{report}");
        assert_eq!(report.entries, u64::try_from(TASKS * EACH).unwrap());
    }

    /// Hundreds of appends at once, from two nodes: they commit in groups (several inserts
    /// per group), each caller gets its own entry back, and the chain holds.
    async fn a_crowd_of_appends_commits_in_groups_and_chains(db: Db) {
        const CALLERS: i64 = 300;
        let (one, other) = (journal_on(&db), journal_on(&db));
        let mut tasks = tokio::task::JoinSet::new();
        for caller in 0..CALLERS {
            let journal = if caller % 2 == 0 {
                one.clone()
            } else {
                other.clone()
            };
            tasks.spawn(async move {
                let event = NewEvent::new("data.read")
                    .subject(format!("citizen-{caller}"))
                    .data(json!({ "caller": caller }));
                (caller, journal.append_now(&event).await.unwrap())
            });
        }
        let mut seqs = Vec::new();
        for (caller, entry) in tasks.join_all().await {
            assert_eq!(entry.data, json!({ "caller": caller }));
            assert_eq!(entry.subject, Some(format!("citizen-{caller}")));
            seqs.push(entry.seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=CALLERS).collect::<Vec<_>>());
        let report = one.verify().await.unwrap();
        assert!(report.is_intact(), "{report}");
        assert_eq!(report.entries, u64::try_from(CALLERS).unwrap());
    }

    #[test]
    fn groups_are_inserted_in_few_distinct_statements() {
        assert_eq!(insert_sizes(0), Vec::<usize>::new());
        assert_eq!(insert_sizes(1), vec![1]);
        assert_eq!(insert_sizes(13), vec![8, 4, 1]);
        assert_eq!(insert_sizes(64), vec![64]);
        assert_eq!(insert_sizes(200), vec![64, 64, 64, 8]);
    }

    async fn verification_reads_in_pages(db: Db) {
        let journal = journal_with(&db, 7).await;
        for page in [1, 2, 3, 7, 8] {
            let report = journal.verify_in_pages(page).await.unwrap();
            assert_eq!(
                report,
                VerifyReport {
                    entries: 7,
                    first_problem: None
                },
                "page {page}"
            );
        }
        // Problems right at page boundaries are still found.
        exec(&db, "DELETE FROM journal WHERE seq = 5").await;
        for page in [1, 2, 3, 4] {
            let report = journal.verify_in_pages(page).await.unwrap();
            assert_eq!(
                report.first_problem,
                Some(ChainProblem::Missing { first: 5, last: 5 }),
                "page {page}"
            );
        }
    }

    async fn lists_filter_by_subject_kind_and_position(db: Db) {
        let journal = journal_with(&db, 6).await;
        journal
            .append_now(&NewEvent::new("consent.revoked").subject("acct-even"))
            .await
            .unwrap();
        let seqs =
            |entries: Vec<JournalEntry>| entries.into_iter().map(|e| e.seq).collect::<Vec<_>>();

        let even = JournalFilter {
            subject: Some("acct-even".into()),
            ..JournalFilter::default()
        };
        assert_eq!(
            seqs(journal.list(even.clone()).await.unwrap()),
            [2, 4, 6, 7]
        );
        let logins = JournalFilter {
            kind: Some("login.succeeded".into()),
            ..even.clone()
        };
        assert_eq!(seqs(journal.list(logins).await.unwrap()), [2, 4, 6]);
        let page = JournalFilter {
            after_seq: Some(2),
            limit: Some(2),
            ..even
        };
        assert_eq!(seqs(journal.list(page).await.unwrap()), [4, 6]);
        let all = JournalFilter {
            limit: Some(u32::MAX),
            ..JournalFilter::default()
        };
        assert_eq!(journal.list(all).await.unwrap().len(), 7);

        let entry = &journal
            .list(JournalFilter {
                after_seq: Some(2),
                limit: Some(1),
                ..JournalFilter::default()
            })
            .await
            .unwrap()[0];
        assert_eq!(entry.data, json!({ "n": 3, "amr": ["pwd", "otp"] }));
        assert_eq!(entry.actor.as_deref(), Some("client-3"));
    }

    /// Runs each scenario on a fresh SQLite database, and on a fresh PostgreSQL database when
    /// `TEST_DATABASE_URL` names a server.
    macro_rules! on_every_backend {
        ($($scenario:ident),* $(,)?) => {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $scenario() {
                        let test = crate::testdb::TestDb::sqlite().await;
                        super::$scenario(test.db.clone()).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $scenario() {
                        let Some(test) = crate::testdb::TestDb::postgres().await else {
                            return;
                        };
                        super::$scenario(test.db.clone()).await;
                    }
                )*
            }
        };
    }

    on_every_backend!(
        appended_entries_chain_and_verify,
        altered_data_is_found,
        every_altered_column_is_found,
        a_deleted_middle_entry_is_missing,
        swapped_entries_are_found,
        a_rewritten_entry_breaks_the_next_link,
        a_removed_tail_is_found_against_the_head,
        a_rewritten_last_entry_is_found_against_the_head,
        rows_added_outside_clave_are_found,
        a_rolled_back_append_leaves_no_trace,
        an_append_outside_a_transaction_is_atomic,
        concurrent_appends_get_consecutive_seqs,
        a_crowd_of_appends_commits_in_groups_and_chains,
        verification_reads_in_pages,
        lists_filter_by_subject_kind_and_position,
    );

    // Pure tests of the encoding.

    fn sample() -> ChainedFields<'static> {
        ChainedFields {
            seq: 1,
            id: "0190f3a4-0000-7000-8000-000000000001",
            at: T0,
            kind: "login.succeeded",
            actor: Some("client-1"),
            subject: Some("acct-1"),
            data: r#"{"amr":["pwd","otp"]}"#,
            prev_hash: GENESIS_HASH,
        }
    }

    #[test]
    fn the_hash_encoding_is_stable() {
        // Pinned: changing the encoding would make every existing journal fail verification.
        assert_eq!(
            sample().hash(),
            "90380427ec3079bcb793fc0ce053e6928fab8253f4a3c8093762a4edb8fd0345"
        );
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        let base = sample();
        let variants = [
            ChainedFields {
                kind: "login.succeededclient-1",
                actor: Some(""),
                ..sample()
            },
            ChainedFields {
                kind: "login.",
                actor: Some("succeededclient-1"),
                ..sample()
            },
            ChainedFields {
                actor: None,
                subject: Some("client-1"),
                ..sample()
            },
            ChainedFields {
                actor: Some("acct-1"),
                subject: Some("client-1"),
                ..sample()
            },
            ChainedFields {
                actor: Some(""),
                ..sample()
            },
            ChainedFields {
                subject: None,
                ..sample()
            },
            ChainedFields { seq: 2, ..sample() },
            ChainedFields {
                at: T0 + 1,
                ..sample()
            },
            ChainedFields {
                data: r#"{"amr":["otp","pwd"]}"#,
                ..sample()
            },
            ChainedFields {
                prev_hash: "",
                ..sample()
            },
        ];
        let mut hashes: Vec<String> = variants.iter().map(ChainedFields::hash).collect();
        hashes.push(base.hash());
        let count = hashes.len();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), count);
        assert_eq!(
            ChainedFields {
                actor: None,
                ..sample()
            }
            .hash(),
            ChainedFields {
                actor: None,
                ..sample()
            }
            .hash()
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = json!({
            "z": [ { "b": 1, "a": "x\"y" }, null, true, 1.5 ],
            "a": { "ñ": 2, "n": -3 },
            "m": "línea\n",
        });
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"n":-3,"ñ":2},"m":"línea\n","z":[{"a":"x\"y","b":1},null,true,1.5]}"#
        );
        let reparsed: Value = serde_json::from_str(&canonical_json(&value)).unwrap();
        assert_eq!(reparsed, value);
        assert_eq!(canonical_json(&reparsed), canonical_json(&value));
        assert_eq!(canonical_json(&json!({})), "{}");
    }

    #[test]
    fn problems_name_the_first_affected_entry() {
        let cases = [
            (
                ChainProblem::Altered {
                    seq: 4,
                    id: "a".into(),
                },
                4,
            ),
            (ChainProblem::Missing { first: 5, last: 9 }, 5),
            (
                ChainProblem::BrokenLink {
                    seq: 6,
                    id: "b".into(),
                },
                6,
            ),
            (
                ChainProblem::BeforeFirst {
                    seq: -1,
                    id: "c".into(),
                },
                -1,
            ),
            (
                ChainProblem::HeadMismatch {
                    head_seq: 9,
                    last_seq: 7,
                },
                8,
            ),
            (
                ChainProblem::HeadMismatch {
                    head_seq: 7,
                    last_seq: 9,
                },
                8,
            ),
            (
                ChainProblem::HeadMismatch {
                    head_seq: 7,
                    last_seq: 7,
                },
                7,
            ),
        ];
        for (problem, seq) in cases {
            assert_eq!(problem.seq(), seq, "{problem}");
            assert!(problem.to_string().contains(&seq.to_string()), "{problem}");
        }
    }

    #[test]
    fn events_build_fluently() {
        let event = NewEvent::new("signature.created")
            .actor("official-9")
            .subject("doc-1")
            .data(json!({ "format": "PAdES" }));
        assert_eq!(event.kind, "signature.created");
        assert_eq!(event.actor.as_deref(), Some("official-9"));
        assert_eq!(event.subject.as_deref(), Some("doc-1"));
        assert_eq!(event.data, json!({ "format": "PAdES" }));
        assert_eq!(NewEvent::new("x").data, json!({}));
    }
}
