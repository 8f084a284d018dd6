//! `[discord]`: how the bot behaves on Discord, for both transports (the gateway bot and the
//! HTTP endpoint).
//!
//! [`DiscordConfig`] is plain data: every field has a default, so a configuration file without a
//! `[discord]` section still loads, and the section can be embedded in the application's `Config`
//! with `#[serde(default)]`. [`DiscordConfig::validate`] turns a value a user got wrong into a
//! [`ConfigError`] naming the key. Ids are plain numbers ([`Snowflake`]): serenity's types stay in
//! `crate::discord`. The token is not a configuration key (see `crate::discord::DiscordToken`).

use super::ConfigError;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Where Discord lives unless the configuration says otherwise.
pub const DISCORD_API_URL: &str = "https://discord.com";
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
    pub fn validate(&self) -> Result<(), ConfigError> {
        let url = self.api_base();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.contains(['/', '?', '#', ' '])) {
            return Err(ConfigError::value(
                "discord.api_url",
                format!("= {url:?} must be a bare http(s) address such as \"https://discord.com\""),
            ));
        }
        if let Some(prefix) = &self.prefix
            && (prefix.trim().is_empty() || prefix.chars().count() > 10)
        {
            return Err(ConfigError::value(
                "discord.prefix",
                format!(
                    "= {prefix:?} must be 1 to 10 characters, e.g. \"!\"; remove the key to turn text commands off"
                ),
            ));
        }
        for (key, ids) in [
            ("discord.guild_ids", &self.guild_ids),
            ("discord.mention_channels", &self.mention_channels),
            ("discord.admin_ids", &self.admin_ids),
        ] {
            if ids.iter().any(|id| id.0 == 0) {
                return Err(ConfigError::value(
                    key,
                    "holds 0, which is not a Discord id; copy the id with Developer Mode on".into(),
                ));
            }
        }
        ConfigError::check(
            "discord.defer_after_ms",
            self.defer_after_ms,
            self.defer_after_ms <= 2500,
            "at most 2500: Discord drops interactions not answered within 3 s",
        )?;
        ConfigError::check(
            "discord.request_timeout_ms",
            self.request_timeout_ms,
            (100..=60_000).contains(&self.request_timeout_ms),
            "between 100 and 60000 (milliseconds)",
        )?;
        ConfigError::check(
            "discord.request_retries",
            self.request_retries,
            self.request_retries <= 10,
            "at most 10",
        )?;
        ConfigError::check(
            "discord.cooldown_seconds",
            self.cooldown_seconds,
            self.cooldown_seconds <= 3600,
            "at most 3600",
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let e = config.validate().unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        let local = DiscordConfig { api_url: "http://127.0.0.1:8080/".into(), ..Default::default() };
        assert!(local.validate().is_ok());
        assert_eq!(local.api_base(), "http://127.0.0.1:8080");
        assert!(!local.is_real_discord());
    }
}
