//! `rosey token create|list|revoke`: the API tokens `POST /api/say` accepts.

use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::Settings;
use crate::store::SqliteStore;

/// What to do with tokens.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once: only its digest is stored).
    Create {
        /// What the token is for (shown by `list`).
        #[arg(long)]
        description: Option<String>,
    },
    /// List tokens by fingerprint (never the tokens themselves).
    List,
    /// Revoke a token, given as itself or as the fingerprint `list` shows.
    Revoke {
        /// The token, or its fingerprint.
        token: String,
    },
}

/// Runs `command` against the database; returns what to print.
///
/// # Errors
/// When the database cannot be opened or written, or the token to revoke is unknown.
pub fn token(settings: &Settings, command: &TokenCommand) -> crate::Result<String> {
    let now = unix_seconds(SystemClock.now_ms());
    let mut store = SqliteStore::open(&settings.sqlite_db_path("token")?, now)?;
    match command {
        TokenCommand::Create { description } => {
            let token = store.create_api_token(description.as_deref(), now)?;
            tracing::info!(description = description.as_deref().unwrap_or(""), "[web] API token created");
            Ok(format!("{token}\n"))
        }
        TokenCommand::List => {
            let mut out = format!(
                "{:<14} {:<8} {:<11} {:<11} {}\n",
                "fingerprint", "state", "created", "last used", "description"
            );
            for info in store.list_api_tokens()? {
                let state = match (info.revoked, info.plain_text) {
                    (true, _) => "revoked",
                    (false, true) => "v0.5",
                    (false, false) => "active",
                };
                let last_used = info.last_used.map_or_else(|| "never".to_string(), |t| t.to_string());
                let description = info.description.unwrap_or_default();
                out.push_str(&format!(
                    "{:<14} {state:<8} {:<11} {last_used:<11} {description}\n",
                    info.fingerprint, info.created_at
                ));
            }
            Ok(out)
        }
        TokenCommand::Revoke { token } => match store.revoke_api_token(token)? {
            0 => Err("no such token (give the token itself, or a fingerprint from `rosey token list`)".into()),
            _ => Ok("revoked\n".to_string()),
        },
    }
}
