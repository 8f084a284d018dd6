//! citebot: answers questions by quoting the most relevant passage of a corpus of articles, verbatim
//! and with its source, or says the corpus does not cover it.
//!
//! The library holds everything; `main.rs` only turns [`cli::run`] into an exit code. See
//! ARCHITECTURE.md for the map.

#![warn(missing_docs)]

pub mod analysis;
pub mod answer;
pub mod app;
pub mod calibration;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod discord;
pub mod eval;
pub mod examples;
pub mod feedback;
pub mod http;
pub mod index;
pub mod live;
pub mod metrics;
pub mod question;
pub mod records;
pub mod reload;
pub mod render;
pub mod retrieval;
pub mod semantic;
pub mod startup;
pub mod synonyms;
pub mod telemetry;

/// A digest of this build's sources (every file under `src/`, made by `build.rs`): what a build
/// saved from its own analysis (example questions, a calibrated threshold) is reused only by a
/// build with the same digest.
pub const SOURCE_DIGEST: &str = env!("CITEBOT_SOURCE_DIGEST");
