//! `clave-bench run`: the load generator. Each scenario runs `--concurrency` workers against
//! the server for a warm-up, then for `--duration` seconds (or `--requests` in all) while the
//! server's CPU time and memory are read from `/proc/<pid>`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::report::{self, ScenarioResult};
use crate::scenarios::{self, Tokens, five_attributes, kind_of};
use crate::seed::{ATTRIBUTES, Setup, run_text};

/// Every scenario, in the order `all` runs them.
pub const SCENARIOS: &[&str] = &[
    "client-credentials",
    "refresh",
    "userinfo",
    "introspect",
    "wallet-read",
    "wallet-publish",
    "sign-hash",
    "login",
    "login-totp",
];

/// Flags of `run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The credentials `seed` wrote.
    #[arg(long, default_value = "bench-setup.json")]
    setup: PathBuf,
    /// Scenarios, comma separated, or `all`: client-credentials, refresh, userinfo,
    /// introspect, wallet-read, wallet-publish, sign-hash, login, login-totp.
    #[arg(long, default_value = "all")]
    scenarios: String,
    /// Concurrent workers.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds to measure each scenario.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Stop after this many requests instead (per scenario, all workers together).
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// The server's process id: CPU seconds and memory are read from /proc/<pid>.
    #[arg(long)]
    pid: Option<u32>,
    /// Write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the results as a Markdown table here.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// A PostgreSQL URL of the server's database: reports the write transactions and
    /// write-ahead log each request cost (the whole database server's, so run nothing else).
    #[arg(long)]
    db_stats: Option<String>,
    /// A label for the results (the backend, the machine).
    #[arg(long, default_value = "")]
    label: String,
    /// After each scenario's full-speed run, run it again at this fraction of the
    /// throughput it reached (e.g. 0.8), at a steady arrival rate, and report that run too:
    /// its latencies are counted from when each request was due, so a server that falls
    /// behind shows it in the p99 (no coordinated omission). Not for login-totp and
    /// sign-hash, whose workers wait for one-time codes.
    #[arg(long)]
    paced: Option<f64>,
}

/// What one worker holds between requests.
enum Worker {
    Token {
        client: usize,
    },
    Refresh {
        refresh: String,
    },
    Bearer {
        access: String,
    },
    Agency {
        token: String,
        sub: String,
    },
    Publish {
        token: String,
        round: u64,
    },
    Login {
        next: u32,
    },
    LoginTotp {
        next: u32,
        code: Option<(u32, String)>,
    },
    SignHash(Box<Signatory>),
}

/// Citizens each `sign-hash` worker signs for, taking turns: each may activate its
/// credential at most twice per 30-second step (one one-time code each).
const SIGNERS_PER_WORKER: u32 = 4;

/// What a `sign-hash` worker holds: its citizens' tokens and credentials, the activation it
/// is spending, and the code for the next one.
struct Signatory {
    signers: Vec<Signer>,
    turn: usize,
    round: u64,
    code: Option<(usize, String)>,
    activation: Option<Activation>,
}

struct Signer {
    index: u32,
    token: String,
    credential: String,
}

struct Activation {
    signer: usize,
    sad: String,
    hashes: Vec<String>,
}

/// The OIDs of SHA-256 and of ECDSA with SHA-256, as CSC names them.
const SHA256_OID: &str = "2.16.840.1.101.3.4.2.1";
const ECDSA_SHA256_OID: &str = "1.2.840.10045.4.3.2";

struct Shared {
    base: String,
    setup: Setup,
    http: reqwest::Client,
    scenario: String,
    concurrency: usize,
    codes: Arc<scenarios::Codes>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let setup: Setup = serde_json::from_slice(
        &std::fs::read(&args.setup)
            .with_context(|| format!("cannot read {}", args.setup.display()))?,
    )
    .context("the setup file is not what `clave-bench seed` writes")?;
    let wanted: Vec<String> = if args.scenarios == "all" {
        SCENARIOS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.scenarios
            .split(',')
            .map(|s| s.trim().to_owned())
            .collect()
    };
    if let Some(f) = args.paced
        && !(f > 0.0 && f <= 1.0)
    {
        bail!("--paced is a fraction of the peak throughput, above 0 and at most 1 (e.g. 0.8)");
    }
    for name in &wanted {
        if !SCENARIOS.contains(&name.as_str()) {
            bail!(
                "unknown scenario {name:?}; the scenarios are {}",
                SCENARIOS.join(", ")
            );
        }
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let codes = Arc::new(scenarios::Codes::new()?);
    let mut stats = match &args.db_stats {
        Some(url) => Some(
            <sqlx::PgConnection as sqlx::Connection>::connect(url)
                .await
                .context("--db-stats: cannot connect")?,
        ),
        None => None,
    };
    let mut results = Vec::new();
    for name in wanted {
        let shared = Arc::new(Shared {
            base: args.url.trim_end_matches('/').to_owned(),
            setup: setup.clone(),
            http: http.clone(),
            scenario: name.clone(),
            concurrency: args.concurrency,
            codes: codes.clone(),
        });
        eprintln!("{name}: preparing {} workers", args.concurrency);
        let mut workers = Vec::new();
        for i in 0..args.concurrency {
            workers.push(
                prepare(&shared, i)
                    .await
                    .with_context(|| format!("{name}: preparing"))?,
            );
        }
        if args.warmup > 0 {
            eprintln!("{name}: warming up for {} s", args.warmup);
            let (back, _) = drive(
                &shared,
                workers,
                Duration::from_secs(args.warmup),
                None,
                None,
            )
            .await;
            workers = back;
        }
        let before = args.pid.map(cpu_seconds).transpose()?;
        let db_before = match stats.as_mut() {
            Some(conn) => Some(database_writes(conn).await?),
            None => None,
        };
        eprintln!("{name}: measuring");
        let started = Instant::now();
        let (workers, tally) = drive(
            &shared,
            workers,
            Duration::from_secs(args.duration),
            args.requests,
            None,
        )
        .await;
        let elapsed = started.elapsed().as_secs_f64();
        let after = args.pid.map(cpu_seconds).transpose()?;
        let db_after = match stats.as_mut() {
            Some(conn) => Some(database_writes(conn).await?),
            None => None,
        };
        let cpu = before.zip(after).map(|(b, a)| a - b);
        let memory = args.pid.map(memory_kib).transpose()?;
        let per_request = if name == "wallet-publish" {
            publish_items(setup.citizens, args.concurrency) as f64
        } else {
            1.0
        };
        let result = ScenarioResult::new(
            &name,
            args.concurrency,
            elapsed,
            tally,
            cpu,
            memory,
            per_request,
        );
        let result = match db_before.zip(db_after) {
            Some(((x0, w0), (x1, w1))) => {
                result.with_database_writes(x1.saturating_sub(x0), w1.saturating_sub(w0))
            }
            None => result,
        };
        eprintln!("{}", report::line(&result));
        let peak = result.requests_per_sec;
        results.push(result);
        if let Some(fraction) = args.paced.filter(|_| paceable(&name)) {
            let rate = peak * fraction;
            let label = format!("{name} at {:.0} % of peak", fraction * 100.0);
            eprintln!("{label}: {rate:.0} requests/s");
            let before = args.pid.map(cpu_seconds).transpose()?;
            let started = Instant::now();
            let (_, tally) = drive(
                &shared,
                workers,
                Duration::from_secs(args.duration),
                None,
                Some(rate),
            )
            .await;
            let elapsed = started.elapsed().as_secs_f64();
            let after = args.pid.map(cpu_seconds).transpose()?;
            let cpu = before.zip(after).map(|(b, a)| a - b);
            let memory = args.pid.map(memory_kib).transpose()?;
            let result = ScenarioResult::new(
                &label,
                args.concurrency,
                elapsed,
                tally,
                cpu,
                memory,
                per_request,
            );
            eprintln!("{}", report::line(&result));
            results.push(result);
        }
    }
    let doc = json!({
        "label": args.label,
        "paced": args.paced,
        "url": args.url,
        "citizens": setup.citizens,
        "argon2": setup.argon2,
        "argon2_hash_ms": setup.argon2_hash_ms,
        "argon2_limit_per_vcpu": 1000.0 / setup.argon2_hash_ms.max(1e-9),
        "results": results,
    });
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    let mut table = report::markdown(&args.label, &results);
    let limit = 1000.0 / setup.argon2_hash_ms.max(1e-9);
    table.push_str(&format!(
        "\n{}: {:.1} CPU ms per hash, so at most {limit:.0} password logins per vCPU second",
        setup.argon2, setup.argon2_hash_ms
    ));
    for r in results.iter().filter(|r| r.scenario.starts_with("login")) {
        if let Some(per_vcpu) = r.per_vcpu {
            table.push_str(&format!(
                "; {} reaches {:.0} % of it",
                r.scenario,
                100.0 * per_vcpu / limit
            ));
        }
    }
    table.push('\n');
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table)?;
    }
    println!("{table}");
    Ok(())
}

/// Items per `wallet-publish` request: up to 100, fewer when there are not enough citizens
/// for every worker to publish for citizens of its own.
const PUBLISH_ITEMS: usize = 100;

fn publish_items(citizens: u32, concurrency: usize) -> usize {
    (citizens as usize / concurrency.max(1)).clamp(1, PUBLISH_ITEMS)
}

async fn prepare(shared: &Shared, i: usize) -> anyhow::Result<Worker> {
    let (base, setup) = (&shared.base, &shared.setup);
    let index = i as u32;
    Ok(match shared.scenario.as_str() {
        "client-credentials" => Worker::Token { client: i },
        "refresh" => {
            let tokens = scenarios::log_in(base, setup, index, "openid", None).await?;
            Worker::Refresh {
                refresh: tokens
                    .refresh
                    .context("the relying party got no refresh token")?,
            }
        }
        "userinfo" | "introspect" => {
            let details = five_attributes();
            let Tokens { access, .. } =
                scenarios::log_in(base, setup, index, "openid profile", Some(&details)).await?;
            Worker::Bearer { access }
        }
        "wallet-read" => {
            let details = five_attributes();
            let tokens =
                scenarios::log_in(base, setup, index, "openid profile", Some(&details)).await?;
            let token =
                scenarios::client_token(&shared.http, base, &setup.rp, "wallet:read").await?;
            Worker::Agency {
                token,
                sub: tokens.sub,
            }
        }
        // Each worker publishes its own rounds of citizens, so that no two batches race for
        // the same rows (a conflict clave answers with 409, as it should).
        "wallet-publish" => Worker::Publish {
            token: scenarios::client_token(&shared.http, base, &setup.registry, "wallet:publish")
                .await?,
            round: i as u64,
        },
        "login" => Worker::Login { next: index },
        "login-totp" => Worker::LoginTotp {
            next: index,
            code: None,
        },
        "sign-hash" => {
            let mut signers = Vec::new();
            for k in 0..SIGNERS_PER_WORKER {
                let index = index + k * shared.concurrency as u32;
                let tokens = scenarios::log_in(base, setup, index, "openid sign", None).await?;
                let listed = shared
                    .http
                    .post(format!("{base}/csc/v2/credentials/list"))
                    .bearer_auth(&tokens.access)
                    .json(&json!({}))
                    .send()
                    .await?;
                let listed = expect_ok(listed, "credentials/list").await?;
                let credential = listed["credentialIDs"][0]
                    .as_str()
                    .context("the citizen got no signing credential")?
                    .to_owned();
                signers.push(Signer {
                    index,
                    token: tokens.access,
                    credential,
                });
            }
            Worker::SignHash(Box::new(Signatory {
                signers,
                turn: 0,
                round: 0,
                code: None,
                activation: None,
            }))
        }
        other => bail!("unknown scenario {other}"),
    })
}

/// Latencies (microseconds) and errors by kind.
#[derive(Debug, Default)]
pub struct Tally {
    pub latencies: Vec<u32>,
    pub errors: BTreeMap<String, u64>,
}

/// Whether a scenario can run at a steady arrival rate: its workers never wait for
/// anything but the server.
fn paceable(scenario: &str) -> bool {
    !matches!(scenario, "login-totp" | "sign-hash")
}

/// Runs the workers until `duration` has passed or `requests` were made. Without `rate`
/// each worker sends its next request as soon as the last one is answered; with `rate`
/// (requests per second, all workers together) request `k` is due `k / rate` seconds after
/// the start, taken by whichever worker is free, and its latency counts from when it was due.
async fn drive(
    shared: &Arc<Shared>,
    workers: Vec<Worker>,
    duration: Duration,
    requests: Option<u64>,
    rate: Option<f64>,
) -> (Vec<Worker>, Tally) {
    let start = Instant::now();
    let deadline = start + duration;
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(
        requests.unwrap_or(u64::MAX),
    ));
    let slots = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for mut worker in workers {
        let shared = shared.clone();
        let budget = budget.clone();
        let slots = slots.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while Instant::now() < deadline
                && budget
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |b| b.checked_sub(1),
                    )
                    .is_ok()
            {
                ready(&shared, &mut worker).await;
                let started = match rate.filter(|r| *r > 0.0) {
                    Some(rate) => {
                        let slot = slots.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let due = start + Duration::from_secs_f64(slot as f64 / rate);
                        if due >= deadline {
                            break;
                        }
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                match step(&shared, &mut worker).await {
                    Ok(()) => tally
                        .latencies
                        .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)),
                    Err(e) => *tally.errors.entry(kind_of(&e)).or_default() += 1,
                }
            }
            (worker, tally)
        }));
    }
    let mut back = Vec::new();
    let mut all = Tally::default();
    for task in tasks {
        if let Ok((worker, tally)) = task.await {
            back.push(worker);
            all.latencies.extend(tally.latencies);
            for (kind, n) in tally.errors {
                *all.errors.entry(kind).or_default() += n;
            }
        }
    }
    (back, all)
}

/// Waits, outside the measured time, until the worker's next request can be made: a
/// one-time code for a citizen who has not used it yet.
async fn ready(shared: &Shared, worker: &mut Worker) {
    match worker {
        Worker::LoginTotp { next, code } if code.is_none() => {
            let citizens = shared.setup.citizens.max(1);
            loop {
                // This worker's citizens, from where it left off, at most once round.
                for _ in 0..citizens.div_ceil(shared.concurrency as u32) {
                    let index = *next % citizens;
                    *next += shared.concurrency as u32;
                    if let Some(found) = shared.codes.take(index) {
                        *code = Some((index, found));
                        return;
                    }
                }
                tokio::time::sleep(scenarios::Codes::until_next_step()).await;
            }
        }
        Worker::SignHash(signatory)
            if signatory.code.is_none()
                && signatory
                    .activation
                    .as_ref()
                    .is_none_or(|a| a.hashes.is_empty()) =>
        {
            let n = signatory.signers.len();
            loop {
                for _ in 0..n {
                    let k = signatory.turn % n.max(1);
                    signatory.turn += 1;
                    if let Some(found) = signatory
                        .signers
                        .get(k)
                        .and_then(|s| shared.codes.take(s.index))
                    {
                        signatory.code = Some((k, found));
                        return;
                    }
                }
                tokio::time::sleep(scenarios::Codes::until_next_step()).await;
            }
        }
        _ => {}
    }
}

async fn expect_ok(response: reqwest::Response, what: &str) -> anyhow::Result<Value> {
    let status = response.status();
    if !status.is_success() {
        bail!("http {}: {what}", status.as_u16());
    }
    Ok(response.json().await?)
}

async fn step(shared: &Shared, worker: &mut Worker) -> anyhow::Result<()> {
    let (base, setup, http) = (&shared.base, &shared.setup, &shared.http);
    match worker {
        Worker::Token { client } => {
            let services = &setup.services;
            let credentials = services
                .get(*client % services.len().max(1))
                .unwrap_or(&setup.rp);
            let body = [
                ("grant_type", "client_credentials"),
                ("scope", "wallet:read"),
            ];
            let response = http
                .post(format!("{base}/oauth2/token"))
                .basic_auth(&credentials.client_id, Some(&credentials.client_secret))
                .form(&body)
                .send()
                .await?;
            expect_ok(response, "token").await?;
        }
        Worker::Refresh { refresh } => {
            let response = http
                .post(format!("{base}/oauth2/token"))
                .basic_auth(&setup.rp.client_id, Some(&setup.rp.client_secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                ])
                .send()
                .await?;
            let body = expect_ok(response, "refresh").await?;
            *refresh = body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        Worker::Bearer { access } if shared.scenario == "introspect" => {
            let response = http
                .post(format!("{base}/oauth2/introspect"))
                .basic_auth(&setup.rp.client_id, Some(&setup.rp.client_secret))
                .form(&[("token", access.as_str())])
                .send()
                .await?;
            let body = expect_ok(response, "introspect").await?;
            if body["active"] != true {
                bail!("inactive: introspect");
            }
        }
        Worker::Bearer { access } => {
            let response = http
                .get(format!("{base}/oauth2/userinfo"))
                .bearer_auth(access.as_str())
                .send()
                .await?;
            let body = expect_ok(response, "userinfo").await?;
            if body["attribute_provenance"].as_object().map(|o| o.len()) != Some(ATTRIBUTES.len()) {
                bail!("incomplete: userinfo lacks the five attributes");
            }
        }
        Worker::Agency { token, sub } => {
            let names: Vec<&str> = ATTRIBUTES.iter().map(|(a, _)| *a).collect();
            let response = http
                .get(format!(
                    "{base}/api/wallet/v1/citizens/{sub}/attributes?names={}",
                    names.join(",")
                ))
                .bearer_auth(token.as_str())
                .send()
                .await?;
            expect_ok(response, "wallet read").await?;
        }
        Worker::Publish { token, round } => {
            *round += shared.concurrency as u64;
            // Worker `w` publishes only for citizens `w`, `w + concurrency`, `w + 2 ×
            // concurrency`…, a different slice of them each round: no two concurrent batches
            // touch the same citizen (which clave rightly answers with 409).
            let workers = shared.concurrency.max(1) as u64;
            let (worker, iteration) = (*round % workers, *round / workers);
            let own = (u64::from(setup.citizens) / workers).max(1);
            let per = publish_items(setup.citizens, shared.concurrency) as u64;
            let items: Vec<Value> = (0..per)
                .map(|i| {
                    let k = (iteration * per + i) % own;
                    let index = (worker + k * workers) as u32;
                    let run = run_text(setup.first_run + index % setup.citizens.max(1));
                    // Alternate the value so every item is a real change with history.
                    let day = 1 + (*round % 28);
                    json!({"run": run, "attribute": "birthdate", "value": format!("1990-04-{day:02}")})
                })
                .collect();
            let response = http
                .post(format!("{base}/api/wallet/v1/attributes/batch"))
                .bearer_auth(token.as_str())
                .json(&json!({ "items": items }))
                .send()
                .await?;
            let body = expect_ok(response, "publish").await?;
            if body["rejected"] != 0 {
                bail!("rejected: publish items");
            }
        }
        Worker::Login { next } => {
            scenarios::log_in(base, setup, *next, "openid", None).await?;
            *next += shared.concurrency as u32;
        }
        Worker::LoginTotp { code, .. } => {
            let (index, code) = code.take().context("no one-time code")?;
            scenarios::log_in_with(base, setup, index, "openid", None, Some(&code)).await?;
        }
        Worker::SignHash(signatory) => sign_hash(shared, signatory).await?,
    }
    Ok(())
}

/// Hashes one activation binds: the most clave allows, so that one-time codes (two per
/// citizen per 30 s) do not limit the signatures.
const HASHES_PER_ACTIVATION: usize = 100;

/// One `signatures/signHash` of one hash; first, when the activation is spent, a
/// `credentials/authorize` binding the next hashes with a fresh one-time code.
async fn sign_hash(shared: &Shared, signatory: &mut Signatory) -> anyhow::Result<()> {
    use base64::Engine;
    let (base, http) = (&shared.base, &shared.http);
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some((k, code)) = signatory.code.take() {
        signatory.round += 1;
        let hashes: Vec<String> = (0..HASHES_PER_ACTIVATION as u64)
            .map(|j| {
                let mut hash = [0_u8; 32];
                hash[..8].copy_from_slice(&signatory.round.to_be_bytes());
                hash[8..16].copy_from_slice(&j.to_be_bytes());
                b64.encode(hash)
            })
            .collect();
        let signer = signatory.signers.get(k).context("no such signer")?;
        let response = http
            .post(format!("{base}/csc/v2/credentials/authorize"))
            .bearer_auth(&signer.token)
            .json(&json!({
                "credentialID": signer.credential,
                "numSignatures": hashes.len(),
                "hashes": hashes,
                "hashAlgorithmOID": SHA256_OID,
                "authData": [{ "id": "otp", "value": code }],
            }))
            .send()
            .await?;
        let body = expect_ok(response, "credentials/authorize").await?;
        let sad = body["SAD"].as_str().context("no SAD")?.to_owned();
        signatory.activation = Some(Activation {
            signer: k,
            sad,
            hashes,
        });
    }
    let activation = signatory
        .activation
        .as_mut()
        .context("no activation to sign with")?;
    let hash = activation.hashes.pop().context("the activation is spent")?;
    let signer = signatory
        .signers
        .get(activation.signer)
        .context("no such signer")?;
    let response = http
        .post(format!("{base}/csc/v2/signatures/signHash"))
        .bearer_auth(&signer.token)
        .json(&json!({
            "credentialID": signer.credential,
            "SAD": activation.sad,
            "hashes": [hash],
            "hashAlgorithmOID": SHA256_OID,
            "signAlgo": ECDSA_SHA256_OID,
        }))
        .send()
        .await?;
    let body = expect_ok(response, "signHash").await?;
    if body["signatures"].as_array().map(Vec::len) != Some(1) {
        bail!("unsigned: signHash returned no signature");
    }
    Ok(())
}

/// The next transaction id PostgreSQL will assign (only writing transactions get one) and
/// the write-ahead log position, read without taking a transaction id.
async fn database_writes(conn: &mut sqlx::PgConnection) -> anyhow::Result<(u64, u64)> {
    let (xid, lsn): (String, String) = sqlx::query_as(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text, pg_current_wal_lsn()::text",
    )
    .fetch_one(conn)
    .await?;
    let (high, low) = lsn.split_once('/').context("a malformed WAL position")?;
    let wal = (u64::from_str_radix(high, 16)? << 32) | u64::from_str_radix(low, 16)?;
    Ok((xid.parse()?, wal))
}

/// The CPU seconds (user + system) process `pid` has used.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat: is the server running?"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    Ok((ticks(11) + ticks(12)) / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The current and peak resident memory of `pid`, in KiB.
fn memory_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}
