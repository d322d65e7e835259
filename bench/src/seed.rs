//! `clave-bench seed`: a database full enough to measure at scale, made quickly. Every
//! seeded citizen shares one password and so one precomputed argon2 hash (hashing a million
//! passwords would take hours and measure nothing), and one TOTP seed, sealed for each
//! account as clave seals it; rows go in with multi-row inserts.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clave::App;
use clave_common::Config;
use clave_common::config::Overrides;
use clave_idp::clients::NewClient;
use serde::{Deserialize, Serialize};

/// Flags of `seed`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// The server's configuration file (for the database and argon2 settings).
    #[arg(long, env = "CLAVE_CONFIG")]
    config: Option<PathBuf>,
    /// The server's data directory (master key, SQLite database).
    #[arg(long, env = "CLAVE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// How many citizens.
    #[arg(long, default_value_t = 1000)]
    citizens: u32,
    /// How many service clients (for client-credentials load).
    #[arg(long, default_value_t = 4)]
    clients: u32,
    /// How many active sign-in sessions to add, spread over the citizens (for measuring
    /// memory with many sessions: clave keeps them in the database, not in memory).
    #[arg(long, default_value_t = 0)]
    sessions: u32,
    /// Where to write the scenario credentials.
    #[arg(long, default_value = "bench-setup.json")]
    out: PathBuf,
}

/// The first seeded RUN number; the others follow.
pub const FIRST_RUN: u32 = 30_000_000;
/// The password every seeded citizen has.
pub const PASSWORD: &str = "banco de pruebas de carga 2026";
/// The redirect URI of the benchmark's relying party (never contacted).
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// The TOTP seed every seeded citizen's authenticator holds (20 bytes, as clave makes them).
pub const TOTP_SEED: &[u8; 20] = b"banco-de-pruebas-otp";
/// The five attributes every seeded citizen holds.
pub const ATTRIBUTES: [(&str, &str); 5] = [
    ("given_names", "\"Ana María\""),
    ("family_names", "\"Pérez Soto\""),
    ("birthdate", "\"1990-04-23\""),
    ("sex", "\"F\""),
    ("nationality", "\"CL\""),
];

/// One client's credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// The client id.
    pub client_id: String,
    /// The secret.
    pub client_secret: String,
}

/// What the scenarios need to know about a seeded database.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// The first RUN number.
    pub first_run: u32,
    /// How many citizens.
    pub citizens: u32,
    /// Their password.
    pub password: String,
    /// The relying party (code flow, refresh, introspection, the agency API).
    pub rp: Credentials,
    /// The source agency (publishing).
    pub registry: Credentials,
    /// Service clients (client credentials).
    pub services: Vec<Credentials>,
    /// The argon2 parameters of the seeded hash.
    pub argon2: String,
    /// The TOTP seed of every citizen's authenticator, base32.
    pub totp_secret: String,
    /// CPU milliseconds one password hash took when seeding: logins per CPU second can never
    /// exceed 1000 divided by this.
    pub argon2_hash_ms: f64,
}

/// A RUN with its check digit.
pub fn run_text(number: u32) -> String {
    let (mut sum, mut factor, mut n) = (0, 2, number);
    while n > 0 {
        sum += (n % 10) * factor;
        n /= 10;
        factor = if factor == 7 { 2 } else { factor + 1 };
    }
    let digit = match 11 - sum % 11 {
        11 => "0".to_owned(),
        10 => "K".to_owned(),
        d => d.to_string(),
    };
    format!("{number}-{digit}")
}

/// The CPU time the calling thread has used, in nanoseconds (Linux: its schedstat).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Adds `count` active sessions, taking `holders` in turn, in multi-row inserts.
async fn seed_sessions(app: &App, holders: &[String], count: u32, now: i64) -> anyhow::Result<()> {
    const CHUNK: u32 = 500;
    let started = std::time::Instant::now();
    let expires = now + 8 * 3600;
    let mut done = 0;
    while done < count {
        let n = CHUNK.min(count - done);
        let mut sql = String::from(
            "INSERT INTO idp_sessions (id, account_id, token_digest, created_at, auth_time, acr, amr, expires_at) VALUES ",
        );
        for i in 0..n as usize {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, {now}, {now}, 'urn:clave:loa:1', '[\"pwd\"]', {expires})",
                i * 3 + 1,
                i * 3 + 2,
                i * 3 + 3
            ));
        }
        let mut query = sqlx::query(&sql);
        for i in 0..n {
            let holder = &holders[((done + i) as usize) % holders.len()];
            // Nobody holds these cookies: the digest only has to be unique.
            query = query
                .bind(clave_common::id::new_id())
                .bind(holder)
                .bind(clave_common::id::new_id());
        }
        query.execute(app.db.pool()).await?;
        done += n;
    }
    eprintln!(
        "{done} active sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// RFC 4648 base32 without padding, as authenticator apps take a seed.
fn base32_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0_u32, 0);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    let config = Config::load(
        args.config.as_deref(),
        &Overrides {
            data_dir: args.data_dir.clone(),
            ..Overrides::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    let argon2 = format!(
        "argon2id m={} KiB, t={}, p={}",
        config.passwords.argon2_memory_kib,
        config.passwords.argon2_iterations,
        config.passwords.argon2_parallelism
    );
    let params = clave_idp::password::HashParams::from_config(&config.passwords);
    let app = App::open(
        config,
        std::sync::Arc::new(clave_common::clock::SystemClock),
        true,
    )
    .await?;
    app.ensure_keys().await?;
    let (existing,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idp_accounts")
        .fetch_one(app.db.pool())
        .await?;
    if existing > 0 {
        bail!("the database already holds {existing} accounts; seed a fresh one");
    }
    // The one hash every citizen shares, and how long one hash takes on one core, counted
    // in the hashing thread's CPU time, so that other work on the machine does not inflate it.
    let (hash, argon2_hash_ms) = tokio::task::spawn_blocking(move || {
        const HASHES: u32 = 10;
        let wall = std::time::Instant::now();
        let cpu = thread_cpu_ns();
        let mut hash = String::new();
        for _ in 0..HASHES {
            hash = clave_idp::password::hash_blocking(&params, PASSWORD)?;
        }
        let ms = match (cpu, thread_cpu_ns()) {
            (Some(before), Some(after)) => (after - before) as f64 / 1e6,
            _ => wall.elapsed().as_secs_f64() * 1000.0,
        };
        Ok::<_, clave_idp::IdpError>((hash, ms / f64::from(HASHES)))
    })
    .await
    .context("hashing")??;
    eprintln!("{argon2}: {argon2_hash_ms:.1} CPU ms per hash");

    let clients = app.idp.clients();
    let register = |new: NewClient| async {
        let registered = clients.register(new).await?;
        Ok::<_, anyhow::Error>(Credentials {
            client_id: registered.client.client_id,
            client_secret: registered.client_secret.unwrap_or_default(),
        })
    };
    let registry = register(NewClient {
        name: "Registro Civil (benchmark)".into(),
        scopes: vec!["wallet:publish".into()],
        grants: vec!["client_credentials".into()],
        ..NewClient::default()
    })
    .await?;
    for (attribute, _) in ATTRIBUTES {
        app.wallet
            .catalogue()
            .grant_source(attribute, &registry.client_id)
            .await?;
    }
    let rp = register(NewClient {
        name: "Servicio (benchmark)".into(),
        redirect_uris: vec![REDIRECT_URI.into()],
        scopes: ["openid", "profile", "wallet", "wallet:read", "sign"]
            .map(String::from)
            .to_vec(),
        grants: vec!["client_credentials".into()],
        ..NewClient::default()
    })
    .await?;
    let mut services = Vec::new();
    for i in 0..args.clients {
        services.push(
            register(NewClient {
                name: format!("Servicio {i} (benchmark)"),
                scopes: vec!["wallet:read".into()],
                grants: vec!["client_credentials".into()],
                ..NewClient::default()
            })
            .await?,
        );
    }

    let started = std::time::Instant::now();
    let now = app.clock.unix();
    const CHUNK: u32 = 400;
    let mut done = 0;
    let mut holders: Vec<String> = Vec::new();
    while done < args.citizens {
        let n = CHUNK.min(args.citizens - done);
        let ids: Vec<String> = (0..n).map(|_| clave_common::id::new_id()).collect();
        let mut accounts = String::from(
            "INSERT INTO idp_accounts (id, run, given_names, family_names, email, email_verified, \
             password_hash, roles, status, created_at, updated_at) VALUES ",
        );
        let mut values = String::from(
            "INSERT INTO wallet_values (id, account_id, attribute, value, source, verified, recorded_at) VALUES ",
        );
        let mut value_ids = Vec::new();
        for i in 0..n as usize {
            let p = i * 5;
            if i > 0 {
                accounts.push(',');
            }
            accounts.push_str(&format!(
                "(${}, ${}, 'Ana María', 'Pérez Soto', NULL, FALSE, ${}, '[]', 'active', ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5
            ));
            for (j, _) in ATTRIBUTES.iter().enumerate() {
                let q = (i * 5 + j) * 4;
                if !value_ids.is_empty() {
                    values.push(',');
                }
                values.push_str(&format!(
                    "(${}, ${}, ${}, ${}, '{}', 1, {now})",
                    q + 1,
                    q + 2,
                    q + 3,
                    q + 4,
                    registry.client_id
                ));
                value_ids.push(clave_common::id::new_id());
            }
        }
        let mut tx = app.db.pool().begin().await?;
        let mut query = sqlx::query(&accounts);
        for (i, id) in ids.iter().enumerate() {
            let run = run_text(FIRST_RUN + done + i as u32);
            query = query.bind(id).bind(run).bind(&hash).bind(now).bind(now);
        }
        query.execute(&mut *tx).await?;
        let mut query = sqlx::query(&values);
        for (i, id) in ids.iter().enumerate() {
            for (j, (attribute, value)) in ATTRIBUTES.iter().enumerate() {
                query = query
                    .bind(&value_ids[i * 5 + j])
                    .bind(id)
                    .bind(*attribute)
                    .bind(*value);
            }
        }
        query.execute(&mut *tx).await?;
        let mut totps = String::from(
            "INSERT INTO idp_totp (account_id, sealed_secret, created_at, confirmed_at, last_step) VALUES ",
        );
        for i in 0..n as usize {
            if i > 0 {
                totps.push(',');
            }
            totps.push_str(&format!(
                "(${}, ${}, {now}, {now}, NULL)",
                i * 2 + 1,
                i * 2 + 2
            ));
        }
        let mut query = sqlx::query(&totps);
        for id in &ids {
            // Sealed under the owner clave's TOTP service uses, so the server opens it.
            let sealed = app.master.seal(&format!("totp:{id}"), TOTP_SEED)?;
            query = query.bind(id).bind(sealed);
        }
        query.execute(&mut *tx).await?;
        tx.commit().await?;
        if holders.len() < args.sessions as usize {
            holders.extend(ids.iter().cloned());
        }
        done += n;
        if done % 20_000 < CHUNK {
            eprint!("\r{done} citizens");
        }
    }
    eprintln!(
        "\r{done} citizens with {} attributes each in {:.1} s",
        ATTRIBUTES.len(),
        started.elapsed().as_secs_f64()
    );
    if args.sessions > 0 && !holders.is_empty() {
        seed_sessions(&app, &holders, args.sessions, now).await?;
    }
    let setup = Setup {
        first_run: FIRST_RUN,
        citizens: args.citizens,
        password: PASSWORD.into(),
        rp,
        registry,
        services,
        argon2,
        totp_secret: base32_of(TOTP_SEED),
        argon2_hash_ms,
    };
    std::fs::write(&args.out, serde_json::to_string_pretty(&setup)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("{}", args.out.display());
    app.db.close().await;
    Ok(())
}
