//! The bot's state and its handlers: mentions, buttons, and the answer flow shared by every way
//! of asking.
//!
//! Every handler first takes a [`WorkGuard`] (refused once shutdown begins, and waited for by it),
//! runs retrieval on the blocking pool, and sends through [`Reply`], which sets `allowed_mentions`
//! on every request. Requests go through [`Rest`] (rate limits honoured, transient failures
//! retried, a retry never a second reply), never through serenity's cache-checked helpers: those
//! silently send nothing when the cache lacks a guild's permissions. An event already handled (a
//! replay after a gateway RESUME) is recognised by its id ([`Seen`]) and not answered again.

use super::guard::{Cooldowns, SEEN_IDS, Seen, Work, WorkGuard, channel_allowed};
use super::ids::{Action, ButtonId};
use super::render::{self, RenderOptions, Shown};
use super::reply::Reply;
use super::rest::Rest;
use super::text;
use crate::answer::Answer;
use crate::config::DiscordConfig;
use crate::feedback::{Asked, Feedback, FeedbackSink};
use crate::live::Live;
use crate::retrieval::Retriever;
use poise::serenity_prelude as serenity;
use serenity::{
    CommandInteraction, ComponentInteraction, CreateInteractionResponse, CreateInteractionResponseMessage,
    Message, ReactionType, UserId,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// What commands and handlers share (poise's user data).
pub struct Bot {
    /// Where answers come from.
    pub retrieval: Retrieval,
    /// `[discord]`.
    pub config: DiscordConfig,
    /// Who asked when.
    pub cooldowns: Cooldowns,
    /// Work in flight, for a graceful shutdown.
    pub work: Arc<Work>,
    /// Where 👍/👎 go.
    pub feedback: Arc<dyn FeedbackSink>,
    /// The bot's own user id (from READY).
    pub bot_id: UserId,
    /// Where replies are sent.
    pub rest: Rest,
    /// The events already handled.
    pub seen: Seen,
    /// Rebuilds the index for `/reindex` (None: reloading is not enabled).
    pub reindex: Option<Reindex>,
}

/// Rebuilds the index and describes the outcome in a sentence or a few lines (what changed and the
/// smoke figures, or why the old index stays in service).
pub type Reindex =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> + Send + Sync>;

/// The error type of commands and handlers.
pub type Error = anyhow::Error;
/// poise's context with the bot's data.
pub type Context<'a> = poise::Context<'a, Bot, Error>;

/// Said when a question arrives during shutdown.
pub const SHUTTING_DOWN: &str = "The bot is restarting; please ask again in a minute.";
/// Said when something broke (details are logged).
pub const SORRY: &str = "Sorry, something went wrong while searching the articles; please try again later.";

impl Bot {
    /// Builds the state.
    pub fn new(
        retrieval: Retrieval,
        config: DiscordConfig,
        work: Arc<Work>,
        feedback: Arc<dyn FeedbackSink>,
        bot_id: UserId,
        rest: Rest,
        reindex: Option<Reindex>,
    ) -> Bot {
        Bot {
            cooldowns: Cooldowns::new(Duration::from_secs(config.cooldown_seconds)),
            retrieval,
            config,
            work,
            feedback,
            bot_id,
            rest,
            seen: Seen::new(SEEN_IDS),
            reindex,
        }
    }

    /// True the first time the event with this id (a message or interaction) arrives; a repeat
    /// (Discord replaying events after a RESUME) is logged and must be ignored.
    pub fn first_delivery(&self, id: u64) -> bool {
        let first = self.seen.first_time(id);
        if !first {
            tracing::debug!(
                id,
                "an event already handled arrived again (replayed after a reconnect); ignored"
            );
        }
        first
    }

    /// The retriever in service now.
    pub fn retriever(&self) -> Arc<Retriever> {
        self.retrieval.current()
    }

    /// Rendering options for the corpus `r` serves.
    pub fn options<'a>(&'a self, r: &'a Retriever) -> RenderOptions<'a> {
        let corpus_title = match r.index().meta().articles.as_slice() {
            [one] => one.title.as_str(),
            _ => "the articles",
        };
        RenderOptions {
            corpus_version: r.corpus_version(),
            disclaimer: &self.config.disclaimer,
            corpus_title,
        }
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

    /// Begins a piece of work, or None during shutdown.
    pub fn begin(&self) -> Option<WorkGuard<'_>> {
        self.work.begin()
    }

    /// Ok when the user may ask now, else the seconds to wait.
    pub fn cooldown(&self, user: UserId) -> Result<(), u64> {
        self.cooldowns.try_ask(user.get(), Instant::now())
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

/// "Try again in N s", for a user on cooldown.
pub fn cooldown_notice(wait: u64) -> Reply {
    Reply::notice(format!("You asked a moment ago; try again in {wait} s."))
}

/// The question in a message: its text without mentions of the bot.
pub fn question_text(content: &str, bot_id: UserId) -> String {
    let id = bot_id.get();
    content
        .replace(&format!("<@{id}>"), " ")
        .replace(&format!("<@!{id}>"), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Answers a command interaction with the answer to `question`: directly when
/// retrieval is quick, else after deferring. A decline is always private.
pub async fn answer_interaction(
    bot: &Bot,
    interaction: &CommandInteraction,
    question: String,
    private: bool,
    entry_point: &'static str,
) -> anyhow::Result<()> {
    let r = bot.retriever();
    let asked = Asked {
        entry_point,
        guild_id: interaction.guild_id.map(|g| g.get()),
        channel_id: interaction.channel_id.get(),
        user_id: interaction.user.id.get(),
        question,
    };
    let mut task = bot.spawn_answer(&r, asked);
    match bot.quick(&mut task).await {
        Some(joined) => {
            let reply = match joined.map_err(anyhow::Error::from).and_then(|r| r) {
                Ok(a) => render::answer(&a, &bot.options(&r)).private(private || !a.answered),
                Err(e) => {
                    tracing::error!("answering failed: {e:#}");
                    Reply::notice(SORRY)
                }
            };
            respond(bot, interaction, &reply).await
        }
        None => {
            tracing::debug!("retrieval is slow; deferring the response");
            defer(bot, interaction, private).await?;
            let reply = match task.await.map_err(anyhow::Error::from).and_then(|r| r) {
                Ok(a) => render::answer(&a, &bot.options(&r)).private(private || !a.answered),
                Err(e) => {
                    tracing::error!("answering failed: {e:#}");
                    Reply::notice(SORRY)
                }
            };
            finish_deferred(bot, interaction, private, &reply).await
        }
    }
}

/// The first response to a command interaction.
pub async fn respond(bot: &Bot, interaction: &CommandInteraction, reply: &Reply) -> anyhow::Result<()> {
    let response = CreateInteractionResponse::Message(reply.to_response());
    bot.rest.respond(interaction.id, &interaction.token, &response).await?;
    Ok(())
}

/// Defers a command interaction ("thinking…"), privately or not.
pub async fn defer(bot: &Bot, interaction: &CommandInteraction, private: bool) -> anyhow::Result<()> {
    let defer = CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(private));
    bot.rest.respond(interaction.id, &interaction.token, &defer).await?;
    Ok(())
}

/// Replaces a deferred response with `reply`. A private reply after a public deferral replaces the
/// public placeholder with a private follow-up.
pub async fn finish_deferred(
    bot: &Bot,
    interaction: &CommandInteraction,
    deferred_private: bool,
    reply: &Reply,
) -> anyhow::Result<()> {
    let (app, token, id) = (interaction.application_id, interaction.token.as_str(), interaction.id);
    if reply.ephemeral && !deferred_private {
        bot.rest.delete_original(app, token, id).await?;
        bot.rest.followup(app, token, id, &reply.to_followup()).await?;
    } else {
        bot.rest.edit_original(app, token, id, &reply.to_edit()).await?;
    }
    Ok(())
}

/// A mention of the bot (or a message on which the bot is mentioned in a reply): answers in the
/// channel, as a reply, if the channel allows it.
pub async fn on_message(bot: &Bot, msg: &Message) -> anyhow::Result<()> {
    if msg.author.bot || msg.author.id == bot.bot_id || msg.webhook_id.is_some() {
        return Ok(());
    }
    if !msg.mentions_user_id(bot.bot_id) {
        return Ok(());
    }
    if let Some(prefix) = bot.config.prefix.as_deref()
        && msg.content.trim_start().starts_with(prefix)
    {
        return Ok(()); // a text command, handled by poise
    }
    let allowlist: Vec<u64> = bot.config.mention_channels.iter().map(|c| c.0).collect();
    if !channel_allowed(&allowlist, msg.channel_id.get()) {
        tracing::debug!(
            channel = msg.channel_id.get(),
            "mention in a channel not on discord.mention_channels"
        );
        return Ok(());
    }
    if !bot.first_delivery(msg.id.get()) {
        return Ok(());
    }
    let Some(_work) = bot.begin() else { return Ok(()) };
    let mut question = question_text(&msg.content, bot.bot_id);
    let mut target = msg;
    if question.is_empty()
        && let Some(referenced) = msg.referenced_message.as_deref()
        && !referenced.author.bot
    {
        // "@citebot" in reply to someone's question: answer that question.
        question = question_text(&referenced.content, bot.bot_id);
        target = referenced;
    }
    if question.is_empty() {
        let help = Reply::notice(
            "Ask me a question after the mention, e.g. “@citebot what does collagen serum do?”, or use /ask.",
        );
        bot.rest.post_message(msg.channel_id, help.to_message(Some(msg), false), msg.id.get()).await?;
        return Ok(());
    }
    if let Err(wait) = bot.cooldown(msg.author.id) {
        // No channel message for this: a reaction says "wait" without adding to the conversation.
        tracing::debug!(user = msg.author.id.get(), wait, "mention on cooldown");
        bot.rest.react(msg.channel_id, msg.id, &ReactionType::Unicode("⏳".into())).await?;
        return Ok(());
    }
    answer_in_channel(bot, question, target, msg, "mention").await
}

/// Answers `question`, asked by `asker`'s author, with a channel message replying to `target`
/// (posted at most once for `asker`, even if sending is retried).
pub async fn answer_in_channel(
    bot: &Bot,
    question: String,
    target: &Message,
    asker: &Message,
    entry_point: &'static str,
) -> anyhow::Result<()> {
    let r = bot.retriever();
    let asked = Asked {
        entry_point,
        guild_id: asker.guild_id.map(|g| g.get()),
        channel_id: asker.channel_id.get(),
        user_id: asker.author.id.get(),
        question,
    };
    let reply = match bot.spawn_answer(&r, asked).await? {
        Ok(a) => render::answer(&a, &bot.options(&r)),
        Err(e) => {
            tracing::error!("answering failed: {e:#}");
            Reply::notice(SORRY)
        }
    };
    let message = reply.to_message(Some(target), bot.config.ping_author_on_reply);
    bot.rest.post_message(target.channel_id, message, asker.id.get()).await?;
    Ok(())
}

/// A button press.
pub async fn on_button(bot: &Bot, press: &ComponentInteraction) -> anyhow::Result<()> {
    if !bot.first_delivery(press.id.get()) {
        return Ok(());
    }
    let respond = |reply: Reply| async move {
        let response = CreateInteractionResponse::Message(reply.to_response());
        bot.rest.respond(press.id, &press.token, &response).await
    };
    let Some(_work) = bot.begin() else { return Ok(respond(Reply::notice(SHUTTING_DOWN)).await?) };
    let Some(id) = ButtonId::parse(&press.data.custom_id) else {
        return Ok(respond(Reply::notice("This button is no longer supported; please ask again.")).await?);
    };
    let r = bot.retriever();
    if id.corpus_version != r.corpus_version() {
        return Ok(respond(render::stale()).await?);
    }
    match id.action {
        Action::Next { shown, passages } => {
            let Some(reply) = next_passage(&r, press, shown, &passages, &bot.options(&r)).await? else {
                return Ok(respond(render::stale()).await?);
            };
            let update = CreateInteractionResponse::UpdateMessage(reply.to_update());
            bot.rest.respond(press.id, &press.token, &update).await?;
        }
        Action::Section { section_id } => {
            let Some((first, rest)) = full_section(&r, section_id, &bot.options(&r)).await? else {
                return Ok(respond(render::stale()).await?);
            };
            respond(first).await?;
            for more in rest {
                bot.rest.followup(press.application_id, &press.token, press.id, &more.to_followup()).await?;
            }
        }
        Action::Feedback { passage_id, helpful } => {
            respond(record_vote(bot.feedback.as_ref(), press, passage_id, id.corpus_version, helpful))
                .await?;
        }
    }
    Ok(())
}

/// What a "Next passage" press shows: the next passage of the button's cycle, with the words bolded
/// in the pressed message bolded again. None when that passage is no longer in the corpus.
pub async fn next_passage(
    r: &Arc<Retriever>,
    press: &ComponentInteraction,
    shown: usize,
    passages: &[String],
    o: &RenderOptions<'_>,
) -> anyhow::Result<Option<Reply>> {
    let next = (shown + 1) % passages.len().max(1);
    let words = press.message.embeds.first().and_then(|e| e.description.as_deref()).map(text::bold_words);
    let terms = render::terms_of_words(&words.unwrap_or_default());
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
pub fn record_vote(
    sink: &dyn FeedbackSink,
    press: &serenity::ComponentInteraction,
    passage_id: String,
    corpus_version: String,
    helpful: bool,
) -> Reply {
    sink.record(Feedback {
        passage_id,
        corpus_version,
        user_id: press.user.id.get(),
        guild_id: press.guild_id.map(|g| g.get()),
        helpful,
    });
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
        let bot = UserId::new(1000);
        assert_eq!(question_text("<@1000> does it help?", bot), "does it help?");
        assert_eq!(question_text("hey <@!1000>   does   it help <@2>?", bot), "hey does it help <@2>?");
        assert_eq!(question_text("<@1000>", bot), "");
    }
}
