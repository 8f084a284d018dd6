//! A loopback Discord for the bot's tests: Discord's REST API (axum) and gateway
//! (tokio-tungstenite) on 127.0.0.1, port 0.
//!
//! It records every REST request (method, path, headers, JSON body) and every gateway frame the bot
//! sends, in one ordered log, and lets a test dispatch gateway events built by [`payloads`]. It
//! answers what serenity 0.12.5 and poise 0.7.1 ask for (see `shared/notes/discord-simulator.md`):
//! HELLO, READY after IDENTIFY, heartbeat ACKs, the gateway address, command registration echoed
//! as command objects, messages echoed as message objects, 204 for interaction callbacks. Anything
//! else is a 404 the tests can see. [`spec`] checks recorded bodies against Discord's OpenAPI
//! description.
//!
//! It also behaves like Discord where a fault makes the difference:
//! - **Sessions.** Events are dispatched into the current gateway session, numbered, and kept; a
//!   RESUME (op 6) with a known session replays the events after the bot's sequence number, then
//!   RESUMED. Events dispatched while the bot is away wait for that replay, as on Discord. A
//!   session invalidated with op 9 `false` cannot be resumed (op 9 `false` again).
//! - **Faults on demand.** REST: [`Sim::fail`] scripts 429s (per route or global, with
//!   `retry_after`, Discord's headers and body), 5xx statuses, or a stall (the request is processed
//!   but its response held past the bot's time limit). Gateway: op 7 RECONNECT ([`Sim::reconnect`]),
//!   op 9 ([`Sim::invalidate_session`]), an abrupt TCP reset ([`Sim::drop_connection`]), a close
//!   code ([`Sim::close_connection`], [`SimOptions::close_after_identify`]), withheld heartbeat
//!   ACKs ([`Sim::withhold_heartbeat_acks`]), raw frames ([`Sim::send_raw`]).
//! - **Discord's guarantees.** A rate limit, once announced, is enforced: a request that arrives
//!   before its `retry_after` has passed is answered 429 again and, unless it may have been on its
//!   way before the bot read the 429 ([`IN_FLIGHT`]), recorded as early ([`Sim::early_requests`]). A second response to one interaction is refused (400, code 40060);
//!   a message with an enforced nonce already used returns the first message instead of posting
//!   another; deleting a deleted response is a 404 (10008). [`Sim::accepted`] lists what Discord
//!   would show: each reply it accepted, once.

pub mod payloads;
pub mod spec;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The bot's user and application id in the simulated Discord.
pub const BOT_ID: &str = "1000";
/// The token tests give the bot (three dot-separated parts pass serenity's checks).
pub const TOKEN: &str = "MTAwMA.fake.token";

/// How the simulator behaves.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// Hold every `POST …/messages` response this long (a reply "in flight").
    pub message_delay: Duration,
    /// Answer every REST request with 401, as Discord does for a wrong token.
    pub reject_token: bool,
    /// Answer command registration with this instead of the commands (e.g. not an array).
    pub commands_response: Option<Value>,
    /// Shards recommended by `GET /gateway/bot` (default 1).
    pub shards: Option<u32>,
    /// The heartbeat interval HELLO announces (default Discord's 41.25 s).
    pub heartbeat_interval: Option<Duration>,
    /// Close every connection with this code right after IDENTIFY or RESUME (4004: authentication
    /// failed, 4013: invalid intents, 4014: disallowed intents).
    pub close_after_identify: Option<u16>,
    /// On RESUME, also send again this many events the bot had already received (at-least-once
    /// delivery, to prove that a replayed event is not answered twice).
    pub replay_overlap: u64,
}

/// One REST request as received.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`…
    pub method: String,
    /// The path, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The JSON body (None when empty).
    pub body: Option<Value>,
}

impl Request {
    /// The body, or an empty object.
    pub fn json(&self) -> Value {
        self.body.clone().unwrap_or(Value::Null)
    }

    /// True for `method` on a path ending with `suffix` (and starting with `/api/v10/`).
    pub fn is(&self, method: &str, suffix: &str) -> bool {
        self.method == method && self.path.starts_with("/api/v10/") && self.path.ends_with(suffix)
    }
}

/// Something that happened, in order.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A REST request arrived.
    Request(Request),
    /// The response to the request at this log index was sent.
    Responded(usize),
    /// A gateway frame from the bot (IDENTIFY, heartbeat, RESUME…), as JSON.
    Gateway(Value),
    /// The bot closed a gateway connection with this code (None: without a close frame).
    Closed(Option<u16>),
    /// A gateway connection was opened.
    Connected,
}

/// A REST fault to inject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// 429 with this `retry_after` (seconds); `global` is Discord's global limit, else the route's.
    RateLimit {
        /// Seconds to wait.
        retry_after: f64,
        /// The global limit (every request waits) rather than the route's.
        global: bool,
    },
    /// This status (500, 502, 503…) with a JSON error body; the request is not processed.
    Status(u16),
    /// The request is processed, but its response is held this long (past the bot's time limit).
    Stall(Duration),
}

/// A reply Discord accepted (what people would see), once per reply.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// When it was accepted.
    pub at: Instant,
    /// `message` (a channel message), `callback` (an interaction response), `edit`, `followup`,
    /// `delete` or `reaction`.
    pub kind: &'static str,
    /// The question it answers: the message replied to (channel messages), or the interaction.
    pub key: String,
    /// The request body.
    pub body: Value,
}

struct ScriptedFault {
    method: String,
    path_contains: String,
    times: usize,
    fault: Fault,
}

/// How long after a 429 a request on the limited route may still arrive without counting as
/// early: it may have been sent before the bot read the 429.
pub const IN_FLIGHT: Duration = Duration::from_millis(200);

/// A rate limit announced at `told`, running until `until`.
#[derive(Debug, Clone, Copy)]
struct Limit {
    told: Instant,
    until: Instant,
}

#[derive(Default)]
struct Limits {
    global: Option<Limit>,
    routes: HashMap<String, Limit>,
    early: Vec<String>,
}

#[derive(Default)]
struct Discord {
    acknowledged: HashSet<String>,
    deleted: HashSet<String>,
    nonces: HashMap<String, Value>,
    accepted: Vec<Accepted>,
}

enum Control {
    Frame(Frame),
    /// Reset the TCP connection without a close frame.
    Drop,
}

struct Connection {
    to_bot: mpsc::UnboundedSender<Control>,
    open: bool,
}

struct Session {
    id: String,
    history: Vec<(u64, String)>,
    next_seq: u64,
    connection: Option<usize>,
    resumable: bool,
}

#[derive(Default)]
struct Gateway {
    connections: Vec<Connection>,
    sessions: Vec<Session>,
    resumes: u64,
    replayed: u64,
}

impl Gateway {
    fn live(&self) -> Option<&mpsc::UnboundedSender<Control>> {
        let session = self.sessions.last()?;
        let c = &self.connections[session.connection?];
        c.open.then_some(&c.to_bot)
    }
}

struct Inner {
    options: SimOptions,
    gateway_url: String,
    log: Mutex<Vec<(Instant, Entry)>>,
    changed: Notify,
    gateway: Mutex<Gateway>,
    faults: Mutex<Vec<ScriptedFault>>,
    limits: Mutex<Limits>,
    discord: Mutex<Discord>,
    withhold_acks: AtomicBool,
    next_id: AtomicU64,
}

impl Inner {
    fn push(&self, entry: Entry) -> usize {
        let mut log = self.log.lock().unwrap();
        log.push((Instant::now(), entry));
        let index = log.len() - 1;
        drop(log);
        self.changed.notify_waiters();
        index
    }

    fn snowflake(&self) -> String {
        (900_000 + self.next_id.fetch_add(1, Ordering::SeqCst)).to_string()
    }

    fn accept(&self, kind: &'static str, key: &str, body: &Value) {
        let a = Accepted { at: Instant::now(), kind, key: key.to_string(), body: body.clone() };
        self.discord.lock().unwrap().accepted.push(a);
    }
}

/// A running simulator; stops when dropped.
pub struct Sim {
    /// `http://127.0.0.1:PORT`: the bot's `discord.api_url`.
    pub api_url: String,
    inner: Arc<Inner>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Sim {
    /// Starts a simulator on two loopback ports.
    pub async fn start(options: SimOptions) -> Sim {
        let rest = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind REST port");
        let gateway = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway port");
        let api_url = format!("http://{}", rest.local_addr().unwrap());
        let gateway_url = format!("ws://{}", gateway.local_addr().unwrap());
        let inner = Arc::new(Inner {
            options,
            gateway_url: gateway_url.clone(),
            log: Mutex::new(Vec::new()),
            changed: Notify::new(),
            gateway: Mutex::new(Gateway::default()),
            faults: Mutex::new(Vec::new()),
            limits: Mutex::new(Limits::default()),
            discord: Mutex::new(Discord::default()),
            withhold_acks: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        });
        let router = axum::Router::new().fallback(rest_handler).with_state(inner.clone());
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest, router).await;
        });
        let gw_inner = inner.clone();
        let gateway_task = tokio::spawn(async move {
            while let Ok((stream, _)) = gateway.accept().await {
                tokio::spawn(serve_gateway(gw_inner.clone(), stream));
            }
        });
        Sim { api_url, inner, tasks: vec![rest_task, gateway_task] }
    }

    /// Everything so far, in order.
    pub fn log(&self) -> Vec<Entry> {
        self.inner.log.lock().unwrap().iter().map(|(_, e)| e.clone()).collect()
    }

    /// Everything so far with the time each entry happened.
    pub fn timed_log(&self) -> Vec<(Instant, Entry)> {
        self.inner.log.lock().unwrap().clone()
    }

    /// The REST requests so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Request(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The gateway frames the bot sent with this opcode.
    pub fn frames(&self, op: u64) -> Vec<Value> {
        self.log()
            .into_iter()
            .filter_map(|e| match e {
                Entry::Gateway(v) if v["op"] == op => Some(v),
                _ => None,
            })
            .collect()
    }

    /// Waits until `check` finds something, or panics after `limit`.
    pub async fn wait_until<T>(&self, limit: Duration, what: &str, check: impl Fn(&Sim) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.inner.changed.notified();
            if let Some(found) = check(self) {
                return found;
            }
            // Woken by the log, or every 50 ms for state outside it.
            let wake = (tokio::time::Instant::now() + Duration::from_millis(50)).min(deadline);
            let _ = tokio::time::timeout_at(wake, changed).await;
            if tokio::time::Instant::now() >= deadline {
                if let Some(found) = check(self) {
                    return found;
                }
                panic!("timed out after {limit:?} waiting for {what}; log: {:#?}", self.requests());
            }
        }
    }

    /// The `n`-th (from 0) request matching `method` and the path `suffix`, waiting up to 10 s.
    pub async fn wait_request(&self, method: &str, suffix: &str, n: usize) -> Request {
        self.wait_until(Duration::from_secs(10), &format!("{method} …{suffix} #{n}"), |sim| {
            sim.requests().into_iter().filter(|r| r.is(method, suffix)).nth(n)
        })
        .await
    }

    /// Requests matching `method` and `suffix` so far.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        self.requests().iter().filter(|r| r.is(method, suffix)).count()
    }

    /// Waits for IDENTIFY and command registration.
    pub async fn wait_ready(&self) {
        self.wait_until(Duration::from_secs(15), "IDENTIFY and command registration", |sim| {
            let identified = !sim.frames(2).is_empty();
            let registered =
                sim.requests().iter().any(|r| r.method == "PUT" && r.path.ends_with("/commands"));
            (identified && registered).then_some(())
        })
        .await;
    }

    /// Sends a dispatch event (`{"op":0,"s":n,"t":name,"d":d}`) in the current session: at once
    /// when the bot is connected, else when it resumes. Returns its sequence number.
    pub fn dispatch(&self, name: &str, d: Value) -> u64 {
        let mut gateway = self.inner.gateway.lock().unwrap();
        let session = gateway.sessions.last_mut().expect("no gateway session (the bot never identified)");
        let s = session.next_seq;
        session.next_seq += 1;
        let frame = payloads::dispatch(name, s, d).to_string();
        session.history.push((s, frame.clone()));
        if let Some(to_bot) = gateway.live() {
            let _ = to_bot.send(Control::Frame(Frame::Text(frame)));
        }
        s
    }

    /// Sends `frame` as it is on the live connection (malformed payloads, unknown opcodes);
    /// false when the bot is not connected.
    pub fn send_raw(&self, frame: Frame) -> bool {
        let gateway = self.inner.gateway.lock().unwrap();
        gateway.live().is_some_and(|to_bot| to_bot.send(Control::Frame(frame)).is_ok())
    }

    /// Sends op 7 RECONNECT: the bot should reconnect and RESUME.
    pub fn reconnect(&self) -> bool {
        self.send_raw(Frame::Text(json!({"op": 7, "d": null}).to_string()))
    }

    /// Sends op 9 INVALID_SESSION; unless `resumable`, the session cannot be resumed any more.
    pub fn invalidate_session(&self, resumable: bool) -> bool {
        if !resumable && let Some(session) = self.inner.gateway.lock().unwrap().sessions.last_mut() {
            session.resumable = false;
        }
        self.send_raw(Frame::Text(json!({"op": 9, "d": resumable}).to_string()))
    }

    /// Resets the live connection's TCP socket: no close frame, no goodbye.
    pub fn drop_connection(&self) -> bool {
        let gateway = self.inner.gateway.lock().unwrap();
        gateway.live().is_some_and(|to_bot| to_bot.send(Control::Drop).is_ok())
    }

    /// Closes the live connection with `code`, as Discord does.
    pub fn close_connection(&self, code: u16) -> bool {
        self.send_raw(Frame::Close(Some(CloseFrame { code: CloseCode::from(code), reason: "sim".into() })))
    }

    /// Stops (or resumes) acknowledging heartbeats.
    pub fn withhold_heartbeat_acks(&self, withhold: bool) {
        self.inner.withhold_acks.store(withhold, Ordering::SeqCst);
    }

    /// Gateway connections opened so far.
    pub fn connections(&self) -> usize {
        self.inner.gateway.lock().unwrap().connections.len()
    }

    /// Sessions started (READY sent) so far.
    pub fn sessions(&self) -> usize {
        self.inner.gateway.lock().unwrap().sessions.len()
    }

    /// RESUMEs accepted so far, and events replayed by them.
    pub fn resumes(&self) -> (u64, u64) {
        let g = self.inner.gateway.lock().unwrap();
        (g.resumes, g.replayed)
    }

    /// True while the bot is connected to the current session.
    pub fn connected(&self) -> bool {
        self.inner.gateway.lock().unwrap().live().is_some()
    }

    /// Answers the next `times` requests with `method` whose path contains `path_contains` with
    /// `fault` (`usize::MAX`: all of them).
    pub fn fail(&self, method: &str, path_contains: &str, times: usize, fault: Fault) {
        self.inner.faults.lock().unwrap().push(ScriptedFault {
            method: method.to_string(),
            path_contains: path_contains.to_string(),
            times,
            fault,
        });
    }

    /// Requests that arrived while a rate limit they had been told about was still running.
    pub fn early_requests(&self) -> Vec<String> {
        self.inner.limits.lock().unwrap().early.clone()
    }

    /// The replies Discord accepted, in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.inner.discord.lock().unwrap().accepted.clone()
    }

    /// The number of accepted replies that `matching` selects (without copying them).
    pub fn count_accepted(&self, matching: impl Fn(&Accepted) -> bool) -> usize {
        self.inner.discord.lock().unwrap().accepted.iter().filter(|a| matching(a)).count()
    }

    /// A fresh id for a message or interaction.
    pub fn id(&self) -> String {
        self.inner.snowflake()
    }

    /// True once the bot closed a gateway connection.
    pub fn closed(&self) -> bool {
        self.log().iter().any(|e| matches!(e, Entry::Closed(_)))
    }
}

async fn serve_gateway(inner: Arc<Inner>, stream: tokio::net::TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    inner.push(Entry::Connected);
    let (mut sink, mut source) = ws.split();
    let (to_bot, mut outbox) = mpsc::unbounded_channel::<Control>();
    let index = {
        let mut gateway = inner.gateway.lock().unwrap();
        gateway.connections.push(Connection { to_bot: to_bot.clone(), open: true });
        gateway.connections.len() - 1
    };
    let interval = inner.options.heartbeat_interval.map_or(41_250, |d| d.as_millis() as u64);
    let _ = to_bot.send(Control::Frame(Frame::Text(payloads::hello(interval).to_string())));
    let mut reset = false;
    loop {
        tokio::select! {
            outgoing = outbox.recv() => match outgoing {
                Some(Control::Frame(frame)) => if sink.send(frame).await.is_err() { break },
                Some(Control::Drop) => {
                    reset = true;
                    break;
                }
                None => break,
            },
            incoming = source.next() => match incoming {
                Some(Ok(Frame::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    inner.push(Entry::Gateway(v.clone()));
                    match v["op"].as_u64() {
                        Some(2) => identify(&inner, index, &v, &to_bot),
                        Some(6) => resume(&inner, index, &v, &to_bot),
                        Some(1) if !inner.withhold_acks.load(Ordering::SeqCst) => {
                            let _ = to_bot.send(Control::Frame(Frame::Text(json!({"op": 11}).to_string())));
                        }
                        _ => {}
                    }
                }
                Some(Ok(Frame::Close(frame))) => {
                    inner.push(Entry::Closed(frame.map(|f| u16::from(f.code))));
                    // Complete the closing handshake: the bot waits for it.
                    let _ = sink.flush().await;
                    break;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    inner.push(Entry::Closed(None));
                    break;
                }
            },
        }
    }
    {
        let mut gateway = inner.gateway.lock().unwrap();
        gateway.connections[index].open = false;
        for session in &mut gateway.sessions {
            if session.connection == Some(index) {
                session.connection = None;
            }
        }
    }
    if reset && let Ok(ws) = sink.reunite(source) {
        // Linger 0: the socket is reset (RST), not closed in order. (Deprecated because a non-zero
        // linger blocks the thread on drop; zero does not.)
        #[allow(deprecated)]
        let _ = ws.get_ref().set_linger(Some(Duration::ZERO));
        drop(ws);
    }
    inner.changed.notify_waiters();
}

fn close_now(inner: &Inner, to_bot: &mpsc::UnboundedSender<Control>) -> bool {
    let Some(code) = inner.options.close_after_identify else { return false };
    let reason = match code {
        4004 => "Authentication failed.",
        4013 => "Invalid intent(s).",
        4014 => "Disallowed intent(s).",
        _ => "Closed by the simulator.",
    };
    let _ = to_bot.send(Control::Frame(Frame::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))));
    true
}

fn identify(inner: &Inner, index: usize, v: &Value, to_bot: &mpsc::UnboundedSender<Control>) {
    if close_now(inner, to_bot) {
        return;
    }
    let mut gateway = inner.gateway.lock().unwrap();
    let number = gateway.sessions.len() + 1;
    let id = format!("sim-session-{number}");
    let ready = payloads::ready(1, &inner.gateway_url, v["d"]["shard"].clone(), &id).to_string();
    let _ = to_bot.send(Control::Frame(Frame::Text(ready.clone())));
    gateway.sessions.push(Session {
        id,
        history: vec![(1, ready)],
        next_seq: 2,
        connection: Some(index),
        resumable: true,
    });
    drop(gateway);
    inner.changed.notify_waiters();
}

fn resume(inner: &Inner, index: usize, v: &Value, to_bot: &mpsc::UnboundedSender<Control>) {
    if close_now(inner, to_bot) {
        return;
    }
    let d = &v["d"];
    let text = |f: &str| d[f].as_str().unwrap_or_default().to_string();
    let seq = d["seq"].as_u64().unwrap_or(0);
    let mut gateway = inner.gateway.lock().unwrap();
    let found = gateway
        .sessions
        .iter()
        .position(|s| s.id == text("session_id") && s.resumable)
        .filter(|_| text("token").ends_with(TOKEN));
    let Some(at) = found else {
        let _ = to_bot.send(Control::Frame(Frame::Text(json!({"op": 9, "d": false}).to_string())));
        return;
    };
    let overlap = inner.options.replay_overlap;
    let session = &mut gateway.sessions[at];
    session.connection = Some(index);
    let mut replayed = 0;
    for (s, frame) in &session.history {
        if *s + overlap > seq {
            let _ = to_bot.send(Control::Frame(Frame::Text(frame.clone())));
            replayed += 1;
        }
    }
    let s = session.next_seq;
    session.next_seq += 1;
    let resumed = payloads::dispatch("RESUMED", s, json!({})).to_string();
    session.history.push((s, resumed.clone()));
    let _ = to_bot.send(Control::Frame(Frame::Text(resumed)));
    gateway.resumes += 1;
    gateway.replayed += replayed;
    drop(gateway);
    inner.changed.notify_waiters();
}

async fn rest_handler(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let json_body = if body.is_empty() { None } else { serde_json::from_slice::<Value>(&body).ok() };
    let request = Request {
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: header("authorization"),
        user_agent: header("user-agent"),
        body: json_body.clone(),
    };
    let index = inner.push(Entry::Request(request.clone()));
    let response = answer(&inner, &request).await;
    inner.push(Entry::Responded(index));
    response
}

fn error(status: u16, code: u64, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({"message": message, "code": code}))).into_response()
}

/// Discord's 429: headers (whole seconds in `Retry-After`, precise ones in
/// `X-RateLimit-Reset-After`) and the JSON body with the precise `retry_after`.
fn too_many_requests(retry_after: f64, global: bool) -> Response {
    let body = json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global, "code": 0});
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = response.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        h.insert(k, v.parse().unwrap());
    };
    set(h, "retry-after", (retry_after.ceil() as u64).to_string());
    set(h, "x-ratelimit-reset-after", format!("{retry_after:.3}"));
    set(h, "x-ratelimit-scope", if global { "global" } else { "user" }.to_string());
    if global {
        set(h, "x-ratelimit-global", "true".to_string());
    } else {
        set(h, "x-ratelimit-limit", "5".to_string());
        set(h, "x-ratelimit-remaining", "0".to_string());
        set(h, "x-ratelimit-bucket", "sim-bucket".to_string());
    }
    response
}

/// The route a per-route limit applies to: method and path.
fn route_of(r: &Request) -> String {
    format!("{} {}", r.method, r.path)
}

async fn answer(inner: &Inner, r: &Request) -> Response {
    if inner.options.reject_token || r.authorization.as_deref() != Some(&format!("Bot {TOKEN}")) {
        return error(401, 0, "401: Unauthorized");
    }
    let now = Instant::now();
    {
        let mut limits = inner.limits.lock().unwrap();
        let route = route_of(r);
        let running = |l: &Limit| l.until > now;
        let global = limits.global.filter(running);
        if let Some(limit) = global.or(limits.routes.get(&route).copied().filter(running)) {
            if now > limit.told + IN_FLIGHT {
                limits.early.push(format!("{route} {:?} early", limit.until - now));
            }
            return too_many_requests((limit.until - now).as_secs_f64(), global.is_some());
        }
    }
    let fault = {
        let mut faults = inner.faults.lock().unwrap();
        let found = faults
            .iter_mut()
            .find(|f| f.times > 0 && f.method == r.method && r.path.contains(&f.path_contains));
        found.map(|f| {
            f.times -= 1;
            f.fault
        })
    };
    let mut stall = None;
    match fault {
        Some(Fault::RateLimit { retry_after, global }) => {
            let limit = Limit { told: now, until: now + Duration::from_secs_f64(retry_after) };
            let mut limits = inner.limits.lock().unwrap();
            if global {
                limits.global = Some(limit);
            } else {
                limits.routes.insert(route_of(r), limit);
            }
            return too_many_requests(retry_after, global);
        }
        Some(Fault::Status(status)) => return error(status, 0, &format!("{status}: simulated failure")),
        Some(Fault::Stall(d)) => stall = Some(d),
        None => {}
    }
    let response = process(inner, r).await;
    if let Some(d) = stall {
        tokio::time::sleep(d).await;
    }
    response
}

/// The interaction id in a webhook token (`token-{id}`, as the payloads make them).
fn interaction_of(token: &str) -> String {
    token.trim_start_matches("token-").to_string()
}

async fn process(inner: &Inner, r: &Request) -> Response {
    let segments: Vec<&str> = r.path.trim_start_matches("/api/v10/").split('/').collect();
    let body = r.json();
    let ok = |v: Value| (StatusCode::OK, axum::Json(v)).into_response();
    let no_content = || StatusCode::NO_CONTENT.into_response();
    match (r.method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) => ok(json!({"url": inner.gateway_url})),
        ("GET", ["gateway", "bot"]) => {
            ok(payloads::gateway_bot(&inner.gateway_url, inner.options.shards.unwrap_or(1)))
        }
        ("GET", ["oauth2", "applications", "@me"]) => ok(payloads::application()),
        ("PUT", ["applications", _, "commands"]) | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            let guild =
                segments.get(2).filter(|s| **s == "guilds").and(segments.get(3)).map(|g| g.to_string());
            match &inner.options.commands_response {
                Some(v) => ok(v.clone()),
                None => ok(payloads::commands_echo(&body, guild.as_deref(), || inner.snowflake())),
            }
        }
        ("POST", ["channels", channel, "messages"]) => {
            if !inner.options.message_delay.is_zero() {
                tokio::time::sleep(inner.options.message_delay).await;
            }
            let nonce = body["nonce"]
                .as_str()
                .map(str::to_string)
                .or_else(|| body["nonce"].as_u64().map(|n| n.to_string()));
            let enforced = body["enforce_nonce"] == json!(true);
            let mut discord = inner.discord.lock().unwrap();
            if enforced && let Some(first) = nonce.as_ref().and_then(|n| discord.nonces.get(n)) {
                return ok(first.clone());
            }
            let message = payloads::message_echo(&inner.snowflake(), channel, &body);
            if enforced && let Some(n) = nonce {
                discord.nonces.insert(n, message.clone());
            }
            drop(discord);
            let key = body["message_reference"]["message_id"].as_str().unwrap_or_default().to_string();
            inner.accept("message", &key, &body);
            ok(message)
        }
        ("PUT", ["channels", _, "messages", message, "reactions", _, "@me"]) => {
            inner.accept("reaction", message, &body);
            no_content()
        }
        ("POST", ["interactions", id, _, "callback"]) => {
            if !inner.discord.lock().unwrap().acknowledged.insert(id.to_string()) {
                return error(400, 40060, "Interaction has already been acknowledged.");
            }
            inner.accept("callback", id, &body);
            no_content()
        }
        ("PATCH", ["webhooks", _, token, "messages", "@original"]) => {
            inner.accept("edit", &interaction_of(token), &body);
            ok(payloads::message_echo("800", "0", &body))
        }
        ("DELETE", ["webhooks", _, token, "messages", "@original"]) => {
            if !inner.discord.lock().unwrap().deleted.insert(token.to_string()) {
                return error(404, 10008, "Unknown Message");
            }
            inner.accept("delete", &interaction_of(token), &body);
            no_content()
        }
        ("POST", ["webhooks", _, token]) => {
            inner.accept("followup", &interaction_of(token), &body);
            ok(payloads::message_echo(&inner.snowflake(), "0", &body))
        }
        _ => error(404, 0, "404: Not Found"),
    }
}

impl Sim {
    /// Requests the simulator did not know (answered 404): none is expected.
    pub fn unknown_routes(&self) -> Vec<String> {
        let log = self.inner.log.lock().unwrap();
        log.iter()
            .filter_map(|(_, e)| match e {
                Entry::Request(r) if !known_route(r) => Some(format!("{} {}", r.method, r.path)),
                _ => None,
            })
            .collect()
    }
}

fn known_route(r: &Request) -> bool {
    let segments: Vec<&str> = r.path.trim_start_matches("/api/v10/").split('/').collect();
    matches!(
        (r.method.as_str(), segments.as_slice()),
        ("GET", ["gateway"])
            | ("GET", ["gateway", "bot"])
            | ("GET", ["oauth2", "applications", "@me"])
            | ("PUT", ["applications", _, "commands"])
            | ("PUT", ["applications", _, "guilds", _, "commands"])
            | ("POST", ["channels", _, "messages"])
            | ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"])
            | ("POST", ["interactions", _, _, "callback"])
            | ("PATCH", ["webhooks", _, _, "messages", "@original"])
            | ("DELETE", ["webhooks", _, _, "messages", "@original"])
            | ("POST", ["webhooks", _, _])
    )
}
