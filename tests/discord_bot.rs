//! The Discord bot against the loopback simulator (`sim`): the real bot, started through
//! `citebot::discord::serve` (or `Server`, which `serve` wraps, when a test needs to see the
//! feedback), answering gateway events the tests dispatch. Every test ends with every REST body
//! the bot sent checked against Discord's OpenAPI description and documented limits.

use crate::sim::payloads::{self, CHANNEL, MessageSpec, button_id};
use crate::sim::{self, BOT_ID, Entry, Sim, SimOptions, TOKEN};
use citebot::discord::{self, DiscordConfig, DiscordToken, Retrieval, ServeError, ShardSpec, Snowflake};
use citebot::feedback::{Feedback, FeedbackSink};
use citebot::index::SearchIndex;
use citebot::live::Live;
use citebot::retrieval::{Retriever, Settings};
use citebot::synonyms::Synonyms;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const MICRONEEDLING: &str = "does it help after microneedling?";

fn init_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            citebot::telemetry::init("citebot=debug,serenity=info,poise=info");
        }
    });
}

/// The shipped article, indexed in memory once.
fn shipped() -> Arc<Retriever> {
    static R: OnceLock<Arc<Retriever>> = OnceLock::new();
    R.get_or_init(|| Arc::new(index(&citebot::app::embedded_corpus()))).clone()
}

fn index(corpus: &citebot::corpus::Corpus) -> Retriever {
    let index = SearchIndex::build_in_ram(corpus).expect("index a test corpus");
    let (synonyms, _) = Synonyms::parse(citebot::app::EMBEDDED_SYNONYMS);
    Retriever::new(index, synonyms, Settings::default())
}

/// An article built to break every limit: a huge title and heading, Markdown-like characters that
/// double when escaped, and paragraphs far longer than an embed.
fn oversized() -> Arc<Retriever> {
    static R: OnceLock<Arc<Retriever>> = OnceLock::new();
    R.get_or_init(|| {
        let title = format!("Collagen {}", "handbook_of_skin|care ".repeat(30));
        let heading = format!("Collagen heading {}", "with_under_scores|and|bars ".repeat(25));
        let sentence = "Collagen_peptides | hyaluronic_acid | <ceramides> bind_water at the stratum_corneum. ";
        let paragraph = sentence.repeat(60);
        let text = format!(
            "---\ntitle: \"{title}\"\nurl: \"https://example.test/oversized\"\n---\n\n# {title}\n\nIntro about collagen.\n\n## {heading}\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n"
        );
        let (article, _) = citebot::corpus::parse_file(Path::new("oversized.md"), "oversized.md", text.as_bytes());
        let corpus = citebot::corpus::Corpus {
            articles: article.into_iter().collect(),
            warnings: vec![],
            fingerprint: citebot::corpus::short_id(&[&text]),
        };
        let index = SearchIndex::build_in_ram(&corpus).expect("index the oversized article");
        let settings = Settings { max_excerpt_chars: 4000, min_confidence: 0.1, ..Settings::default() };
        Arc::new(Retriever::new(index, Synonyms::default(), settings))
    })
    .clone()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Feedback>>);

impl FeedbackSink for Recorder {
    fn record(&self, feedback: Feedback) {
        self.0.lock().unwrap().push(feedback);
    }
}

/// A running bot and its simulator.
struct Bot {
    sim: Sim,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
    feedback: Arc<Recorder>,
    retriever: Arc<Retriever>,
    /// How often `/reindex` ran the reindexer (only with `start_recording`).
    reindexed: Arc<std::sync::atomic::AtomicUsize>,
}

fn config_for(sim: &Sim) -> DiscordConfig {
    DiscordConfig { api_url: sim.api_url.clone(), cooldown_seconds: 0, ..DiscordConfig::default() }
}

fn token() -> DiscordToken {
    DiscordToken::parse(TOKEN).expect("a well-formed test token")
}

impl Bot {
    async fn start(tweak: impl FnOnce(&mut DiscordConfig)) -> Bot {
        Bot::launch(SimOptions::default(), shipped().into(), tweak, false).await
    }

    async fn start_with(
        options: SimOptions,
        retriever: Arc<Retriever>,
        tweak: impl FnOnce(&mut DiscordConfig),
    ) -> Bot {
        Bot::launch(options, retriever.into(), tweak, false).await
    }

    /// Like `start`, with a feedback sink the test can read.
    async fn start_recording(tweak: impl FnOnce(&mut DiscordConfig)) -> Bot {
        Bot::launch(SimOptions::default(), shipped().into(), tweak, true).await
    }

    async fn launch(
        options: SimOptions,
        retrieval: Retrieval,
        tweak: impl FnOnce(&mut DiscordConfig),
        record_feedback: bool,
    ) -> Bot {
        init_logs();
        let retriever = retrieval.current();
        let sim = Sim::start(options).await;
        let mut config = config_for(&sim);
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let feedback = Arc::new(Recorder::default());
        let r = retrieval;
        let sink = feedback.clone();
        let reindexed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = reindexed.clone();
        let reindex: discord::Reindex = Arc::new(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { "Reindexed: 2 passages changed; smoke test 10/10.".to_string() })
        });
        // The entry point of `citebot serve`; `Server` (which `serve` wraps) to read the feedback.
        let task = tokio::spawn(async move {
            if record_feedback {
                discord::Server::new(config, token(), r).feedback(sink).reindex(reindex).run(shutdown).await
            } else {
                discord::serve(&config, token(), r, shutdown).await
            }
        });
        sim.wait_ready().await;
        Bot { sim, stop: Some(stop), task, feedback, retriever, reindexed }
    }

    /// Shuts the bot down (expecting a clean exit) and checks every body it sent.
    async fn stop(mut self) -> Sim {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(15), &mut self.task).await;
        match result {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the bot did not stop cleanly: {other:?}"),
        }
        assert!(self.sim.closed(), "the shards were closed");
        let checked = sim::spec::assert_valid(&self.sim.requests());
        assert!(checked > 0);
        assert_eq!(self.sim.unknown_routes(), Vec::<String>::new());
        self.sim
    }

    fn mention(&self, text: &str) -> String {
        let id = self.sim.id();
        self.sim.dispatch("MESSAGE_CREATE", MessageSpec::mention(&id, text).event());
        id
    }

    fn interaction(&self, d: Value) -> String {
        let id = d["id"].as_str().unwrap().to_string();
        self.sim.dispatch("INTERACTION_CREATE", d);
        id
    }

    async fn callback(&self, interaction: &str) -> Value {
        self.sim
            .wait_request("POST", &format!("/interactions/{interaction}/token-{interaction}/callback"), 0)
            .await
            .json()
    }

    /// The `n`-th message posted in the default channel.
    async fn posted(&self, n: usize) -> Value {
        self.sim.wait_request("POST", &format!("/channels/{CHANNEL}/messages"), n).await.json()
    }

    /// The message object Discord would hold for a message the bot posted.
    fn as_sent(&self, body: &Value) -> Value {
        payloads::message_echo(&self.sim.id(), CHANNEL, body)
    }
}

fn asker() -> Value {
    payloads::user("42", "asker", false)
}

fn description(message: &Value) -> String {
    message["embeds"][0]["description"].as_str().unwrap_or_default().to_string()
}

/// A description with the bot's Markdown removed: what a reader sees.
fn shown(markdown: &str) -> String {
    markdown.replace("**", "").replace('\\', "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_fetches_the_gateway_from_the_simulator_first_then_identifies_and_registers_commands() {
    let bot = Bot::start(|_| {}).await;
    let requests = bot.sim.requests();
    let first = &requests[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/api/v10/gateway"), "{requests:#?}");
    assert_eq!(first.authorization.as_deref(), Some(format!("Bot {TOKEN}").as_str()));
    assert!(
        first.user_agent.as_deref().unwrap_or_default().starts_with("DiscordBot"),
        "{:?}",
        first.user_agent
    );
    assert!(bot.sim.count("GET", "/gateway/bot") == 1, "shards = auto asks Discord for its recommendation");
    assert_eq!(bot.sim.count("GET", "/oauth2/applications/@me"), 0, "owners are not fetched");

    assert!(bot.sim.log().iter().any(|e| matches!(e, Entry::Connected)), "the gateway is the simulator's");
    let identify = &bot.sim.frames(2)[0]["d"];
    assert!(identify["token"].as_str().unwrap().ends_with(TOKEN));
    assert_eq!(identify["intents"], json!(1 | 512), "GUILDS | GUILD_MESSAGES, no MESSAGE_CONTENT");
    assert_eq!(identify["shard"], json!([0, 1]));

    let registered = bot.sim.wait_request("PUT", &format!("/applications/{BOT_ID}/commands"), 0).await.json();
    let names: Vec<&str> =
        registered.as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ask", "Answer from knowledge base", "topics", "source", "reindex"]);
    let ask = &registered[0];
    assert_eq!(ask["options"][0]["name"], "question");
    assert_eq!(ask["options"][0]["autocomplete"], true);
    assert_eq!(ask["options"][1]["name"], "private");
    assert_eq!(registered[1]["type"], 3, "a message context-menu command");
    for c in registered.as_array().unwrap() {
        assert!(c["description"].as_str().unwrap_or_default().chars().count() <= 100);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_ids_register_the_commands_in_those_guilds_only() {
    let bot = Bot::start(|c| c.guild_ids = vec![Snowflake(4242)]).await;
    bot.sim.wait_request("PUT", &format!("/applications/{BOT_ID}/guilds/4242/commands"), 0).await;
    assert_eq!(bot.sim.count("PUT", &format!("/applications/{BOT_ID}/commands")), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_shard_range_identifies_as_that_shard() {
    let bot = Bot::start(|c| c.shards = ShardSpec::Range { first: 1, last: 1, total: 2 }).await;
    assert_eq!(bot.sim.frames(2)[0]["d"]["shard"], json!([1, 2]));
    assert_eq!(bot.sim.count("GET", "/gateway/bot"), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_is_answered_with_the_right_excerpt() {
    let bot = Bot::start(|_| {}).await;
    let question = bot.mention(MICRONEEDLING);
    let reply = bot.posted(0).await;
    assert_eq!(reply["message_reference"]["message_id"], question.as_str(), "a reply to the question");
    let expected = bot.retriever.answer(MICRONEEDLING).unwrap();
    let excerpt = expected.excerpt.expect("the shipped article answers it");
    let d = description(&reply);
    assert!(shown(&d).contains(&excerpt), "{d}");
    assert!(d.contains("**post**-**microneedling**"), "matched words (and their synonyms) in bold: {d}");
    assert!(d.contains("not medical advice"), "the disclaimer: {d}");
    let embed = &reply["embeds"][0];
    assert_eq!(embed["title"], "Collagen Serums in Post-Procedure Skincare");
    let footer = embed["footer"]["text"].as_str().unwrap();
    assert!(footer.starts_with("What Does Collagen Serum Do?"), "{footer}");
    assert!(footer.ends_with(&format!("corpus {}", bot.retriever.corpus_version())), "{footer}");
    assert_eq!(
        reply["allowed_mentions"],
        json!({"parse": [], "users": [], "roles": [], "replied_user": false}),
        "the reply pings nobody, not even the asker"
    );
    let labels: Vec<String> = payloads::buttons(&reply).into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["Next passage", "Full section", "Helpful", "Not helpful"]);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replying_to_a_question_with_only_a_mention_answers_that_question() {
    let bot = Bot::start(|c| c.ping_author_on_reply = true).await;
    let original = MessageSpec::plain("701", MICRONEEDLING).to_json();
    let mut nudge = MessageSpec::mention("702", "");
    nudge.referenced = Some(original);
    bot.sim.dispatch("MESSAGE_CREATE", nudge.event());
    let reply = bot.posted(0).await;
    assert_eq!(reply["message_reference"]["message_id"], "701");
    assert_eq!(reply["allowed_mentions"]["replied_user"], true, "configured to ping the asker");
    assert_eq!(reply["allowed_mentions"]["parse"], json!([]));
    assert!(description(&reply).contains("microneedling"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_ask_is_answered_through_the_interaction_callback() {
    let bot = Bot::start(|_| {}).await;
    let id = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, None, &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"].as_u64().unwrap_or(0) & 64, 0, "public by default");
    assert!(description(&response["data"]).contains("**microneedling**"));

    let id = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, Some(true), &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["data"]["flags"], 64, "private when asked");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_ask_defers_and_then_edits_when_retrieval_may_be_slow() {
    let bot = Bot::start(|c| {
        c.defer_after_ms = 0;
        c.ephemeral_default = true;
    })
    .await;
    let id = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, None, &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["type"], 5, "deferred");
    assert_eq!(response["data"]["flags"], 64, "ephemeral_default = true");
    let edit =
        bot.sim.wait_request("PATCH", &format!("/webhooks/{BOT_ID}/token-{id}/messages/@original"), 0).await;
    assert!(description(&edit.json()).contains("microneedling"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_suggests_matching_section_headings() {
    let bot = Bot::start(|_| {}).await;
    let id = bot.interaction(payloads::autocomplete(&bot.sim.id(), "hydra", &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["type"], 8);
    let choices = response["data"]["choices"].as_array().unwrap();
    assert!(!choices.is_empty() && choices.len() <= 25, "{choices:?}");
    for c in choices {
        assert!(c["name"].as_str().unwrap().to_lowercase().contains("hydra"), "{c}");
    }
    let id = bot.interaction(payloads::autocomplete(&bot.sim.id(), "", &asker()));
    let all = bot.callback(&id).await;
    assert!(all["data"]["choices"].as_array().unwrap().len() > choices.len());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_menu_command_replies_to_the_chosen_message() {
    let bot = Bot::start(|_| {}).await;
    let target = MessageSpec::plain("703", MICRONEEDLING).to_json();
    let helper = payloads::user("43", "helper", false);
    let id = bot.interaction(payloads::message_command(&bot.sim.id(), &target, &helper));
    let reply = bot.posted(0).await;
    assert_eq!(reply["message_reference"]["message_id"], "703");
    assert!(description(&reply).contains("microneedling"));
    let response = bot.callback(&id).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64, "the helper's confirmation is private");
    assert!(response["data"]["content"].as_str().unwrap().starts_with("Replied to the message"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_passage_cycles_through_the_alternatives_in_the_same_message() {
    let bot = Bot::start(|_| {}).await;
    bot.mention(MICRONEEDLING);
    let first = bot.as_sent(&bot.posted(0).await);
    let next = button_id(&first, "Next passage");
    let id = bot.interaction(payloads::button(&bot.sim.id(), &next, &first, &asker()));
    let update = bot.callback(&id).await;
    assert_eq!(update["type"], 7, "the same message is edited");
    let second = &update["data"];
    assert_ne!(description(second), description(&first));
    let alternative = &bot.retriever.answer(MICRONEEDLING).unwrap().alternatives[0];
    let first_sentence = alternative.excerpt.split(". ").next().unwrap();
    assert!(shown(&description(second)).contains(first_sentence), "{}", description(second));
    let then = button_id(second, "Next passage");
    assert!(then.contains(":1:"), "the next press shows the passage after this one: {then}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_section_shows_the_whole_section_privately() {
    let bot = Bot::start(|_| {}).await;
    bot.mention(MICRONEEDLING);
    let sent = bot.as_sent(&bot.posted(0).await);
    let id =
        bot.interaction(payloads::button(&bot.sim.id(), &button_id(&sent, "Full section"), &sent, &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["type"], 4);
    assert_eq!(response["data"]["flags"], 64);
    assert_eq!(response["data"]["embeds"][0]["title"], "Collagen Serums in Post-Procedure Skincare");
    let answer = bot.retriever.answer(MICRONEEDLING).unwrap();
    let section = bot.retriever.section(answer.section_id.as_deref().unwrap()).unwrap();
    let all: String = response["data"]["embeds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["description"].as_str())
        .collect();
    for p in &section {
        assert!(shown(&all).contains(&p.text), "missing {:?} in {all}", p.text);
    }
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbs_up_and_down_are_recorded() {
    let bot = Bot::start_recording(|c| c.disclaimer = String::new()).await;
    bot.mention(MICRONEEDLING);
    let sent = bot.as_sent(&bot.posted(0).await);
    assert!(!description(&sent).contains("medical advice"), "an empty disclaimer is left out");
    for (n, label) in ["Helpful", "Not helpful"].into_iter().enumerate() {
        let id = bot.interaction(payloads::button(&bot.sim.id(), &button_id(&sent, label), &sent, &asker()));
        let response = bot.callback(&id).await;
        assert_eq!(response["data"]["flags"], 64);
        assert!(response["data"]["content"].as_str().unwrap().contains("feedback"));
        assert_eq!(bot.feedback.0.lock().unwrap().len(), n + 1);
    }
    let recorded = bot.feedback.0.lock().unwrap().clone();
    let passage = bot.retriever.answer(MICRONEEDLING).unwrap().passage_id.unwrap();
    assert_eq!(recorded.iter().map(|f| f.helpful).collect::<Vec<_>>(), [true, false]);
    assert!(recorded.iter().all(|f| f.passage_id == passage && f.user_id == 42 && f.guild_id == Some(500)));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_from_another_corpus_version_gets_a_polite_answer() {
    let bot = Bot::start_recording(|_| {}).await;
    bot.mention(MICRONEEDLING);
    let sent = bot.as_sent(&bot.posted(0).await);
    let version = bot.retriever.corpus_version().to_string();
    for label in ["Next passage", "Full section", "Helpful"] {
        let old = button_id(&sent, label).replace(&version, "00000000");
        let id = bot.interaction(payloads::button(&bot.sim.id(), &old, &sent, &asker()));
        let response = bot.callback(&id).await;
        assert_eq!(response["data"]["flags"], 64);
        assert!(
            response["data"]["content"].as_str().unwrap().contains("articles have been updated"),
            "{response}"
        );
    }
    assert!(bot.feedback.0.lock().unwrap().is_empty());
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_the_corpus_does_not_cover_is_declined_with_the_nearest_sections() {
    let bot = Bot::start(|_| {}).await;
    let question = "does collagen serum cure baldness in dogs?";
    assert!(!bot.retriever.answer(question).unwrap().answered, "the question must be a decline");
    let id = bot.interaction(payloads::slash_ask(&bot.sim.id(), question, None, &asker()));
    let response = bot.callback(&id).await;
    assert_eq!(response["data"]["flags"], 64, "a decline to a slash command is private");
    let d = description(&response["data"]);
    assert!(d.starts_with("This isn't covered in **What Does Collagen Serum Do?"), "{d}");
    let sections = payloads::buttons(&response["data"]);
    assert!((1..=3).contains(&sections.len()), "{sections:?}");

    // A nearest-section button shows that section.
    let message = payloads::message_echo(&bot.sim.id(), CHANNEL, &response["data"]);
    let id = bot.interaction(payloads::button(&bot.sim.id(), &sections[0].1, &message, &asker()));
    let shown_section = bot.callback(&id).await;
    assert_eq!(shown_section["data"]["flags"], 64);
    assert_eq!(shown_section["data"]["embeds"][0]["title"].as_str().unwrap(), sections[0].0);

    // Nothing to search for at all: still a polite decline.
    bot.mention("what is the capital of france?");
    let reply = bot.posted(0).await;
    assert!(description(&reply).starts_with("This isn't covered in"), "{reply}");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_on_cooldown_is_told_to_wait() {
    let bot = Bot::start(|c| c.cooldown_seconds = 30).await;
    let first = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, None, &asker()));
    assert!(description(&bot.callback(&first).await["data"]).contains("microneedling"));
    let second = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, None, &asker()));
    let response = bot.callback(&second).await;
    assert_eq!(response["data"]["flags"], 64);
    let text = response["data"]["content"].as_str().unwrap();
    assert!(text.contains("try again in") && text.ends_with(" s."), "{text}");

    // A mention on cooldown gets a ⏳ reaction instead of another message in the channel.
    let question = bot.mention(MICRONEEDLING);
    bot.sim
        .wait_request("PUT", &format!("/channels/{CHANNEL}/messages/{question}/reactions/%E2%8F%B3/@me"), 0)
        .await;
    assert_eq!(bot.sim.count("POST", "/messages"), 0);

    // Someone else may still ask.
    let other = payloads::user("44", "other", false);
    let third = bot.interaction(payloads::slash_ask(&bot.sim.id(), MICRONEEDLING, None, &other));
    assert!(description(&bot.callback(&third).await["data"]).contains("microneedling"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_in_a_channel_not_on_the_allowlist_are_ignored() {
    let bot = Bot::start(|c| c.mention_channels = vec![Snowflake(601)]).await;
    bot.mention(MICRONEEDLING); // in channel 600
    let mut allowed = MessageSpec::mention(&bot.sim.id(), MICRONEEDLING);
    allowed.channel = "601".into();
    bot.sim.dispatch("MESSAGE_CREATE", allowed.event());
    bot.sim.wait_request("POST", "/channels/601/messages", 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.sim.count("POST", &format!("/channels/{CHANNEL}/messages")), 0);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_from_bots_and_from_itself_are_ignored() {
    let bot = Bot::start(|_| {}).await;
    let mut from_bot = MessageSpec::mention(&bot.sim.id(), MICRONEEDLING);
    from_bot.author = payloads::user("77", "otherbot", true);
    bot.sim.dispatch("MESSAGE_CREATE", from_bot.event());
    let mut from_itself = MessageSpec::mention(&bot.sim.id(), MICRONEEDLING);
    from_itself.author = payloads::bot_user();
    bot.sim.dispatch("MESSAGE_CREATE", from_itself.event());
    let human = bot.mention(MICRONEEDLING);
    let reply = bot.posted(0).await;
    assert_eq!(reply["message_reference"]["message_id"], human.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bot.sim.count("POST", "/messages"), 1, "only the human was answered");
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_and_role_mentions_in_a_question_ping_nobody() {
    let bot = Bot::start(|_| {}).await;
    let mut q = MessageSpec::mention(&bot.sim.id(), "@everyone <@&555> <@42> does collagen help hydration?");
    q.mention_everyone = true;
    q.mention_roles = vec!["555".into()];
    q.mentions.push(asker());
    bot.sim.dispatch("MESSAGE_CREATE", q.event());
    let reply = bot.posted(0).await;
    assert_eq!(
        reply["allowed_mentions"],
        json!({"parse": [], "users": [], "roles": [], "replied_user": false})
    );
    assert!(description(&reply).contains("Hydration"));

    let id = bot.interaction(payloads::slash_ask(
        &bot.sim.id(),
        "@everyone <@&555> collagen hydration",
        None,
        &asker(),
    ));
    let response = bot.callback(&id).await;
    assert_eq!(response["data"]["allowed_mentions"]["parse"], json!([]));
    assert_eq!(response["data"]["allowed_mentions"]["roles"], json!([]));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passage_long_enough_to_hit_every_limit_still_gives_valid_replies() {
    let bot = Bot::start_with(SimOptions::default(), oversized(), |_| {}).await;
    bot.mention("collagen peptides bind water");
    let reply = bot.posted(0).await;
    let embed = &reply["embeds"][0];
    let d = embed["description"].as_str().unwrap();
    assert!(d.encode_utf16().count() <= 4096 && d.encode_utf16().count() > 3000, "{}", d.len());
    assert!(d.contains(" …"), "the cut is marked");
    assert!(embed["title"].as_str().unwrap().encode_utf16().count() <= 256);

    let id =
        bot.interaction(payloads::slash_ask(&bot.sim.id(), "collagen peptides bind water", None, &asker()));
    let response = bot.callback(&id).await;
    if response["type"] == 5 {
        // Retrieval over passages this long may be slow in a debug build: deferred, then edited.
        bot.sim.wait_request("PATCH", &format!("/webhooks/{BOT_ID}/token-{id}/messages/@original"), 0).await;
    } else {
        assert_eq!(response["type"], 4);
    }

    // The whole section: a response and follow-ups, each within the limits.
    let sent = bot.as_sent(&reply);
    let id =
        bot.interaction(payloads::button(&bot.sim.id(), &button_id(&sent, "Full section"), &sent, &asker()));
    let response = bot.callback(&id).await;
    assert!(response["data"]["embeds"].as_array().unwrap().len() >= 2);
    let followup = bot.sim.wait_request("POST", &format!("/webhooks/{BOT_ID}/token-{id}"), 0).await;
    assert_eq!(followup.json()["flags"], 64);
    // Validity of every body (spec and limits) is checked by `stop`.
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_source_describe_the_corpus_privately() {
    let bot = Bot::start(|_| {}).await;
    let id = bot.interaction(payloads::slash(&bot.sim.id(), "topics", vec![], &asker()));
    let topics = bot.callback(&id).await;
    assert_eq!(topics["data"]["flags"], 64);
    assert!(description(&topics["data"]).contains("Collagen Serums in Post-Procedure Skincare"));
    let id = bot.interaction(payloads::slash(&bot.sim.id(), "source", vec![], &asker()));
    let source = bot.callback(&id).await;
    assert!(description(&source["data"]).contains(bot.retriever.corpus_version()));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_command_works_only_when_a_prefix_is_configured() {
    let bot = Bot::start(|c| c.prefix = Some("!".into())).await;
    let identify = &bot.sim.frames(2)[0]["d"];
    assert_eq!(identify["intents"].as_u64().unwrap() & 32768, 32768, "MESSAGE_CONTENT with a prefix");
    let q = MessageSpec::plain(&bot.sim.id(), "!ask does collagen help hydration?");
    bot.sim.dispatch("MESSAGE_CREATE", q.event());
    let reply = bot.posted(0).await;
    assert_eq!(reply["message_reference"]["message_id"], q.id.as_str());
    assert!(description(&reply).contains("Hydration"));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_reply_in_flight_then_closes_the_shards() {
    let options = SimOptions { message_delay: Duration::from_millis(1500), ..SimOptions::default() };
    let mut bot = Bot::start_with(options, shipped(), |_| {}).await;
    bot.mention(MICRONEEDLING);
    bot.sim.wait_request("POST", "/messages", 0).await; // received, answer held for 1.5 s
    let _ = bot.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    bot.mention("does collagen help hydration?"); // after shutdown began: not answered
    let result = tokio::time::timeout(Duration::from_secs(10), &mut bot.task).await;
    assert!(matches!(result, Ok(Ok(Ok(())))), "{result:?}");
    let log = bot.sim.log();
    let post = log.iter().position(|e| matches!(e, Entry::Request(r) if r.is("POST", "/messages"))).unwrap();
    let answered =
        log.iter().position(|e| matches!(e, Entry::Responded(i) if *i == post)).expect("the reply completed");
    let closed =
        log.iter().position(|e| matches!(e, Entry::Closed(Some(1000)))).expect("the shard closed normally");
    assert!(answered < closed, "the reply in flight finished before the shards closed");
    assert_eq!(bot.sim.count("POST", "/messages"), 1, "no new work after shutdown began");
    sim::spec::assert_valid(&bot.sim.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_fails_with_one_clear_line_before_any_connection() {
    // Missing or malformed: refused before anything connects.
    for vars in [vec![], vec![("DISCORD_TOKEN".to_string(), "not a token".to_string())]] {
        let e = DiscordToken::from_vars(vars).unwrap_err().to_string();
        assert!(e.contains("DISCORD_TOKEN") && !e.contains('\n') && !e.contains("not a token"), "{e}");
    }
    // Well-formed but refused by Discord: one line, a user error, and no fallback anywhere.
    let sim = Sim::start(SimOptions { reject_token: true, ..SimOptions::default() }).await;
    let err =
        discord::serve(&config_for(&sim), token(), shipped(), std::future::pending()).await.unwrap_err();
    assert!(matches!(err, ServeError::TokenRejected(_)), "{err:?}");
    assert!(err.is_user_error());
    let line = err.to_string();
    assert!(
        line.contains("Discord rejected the token") && !line.contains('\n') && !line.contains(TOKEN),
        "{line}"
    );
    let requests = sim.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0].is("GET", "/gateway"));
    assert!(!sim.log().iter().any(|e| matches!(e, Entry::Connected)), "no gateway connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_command_registration_stops_the_bot_with_an_error() {
    init_logs();
    let sim =
        Sim::start(SimOptions { commands_response: Some(json!({"message": "no"})), ..SimOptions::default() })
            .await;
    let config = config_for(&sim);
    let run = discord::serve(&config, token(), shipped(), std::future::pending());
    let err = tokio::time::timeout(Duration::from_secs(15), run).await.expect("stops by itself").unwrap_err();
    assert!(matches!(err, ServeError::Setup(_)), "{err:?}");
    assert!(err.to_string().contains("commands could not be registered"), "{err}");
    sim::spec::assert_valid(&sim.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_discord_configuration_is_one_sentence_naming_the_key() {
    let config = DiscordConfig { api_url: "discord.com".into(), ..DiscordConfig::default() };
    let err = discord::serve(&config, token(), shipped(), std::future::pending()).await.unwrap_err();
    assert!(err.is_user_error());
    assert!(err.to_string().contains("discord.api_url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_corpus_reload_old_buttons_say_the_articles_changed_and_new_questions_use_the_new_corpus() {
    let live = Arc::new(Live::new(index(&citebot::app::embedded_corpus())));
    let bot = Bot::launch(SimOptions::default(), live.clone().into(), |_| {}, false).await;
    bot.mention(MICRONEEDLING);
    let before = bot.as_sent(&bot.posted(0).await);

    let text = "---\ntitle: Aftercare\n---\n\n# Aftercare\n\n## After microneedling\n\nA gentle serum can help after microneedling: keep the skin clean and calm for a day.\n";
    let (article, _) =
        citebot::corpus::parse_file(Path::new("aftercare.md"), "aftercare.md", text.as_bytes());
    let corpus = citebot::corpus::Corpus {
        articles: article.into_iter().collect(),
        warnings: vec![],
        fingerprint: citebot::corpus::short_id(&[text]),
    };
    live.replace(index(&corpus));

    let id = bot.interaction(payloads::button(
        &bot.sim.id(),
        &button_id(&before, "Full section"),
        &before,
        &asker(),
    ));
    let response = bot.callback(&id).await;
    assert!(
        response["data"]["content"].as_str().unwrap().contains("articles have been updated"),
        "{response}"
    );

    bot.mention(MICRONEEDLING);
    let after = bot.posted(1).await;
    assert!(description(&after).contains("keep the skin clean"), "{after}");
    assert!(after["embeds"][0]["footer"]["text"].as_str().unwrap().contains(live.current().corpus_version()));
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_is_for_server_managers_and_listed_admins_only() {
    use std::sync::atomic::Ordering;
    // The simulated member lacks Manage Server and is not listed: refused, nothing rebuilt.
    let bot = Bot::start_recording(|_| {}).await;
    let id = bot.interaction(payloads::slash(&bot.sim.id(), "reindex", vec![], &asker()));
    let refusal = bot.callback(&id).await;
    assert_eq!(refusal["type"], 4);
    assert_eq!(refusal["data"]["flags"], 64, "private");
    assert!(refusal["data"]["content"].as_str().unwrap().contains("Manage Server"));
    assert_eq!(bot.reindexed.load(Ordering::SeqCst), 0);
    bot.stop().await;

    // A listed admin: deferred privately, then the reindexer's report.
    let bot = Bot::start_recording(|c| c.admin_ids = vec![discord::Snowflake(42)]).await;
    let id = bot.interaction(payloads::slash(&bot.sim.id(), "reindex", vec![], &asker()));
    let deferred = bot.callback(&id).await;
    assert_eq!(deferred["type"], 5);
    assert_eq!(deferred["data"]["flags"], 64);
    let edit =
        bot.sim.wait_request("PATCH", &format!("/webhooks/{BOT_ID}/token-{id}/messages/@original"), 0).await;
    assert!(edit.json()["content"].as_str().unwrap().contains("2 passages changed"), "{}", edit.json());
    assert_eq!(bot.reindexed.load(Ordering::SeqCst), 1);
    bot.stop().await;

    // No reindexer configured (a bot started through `serve`): said politely.
    let bot = Bot::start(|c| c.admin_ids = vec![discord::Snowflake(42)]).await;
    let id = bot.interaction(payloads::slash(&bot.sim.id(), "reindex", vec![], &asker()));
    let response = bot.callback(&id).await;
    assert!(response["data"]["content"].as_str().unwrap().contains("not enabled"));
    bot.stop().await;
}
