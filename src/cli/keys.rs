//! `clave keys …`: the keys that sign tokens. A rotation adds new keys that sign from then on
//! and keeps the old ones published until every token they signed has expired
//! (`tokens.key_retire_grace_secs`). Running servers pick the new keys up within seconds.

use serde_json::json;

use super::CliContext;

/// Key commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCmd {
    /// Add new ES256 and RS256 signing keys and retire the current ones.
    Rotate,
    /// List the signing keys and their states.
    List,
}

/// Runs a key command.
pub async fn run(cmd: KeysCmd, ctx: &CliContext) -> anyhow::Result<()> {
    let keys = ctx.app.idp.keys();
    match cmd {
        KeysCmd::Rotate => {
            let created = keys.rotate().await?;
            let grace = ctx.app.config.tokens.key_retire_grace_secs;
            let human = created
                .iter()
                .map(|k| format!("new {} key {} is signing", k.alg, k.kid))
                .chain([format!(
                    "the previous keys stay published for {grace} seconds"
                )])
                .collect::<Vec<_>>()
                .join("\n");
            ctx.print(
                &json!({ "created": created, "retired_keys_published_for_secs": grace }),
                human,
            );
        }
        KeysCmd::List => {
            let all = keys.list().await?;
            let human = all
                .iter()
                .map(|k| {
                    let until = k
                        .published_until
                        .map(|t| format!(" (published until {t})"))
                        .unwrap_or_default();
                    format!(
                        "{}  {}  {}{until}",
                        k.kid,
                        k.alg,
                        serde_json::to_value(k.state)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            ctx.print(&serde_json::to_value(&all)?, human);
        }
    }
    Ok(())
}
