//! Results: one record per scenario, as JSON and as a Markdown table.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::Tally;

/// One scenario's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub concurrency: usize,
    pub seconds: f64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub requests_per_sec: f64,
    /// Items per second (batch publishing: rows; otherwise requests).
    pub items_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Server CPU seconds used while measuring.
    pub server_cpu_secs: Option<f64>,
    /// Successful requests per server CPU second: throughput per vCPU.
    pub per_vcpu: Option<f64>,
    /// The server's resident memory after the run, MiB.
    pub rss_mib: Option<f64>,
    /// The server's peak resident memory so far, MiB.
    pub peak_rss_mib: Option<f64>,
    /// PostgreSQL only: write transactions per successful request.
    pub db_write_xacts_per_request: Option<f64>,
    /// PostgreSQL only: write-ahead log written per successful request, KiB.
    pub db_wal_kib_per_request: Option<f64>,
}

impl ScenarioResult {
    pub fn new(
        scenario: &str,
        concurrency: usize,
        seconds: f64,
        mut tally: Tally,
        cpu: Option<f64>,
        memory: Option<(u64, u64)>,
        items_per_request: f64,
    ) -> Self {
        tally.latencies.sort_unstable();
        let n = tally.latencies.len();
        let pct = |p: f64| {
            if n == 0 {
                return 0.0;
            }
            let i = ((n as f64 * p).ceil() as usize).clamp(1, n) - 1;
            f64::from(tally.latencies[i]) / 1000.0
        };
        let ok = n as u64;
        let rps = ok as f64 / seconds.max(1e-9);
        Self {
            scenario: scenario.to_owned(),
            concurrency,
            seconds,
            ok,
            errors: tally.errors,
            requests_per_sec: rps,
            items_per_sec: rps * items_per_request,
            p50_ms: pct(0.50),
            p90_ms: pct(0.90),
            p99_ms: pct(0.99),
            max_ms: pct(1.0),
            server_cpu_secs: cpu,
            per_vcpu: cpu.filter(|c| *c > 0.0).map(|c| ok as f64 / c),
            rss_mib: memory.map(|(rss, _)| rss as f64 / 1024.0),
            peak_rss_mib: memory.map(|(_, peak)| peak as f64 / 1024.0),
            db_write_xacts_per_request: None,
            db_wal_kib_per_request: None,
        }
    }

    /// Adds what the database wrote while measuring: `xacts` write transactions and `wal`
    /// bytes of write-ahead log.
    pub fn with_database_writes(mut self, xacts: u64, wal: u64) -> Self {
        if self.ok > 0 {
            self.db_write_xacts_per_request = Some(xacts as f64 / self.ok as f64);
            self.db_wal_kib_per_request = Some(wal as f64 / 1024.0 / self.ok as f64);
        }
        self
    }
}

/// One line for the terminal.
pub fn line(r: &ScenarioResult) -> String {
    format!(
        "{}: {} ok, {} errors, {:.0} req/s ({:.0} items/s), per vCPU {}, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        r.scenario,
        r.ok,
        r.errors.values().sum::<u64>(),
        r.requests_per_sec,
        r.items_per_sec,
        r.per_vcpu
            .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}/s")),
        r.p50_ms,
        r.p99_ms,
        r.max_ms
    )
}

/// The results as a Markdown table.
pub fn markdown(label: &str, results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    if !label.is_empty() {
        out.push_str(&format!("**{label}**\n\n"));
    }
    out.push_str("| scenario | concurrency | req/s | items/s | per vCPU (req/CPU s) | p50 ms | p90 ms | p99 ms | max ms | errors | server RSS MiB (peak) | DB write tx / req | WAL KiB / req |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let errors: u64 = r.errors.values().sum();
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} |\n",
            r.scenario,
            r.concurrency,
            r.requests_per_sec,
            r.items_per_sec,
            r.per_vcpu
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.0}")),
            r.p50_ms,
            r.p90_ms,
            r.p99_ms,
            r.max_ms,
            errors,
            match (r.rss_mib, r.peak_rss_mib) {
                (Some(rss), Some(peak)) => format!("{rss:.0} ({peak:.0})"),
                _ => "n/a".to_owned(),
            },
            r.db_write_xacts_per_request
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}")),
            r.db_wal_kib_per_request
                .map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}")),
        ));
    }
    out
}
