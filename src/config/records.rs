//! `[records]`: where the records of declines, votes and answers go (`crate::records`) and how
//! long they stay.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "citebot.db";

/// `[records]`: where the records go and how long they stay.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct RecordsConfig {
    /// Keep records at all.
    pub enabled: bool,
    /// Directory of the database (`citebot.db`) and, when `CITEBOT_RECORDS_KEY` is unset, of the
    /// generated pseudonym key (`records.key`).
    pub dir: PathBuf,
    /// Days a row is kept.
    pub retention_days: u32,
    /// Rows that may wait for the writer; beyond that new rows are dropped (and counted).
    pub queue_capacity: usize,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig { enabled: true, dir: PathBuf::from("data"), retention_days: 90, queue_capacity: 1024 }
    }
}

impl RecordsConfig {
    /// The database file.
    pub fn database(&self) -> PathBuf {
        self.dir.join(DATABASE_FILE)
    }

    /// Checks the ranges, naming the key that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "records.retention_days",
            self.retention_days,
            (1..=36_500).contains(&self.retention_days),
            "between 1 and 36500",
        )?;
        ConfigError::check(
            "records.queue_capacity",
            self.queue_capacity,
            (1..=1_000_000).contains(&self.queue_capacity),
            "between 1 and 1000000",
        )
    }
}
