//! From a verified interaction to its response: the same flows as the gateway bot's commands and
//! button handler ([`crate::discord`]), with the response returned as the HTTP body instead of
//! POSTed to Discord. Replies come from [`render`] and [`Reply`] unchanged.
//!
//! What cannot be in the HTTP response goes to Discord's interaction webhook afterwards: the answer
//! to a deferred question, and the follow-up messages of a long section. Those requests are retried
//! briefly when Discord has not yet seen the response they follow.

use super::Shared;
use crate::answer::Answer;
use crate::discord::ids::{Action, ButtonId};
use crate::discord::register::RegisterError;
use crate::discord::render::{self, RenderOptions};
use crate::discord::reply::Reply;
use crate::discord::{self, SORRY, cooldown_notice, question_text};
use crate::feedback::Asked;
use crate::retrieval::Retriever;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use poise::serenity_prelude as serenity;
use serde_json::{Value, json};
use serenity::{
    AutocompleteChoice, CommandDataOptionValue, CommandInteraction, CommandType, ComponentInteraction,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage, ResolvedTarget,
    UserId,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// What every rendering needs, as the gateway bot computes it (`Bot::options`).
fn options<'a>(state: &'a Shared, r: &'a Retriever) -> RenderOptions<'a> {
    let corpus_title = match r.index().meta().articles.as_slice() {
        [one] => one.title.as_str(),
        _ => "the articles",
    };
    RenderOptions { corpus_version: r.corpus_version(), disclaimer: &state.discord.disclaimer, corpus_title }
}

async fn command(state: &Arc<Shared>, i: &CommandInteraction) -> Response {
    match (i.data.kind, i.data.name.as_str()) {
        (CommandType::ChatInput, "ask") => ask(state, i).await,
        (CommandType::Message, _) => answer_message(state, i).await,
        (CommandType::ChatInput, "topics") => {
            let r = state.live.current();
            message(&render::topics(&r.index().meta().articles))
        }
        (CommandType::ChatInput, "source") => {
            let r = state.live.current();
            message(&render::source_info(r.index().meta(), &options(state, &r)))
        }
        (CommandType::ChatInput, "reindex") => message(&Reply::notice(
            "This endpoint reloads by itself when the articles change (or on SIGHUP); /reindex works with the gateway bot.",
        )),
        (_, name) => {
            tracing::warn!(command = name, "an unknown command was used; run citebot register-commands");
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
    if let Err(wait) = state.cooldowns.try_ask(i.user.id.get(), Instant::now()) {
        return message(&cooldown_notice(wait));
    }
    let private = private.unwrap_or(state.discord.ephemeral_default);
    answer(state, i, question, private, "slash", None).await
}

/// The message context-menu command: the answer to the chosen message, as the response, with a
/// link to that message (without a bot token it cannot be posted as a reply to it).
async fn answer_message(state: &Arc<Shared>, i: &CommandInteraction) -> Response {
    let Some(ResolvedTarget::Message(target)) = i.data.target() else {
        return message(&Reply::notice("That message has no text to answer."));
    };
    let question = question_text(&target.content, UserId::new(i.application_id.get()));
    if question.is_empty() {
        return message(&Reply::notice("That message has no text to answer."));
    }
    if let Err(wait) = state.cooldowns.try_ask(i.user.id.get(), Instant::now()) {
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
    let r = state.live.current();
    let asked = Asked {
        entry_point,
        guild_id: i.guild_id.map(|g| g.get()),
        channel_id: i.channel_id.get(),
        user_id: i.user.id.get(),
        question,
    };
    let mut task = spawn_answer(state, &r, asked);
    let quick = match state.discord.defer_after_ms {
        0 => None,
        ms => tokio::time::timeout(Duration::from_millis(ms), &mut task).await.ok(),
    };
    if let Some(joined) = quick {
        return message(&reply_to(state, &r, joined, private, content));
    }
    tracing::debug!("retrieval is slow; deferring the response");
    let guard = state.tasks.begin_owned();
    let state = state.clone();
    let (application, token) = (i.application_id.get(), i.token.clone());
    tokio::spawn(async move {
        let _guard = guard;
        let reply = reply_to(&state, &r, task.await, private, content);
        if let Err(e) = finish_deferred(&state, application, &token, private, &reply).await {
            tracing::warn!("the answer to a deferred interaction could not be sent: {e}");
        }
    });
    respond(CreateInteractionResponse::Defer(CreateInteractionResponseMessage::new().ephemeral(private)))
}

/// Answers on the blocking pool; the outcome goes to the feedback sink (records and metrics).
fn spawn_answer(
    state: &Shared,
    r: &Arc<Retriever>,
    asked: Asked,
) -> tokio::task::JoinHandle<anyhow::Result<Answer>> {
    crate::discord::spawn_observed_answer(r.clone(), state.feedback.clone(), asked)
}

fn reply_to(
    state: &Shared,
    r: &Retriever,
    joined: Result<anyhow::Result<Answer>, tokio::task::JoinError>,
    private: bool,
    content: Option<String>,
) -> Reply {
    match joined.map_err(anyhow::Error::from).and_then(|a| a) {
        Ok(a) => {
            let reply = render::answer(&a, &options(state, r)).private(private || !a.answered);
            Reply { content: content.or(reply.content.clone()), ..reply }
        }
        Err(e) => {
            tracing::error!("answering failed: {e:#}");
            Reply::notice(SORRY)
        }
    }
}

/// Replaces a deferred response with `reply`; a private reply after a public deferral replaces
/// the public placeholder with a private follow-up (as the gateway bot does).
async fn finish_deferred(
    state: &Shared,
    application: u64,
    token: &str,
    deferred_private: bool,
    reply: &Reply,
) -> Result<(), RegisterError> {
    let hook = format!("/webhooks/{application}/{token}");
    let original = format!("{hook}/messages/@original");
    if reply.ephemeral && !deferred_private {
        webhook(state, reqwest::Method::DELETE, &original, None).await?;
        let body = serde_json::to_value(reply.to_followup()).unwrap_or_default();
        webhook(state, reqwest::Method::POST, &hook, Some(&body)).await?;
    } else {
        let body = serde_json::to_value(reply.to_edit()).unwrap_or_default();
        webhook(state, reqwest::Method::PATCH, &original, Some(&body)).await?;
    }
    Ok(())
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
    let r = state.live.current();
    let choices = render::autocomplete(&r.index().meta().articles, partial)
        .into_iter()
        .map(|(name, value)| AutocompleteChoice::new(name, value))
        .collect();
    respond(CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new().set_choices(choices)))
}

/// A button press: next passage (type 7), whole section or feedback (private type 4).
async fn button(state: &Arc<Shared>, press: &ComponentInteraction) -> Response {
    let Some(id) = ButtonId::parse(&press.data.custom_id) else {
        return message(&Reply::notice("This button is no longer supported; please ask again."));
    };
    let r = state.live.current();
    if id.corpus_version != r.corpus_version() {
        return message(&render::stale());
    }
    let result = match id.action {
        Action::Next { shown, passages } => next_passage(state, &r, press, shown, passages).await,
        Action::Section { section_id } => section(state, &r, press, section_id).await,
        Action::Feedback { passage_id, helpful } => Ok(message(&discord::record_vote(
            state.feedback.as_ref(),
            press,
            passage_id,
            id.corpus_version,
            helpful,
        ))),
    };
    result.unwrap_or_else(|e| {
        tracing::error!("a button press failed: {e:#}");
        message(&Reply::notice(SORRY))
    })
}

async fn next_passage(
    state: &Shared,
    r: &Arc<Retriever>,
    press: &ComponentInteraction,
    shown: usize,
    passages: Vec<String>,
) -> anyhow::Result<Response> {
    Ok(match discord::next_passage(r, press, shown, &passages, &options(state, r)).await? {
        Some(reply) => respond(CreateInteractionResponse::UpdateMessage(reply.to_update())),
        None => message(&render::stale()),
    })
}

async fn section(
    state: &Arc<Shared>,
    r: &Arc<Retriever>,
    press: &ComponentInteraction,
    section_id: String,
) -> anyhow::Result<Response> {
    let Some((first, more)) = discord::full_section(r, section_id, &options(state, r)).await? else {
        return Ok(message(&render::stale()));
    };
    if !more.is_empty() {
        let guard = state.tasks.begin_owned();
        let state = state.clone();
        let hook = format!("/webhooks/{}/{}", press.application_id.get(), press.token);
        tokio::spawn(async move {
            let _guard = guard;
            for reply in more {
                let body = serde_json::to_value(reply.to_followup()).unwrap_or_default();
                if let Err(e) = webhook(&state, reqwest::Method::POST, &hook, Some(&body)).await {
                    tracing::warn!("a follow-up of a long section could not be sent: {e}");
                    break;
                }
            }
        });
    }
    Ok(message(&first))
}
