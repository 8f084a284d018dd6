//! The Discord adapter: `citebot serve`. The only module that knows Discord.
//!
//! It connects to Discord's gateway with serenity and poise and answers questions asked with
//! `/ask`, by mentioning the bot, with the message context-menu command "Answer from knowledge
//! base", or (optionally) with a text command, by quoting the corpus through
//! [`crate::retrieval::Retriever`]. It is not a second search engine: retrieval, excerpts and
//! confidence come from the core, unchanged; this module only renders them for Discord
//! ([`render`]), carries button state in button ids ([`ids`]) and applies the guard rails
//! ([`guard`]). What each command and button does is written once in [`flows`], for the gateway
//! (`bot.rs`, `commands.rs`) and for the HTTP endpoint (`crate::http`) alike.
//!
//! Invariants:
//! - The configured `discord.api_url` and the gateway address it returns are the only Discord
//!   addresses used. Off discord.com, serenity's rate limiter is disabled (it would rebuild
//!   requests without the proxy), the token is never set again after the HTTP client is built (that
//!   would drop the proxy), and the gateway address fetched and checked here is pinned into the
//!   client (serenity falls back to the real gateway when its own fetch fails).
//! - Every message sent carries `allowed_mentions` that ping nobody ([`reply::no_pings`]).
//! - Every reply goes through [`rest::Rest`]: 429s waited out for their `retry_after`, 5xx and
//!   time-outs retried a bounded number of times with backoff, then logged and counted in
//!   [`DeliveryStats`]; a retry never posts a second reply.
//! - Each message and interaction is handled once: an event Discord delivers again (replayed after
//!   a gateway RESUME) is recognised by its id ([`guard::Seen`], bounded) and ignored.
//! - Reconnecting is serenity's: RESUME after op 7, a resumable op 9 or a dropped connection;
//!   a fresh IDENTIFY after a non-resumable op 9 or missed heartbeat acknowledgements. Close codes
//!   that retrying cannot fix (4004, 4013, 4014) stop the bot with one sentence saying what to fix.
//! - A gateway event serenity cannot read is logged as a warning ([`events::Unreadable`]) and
//!   skipped; nothing else is affected.
//! - Retrieval runs on the blocking pool; interactions are deferred when it is slow.
//! - A start-up failure (commands not registered) stops the bot with an error: poise would
//!   otherwise wait forever and handle nothing.
//! - The token comes from the environment only and never reaches `Debug` or a log line.

mod bot;
mod commands;
pub mod events;
pub mod flows;
pub mod guard;
pub mod ids;
pub mod register;
pub mod render;
pub mod reply;
mod rest;
pub mod shards;
pub mod text;
pub mod token;

pub use crate::config::discord::{DiscordConfig, ShardSpec, Snowflake};
pub use bot::{Reindex, question_text};
pub use flows::{
    Command, Flows, Retrieval, SHUTTING_DOWN, SORRY, cooldown_notice, full_section, next_passage,
    record_vote, spawn_observed_answer,
};
pub use rest::{DeliveryCounts, DeliveryError, DeliveryStats, RetryPolicy};
pub use token::{DiscordToken, TokenError};

use crate::feedback::{FeedbackSink, LogFeedback};
use guard::Work;
use poise::serenity_prelude as serenity;
use serenity::{FullEvent, GatewayIntents, Interaction};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use token::is_loopback;

/// Why the bot stopped, by audience: [`ServeError::is_user_error`] tells which ones a user fixes.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A `[discord]` value is wrong; the message names the key.
    #[error("{0}")]
    Config(String),
    /// Discord refused the token; the text says where (`401 Unauthorized at …`, or the gateway's
    /// close code 4004).
    #[error(
        "Discord rejected the token ({0}); reset it in the developer portal (your application → Bot → Reset Token) and set DISCORD_TOKEN again"
    )]
    TokenRejected(String),
    /// The gateway refused the intents (close code 4013 or 4014); the text says what to change.
    #[error("{0}")]
    Intents(String),
    /// Discord could not be reached, or answered something unusable.
    #[error("could not get the gateway address from {url}: {reason}; check discord.api_url and the network")]
    Unreachable {
        /// The API address tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Commands could not be registered: the bot would be useless.
    #[error("start-up failed: {0}")]
    Setup(String),
    /// The gateway connection failed for good.
    #[error("the gateway connection failed: {0}")]
    Gateway(String),
    /// serenity failed in another way.
    #[error("the Discord client failed: {0}")]
    Client(Box<serenity::Error>),
}

impl From<serenity::Error> for ServeError {
    fn from(e: serenity::Error) -> Self {
        ServeError::Client(Box::new(e))
    }
}

impl ServeError {
    /// True when the user can fix it (configuration, token, intents): print it as one sentence.
    pub fn is_user_error(&self) -> bool {
        matches!(self, ServeError::Config(_) | ServeError::TokenRejected(_) | ServeError::Intents(_))
    }
}

/// Runs the bot until `shutdown` resolves, then stops taking new questions, finishes the replies
/// in flight (up to `discord.shutdown_grace_seconds`), closes the shards and returns `Ok(())`.
/// `retriever` is an `Arc<Retriever>`, or an `Arc<Live>` whose retriever may be swapped while
/// the bot runs. `citebot serve` passes [`shutdown_signal`]; tests pass a channel.
pub async fn serve(
    config: &DiscordConfig,
    token: DiscordToken,
    retriever: impl Into<Retrieval>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    Server::new(config.clone(), token, retriever).run(shutdown).await
}

/// `citebot serve` in one call: a Tokio runtime, [`serve`], and SIGINT/SIGTERM as the shutdown.
pub fn run_until_signal(
    config: &DiscordConfig,
    token: DiscordToken,
    retriever: impl Into<Retrieval>,
) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Setup(format!("could not start the async runtime: {e}")))?;
    runtime.block_on(serve(config, token, retriever, shutdown_signal()))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}

/// The bot with everything it depends on; [`serve`] with defaults, or with a feedback sink.
pub struct Server {
    config: DiscordConfig,
    token: DiscordToken,
    retrieval: Retrieval,
    feedback: Arc<dyn FeedbackSink>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    stats: Arc<DeliveryStats>,
    reindex: Option<bot::Reindex>,
}

impl Server {
    /// A bot answering from `retriever`, logging feedback.
    pub fn new(config: DiscordConfig, token: DiscordToken, retriever: impl Into<Retrieval>) -> Server {
        Server {
            config,
            token,
            retrieval: retriever.into(),
            feedback: Arc::new(LogFeedback),
            metrics: None,
            stats: Arc::default(),
            reindex: None,
        }
    }

    /// Enables `/reindex`: admins can rebuild the index; `reindex` does it and says how it went.
    pub fn reindex(mut self, reindex: Reindex) -> Server {
        self.reindex = Some(reindex);
        self
    }

    /// The delivery counts of this bot (replies delivered, retried, rate limited, given up), live
    /// while it runs.
    pub fn stats(&self) -> Arc<DeliveryStats> {
        self.stats.clone()
    }

    /// Reports shard connections, reconnects and heartbeat latency to `metrics` (questions are
    /// counted by the feedback sink, e.g. [`crate::metrics::Observed`]).
    pub fn metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Server {
        self.metrics = Some(metrics);
        self
    }

    /// Sends 👍/👎 to `sink`.
    pub fn feedback(mut self, sink: Arc<dyn FeedbackSink>) -> Server {
        self.feedback = sink;
        self
    }

    /// Runs the bot until `shutdown` resolves (see [`serve`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Server { config, token, retrieval, feedback, metrics, stats, reindex } = self;
        config.validate().map_err(|e| ServeError::Config(e.to_string()))?;
        let policy = RetryPolicy::from_config(&config);
        let (http, client) = build_http(&config, &token, &policy)?;
        drop(token);

        // The first request: the gateway address, from the configured API and nowhere else.
        let gateway = http.get_gateway().await.map_err(|e| http_failure(&config, e))?.url;
        if !(gateway.starts_with("wss://") || gateway.starts_with("ws://")) || gateway.contains('?') {
            return Err(ServeError::Unreachable {
                url: config.api_base().to_string(),
                reason: format!("the gateway address {gateway:?} is not a ws:// or wss:// address"),
            });
        }
        tracing::info!(%gateway, "connecting to the gateway");

        let work = Arc::new(Work::default());
        let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let delivery = Delivery { client, policy, stats: stats.clone() };
        let framework =
            framework(config.clone(), retrieval, work.clone(), feedback, delivery, reindex, fatal_tx);
        let mut builder = serenity::ClientBuilder::new_with_http(http, intents(&config))
            .framework(framework)
            .raw_event_handler(events::Unreadable::default());
        if let Some(m) = &metrics {
            builder = builder.event_handler(shards::Observer::new(m.clone()));
        }
        let mut client = builder.await?;
        if let Some(m) = metrics {
            tokio::spawn(shards::sample_latency(Arc::downgrade(&client.shard_manager), m));
        }
        // serenity fetched the address again and would fall back to Discord's own gateway had that
        // failed: use the address checked above.
        *client.ws_url.lock().await = gateway;
        let shard_manager = client.shard_manager.clone();
        let shards = config.shards;
        let run = async move {
            match shards {
                ShardSpec::Auto => client.start_autosharded().await,
                // serenity's range end is inclusive (it starts `end - start + 1` shards).
                ShardSpec::Range { first, last, total } => client.start_shard_range(first..last, total).await,
            }
        };
        tokio::pin!(run);
        tokio::pin!(shutdown);
        tokio::select! {
            result = &mut run => return result.map_err(|e| gateway_failure(&config, e)),
            () = &mut shutdown => {}
            Some(reason) = fatal_rx.recv() => {
                work.close();
                shard_manager.shutdown_all().await;
                let _ = tokio::time::timeout(Duration::from_secs(5), &mut run).await;
                return Err(ServeError::Setup(reason));
            }
        }

        tracing::info!(in_flight = work.running(), "shutting down: finishing the replies in flight");
        work.close();
        let grace = Duration::from_secs(config.shutdown_grace_seconds);
        if !work.wait_idle(grace).await {
            tracing::warn!(
                in_flight = work.running(),
                "replies still in flight after {}s; stopping anyway",
                grace.as_secs()
            );
        }
        shard_manager.shutdown_all().await;
        match tokio::time::timeout(Duration::from_secs(5), &mut run).await {
            Ok(Err(e)) => tracing::warn!("while closing the shards: {e}"),
            Err(_) => tracing::warn!("the shards took too long to close"),
            Ok(Ok(())) => {}
        }
        let c = stats.snapshot();
        tracing::info!(
            delivered = c.delivered,
            retries = c.retries,
            rate_limited = c.rate_limited,
            given_up = c.failed,
            "stopped"
        );
        Ok(())
    }
}

/// The intents: guild messages (mentions carry their content without MESSAGE_CONTENT), plus
/// MESSAGE_CONTENT only when text commands are on.
pub fn intents(config: &DiscordConfig) -> GatewayIntents {
    let mut intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES;
    if config.prefix.is_some() {
        intents |= GatewayIntents::MESSAGE_CONTENT;
    }
    intents
}

/// serenity's `Http` and the client it sends with (also used by [`rest::Rest`]): every request,
/// serenity's own included, has the policy's time limit, so a stalled Discord cannot hang start-up
/// or a reply forever.
fn build_http(
    config: &DiscordConfig,
    token: &DiscordToken,
    policy: &RetryPolicy,
) -> Result<(serenity::Http, reqwest::Client), ServeError> {
    let mut client = reqwest::Client::builder().use_rustls_tls().timeout(policy.timeout);
    if is_loopback(config.api_base()) {
        // A loopback API must not go through an HTTP(S)_PROXY from the environment.
        client = client.no_proxy();
    }
    let client =
        client.build().map_err(|e| ServeError::Setup(format!("could not build the HTTP client: {e}")))?;
    let mut builder = serenity::HttpBuilder::new(token.expose()).client(client.clone());
    if !config.is_real_discord() {
        builder = builder.proxy(config.api_base()).ratelimiter_disabled(true);
    }
    Ok((builder.build(), client))
}

/// What [`rest::Rest`] is built from once the bot is ready (it needs serenity's `Http`).
struct Delivery {
    client: reqwest::Client,
    policy: RetryPolicy,
    stats: Arc<DeliveryStats>,
}

fn http_failure(config: &DiscordConfig, e: serenity::Error) -> ServeError {
    let url = config.api_base().to_string();
    match &e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 401 =>
        {
            ServeError::TokenRejected(format!("401 Unauthorized at {url}"))
        }
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            ServeError::Unreachable { url, reason: format!("it answered {}", r.status_code) }
        }
        serenity::Error::Http(serenity::HttpError::Request(r)) if r.is_timeout() => ServeError::Unreachable {
            url,
            reason: format!(
                "no response within {} ms (discord.request_timeout_ms)",
                config.request_timeout_ms
            ),
        },
        serenity::Error::Http(serenity::HttpError::Request(r)) if r.is_connect() => {
            ServeError::Unreachable { url, reason: "could not connect".into() }
        }
        _ => ServeError::Unreachable { url, reason: e.to_string() },
    }
}

fn gateway_failure(config: &DiscordConfig, e: serenity::Error) -> ServeError {
    let asked = intents(config).bits();
    match e {
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => {
            ServeError::TokenRejected("the gateway closed the connection with code 4004".into())
        }
        serenity::Error::Gateway(serenity::GatewayError::DisallowedGatewayIntents) => {
            ServeError::Intents(if config.prefix.is_some() {
                "Discord refused the MESSAGE CONTENT intent (gateway close code 4014) that the text command prefix (discord.prefix) needs; enable it in the developer portal (your application → Bot → Privileged Gateway Intents), or remove discord.prefix".into()
            } else {
                format!(
                    "Discord refused the gateway intents {asked} as not enabled for this application (gateway close code 4014); enable them in the developer portal (your application → Bot → Privileged Gateway Intents)"
                )
            })
        }
        serenity::Error::Gateway(serenity::GatewayError::InvalidGatewayIntents) => {
            ServeError::Intents(format!(
                "Discord refused the gateway intents {asked} as invalid (gateway close code 4013); check that discord.api_url is Discord's API and that this citebot is up to date"
            ))
        }
        serenity::Error::Gateway(g) => ServeError::Gateway(g.to_string()),
        other => ServeError::Client(Box::new(other)),
    }
}

fn framework(
    config: DiscordConfig,
    retrieval: Retrieval,
    work: Arc<Work>,
    feedback: Arc<dyn FeedbackSink>,
    delivery: Delivery,
    reindex: Option<bot::Reindex>,
    fatal: tokio::sync::mpsc::UnboundedSender<String>,
) -> poise::Framework<bot::Bot, bot::Error> {
    let options = poise::FrameworkOptions {
        commands: commands::all(config.prefix.is_some()),
        // A command whose interaction or message was handled already (a replay) does not run.
        command_check: Some(|ctx| Box::pin(async move { Ok(ctx.data().first_delivery(event_id(ctx))) })),
        on_error: |error| Box::pin(on_error(error)),
        event_handler: |framework, event| Box::pin(on_event(framework, event)),
        allowed_mentions: Some(reply::no_pings(false)),
        initialize_owners: false,
        prefix_options: poise::PrefixFrameworkOptions {
            prefix: config.prefix.clone().map(std::borrow::Cow::Owned),
            mention_as_prefix: false,
            ignore_bots: true,
            execute_self_messages: false,
            ..Default::default()
        },
        ..Default::default()
    };
    // validate() has ruled out 0, the one value GuildId::new rejects.
    let guild_ids: Vec<serenity::GuildId> =
        config.guild_ids.iter().filter(|g| g.0 != 0).map(|g| serenity::GuildId::new(g.0)).collect();
    poise::Framework::builder()
        .options(options)
        // The builder's own switch overrides the options' one.
        .initialize_owners(false)
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                let commands = &framework.options().commands;
                let registered = if guild_ids.is_empty() {
                    poise::builtins::register_globally(&ctx.http, commands).await
                } else {
                    let mut result = Ok(());
                    for g in &guild_ids {
                        result = poise::builtins::register_in_guild(&ctx.http, commands, *g).await;
                        if result.is_err() {
                            break;
                        }
                    }
                    result
                };
                match registered {
                    Ok(()) => {
                        let scope = if guild_ids.is_empty() {
                            "globally".to_string()
                        } else {
                            format!("in {} guild(s)", guild_ids.len())
                        };
                        tracing::info!(user = %ready.user.name, "ready; commands registered {scope}");
                        let Delivery { client, policy, stats } = delivery;
                        let rest = rest::Rest::new(ctx.http.clone(), client, policy, stats);
                        let flows = flows::Flows::new(retrieval, config, feedback);
                        Ok(bot::Bot::new(flows, work, ready.user.id, rest, reindex))
                    }
                    Err(e) => {
                        let reason = format!("the bot's commands could not be registered with Discord ({e})");
                        let _ = fatal.send(reason.clone());
                        Err(anyhow::anyhow!(reason))
                    }
                }
            })
        })
        .build()
}

async fn on_event(
    framework: poise::FrameworkContext<'_, bot::Bot, bot::Error>,
    event: &FullEvent,
) -> Result<(), bot::Error> {
    let bot = framework.user_data;
    match event {
        FullEvent::Message { new_message } => bot::on_message(bot, new_message).await,
        FullEvent::InteractionCreate { interaction: Interaction::Component(press) } => {
            bot::on_button(bot, press).await
        }
        _ => Ok(()),
    }
}

/// The id of the event that started a command: its interaction, or its message (text commands).
fn event_id(ctx: bot::Context<'_>) -> u64 {
    match ctx {
        poise::Context::Application(a) => a.interaction.id.get(),
        poise::Context::Prefix(p) => p.msg.id.get(),
    }
}

async fn on_error(error: poise::FrameworkError<'_, bot::Bot, bot::Error>) {
    match error {
        poise::FrameworkError::Setup { error, .. } => tracing::error!("start-up failed: {error:#}"),
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(event = event.snake_case_name(), "handling an event failed: {error:#}")
        }
        // A replayed command event (logged when it was recognised).
        poise::FrameworkError::CommandCheckFailed { error: None, .. } => {}
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().qualified_name, "command failed: {error:#}");
            let reply = poise::CreateReply::default().content(flows::SORRY).ephemeral(true);
            if let Err(e) = ctx.send(reply).await {
                tracing::debug!("could not say sorry: {e}");
            }
        }
        other => {
            if let Err(e) = poise::builtins::on_error(other).await {
                tracing::error!("while reporting an error: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_addresses() {
        for (url, expected) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost:1", true),
            ("http://[::1]:9", true),
            ("https://discord.com", false),
            ("http://10.0.0.1:80", false),
        ] {
            assert_eq!(is_loopback(url), expected, "{url}");
        }
    }

    #[test]
    fn message_content_only_with_a_prefix() {
        let mut c = DiscordConfig::default();
        assert!(!intents(&c).contains(GatewayIntents::MESSAGE_CONTENT));
        c.prefix = Some("!".into());
        assert!(intents(&c).contains(GatewayIntents::MESSAGE_CONTENT));
    }

    #[test]
    fn user_errors_are_told_apart() {
        assert!(ServeError::Config("x".into()).is_user_error());
        assert!(ServeError::TokenRejected("x".into()).is_user_error());
        assert!(ServeError::Intents("x".into()).is_user_error());
        assert!(!ServeError::Setup("x".into()).is_user_error());
    }
}
