//! Configuration: built-in defaults < `config.toml` < environment variables `CITEBOT__SECTION__KEY`.
//!
//! The defaults are the committed `config.toml`, compiled in, so the binary works from any directory.
//! Secrets never live here: they come from the environment only. A value a user got wrong is
//! reported as one sentence naming the key and what it expects.
//!
//! This is a leaf: every section type lives here (the core's below, the front ends' and the
//! services' in the submodules) and nothing here imports another module of the project. A
//! component takes its own section, or the plain type in it ([`AnalysisSettings`] for question
//! analysis), as it is; the one translation, from [`Config`] to the retriever's settings, is
//! `crate::app::retrieval_settings`. Every section checks itself with a `validate` method that
//! returns a [`ConfigError`] naming the key.

pub mod discord;
pub mod http;
pub mod metrics;
pub mod records;
pub mod reload;

pub use discord::{DiscordConfig, ShardSpec, Snowflake};
pub use http::HttpConfig;
pub use metrics::MetricsConfig;
pub use records::RecordsConfig;
pub use reload::ReloadConfig;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The committed configuration file, used as the built-in defaults.
pub const DEFAULTS: &str = include_str!("../../config.toml");
/// The default configuration path.
pub const DEFAULT_PATH: &str = "config.toml";
/// The decline threshold when `answer.min_confidence` is unset and there is no sentence model to
/// place one per corpus (words alone: coverage has a fixed scale).
pub const LEXICAL_MIN_CONFIDENCE: f64 = 0.42;
/// Prefix of environment overrides: `CITEBOT__ANSWER__MIN_CONFIDENCE=0.6`.
pub const ENV_PREFIX: &str = "CITEBOT";

/// All settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Config {
    /// Where the articles are.
    pub corpus: CorpusConfig,
    /// Where the index goes.
    pub index: IndexConfig,
    /// How answers are chosen and cut.
    pub answer: AnswerConfig,
    /// Retrieval weights.
    pub retrieval: RetrievalConfig,
    /// Logging.
    pub log: LogConfig,
    /// The sentence-embedding stage.
    #[serde(default)]
    pub semantic: SemanticConfig,
    /// Declines, votes and answer counts for `citebot report`.
    #[serde(default)]
    pub records: RecordsConfig,
    /// Hot reload of the corpus while serving.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// The Discord bot (`citebot serve`).
    #[serde(default)]
    pub discord: DiscordConfig,
    /// The HTTP interactions endpoint (`citebot serve-http`, `citebot register-commands`).
    #[serde(default)]
    pub http: HttpConfig,
    /// Metrics and health checks of `citebot serve`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Problems worth a warning that do not stop start-up (unknown keys, secrets in the file),
    /// logged once logging is set up.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `[corpus]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CorpusConfig {
    /// Directory of Markdown (and plain-text) articles.
    pub dir: PathBuf,
    /// Synonyms file (Solr format); a missing file means no synonyms.
    pub synonyms: PathBuf,
    /// Example questions (eval format); a missing file means none.
    pub examples: PathBuf,
}

/// `[index]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IndexConfig {
    /// Directory of the derived index.
    pub dir: PathBuf,
}

/// `[answer]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AnswerConfig {
    /// Below this confidence the bot declines; unset = placed per corpus when the index is built.
    #[serde(default)]
    pub min_confidence: Option<f64>,
    /// Longest excerpt in characters.
    pub max_excerpt_chars: usize,
    /// Number of alternatives offered.
    pub alternatives: usize,
}

/// `[retrieval]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RetrievalConfig {
    /// BM25 candidates re-ranked per question.
    pub candidates: usize,
    /// Multiplies an example question's similarity when it stands in for coverage (0 = examples
    /// only re-rank).
    pub example_factor: f32,
    /// The weights of question analysis, keys of `[retrieval]` too; question analysis takes them
    /// as they are.
    #[serde(flatten)]
    pub analysis: AnalysisSettings,
    /// Keys of `[retrieval]` that no field takes, reported as unknown (a flattened section hides
    /// them from the unknown-key check).
    #[serde(flatten)]
    unknown: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The tunable parts of question analysis (`crate::question`), read from `[retrieval]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AnalysisSettings {
    /// Weight multiplier for generic words ("help", "good", "use").
    #[serde(deserialize_with = "analysis_keys::generic_word_factor")]
    pub generic_word_factor: f32,
    /// Weight of a word the corpus has never seen, as a multiple of the rarest possible IDF.
    #[serde(deserialize_with = "analysis_keys::unknown_word_factor")]
    pub unknown_word_factor: f32,
    /// Credit for an alternative that came from spelling correction.
    #[serde(deserialize_with = "analysis_keys::spelling_factor")]
    pub spelling_factor: f32,
    /// Credit for an alternative that came from a synonym rule.
    #[serde(deserialize_with = "analysis_keys::synonym_factor")]
    pub synonym_factor: f32,
    /// Credit for an alternative of the same word family ("inflammation" for "inflamed").
    #[serde(deserialize_with = "analysis_keys::family_factor")]
    pub family_factor: f32,
    /// Credit for a WordNet synonym of a word the corpus never uses ("choose" for "pick").
    #[serde(deserialize_with = "analysis_keys::thesaurus_factor")]
    pub thesaurus_factor: f32,
}

/// The weights' readers: a flattened section hides the key from the configuration crate's own
/// type errors, so each weight's error names its key here.
mod analysis_keys {
    use serde::{Deserialize, Deserializer};

    macro_rules! named {
        ($($field:ident),*) => {$(
            pub(super) fn $field<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
                f32::deserialize(d).map_err(|e| {
                    serde::de::Error::custom(format!(concat!("retrieval.", stringify!($field), ": {}"), e))
                })
            }
        )*};
    }

    named!(
        generic_word_factor,
        unknown_word_factor,
        spelling_factor,
        synonym_factor,
        family_factor,
        thesaurus_factor
    );
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            generic_word_factor: 0.3,
            unknown_word_factor: 1.0,
            spelling_factor: 0.9,
            synonym_factor: 0.95,
            family_factor: 0.8,
            thesaurus_factor: 0.5,
        }
    }
}

/// `[semantic]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SemanticConfig {
    /// Directory of the sentence model (`citebot model fetch` fills it); "" or a directory without
    /// a model means words alone.
    pub model_dir: PathBuf,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        SemanticConfig { model_dir: PathBuf::from("models/all-MiniLM-L6-v2") }
    }
}

/// `[log]`
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LogConfig {
    /// Default level filter (overridden by `RUST_LOG`), e.g. `info` or `citebot=debug`.
    pub level: String,
}

/// A configuration the user must fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist.
    #[error(
        "the configuration file {0} does not exist; pass an existing file with --config, or leave --config out to use config.toml"
    )]
    MissingFile(PathBuf),
    /// The file or an environment variable could not be read or has a wrong value.
    #[error(
        "the configuration is invalid: {0}. Fix it in the configuration file or the matching CITEBOT__SECTION__KEY variable"
    )]
    Invalid(String),
    /// A value is out of its range.
    #[error("the configuration value {key} = {value} is out of range: it must be {expected}")]
    OutOfRange {
        /// Dotted key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A value is wrong in a way a range does not describe.
    #[error("the configuration value {key} {problem}")]
    Value {
        /// Dotted key.
        key: &'static str,
        /// What is wrong and what is expected, e.g. `= "x" must be a bare http(s) address`.
        problem: String,
    },
}

impl ConfigError {
    /// Ok when `ok`, else [`ConfigError::OutOfRange`] for `key` holding `value`.
    pub fn check(
        key: &'static str,
        value: impl ToString,
        ok: bool,
        expected: &'static str,
    ) -> Result<(), Self> {
        if ok { Ok(()) } else { Err(ConfigError::OutOfRange { key, value: value.to_string(), expected }) }
    }

    /// [`ConfigError::Value`] for `key`.
    pub fn value(key: &'static str, problem: String) -> Self {
        ConfigError::Value { key, problem }
    }
}

impl Config {
    /// Loads the built-in defaults, then `path` (required when `explicit`), then the environment.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        Self::load_with_env(path, explicit, std::env::vars())
    }

    /// Like [`Config::load`] with the given environment (for tests).
    pub fn load_with_env(
        path: &Path,
        explicit: bool,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        if explicit && !path.is_file() {
            return Err(ConfigError::MissingFile(path.to_path_buf()));
        }
        let env: config::Map<String, String> =
            env.into_iter().filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__"))).collect();
        // The token may come from the environment under our prefix; it is read by the Discord
        // adapter from there, never from the layered configuration.
        let token_from_env = env.contains_key("CITEBOT__DISCORD__TOKEN");
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if path.is_file() {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("discord.guild_ids")
                .with_list_parse_key("discord.mention_channels")
                .with_list_parse_key("discord.admin_ids")
                .source(Some(env)),
        );
        let built = builder.build().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut unknown = Vec::new();
        let mut config: Config = serde_ignored::deserialize(built, |path| unknown.push(path.to_string()))
            .map_err(|e: config::ConfigError| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        unknown.extend(config.retrieval.unknown.keys().map(|k| format!("retrieval.{k}")));
        for key in unknown {
            if key == "discord.token" && token_from_env {
                continue;
            }
            if key.split('.').next_back().is_some_and(is_secret_name) {
                config.warnings.push(format!(
                    "the configuration sets `{key}`: secrets belong in the environment (DISCORD_TOKEN, CITEBOT__…), not in a file; the value is ignored"
                ));
            } else {
                config.warnings.push(format!(
                    "unknown configuration key `{key}` is ignored; check its spelling against config.toml"
                ));
            }
        }
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.answer.validate()?;
        self.retrieval.validate()?;
        self.records.validate()?;
        self.reload.validate()?;
        self.discord.validate()
    }
}

impl AnswerConfig {
    /// Checks the ranges, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(m) = self.min_confidence {
            ConfigError::check("answer.min_confidence", m, (0.0..=1.0).contains(&m), "between 0 and 1")?;
        }
        ConfigError::check(
            "answer.max_excerpt_chars",
            self.max_excerpt_chars,
            (100..=4000).contains(&self.max_excerpt_chars),
            "between 100 and 4000",
        )?;
        ConfigError::check("answer.alternatives", self.alternatives, self.alternatives <= 10, "at most 10")
    }
}

impl RetrievalConfig {
    /// Checks the ranges, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "retrieval.candidates",
            self.candidates,
            (1..=1000).contains(&self.candidates),
            "between 1 and 1000",
        )?;
        let a = &self.analysis;
        for (key, v) in [
            ("retrieval.generic_word_factor", a.generic_word_factor),
            ("retrieval.unknown_word_factor", a.unknown_word_factor),
            ("retrieval.spelling_factor", a.spelling_factor),
            ("retrieval.synonym_factor", a.synonym_factor),
            ("retrieval.family_factor", a.family_factor),
            ("retrieval.thesaurus_factor", a.thesaurus_factor),
            ("retrieval.example_factor", self.example_factor),
        ] {
            ConfigError::check(key, v, (0.0..=2.0).contains(&v), "between 0 and 2")?;
        }
        Ok(())
    }
}

/// Key names that hold secrets, which never belong in a configuration file.
fn is_secret_name(key: &str) -> bool {
    matches!(key, "token" | "secret" | "password" | "api_key" | "key" | "public_key" | "private_key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_load_without_a_file() {
        let c = Config::load_with_env(Path::new("/nonexistent/config.toml"), false, env(&[])).unwrap();
        assert_eq!(c.corpus.dir, PathBuf::from("corpus"));
        assert_eq!(c.answer.max_excerpt_chars, 700);
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = Config::load_with_env(
            Path::new("/nonexistent"),
            false,
            env(&[("CITEBOT__ANSWER__MIN_CONFIDENCE", "0.25"), ("CITEBOT__INDEX__DIR", "/tmp/x")]),
        )
        .unwrap();
        assert_eq!(c.answer.min_confidence, Some(0.25));
        assert_eq!(c.index.dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_keys_and_secrets_in_the_file_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[answer]\nmin_confidance = 0.3\napi_key = \"abc.def.ghi\"\n").unwrap();
        let c = Config::load_with_env(&path, true, env(&[("CITEBOT__LOG__LEVL", "x")])).unwrap();
        let all = c.warnings.join("\n");
        assert!(all.contains("answer.min_confidance"), "{all}");
        assert!(all.contains("log.levl"), "{all}");
        assert!(all.contains("secrets belong in the environment"), "{all}");
        assert!(!all.contains("abc.def.ghi"), "the secret itself is never repeated");
    }

    #[test]
    fn retrieval_keys_are_checked_like_the_others() {
        let c = Config::load_with_env(
            Path::new("/nonexistent"),
            false,
            env(&[
                ("CITEBOT__RETRIEVAL__SPELLING_FACTOR", "0.7"),
                ("CITEBOT__RETRIEVAL__SPELING_FACTOR", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.retrieval.analysis.spelling_factor, 0.7);
        assert_eq!(c.retrieval.analysis.synonym_factor, AnalysisSettings::default().synonym_factor);
        assert!(c.warnings.join("\n").contains("retrieval.speling_factor"), "{:?}", c.warnings);
        let e = Config::load_with_env(
            Path::new("/x"),
            false,
            env(&[("CITEBOT__RETRIEVAL__SPELLING_FACTOR", "high")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("spelling_factor"), "{e}");
        let e =
            Config::load_with_env(Path::new("/x"), false, env(&[("CITEBOT__RETRIEVAL__FAMILY_FACTOR", "3")]))
                .unwrap_err();
        assert!(e.to_string().contains("retrieval.family_factor"), "{e}");
    }

    #[test]
    fn user_mistakes_are_one_clear_sentence() {
        let e = Config::load_with_env(Path::new("/nonexistent"), true, env(&[])).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = Config::load_with_env(
            Path::new("/x"),
            false,
            env(&[("CITEBOT__ANSWER__MIN_CONFIDENCE", "high")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("min_confidence"), "{e}");
        let e =
            Config::load_with_env(Path::new("/x"), false, env(&[("CITEBOT__ANSWER__MIN_CONFIDENCE", "3")]))
                .unwrap_err();
        assert!(e.to_string().contains("between 0 and 1"), "{e}");
    }
}
