//! The HTTP interactions endpoint: `citebot serve-http`. Discord POSTs each interaction (slash
//! command, autocomplete, button, context-menu command) to a public URL, the application's
//! "Interactions Endpoint URL", and takes the HTTP response as the interaction's response. No
//! gateway connection, no privileged intent, no shard: replicas behind any load balancer, each with
//! its own copy of the index.
//!
//! This is a second front end over the Discord adapter, not a second bot: every reply is built by
//! [`crate::discord::render`] and turned into Discord's JSON by [`crate::discord::reply`], exactly
//! as `citebot serve` does, so both modes answer identically (a test compares them byte for byte).
//! The only difference is the context-menu command: with no bot token the answer cannot be posted
//! as a reply to the chosen message, so it is the interaction's response, with a link to that
//! message above it.
//!
//! `POST /interactions`, in this order:
//! 1. both signature headers present, else 401; the body at most [`MAX_BODY_BYTES`], else 413;
//! 2. the Ed25519 signature and its timestamp ([`verify`]), on the raw bytes, else 401;
//! 3. JSON, else 400; a known interaction type, else 400 and a log line;
//! 4. the response: PONG; a message (type 4) or a deferral (type 5) whose answer follows by
//!    webhook when retrieval is slower than `discord.defer_after_ms`; autocomplete choices
//!    (type 8); for buttons, an update of the message (type 7) or a private message (type 4).
//!
//! Retrieval runs on Tokio's blocking pool from the [`Live`] handle, so hot reload works as in
//! `serve`. `GET /healthz`, `GET /readyz` and `GET /metrics` come from [`crate::metrics`].
//! Follow-ups (deferred answers, long sections) are the only requests this mode makes to Discord;
//! they go to `discord.api_url` and are authenticated by the interaction's token alone.

mod interactions;
pub mod verify;

pub use crate::config::HttpConfig;
pub use verify::{KeyError, MAX_AGE, MAX_FUTURE_SKEW, PUBLIC_KEY_ENV, PublicKey, Rejection};

use crate::discord::guard::Work;
use crate::discord::register::Api;
use crate::discord::{DiscordConfig, Flows, Retrieval};
use crate::feedback::{FeedbackSink, LogFeedback};
use crate::live::Live;
use crate::metrics::{Health, Metrics, Mode, Observed};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Largest request body accepted (Discord's interactions are a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why the endpoint could not start or stopped, by audience ([`HttpError::is_user_error`]).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A `[discord]` value is wrong; the message names the key.
    #[error("{0}")]
    Config(String),
    /// The address could not be listened on.
    #[error("could not listen on {addr} ({source}); set http.listen to a free address, e.g. 127.0.0.1:8080")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl HttpError {
    /// True when the user can fix it (configuration, address).
    pub fn is_user_error(&self) -> bool {
        matches!(self, HttpError::Config(_) | HttpError::Bind { .. })
    }
}

/// The endpoint with everything it depends on: `Endpoint::new(…).bind(addr).await?.run(shutdown)`,
/// the path `citebot serve-http` and the tests take alike.
pub struct Endpoint {
    discord: DiscordConfig,
    key: PublicKey,
    live: Arc<Live>,
    feedback: Arc<dyn FeedbackSink>,
    metrics: Arc<Metrics>,
}

impl Endpoint {
    /// An endpoint verifying with `key` and answering from `live`, logging feedback.
    pub fn new(discord: DiscordConfig, key: PublicKey, live: Arc<Live>) -> Endpoint {
        Endpoint { discord, key, live, feedback: Arc::new(LogFeedback), metrics: Arc::new(Metrics::new()) }
    }

    /// Sends 👍/👎 and question outcomes to `sink` (e.g. [`crate::records::Recorder`]).
    pub fn feedback(mut self, sink: Arc<dyn FeedbackSink>) -> Endpoint {
        self.feedback = sink;
        self
    }

    /// Reports to `metrics` (a fresh registry otherwise).
    pub fn metrics(mut self, metrics: Arc<Metrics>) -> Endpoint {
        self.metrics = metrics;
        self
    }

    /// Listens on `addr` (port 0: any free port).
    pub async fn bind(self, addr: SocketAddr) -> Result<Bound, HttpError> {
        self.discord.validate().map_err(|e| HttpError::Config(e.to_string()))?;
        let api = Api::new(&self.discord, None)
            .map_err(|e| HttpError::Config(format!("the configuration is invalid: {e}")))?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| HttpError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(HttpError::Serve)?;
        let health = Arc::new(Health::new(self.live.clone(), self.metrics.clone(), Mode::Http));
        let feedback = Arc::new(Observed::new(self.feedback, self.metrics.clone()));
        let state = Arc::new(Shared {
            flows: Flows::new(Retrieval::Live(self.live), self.discord, feedback),
            key: self.key,
            metrics: self.metrics,
            api,
            tasks: Arc::new(Work::default()),
        });
        Ok(Bound { listener, local, state, health })
    }
}

/// A bound endpoint, not yet serving.
pub struct Bound {
    listener: tokio::net::TcpListener,
    local: SocketAddr,
    state: Arc<Shared>,
    health: Arc<Health>,
}

impl Bound {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves until `shutdown` resolves; then `/readyz` says "draining", no new connection is
    /// taken, requests in progress finish, and follow-ups in flight get up to
    /// `discord.shutdown_grace_seconds`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), HttpError> {
        let Bound { listener, local, state, health } = self;
        let router = router(state.clone(), health.clone());
        tracing::info!(address = %local, "answering Discord interactions at POST /interactions");
        let drain = health.clone();
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                drain.drain();
                tracing::info!("shutting down: finishing the requests in progress");
            })
            .await
            .map_err(HttpError::Serve)?;
        let grace = Duration::from_secs(state.flows.config.shutdown_grace_seconds);
        if !state.tasks.wait_idle(grace).await {
            tracing::warn!(
                in_flight = state.tasks.running(),
                "follow-ups still in flight after {}s; stopping anyway",
                grace.as_secs()
            );
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// What every request handler shares.
struct Shared {
    /// What the bot does, shared with the gateway bot.
    flows: Flows,
    key: PublicKey,
    metrics: Arc<Metrics>,
    api: Api,
    /// Follow-ups still being sent, waited for at shutdown.
    tasks: Arc<Work>,
}

fn router(state: Arc<Shared>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/interactions", post(interaction).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)))
        .with_state(state)
        .merge(crate::metrics::routes(health))
}

/// A refusal: status, metric reason, short plain-text body.
fn refuse(state: &Shared, status: StatusCode, reason: &str, text: &'static str) -> Response {
    state.metrics.rejection(reason);
    (status, text).into_response()
}

async fn interaction(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (signature, timestamp) = (header("x-signature-ed25519"), header("x-signature-timestamp"));
    if signature.is_none() || timestamp.is_none() {
        tracing::debug!("an interaction request without signature headers was refused");
        return refuse(&state, StatusCode::UNAUTHORIZED, "missing_signature", "missing request signature\n");
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::debug!("an interaction request over {MAX_BODY_BYTES} bytes was refused");
            return refuse(&state, StatusCode::PAYLOAD_TOO_LARGE, "too_large", "request body too large\n");
        }
        Err(rejection) => {
            tracing::debug!("an interaction request body could not be read: {rejection}");
            return refuse(&state, StatusCode::BAD_REQUEST, "unreadable", "request body could not be read\n");
        }
    };
    if let Err(rejection) = verify::check(&state.key, signature, timestamp, &body, SystemTime::now()) {
        tracing::debug!(reason = ?rejection, "an interaction request was refused");
        return refuse(&state, StatusCode::UNAUTHORIZED, rejection.reason(), "invalid request signature\n");
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("a signed interaction is not valid JSON: {e}");
            return refuse(&state, StatusCode::BAD_REQUEST, "malformed", "malformed JSON\n");
        }
    };
    interactions::handle(&state, value).await
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let env = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load_with_env(Path::new("/nonexistent/config.toml"), false, env)
    }

    #[test]
    fn addresses_and_the_application_id_come_from_the_file_or_the_environment() {
        let c = load(&[]).unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((c.http.application_id, c.metrics.listen), (None, None));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = load(&[
            ("CITEBOT__HTTP__LISTEN", "0.0.0.0:8081"),
            ("CITEBOT__HTTP__APPLICATION_ID", "1000"),
            ("CITEBOT__METRICS__LISTEN", "127.0.0.1:9090"),
        ])
        .unwrap();
        assert_eq!(c.http.listen, "0.0.0.0:8081".parse().unwrap());
        assert_eq!(c.http.application_id, Some(crate::discord::Snowflake(1000)));
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9090".parse().unwrap()));
        let e = load(&[("CITEBOT__HTTP__LISTEN", "localhost")]).unwrap_err().to_string();
        assert!(e.contains("http.listen"), "{e}");
    }
}
