//! `[http]`: the HTTP interactions endpoint (`citebot serve-http`, `citebot register-commands`).

use super::discord::Snowflake;
use serde::Deserialize;
use std::net::SocketAddr;

/// `[http]`: the interactions endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpConfig {
    /// Address `serve-http` listens on (an IP address and port; TLS belongs to a reverse proxy).
    pub listen: SocketAddr,
    /// The application id, for `register-commands` (None: asked from Discord).
    pub application_id: Option<Snowflake>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), application_id: None }
    }
}
