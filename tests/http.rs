//! The HTTP interactions endpoint (`citebot serve-http`): started on 127.0.0.1:0 through
//! `Endpoint::bind(…).run(…)`, the path the command takes, and called with requests signed here with
//! ed25519-dalek. Every response body is checked against Discord's OpenAPI description and limits
//! (`sim::spec`), responses are compared with the gateway bot's for the same interactions, and the
//! follow-ups this mode sends go to the loopback Discord simulator (`sim`).

use crate::sim::payloads::{self, CHANNEL, MessageSpec, button_id};
use crate::sim::{self, BOT_ID, Sim, SimOptions, TOKEN};
use crate::util::Workspace;
use citebot::discord::{self, DiscordConfig, DiscordToken};
use citebot::feedback::{Asked, Feedback, FeedbackSink, LogFeedback};
use citebot::http::{Endpoint, HttpError, PublicKey};
use citebot::index::SearchIndex;
use citebot::live::Live;
use citebot::metrics::{Metrics, Observed};
use citebot::retrieval::{Retriever, Settings};
use citebot::synonyms::Synonyms;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MICRONEEDLING: &str = "does it help after microneedling?";
const UNCOVERED: &str = "does collagen serum cure baldness in dogs?";

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            citebot::telemetry::init("citebot=debug,serenity=info,poise=info");
        }
    });
}

fn index(corpus: &citebot::corpus::Corpus) -> Retriever {
    let index = SearchIndex::build_in_ram(corpus).expect("index a test corpus");
    let (synonyms, _) = Synonyms::parse(citebot::app::EMBEDDED_SYNONYMS);
    Retriever::new(index, synonyms, Settings::default())
}

/// The shipped article, indexed in memory once.
fn shipped() -> Arc<Retriever> {
    static R: OnceLock<Arc<Retriever>> = OnceLock::new();
    R.get_or_init(|| Arc::new(index(&citebot::app::embedded_corpus()))).clone()
}

fn corpus_of(name: &str, text: &str) -> citebot::corpus::Corpus {
    let (article, _) = citebot::corpus::parse_file(Path::new(name), name, text.as_bytes());
    citebot::corpus::Corpus {
        articles: article.into_iter().collect(),
        warnings: vec![],
        fingerprint: citebot::corpus::short_id(&[text]),
    }
}

/// One section long enough to need follow-up messages.
fn long_section() -> Retriever {
    let sentence = "Collagen peptides bind water at the surface of the skin and keep it supple. ";
    let paragraph = sentence.repeat(30);
    let text = format!(
        "---\ntitle: Long\n---\n\n# Long\n\nIntro about collagen.\n\n## Water\n\n{}\n",
        vec![paragraph; 12].join("\n\n")
    );
    let corpus = corpus_of("long.md", &text);
    let index = SearchIndex::build_in_ram(&corpus).expect("index the long article");
    Retriever::new(index, Synonyms::default(), Settings { min_confidence: 0.1, ..Settings::default() })
}

/// The application's key pair in these tests.
fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

fn public_key_hex() -> String {
    hex::encode(signing_key().verifying_key().to_bytes())
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn sign_with(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
    hex::encode(key.sign(&[timestamp.as_bytes(), body].concat()).to_bytes())
}

/// Feedback and outcomes the endpoint reported.
#[derive(Default)]
struct Seen {
    votes: Mutex<Vec<Feedback>>,
    outcomes: Mutex<Vec<(&'static str, bool)>>,
}

impl FeedbackSink for Seen {
    fn record(&self, feedback: Feedback) {
        self.votes.lock().unwrap().push(feedback);
    }

    fn outcome(&self, asked: &Asked, answer: &citebot::answer::Answer, _: &str) {
        self.outcomes.lock().unwrap().push((asked.entry_point, answer.answered));
    }
}

/// An HTTP response: status and body (JSON when it is JSON).
#[derive(Debug, Clone)]
struct Got {
    status: u16,
    body: Value,
    text: String,
}

/// A running endpoint.
struct Server {
    base: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), HttpError>>,
    metrics: Arc<Metrics>,
    seen: Arc<Seen>,
    /// Every interaction response body, checked against Discord's description at the end.
    responses: Mutex<Vec<Value>>,
}

fn config(tweak: impl FnOnce(&mut DiscordConfig)) -> DiscordConfig {
    let mut c = DiscordConfig {
        // Nothing listens there: a test that expects follow-ups points this at a simulator.
        api_url: "http://127.0.0.1:9".into(),
        cooldown_seconds: 0,
        defer_after_ms: 2500,
        ..DiscordConfig::default()
    };
    tweak(&mut c);
    c
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Discord's interaction webhooks (`/api/v10/webhooks/{application}/{token}…`), where this mode
/// sends deferred answers and follow-ups. Discord takes them without a bot token (the interaction
/// token is in the path; the OpenAPI description's security is `[{}, BotToken]`), but the gateway
/// simulator insists on one, so these tests use this stub. It can answer 404 ("Unknown Webhook", as
/// Discord does before it has seen the response a follow-up belongs to) to the first requests.
struct Hooks {
    url: String,
    seen: Arc<Mutex<Vec<sim::Request>>>,
    task: JoinHandle<()>,
}

impl Drop for Hooks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hooks {
    async fn start(not_found_first: usize) -> Hooks {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        use axum::response::IntoResponse;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
                let request = sim::Request {
                    method: method.to_string(),
                    path: uri.path().to_string(),
                    authorization: header("authorization"),
                    user_agent: header("user-agent"),
                    body: serde_json::from_slice(&body).ok(),
                };
                let webhook = request.path.starts_with("/api/v10/webhooks/");
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(request);
                    log.len()
                };
                if !webhook {
                    let body = json!({"message": "404: Not Found", "code": 0});
                    return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
                }
                if n <= not_found_first {
                    let body = json!({"message": "Unknown Webhook", "code": 10015});
                    return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
                }
                match method {
                    Method::DELETE => StatusCode::NO_CONTENT.into_response(),
                    _ => axum::Json(json!({"id": "800", "channel_id": CHANNEL})).into_response(),
                }
            }
        };
        let router = axum::Router::new().fallback(handler);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Hooks { url, seen, task }
    }

    fn requests(&self) -> Vec<sim::Request> {
        self.seen.lock().unwrap().clone()
    }

    /// The `n`-th request (from 0) matching, waiting up to 10 s.
    async fn wait(&self, method: &str, suffix: &str, n: usize) -> sim::Request {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = self.requests().into_iter().filter(|r| r.is(method, suffix)).nth(n) {
                return r;
            }
            assert!(Instant::now() < deadline, "no {method} …{suffix} #{n}; got {:#?}", self.requests());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Checks every body against Discord's description and limits.
    fn assert_valid(&self) {
        let requests = self.requests();
        assert!(requests.iter().all(|r| r.path.starts_with("/api/v10/webhooks/")), "{requests:#?}");
        sim::spec::assert_valid(&requests);
    }
}

impl Server {
    async fn start(tweak: impl FnOnce(&mut DiscordConfig)) -> Server {
        Server::start_with(Arc::new(Live::new(index(&citebot::app::embedded_corpus()))), config(tweak)).await
    }

    async fn start_with(live: Arc<Live>, config: DiscordConfig) -> Server {
        init_logs();
        let key = PublicKey::parse(&public_key_hex()).unwrap();
        let metrics = Arc::new(Metrics::new());
        let seen = Arc::new(Seen::default());
        let bound = Endpoint::new(config, key, live)
            .feedback(seen.clone())
            .metrics(metrics.clone())
            .bind("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", bound.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(async move {
            let _ = stopped.await;
        }));
        Server {
            base,
            client: client(),
            stop: Some(stop),
            task,
            metrics,
            seen,
            responses: Mutex::new(Vec::new()),
        }
    }

    /// POSTs `body` to /interactions with the given headers.
    async fn post(&self, body: Vec<u8>, headers: &[(&str, String)]) -> Got {
        let mut request = self.client.post(format!("{}/interactions", self.base)).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("the endpoint answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 && body["type"] != 1 {
            self.responses.lock().unwrap().push(body.clone());
        }
        Got { status, body, text }
    }

    /// POSTs `body` signed now with the application's key.
    async fn signed_bytes(&self, body: Vec<u8>) -> Got {
        let timestamp = now().to_string();
        let signature = sign_with(&signing_key(), &timestamp, &body);
        self.post(body, &[("X-Signature-Ed25519", signature), ("X-Signature-Timestamp", timestamp)]).await
    }

    /// An interaction, signed; the response must be 200 JSON.
    async fn send(&self, interaction: &Value) -> Value {
        let got = self.signed_bytes(serde_json::to_vec(interaction).unwrap()).await;
        assert_eq!(got.status, 200, "{}", got.text);
        got.body
    }

    async fn get(&self, path: &str) -> Got {
        let response = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        Got { status, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
    }

    /// Stops the endpoint (expecting a clean exit) and checks every response it gave.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the endpoint did not stop cleanly: {other:?}"),
        }
        let responses = self.responses.lock().unwrap().clone();
        assert_valid_responses(&responses);
    }
}

/// Checks interaction responses as the simulator checks the gateway bot's callbacks.
fn assert_valid_responses(responses: &[Value]) {
    let requests: Vec<sim::Request> = responses
        .iter()
        .map(|body| sim::Request {
            method: "POST".into(),
            path: "/api/v10/interactions/1/token/callback".into(),
            authorization: None,
            user_agent: None,
            body: Some(body.clone()),
        })
        .collect();
    sim::spec::assert_valid(&requests);
}

fn asker() -> Value {
    payloads::user("42", "asker", false)
}

fn description(message: &Value) -> String {
    message["embeds"][0]["description"].as_str().unwrap_or_default().to_string()
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong() {
    let server = Server::start(|_| {}).await;
    let got = server
        .signed_bytes(br#"{"type":1,"id":"1","application_id":"1000","token":"t","version":1}"#.to_vec())
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, json!({"type": 1}));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_recent_signature_are_refused_before_anything_is_parsed() {
    let server = Server::start(|_| {}).await;
    let key = signing_key();
    let body = serde_json::to_vec(&payloads::slash_ask("1", MICRONEEDLING, None, &asker())).unwrap();
    let at = |offset: i64| (now() + offset).to_string();
    let headers = |signature: String, timestamp: String| {
        vec![("X-Signature-Ed25519", signature), ("X-Signature-Timestamp", timestamp)]
    };
    let mut one_byte_changed = body.clone();
    let i = one_byte_changed.iter().position(|b| *b == b'?').unwrap();
    one_byte_changed[i] = b'!';
    let other_key = SigningKey::from_bytes(&[7u8; 32]);
    let garbage = b"{not json".to_vec();

    type Case<'a> = (&'a str, Vec<u8>, Vec<(&'a str, String)>, u16);
    let cases: Vec<Case> = vec![
        ("no headers", body.clone(), vec![], 401),
        ("no timestamp", body.clone(), vec![("X-Signature-Ed25519", sign_with(&key, &at(0), &body))], 401),
        ("no signature", body.clone(), vec![("X-Signature-Timestamp", at(0))], 401),
        ("another key", body.clone(), headers(sign_with(&other_key, &at(0), &body), at(0)), 401),
        ("one byte changed", one_byte_changed, headers(sign_with(&key, &at(0), &body), at(0)), 401),
        ("signature not hex", body.clone(), headers("xyz".repeat(40), at(0)), 401),
        ("older than five minutes", body.clone(), headers(sign_with(&key, &at(-301), &body), at(-301)), 401),
        ("from the future", body.clone(), headers(sign_with(&key, &at(60), &body), at(60)), 401),
        ("timestamp not a number", body.clone(), headers(sign_with(&key, "soon", &body), "soon".into()), 401),
        (
            "malformed and badly signed",
            garbage.clone(),
            headers(sign_with(&other_key, &at(0), &garbage), at(0)),
            401,
        ),
        ("malformed but signed", garbage.clone(), headers(sign_with(&key, &at(0), &garbage), at(0)), 400),
        (
            "signed, a few minutes old",
            body.clone(),
            headers(sign_with(&key, &at(-240), &body), at(-240)),
            200,
        ),
    ];
    for (what, body, headers, expected) in cases {
        let got = server.post(body, &headers).await;
        assert_eq!(got.status, expected, "{what}: {}", got.text);
        if expected == 401 {
            assert!(!got.text.contains("microneedling"), "{what}: nothing was answered");
        }
    }

    // The size limit: 64 KiB is accepted, one byte more is refused.
    let padded = |size: usize| {
        let head = r#"{"type":1,"id":"1","application_id":"1000","token":"t","version":1,"pad":""#;
        let mut b = head.as_bytes().to_vec();
        b.resize(size - 2, b'x');
        b.extend_from_slice(b"\"}");
        b
    };
    assert_eq!(server.signed_bytes(padded(64 * 1024)).await.status, 200);
    assert_eq!(server.signed_bytes(padded(64 * 1024 + 1)).await.status, 413);

    // Well signed and well formed, but not an interaction this bot handles.
    for (what, body) in [
        ("unknown type", json!({"type": 99, "id": "1"})),
        ("modal submit", json!({"type": 5, "id": "1"})),
        ("no type", json!({"id": "1"})),
        ("not an object", json!([1, 2])),
        ("a command missing its fields", json!({"type": 2, "id": "1"})),
    ] {
        let got = server.signed_bytes(serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(got.status, 400, "{what}: {}", got.text);
    }

    let text = server.get("/metrics").await.text;
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"bad_signature\"}"), 4.0);
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"timestamp\"}"), 3.0);
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"missing_signature\"}"), 3.0);
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"too_large\"}"), 1.0);
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"unknown_type\"}"), 4.0);
    assert_eq!(metric(&text, "citebot_interaction_rejections_total{reason=\"malformed\"}"), 2.0);
    assert_eq!(server.seen.outcomes.lock().unwrap().len(), 1, "only the valid request was answered");
    server.stop().await;
}

/// The gateway bot against the simulator, for comparison.
struct GatewayBot {
    sim: Sim,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), discord::ServeError>>,
}

impl GatewayBot {
    async fn start(
        config: DiscordConfig,
        retriever: Arc<Retriever>,
        feedback: Arc<dyn FeedbackSink>,
        metrics: Option<Arc<Metrics>>,
    ) -> GatewayBot {
        init_logs();
        let sim = Sim::start(SimOptions::default()).await;
        let config = DiscordConfig { api_url: sim.api_url.clone(), ..config };
        let (stop, stopped) = oneshot::channel::<()>();
        let token = DiscordToken::parse(TOKEN).unwrap();
        let task = tokio::spawn(async move {
            let mut server = discord::Server::new(config, token, retriever).feedback(feedback);
            if let Some(m) = metrics {
                server = server.metrics(m);
            }
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
        });
        sim.wait_ready().await;
        GatewayBot { sim, stop: Some(stop), task }
    }

    /// Dispatches an interaction and returns the bot's callback body.
    async fn send(&self, interaction: &Value) -> Value {
        let id = interaction["id"].as_str().unwrap();
        self.sim.dispatch("INTERACTION_CREATE", interaction.clone());
        self.sim.wait_request("POST", &format!("/interactions/{id}/token-{id}/callback"), 0).await.json()
    }

    async fn stop(mut self) -> Sim {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the gateway bot did not stop cleanly: {other:?}"),
        }
        sim::spec::assert_valid(&self.sim.requests());
        self.sim
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_interaction_gets_the_same_response_as_from_the_gateway_bot() {
    let retriever = shipped();
    let gateway = GatewayBot::start(config(|_| {}), retriever.clone(), Arc::new(LogFeedback), None).await;
    let live = Arc::new(Live::new(index(&citebot::app::embedded_corpus())));
    let http = Server::start_with(live, config(|_| {})).await;
    let id = || gateway.sim.id();

    let mut cases = vec![
        ("/ask", payloads::slash_ask(&id(), MICRONEEDLING, None, &asker())),
        ("/ask privately", payloads::slash_ask(&id(), MICRONEEDLING, Some(true), &asker())),
        ("/ask declined", payloads::slash_ask(&id(), UNCOVERED, None, &asker())),
        (
            "/ask with pings",
            payloads::slash_ask(&id(), "@everyone <@&555> collagen hydration", None, &asker()),
        ),
        ("autocomplete", payloads::autocomplete(&id(), "hydra", &asker())),
        ("autocomplete, nothing typed", payloads::autocomplete(&id(), "", &asker())),
        ("/topics", payloads::slash(&id(), "topics", vec![], &asker())),
        ("/source", payloads::slash(&id(), "source", vec![], &asker())),
    ];
    let answered = gateway.send(&payloads::slash_ask(&id(), MICRONEEDLING, None, &asker())).await;
    let message = payloads::message_echo(&id(), CHANNEL, &answered["data"]);
    let declined = gateway.send(&payloads::slash_ask(&id(), UNCOVERED, None, &asker())).await;
    let decline_message = payloads::message_echo(&id(), CHANNEL, &declined["data"]);
    let version = retriever.corpus_version().to_string();
    for label in ["Next passage", "Full section", "Helpful", "Not helpful"] {
        cases.push((label, payloads::button(&id(), &button_id(&message, label), &message, &asker())));
    }
    let (_, nearest) = payloads::buttons(&decline_message).into_iter().next().expect("a nearest section");
    cases.push(("nearest section", payloads::button(&id(), &nearest, &decline_message, &asker())));
    let stale = button_id(&message, "Full section").replace(&version, "00000000");
    cases.push(("stale button", payloads::button(&id(), &stale, &message, &asker())));
    cases.push(("foreign button", payloads::button(&id(), "someone-else:1", &message, &asker())));

    for (what, interaction) in &cases {
        let from_gateway = gateway.send(interaction).await;
        let from_http = http.send(interaction).await;
        assert_eq!(from_http, from_gateway, "{what}");
    }
    let next = http.send(&cases.iter().find(|(w, _)| *w == "Next passage").unwrap().1).await;
    assert_eq!(next["type"], 7, "Next passage edits the message");
    let votes = http.seen.votes.lock().unwrap().clone();
    assert_eq!(votes.iter().map(|v| v.helpful).collect::<Vec<_>>(), [true, false]);
    assert!(votes.iter().all(|v| v.user_id == 42 && v.guild_id == Some(500) && v.corpus_version == version));

    // register-commands sends what the gateway bot registers.
    let registered = gateway.sim.wait_request("PUT", &format!("/applications/{BOT_ID}/commands"), 0).await;
    assert_eq!(registered.json(), discord::register::definitions_json());
    gateway.stop().await;
    http.stop().await;
}

/// Both transports serve every command of the one table: each `Command::ALL` entry, sent to the
/// gateway bot and to the endpoint, gets an interaction response from each, never the notice
/// for a command this version does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_transports_serve_every_command_of_the_table() {
    use citebot::discord::flows::{Command, Kind};
    let gateway = GatewayBot::start(config(|_| {}), shipped(), Arc::new(LogFeedback), None).await;
    let http = Server::start(|_| {}).await;
    let target = MessageSpec::plain("706", MICRONEEDLING).to_json();
    for command in Command::ALL {
        let id = gateway.sim.id();
        let interaction = match (command, command.kind()) {
            (_, Kind::MessageMenu) => payloads::message_command(&id, &target, &asker()),
            (Command::Ask, _) => payloads::slash_ask(&id, MICRONEEDLING, None, &asker()),
            _ => payloads::slash(&id, command.name(), vec![], &asker()),
        };
        assert_eq!(interaction["data"]["name"], command.name(), "{command:?}");
        for (transport, response) in
            [("endpoint", http.send(&interaction).await), ("gateway", gateway.send(&interaction).await)]
        {
            assert!(
                matches!(response["type"].as_u64(), Some(4 | 5)),
                "{command:?} through the {transport}: {response}"
            );
            assert!(
                !response.to_string().contains("not known to this version"),
                "{command:?} through the {transport}: {response}"
            );
        }
    }
    gateway.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_menu_command_answers_in_its_response_with_a_link_to_the_message() {
    let retriever = shipped();
    let gateway = GatewayBot::start(config(|_| {}), retriever.clone(), Arc::new(LogFeedback), None).await;
    let http = Server::start(|_| {}).await;
    let target = MessageSpec::plain("703", &format!("<@{BOT_ID}> {MICRONEEDLING}")).to_json();
    let helper = payloads::user("43", "helper", false);
    let interaction = payloads::message_command(&gateway.sim.id(), &target, &helper);

    let response = http.send(&interaction).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"].as_u64().unwrap_or(0) & 64, 0, "the answer is public");
    assert_eq!(
        response["data"]["content"],
        format!("Answering https://discord.com/channels/{}/{CHANNEL}/703", payloads::GUILD)
    );
    // The gateway bot posts the same embed and buttons as a reply to the message.
    gateway.send(&interaction).await;
    let posted = gateway.sim.wait_request("POST", &format!("/channels/{CHANNEL}/messages"), 0).await.json();
    for key in ["embeds", "components", "allowed_mentions"] {
        assert_eq!(response["data"][key], posted[key], "{key}");
    }
    assert_eq!(http.seen.outcomes.lock().unwrap().as_slice(), [("context_menu", true)]);

    // A question the articles do not cover: declined privately.
    let target = MessageSpec::plain("704", UNCOVERED).to_json();
    let response = http.send(&payloads::message_command(&gateway.sim.id(), &target, &helper)).await;
    assert_eq!(response["data"]["flags"], 64);
    assert!(description(&response["data"]).starts_with("This isn't covered in"));
    // No text at all.
    let target = MessageSpec::plain("705", &format!("<@{BOT_ID}>")).to_json();
    let response = http.send(&payloads::message_command(&gateway.sim.id(), &target, &helper)).await;
    assert_eq!(response["data"]["content"], "That message has no text to answer.");
    gateway.stop().await;
    http.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_retrieval_is_deferred_and_the_answer_follows_through_the_webhook() {
    // The first edit is refused, as Discord refuses one that overtakes its deferral: tried again.
    let hooks = Hooks::start(1).await;
    let server = Server::start(|c| {
        c.api_url = hooks.url.clone();
        c.defer_after_ms = 0;
    })
    .await;

    let response = server.send(&payloads::slash_ask("701", MICRONEEDLING, None, &asker())).await;
    assert_eq!(response["type"], 5, "deferred");
    assert_eq!(response["data"]["flags"].as_u64().unwrap_or(0) & 64, 0, "publicly");
    let original = format!("/webhooks/{BOT_ID}/token-701/messages/@original");
    let edit = hooks.wait("PATCH", &original, 1).await;
    assert!(description(&edit.json()).contains("microneedling"), "{}", edit.json());
    assert_eq!(edit.authorization, None, "the interaction token is the only credential");
    assert_eq!(hooks.requests()[0].json(), edit.json(), "the refused edit was sent again");

    // A decline after a public deferral: the placeholder goes, a private follow-up comes.
    let response = server.send(&payloads::slash_ask("702", UNCOVERED, None, &asker())).await;
    assert_eq!(response["type"], 5);
    hooks.wait("DELETE", &format!("/webhooks/{BOT_ID}/token-702/messages/@original"), 0).await;
    let followup = hooks.wait("POST", &format!("/webhooks/{BOT_ID}/token-702"), 0).await;
    assert_eq!(followup.json()["flags"], 64);
    assert!(description(&followup.json()).starts_with("This isn't covered in"));

    // Asked privately: the deferral is private, and the edit replaces it.
    let response = server.send(&payloads::slash_ask("703", MICRONEEDLING, Some(true), &asker())).await;
    assert_eq!(response["data"]["flags"], 64);
    hooks.wait("PATCH", &format!("/webhooks/{BOT_ID}/token-703/messages/@original"), 0).await;

    server.stop().await;
    hooks.assert_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_section_continues_in_follow_up_messages() {
    let hooks = Hooks::start(0).await;
    let live = Arc::new(Live::new(long_section()));
    let server = Server::start_with(live, config(|c| c.api_url = hooks.url.clone())).await;
    let question = payloads::slash_ask("801", "do collagen peptides bind water?", None, &asker());
    let answer = server.send(&question).await;
    assert_eq!(answer["type"], 4, "{answer}");
    let message = payloads::message_echo("802", CHANNEL, &answer["data"]);
    let response =
        server.send(&payloads::button("803", &button_id(&message, "Full section"), &message, &asker())).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    assert!(response["data"]["embeds"].as_array().unwrap().len() >= 2);
    let followup = hooks.wait("POST", &format!("/webhooks/{BOT_ID}/token-803"), 0).await;
    assert_eq!(followup.json()["flags"], 64, "the rest of the section is private too");
    server.stop().await;
    hooks.assert_valid();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let live = Arc::new(Live::new(index(&citebot::app::embedded_corpus())));
    let server = Server::start_with(live.clone(), config(|_| {})).await;
    let health = server.get("/healthz").await;
    assert_eq!((health.status, health.text.as_str()), (200, "ok\n"));
    let ready = server.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["corpus_version"], live.current().corpus_version());
    assert!(ready.body["passages"].as_u64().unwrap() > 10);

    server.send(&payloads::slash_ask("1", MICRONEEDLING, None, &asker())).await;
    server.send(&payloads::slash_ask("2", MICRONEEDLING, None, &asker())).await;
    server.send(&payloads::slash_ask("3", UNCOVERED, None, &asker())).await;
    server.send(&payloads::autocomplete("4", "hyd", &asker())).await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert_eq!(metric(&text, "citebot_questions_total{entry_point=\"slash\",outcome=\"answered\"}"), 2.0);
    assert_eq!(metric(&text, "citebot_questions_total{entry_point=\"slash\",outcome=\"declined\"}"), 1.0);
    assert_eq!(metric(&text, "citebot_answer_duration_seconds_count"), 3.0);
    assert!((metric(&text, "citebot_declines_ratio") - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(metric(&text, "citebot_interactions_total{kind=\"command\"}"), 3.0);
    assert_eq!(metric(&text, "citebot_interactions_total{kind=\"autocomplete\"}"), 1.0);
    let version = live.current().corpus_version().to_string();
    assert_eq!(metric(&text, &format!("citebot_index_info{{corpus_version=\"{version}\"}}")), 1.0);
    assert!(text.contains("# TYPE citebot_answer_duration_seconds histogram"), "{text}");
    assert_eq!(server.metrics.encode().lines().count(), text.lines().count());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_corpus_reload_old_buttons_say_the_articles_changed_and_readiness_shows_the_new_version() {
    let live = Arc::new(Live::new(index(&citebot::app::embedded_corpus())));
    let server = Server::start_with(live.clone(), config(|_| {})).await;
    let before = server.send(&payloads::slash_ask("1", MICRONEEDLING, None, &asker())).await;
    let message = payloads::message_echo("2", CHANNEL, &before["data"]);
    let text = "---\ntitle: Aftercare\n---\n\n# Aftercare\n\n## After microneedling\n\nA gentle serum can help after microneedling: keep the skin clean and calm for a day.\n";
    live.replace(index(&corpus_of("aftercare.md", text)));

    let response =
        server.send(&payloads::button("3", &button_id(&message, "Full section"), &message, &asker())).await;
    assert!(
        response["data"]["content"].as_str().unwrap().contains("articles have been updated"),
        "{response}"
    );
    let after = server.send(&payloads::slash_ask("4", MICRONEEDLING, None, &asker())).await;
    assert!(description(&after["data"]).contains("keep the skin clean"), "{after}");
    let ready = server.get("/readyz").await;
    assert_eq!(ready.body["corpus_version"], live.current().corpus_version());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_on_cooldown_is_told_to_wait() {
    let server = Server::start(|c| c.cooldown_seconds = 30).await;
    let first = server.send(&payloads::slash_ask("1", MICRONEEDLING, None, &asker())).await;
    assert_eq!(first["type"], 4);
    let second = server.send(&payloads::slash_ask("2", MICRONEEDLING, None, &asker())).await;
    assert_eq!(second["data"]["flags"], 64);
    assert!(second["data"]["content"].as_str().unwrap().contains("try again in"), "{second}");
    let other = server
        .send(&payloads::slash_ask("3", MICRONEEDLING, None, &payloads::user("44", "other", false)))
        .await;
    assert!(description(&other["data"]).contains("microneedling"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_bot_reports_shards_and_questions_to_the_same_metrics() {
    let metrics = Arc::new(Metrics::new());
    let sink = Arc::new(Observed::new(Arc::new(LogFeedback), metrics.clone()));
    let gateway = GatewayBot::start(config(|_| {}), shipped(), sink, Some(metrics.clone())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metrics.shards_connected() < 1 {
        assert!(Instant::now() < deadline, "the shard never reported itself connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = Arc::new(Live::new(index(&citebot::app::embedded_corpus())));
    let health = citebot::metrics::Health::new(live, metrics.clone(), citebot::metrics::Mode::Gateway);
    assert!(health.readiness().0, "ready once a shard is connected");

    gateway.sim.dispatch("MESSAGE_CREATE", MessageSpec::mention(&gateway.sim.id(), MICRONEEDLING).event());
    gateway.sim.wait_request("POST", &format!("/channels/{CHANNEL}/messages"), 0).await;
    let id = gateway.sim.id();
    gateway.send(&payloads::slash_ask(&id, UNCOVERED, None, &asker())).await;
    let text = metrics.encode();
    assert_eq!(metric(&text, "citebot_questions_total{entry_point=\"mention\",outcome=\"answered\"}"), 1.0);
    assert_eq!(metric(&text, "citebot_questions_total{entry_point=\"slash\",outcome=\"declined\"}"), 1.0);
    assert_eq!(metric(&text, "citebot_answer_duration_seconds_count"), 2.0);
    assert_eq!(metric(&text, "citebot_gateway_shards_connected"), 1.0);
    assert_eq!(metric(&text, "citebot_gateway_reconnects_total"), 0.0);
    health.drain();
    assert!(!health.readiness().0, "not ready while draining");
    gateway.stop().await;
}

/// Runs the citebot binary in `ws` with `env` on top of a clean configuration environment.
fn citebot(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_citebot"));
    cmd.arg("--config").arg(ws.path("config.toml")).args(args).current_dir(ws.dir.path());
    for (k, _) in std::env::vars() {
        if k.starts_with("CITEBOT__") || k.starts_with("DISCORD_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

async fn output(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("citebot runs")).await.unwrap()
}

fn append_config(ws: &Workspace, extra: &str) {
    let config = std::fs::read_to_string(ws.path("config.toml")).unwrap();
    ws.write("config.toml", &format!("{config}{extra}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_commands_puts_the_gateway_bots_commands_globally_or_per_guild() {
    let sim = Sim::start(SimOptions::default()).await;
    let ws = Workspace::empty();
    append_config(&ws, &format!("[discord]\napi_url = {:?}\n", sim.api_url));

    let out = output(citebot(&ws, &["register-commands"], &[("DISCORD_TOKEN", TOKEN)])).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains(&format!("registered 5 command(s) globally for application {BOT_ID}")),
        "{stdout}"
    );
    let requests = sim.requests();
    assert!(
        requests[0].is("GET", "/oauth2/applications/@me"),
        "the application id is asked first: {requests:#?}"
    );
    let put = &requests[1];
    assert!(put.is("PUT", &format!("/applications/{BOT_ID}/commands")));
    assert_eq!(put.authorization.as_deref(), Some(format!("Bot {TOKEN}").as_str()));
    assert!(put.user_agent.as_deref().unwrap_or_default().starts_with("DiscordBot ("));
    assert_eq!(put.json(), discord::register::definitions_json());

    // Per guild, with the application id from the configuration: no lookup.
    append_config(&ws, "[http]\napplication_id = \"1000\"\n");
    let out = output(citebot(
        &ws,
        &["register-commands", "--guild", "4242", "--guild", "4343"],
        &[("DISCORD_TOKEN", TOKEN)],
    ))
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(sim.count("GET", "/oauth2/applications/@me"), 1);
    for guild in ["4242", "4343"] {
        let put =
            sim.wait_request("PUT", &format!("/applications/{BOT_ID}/guilds/{guild}/commands"), 0).await;
        assert_eq!(put.json(), discord::register::definitions_json());
    }
    sim::spec::assert_valid(&sim.requests());

    // No token, or a refused one: one line, exit 2, the token never shown.
    let out = output(citebot(&ws, &["register-commands"], &[])).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DISCORD_TOKEN"));
    let refusing = Sim::start(SimOptions { reject_token: true, ..SimOptions::default() }).await;
    let ws = Workspace::empty();
    append_config(&ws, &format!("[discord]\napi_url = {:?}\n", refusing.api_url));
    let out = output(citebot(&ws, &["register-commands"], &[("DISCORD_TOKEN", TOKEN)])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Discord rejected the token") && !stderr.contains(TOKEN), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_http_runs_until_sigterm_and_needs_the_public_key() {
    let ws = Workspace::shipped();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    append_config(
        &ws,
        &format!("[http]\nlisten = \"127.0.0.1:{port}\"\n[records]\ndir = {:?}\n", ws.path("data")),
    );

    for (value, expected) in [(None, "set DISCORD_PUBLIC_KEY"), (Some("abc"), "not an Ed25519 public key")] {
        let env: Vec<(&str, &str)> = value.map(|v| ("DISCORD_PUBLIC_KEY", v)).into_iter().collect();
        let out = output(citebot(&ws, &["serve-http"], &env)).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected) && stderr.lines().count() == 1, "{stderr}");
    }

    let key = public_key_hex();
    let mut child = citebot(&ws, &["serve-http"], &[("DISCORD_PUBLIC_KEY", &key)]).spawn().unwrap();
    let client = client();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "serve-http never became ready");
        assert!(child.try_wait().unwrap().is_none(), "serve-http exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let body = serde_json::to_vec(&payloads::slash_ask("1", MICRONEEDLING, None, &asker())).unwrap();
    let timestamp = now().to_string();
    let response = client
        .post(format!("{base}/interactions"))
        .header("X-Signature-Ed25519", sign_with(&signing_key(), &timestamp, &body))
        .header("X-Signature-Timestamp", timestamp)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert!(description(&answer["data"]).contains("microneedling"), "{answer}");

    let killed =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A bounded load test on loopback: 2,000 signed /ask requests from 32 concurrent clients. Every
/// one must be answered correctly (directly, or deferred and then finished through the webhook);
/// the latency figures are printed, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_two_thousand_signed_requests_from_32_clients_are_all_answered() {
    const REQUESTS: usize = 2000;
    const CLIENTS: usize = 32;
    let hooks = Hooks::start(0).await;
    let server = Arc::new(Server::start(|c| c.api_url = hooks.url.clone()).await);
    let questions =
        [MICRONEEDLING, "does collagen help hydration?", "what does collagen serum do?", UNCOVERED];
    let mut expected = Vec::new();
    for (n, q) in questions.iter().enumerate() {
        let response = server.send(&payloads::slash_ask(&format!("{}", 9000 + n), q, None, &asker())).await;
        assert_eq!(response["type"], 4, "{response}");
        expected.push(response);
    }
    let expected = Arc::new(expected);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (server, expected, next) = (server.clone(), expected.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= REQUESTS {
                    return results;
                }
                let which = n % expected.len();
                let id = format!("{}", 10_000 + n);
                let body =
                    serde_json::to_vec(&payloads::slash_ask(&id, questions[which], None, &asker())).unwrap();
                let timestamp = now().to_string();
                let signature = sign_with(&signing_key(), &timestamp, &body);
                let sent = Instant::now();
                let response = server
                    .client
                    .post(format!("{}/interactions", server.base))
                    .header("X-Signature-Ed25519", signature)
                    .header("X-Signature-Timestamp", timestamp)
                    .body(body)
                    .send()
                    .await;
                let elapsed = sent.elapsed();
                let outcome = match response {
                    Ok(r) if r.status() == 200 => {
                        match r.text().await.map(|t| serde_json::from_str::<Value>(&t)) {
                            Ok(Ok(v)) if v == expected[which] => "answered",
                            Ok(Ok(v)) if v["type"] == 5 => "deferred",
                            Ok(Ok(_)) => "wrong",
                            _ => "unreadable",
                        }
                    }
                    Ok(_) => "refused",
                    Err(_) => "lost",
                };
                results.push((id, which, outcome, elapsed));
            }
        }));
    }
    let mut results = Vec::new();
    for w in workers {
        results.extend(
            tokio::time::timeout(Duration::from_secs(300), w).await.expect("bounded in time").unwrap(),
        );
    }
    let wall = started.elapsed();
    assert_eq!(results.len(), REQUESTS, "none lost");
    let count = |what: &str| results.iter().filter(|r| r.2 == what).count();
    let (answered, deferred) = (count("answered"), count("deferred"));
    assert_eq!(
        answered + deferred,
        REQUESTS,
        "wrong {}, refused {}, unreadable {}, lost {}",
        count("wrong"),
        count("refused"),
        count("unreadable"),
        count("lost")
    );
    for (id, which, _, _) in results.iter().filter(|r| r.2 == "deferred") {
        // A decline after a public deferral is a private follow-up; an answer edits the deferral.
        let finished = if expected[*which]["data"]["flags"] == 64 {
            hooks.wait("POST", &format!("/webhooks/{BOT_ID}/token-{id}"), 0).await
        } else {
            hooks.wait("PATCH", &format!("/webhooks/{BOT_ID}/token-{id}/messages/@original"), 0).await
        };
        assert_eq!(description(&finished.json()), description(&expected[*which]["data"]));
    }
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.3).collect();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let text = server.get("/metrics").await.text;
    let retrieval = metric(&text, "citebot_answer_duration_seconds_sum")
        / metric(&text, "citebot_answer_duration_seconds_count");
    println!(
        "load test: {REQUESTS} signed requests from {CLIENTS} clients in {:.2} s ({:.0}/s): {answered} answered directly, {deferred} deferred; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; retrieval alone {:.1} ms on average",
        wall.as_secs_f64(),
        REQUESTS as f64 / wall.as_secs_f64(),
        at(0.50).as_secs_f64() * 1000.0,
        at(0.99).as_secs_f64() * 1000.0,
        latencies[latencies.len() - 1].as_secs_f64() * 1000.0,
        retrieval * 1000.0,
    );
    let total: f64 = ["answered", "declined"]
        .iter()
        .map(|o| metric(&text, &format!("citebot_questions_total{{entry_point=\"slash\",outcome=\"{o}\"}}")))
        .sum();
    assert_eq!(total as usize, REQUESTS + questions.len(), "every question was counted once");
    let server = Arc::try_unwrap(server).unwrap_or_else(|_| panic!("workers are done"));
    // Thousands of identical responses: check a sample rather than all.
    server.responses.lock().unwrap().truncate(50);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_exposes_metrics_and_health_on_metrics_listen() {
    let sim = Sim::start(SimOptions::default()).await;
    let ws = Workspace::shipped();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    append_config(
        &ws,
        &format!(
            "[discord]\napi_url = {:?}\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n[records]\ndir = {:?}\n",
            sim.api_url,
            ws.path("data")
        ),
    );
    let mut child = citebot(&ws, &["serve"], &[("DISCORD_TOKEN", TOKEN)]).spawn().unwrap();
    let client = client();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            break serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap();
        }
        assert!(Instant::now() < deadline, "serve never became ready");
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ready["status"], "ready", "a shard is connected");
    sim.dispatch("MESSAGE_CREATE", MessageSpec::mention(&sim.id(), MICRONEEDLING).event());
    sim.wait_request("POST", &format!("/channels/{CHANNEL}/messages"), 0).await;
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert_eq!(metric(&text, "citebot_questions_total{entry_point=\"mention\",outcome=\"answered\"}"), 1.0);
    assert_eq!(metric(&text, "citebot_gateway_shards_connected"), 1.0);
    let version = ready["corpus_version"].as_str().unwrap();
    assert_eq!(metric(&text, &format!("citebot_index_info{{corpus_version=\"{version}\"}}")), 1.0);

    let killed =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
