//! Gateway health for [`crate::metrics`]: which shards are connected, how often they reconnect, and
//! their heartbeat latency.
//!
//! [`Observer`] is a serenity event handler registered beside poise's framework; it sees every
//! shard stage change (connecting, handshake, identifying, connected, resuming, disconnected).
//! [`sample_latency`] reads the shard manager's runner table at an interval, since serenity
//! reports heartbeat latency there and not as an event. Neither answers anything.

use crate::metrics::Metrics;
use poise::serenity_prelude as serenity;
use serenity::{ConnectionStage, Context, EventHandler, ShardManager, ShardStageUpdateEvent};
use std::sync::Arc;
use std::time::Duration;

/// How often the heartbeat latency is read.
const LATENCY_EVERY: Duration = Duration::from_secs(10);

/// Counts shard connections and reconnects.
pub struct Observer {
    metrics: Arc<Metrics>,
}

impl Observer {
    /// Reports to `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Observer {
        Observer { metrics }
    }
}

#[poise::async_trait]
impl EventHandler for Observer {
    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let connected = matches!(event.new, ConnectionStage::Connected);
        self.metrics.shard_connected(event.shard_id.0, connected);
    }
}

/// Copies each shard's heartbeat latency into `metrics` every few seconds, until the shard manager
/// is gone.
pub async fn sample_latency(shard_manager: std::sync::Weak<ShardManager>, metrics: Arc<Metrics>) {
    let mut every = tokio::time::interval(LATENCY_EVERY);
    loop {
        every.tick().await;
        let Some(manager) = shard_manager.upgrade() else { return };
        let runners = manager.runners.lock().await;
        for (id, info) in runners.iter() {
            metrics.shard_latency(id.0, info.latency);
        }
    }
}
