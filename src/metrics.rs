//! Prometheus metrics and health checks, shared by `citebot serve` (the gateway bot) and
//! `citebot serve-http` (the interactions endpoint), so both modes report the same names.
//!
//! [`Metrics`] holds one registry per process (not a global one, so tests can run several servers
//! side by side): questions by outcome (answered / declined / error) and entry point, the answer
//! latency histogram, the declines ratio, the index in service, votes, and the mode-specific
//! figures: gateway latency, connected shards and reconnects for `serve`; interactions by type and
//! rejected requests by reason for `serve-http`. [`Observed`] wraps a [`FeedbackSink`] ([`crate::feedback`]) so that
//! every question a front end answers is counted where it is already reported, without a second
//! call site. [`routes`] serves `GET /metrics` (Prometheus text format 0.0.4), `GET /healthz`
//! (the process is up) and `GET /readyz` (the index is open and, for the gateway bot, a shard is
//! connected; never while draining), with the corpus version in the body.
//!
//! It knows neither Discord nor Tantivy: front ends call it with plain values.

pub use crate::config::MetricsConfig;

use crate::feedback::{Asked, Feedback, FeedbackSink};
use crate::live::Live;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the answer latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// How a question ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Answered with a quote.
    Answered,
    /// Declined: the corpus does not cover it.
    Declined,
    /// Retrieval failed (the user got an apology).
    Error,
}

impl Outcome {
    /// The label value: `answered`, `declined` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Answered => "answered",
            Outcome::Declined => "declined",
            Outcome::Error => "error",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        encoder.write_str(self.as_str())
    }
}

/// Which server the metrics describe; decides what `/readyz` requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `citebot serve`: ready once a shard is connected.
    Gateway,
    /// `citebot serve-http`: ready once the index is open.
    Http,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QuestionLabels {
    entry_point: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IndexLabels {
    corpus_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ShardLabels {
    shard: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct VoteLabels {
    helpful: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct ShardState {
    connected: bool,
    ever_connected: bool,
}

/// The process's metrics. Cheap to update from any thread.
pub struct Metrics {
    registry: Registry,
    questions: Family<QuestionLabels, Counter>,
    answer_seconds: Histogram,
    declines_ratio: Gauge<f64, AtomicU64>,
    answered: AtomicU64,
    declined: AtomicU64,
    votes: Family<VoteLabels, Counter>,
    index_info: Family<IndexLabels, Gauge>,
    index_passages: Gauge,
    index_articles: Gauge,
    interactions: Family<KindLabels, Counter>,
    rejections: Family<ReasonLabels, Counter>,
    gateway_latency: Family<ShardLabels, Gauge<f64, AtomicU64>>,
    gateway_reconnects: Counter,
    shards_connected: Gauge,
    shards: Mutex<HashMap<u32, ShardState>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry with every metric at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("citebot");
        let m = Metrics {
            questions: Family::default(),
            answer_seconds: Histogram::new(LATENCY_BUCKETS),
            declines_ratio: Gauge::default(),
            answered: AtomicU64::new(0),
            declined: AtomicU64::new(0),
            votes: Family::default(),
            index_info: Family::default(),
            index_passages: Gauge::default(),
            index_articles: Gauge::default(),
            interactions: Family::default(),
            rejections: Family::default(),
            gateway_latency: Family::default(),
            gateway_reconnects: Counter::default(),
            shards_connected: Gauge::default(),
            shards: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "questions",
            "Questions by outcome (answered, declined, error) and entry point",
            m.questions.clone(),
        );
        registry.register(
            "answer_duration_seconds",
            "Time to retrieve and rank an answer",
            m.answer_seconds.clone(),
        );
        registry.register(
            "declines_ratio",
            "Declined questions over answered and declined ones since start",
            m.declines_ratio.clone(),
        );
        registry.register("votes", "Helpful / not helpful votes on answers", m.votes.clone());
        registry.register(
            "index_info",
            "The corpus version in service (value 1, version in the label)",
            m.index_info.clone(),
        );
        registry.register("index_passages", "Passages in the index in service", m.index_passages.clone());
        registry.register("index_articles", "Articles in the index in service", m.index_articles.clone());
        registry.register(
            "interactions",
            "Interactions received over HTTP by type (serve-http)",
            m.interactions.clone(),
        );
        registry.register(
            "interaction_rejections",
            "HTTP interaction requests refused, by reason (serve-http)",
            m.rejections.clone(),
        );
        registry.register(
            "gateway_latency_seconds",
            "Heartbeat round trip of each gateway shard (serve)",
            m.gateway_latency.clone(),
        );
        registry.register(
            "gateway_reconnects",
            "Times a shard connected again after having been connected (serve)",
            m.gateway_reconnects.clone(),
        );
        registry.register(
            "gateway_shards_connected",
            "Gateway shards connected now (serve)",
            m.shards_connected.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Counts one question's outcome.
    pub fn question(&self, entry_point: &str, outcome: Outcome) {
        self.questions.get_or_create(&QuestionLabels { entry_point: entry_point.to_string(), outcome }).inc();
        let counter = match outcome {
            Outcome::Answered => &self.answered,
            Outcome::Declined => &self.declined,
            Outcome::Error => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let answered = self.answered.load(Ordering::Relaxed) as f64;
        let declined = self.declined.load(Ordering::Relaxed) as f64;
        self.declines_ratio.set(declined / (answered + declined).max(1.0));
    }

    /// Records how long one answer took.
    pub fn answer_time(&self, elapsed: Duration) {
        self.answer_seconds.observe(elapsed.as_secs_f64());
    }

    /// Counts a 👍 (true) or 👎 (false).
    pub fn vote(&self, helpful: bool) {
        self.votes.get_or_create(&VoteLabels { helpful: helpful.to_string() }).inc();
    }

    /// Counts an interaction received over HTTP (`ping`, `command`, `autocomplete`, `component`).
    pub fn interaction(&self, kind: &str) {
        self.interactions.get_or_create(&KindLabels { kind: kind.to_string() }).inc();
    }

    /// Counts a refused HTTP interaction request (`signature`, `timestamp`, `too_large`, …).
    pub fn rejection(&self, reason: &str) {
        self.rejections.get_or_create(&ReasonLabels { reason: reason.to_string() }).inc();
    }

    /// A gateway shard connected (true) or lost its connection (false). A shard connecting again
    /// after having been connected counts as a reconnect.
    pub fn shard_connected(&self, shard: u32, connected: bool) {
        let mut shards = self.shards.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = shards.entry(shard).or_default();
        if connected && !state.connected && state.ever_connected {
            self.gateway_reconnects.inc();
        }
        state.connected = connected;
        state.ever_connected |= connected;
        let up = shards.values().filter(|s| s.connected).count();
        self.shards_connected.set(i64::try_from(up).unwrap_or(i64::MAX));
    }

    /// A gateway shard's heartbeat latency (None: not measured yet).
    pub fn shard_latency(&self, shard: u32, latency: Option<Duration>) {
        let labels = ShardLabels { shard };
        match latency {
            Some(l) => {
                self.gateway_latency.get_or_create(&labels).set(l.as_secs_f64());
            }
            None => {
                self.gateway_latency.remove(&labels);
            }
        }
    }

    /// Gateway shards connected now.
    pub fn shards_connected(&self) -> i64 {
        self.shards_connected.get()
    }

    /// Sets the index figures from the retriever in service.
    pub fn set_index(&self, corpus_version: &str, articles: usize, passages: usize) {
        let labels = IndexLabels { corpus_version: corpus_version.to_string() };
        if self.index_info.get(&labels).is_none() {
            self.index_info.clear();
        }
        self.index_info.get_or_create(&labels).set(1);
        self.index_articles.set(i64::try_from(articles).unwrap_or(i64::MAX));
        self.index_passages.set(i64::try_from(passages).unwrap_or(i64::MAX));
    }

    /// Everything, in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!("the metrics could not be encoded: {e}");
        }
        out
    }
}

/// A [`FeedbackSink`] that counts what passes through it, then hands everything on.
pub struct Observed {
    inner: Arc<dyn FeedbackSink>,
    metrics: Arc<Metrics>,
}

impl Observed {
    /// Counts into `metrics` and forwards to `inner`.
    pub fn new(inner: Arc<dyn FeedbackSink>, metrics: Arc<Metrics>) -> Observed {
        Observed { inner, metrics }
    }
}

impl FeedbackSink for Observed {
    fn record(&self, feedback: Feedback) {
        self.metrics.vote(feedback.helpful);
        self.inner.record(feedback);
    }

    fn outcome(&self, asked: &Asked, answer: &crate::answer::Answer, corpus_version: &str) {
        let outcome = if answer.answered { Outcome::Answered } else { Outcome::Declined };
        self.metrics.question(asked.entry_point, outcome);
        self.inner.outcome(asked, answer, corpus_version);
    }

    fn timed(&self, asked: &Asked, elapsed: Duration) {
        self.metrics.answer_time(elapsed);
        self.inner.timed(asked, elapsed);
    }

    fn failed(&self, asked: &Asked) {
        self.metrics.question(asked.entry_point, Outcome::Error);
        self.inner.failed(asked);
    }
}

/// What the health checks look at.
#[derive(Debug)]
pub struct Health {
    live: Arc<Live>,
    metrics: Arc<Metrics>,
    mode: Mode,
    draining: AtomicBool,
}

impl Health {
    /// Health of a server in `mode` answering from `live`.
    pub fn new(live: Arc<Live>, metrics: Arc<Metrics>, mode: Mode) -> Health {
        Health { live, metrics, mode, draining: AtomicBool::new(false) }
    }

    /// From now on `/readyz` says "draining" (503), so load balancers stop sending work.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// The metrics this server reports.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// `(ready, JSON body)` for `/readyz`.
    pub fn readiness(&self) -> (bool, serde_json::Value) {
        let r = self.live.current();
        let meta = r.index().meta();
        let status = if self.draining.load(Ordering::SeqCst) {
            "draining"
        } else if self.mode == Mode::Gateway && self.metrics.shards_connected() < 1 {
            "gateway not connected"
        } else {
            "ready"
        };
        let body = serde_json::json!({
            "status": status,
            "corpus_version": r.corpus_version(),
            "articles": meta.articles.len(),
            "passages": meta.passages,
        });
        (status == "ready", body)
    }
}

/// `GET /metrics`, `GET /healthz` and `GET /readyz`.
pub fn routes(health: Arc<Health>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn readyz(State(health): State<Arc<Health>>) -> Response {
    let (ready, body) = health.readiness();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(health): State<Arc<Health>>) -> Response {
    let r = health.live.current();
    let meta = r.index().meta();
    health.metrics.set_index(r.corpus_version(), meta.articles.len(), meta.passages);
    let text = health.metrics.encode();
    ([(header::CONTENT_TYPE, prometheus_client::encoding::prometheus_text::CONTENT_TYPE)], text)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, start: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(start))
    }

    #[test]
    fn questions_are_counted_by_outcome_and_entry_point_with_a_declines_ratio() {
        let m = Metrics::new();
        m.question("slash", Outcome::Answered);
        m.question("slash", Outcome::Answered);
        m.question("mention", Outcome::Declined);
        m.question("slash", Outcome::Error);
        m.answer_time(Duration::from_millis(3));
        let text = m.encode();
        for expected in [
            "citebot_questions_total{entry_point=\"slash\",outcome=\"answered\"} 2",
            "citebot_questions_total{entry_point=\"mention\",outcome=\"declined\"} 1",
            "citebot_questions_total{entry_point=\"slash\",outcome=\"error\"} 1",
            "citebot_answer_duration_seconds_count 1",
            "citebot_answer_duration_seconds_bucket{le=\"0.005\"} 1",
            "# TYPE citebot_answer_duration_seconds histogram",
        ] {
            assert!(text.contains(expected), "{expected} missing in\n{text}");
        }
        let ratio = line(&text, "citebot_declines_ratio ").unwrap();
        let value: f64 = ratio.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((value - 1.0 / 3.0).abs() < 1e-9, "{ratio}");
    }

    #[test]
    fn a_shard_connecting_again_is_a_reconnect() {
        let m = Metrics::new();
        m.shard_connected(0, false);
        m.shard_connected(0, true);
        m.shard_connected(1, true);
        assert_eq!(m.shards_connected(), 2);
        assert_eq!(m.gateway_reconnects.get(), 0, "first connections are not reconnects");
        m.shard_connected(0, false);
        assert_eq!(m.shards_connected(), 1);
        m.shard_connected(0, true);
        m.shard_connected(0, true);
        assert_eq!(m.gateway_reconnects.get(), 1);
        m.shard_latency(0, Some(Duration::from_millis(40)));
        m.shard_latency(1, None);
        let text = m.encode();
        assert!(text.contains("citebot_gateway_latency_seconds{shard=\"0\"} 0.04"), "{text}");
        assert!(!text.contains("shard=\"1\""), "{text}");
        assert!(text.contains("citebot_gateway_reconnects_total 1"), "{text}");
    }

    #[test]
    fn the_index_in_service_replaces_the_previous_one() {
        let m = Metrics::new();
        m.set_index("aaaa1111", 1, 10);
        m.set_index("bbbb2222", 2, 20);
        let text = m.encode();
        assert!(text.contains("citebot_index_info{corpus_version=\"bbbb2222\"} 1"), "{text}");
        assert!(!text.contains("aaaa1111"), "{text}");
        assert!(text.contains("citebot_index_passages 20"), "{text}");
    }
}
