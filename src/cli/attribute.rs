//! `clave attribute …` and `clave import attributes …`: the attribute catalogue, its
//! authoritative sources, and bulk imports of values for migrations.

use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clave_wallet::catalogue::{AttributeDef, NewAttribute};
use clave_wallet::import::ImportSummary;
use clave_wallet::value::Kind;
use serde_json::json;

use super::CliContext;

/// Catalogue commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AttributeCmd {
    /// Add an attribute to the catalogue, or change one.
    Define(DefineArgs),
    /// List the catalogue.
    List,
    /// Show one attribute and its sources.
    Show {
        /// The attribute's name.
        name: String,
    },
    /// Make a registered client an authoritative source of an attribute.
    GrantSource {
        /// The attribute.
        #[arg(long)]
        attribute: String,
        /// The client id of the source agency.
        #[arg(long)]
        client: String,
    },
    /// Stop a client from publishing an attribute (its published values stay).
    RevokeSource {
        /// The attribute.
        #[arg(long)]
        attribute: String,
        /// The client id of the source agency.
        #[arg(long)]
        client: String,
    },
}

/// Attribute types, as a flag value.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    /// Free text.
    Text,
    /// A date, YYYY-MM-DD.
    Date,
    /// A number.
    Number,
    /// true or false.
    Boolean,
    /// A postal address object.
    Address,
    /// One code of a list (give the codes with --code).
    Code,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Text => Kind::Text,
            KindArg::Date => Kind::Date,
            KindArg::Number => Kind::Number,
            KindArg::Boolean => Kind::Boolean,
            KindArg::Address => Kind::Address,
            KindArg::Code => Kind::Code,
        }
    }
}

/// Flags of `clave attribute define`.
#[derive(Debug, Clone, clap::Args)]
pub struct DefineArgs {
    /// The name (lower-case letters, digits, `_`); also the claim name.
    pub name: String,
    /// The label in Spanish.
    #[arg(long)]
    pub label_es: String,
    /// The label in English.
    #[arg(long)]
    pub label_en: String,
    /// The type.
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// A code of a code list (repeatable).
    #[arg(long = "code", value_name = "CODE")]
    pub codes: Vec<String>,
    /// Releasing it needs level 2.
    #[arg(long)]
    pub sensitive: bool,
    /// The scope that asks for it.
    #[arg(long)]
    pub scope: String,
    /// Citizens may assert it themselves (unverified until verified).
    #[arg(long)]
    pub self_asserted: bool,
}

/// Import commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ImportCmd {
    /// Publish attribute values from a JSON Lines file, one
    /// {"run", "attribute", "value", "source_reference"?, "valid_from"?, "valid_until"?} per
    /// line, as an authoritative source. Prints a summary; rejected lines are listed with
    /// their numbers and reasons.
    Attributes {
        /// The JSON Lines file (`-` for standard input).
        file: PathBuf,
        /// The client id of the source agency the values come from.
        #[arg(long)]
        source: String,
    },
}

/// Runs a catalogue command.
pub async fn run(cmd: AttributeCmd, ctx: &CliContext) -> anyhow::Result<()> {
    let catalogue = ctx.app.wallet.catalogue();
    match cmd {
        AttributeCmd::Define(args) => {
            let def = catalogue
                .define(NewAttribute {
                    name: args.name,
                    label_es: args.label_es,
                    label_en: args.label_en,
                    kind: args.kind.into(),
                    codes: args.codes,
                    sensitive: args.sensitive,
                    scope: args.scope,
                    self_asserted: args.self_asserted,
                })
                .await?;
            ctx.print(&serde_json::to_value(&def)?, describe(&def));
        }
        AttributeCmd::List => {
            let all = catalogue.list().await?;
            let human = all.iter().map(describe).collect::<Vec<_>>().join("\n");
            ctx.print(&json!({ "attributes": all }), human);
        }
        AttributeCmd::Show { name } => {
            let def = catalogue
                .get(&name)
                .await?
                .with_context(|| format!("no attribute {name:?} (see `clave attribute list`)"))?;
            let human = format!(
                "{}\n  labels: {} / {}\n  sources: {}",
                describe(&def),
                def.label_es,
                def.label_en,
                if def.sources.is_empty() {
                    "none".to_owned()
                } else {
                    def.sources.join(", ")
                }
            );
            ctx.print(&serde_json::to_value(&def)?, human);
        }
        AttributeCmd::GrantSource { attribute, client } => {
            catalogue.grant_source(&attribute, &client).await?;
            ctx.print(
                &json!({ "attribute": attribute, "source": client, "granted": true }),
                format!("{client} is now an authoritative source of {attribute}"),
            );
        }
        AttributeCmd::RevokeSource { attribute, client } => {
            catalogue.revoke_source(&attribute, &client).await?;
            ctx.print(
                &json!({ "attribute": attribute, "source": client, "granted": false }),
                format!("{client} is no longer a source of {attribute}"),
            );
        }
    }
    Ok(())
}

fn describe(def: &AttributeDef) -> String {
    let mut flags = Vec::new();
    if def.sensitive {
        flags.push("sensitive");
    }
    if def.self_asserted {
        flags.push("self-asserted");
    }
    let codes = if def.codes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", def.codes.join("|"))
    };
    format!(
        "{}  {}{codes}  scope {}  {}",
        def.name,
        def.kind.as_str(),
        def.scope,
        flags.join(", ")
    )
    .trim_end()
    .to_owned()
}

/// Runs an import command; fails (exit status 1) when any line was rejected.
pub async fn import(cmd: ImportCmd, ctx: &CliContext) -> anyhow::Result<bool> {
    let ImportCmd::Attributes { file, source } = cmd;
    if ctx.app.idp.clients().get(&source).await?.is_none() {
        anyhow::bail!("no registered client {source:?} (see `clave client list`)");
    }
    let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&file)
            .with_context(|| format!("cannot open {}", file.display()))?;
        Box::new(BufReader::new(f))
    };
    let interactive = std::io::stderr().is_terminal() && !ctx.json;
    let started = std::time::Instant::now();
    let summary = ctx
        .app
        .wallet
        .import(&source, reader, |s: &ImportSummary| {
            if interactive {
                let rate = s.lines as f64 / started.elapsed().as_secs_f64().max(0.001);
                eprint!(
                    "\r{} lines, {} written, {} rejected ({rate:.0} lines/s)   ",
                    s.lines,
                    s.written,
                    s.errors.len()
                );
                let _ = std::io::stderr().flush();
            }
        })
        .await?;
    if interactive {
        eprintln!();
    }
    let mut human = format!(
        "{} lines: {} values written, {} unchanged, {} citizens created, {} lines rejected",
        summary.lines,
        summary.written,
        summary.unchanged,
        summary.citizens_created,
        summary.errors.len()
    );
    for e in &summary.errors {
        human.push_str(&format!("\n  line {}: {}", e.line, e.error));
    }
    ctx.print(&serde_json::to_value(&summary)?, human);
    Ok(summary.errors.is_empty())
}
