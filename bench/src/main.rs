//! `clave-bench`: seeds a clave database for scale tests and drives a running server with
//! the load of one scenario at a time, reporting requests per second, latency percentiles,
//! errors by kind and, given the server's pid, the server's CPU seconds and peak memory, so
//! that throughput is stated per vCPU of server time however busy the load generator is.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod load;
mod report;
mod scenarios;
mod seed;

/// Load benchmark for clave.
#[derive(Debug, Parser)]
#[command(name = "clave-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fill a database for a benchmark: citizens (all with the same password, hashed once:
    /// every seeded citizen shares one precomputed password hash, and one TOTP seed, sealed
    /// per account), five wallet attributes each, a relying party, a source agency and
    /// service clients. Writes the credentials the scenarios need as JSON.
    Seed(seed::SeedArgs),
    /// Run scenarios against a running server and print the results.
    Run(load::RunArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("clave-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Seed(args) => seed::run(args).await,
            Command::Run(args) => load::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clave-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Where `seed` writes and `run` reads the scenario credentials.
pub fn default_setup() -> PathBuf {
    PathBuf::from("bench-setup.json")
}
