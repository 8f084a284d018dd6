//! The `[discord]` configuration section and the bot token.
//!
//! [`DiscordConfig`] is plain data: every field has a default, so a configuration file without a
//! `[discord]` section still loads, and the section can be embedded in the application's `Config`
//! with `#[serde(default)]`. [`DiscordConfig::validate`] turns a value a user got wrong into one
//! sentence naming the key.
//!
//! The token is deliberately *not* a configuration key: [`DiscordToken::from_env`] reads it from
//! `DISCORD_TOKEN` (or `CITEBOT__DISCORD__TOKEN`) only, holds it in a [`SecretString`], and never
//! shows it through `Debug`, `Display` or a log line. A missing or malformed token is a
//! [`TokenError`] whose message says how to fix it; nothing has connected anywhere at that point.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Where Discord lives unless the configuration says otherwise.
pub const DISCORD_API_URL: &str = "https://discord.com";
/// The environment variables that may hold the token, in order of preference.
pub const TOKEN_VARIABLES: [&str; 2] = ["DISCORD_TOKEN", "CITEBOT__DISCORD__TOKEN"];
/// The default disclaimer shown under every answer.
pub const DEFAULT_DISCLAIMER: &str = "Educational information from the article above, not medical advice.";

/// `[discord]`: how the bot behaves on Discord. Every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct DiscordConfig {
    /// Base address of Discord's REST API (`https://discord.com`). Tests point it at a simulator;
    /// the gateway address is whatever this API returns, never a built-in one.
    pub api_url: String,
    /// Register the commands in these guilds only (instant, for development). Empty: globally.
    pub guild_ids: Vec<Snowflake>,
    /// Channels where mentions are answered. Empty: every channel the bot can read.
    pub mention_channels: Vec<Snowflake>,
    /// Users who may run `/reindex` besides members with the Manage Server permission.
    pub admin_ids: Vec<Snowflake>,
    /// Seconds a user waits between two questions (0: no cooldown).
    pub cooldown_seconds: u64,
    /// Whether `/ask` answers are private unless the user says otherwise.
    pub ephemeral_default: bool,
    /// The line shown under every answer (empty: none).
    pub disclaimer: String,
    /// Prefix for text commands such as `!ask` (None: off). Needs the MESSAGE_CONTENT intent.
    pub prefix: Option<String>,
    /// Whether a reply to a mention pings its author.
    pub ping_author_on_reply: bool,
    /// `auto` (Discord's recommendation) or an explicit range such as `0-1/4` or `2/4`.
    pub shards: ShardSpec,
    /// Answer an interaction directly when retrieval takes less than this; defer otherwise
    /// (0: always defer).
    pub defer_after_ms: u64,
    /// On SIGINT/SIGTERM, how long replies in flight may take to finish.
    pub shutdown_grace_seconds: u64,
    /// One REST request's time limit (connect, send, response), in milliseconds.
    pub request_timeout_ms: u64,
    /// Times a reply is sent again after a transient failure (5xx, time-out) before it is given up.
    pub request_retries: u32,
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            api_url: DISCORD_API_URL.to_string(),
            guild_ids: Vec::new(),
            mention_channels: Vec::new(),
            admin_ids: Vec::new(),
            cooldown_seconds: 5,
            ephemeral_default: false,
            disclaimer: DEFAULT_DISCLAIMER.to_string(),
            prefix: None,
            ping_author_on_reply: false,
            shards: ShardSpec::Auto,
            defer_after_ms: 1500,
            shutdown_grace_seconds: 10,
            request_timeout_ms: 10_000,
            request_retries: 3,
        }
    }
}

impl DiscordConfig {
    /// Checks the values a user could get wrong; the error names the key and what it expects.
    pub fn validate(&self) -> Result<(), String> {
        let url = self.api_base();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['/', '?', '#', ' '])) {
            return Err(format!(
                "discord.api_url = {url:?} must be a bare http(s) address such as \"https://discord.com\""
            ));
        }
        if let Some(prefix) = &self.prefix
            && (prefix.trim().is_empty() || prefix.chars().count() > 10)
        {
            return Err(format!(
                "discord.prefix = {prefix:?} must be 1 to 10 characters, e.g. \"!\"; remove the key to turn text commands off"
            ));
        }
        for (key, ids) in [
            ("discord.guild_ids", &self.guild_ids),
            ("discord.mention_channels", &self.mention_channels),
            ("discord.admin_ids", &self.admin_ids),
        ] {
            if ids.iter().any(|id| id.0 == 0) {
                return Err(format!(
                    "{key} holds 0, which is not a Discord id; copy the id with Developer Mode on"
                ));
            }
        }
        if self.defer_after_ms > 2500 {
            return Err(format!(
                "discord.defer_after_ms = {} must be at most 2500: Discord drops interactions not answered within 3 s",
                self.defer_after_ms
            ));
        }
        if !(100..=60_000).contains(&self.request_timeout_ms) {
            return Err(format!(
                "discord.request_timeout_ms = {} must be between 100 and 60000 (milliseconds)",
                self.request_timeout_ms
            ));
        }
        if self.request_retries > 10 {
            return Err(format!("discord.request_retries = {} must be at most 10", self.request_retries));
        }
        if self.cooldown_seconds > 3600 {
            return Err(format!("discord.cooldown_seconds = {} must be at most 3600", self.cooldown_seconds));
        }
        Ok(())
    }

    /// The API base address without a trailing slash.
    pub fn api_base(&self) -> &str {
        self.api_url.trim().trim_end_matches('/')
    }

    /// True when the API is Discord itself (then serenity's own rate limiter is used).
    pub fn is_real_discord(&self) -> bool {
        self.api_base() == DISCORD_API_URL
    }
}

/// A Discord id (guild, channel, user), written in the configuration as a number or a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snowflake(pub u64);

impl<'de> Deserialize<'de> for Snowflake {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Snowflake;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Discord id (a positive number, or a string of digits)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Snowflake, E> {
                Ok(Snowflake(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Snowflake, E> {
                u64::try_from(v).map(Snowflake).map_err(|_| E::custom("a Discord id cannot be negative"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Snowflake, E> {
                v.trim().parse().map(Snowflake).map_err(|_| E::custom(format!("{v:?} is not a Discord id")))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Which shards this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShardSpec {
    /// As many as Discord recommends (`GET /gateway/bot`), all in this process.
    #[default]
    Auto,
    /// Shards `first..=last` of `total`, for running several processes.
    Range {
        /// First shard id run here.
        first: u32,
        /// Last shard id run here (inclusive).
        last: u32,
        /// Shards across all processes.
        total: u32,
    },
}

impl std::str::FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto);
        }
        let bad = || {
            format!(
                "discord.shards = {s:?} must be \"auto\" or FIRST-LAST/TOTAL such as \"0-1/4\" (or ID/TOTAL such as \"2/4\")"
            )
        };
        let (range, total) = s.split_once('/').ok_or_else(bad)?;
        let total: u32 = total.trim().parse().map_err(|_| bad())?;
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?),
            None => {
                let id = range.trim().parse().map_err(|_| bad())?;
                (id, id)
            }
        };
        if total == 0 || first > last || last >= total {
            return Err(bad());
        }
        Ok(ShardSpec::Range { first, last, total })
    }
}

impl<'de> Deserialize<'de> for ShardSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

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
    fn every_key_has_a_default() {
        let c: DiscordConfig = toml::from_str("").unwrap();
        assert_eq!(c, DiscordConfig::default());
        assert_eq!(c.api_url, "https://discord.com");
        assert_eq!(c.cooldown_seconds, 5);
        assert!(!c.ephemeral_default && !c.ping_author_on_reply && c.prefix.is_none());
        assert_eq!(c.disclaimer, DEFAULT_DISCLAIMER);
        assert_eq!(c.shards, ShardSpec::Auto);
        assert!(c.validate().is_ok());
        assert!(c.is_real_discord());
    }

    /// The `[discord]` section as documented for config.toml: every default, written out.
    const DOCUMENTED: &str = r#"
[discord]
api_url = "https://discord.com"
guild_ids = []
mention_channels = []
admin_ids = []
cooldown_seconds = 5
ephemeral_default = false
disclaimer = "Educational information from the article above, not medical advice."
# prefix = "!"
ping_author_on_reply = false
shards = "auto"
defer_after_ms = 1500
shutdown_grace_seconds = 10
request_timeout_ms = 10000
request_retries = 3
"#;

    #[test]
    fn the_documented_section_is_the_defaults_through_the_config_crate() {
        let loaded = config::Config::builder()
            .add_source(config::File::from_str(DOCUMENTED, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.get::<DiscordConfig>("discord"))
            .unwrap();
        assert_eq!(loaded, DiscordConfig::default());
        let ids = "[discord]\nguild_ids = [123, \"456\"]\nshards = \"1/2\"";
        let loaded = config::Config::builder()
            .add_source(config::File::from_str(ids, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.get::<DiscordConfig>("discord"))
            .unwrap();
        assert_eq!(loaded.guild_ids, vec![Snowflake(123), Snowflake(456)]);
        assert_eq!(loaded.shards, ShardSpec::Range { first: 1, last: 1, total: 2 });
    }

    #[test]
    fn ids_and_shards_parse_from_toml() {
        let c: DiscordConfig = toml::from_str(
            "guild_ids = [123, \"456\"]\nmention_channels = [\"789\"]\nshards = \"0-1/4\"\nprefix = \"!\"",
        )
        .unwrap();
        assert_eq!(c.guild_ids, vec![Snowflake(123), Snowflake(456)]);
        assert_eq!(c.mention_channels, vec![Snowflake(789)]);
        assert_eq!(c.shards, ShardSpec::Range { first: 0, last: 1, total: 4 });
        assert_eq!(c.prefix.as_deref(), Some("!"));
    }

    #[test]
    fn shard_specs() {
        let cases = [
            ("auto", Ok(ShardSpec::Auto)),
            ("AUTO", Ok(ShardSpec::Auto)),
            ("2/4", Ok(ShardSpec::Range { first: 2, last: 2, total: 4 })),
            ("0-3/4", Ok(ShardSpec::Range { first: 0, last: 3, total: 4 })),
            ("0-4/4", Err(())),
            ("3-1/4", Err(())),
            ("1/0", Err(())),
            ("many", Err(())),
        ];
        for (input, expected) in cases {
            let got = input.parse::<ShardSpec>();
            assert_eq!(got.clone().map_err(|_| ()), expected, "{input}");
            if let Err(e) = got {
                assert!(e.contains("discord.shards"), "{e}");
            }
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = [
            (DiscordConfig { api_url: "discord.com".into(), ..Default::default() }, "discord.api_url"),
            (DiscordConfig { api_url: "https://x/api".into(), ..Default::default() }, "discord.api_url"),
            (DiscordConfig { prefix: Some(" ".into()), ..Default::default() }, "discord.prefix"),
            (DiscordConfig { defer_after_ms: 5000, ..Default::default() }, "discord.defer_after_ms"),
            (DiscordConfig { guild_ids: vec![Snowflake(0)], ..Default::default() }, "discord.guild_ids"),
        ];
        for (config, key) in bad {
            let e = config.validate().unwrap_err();
            assert!(e.contains(key), "{e}");
        }
        let local = DiscordConfig { api_url: "http://127.0.0.1:8080/".into(), ..Default::default() };
        assert!(local.validate().is_ok());
        assert_eq!(local.api_base(), "http://127.0.0.1:8080");
        assert!(!local.is_real_discord());
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
