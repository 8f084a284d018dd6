//! From a verified interaction to its response: the flows of [`crate::discord::flows`], which the
//! gateway bot runs too, routed by the same table ([`Command`], [`flows::Flows::press`]), with the
//! response returned as the HTTP body instead of POSTed to Discord.
//!
//! What cannot be in the HTTP response goes to Discord's interaction webhook afterwards: the answer
//! to a deferred question, and the follow-up messages of a long section. Those requests are retried
//! briefly when Discord has not yet seen the response they follow.

use super::Shared;
use crate::discord::flows::{
    self, Answering, Command, Followups, Kind, Pressed, SORRY, cooldown_notice, question_text,
};
use crate::discord::register::RegisterError;
use crate::discord::reply::Reply;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};
use serenity::{
    AutocompleteChoice, CommandDataOptionValue, CommandInteraction, CommandType, ComponentInteraction,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, ResolvedTarget,
};
use std::sync::Arc;
use std::time::Duration;

/// Attempts at a webhook request that Discord answers 404 (the response it follows not seen yet).
const WEBHOOK_ATTEMPTS: u32 = 4;
/// First wait before another attempt (doubled each time).
const WEBHOOK_RETRY: Duration = Duration::from_millis(250);

/// Answers one verified interaction.
pub(super) async fn handle(state: &Arc<Shared>, value: Value) -> Response {
    match value.get("type").and_then(Value::as_u64) {
        Some(1) => {
            state.metrics.interaction("ping");
            Json(json!({"type": 1})).into_response()
        }
        Some(2) => match parse::<CommandInteraction>(state, value, "command") {
            Some(i) => {
                state.metrics.interaction("command");
                command(state, &i).await
            }
            None => malformed(),
        },
        Some(3) => match parse::<ComponentInteraction>(state, value, "component") {
            Some(press) => {
                state.metrics.interaction("component");
                button(state, &press).await
            }
            None => malformed(),
        },
        Some(4) => match parse::<CommandInteraction>(state, value, "autocomplete") {
            Some(i) => {
                state.metrics.interaction("autocomplete");
                autocomplete(state, &i)
            }
            None => malformed(),
        },
        _ => {
            let kind = value.get("type").map_or_else(|| "none".to_string(), |t| t.to_string());
            let kind: String = kind.chars().take(40).collect();
            tracing::warn!(interaction_type = %kind, "refused an interaction of a type this bot does not handle");
            state.metrics.rejection("unknown_type");
            (StatusCode::BAD_REQUEST, "unknown interaction type\n").into_response()
        }
    }
}

/// The interaction as serenity's type, or None (logged and counted) when it does not fit.
fn parse<T: serde::de::DeserializeOwned>(state: &Shared, value: Value, what: &str) -> Option<T> {
    serde_json::from_value(value)
        .map_err(|e| {
            tracing::warn!("a signed {what} interaction could not be read: {e}");
            state.metrics.rejection("malformed");
        })
        .ok()
}

fn malformed() -> Response {
    (StatusCode::BAD_REQUEST, "malformed interaction\n").into_response()
}

fn respond(response: CreateInteractionResponse) -> Response {
    Json(response).into_response()
}

/// A channel message (type 4), private when the reply says so.
fn message(reply: &Reply) -> Response {
    respond(CreateInteractionResponse::Message(reply.to_response()))
}

async fn command(state: &Arc<Shared>, i: &CommandInteraction) -> Response {
    let kind = match i.data.kind {
        CommandType::ChatInput => Kind::Slash,
        CommandType::Message => Kind::MessageMenu,
        _ => Kind::Other,
    };
    match Command::of(kind, &i.data.name) {
        Some(Command::Ask) => ask(state, i).await,
        Some(Command::AnswerMessage) => answer_message(state, i).await,
        Some(Command::Topics) => message(&state.flows.topics()),
        Some(Command::Source) => message(&state.flows.source()),
        Some(Command::Reindex) => message(&Reply::notice(
            "This endpoint reloads by itself when the articles change (or on SIGHUP); /reindex works with the gateway bot.",
        )),
        None => {
            tracing::warn!(command = %i.data.name, "an unknown command was used; run citebot register-commands");
            message(&Reply::notice("This command is not known to this version of the bot."))
        }
    }
}

/// `/ask question:… [private:…]`.
async fn ask(state: &Arc<Shared>, i: &CommandInteraction) -> Response {
    let mut question = String::new();
    let mut private = None;
    for option in &i.data.options {
        match (option.name.as_str(), &option.value) {
            ("question", CommandDataOptionValue::String(q)) => question = q.trim().to_string(),
            ("private", CommandDataOptionValue::Boolean(p)) => private = Some(*p),
            _ => {}
        }
    }
    if question.is_empty() {
        return message(&Reply::notice("The question is empty; type one after /ask."));
    }
    if let Err(wait) = state.flows.cooldown(i.user.id.get()) {
        return message(&cooldown_notice(wait));
    }
    let private = private.unwrap_or(state.flows.config.ephemeral_default);
    answer(state, i, question, private, "slash", None).await
}

/// The message context-menu command: the answer to the chosen message, as the response, with a
/// link to that message (without a bot token it cannot be posted as a reply to it).
async fn answer_message(state: &Arc<Shared>, i: &CommandInteraction) -> Response {
    let Some(ResolvedTarget::Message(target)) = i.data.target() else {
        return message(&Reply::notice("That message has no text to answer."));
    };
    let question = question_text(&target.content, i.application_id.get());
    if question.is_empty() {
        return message(&Reply::notice("That message has no text to answer."));
    }
    if let Err(wait) = state.flows.cooldown(i.user.id.get()) {
        return message(&cooldown_notice(wait));
    }
    let link = target.id.link(target.channel_id, i.guild_id);
    answer(state, i, question, false, "context_menu", Some(format!("Answering {link}"))).await
}

/// Answers `question` directly when retrieval is quick, else defers and edits the deferral
/// through the webhook. A decline is always private.
async fn answer(
    state: &Arc<Shared>,
    i: &CommandInteraction,
    question: String,
    private: bool,
    entry_point: &'static str,
    content: Option<String>,
) -> Response {
    let r = state.flows.retriever();
    let asked = flows::asked_by(i, question, entry_point);
    let task = match state.flows.answer(&r, asked).await {
        Answering::Now(joined) => return message(&reply_to(state, &r, *joined, private, content)),
        Answering::Slow(task) => task,
    };
    let guard = state.tasks.begin_owned();
    let state = state.clone();
    let hook =
        Webhook { state: state.clone(), path: format!("/webhooks/{}/{}", i.application_id.get(), i.token) };
    tokio::spawn(async move {
        let _guard = guard;
        let reply = reply_to(&state, &r, task.await, private, content);
        if let Err(e) = flows::finish_deferred(&hook, private, &reply).await {
            tracing::warn!("the answer to a deferred interaction could not be sent: {e}");
        }
    });
    respond(CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(private)))
}

/// The answer's reply, with `content` (the link to the message answered) above it when given.
fn reply_to(
    state: &Shared,
    r: &crate::retrieval::Retriever,
    joined: flows::Joined,
    private: bool,
    content: Option<String>,
) -> Reply {
    let reply = state.flows.answer_reply(r, joined, Some(private));
    match content {
        Some(content) if reply.content.as_deref() != Some(SORRY) => Reply { content: Some(content), ..reply },
        _ => reply,
    }
}

/// An interaction's webhook (`/webhooks/{application}/{token}`), authenticated by its token.
struct Webhook {
    state: Arc<Shared>,
    path: String,
}

impl Followups for Webhook {
    async fn edit_original(&self, reply: &Reply) -> anyhow::Result<()> {
        let body = serde_json::to_value(reply.to_edit()).unwrap_or_default();
        let original = format!("{}/messages/@original", self.path);
        webhook(&self.state, reqwest::Method::PATCH, &original, Some(&body)).await?;
        Ok(())
    }

    async fn delete_original(&self) -> anyhow::Result<()> {
        let original = format!("{}/messages/@original", self.path);
        webhook(&self.state, reqwest::Method::DELETE, &original, None).await?;
        Ok(())
    }

    async fn followup(&self, reply: &Reply) -> anyhow::Result<()> {
        let body = serde_json::to_value(reply.to_followup()).unwrap_or_default();
        webhook(&self.state, reqwest::Method::POST, &self.path, Some(&body)).await?;
        Ok(())
    }
}

/// One request to the interaction's webhook, tried again a few times while Discord answers 404.
async fn webhook(
    state: &Shared,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, RegisterError> {
    let mut wait = WEBHOOK_RETRY;
    let mut attempt = 1;
    loop {
        match state.api.send(method.clone(), path, body).await {
            Err(RegisterError::Refused { status: 404, .. }) if attempt < WEBHOOK_ATTEMPTS => {
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Section headings matching what the user typed (type 8).
fn autocomplete(state: &Shared, i: &CommandInteraction) -> Response {
    let partial = i.data.autocomplete().map_or("", |o| o.value);
    let choices = state
        .flows
        .autocomplete(partial)
        .into_iter()
        .map(|(name, value)| AutocompleteChoice::new(name, value))
        .collect();
    respond(CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new().set_choices(choices)))
}

/// A button press ([`flows::Flows::press`]): next passage (type 7), whole section or feedback (private
/// type 4).
async fn button(state: &Arc<Shared>, press: &ComponentInteraction) -> Response {
    let pressed =
        state.flows.press(&press.data.custom_id, press.user.id.get(), press.guild_id.map(|g| g.get())).await;
    match pressed {
        Ok(Pressed::Update(reply)) => respond(CreateInteractionResponse::UpdateMessage(reply.to_update())),
        Ok(Pressed::Message(reply)) => message(&reply),
        Ok(Pressed::Section(first, more)) => {
            if !more.is_empty() {
                let guard = state.tasks.begin_owned();
                let hook = Webhook {
                    state: state.clone(),
                    path: format!("/webhooks/{}/{}", press.application_id.get(), press.token),
                };
                tokio::spawn(async move {
                    let _guard = guard;
                    for reply in &more {
                        if let Err(e) = hook.followup(reply).await {
                            tracing::warn!("a follow-up of a long section could not be sent: {e}");
                            break;
                        }
                    }
                });
            }
            message(&first)
        }
        Err(e) => {
            tracing::error!("a button press failed: {e:#}");
            message(&Reply::notice(SORRY))
        }
    }
}
