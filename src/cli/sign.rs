//! `clave sign …`: the deployment's certificate authorities and the signers' certificates.
//! Issuing a certificate needs the signer to have an authenticator app, since every
//! signature is activated with a fresh one-time code; revoking one issues the CA's next CRL
//! at once.

use std::process::ExitCode;

use clave_common::Run;
use clave_signer::profile::Official;
use serde_json::json;

use super::CliContext;

/// For `clave check-config`: with `signing.key_backend = "pkcs11"`, loads the module, finds
/// the token and logs in, so a wrong path, label or PIN shows before the server starts.
pub fn check_key_backend(
    config: clave_common::Config,
) -> Result<clave_common::Config, clave_common::config::ConfigError> {
    if config.signing.key_backend != clave_common::config::KeyBackendKind::Pkcs11 {
        return Ok(config);
    }
    match clave_signer::pkcs11::probe(&config.signing) {
        Ok(_) => Ok(config),
        Err(e) => Err(clave_common::config::ConfigError {
            problems: vec![format!("signing.key_backend is \"pkcs11\" but {e}")],
        }),
    }
}

/// Signing commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum SignCmd {
    /// Certificate authorities.
    #[command(subcommand)]
    Ca(CaCmd),
    /// Signers' certificates.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Institutions, their CAs and their staff (administrators, operators, ministros de fe).
    #[command(subcommand)]
    Institution(InstitutionCmd),
    /// Verify a signed PDF, or a detached signature (CAdES `.p7s` or JAdES JSON) over a file.
    Verify {
        /// The signed file.
        file: std::path::PathBuf,
        /// The detached signature; without it, the signatures inside the PDF.
        #[arg(long, value_name = "SIG")]
        detached: Option<std::path::PathBuf>,
    },
    /// Issue a CA's next CRL now.
    Crl {
        /// The CA (`root`, `ciudadanos`).
        ca: String,
    },
}

/// CA commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CaCmd {
    /// Create the root and the citizens' CA if missing (the server also does on start).
    Init,
    /// List the CAs, or print one's certificate as PEM.
    Show {
        /// Print this CA's certificate (PEM).
        #[arg(long, value_name = "CA")]
        pem: Option<String>,
    },
}

/// Certificate commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CertCmd {
    /// Issue a certificate to the citizen with this RUN (an official with --institution and
    /// --title, from the institution's CA, without its ministro de fe: for setting up an
    /// institution's first officials).
    Issue {
        /// The signer's RUN, e.g. 12.345.678-5.
        run: String,
        /// The id of the institution the official signs for.
        #[arg(long, requires = "title")]
        institution: Option<String>,
        /// The official's position.
        #[arg(long, requires = "institution")]
        title: Option<String>,
    },
    /// Revoke a credential's certificate.
    Revoke {
        /// The credential id.
        credential: String,
        /// The RFC 5280 reason (unspecified, keyCompromise, affiliationChanged, superseded,
        /// cessationOfOperation, privilegeWithdrawn).
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// List credentials, all or one signer's.
    List {
        /// Only this RUN's.
        #[arg(long)]
        run: Option<String>,
    },
}

/// Institution commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum InstitutionCmd {
    /// Register an institution and create its issuing CA under the root.
    Add {
        /// Its short id (lowercase letters, digits, hyphens), also its CA's id.
        id: String,
        /// Its name, as its officials' certificates show it (O).
        #[arg(long)]
        name: String,
    },
    /// List the institutions.
    List,
    /// Give the account with this RUN a role in the institution.
    Grant {
        /// The institution's id.
        id: String,
        /// The staff member's RUN.
        #[arg(long)]
        run: String,
        /// admin, operator or ministro_de_fe.
        #[arg(long)]
        role: String,
    },
    /// Take a role in the institution away.
    Revoke {
        /// The institution's id.
        id: String,
        /// The staff member's RUN.
        #[arg(long)]
        run: String,
        /// admin, operator or ministro_de_fe.
        #[arg(long)]
        role: String,
    },
}

/// A verification report for people.
fn describe(report: &clave_signer::verify::Report) -> String {
    format!(
        "{}: {}\n  signer: {} ({})\n  integrity: {}, coverage: {}\n  chain: {}, revocation: {}\n  signing time: {}{}",
        report.format,
        if report.valid { "VALID" } else { "INVALID" },
        report.signer_name.as_deref().unwrap_or("?"),
        report.signer_run.as_deref().unwrap_or("?"),
        if report.integrity { "intact" } else { "BROKEN" },
        report.coverage,
        report.chain,
        report.revocation,
        report
            .signing_time
            .map_or("?".to_owned(), |t| t.to_string()),
        report
            .warnings
            .iter()
            .map(|w| format!("\n  warning: {w}"))
            .collect::<String>(),
    )
}

fn parse_run(text: &str) -> anyhow::Result<Run> {
    Run::parse(text).map_err(|e| anyhow::anyhow!("{text:?} is not a valid RUN: {e}"))
}

/// Runs a signing command.
pub async fn run(cmd: SignCmd, ctx: &CliContext) -> anyhow::Result<ExitCode> {
    let signer = &ctx.app.signer;
    match cmd {
        SignCmd::Ca(CaCmd::Init) => {
            signer.ensure_pki().await?;
            let cas = signer.cas().await?;
            ctx.print(
                &json!({ "cas": cas.iter().map(|c| c.id.clone()).collect::<Vec<_>>() }),
                format!(
                    "certificate authorities ready: {}",
                    cas.iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        SignCmd::Ca(CaCmd::Show { pem: Some(id) }) => {
            let Some(ca) = signer.ca(&id).await? else {
                eprintln!("clave: no certificate authority {id:?}; see `clave sign ca show`");
                return Ok(ExitCode::FAILURE);
            };
            print!(
                "{}",
                clave_signer::http::pem_block("CERTIFICATE", &ca.cert_der)
            );
        }
        SignCmd::Ca(CaCmd::Show { pem: None }) => {
            let cas = signer.cas().await?;
            let base = signer.public_url();
            let list: Vec<_> = cas
                .iter()
                .map(|c| {
                    json!({
                        "id": c.id,
                        "common_name": c.common_name,
                        "parent": c.parent_id,
                        "crl_number": c.crl_number,
                        "certificate_url": clave_signer::profile::ca_cert_url(&base, &c.id),
                        "crl_url": clave_signer::profile::crl_url(&base, &c.id),
                    })
                })
                .collect();
            let human = cas
                .iter()
                .map(|c| format!("{}  {}  CRL #{}", c.id, c.common_name, c.crl_number))
                .collect::<Vec<_>>()
                .join("\n");
            ctx.print(&json!({ "cas": list }), human);
        }
        SignCmd::Cert(CertCmd::Issue {
            run,
            institution,
            title,
        }) => {
            let run = parse_run(&run)?;
            let Some(account) = ctx.app.idp.accounts().find_by_run(&run).await? else {
                eprintln!("clave: no citizen with RUN {}", run.canonical());
                return Ok(ExitCode::FAILURE);
            };
            let (ca, official) = match institution.zip(title) {
                Some((id, title)) => {
                    let Some(institution) = signer.institution(&id).await? else {
                        eprintln!(
                            "clave: no institution {id:?}; see `clave sign institution list`"
                        );
                        return Ok(ExitCode::FAILURE);
                    };
                    (
                        institution.id,
                        Some(Official {
                            institution: institution.name,
                            title,
                        }),
                    )
                }
                None => (clave_signer::ca::CITIZENS.to_owned(), None),
            };
            let credential = signer.issue(&account, &ca, official, "operator").await?;
            ctx.print(
                &json!({ "credential_id": credential.id, "serial": credential.serial, "ca": credential.ca_id }),
                format!(
                    "issued credential {} (serial {}) to {}",
                    credential.id,
                    credential.serial,
                    run.canonical()
                ),
            );
        }
        SignCmd::Cert(CertCmd::Revoke { credential, reason }) => {
            let revoked = signer.revoke(&credential, &reason, "operator").await?;
            ctx.print(
                &json!({ "credential_id": revoked.id, "serial": revoked.serial, "revoked": true }),
                format!(
                    "revoked credential {} (serial {}); a new CRL was issued",
                    revoked.id, revoked.serial
                ),
            );
        }
        SignCmd::Cert(CertCmd::List { run }) => {
            let list = match run {
                Some(run) => {
                    let run = parse_run(&run)?;
                    match ctx.app.idp.accounts().find_by_run(&run).await? {
                        Some(account) => signer.credentials_of(&account.id).await?,
                        None => Vec::new(),
                    }
                }
                None => signer.all_credentials(1000).await?,
            };
            let human = list
                .iter()
                .map(|c| format!("{}  {}  {}  {}", c.id, c.serial, c.ca_id, c.status))
                .collect::<Vec<_>>()
                .join("\n");
            ctx.print(&json!({ "credentials": list }), human);
        }
        SignCmd::Institution(InstitutionCmd::Add { id, name }) => {
            let institution = signer.create_institution(&id, &name, "operator").await?;
            ctx.print(
                &json!({ "institution": institution }),
                format!(
                    "registered {} ({}); its CA is at /pki/{}.crt",
                    institution.name, institution.id, institution.id
                ),
            );
        }
        SignCmd::Institution(InstitutionCmd::List) => {
            let list = signer.institutions().await?;
            let human = list
                .iter()
                .map(|i| format!("{}  {}", i.id, i.name))
                .collect::<Vec<_>>()
                .join("\n");
            ctx.print(&json!({ "institutions": list }), human);
        }
        SignCmd::Institution(InstitutionCmd::Grant { id, run, role }) => {
            return institution_role(ctx, &id, &run, &role, true).await;
        }
        SignCmd::Institution(InstitutionCmd::Revoke { id, run, role }) => {
            return institution_role(ctx, &id, &run, &role, false).await;
        }
        SignCmd::Verify { file, detached } => {
            let read = |path: &std::path::Path| {
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
            };
            let reports = match detached {
                Some(detached) => vec![
                    signer
                        .verify_detached(&read(&file)?, &read(&detached)?)
                        .await?,
                ],
                None => signer.verify_pdf(&read(&file)?).await?,
            };
            let human = reports.iter().map(describe).collect::<Vec<_>>().join("\n");
            ctx.print(&json!({ "signatures": reports }), human);
            return Ok(if reports.iter().all(|r| r.valid) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        SignCmd::Crl { ca } => {
            let crl = signer.issue_crl(&ca).await?;
            ctx.print(
                &json!({ "ca": ca, "number": crl.number, "next_update": crl.next_update }),
                format!("issued CRL #{} for {ca}", crl.number),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Grants (or revokes) `role` in the institution `id` to the account with `run`.
async fn institution_role(
    ctx: &CliContext,
    id: &str,
    run: &str,
    role: &str,
    grant: bool,
) -> anyhow::Result<ExitCode> {
    let signer = &ctx.app.signer;
    let run = parse_run(run)?;
    let Some(account) = ctx.app.idp.accounts().find_by_run(&run).await? else {
        eprintln!("clave: no citizen with RUN {}", run.canonical());
        return Ok(ExitCode::FAILURE);
    };
    if grant {
        signer
            .grant_institution_role(id, &account.id, role, "operator")
            .await?;
    } else {
        signer
            .revoke_institution_role(id, &account.id, role, "operator")
            .await?;
    }
    ctx.print(
        &json!({ "institution": id, "run": run.canonical(), "role": role, "granted": grant }),
        if grant {
            format!("granted {role} in {id} to {}", run.canonical())
        } else {
            format!("revoked {role} in {id} from {}", run.canonical())
        },
    );
    Ok(ExitCode::SUCCESS)
}
