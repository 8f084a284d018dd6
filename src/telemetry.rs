//! Logging: one `tracing` subscriber writing to stderr, set up once at start.
//!
//! The level comes from `RUST_LOG` when set, else from the configuration's `log.level`.
//!
//! Whatever the level, no line may carry a secret. The one library found to log one is
//! tungstenite (the WebSocket client under serenity): at TRACE it dumps every frame's payload in
//! hex, and the gateway's IDENTIFY and RESUME frames hold the bot token. Its TRACE lines are
//! therefore dropped even under `RUST_LOG=trace`; a test runs `citebot serve` at that level and
//! looks for the token, as text, hex and bytes, in every line.

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// Installs the subscriber. Calling it again is harmless (the first one stays).
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(filter_fn(|meta| !dumps_secrets(meta)))
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false))
        .try_init();
}

/// True for log lines that may show the bot token: tungstenite's frame dumps.
fn dumps_secrets(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::TRACE
        && ["tungstenite", "tokio_tungstenite"]
            .iter()
            .any(|t| meta.target() == *t || meta.target().starts_with(&format!("{t}::")))
}
