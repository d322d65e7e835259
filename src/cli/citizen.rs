//! `clave citizen …`: create and look up citizen accounts from the command line (first
//! deployments, support, tests). The password is read from standard input, never from a flag,
//! so it stays out of the shell history and the process list.

use std::io::Read;

use anyhow::Context;
use clave_common::Run;
use clave_idp::IdpError;
use clave_idp::accounts::{Account, NewCitizen};
use serde_json::{Value, json};

use super::CliContext;

/// Citizen commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CitizenCmd {
    /// Create a citizen account and print it.
    Add(AddArgs),
    /// Show the account of a RUN.
    Show {
        /// The RUN, e.g. 12.345.678-5.
        #[arg(long)]
        run: String,
    },
    /// List every account, oldest first.
    List,
    /// Give an account a staff role (an agent also names its office).
    GrantRole {
        /// The RUN of the account.
        #[arg(long)]
        run: String,
        /// The role: agent, supervisor (of agents) or admin (administrator).
        #[arg(long)]
        role: String,
        /// The office an agent works in, e.g. "Call center Santiago".
        #[arg(long)]
        office: Option<String>,
    },
    /// Take a staff role from an account.
    RevokeRole {
        /// The RUN of the account.
        #[arg(long)]
        run: String,
        /// The role.
        #[arg(long)]
        role: String,
    },
    /// List the accounts that hold a staff role.
    Staff,
    /// Lock an account (an operator's decision): every session ends, every token is revoked,
    /// no one signs in until an operator unlocks it.
    Lock {
        /// The RUN of the account.
        #[arg(long)]
        run: String,
    },
    /// Issue an activation code for an account, after checking the citizen's identity; the
    /// citizen sets their password with it at /activate (valid 7 days, single use).
    ActivationCode {
        /// The RUN of the account.
        #[arg(long)]
        run: String,
    },
    /// Lift an account's lock, whoever set it.
    Unlock {
        /// The RUN of the account.
        #[arg(long)]
        run: String,
    },
}

/// Flags of `clave citizen add`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    /// The RUN, e.g. 12.345.678-5 (dots optional).
    #[arg(long)]
    pub run: String,
    /// Given names, e.g. "María Carmen".
    #[arg(long)]
    pub given_names: String,
    /// Family names, e.g. "Del Río González".
    #[arg(long)]
    pub family_names: String,
    /// Email address.
    #[arg(long)]
    pub email: Option<String>,
    /// Read the initial password from the first line of standard input. Without it the account
    /// has no password until the citizen activates it.
    #[arg(long)]
    pub password_stdin: bool,
}

/// Runs a citizen command.
pub async fn run(cmd: CitizenCmd, ctx: &CliContext) -> anyhow::Result<()> {
    match cmd {
        CitizenCmd::Add(args) => add(args, ctx).await,
        CitizenCmd::Show { run } => show(&run, ctx).await,
        CitizenCmd::List => list(ctx).await,
        CitizenCmd::GrantRole { run, role, office } => {
            grant_role(&run, &role, office.as_deref(), ctx).await
        }
        CitizenCmd::RevokeRole { run, role } => revoke_role(&run, &role, ctx).await,
        CitizenCmd::Staff => staff(ctx).await,
        CitizenCmd::Lock { run } => lock(&run, ctx).await,
        CitizenCmd::Unlock { run } => unlock(&run, ctx).await,
        CitizenCmd::ActivationCode { run } => activation_code(&run, ctx).await,
    }
}

fn parse_run(text: &str) -> anyhow::Result<Run> {
    Run::parse(text).map_err(|e| anyhow::anyhow!("{text:?} is not a valid RUN: {e}"))
}

async fn add(args: AddArgs, ctx: &CliContext) -> anyhow::Result<()> {
    let run = parse_run(&args.run)?;
    let password = if args.password_stdin {
        Some(read_password()?)
    } else {
        None
    };
    let new = NewCitizen {
        run,
        given_names: args.given_names,
        family_names: args.family_names,
        email: args.email,
        password,
    };
    let account = ctx
        .app
        .idp
        .accounts()
        .create(new)
        .await
        .map_err(|e| match e {
            IdpError::Policy(violation) => anyhow::anyhow!("weak password: {violation}"),
            IdpError::Conflict(message) | IdpError::Invalid(message) => anyhow::anyhow!(message),
            other => anyhow::Error::from(other).context("cannot create the account"),
        })?;
    ctx.print(
        &describe(&account),
        format!(
            "created the account of {} ({}), id {}{}",
            account.run,
            account.full_name(),
            account.id,
            if account.has_password {
                ""
            } else {
                "; it has no password yet"
            }
        ),
    );
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    let password = input.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        anyhow::bail!("--password-stdin was given but standard input holds no password");
    }
    Ok(password)
}

async fn show(run: &str, ctx: &CliContext) -> anyhow::Result<()> {
    let run = parse_run(run)?;
    let account = ctx
        .app
        .idp
        .accounts()
        .find_by_run(&run)
        .await?
        .with_context(|| format!("no account has RUN {run}"))?;
    ctx.print(&describe(&account), human(&account));
    Ok(())
}

async fn list(ctx: &CliContext) -> anyhow::Result<()> {
    let mut accounts = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx.app.idp.accounts().list(after.as_deref(), 500).await?;
        let done = page.len() < 500;
        after = page.last().map(|a| a.id.clone());
        accounts.extend(page);
        if done {
            break;
        }
    }
    let lines: Vec<String> = accounts.iter().map(human).collect();
    let text = if lines.is_empty() {
        "no accounts".to_owned()
    } else {
        lines.join("\n")
    };
    ctx.print(
        &Value::from(accounts.iter().map(describe).collect::<Vec<_>>()),
        text,
    );
    Ok(())
}

/// The journal's actor for what an operator does from the command line.
const OPERATOR: &str = "operator:cli";

async fn account_of(run: &str, ctx: &CliContext) -> anyhow::Result<Account> {
    let run = parse_run(run)?;
    ctx.app
        .idp
        .accounts()
        .find_by_run(&run)
        .await?
        .with_context(|| format!("no account has RUN {run}"))
}

fn role_error(e: IdpError) -> anyhow::Error {
    match e {
        IdpError::Invalid(message) => anyhow::anyhow!(message),
        other => anyhow::Error::from(other),
    }
}

async fn grant_role(
    run: &str,
    role: &str,
    office: Option<&str>,
    ctx: &CliContext,
) -> anyhow::Result<()> {
    let account = account_of(run, ctx).await?;
    let accounts = ctx.app.idp.accounts();
    accounts
        .grant_role(&account.id, role, office, OPERATOR)
        .await
        .map_err(role_error)?;
    let office = accounts
        .staff(&account.id, role)
        .await?
        .and_then(|s| s.office);
    ctx.print(
        &json!({ "run": account.run, "role": role, "office": office }),
        format!(
            "{} ({}) is now {role}{}",
            account.run,
            account.full_name(),
            office.map(|o| format!(" at {o}")).unwrap_or_default()
        ),
    );
    Ok(())
}

async fn revoke_role(run: &str, role: &str, ctx: &CliContext) -> anyhow::Result<()> {
    let account = account_of(run, ctx).await?;
    let held = ctx
        .app
        .idp
        .accounts()
        .revoke_role(&account.id, role, OPERATOR)
        .await
        .map_err(role_error)?;
    ctx.print(
        &json!({ "run": account.run, "role": role, "revoked": held }),
        if held {
            format!("{} no longer holds the role {role}", account.run)
        } else {
            format!("{} did not hold the role {role}", account.run)
        },
    );
    Ok(())
}

async fn lock(run: &str, ctx: &CliContext) -> anyhow::Result<()> {
    let account = account_of(run, ctx).await?;
    let locked = ctx
        .app
        .idp
        .accounts()
        .lock(&account.id, clave_idp::emergency::OPERATOR, OPERATOR)
        .await?;
    ctx.print(
        &json!({
            "run": account.run,
            "locked": true,
            "sessions_ended": locked.sessions,
            "grants_revoked": locked.grants,
        }),
        format!(
            "{} is locked; {} session(s) ended, {} grant(s) revoked",
            account.run, locked.sessions, locked.grants
        ),
    );
    Ok(())
}

async fn activation_code(run: &str, ctx: &CliContext) -> anyhow::Result<()> {
    let account = account_of(run, ctx).await?;
    let issued = ctx
        .app
        .idp
        .accounts()
        .issue_activation_code(&account.id, OPERATOR, "operator")
        .await?;
    ctx.print(
        &json!({ "run": account.run, "code": issued.code, "expires_at": issued.expires_at }),
        format!(
            "activation code for {}: {} (valid 7 days, once, at /activate)",
            account.run, issued.code
        ),
    );
    Ok(())
}

async fn unlock(run: &str, ctx: &CliContext) -> anyhow::Result<()> {
    let account = account_of(run, ctx).await?;
    let lifted = ctx
        .app
        .idp
        .accounts()
        .unlock(&account.id, OPERATOR, "operator", true)
        .await?;
    ctx.print(
        &json!({ "run": account.run, "unlocked": lifted }),
        if lifted {
            format!("{} is unlocked", account.run)
        } else {
            format!("{} was not locked", account.run)
        },
    );
    Ok(())
}

async fn staff(ctx: &CliContext) -> anyhow::Result<()> {
    let mut staff = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx.app.idp.accounts().staff_list(after.as_deref()).await?;
        let done = page.len() < 1000;
        after = page.last().map(|s| s.account.id.clone());
        staff.extend(page);
        if done {
            break;
        }
    }
    let lines: Vec<String> = staff
        .iter()
        .map(|s| {
            format!(
                "{}  {}  {}{}",
                s.account.run,
                s.account.full_name(),
                s.account.roles.join(","),
                s.office
                    .as_deref()
                    .map(|o| format!("  {o}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let values: Vec<Value> = staff
        .iter()
        .map(|s| {
            json!({
                "run": s.account.run,
                "name": s.account.full_name(),
                "roles": s.account.roles,
                "office": s.office,
            })
        })
        .collect();
    let text = if lines.is_empty() {
        "no staff accounts".to_owned()
    } else {
        lines.join("\n")
    };
    ctx.print(&Value::from(values), text);
    Ok(())
}

fn describe(account: &Account) -> Value {
    json!({
        "id": account.id,
        "run": account.run,
        "given_names": account.given_names,
        "family_names": account.family_names,
        "email": account.email,
        "email_verified": account.email_verified,
        "roles": account.roles,
        "status": account.status,
        "has_password": account.has_password,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    })
}

fn human(account: &Account) -> String {
    format!(
        "{}  {}  {}{}",
        account.run,
        account.full_name(),
        account.id,
        if account.has_password {
            ""
        } else {
            "  (no password)"
        }
    )
}
