//! `clave-bench seed`: a database full enough to measure at scale, made quickly. Every
//! seeded citizen shares one password and so one precomputed argon2 hash (hashing a million
//! passwords would take hours and measure nothing); rows go in with multi-row inserts.

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
    let hash =
        tokio::task::spawn_blocking(move || clave_idp::password::hash_blocking(&params, PASSWORD))
            .await
            .context("hashing")??;

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
        scopes: ["openid", "profile", "wallet", "wallet:read"]
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
        tx.commit().await?;
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
    let setup = Setup {
        first_run: FIRST_RUN,
        citizens: args.citizens,
        password: PASSWORD.into(),
        rp,
        registry,
        services,
        argon2,
    };
    std::fs::write(&args.out, serde_json::to_string_pretty(&setup)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!("{}", args.out.display());
    app.db.close().await;
    Ok(())
}
