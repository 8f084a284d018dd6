//! What the bot does, written once for both transports: the gateway bot (`discord/bot.rs`,
//! `discord/commands.rs`) and the HTTP interactions endpoint (`crate::http`).
//!
//! A transport turns its input (a gateway event, a signed POST) into a call here and the result
//! into its output (REST requests, an HTTP body and webhook calls). Here are the answer core
//! (answer on the blocking pool, report to the feedback sink, render or apologise), the choice
//! between answering at once and deferring, finishing a deferred reply ([`finish_deferred`] over a
//! transport's [`Followups`]), the render options, `/topics` and `/source`, the button flows
//! (next passage, full section, votes) and the cooldown notice.
//!
//! [`Command`] is the one table of commands: both transports route a command interaction through
//! [`Command::of`] and match on the result exhaustively, and the gateway registers exactly
//! [`Command::ALL`], so a new command is one variant, one function, and the compiler points at
//! every place that must serve it. Buttons are routed the same way by their id ([`Flows::press`]
//! over [`Action`]).

use super::guard::Cooldowns;
use super::ids::{Action, ButtonId};
use super::render::{self, RenderOptions, Shown};
use super::reply::Reply;
use crate::answer::Answer;
use crate::config::DiscordConfig;
use crate::feedback::{Asked, Feedback, FeedbackSink};
use crate::live::Live;
use crate::retrieval::Retriever;
use poise::serenity_prelude::CommandInteraction;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Said when a question arrives during shutdown.
pub const SHUTTING_DOWN: &str = "The bot is restarting; please ask again in a minute.";
/// Said when something broke (details are logged).
pub const SORRY: &str = "Sorry, something went wrong while searching the articles; please try again later.";
/// Said for a button whose id this version cannot read.
pub const UNSUPPORTED_BUTTON: &str = "This button is no longer supported; please ask again.";

/// Every command, as Discord names it; both transports serve each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/ask question:… [private:…]`.
    Ask,
    /// The message context-menu command "Answer from knowledge base".
    AnswerMessage,
    /// `/topics`.
    Topics,
    /// `/source`.
    Source,
    /// `/reindex` (the gateway bot rebuilds; the endpoint says it reloads by itself).
    Reindex,
}

/// How a command is invoked in Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A slash command.
    Slash,
    /// A message context-menu command.
    MessageMenu,
    /// Anything else (user context menu, …): no command of this bot.
    Other,
}

impl Command {
    /// The table, in registration order.
    pub const ALL: [Command; 5] =
        [Command::Ask, Command::AnswerMessage, Command::Topics, Command::Source, Command::Reindex];

    /// The name Discord shows and sends.
    pub fn name(self) -> &'static str {
        match self {
            Command::Ask => "ask",
            Command::AnswerMessage => "Answer from knowledge base",
            Command::Topics => "topics",
            Command::Source => "source",
            Command::Reindex => "reindex",
        }
    }

    /// How it is invoked.
    pub fn kind(self) -> Kind {
        match self {
            Command::AnswerMessage => Kind::MessageMenu,
            _ => Kind::Slash,
        }
    }

    /// The command an interaction names. The bot has one message context-menu command, so any
    /// message command is that one.
    pub fn of(kind: Kind, name: &str) -> Option<Command> {
        match kind {
            Kind::MessageMenu => Some(Command::AnswerMessage),
            Kind::Slash => Command::ALL.into_iter().find(|c| c.kind() == Kind::Slash && c.name() == name),
            Kind::Other => None,
        }
    }
}

/// Where answers come from: one retriever for the life of the bot, or the one in service in a
/// [`Live`] handle (swapped when the corpus is reloaded; buttons made for the old corpus then get
/// a polite "the articles changed").
#[derive(Debug, Clone)]
pub enum Retrieval {
    /// A fixed retriever.
    Fixed(Arc<Retriever>),
    /// A swappable one.
    Live(Arc<Live>),
}

impl Retrieval {
    /// The retriever in service now; a handler takes it once and keeps it to the end.
    pub fn current(&self) -> Arc<Retriever> {
        match self {
            Retrieval::Fixed(r) => r.clone(),
            Retrieval::Live(live) => live.current(),
        }
    }
}

impl From<Arc<Retriever>> for Retrieval {
    fn from(r: Arc<Retriever>) -> Self {
        Retrieval::Fixed(r)
    }
}

impl From<Arc<Live>> for Retrieval {
    fn from(live: Arc<Live>) -> Self {
        Retrieval::Live(live)
    }
}

/// A question's answer on the blocking pool, as joined.
pub type Joined = Result<anyhow::Result<Answer>, tokio::task::JoinError>;

/// What the flows share, whichever transport carries them.
pub struct Flows {
    /// Where answers come from.
    pub retrieval: Retrieval,
    /// `[discord]`.
    pub config: DiscordConfig,
    /// Who asked when.
    pub cooldowns: Cooldowns,
    /// Where questions' outcomes and 👍/👎 go.
    pub feedback: Arc<dyn FeedbackSink>,
    /// The words each answer highlighted, for its "Next passage" presses.
    pub highlighted: Highlighted,
}

/// How many answers' highlighted words are remembered for their "Next passage" buttons.
const REMEMBERED_ANSWERS: usize = 4096;

/// The words each answer highlighted, by the passages of its "Next passage" cycle (what a press
/// carries in its id), so that a press highlights them again in the next passage. The words stay
/// inside citebot: a press never reads them back out of the rendered message. Bounded: the
/// oldest answers are forgotten first; a press on a forgotten one (or one made before a restart)
/// quotes the next passage without highlights.
#[derive(Debug, Default)]
pub struct Highlighted(std::sync::Mutex<std::collections::VecDeque<(String, Vec<String>)>>);

impl Highlighted {
    fn key(corpus_version: &str, passages: &[String]) -> String {
        format!("{corpus_version}:{}", passages.join("."))
    }

    /// Remembers the words `reply` highlights, under its "Next passage" button's cycle (if it has
    /// one).
    fn remember(&self, reply: &Reply, words: Vec<String>) {
        let cycle = reply.buttons.iter().find_map(|b| match ButtonId::parse(&b.custom_id)? {
            ButtonId { corpus_version, action: Action::Next { passages, .. } } => {
                Some(Highlighted::key(&corpus_version, &passages))
            }
            _ => None,
        });
        let Some(key) = cycle else { return };
        let mut remembered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        remembered.retain(|(k, _)| *k != key);
        remembered.push_back((key, words));
        while remembered.len() > REMEMBERED_ANSWERS {
            remembered.pop_front();
        }
    }

    /// The words highlighted by the answer whose cycle is `passages`, if it is remembered.
    fn words(&self, corpus_version: &str, passages: &[String]) -> Option<Vec<String>> {
        let key = Highlighted::key(corpus_version, passages);
        let remembered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        remembered.iter().rev().find(|(k, _)| *k == key).map(|(_, words)| words.clone())
    }
}

/// A question being answered: the answer in time to be the first response, or still running.
pub enum Answering {
    /// Finished within `discord.defer_after_ms`.
    Now(Box<Joined>),
    /// Still running: defer, then finish with [`Flows::answer_reply`] of the task's result.
    Slow(tokio::task::JoinHandle<anyhow::Result<Answer>>),
}

/// What a button press gets.
pub enum Pressed {
    /// The pressed message, replaced (next passage).
    Update(Reply),
    /// A new message (private notices, thanks for a vote).
    Message(Reply),
    /// A whole section: the first message, then the follow-ups a long section needs.
    Section(Reply, Vec<Reply>),
}

impl Flows {
    /// The flows over `retrieval` with `config`'s cooldown, reporting to `feedback`.
    pub fn new(retrieval: Retrieval, config: DiscordConfig, feedback: Arc<dyn FeedbackSink>) -> Flows {
        Flows {
            cooldowns: Cooldowns::new(Duration::from_secs(config.cooldown_seconds)),
            retrieval,
            config,
            feedback,
            highlighted: Highlighted::default(),
        }
    }

    /// The retriever in service now.
    pub fn retriever(&self) -> Arc<Retriever> {
        self.retrieval.current()
    }

    /// Rendering options for the corpus `r` serves.
    pub fn options<'a>(&'a self, r: &'a Retriever) -> RenderOptions<'a> {
        RenderOptions {
            corpus_version: r.corpus_version(),
            disclaimer: &self.config.disclaimer,
            corpus_title: r.index().meta().corpus_title(),
        }
    }

    /// Ok when `user` may ask now, else the notice saying how long to wait.
    pub fn cooldown(&self, user: u64) -> Result<(), u64> {
        self.cooldowns.try_ask(user, Instant::now())
    }

    /// Starts answering `asked.question` with `r` on the blocking pool; the outcome goes to the
    /// feedback sink.
    pub fn spawn_answer(
        &self,
        r: &Arc<Retriever>,
        asked: Asked,
    ) -> tokio::task::JoinHandle<anyhow::Result<Answer>> {
        spawn_observed_answer(r.clone(), self.feedback.clone(), asked)
    }

    /// Waits for `task` as long as an interaction may go unanswered (`discord.defer_after_ms`;
    /// 0: not at all); None when the interaction must be deferred.
    pub async fn quick<T>(
        &self,
        task: &mut tokio::task::JoinHandle<T>,
    ) -> Option<Result<T, tokio::task::JoinError>> {
        match self.config.defer_after_ms {
            0 => None,
            ms => tokio::time::timeout(Duration::from_millis(ms), task).await.ok(),
        }
    }

    /// Answers `asked` with `r`: at once when retrieval is quick, else still running.
    pub async fn answer(&self, r: &Arc<Retriever>, asked: Asked) -> Answering {
        let mut task = self.spawn_answer(r, asked);
        match self.quick(&mut task).await {
            Some(joined) => Answering::Now(Box::new(joined)),
            None => {
                tracing::debug!("retrieval is slow; deferring the response");
                Answering::Slow(task)
            }
        }
    }

    /// The reply to an answer: rendered, private when `private` says so (a decline always is),
    /// or left as rendered when `private` is None (a channel message); the apology when
    /// answering failed (logged).
    pub fn answer_reply(&self, r: &Retriever, joined: Joined, private: Option<bool>) -> Reply {
        match joined.map_err(anyhow::Error::from).and_then(|a| a) {
            Ok(a) => {
                let reply = self.render_answer(&a, r);
                match private {
                    Some(private) => reply.private(private || !a.answered),
                    None => reply,
                }
            }
            Err(e) => {
                tracing::error!("answering failed: {e:#}");
                Reply::notice(SORRY)
            }
        }
    }

    /// An answer rendered for `r`'s corpus; the words it highlights are remembered for its "Next
    /// passage" button.
    pub fn render_answer(&self, a: &Answer, r: &Retriever) -> Reply {
        let reply = render::answer(a, &self.options(r));
        if a.answered
            && let Some(excerpt) = &a.excerpt
        {
            let words = a.highlights.iter().filter_map(|&(s, e)| excerpt.get(s..e)).map(str::to_string);
            self.highlighted.remember(&reply, words.collect());
        }
        reply
    }

    /// `/topics`: the articles and their sections.
    pub fn topics(&self) -> Reply {
        render::topics(&self.retriever().index().meta().articles)
    }

    /// `/source`: which articles, and which version of them, the answers come from.
    pub fn source(&self) -> Reply {
        let r = self.retriever();
        render::source_info(r.index().meta(), &self.options(&r))
    }

    /// Section headings matching what the user typed, as (name, value) choices.
    pub fn autocomplete(&self, partial: &str) -> Vec<(String, String)> {
        render::autocomplete(&self.retriever().index().meta().articles, partial)
    }

    /// A button press by `user_id` (in `guild_id`) on a button with `custom_id`.
    pub async fn press(
        &self,
        custom_id: &str,
        user_id: u64,
        guild_id: Option<u64>,
    ) -> anyhow::Result<Pressed> {
        let Some(id) = ButtonId::parse(custom_id) else {
            return Ok(Pressed::Message(Reply::notice(UNSUPPORTED_BUTTON)));
        };
        let r = self.retriever();
        if id.corpus_version != r.corpus_version() {
            return Ok(Pressed::Message(render::stale()));
        }
        let stale = || Pressed::Message(render::stale());
        Ok(match id.action {
            Action::Next { shown: index, passages } => {
                let words = self.highlighted.words(&id.corpus_version, &passages).unwrap_or_default();
                next_passage(&r, &words, index, &passages, &self.options(&r))
                    .await?
                    .map_or_else(stale, Pressed::Update)
            }
            Action::Section { section_id } => full_section(&r, section_id, &self.options(&r))
                .await?
                .map_or_else(stale, |(first, rest)| Pressed::Section(first, rest)),
            Action::Feedback { passage_id, helpful } => {
                let vote =
                    Feedback { passage_id, corpus_version: id.corpus_version, user_id, guild_id, helpful };
                Pressed::Message(record_vote(self.feedback.as_ref(), vote))
            }
        })
    }
}

/// Answers `asked.question` with `r` on the blocking pool, telling `sink` how long it took and how
/// it ended (answered, declined or failed). Both front ends answer through this.
pub fn spawn_observed_answer(
    r: Arc<Retriever>,
    sink: Arc<dyn FeedbackSink>,
    asked: Asked,
) -> tokio::task::JoinHandle<anyhow::Result<Answer>> {
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let answer = r.answer(&asked.question);
        sink.timed(&asked, started.elapsed());
        let answer = answer.inspect_err(|_| sink.failed(&asked))?;
        sink.outcome(&asked, &answer, r.corpus_version());
        Ok(answer)
    })
}

/// Who asked `question` with the command `interaction`, through `entry_point`.
pub fn asked_by(interaction: &CommandInteraction, question: String, entry_point: &'static str) -> Asked {
    Asked {
        entry_point,
        guild_id: interaction.guild_id.map(|g| g.get()),
        channel_id: interaction.channel_id.get(),
        user_id: interaction.user.id.get(),
        question,
    }
}

/// "Try again in N s", for a user on cooldown.
pub fn cooldown_notice(wait: u64) -> Reply {
    Reply::notice(format!("You asked a moment ago; try again in {wait} s."))
}

/// The question in a message: its text without mentions of the bot (`bot_id`).
pub fn question_text(content: &str, bot_id: u64) -> String {
    content
        .replace(&format!("<@{bot_id}>"), " ")
        .replace(&format!("<@!{bot_id}>"), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a transport sends what follows an interaction's first response.
pub trait Followups {
    /// Replaces the first (deferred) response.
    fn edit_original(&self, reply: &Reply) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Deletes the first response.
    fn delete_original(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Sends one more message.
    fn followup(&self, reply: &Reply) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Replaces a deferred response with `reply`. A private reply after a public deferral replaces the
/// public placeholder with a private follow-up.
pub async fn finish_deferred(
    hook: &impl Followups,
    deferred_private: bool,
    reply: &Reply,
) -> anyhow::Result<()> {
    if reply.ephemeral && !deferred_private {
        hook.delete_original().await?;
        hook.followup(reply).await
    } else {
        hook.edit_original(reply).await
    }
}

/// What a "Next passage" press shows: the next passage of the button's cycle, with `words` (those
/// the answer highlighted) highlighted again. None when that passage is no longer in the corpus.
pub async fn next_passage(
    r: &Arc<Retriever>,
    words: &[String],
    index: usize,
    passages: &[String],
    o: &RenderOptions<'_>,
) -> anyhow::Result<Option<Reply>> {
    let next = (index + 1) % passages.len().max(1);
    let terms = render::terms_of_words(words);
    let Some(id) = passages.get(next).cloned() else { return Ok(None) };
    let retriever = r.clone();
    let found = tokio::task::spawn_blocking(move || retriever.passage(&id)).await??;
    let Some((p, source)) = found else { return Ok(None) };
    let (excerpt, highlights, truncated) = render::excerpt_of(&p, &terms, r.settings().max_excerpt_chars);
    let shown = Shown {
        heading_path: &p.heading_path,
        source: &source,
        excerpt: &excerpt,
        highlights: &highlights,
        context: p.context.as_deref(),
        truncated,
        passage_id: &p.id,
        section_id: &p.section_id,
    };
    Ok(Some(render::passage(&shown, passages, next, o)))
}

/// Records a 👍/👎 press on a passage and returns the private thanks to send.
pub fn record_vote(sink: &dyn FeedbackSink, vote: Feedback) -> Reply {
    sink.record(vote);
    Reply::notice("Thanks, your feedback was recorded.")
}

/// What a "Full section" press sends: the first message and the follow-ups a long section needs.
/// None when the section is no longer in the corpus.
pub async fn full_section(
    r: &Arc<Retriever>,
    section_id: String,
    o: &RenderOptions<'_>,
) -> anyhow::Result<Option<(Reply, Vec<Reply>)>> {
    let retriever = r.clone();
    let found = tokio::task::spawn_blocking(move || retriever.section_with_source(&section_id)).await??;
    let Some((passages, source)) = found else { return Ok(None) };
    let mut replies = render::section(&passages, &source, o).into_iter();
    Ok(replies.next().map(|first| (first, replies.collect())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_of_the_bot_are_removed_from_the_question() {
        assert_eq!(question_text("<@1000> does it help?", 1000), "does it help?");
        assert_eq!(question_text("hey <@!1000>   does   it help <@2>?", 1000), "hey does it help <@2>?");
        assert_eq!(question_text("<@1000>", 1000), "");
    }

    /// The one table, walked: the gateway registers every command in it and nothing else, the
    /// definitions both transports get from Discord are exactly it, and the name and kind Discord
    /// sends for each lead back to it in the router both transports use.
    #[test]
    fn both_transports_serve_every_command_in_the_table() {
        let gateway = super::super::commands::all(true);
        let slash_and_menu: Vec<(String, bool)> = gateway
            .iter()
            .filter(|c| c.slash_action.is_some() || c.context_menu_action.is_some())
            .map(|c| {
                (
                    c.context_menu_name.as_deref().unwrap_or(&c.name).to_string(),
                    c.context_menu_action.is_some(),
                )
            })
            .collect();
        let table: Vec<(String, bool)> =
            Command::ALL.iter().map(|c| (c.name().to_string(), c.kind() == Kind::MessageMenu)).collect();
        assert_eq!(slash_and_menu, table, "the gateway registers exactly the table, in its order");
        let registered = super::super::register::definitions_json();
        let names: Vec<&str> =
            registered.as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, Command::ALL.map(Command::name), "register-commands registers the table");
        for c in Command::ALL {
            assert_eq!(Command::of(c.kind(), c.name()), Some(c), "{c:?}");
        }
        assert_eq!(Command::of(Kind::Slash, "nonesuch"), None);
        assert_eq!(Command::of(Kind::Other, "ask"), None);
    }

    /// Every kind of button the answers carry is served by [`Flows::press`], which both transports
    /// call: none of them is "no longer supported" or stale on the corpus that made it.
    #[tokio::test]
    async fn every_button_an_answer_carries_is_served() {
        let index = crate::index::SearchIndex::build_in_ram(&crate::app::embedded_corpus()).unwrap();
        let r = Arc::new(Retriever::new(index, crate::synonyms::Synonyms::default(), Default::default()));
        let flows = Flows::new(
            Retrieval::Fixed(r.clone()),
            DiscordConfig::default(),
            Arc::new(crate::feedback::LogFeedback),
        );
        let answer = r.answer("what does collagen serum do").unwrap();
        assert!(answer.answered);
        let reply = render::answer(&answer, &flows.options(&r));
        let ids: Vec<String> = reply.buttons.iter().map(|b| b.custom_id.clone()).collect();
        let mut kinds = std::collections::BTreeSet::new();
        for id in &ids {
            let parsed = ButtonId::parse(id).unwrap();
            kinds.insert(match parsed.action {
                Action::Next { .. } => "next",
                Action::Section { .. } => "section",
                Action::Feedback { .. } => "feedback",
            });
            let pressed = flows.press(id, 7, None).await.unwrap();
            let text = match &pressed {
                Pressed::Message(m) | Pressed::Update(m) | Pressed::Section(m, _) => format!("{m:?}"),
            };
            assert!(
                !text.contains(UNSUPPORTED_BUTTON) && !text.contains("no longer applies"),
                "{id}: {text}"
            );
        }
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["feedback", "next", "section"]);
    }

    /// "Next passage" highlights the answer's words again from the flows' own memory; a button
    /// the flows do not remember (made before a restart) quotes the same passage unhighlighted.
    #[tokio::test]
    async fn next_passage_highlights_the_answers_words_again() {
        let index = crate::index::SearchIndex::build_in_ram(&crate::app::embedded_corpus()).unwrap();
        let r = Arc::new(Retriever::new(index, crate::synonyms::Synonyms::default(), Default::default()));
        let flows = || {
            Flows::new(
                Retrieval::Fixed(r.clone()),
                DiscordConfig::default(),
                Arc::new(crate::feedback::LogFeedback),
            )
        };
        let (remembering, forgetting) = (flows(), flows());
        let answer = r.answer("what does collagen serum do for skin").unwrap();
        assert!(answer.answered && !answer.highlights.is_empty());
        let reply = remembering.answer_reply(&r, Ok(Ok(answer)), None);
        let next = reply.buttons.iter().find(|b| b.label == "Next passage").expect("a next button");
        let Pressed::Update(highlighted) = remembering.press(&next.custom_id, 7, None).await.unwrap() else {
            panic!("a next press updates the message")
        };
        let Pressed::Update(plain) = forgetting.press(&next.custom_id, 7, None).await.unwrap() else {
            panic!("a next press updates the message")
        };
        let (highlighted, plain) = (format!("{highlighted:?}"), format!("{plain:?}"));
        assert!(highlighted.contains("**"), "{highlighted}");
        assert!(!plain.contains("**"), "{plain}");
        assert_eq!(highlighted.replace("**", ""), plain);
    }
}
