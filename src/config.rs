//! Configuration: built-in defaults < `config.toml` < environment variables `CITEBOT__SECTION__KEY`.
//!
//! The defaults are the committed `config.toml`, compiled in, so the binary works from any directory.
//! Secrets never live here: they come from the environment only. A value a user got wrong is
//! reported as one sentence naming the key and what it expects.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The committed configuration file, used as the built-in defaults.
pub const DEFAULTS: &str = include_str!("../config.toml");
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
    pub records: crate::records::RecordsConfig,
    /// Hot reload of the corpus while serving.
    #[serde(default)]
    pub reload: crate::reload::ReloadConfig,
    /// The Discord bot (`citebot serve`).
    #[serde(default)]
    pub discord: crate::discord::DiscordConfig,
    /// The HTTP interactions endpoint (`citebot serve-http`, `citebot register-commands`).
    #[serde(default)]
    pub http: crate::http::HttpConfig,
    /// Metrics and health checks of `citebot serve`.
    #[serde(default)]
    pub metrics: crate::metrics::MetricsConfig,
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
    /// Weight multiplier for generic words.
    pub generic_word_factor: f32,
    /// Weight of a word the corpus never uses, relative to the rarest word.
    pub unknown_word_factor: f32,
    /// Credit for a spelling-corrected match.
    pub spelling_factor: f32,
    /// Credit for a synonym match.
    pub synonym_factor: f32,
    /// Credit for a match on another word of the same family.
    pub family_factor: f32,
    /// Credit for a match on a WordNet synonym of a word the corpus never uses.
    pub thesaurus_factor: f32,
    /// Multiplies an example question's similarity when it stands in for coverage (0 = examples
    /// only re-rank).
    pub example_factor: f32,
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
        let range = |key, value: String, ok: bool, expected| {
            if ok { Ok(()) } else { Err(ConfigError::OutOfRange { key, value, expected }) }
        };
        let a = &self.answer;
        if let Some(m) = a.min_confidence {
            range("answer.min_confidence", m.to_string(), (0.0..=1.0).contains(&m), "between 0 and 1")?;
        }
        range(
            "answer.max_excerpt_chars",
            a.max_excerpt_chars.to_string(),
            (100..=4000).contains(&a.max_excerpt_chars),
            "between 100 and 4000",
        )?;
        range("answer.alternatives", a.alternatives.to_string(), a.alternatives <= 10, "at most 10")?;
        let r = &self.retrieval;
        range(
            "retrieval.candidates",
            r.candidates.to_string(),
            (1..=1000).contains(&r.candidates),
            "between 1 and 1000",
        )?;
        for (key, v) in [
            ("retrieval.generic_word_factor", r.generic_word_factor),
            ("retrieval.unknown_word_factor", r.unknown_word_factor),
            ("retrieval.spelling_factor", r.spelling_factor),
            ("retrieval.synonym_factor", r.synonym_factor),
            ("retrieval.family_factor", r.family_factor),
            ("retrieval.thesaurus_factor", r.thesaurus_factor),
            ("retrieval.example_factor", r.example_factor),
        ] {
            range(key, v.to_string(), (0.0..=2.0).contains(&v), "between 0 and 2")?;
        }
        self.records.validate()?;
        self.reload.validate()?;
        self.discord.validate().map_err(ConfigError::Invalid)?;
        Ok(())
    }

    /// Retrieval settings derived from this configuration.
    pub fn retrieval_settings(&self) -> crate::retrieval::Settings {
        crate::retrieval::Settings {
            min_confidence: self.answer.min_confidence.unwrap_or(LEXICAL_MIN_CONFIDENCE),
            calibrate: self.answer.min_confidence.is_none(),
            max_excerpt_chars: self.answer.max_excerpt_chars,
            alternatives: self.answer.alternatives,
            candidates: self.retrieval.candidates,
            analysis: crate::question::AnalysisSettings {
                generic_word_factor: self.retrieval.generic_word_factor,
                unknown_word_factor: self.retrieval.unknown_word_factor,
                spelling_factor: self.retrieval.spelling_factor,
                synonym_factor: self.retrieval.synonym_factor,
                family_factor: self.retrieval.family_factor,
                thesaurus_factor: self.retrieval.thesaurus_factor,
            },
            example_factor: self.retrieval.example_factor,
        }
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
