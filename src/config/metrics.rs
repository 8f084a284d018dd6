//! `[metrics]`: where `citebot serve` exposes metrics and health checks (`crate::metrics`).

use serde::Deserialize;
use std::net::SocketAddr;

/// `[metrics]`: where `citebot serve` exposes metrics and health checks (`serve-http` serves
/// them on `http.listen`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MetricsConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz` for `citebot serve`; None: off.
    pub listen: Option<SocketAddr>,
}
