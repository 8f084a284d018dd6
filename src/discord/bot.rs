//! The gateway transport: the bot's state and its handlers for mentions and buttons, and the
//! REST side of the flows in [`super::flows`] (first responses, deferrals, the interaction
//! webhook as a [`Followups`]). What a command or button does is written in the flows, shared
//! with the HTTP endpoint; this file only turns gateway events into calls and replies into REST.
//!
//! Every handler first takes a [`WorkGuard`] (refused once shutdown begins, and waited for by it),
//! runs retrieval on the blocking pool, and sends through [`Reply`], which sets `allowed_mentions`
//! on every request. Requests go through [`Rest`] (rate limits honoured, transient failures
//! retried, a retry never a second reply), never through serenity's cache-checked helpers: those
//! silently send nothing when the cache lacks a guild's permissions. An event already handled (a
//! replay after a gateway RESUME) is recognised by its id ([`Seen`]) and not answered again.

use super::flows::{self, Answering, Flows, Followups, Pressed, SHUTTING_DOWN};
use super::guard::{SEEN_IDS, Seen, Work, WorkGuard, channel_allowed};
use super::reply::Reply;
use super::rest::Rest;
use crate::feedback::Asked;
use poise::serenity_prelude as serenity;
use serenity::{
    ApplicationId, CommandInteraction, ComponentInteraction, CreateInteractionResponse,
    CreateInteractionResponseMessage, InteractionId, Message, ReactionType, UserId,
};
use std::sync::Arc;

/// What commands and handlers share (poise's user data): the flows, and the gateway's own state.
pub struct Bot {
    /// What the bot does, shared with the HTTP endpoint.
    pub flows: Flows,
    /// Work in flight, for a graceful shutdown.
    pub work: Arc<Work>,
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

impl Bot {
    /// Builds the state.
    pub fn new(flows: Flows, work: Arc<Work>, bot_id: UserId, rest: Rest, reindex: Option<Reindex>) -> Bot {
        Bot { flows, work, bot_id, rest, seen: Seen::new(SEEN_IDS), reindex }
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

    /// Begins a piece of work, or None during shutdown.
    pub fn begin(&self) -> Option<WorkGuard<'_>> {
        self.work.begin()
    }

    /// Ok when the user may ask now, else the seconds to wait.
    pub fn cooldown(&self, user: UserId) -> Result<(), u64> {
        self.flows.cooldown(user.get())
    }
}

/// The question in a message: its text without mentions of the bot.
pub fn question_text(content: &str, bot_id: UserId) -> String {
    flows::question_text(content, bot_id.get())
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
    let r = bot.flows.retriever();
    let asked = flows::asked_by(interaction, question, entry_point);
    match bot.flows.answer(&r, asked).await {
        Answering::Now(joined) => {
            respond(bot, interaction, &bot.flows.answer_reply(&r, *joined, Some(private))).await
        }
        Answering::Slow(task) => {
            defer(bot, interaction, private).await?;
            let reply = bot.flows.answer_reply(&r, task.await, Some(private));
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

/// An interaction's webhook, through [`Rest`].
pub struct Hook<'a> {
    rest: &'a Rest,
    application: ApplicationId,
    token: &'a str,
    id: InteractionId,
}

impl<'a> Hook<'a> {
    /// The webhook of `interaction` (its application, token and id).
    pub fn new(bot: &'a Bot, application: ApplicationId, token: &'a str, id: InteractionId) -> Hook<'a> {
        Hook { rest: &bot.rest, application, token, id }
    }
}

impl Followups for Hook<'_> {
    async fn edit_original(&self, reply: &Reply) -> anyhow::Result<()> {
        self.rest.edit_original(self.application, self.token, self.id, &reply.to_edit()).await?;
        Ok(())
    }

    async fn delete_original(&self) -> anyhow::Result<()> {
        self.rest.delete_original(self.application, self.token, self.id).await?;
        Ok(())
    }

    async fn followup(&self, reply: &Reply) -> anyhow::Result<()> {
        self.rest.followup(self.application, self.token, self.id, &reply.to_followup()).await?;
        Ok(())
    }
}

/// Replaces a deferred response with `reply` ([`flows::finish_deferred`]).
pub async fn finish_deferred(
    bot: &Bot,
    interaction: &CommandInteraction,
    deferred_private: bool,
    reply: &Reply,
) -> anyhow::Result<()> {
    let hook = Hook::new(bot, interaction.application_id, &interaction.token, interaction.id);
    flows::finish_deferred(&hook, deferred_private, reply).await
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
    if let Some(prefix) = bot.flows.config.prefix.as_deref()
        && msg.content.trim_start().starts_with(prefix)
    {
        return Ok(()); // a text command, handled by poise
    }
    let allowlist: Vec<u64> = bot.flows.config.mention_channels.iter().map(|c| c.0).collect();
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
    let r = bot.flows.retriever();
    let asked = Asked {
        entry_point,
        guild_id: asker.guild_id.map(|g| g.get()),
        channel_id: asker.channel_id.get(),
        user_id: asker.author.id.get(),
        question,
    };
    let joined = Ok(bot.flows.spawn_answer(&r, asked).await?);
    let reply = bot.flows.answer_reply(&r, joined, None);
    let message = reply.to_message(Some(target), bot.flows.config.ping_author_on_reply);
    bot.rest.post_message(target.channel_id, message, asker.id.get()).await?;
    Ok(())
}

/// A button press: [`Flows::press`], sent through [`Rest`].
pub async fn on_button(bot: &Bot, press: &ComponentInteraction) -> anyhow::Result<()> {
    if !bot.first_delivery(press.id.get()) {
        return Ok(());
    }
    let respond = |reply: Reply| async move {
        let response = CreateInteractionResponse::Message(reply.to_response());
        bot.rest.respond(press.id, &press.token, &response).await
    };
    let Some(_work) = bot.begin() else { return Ok(respond(Reply::notice(SHUTTING_DOWN)).await?) };
    let user = press.user.id.get();
    match bot.flows.press(&press.data.custom_id, user, press.guild_id.map(|g| g.get())).await? {
        Pressed::Update(reply) => {
            let update = CreateInteractionResponse::UpdateMessage(reply.to_update());
            bot.rest.respond(press.id, &press.token, &update).await?;
        }
        Pressed::Message(reply) => respond(reply).await?,
        Pressed::Section(first, rest) => {
            respond(first).await?;
            let hook = Hook::new(bot, press.application_id, &press.token, press.id);
            for more in &rest {
                hook.followup(more).await?;
            }
        }
    }
    Ok(())
}
