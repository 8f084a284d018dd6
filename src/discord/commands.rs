//! The commands people use: `/ask` (with autocomplete), the message context-menu command "Answer
//! from knowledge base", `/topics`, `/source`, and the optional text command `<prefix>ask`.
//!
//! Each command's `///` comment is its Discord description (at most 100 characters). The slash
//! and context-menu commands are the table of [`super::flows::Command`], and they answer through
//! [`super::flows`] and [`super::bot`], so every entry point, on either transport, shares one
//! answer flow and one set of guard rails.

use super::bot::{self, Bot, Context, Error};
use super::flows::{Answering, Command, SHUTTING_DOWN, SORRY, cooldown_notice};
use super::reply::Reply;
use super::text;
use poise::serenity_prelude as serenity;
use serenity::{AutocompleteChoice, CreateAutocompleteResponse};

/// The commands to register: the table ([`Command::ALL`]), plus the text command when a prefix
/// is configured.
pub fn all(with_prefix: bool) -> Vec<poise::Command<Bot, Error>> {
    // poise finds a text command by name alone, so the text `ask` must come before the slash
    // `ask` (slash lookup also checks the kind and skips it).
    let mut commands = if with_prefix { vec![ask_text()] } else { Vec::new() };
    commands.extend(Command::ALL.map(|c| match c {
        Command::Ask => ask(),
        Command::AnswerMessage => answer_message(),
        Command::Topics => topics(),
        Command::Source => source(),
        Command::Reindex => reindex(),
    }));
    commands
}

async fn suggest_sections(ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let choices = ctx
        .data()
        .flows
        .autocomplete(partial)
        .into_iter()
        .map(|(name, value)| AutocompleteChoice::new(name, value));
    CreateAutocompleteResponse::new().set_choices(choices.collect())
}

/// Ask a question; the answer quotes the article it comes from.
#[poise::command(slash_command)]
pub async fn ask(
    ctx: Context<'_>,
    #[description = "Your question, in your own words"]
    #[autocomplete = "suggest_sections"]
    #[max_length = 500]
    question: String,
    #[description = "Show the answer only to you"] private: Option<bool>,
) -> Result<(), Error> {
    let poise::Context::Application(actx) = ctx else { return Ok(()) };
    let bot = ctx.data();
    let interaction = actx.interaction;
    let Some(_work) = bot.begin() else {
        return bot::respond(bot, interaction, &Reply::notice(SHUTTING_DOWN)).await;
    };
    let question = question.trim().to_string();
    if question.is_empty() {
        return bot::respond(bot, interaction, &Reply::notice("The question is empty; type one after /ask."))
            .await;
    }
    if let Err(wait) = bot.cooldown(ctx.author().id) {
        return bot::respond(bot, interaction, &cooldown_notice(wait)).await;
    }
    let private = private.unwrap_or(bot.flows.config.ephemeral_default);
    bot::answer_interaction(bot, interaction, question, private, "slash").await
}

/// Right-click a question: the bot replies to that message with the answer.
#[poise::command(context_menu_command = "Answer from knowledge base")]
pub async fn answer_message(ctx: Context<'_>, msg: serenity::Message) -> Result<(), Error> {
    let poise::Context::Application(actx) = ctx else { return Ok(()) };
    let bot = ctx.data();
    let interaction = actx.interaction;
    let Some(_work) = bot.begin() else {
        return bot::respond(bot, interaction, &Reply::notice(SHUTTING_DOWN)).await;
    };
    let question = bot::question_text(&msg.content, bot.bot_id);
    if question.is_empty() {
        return bot::respond(bot, interaction, &Reply::notice("That message has no text to answer.")).await;
    }
    if let Err(wait) = bot.cooldown(ctx.author().id) {
        return bot::respond(bot, interaction, &cooldown_notice(wait)).await;
    }
    let r = bot.flows.retriever();
    let asked = super::flows::asked_by(interaction, question, "context_menu");
    let (joined, deferred) = match bot.flows.answer(&r, asked).await {
        Answering::Now(joined) => (*joined, false),
        Answering::Slow(task) => {
            bot::defer(bot, interaction, true).await?;
            (task.await, true)
        }
    };
    let reply = match joined.map_err(Error::from).and_then(|r| r) {
        Err(e) => {
            tracing::error!("answering failed: {e:#}");
            Reply::notice(SORRY)
        }
        Ok(a) if !a.answered => bot.flows.render_answer(&a, &r).private(true),
        Ok(a) => {
            let public = bot.flows.render_answer(&a, &r);
            // At most one public answer per use of the command, even if sending is retried.
            let message = public.to_message(Some(&msg), bot.flows.config.ping_author_on_reply);
            let sent = bot.rest.post_message(msg.channel_id, message, interaction.id.get()).await;
            match sent {
                Ok(_) => {
                    let section = a.section.last().map(String::as_str).unwrap_or("the article");
                    Reply::notice(format!(
                        "Replied to the message with the answer from “{}”.",
                        text::escape(&text::cut(section, 200))
                    ))
                }
                Err(e) => {
                    tracing::warn!("could not post the answer in the channel: {e}");
                    Reply {
                        content: Some(
                            "I couldn't post in this channel, so here is the answer just for you.".into(),
                        ),
                        ..public
                    }
                    .private(true)
                }
            }
        }
    };
    if deferred {
        bot::finish_deferred(bot, interaction, true, &reply).await
    } else {
        bot::respond(bot, interaction, &reply).await
    }
}

/// Lists the articles and their sections.
#[poise::command(slash_command)]
pub async fn topics(ctx: Context<'_>) -> Result<(), Error> {
    let poise::Context::Application(actx) = ctx else { return Ok(()) };
    bot::respond(ctx.data(), actx.interaction, &ctx.data().flows.topics()).await
}

/// Which articles, and which version of them, the answers come from.
#[poise::command(slash_command)]
pub async fn source(ctx: Context<'_>) -> Result<(), Error> {
    let poise::Context::Application(actx) = ctx else { return Ok(()) };
    let bot = ctx.data();
    bot::respond(bot, actx.interaction, &bot.flows.source()).await
}

/// Rebuild the index from the articles (server managers only); says what changed.
// No `default_member_permissions`: poise sends it as a string where Discord's API description wants
// an integer, so the permission is checked here, on every use.
#[poise::command(slash_command, guild_only)]
pub async fn reindex(ctx: Context<'_>) -> Result<(), Error> {
    let poise::Context::Application(actx) = ctx else { return Ok(()) };
    let bot = ctx.data();
    let interaction = actx.interaction;
    let manages_server =
        interaction.member.as_ref().and_then(|m| m.permissions).is_some_and(|p| p.manage_guild());
    let listed = bot.flows.config.admin_ids.iter().any(|id| id.0 == interaction.user.id.get());
    if !(manages_server || listed) {
        let refusal = "Only members with the Manage Server permission (or listed in discord.admin_ids) can rebuild the index.";
        return bot::respond(bot, interaction, &Reply::notice(refusal)).await;
    }
    let Some(reindex) = bot.reindex.clone() else {
        return bot::respond(bot, interaction, &Reply::notice("Reloading is not enabled for this bot."))
            .await;
    };
    let Some(_work) = bot.begin() else {
        return bot::respond(bot, interaction, &Reply::notice(SHUTTING_DOWN)).await;
    };
    bot::defer(bot, interaction, true).await?;
    let outcome = reindex().await;
    bot::finish_deferred(bot, interaction, true, &Reply::notice(text::cut(&text::escape(&outcome), 1900)))
        .await
}

/// Ask a question (text command; needs the MESSAGE_CONTENT intent).
#[poise::command(prefix_command, rename = "ask")]
pub async fn ask_text(ctx: Context<'_>, #[rest] question: Option<String>) -> Result<(), Error> {
    let poise::Context::Prefix(pctx) = ctx else { return Ok(()) };
    let bot = ctx.data();
    let msg = pctx.msg;
    let Some(_work) = bot.begin() else { return Ok(()) };
    let question = question.map(|q| bot::question_text(&q, bot.bot_id)).unwrap_or_default();
    if question.is_empty() {
        let help =
            Reply::notice("Type a question after the command, e.g. “ask what does collagen serum do?”.");
        bot.rest.post_message(msg.channel_id, help.to_message(Some(msg), false), msg.id.get()).await?;
        return Ok(());
    }
    if let Err(wait) = bot.cooldown(msg.author.id) {
        tracing::debug!(user = msg.author.id.get(), wait, "text command on cooldown");
        bot.rest.react(msg.channel_id, msg.id, &serenity::ReactionType::Unicode("⏳".into())).await?;
        return Ok(());
    }
    bot::answer_in_channel(bot, question, msg, msg, "prefix").await
}
