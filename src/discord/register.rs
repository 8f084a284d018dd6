//! The bot's application commands as Discord sees them, and `citebot register-commands`.
//!
//! There is one definition of the commands: poise's, in `src/discord/commands.rs`. The gateway bot
//! registers them at start-up; an HTTP-only deployment (`citebot serve-http`) has no gateway
//! session to do that, so [`register_commands`] PUTs the very same JSON ([`definitions`]) to
//! `{discord.api_url}/api/v10/applications/{application}/commands` (or a guild's commands), with
//! the bot token from the environment. The application id comes from `http.application_id` or,
//! when unset, from `GET /oauth2/applications/@me`.
//!
//! The token is sent in the `Authorization` header and nowhere else; no error message repeats it.

use super::token::is_loopback;
use super::{DiscordConfig, DiscordToken, Snowflake};
use poise::serenity_prelude as serenity;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// How long one request to Discord may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The commands both modes register (no text command: that needs the gateway).
pub fn definitions() -> Vec<serenity::CreateCommand> {
    poise::builtins::create_application_commands(&super::commands::all(false))
}

/// [`definitions`] as the JSON body of the bulk-overwrite request.
pub fn definitions_json() -> Value {
    serde_json::to_value(definitions()).unwrap_or(Value::Array(Vec::new()))
}

/// Where commands are registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// In every guild and direct messages (Discord may take a while to show changes).
    Global,
    /// In one guild (immediately).
    Guild(u64),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Global => f.write_str("globally"),
            Scope::Guild(g) => write!(f, "in guild {g}"),
        }
    }
}

/// What one registration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The application.
    pub application_id: u64,
    /// Where.
    pub scope: Scope,
    /// The command names Discord now holds there.
    pub commands: Vec<String>,
}

/// Why commands could not be registered, by audience ([`RegisterError::is_user_error`]).
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// A `[discord]` value (or a guild id given) is wrong; the message names it.
    #[error("{0}")]
    Config(String),
    /// Discord refused the token.
    #[error(
        "Discord rejected the token (401 Unauthorized at {0}); reset it in the developer portal (your application → Bot → Reset Token) and set DISCORD_TOKEN again"
    )]
    TokenRejected(String),
    /// The bot may not manage commands in that guild.
    #[error(
        "Discord refused to register commands in guild {guild} (403 Forbidden): invite the bot to that guild with the applications.commands scope, or check the guild id"
    )]
    Forbidden {
        /// The guild.
        guild: u64,
    },
    /// Discord answered with an error.
    #[error("Discord refused {what} ({status}): {message}")]
    Refused {
        /// The request.
        what: String,
        /// The HTTP status.
        status: u16,
        /// Discord's message (or a hint).
        message: String,
    },
    /// Discord could not be reached, or answered something unusable.
    #[error("could not reach Discord at {url}: {reason}; check discord.api_url and the network")]
    Unreachable {
        /// The address tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl RegisterError {
    /// True when the user can fix it (configuration, token, guild).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            RegisterError::Config(_) | RegisterError::TokenRejected(_) | RegisterError::Forbidden { .. }
        )
    }
}

/// Registers [`definitions`] in each of `guilds`, or globally when `guilds` is empty, replacing
/// whatever the application had there.
pub async fn register_commands(
    config: &DiscordConfig,
    token: &DiscordToken,
    application_id: Option<Snowflake>,
    guilds: &[Snowflake],
) -> Result<Vec<Registered>, RegisterError> {
    config.validate().map_err(|e| RegisterError::Config(e.to_string()))?;
    if guilds.iter().any(|g| g.0 == 0) {
        return Err(RegisterError::Config(
            "the configuration is invalid: 0 is not a guild id; copy the id with Developer Mode on".into(),
        ));
    }
    let client = Api::new(config, Some(token))?;
    let application_id = match application_id.filter(|a| a.0 != 0) {
        Some(id) => id.0,
        None => client.application_id().await?,
    };
    let body = definitions_json();
    let scopes: Vec<Scope> = if guilds.is_empty() {
        vec![Scope::Global]
    } else {
        guilds.iter().map(|g| Scope::Guild(g.0)).collect()
    };
    let mut done = Vec::new();
    for scope in scopes {
        let path = match scope {
            Scope::Global => format!("/applications/{application_id}/commands"),
            Scope::Guild(g) => format!("/applications/{application_id}/guilds/{g}/commands"),
        };
        let answer = client.send(reqwest::Method::PUT, &path, Some(&body)).await.map_err(|e| match e {
            RegisterError::Refused { status: 403, .. } if matches!(scope, Scope::Guild(_)) => {
                RegisterError::Forbidden { guild: if let Scope::Guild(g) = scope { g } else { 0 } }
            }
            other => other,
        })?;
        let Some(commands) = answer.as_array() else {
            return Err(RegisterError::Unreachable {
                url: client.base.clone(),
                reason: format!(
                    "registering {scope} was answered with something other than a list of commands"
                ),
            });
        };
        let commands = commands.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect();
        tracing::info!(%scope, application_id, "commands registered");
        done.push(Registered { application_id, scope, commands });
    }
    Ok(done)
}

/// A small client for Discord's REST API at `discord.api_url`: the bot token when there is one,
/// Discord's required user agent, no environment proxy for a loopback address, a timeout.
pub(crate) struct Api {
    client: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

impl Api {
    /// A client for `config.api_url`, authenticated with `token` when given (interaction webhooks
    /// need none: their token is in the path).
    pub(crate) fn new(config: &DiscordConfig, token: Option<&DiscordToken>) -> Result<Api, RegisterError> {
        let base = config.api_base().to_string();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("DiscordBot (citebot, ", env!("CARGO_PKG_VERSION"), ")"));
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(|e| RegisterError::Unreachable {
            url: base.clone(),
            reason: format!("the HTTP client could not be built: {e}"),
        })?;
        let authorization = token.map(|t| format!("Bot {}", t.expose()));
        Ok(Api { client, base, authorization })
    }

    /// The application the token belongs to.
    async fn application_id(&self) -> Result<u64, RegisterError> {
        let me = self.send(reqwest::Method::GET, "/oauth2/applications/@me", None).await?;
        me["id"].as_str().and_then(|id| id.parse().ok()).ok_or_else(|| RegisterError::Unreachable {
            url: self.base.clone(),
            reason: "GET /oauth2/applications/@me did not name the application; set http.application_id"
                .into(),
        })
    }

    /// Sends one request to `/api/v10{path}` and returns its JSON answer (null for 204).
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, RegisterError> {
        let url = format!("{}/api/v10{path}", self.base);
        let what = format!("{method} {}", redact_path(path));
        let mut request = self.client.request(method, &url);
        if let Some(auth) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, auth);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let unreachable = |reason: String| RegisterError::Unreachable { url: self.base.clone(), reason };
        // reqwest's errors name the URL, which holds an interaction token on webhook paths.
        let response =
            request.send().await.map_err(|e| unreachable(format!("{what} failed: {}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| unreachable(format!("{what}: {}", e.without_url())))?;
        if status.as_u16() == 401 {
            return Err(RegisterError::TokenRejected(self.base.clone()));
        }
        if !status.is_success() {
            let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let mut message = parsed["message"].as_str().unwrap_or("no explanation given").to_string();
            if let Some(after) = parsed["retry_after"].as_f64() {
                message = format!("{message}; retry after {after:.0} s");
            }
            message = crate::discord::text::cut(&message, 300);
            return Err(RegisterError::Refused { what, status: status.as_u16(), message });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .map_err(|e| unreachable(format!("{what} was answered with something not JSON ({e})")))
    }
}

/// A REST path fit for a message: an interaction token in a webhook path is replaced.
fn redact_path(path: &str) -> String {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.get(1) == Some(&"webhooks") && parts.len() > 3 {
        parts[3] = "<token>";
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_are_the_gateway_bots_commands_without_the_text_command() {
        let json = definitions_json();
        let names: Vec<&str> = json.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["ask", "Answer from knowledge base", "topics", "source", "reindex"]);
        assert_eq!(json[0]["options"][0]["autocomplete"], true);
        assert_eq!(json[1]["type"], 3);
    }

    #[test]
    fn webhook_tokens_stay_out_of_messages() {
        assert_eq!(
            redact_path("/webhooks/1000/secret-token/messages/@original"),
            "/webhooks/1000/<token>/messages/@original"
        );
        assert_eq!(redact_path("/applications/1/commands"), "/applications/1/commands");
    }
}
