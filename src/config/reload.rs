//! `[reload]`: when the corpus is reloaded while serving (`crate::reload`) and what a new corpus
//! must pass first.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// `[reload]`: when to reload and what a new corpus must pass first.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ReloadConfig {
    /// Watch the corpus directory and reload after changes (SIGHUP always reloads).
    pub watch: bool,
    /// Quiet time after the last file change before reloading, in milliseconds.
    pub debounce_ms: u64,
    /// Questions a new corpus must answer (eval format, JSON Lines); none: no smoke test.
    pub smoke_file: Option<PathBuf>,
    /// Least overall accuracy on the smoke file, in [0, 1].
    pub min_accuracy: f64,
    /// Least hit@1 on the smoke file's in-domain questions, in [0, 1], if set.
    pub min_hit_at_1: Option<f64>,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: true,
            debounce_ms: 500,
            smoke_file: None,
            min_accuracy: 0.8,
            min_hit_at_1: None,
        }
    }
}

impl ReloadConfig {
    /// Checks the ranges, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "reload.min_accuracy",
            self.min_accuracy,
            (0.0..=1.0).contains(&self.min_accuracy),
            "between 0 and 1",
        )?;
        if let Some(h) = self.min_hit_at_1 {
            ConfigError::check("reload.min_hit_at_1", h, (0.0..=1.0).contains(&h), "between 0 and 1")?;
        }
        ConfigError::check(
            "reload.debounce_ms",
            self.debounce_ms,
            (10..=60_000).contains(&self.debounce_ms),
            "between 10 and 60000",
        )
    }
}
