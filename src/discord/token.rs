//! The bot token, from the environment only.
//!
//! The token is deliberately *not* a configuration key: [`DiscordToken::from_env`] reads it from
//! `DISCORD_TOKEN` (or `CITEBOT__DISCORD__TOKEN`) only, holds it in a [`SecretString`], and never
//! shows it through `Debug`, `Display` or a log line. A missing or malformed token is a
//! [`TokenError`] whose message says how to fix it; nothing has connected anywhere at that point.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// The environment variables that may hold the token, in order of preference.
pub const TOKEN_VARIABLES: [&str; 2] = ["DISCORD_TOKEN", "CITEBOT__DISCORD__TOKEN"];

/// The bot token. Its value is reachable only through the crate-private `DiscordToken::expose`,
/// used once when the HTTP client is built.
#[derive(Clone)]
pub struct DiscordToken(SecretString);

impl fmt::Debug for DiscordToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DiscordToken(<redacted>)")
    }
}

/// A token the user must fix. The message never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No variable holds a token.
    #[error(
        "no Discord token: set DISCORD_TOKEN (or CITEBOT__DISCORD__TOKEN) to the bot token from the Discord developer portal (your application → Bot → Reset Token)"
    )]
    Missing,
    /// The variable holds something that is not a bot token.
    #[error(
        "the Discord token in {variable} is malformed: a bot token is three dot-separated parts of letters, digits, '-' and '_'; copy it again from the developer portal (your application → Bot → Reset Token)"
    )]
    Malformed {
        /// The variable that held it.
        variable: &'static str,
    },
}

impl DiscordToken {
    /// Reads the token from the process environment.
    pub fn from_env() -> Result<DiscordToken, TokenError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads the token from the given variables (`DISCORD_TOKEN` first, then
    /// `CITEBOT__DISCORD__TOKEN`); an empty variable counts as unset.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<DiscordToken, TokenError> {
        let mut found: [Option<String>; 2] = [None, None];
        for (key, value) in vars {
            if let Some(i) = TOKEN_VARIABLES.iter().position(|v| *v == key)
                && !value.trim().is_empty()
            {
                found[i] = Some(value);
            }
        }
        for (variable, value) in TOKEN_VARIABLES.into_iter().zip(found) {
            if let Some(value) = value {
                return Self::parse(&value).ok_or(TokenError::Malformed { variable });
            }
        }
        Err(TokenError::Missing)
    }

    /// Checks the shape of a token (`Bot ` prefix allowed): three non-empty dot-separated parts of
    /// URL-safe base64 characters. Discord alone can tell whether it is valid.
    pub fn parse(raw: &str) -> Option<DiscordToken> {
        let token = raw.trim();
        let token = token.strip_prefix("Bot ").unwrap_or(token).trim();
        let parts: Vec<&str> = token.split('.').collect();
        let well_formed = parts.len() == 3
            && parts.iter().all(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        well_formed.then(|| DiscordToken(SecretString::from(token.to_string())))
    }

    /// The token itself, for the HTTP client.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// True when `base` (an API address) is on this machine: a test simulator, never Discord.
pub(crate) fn is_loopback(base: &str) -> bool {
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn token_comes_from_the_environment_only() {
        assert_eq!(DiscordToken::from_vars(vars(&[])).unwrap_err(), TokenError::Missing);
        assert_eq!(
            DiscordToken::from_vars(vars(&[("DISCORD_TOKEN", "  ")])).unwrap_err(),
            TokenError::Missing
        );
        let t = DiscordToken::from_vars(vars(&[("CITEBOT__DISCORD__TOKEN", "MTAwMA.fake.token")])).unwrap();
        assert_eq!(t.expose(), "MTAwMA.fake.token");
        let t = DiscordToken::from_vars(vars(&[
            ("CITEBOT__DISCORD__TOKEN", "MTAwMA.other.token"),
            ("DISCORD_TOKEN", "Bot MTAwMA.fake.token"),
        ]))
        .unwrap();
        assert_eq!(t.expose(), "MTAwMA.fake.token");
    }

    #[test]
    fn malformed_tokens_are_one_clear_line_without_the_token() {
        for raw in ["not-a-token", "a.b", "a..c", "a.b.c.d", "MTAw MA.fake.token", "a.b.c\n"] {
            let result = DiscordToken::from_vars(vars(&[("DISCORD_TOKEN", raw)]));
            if raw == "a.b.c\n" {
                assert!(result.is_ok(), "surrounding white space is trimmed");
                continue;
            }
            let e = result.unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains("DISCORD_TOKEN is malformed"), "{msg}");
            assert!(!msg.contains(raw), "the message must not echo the token: {msg}");
            assert!(!msg.contains('\n'));
        }
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let t = DiscordToken::parse("MTAwMA.secret.value").unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
