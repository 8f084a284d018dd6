//! The Discord bot under faults, load and hostile input, against the loopback simulator (`sim`):
//! REST 429s (per route and global), 5xx and stalls; gateway RECONNECT, INVALID_SESSION, dropped
//! connections, missing heartbeat ACKs, fatal close codes and unreadable payloads; a burst of
//! questions with a reconnect in the middle; Markdown and mention injection; and the token at the
//! most verbose log level. What counts is what Discord would show: `Sim::accepted` lists every reply
//! the simulated Discord accepted, so "exactly once" is checked where users would see it.
//!
//! `RELIABILITY.md` lists each fault, what the bot does, and the test here that shows it.

use crate::sim::payloads::{self, CHANNEL, MessageSpec};
use crate::sim::{self, Accepted, Entry, Fault, Sim, SimOptions, TOKEN};
use citebot::discord::{self, DeliveryCounts, DeliveryStats, DiscordConfig, DiscordToken, ServeError};
use citebot::index::SearchIndex;
use citebot::retrieval::{Retriever, Settings};
use citebot::synonyms::Synonyms;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;

const QUESTION: &str = "does it help after microneedling?";
/// A question the shipped article does not cover (a decline).
const UNCOVERED: &str = "does collagen serum cure baldness in dogs?";

fn shipped() -> Arc<Retriever> {
    static R: OnceLock<Arc<Retriever>> = OnceLock::new();
    R.get_or_init(|| Arc::new(index(&citebot::app::embedded_corpus(), Settings::default()))).clone()
}

fn index(corpus: &citebot::corpus::Corpus, settings: Settings) -> Retriever {
    let index = SearchIndex::build_in_ram(corpus).expect("index a test corpus");
    let (synonyms, _) = Synonyms::parse(citebot::app::EMBEDDED_SYNONYMS);
    Retriever::new(index, synonyms, settings)
}

fn token() -> DiscordToken {
    DiscordToken::parse(TOKEN).expect("a well-formed test token")
}

/// Short limits so that a fault costs the tests little time: 2 s a request, two retries.
fn fast(sim: &Sim) -> DiscordConfig {
    DiscordConfig {
        api_url: sim.api_url.clone(),
        cooldown_seconds: 0,
        request_timeout_ms: 2000,
        request_retries: 2,
        ..DiscordConfig::default()
    }
}

/// A running bot and its simulator.
struct Running {
    sim: Sim,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    stats: Arc<DeliveryStats>,
}

impl Running {
    async fn start(options: SimOptions, tweak: impl FnOnce(&mut DiscordConfig)) -> Running {
        Running::start_with(options, shipped(), tweak).await
    }

    async fn start_with(
        options: SimOptions,
        retriever: Arc<Retriever>,
        tweak: impl FnOnce(&mut DiscordConfig),
    ) -> Running {
        let sim = Sim::start(options).await;
        let mut config = fast(&sim);
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = discord::Server::new(config, token(), retriever);
        let stats = server.stats();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        sim.wait_ready().await;
        Running { sim, stop: Some(stop), task, stats }
    }

    /// Stops the bot (expecting a clean exit), checks every body it sent against Discord's API
    /// description and that no rate limit was jumped, and returns the simulator.
    async fn stop(mut self) -> Sim {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the bot did not stop cleanly: {other:?}"),
        }
        sim::spec::assert_valid(&self.sim.requests());
        assert_eq!(self.sim.unknown_routes(), Vec::<String>::new());
        assert_eq!(self.sim.early_requests(), Vec::<String>::new(), "a request jumped a rate limit");
        self.sim
    }

    fn counts(&self) -> DeliveryCounts {
        self.stats.snapshot()
    }

    /// A mention in `channel`; returns the message id.
    fn mention_in(&self, channel: &str, text: &str) -> String {
        let id = self.sim.id();
        let mut m = MessageSpec::mention(&id, text);
        m.channel = channel.to_string();
        self.sim.dispatch("MESSAGE_CREATE", m.event());
        id
    }

    fn mention(&self, text: &str) -> String {
        self.mention_in(CHANNEL, text)
    }

    /// `/ask question:text`; returns the interaction id.
    fn slash(&self, text: &str) -> String {
        let id = self.sim.id();
        self.sim.dispatch("INTERACTION_CREATE", payloads::slash_ask(&id, text, None, &asker()));
        id
    }

    /// Waits for the `n`-th (from 0) accepted reply of `kind` to the question `key`.
    async fn reply(&self, kind: &str, key: &str, n: usize) -> Accepted {
        self.sim
            .wait_until(Duration::from_secs(15), &format!("{kind} #{n} for {key}"), |sim| {
                sim.accepted().into_iter().filter(|a| a.kind == kind && a.key == key).nth(n)
            })
            .await
    }

    /// Accepted replies of `kind` to `key` so far.
    fn replies(&self, kind: &str, key: &str) -> usize {
        self.sim.accepted().iter().filter(|a| a.kind == kind && a.key == key).count()
    }

    /// Waits until `check` holds on the delivery counts.
    async fn counts_until(&self, what: &str, check: impl Fn(&DeliveryCounts) -> bool) -> DeliveryCounts {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let c = self.counts();
            if check(&c) {
                return c;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; counts: {c:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn asker() -> Value {
    payloads::user("42", "asker", false)
}

/// When the response to the `n`-th request matching `method` and `suffix` was sent, and when the
/// next such request arrived.
fn response_then_next(sim: &Sim, method: &str, suffix: &str, n: usize) -> (Instant, Instant) {
    let log = sim.timed_log();
    let matching: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, (_, e))| matches!(e, Entry::Request(r) if r.is(method, suffix)))
        .map(|(i, _)| i)
        .collect();
    let responded = log
        .iter()
        .find(|(_, e)| matches!(e, Entry::Responded(i) if *i == matching[n]))
        .map(|(at, _)| *at)
        .expect("the request was answered");
    (responded, log[matching[n + 1]].0)
}

// ---------------------------------------------------------------------------------------------
// REST

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_rate_limit_is_waited_out_then_the_reply_is_delivered_exactly_once() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    let messages = format!("/channels/{CHANNEL}/messages");
    bot.sim.fail("POST", &messages, 1, Fault::RateLimit { retry_after: 0.4, global: false });
    bot.sim.fail("POST", "/callback", 1, Fault::RateLimit { retry_after: 0.3, global: false });

    let question = bot.mention(QUESTION);
    bot.reply("message", &question, 0).await;
    let interaction = bot.slash(QUESTION);
    bot.reply("callback", &interaction, 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(bot.replies("message", &question), 1);
    assert_eq!(bot.replies("callback", &interaction), 1);
    assert_eq!(bot.sim.count("POST", &messages), 2, "the 429, then the reply");
    let (limited, retried) = response_then_next(&bot.sim, "POST", &messages, 0);
    assert!(retried - limited >= Duration::from_millis(400), "waited {:?}", retried - limited);
    let callback = format!("/interactions/{interaction}/token-{interaction}/callback");
    let (limited, retried) = response_then_next(&bot.sim, "POST", &callback, 0);
    assert!(retried - limited >= Duration::from_millis(300), "waited {:?}", retried - limited);
    let c = bot.counts();
    assert_eq!((c.rate_limited, c.failed, c.retries), (2, 0, 0), "{c:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_rate_limit_holds_every_reply_until_it_ends() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    bot.sim.fail("POST", "/messages", 1, Fault::RateLimit { retry_after: 0.8, global: true });
    let question = bot.mention(QUESTION);
    // When the simulator answered the reply with the 429 (it started the global limit just before).
    let limited_at = bot
        .sim
        .wait_until(Duration::from_secs(10), "the 429", |sim| {
            let log = sim.timed_log();
            let post =
                log.iter().position(|(_, e)| matches!(e, Entry::Request(r) if r.is("POST", "/messages")))?;
            log.iter().find(|(_, e)| matches!(e, Entry::Responded(i) if *i == post)).map(|(at, _)| *at)
        })
        .await;
    // Another question, on another route, while the global limit runs: it must wait too (the
    // simulator answers an early request with another 429 and records it; `stop` checks).
    let interaction = bot.slash(QUESTION);
    let callback = bot.reply("callback", &interaction, 0).await;
    let message = bot.reply("message", &question, 0).await;
    assert!(callback.at - limited_at >= Duration::from_millis(790), "{:?}", callback.at - limited_at);
    assert!(message.at - limited_at >= Duration::from_millis(790), "{:?}", message.at - limited_at);
    assert_eq!(bot.replies("message", &question), 1);
    assert_eq!(bot.replies("callback", &interaction), 1);
    // 1, or 2 when the slash command's response left before the bot had read the first 429.
    assert!((1..=2).contains(&bot.counts().rate_limited), "{:?}", bot.counts());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_longer_than_a_minute_is_given_up_rather_than_waited_out() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    bot.sim.fail("POST", "/channels/601/messages", 1, Fault::RateLimit { retry_after: 120.0, global: false });
    let question = bot.mention_in("601", QUESTION);
    let c = bot.counts_until("the reply given up", |c| c.failed == 1).await;
    assert_eq!((c.rate_limited, c.retries), (1, 0), "{c:?}");
    assert_eq!(bot.sim.count("POST", "/channels/601/messages"), 1);
    assert_eq!(bot.replies("message", &question), 0);
    still_answers(&bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_that_stalls_at_start_up_is_one_sentence_not_a_hang() {
    let sim = Sim::start(SimOptions::default()).await;
    sim.fail("GET", "/gateway", usize::MAX, Fault::Stall(Duration::from_secs(30)));
    let config = DiscordConfig { request_timeout_ms: 500, ..fast(&sim) };
    let started = Instant::now();
    let run = discord::serve(&config, token(), shipped(), std::future::pending());
    let err = tokio::time::timeout(Duration::from_secs(10), run).await.expect("no hang").unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let line = err.to_string();
    assert!(matches!(err, ServeError::Unreachable { .. }), "{err:?}");
    assert!(line.contains("could not get the gateway address") && !line.contains('\n'), "{line}");
    assert!(line.contains("no response within 500 ms"), "{line}");
    assert!(!sim.log().iter().any(|e| matches!(e, Entry::Connected)), "no fallback gateway");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff_then_the_reply_is_delivered_once() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    let messages = format!("/channels/{CHANNEL}/messages");
    bot.sim.fail("POST", &messages, 1, Fault::Status(500));
    bot.sim.fail("POST", &messages, 1, Fault::Status(502));
    bot.sim.fail("POST", "/callback", 1, Fault::Status(503));
    let question = bot.mention(QUESTION);
    let interaction = bot.slash(QUESTION);
    bot.reply("message", &question, 0).await;
    bot.reply("callback", &interaction, 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.replies("message", &question), 1);
    assert_eq!(bot.replies("callback", &interaction), 1);
    assert_eq!(bot.sim.count("POST", &messages), 3);
    let (first, second) = response_then_next(&bot.sim, "POST", &messages, 0);
    let (second_done, third) = response_then_next(&bot.sim, "POST", &messages, 1);
    assert!(second - first >= Duration::from_millis(250), "first pause {:?}", second - first);
    assert!(third - second_done >= Duration::from_millis(500), "doubled {:?}", third - second_done);
    let c = bot.counts();
    assert_eq!((c.retries, c.failed), (3, 0), "{c:?}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_one_route_is_given_up_after_bounded_retries_and_other_questions_are_answered() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    bot.sim.fail("POST", "/channels/601/messages", usize::MAX, Fault::Status(503));
    let lost = bot.mention_in("601", QUESTION);
    let answered = bot.mention(QUESTION);
    bot.reply("message", &answered, 0).await;
    let c = bot.counts_until("the failed reply to be given up", |c| c.failed == 1).await;
    assert_eq!(c.retries, 2, "request_retries = 2: {c:?}");
    assert_eq!(bot.sim.count("POST", "/channels/601/messages"), 3, "one attempt and two retries");
    assert_eq!(bot.replies("message", &lost), 0);
    // Still serving after giving up.
    let later = bot.slash(QUESTION);
    bot.reply("callback", &later, 0).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(bot.sim.count("POST", "/channels/601/messages"), 3, "no retry after giving up");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_times_out_and_its_retry_never_shows_a_second_reply() {
    let bot = Running::start(SimOptions::default(), |c| c.request_timeout_ms = 1000).await;
    // Processed, but answered after the bot's time limit: the retry must not post again.
    bot.sim.fail("POST", "/messages", 1, Fault::Stall(Duration::from_millis(2500)));
    bot.sim.fail("POST", "/callback", 1, Fault::Stall(Duration::from_millis(2500)));
    let question = bot.mention(QUESTION);
    let interaction = bot.slash(QUESTION);
    let c = bot.counts_until("both replies", |c| c.delivered >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(c.retries, 2, "{c:?}");
    assert_eq!(bot.sim.count("POST", &format!("/channels/{CHANNEL}/messages")), 2, "sent twice");
    assert_eq!(bot.replies("message", &question), 1, "shown once: the same nonce returns the first message");
    let callback = format!("/interactions/{interaction}/token-{interaction}/callback");
    assert_eq!(bot.sim.count("POST", &callback), 2);
    assert_eq!(bot.replies("callback", &interaction), 1, "the second is 'already acknowledged'");
    assert_eq!(bot.counts().failed, 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_that_may_have_landed_is_not_sent_again() {
    // A decline to a public /ask after a deferral: the placeholder is deleted and the decline sent
    // privately as a follow-up, which Discord cannot deduplicate.
    let bot = Running::start(SimOptions::default(), |c| {
        c.defer_after_ms = 0;
        c.request_timeout_ms = 1000;
    })
    .await;
    bot.sim.fail("POST", "/webhooks/", 1, Fault::Stall(Duration::from_millis(2500)));
    let interaction = bot.slash(UNCOVERED);
    bot.reply("followup", &interaction, 0).await;
    let c = bot.counts_until("the follow-up given up", |c| c.failed == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bot.replies("followup", &interaction), 1, "no duplicate");
    assert_eq!(bot.sim.count("POST", &format!("/token-{interaction}")), 1, "not sent again");
    assert_eq!(c.retries, 0, "{c:?}");
    bot.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Gateway

/// Asks a mention and a slash question and waits for both answers.
async fn still_answers(bot: &Running) {
    let question = bot.mention(QUESTION);
    let interaction = bot.slash(QUESTION);
    bot.reply("message", &question, 0).await;
    bot.reply("callback", &interaction, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_7_reconnect_resumes_and_questions_asked_meanwhile_are_answered_once() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    still_answers(&bot).await;
    assert!(bot.sim.reconnect());
    // Dispatched while the bot reconnects: kept by the session and replayed after RESUME.
    let during: Vec<String> = (0..5).map(|_| bot.mention(QUESTION)).collect();
    for q in &during {
        bot.reply("message", q, 0).await;
    }
    let resume = &bot.sim.frames(6)[0]["d"];
    assert_eq!(resume["session_id"], "sim-session-1");
    assert!(resume["seq"].as_u64().unwrap() >= 3, "{resume}");
    assert_eq!(bot.sim.resumes().0, 1);
    assert_eq!(bot.sim.frames(2).len(), 1, "resumed, not identified again");
    still_answers(&bot).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for q in &during {
        assert_eq!(bot.replies("message", q), 1);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumable_invalid_session_resumes() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    assert!(bot.sim.invalidate_session(true));
    bot.sim.wait_until(Duration::from_secs(10), "a RESUME", |sim| (sim.resumes().0 == 1).then_some(())).await;
    still_answers(&bot).await;
    assert_eq!(bot.sim.frames(2).len(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_resumable_invalid_session_identifies_again_and_keeps_answering() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    assert!(bot.sim.invalidate_session(false));
    // serenity waits 5 s between IDENTIFYs.
    bot.sim
        .wait_until(Duration::from_secs(15), "a second session", |sim| {
            (sim.sessions() >= 2 && sim.connected()).then_some(())
        })
        .await;
    assert_eq!(bot.sim.frames(2).len(), 2, "a fresh IDENTIFY");
    assert_eq!(bot.sim.resumes().0, 0);
    still_answers(&bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_tcp_reset_resumes_and_loses_nothing() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    still_answers(&bot).await;
    assert!(bot.sim.drop_connection());
    let during = bot.mention(QUESTION);
    bot.reply("message", &during, 0).await;
    assert_eq!(bot.sim.resumes().0, 1);
    assert_eq!(bot.sim.frames(2).len(), 1);
    still_answers(&bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_code_that_allows_resuming_resumes() {
    let bot = Running::start(SimOptions::default(), |_| {}).await;
    // 4000: "unknown error; reconnect".
    assert!(bot.sim.close_connection(4000));
    let during = bot.mention(QUESTION);
    bot.reply("message", &during, 0).await;
    assert_eq!(bot.sim.resumes().0, 1);
    assert_eq!(bot.sim.frames(2).len(), 1);
    still_answers(&bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_heartbeat_acks_make_the_bot_reconnect() {
    let options =
        SimOptions { heartbeat_interval: Some(Duration::from_millis(500)), ..SimOptions::default() };
    let bot = Running::start(options, |_| {}).await;
    bot.sim.withhold_heartbeat_acks(true);
    bot.sim
        .wait_until(Duration::from_secs(10), "the zombie connection closed", |sim| {
            sim.log().iter().any(|e| matches!(e, Entry::Closed(_))).then_some(())
        })
        .await;
    bot.sim.withhold_heartbeat_acks(false);
    // serenity 0.12.5 restarts the shard: a new connection and a fresh IDENTIFY after its 5 s pause.
    bot.sim
        .wait_until(Duration::from_secs(15), "a new session", |sim| {
            (sim.sessions() >= 2 && sim.connected()).then_some(())
        })
        .await;
    still_answers(&bot).await;
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_delivered_again_after_a_resume_are_not_answered_twice() {
    // The simulator replays the last 20 events the bot already had on RESUME (at-least-once).
    let options = SimOptions { replay_overlap: 20, ..SimOptions::default() };
    let bot = Running::start(options, |_| {}).await;
    let mentions: Vec<String> = (0..3).map(|_| bot.mention(QUESTION)).collect();
    let slashes: Vec<String> = (0..3).map(|_| bot.slash(QUESTION)).collect();
    let mut first = None;
    for q in &mentions {
        first.get_or_insert(bot.reply("message", q, 0).await);
    }
    for i in &slashes {
        bot.reply("callback", i, 0).await;
    }
    // A button press, too.
    let sent = payloads::message_echo(&bot.sim.id(), CHANNEL, &first.unwrap().body);
    let press = bot.sim.id();
    let helpful = payloads::button_id(&sent, "Helpful");
    bot.sim.dispatch("INTERACTION_CREATE", payloads::button(&press, &helpful, &sent, &asker()));
    bot.reply("callback", &press, 0).await;

    assert!(bot.sim.reconnect());
    bot.sim.wait_until(Duration::from_secs(10), "a RESUME", |sim| (sim.resumes().0 == 1).then_some(())).await;
    assert!(bot.sim.resumes().1 >= 7, "the replay included events already handled: {:?}", bot.sim.resumes());
    still_answers(&bot).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Not even tried twice (Discord would refuse a second response, and return the first message
    // for a repeated nonce, so what users see could hide a second attempt).
    let requests = bot.sim.requests();
    for q in &mentions {
        assert_eq!(bot.replies("message", q), 1, "mention {q} answered once");
        let sent = requests.iter().filter(|r| r.is("POST", "/messages") && r.json()["nonce"] == q.as_str());
        assert_eq!(sent.count(), 1, "mention {q}: one reply sent");
    }
    for i in slashes.iter().chain([&press]) {
        assert_eq!(bot.replies("callback", i), 1, "interaction {i} answered once");
        assert_eq!(bot.sim.count("POST", &format!("/interactions/{i}/token-{i}/callback")), 1);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_codes_that_retrying_cannot_fix_stop_the_bot_with_one_line_saying_what_to_fix() {
    let cases: [(u16, bool, &[&str]); 4] = [
        (4004, false, &["Discord rejected the token", "4004", "Reset Token", "DISCORD_TOKEN"]),
        (4013, false, &["invalid", "4013"]),
        (4014, true, &["MESSAGE CONTENT", "4014", "Privileged Gateway Intents", "discord.prefix"]),
        (4014, false, &["4014", "Privileged Gateway Intents"]),
    ];
    for (code, prefix, says) in cases {
        let options = SimOptions { close_after_identify: Some(code), ..SimOptions::default() };
        let sim = Sim::start(options).await;
        let mut config = fast(&sim);
        if prefix {
            config.prefix = Some("!".into());
        }
        let run = discord::serve(&config, token(), shipped(), std::future::pending());
        let err = tokio::time::timeout(Duration::from_secs(15), run)
            .await
            .unwrap_or_else(|_| panic!("close code {code}: the bot kept going"))
            .unwrap_err();
        let line = err.to_string();
        assert!(err.is_user_error(), "{code}: {err:?}");
        assert!(!line.contains('\n') && !line.contains(TOKEN), "{code}: {line}");
        for s in says {
            assert!(line.contains(s), "close code {code} should say {s:?}: {line}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(sim.connections(), 1, "{code}: no reconnect loop");
        assert_eq!(sim.frames(2).len(), 1, "{code}: one IDENTIFY");
    }
}

/// A `tracing` writer into memory, for the tests that read the bot's log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// One thread: the subscriber set for this test sees every task of the bot.
#[tokio::test(flavor = "current_thread")]
async fn malformed_unknown_and_incomplete_payloads_are_ignored_with_a_warning() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let bot = Running::start(SimOptions::default(), |_| {}).await;
    let before = bot.mention(QUESTION);
    bot.reply("message", &before, 0).await;

    let mut no_author = MessageSpec::mention("4001", QUESTION).event();
    no_author.as_object_mut().unwrap().remove("author");
    let mut no_token = payloads::slash_ask("4002", QUESTION, None, &asker());
    no_token.as_object_mut().unwrap().remove("token");
    let mut wrong_type = MessageSpec::mention("4003", QUESTION).event();
    wrong_type["mentions"] = json!("everyone");
    bot.sim.dispatch("MESSAGE_CREATE", no_author);
    bot.sim.dispatch("INTERACTION_CREATE", no_token);
    bot.sim.dispatch("MESSAGE_CREATE", wrong_type);
    bot.sim.dispatch("SOMETHING_DISCORD_ADDED_LATER", json!({"whatever": 1}));
    for raw in [
        Frame::Text("this is not JSON {".into()),
        Frame::Text(json!({"op": 42, "d": {}}).to_string()),
        Frame::Text(json!({"op": 0, "t": "MESSAGE_CREATE", "d": {}}).to_string()), // no "s"
        Frame::Text(json!({"op": 10}).to_string()),                                // HELLO without d
        Frame::Text("[]".into()),
        Frame::Binary(vec![0xde, 0xad, 0xbe, 0xef]),
    ] {
        assert!(bot.sim.send_raw(raw));
    }
    let after = bot.mention(QUESTION);
    let interaction = bot.slash(QUESTION);
    bot.reply("message", &after, 0).await;
    bot.reply("callback", &interaction, 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(bot.sim.connections(), 1, "no reconnect");
    assert_eq!(bot.sim.frames(2).len(), 1);
    for broken in ["4001", "4002", "4003"] {
        assert_eq!(bot.replies("message", broken) + bot.replies("callback", broken), 0);
    }
    assert_eq!(bot.sim.accepted().len(), 3, "only the three good questions were answered");
    let text = log.text();
    for expected in [
        "ignored a MESSAGE_CREATE event (id 4001) that could not be read: missing field `author`",
        "ignored a INTERACTION_CREATE event (id 4002)",
        "ignored a MESSAGE_CREATE event (id 4003)",
        "SOMETHING_DISCORD_ADDED_LATER",
        "Err deserializing text",
        "Unhandled error",
    ] {
        assert!(text.contains(expected), "no warning containing {expected:?} in:\n{text}");
    }
    drop(bot.stop().await);
}

// ---------------------------------------------------------------------------------------------
// Load

/// Questions in the default run; `CITEBOT_LOAD_QUESTIONS` overrides it (scripts/load.sh: 5,000).
fn load_size() -> usize {
    std::env::var("CITEBOT_LOAD_QUESTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_questions_with_a_reconnect_in_the_middle_is_answered_exactly_once() {
    load(load_size()).await;
}

/// The full size of issue 7; `scripts/load.sh` runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "5,000 questions: run with scripts/load.sh"]
async fn load_5000_questions_with_a_reconnect_in_the_middle() {
    load(5000).await;
}

async fn load(n: usize) {
    const BURST: usize = 50;
    let questions = [
        QUESTION,
        "does collagen help hydration?",
        "what does collagen serum do?",
        UNCOVERED,
        "is it safe after laser treatment?",
    ];
    let bot = Running::start(SimOptions::default(), |c| c.request_timeout_ms = 10_000).await;
    let started = Instant::now();
    let mut asked: Vec<(String, bool, Instant)> = Vec::with_capacity(n);
    for i in 0..n {
        let text = questions[i % questions.len()];
        let at = Instant::now();
        let id = if i % 2 == 0 { bot.mention(text) } else { bot.slash(text) };
        asked.push((id, i % 2 == 0, at));
        if i == n / 2 {
            assert!(bot.sim.reconnect(), "op 7 RECONNECT in the middle");
        }
        if (i + 1) % BURST == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let dispatched = started.elapsed();
    let limit = Duration::from_secs(60 + n as u64 / 20);
    let final_count = |a: &Accepted| {
        a.kind == "message" || a.kind == "edit" || (a.kind == "callback" && a.body["type"] == 4)
    };
    bot.sim
        .wait_until(limit, &format!("{n} answers"), |sim| {
            (sim.count_accepted(final_count) >= n).then_some(())
        })
        .await;
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let accepted = bot.sim.accepted();
    let mut answers: HashMap<&str, Vec<&Accepted>> = HashMap::new();
    for a in accepted.iter().filter(|a| final_count(a)) {
        answers.entry(a.key.as_str()).or_default().push(a);
    }
    let mut latencies = Vec::with_capacity(n);
    for (id, mention, at) in &asked {
        let got = answers.get(id.as_str()).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(got.len(), 1, "question {id} (mention: {mention}) answered {} times", got.len());
        latencies.push(got[0].at.duration_since(*at));
    }
    assert_eq!(answers.len(), n, "no answer to anything not asked");
    let callbacks: HashMap<&str, usize> =
        accepted.iter().filter(|a| a.kind == "callback").fold(HashMap::new(), |mut m, a| {
            *m.entry(a.key.as_str()).or_default() += 1;
            m
        });
    assert!(callbacks.values().all(|c| *c == 1), "one interaction response each");
    assert_eq!(bot.sim.resumes().0, 1, "the reconnect resumed");
    assert_eq!(bot.sim.frames(2).len(), 1, "no fresh IDENTIFY");
    let c = bot.counts();
    assert_eq!(c.failed, 0, "{c:?}");

    latencies.sort();
    let pct =
        |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1];
    let deferred = accepted.iter().filter(|a| a.kind == "edit").count();
    eprintln!(
        "load: {n} questions ({} mentions, {} /ask, {deferred} deferred) dispatched in {:.2} s, all answered in {:.2} s: {:.0} questions/s; event-to-reply latency p50 {} ms, p99 {} ms, max {} ms; {} events replayed after the RESUME",
        asked.iter().filter(|a| a.1).count(),
        asked.iter().filter(|a| !a.1).count(),
        dispatched.as_secs_f64(),
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_millis(),
        pct(0.99).as_millis(),
        latencies.last().unwrap().as_millis(),
        bot.sim.resumes().1,
    );
    bot.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Hostile input

/// An article whose text tries every way of pinging or breaking out of Markdown.
fn hostile() -> Arc<Retriever> {
    static R: OnceLock<Arc<Retriever>> = OnceLock::new();
    R.get_or_init(|| {
        // Markdown escapes make the hostile characters literal text of the passage, which is what
        // reaches the bot (real Markdown links and code are parsed away by the corpus reader).
        let text = r#"---
title: "Hydration @everyone <@&555> ||secret||"
url: "https://example.test/hydration"
---

# Hydration @everyone <@&555> ||secret||

## Hydration for <@42> and @here

Hydration matters for @everyone and <@123> and <@!124> and <@&456> and <#600>: \`\`\`rust fn ping() {} \`\`\` then ||hidden spoiler|| and \[click here\](http://evil.test/phish) and \`inline code\` and \*\*loud\*\* text.

Night care is simple for <@&456> and @everyone: ||more|| \[again\](http://evil.test/2).
"#;
        let (article, warnings) = citebot::corpus::parse_file(Path::new("hostile.md"), "hostile.md", text.as_bytes());
        assert!(article.is_some(), "{warnings:?}");
        let corpus = citebot::corpus::Corpus {
            articles: article.into_iter().collect(),
            warnings: vec![],
            fingerprint: citebot::corpus::short_id(&[text]),
        };
        let settings = Settings { min_confidence: 0.05, ..Settings::default() };
        Arc::new(index(&corpus, settings))
    })
    .clone()
}

/// Positions of `pattern` in `text` not escaped by a backslash.
fn unescaped(text: &str, pattern: &str) -> Vec<usize> {
    text.match_indices(pattern)
        .map(|(i, _)| i)
        .filter(|&i| {
            let slashes = text[..i].chars().rev().take_while(|c| *c == '\\').count();
            slashes % 2 == 0
        })
        .collect()
}

/// Every text of a reply body that Discord renders as Markdown (footers and button labels are
/// plain text there).
fn shown_texts(body: &Value) -> Vec<String> {
    let data = if body["data"].is_object() { &body["data"] } else { body };
    let mut out = vec![data["content"].as_str().unwrap_or_default().to_string()];
    for e in data["embeds"].as_array().into_iter().flatten() {
        for field in ["title", "description"] {
            out.push(e[field].as_str().unwrap_or_default().to_string());
        }
    }
    out
}

/// Nothing in `body` can ping anyone or render the corpus's (or the question's) markup.
fn assert_inert(body: &Value) {
    let data = if body["data"].is_object() { &body["data"] } else { body };
    if data.get("content").is_some() || data.get("embeds").is_some() {
        assert_eq!(
            data["allowed_mentions"],
            json!({"parse": [], "users": [], "roles": [], "replied_user": false}),
            "{body}"
        );
    }
    for text in shown_texts(body) {
        // (The bot's own bold highlights may sit inside escaped markup: `\*\***loud**\*\*` shows
        // literal asterisks around a bold word.)
        for pattern in ["<@", "<#", "||", "`", "[click here]", "[again]"] {
            assert!(unescaped(&text, pattern).is_empty(), "{pattern:?} is live in {text:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mention_and_markdown_injection_from_the_corpus_or_the_question_is_inert() {
    let bot = Running::start_with(SimOptions::default(), hostile(), |_| {}).await;
    let from_corpus = bot.mention("hydration matters");
    let reply = bot.reply("message", &from_corpus, 0).await;
    let d = reply.body["embeds"][0]["description"].as_str().unwrap().to_string();
    assert!(
        d.contains("@everyone") && d.contains("\\<@123>") && d.contains("\\|\\|hidden spoiler\\|\\|"),
        "{d}"
    );
    assert!(d.contains("\\[click here\\](http://evil.test/phish)"), "the masked link is shown as text: {d}");
    assert!(d.contains("\\`\\`\\`rust"), "{d}");

    let loud = "@everyone <@&555> <@42> ||x|| ```y``` [click here](http://evil.test) **loud** hydration?";
    let mut q = MessageSpec::mention(&bot.sim.id(), loud);
    q.mention_everyone = true;
    q.mention_roles = vec!["555".into()];
    bot.sim.dispatch("MESSAGE_CREATE", q.event());
    let interaction = bot.slash(loud);
    let uncovered = bot.slash("@everyone <@&555> ||x|| [click here](http://evil.test) volcanoes?");
    bot.reply("message", &q.id, 0).await;
    bot.reply("callback", &interaction, 0).await;
    bot.reply("callback", &uncovered, 0).await;

    // Buttons of the hostile answer: the whole section and the next passage.
    let sent = payloads::message_echo(&bot.sim.id(), CHANNEL, &reply.body);
    for label in ["Full section", "Next passage"] {
        if payloads::buttons(&sent).iter().any(|(l, _)| l == label) {
            let press = bot.sim.id();
            let id = payloads::button_id(&sent, label);
            bot.sim.dispatch("INTERACTION_CREATE", payloads::button(&press, &id, &sent, &asker()));
            bot.reply("callback", &press, 0).await;
        }
    }
    let accepted = bot.sim.accepted();
    assert!(accepted.len() >= 4);
    for a in &accepted {
        assert_inert(&a.body);
    }
    bot.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// The token as it could appear in a log: as is, as hex (tungstenite's frame dumps), as a list of
/// byte values (a `Debug` of bytes), and JSON-escaped.
fn token_forms() -> Vec<String> {
    let bytes = TOKEN.as_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let list = bytes.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    vec![TOKEN.to_string(), hex, list, TOKEN.replace('.', "\\u002e")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_in_no_log_line_of_citebot_serve_at_trace_level() {
    let sim = Sim::start(SimOptions::default()).await;
    let ws = crate::util::Workspace::shipped();
    let config = std::fs::read_to_string(ws.path("config.toml")).unwrap();
    ws.write(
        "config.toml",
        &format!(
            "{config}[records]\ndir = {:?}\n[discord]\napi_url = {:?}\ncooldown_seconds = 0\n[reload]\nwatch = false\n",
            ws.path("data"),
            sim.api_url
        ),
    );
    let stderr_path = ws.path("stderr.log");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_citebot"));
    cmd.args(["--config", ws.path("config.toml").to_str().unwrap(), "serve"])
        .current_dir(ws.dir.path())
        .env("RUST_LOG", "trace")
        .env("DISCORD_TOKEN", TOKEN)
        .env_remove("CITEBOT__DISCORD__TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    for (k, _) in std::env::vars() {
        if k.starts_with("CITEBOT__") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().expect("citebot serve starts");
    sim.wait_until(Duration::from_secs(60), "citebot serve to identify", |sim| {
        (!sim.frames(2).is_empty() && sim.requests().iter().any(|r| r.path.ends_with("/commands")))
            .then_some(())
    })
    .await;
    // A question, a RESUME (the token is sent again) and an answer after it.
    let id = sim.id();
    sim.dispatch("MESSAGE_CREATE", MessageSpec::mention(&id, QUESTION).event());
    sim.wait_request("POST", "/messages", 0).await;
    assert!(sim.reconnect());
    sim.wait_until(Duration::from_secs(10), "a RESUME", |sim| (sim.resumes().0 == 1).then_some(())).await;
    let slash = sim.id();
    sim.dispatch("INTERACTION_CREATE", payloads::slash_ask(&slash, QUESTION, None, &asker()));
    sim.wait_request("POST", "/callback", 0).await;
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "citebot serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "{status}: {}", &log[log.len().saturating_sub(3000)..]);
    assert!(sim.frames(2)[0]["d"]["token"].as_str().unwrap().ends_with(TOKEN), "the token was used");
    assert!(sim.frames(6)[0]["d"]["token"].as_str().unwrap().ends_with(TOKEN));
    let count = log.lines().count();
    assert!(count > 100 && log.contains("TRACE"), "trace logging was on: {count} lines");
    let lines: Vec<&str> = log.lines().collect();
    for form in token_forms() {
        if let Some(at) = lines.iter().position(|l| l.contains(&form)) {
            // With the lines before it: a multi-line entry starts with its level and origin.
            let context = lines[at.saturating_sub(8)..=at].join("\n");
            panic!("the token ({form}) is in the log, line {}:\n{context}", at + 1);
        }
    }
}
