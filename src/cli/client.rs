//! `clave client …`: register the services that log citizens in or call clave's APIs, and
//! manage them. A secret is printed once, when it is made, and never again.

use std::path::PathBuf;

use anyhow::Context;
use clave_idp::IdpError;
use clave_idp::clients::{Client, NewClient, SubjectType};
use clave_idp::keys::SigningAlg;
use clave_wallet::WalletError;
use clave_wallet::consent::ClientTerms;
use clave_wallet::services::ServiceTerms;
use serde_json::{Value, json};

use super::CliContext;

/// Client commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ClientCmd {
    /// Register a client and print `{"client_id", "client_secret"}` (the secret only this once;
    /// none for public clients or clients that authenticate with keys).
    Add(Box<AddArgs>),
    /// List the registered clients.
    List,
    /// Show one client's registration.
    Show {
        /// The client id.
        client_id: String,
    },
    /// Remove a client: it can no longer log anyone in, and every token it holds is revoked.
    Remove {
        /// The client id.
        client_id: String,
    },
    /// Replace a client's secret (the old one stops working at once) and print the new one.
    RotateSecret {
        /// The client id.
        client_id: String,
    },
    /// Set what a client tells citizens when it asks for their data, and where it hears of
    /// ended consents.
    Terms(TermsArgs),
    /// Set how a client may address citizens in the mailbox.
    Mailbox(MailboxArgs),
}

/// Flags of `clave client mailbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct MailboxArgs {
    /// The client id.
    pub client_id: String,
    /// Whether the client may address notices by RUN (otherwise only by the `sub` it knows).
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
    pub by_run: bool,
}

/// Flags of `clave client terms`.
#[derive(Debug, Clone, clap::Args)]
pub struct TermsArgs {
    /// The client id.
    pub client_id: String,
    /// The purpose shown on the consent page when a request states none.
    #[arg(long)]
    pub purpose: Option<String>,
    /// The legal basis the service relies on (a law, a decree).
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// Where consent events (revocations, expiries) are POSTed as Security Event Tokens.
    #[arg(long, value_name = "URI")]
    pub consent_events_uri: Option<String>,
}

/// How pairwise or public subjects are chosen, as a flag value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SubjectTypeArg {
    /// A different, unlinkable `sub` per client or sector (default).
    Pairwise,
    /// The same `sub` for every client that asks for it.
    Public,
}

/// ID token algorithms, as a flag value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AlgArg {
    /// ECDSA P-256 (default).
    #[value(name = "ES256")]
    Es256,
    /// RSA PKCS#1 v1.5.
    #[value(name = "RS256")]
    Rs256,
}

/// Flags of `clave client add`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddArgs {
    /// The service's name, shown to citizens when they log in.
    #[arg(long)]
    pub name: String,
    /// A redirect URI, matched exactly (repeat for several). Gives the authorization_code and
    /// refresh_token grants.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Where logout may send the browser back to (repeatable).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// An app that cannot keep a secret: no secret, PKCE required.
    #[arg(long)]
    pub public: bool,
    /// A scope the client may request (repeatable; default: openid profile email).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// An extra grant: client_credentials (repeatable).
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<String>,
    /// Where back-channel logout tokens are sent.
    #[arg(long, value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    /// pairwise (default) or public subjects.
    #[arg(long, value_enum)]
    pub subject_type: Option<SubjectTypeArg>,
    /// The pairwise sector: clients sharing one see the same `sub` (default: the client alone).
    #[arg(long)]
    pub sector: Option<String>,
    /// The ID token signing algorithm.
    #[arg(long, value_enum)]
    pub id_token_alg: Option<AlgArg>,
    /// Accept authorization requests only through PAR.
    #[arg(long)]
    pub require_par: bool,
    /// The lowest level of assurance this client accepts (urn:clave:loa:1, 2 or 3).
    #[arg(long, value_name = "ACR")]
    pub min_acr: Option<String>,
    /// A JWK Set file with the client's public keys: it then authenticates with
    /// private_key_jwt and gets no secret.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Where the client publishes its keys (recorded with the registration).
    #[arg(long, value_name = "URI")]
    pub jwks_uri: Option<String>,
    /// The purpose shown on the consent page when a request states none.
    #[arg(long)]
    pub purpose: Option<String>,
    /// The legal basis the service relies on when it asks for citizens' data.
    #[arg(long)]
    pub legal_basis: Option<String>,
    /// Where consent events (revocations, expiries) are POSTed.
    #[arg(long, value_name = "URI")]
    pub consent_events_uri: Option<String>,
    /// Allow the client to address mailbox notices by RUN.
    #[arg(long)]
    pub mailbox_by_run: bool,
    /// The logo shown to citizens beside the service's name (an https URL).
    #[arg(long, value_name = "URI")]
    pub logo_uri: Option<String>,
}

/// Runs a client command.
pub async fn run(cmd: ClientCmd, ctx: &CliContext) -> anyhow::Result<()> {
    let clients = ctx.app.idp.clients();
    match cmd {
        ClientCmd::Add(args) => {
            let extra = ServiceTerms {
                terms: ClientTerms {
                    purpose: args.purpose.clone(),
                    legal_basis: args.legal_basis.clone(),
                    consent_events_uri: args.consent_events_uri.clone(),
                },
                mailbox_by_run: args.mailbox_by_run,
                logo_uri: args.logo_uri.clone(),
            };
            let new = new_client(*args)?;
            let registered = ctx
                .app
                .wallet
                .register_service(new, &extra, None)
                .await
                .map_err(|e| match e {
                    WalletError::Idp(e) => explain(e),
                    other => anyhow::Error::new(other),
                })?;
            let client = &registered.client;
            let mut out = json!({ "client_id": client.client_id });
            if let Some(secret) = &registered.client_secret {
                out["client_secret"] = json!(secret);
                eprintln!("clave: the client secret is shown only now; store it safely");
            }
            // The documented output is this JSON object, in both modes, so scripts can read it.
            let human = serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string());
            ctx.print(&out, human);
        }
        ClientCmd::List => {
            let all = clients.list().await.map_err(explain)?;
            let values: Vec<Value> = all.iter().map(describe).collect();
            let human = if all.is_empty() {
                "no clients registered".to_owned()
            } else {
                all.iter()
                    .map(|c| {
                        format!(
                            "{}  {}  {}  grants: {}",
                            c.client_id,
                            c.name,
                            c.token_endpoint_auth_method.as_str(),
                            c.grant_types.join(",")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            ctx.print(&Value::Array(values), human);
        }
        ClientCmd::Show { client_id } => {
            let client = clients
                .get(&client_id)
                .await
                .map_err(explain)?
                .with_context(|| format!("no client {client_id:?} is registered"))?;
            let value = describe(&client);
            let human = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
            ctx.print(&value, human);
        }
        ClientCmd::Remove { client_id } => {
            clients.remove(&client_id).await.map_err(|e| match e {
                IdpError::NotFound(_) => anyhow::anyhow!("no client {client_id:?} is registered"),
                other => explain(other),
            })?;
            ctx.print(
                &json!({ "client_id": client_id, "removed": true }),
                format!("client {client_id} removed; its grants and tokens are revoked"),
            );
        }
        ClientCmd::RotateSecret { client_id } => {
            let secret = clients
                .rotate_secret(&client_id)
                .await
                .map_err(|e| match e {
                    IdpError::NotFound(_) => {
                        anyhow::anyhow!("no client {client_id:?} is registered")
                    }
                    other => explain(other),
                })?;
            eprintln!(
                "clave: the new client secret is shown only now; the old one no longer works"
            );
            let out = json!({ "client_id": client_id, "client_secret": secret });
            let human = serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string());
            ctx.print(&out, human);
        }
        ClientCmd::Terms(args) => set_terms(args, ctx).await?,
        ClientCmd::Mailbox(args) => {
            ctx.app
                .wallet
                .mailbox()
                .set_by_run(&args.client_id, args.by_run)
                .await?;
            let out = json!({ "client_id": args.client_id, "mailbox_by_run": args.by_run });
            ctx.print(
                &out,
                format!(
                    "{} {} address mailbox notices by RUN",
                    args.client_id,
                    if args.by_run { "may" } else { "may not" }
                ),
            );
        }
    }
    Ok(())
}

fn new_client(args: AddArgs) -> anyhow::Result<NewClient> {
    let jwks = match &args.jwks {
        Some(path) => Some(read_jwks(path)?),
        None => None,
    };
    Ok(NewClient {
        name: args.name,
        redirect_uris: args.redirect_uris,
        post_logout_redirect_uris: args.post_logout_redirect_uris,
        public: args.public,
        scopes: args.scopes,
        grants: args.grants,
        backchannel_logout_uri: args.backchannel_logout_uri,
        subject_type: args.subject_type.map(|s| match s {
            SubjectTypeArg::Pairwise => SubjectType::Pairwise,
            SubjectTypeArg::Public => SubjectType::Public,
        }),
        sector: args.sector,
        id_token_alg: args.id_token_alg.map(|a| match a {
            AlgArg::Es256 => SigningAlg::ES256,
            AlgArg::Rs256 => SigningAlg::RS256,
        }),
        require_par: args.require_par,
        min_acr: args.min_acr,
        jwks,
        jwks_uri: args.jwks_uri,
    })
}

/// Reads a JWK Set file; a single JWK is accepted and wrapped in a set.
fn read_jwks(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the JWK Set file {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(if value.get("keys").is_some() {
        value
    } else {
        json!({ "keys": [value] })
    })
}

/// A client's registration as printed (never a secret).
fn describe(client: &Client) -> Value {
    serde_json::to_value(client).unwrap_or_else(|_| json!({ "client_id": client.client_id }))
}

/// Turns a service error into the message the operator sees.
async fn set_terms(args: TermsArgs, ctx: &CliContext) -> anyhow::Result<()> {
    let terms = ClientTerms {
        purpose: args.purpose,
        legal_basis: args.legal_basis,
        consent_events_uri: args.consent_events_uri,
    };
    ctx.app
        .wallet
        .consents()
        .set_terms(&args.client_id, &terms)
        .await?;
    let out = json!({ "client_id": args.client_id, "terms": terms });
    ctx.print(&out, format!("terms of {} set", args.client_id));
    Ok(())
}

fn explain(err: IdpError) -> anyhow::Error {
    match err {
        IdpError::Invalid(text) => anyhow::anyhow!("invalid client registration: {text}"),
        other => anyhow::Error::new(other),
    }
}
