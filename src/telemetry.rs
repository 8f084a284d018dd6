//! Logging: one `tracing` subscriber writing to stderr, set up once at start.
//!
//! The level comes from `RUST_LOG` when set, else from the configuration's `log.level`.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber. Calling it again is harmless (the first one stays).
pub fn init(level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
