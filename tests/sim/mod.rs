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

pub mod payloads;
pub mod spec;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message as Frame;

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
    /// The bot closed a gateway connection with this code.
    Closed(Option<u16>),
    /// A gateway connection was opened.
    Connected,
}

struct Connection {
    to_bot: mpsc::UnboundedSender<Frame>,
    seq: Arc<AtomicU64>,
    identified: bool,
}

struct Inner {
    options: SimOptions,
    gateway_url: String,
    log: Mutex<Vec<(Instant, Entry)>>,
    changed: Notify,
    connections: Mutex<Vec<Connection>>,
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
            connections: Mutex::new(Vec::new()),
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

    /// Waits until `check` finds something in the log, or panics after `limit`.
    pub async fn wait_until<T>(&self, limit: Duration, what: &str, check: impl Fn(&Sim) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.inner.changed.notified();
            if let Some(found) = check(self) {
                return found;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
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

    /// Sends a dispatch event (`{"op":0,"s":n,"t":name,"d":d}`) on the latest identified connection.
    pub fn dispatch(&self, name: &str, d: Value) {
        let connections = self.inner.connections.lock().unwrap();
        let conn = connections.iter().rev().find(|c| c.identified).expect("no identified gateway connection");
        let s = conn.seq.fetch_add(1, Ordering::SeqCst) + 1;
        let frame = payloads::dispatch(name, s, d);
        conn.to_bot.send(Frame::Text(frame.to_string())).expect("gateway connection closed");
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
    let (to_bot, mut outbox) = mpsc::unbounded_channel::<Frame>();
    let seq = Arc::new(AtomicU64::new(0));
    let index = {
        let mut connections = inner.connections.lock().unwrap();
        connections.push(Connection { to_bot: to_bot.clone(), seq: seq.clone(), identified: false });
        connections.len() - 1
    };
    let _ = to_bot.send(Frame::Text(payloads::hello().to_string()));
    loop {
        tokio::select! {
            outgoing = outbox.recv() => match outgoing {
                Some(frame) => if sink.send(frame).await.is_err() { break },
                None => break,
            },
            incoming = source.next() => match incoming {
                Some(Ok(Frame::Text(text))) => {
                    let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                    inner.push(Entry::Gateway(v.clone()));
                    match v["op"].as_u64() {
                        Some(2) => {
                            let shard = v["d"]["shard"].clone();
                            let s = seq.fetch_add(1, Ordering::SeqCst) + 1;
                            let ready = payloads::ready(s, &inner.gateway_url, shard);
                            let _ = to_bot.send(Frame::Text(ready.to_string()));
                            inner.connections.lock().unwrap()[index].identified = true;
                            inner.changed.notify_waiters();
                        }
                        Some(1) => {
                            let _ = to_bot.send(Frame::Text(json!({"op": 11}).to_string()));
                        }
                        _ => {}
                    }
                }
                Some(Ok(Frame::Close(frame))) => {
                    inner.push(Entry::Closed(frame.map(|f| u16::from(f.code))));
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

async fn answer(inner: &Inner, r: &Request) -> Response {
    if inner.options.reject_token || r.authorization.as_deref() != Some(&format!("Bot {TOKEN}")) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "401: Unauthorized", "code": 0})))
            .into_response();
    }
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
            ok(payloads::message_echo(&inner.snowflake(), channel, &body))
        }
        ("PUT", ["channels", _, "messages", _, "reactions", _, "@me"]) => no_content(),
        ("POST", ["interactions", _, _, "callback"]) => no_content(),
        ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
            ok(payloads::message_echo("800", "0", &body))
        }
        ("DELETE", ["webhooks", _, _, "messages", "@original"]) => no_content(),
        ("POST", ["webhooks", _, _]) => ok(payloads::message_echo(&inner.snowflake(), "0", &body)),
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"message": "404: Not Found", "code": 0})))
            .into_response(),
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
