//! The Discord adapter: `citebot serve`. The only module that knows Discord.
//!
//! It connects to Discord's gateway with serenity and poise and answers questions asked with
//! `/ask`, by mentioning the bot, with the message context-menu command "Answer from knowledge
//! base", or (optionally) with a text command, by quoting the corpus through
//! [`crate::retrieval::Retriever`]. It is not a second search engine: retrieval, excerpts and
//! confidence come from the core, unchanged; this module only renders them for Discord
//! ([`render`]), carries button state in button ids ([`ids`]) and applies the guard rails
//! ([`guard`]).
//!
//! Invariants:
//! - The configured `discord.api_url` and the gateway address it returns are the only Discord
//!   addresses used. Off discord.com, serenity's rate limiter is disabled (it would rebuild
//!   requests without the proxy), the token is never set again after the HTTP client is built (that
//!   would drop the proxy), and the gateway address fetched and checked here is pinned into the
//!   client (serenity falls back to the real gateway when its own fetch fails).
//! - Every message sent carries `allowed_mentions` that ping nobody ([`reply::no_pings`]).
//! - Retrieval runs on the blocking pool; interactions are deferred when it is slow.
//! - A start-up failure (commands not registered) stops the bot with an error: poise would
//!   otherwise wait forever and handle nothing.
//! - The token comes from the environment only and never reaches `Debug` or a log line.

mod bot;
mod commands;
pub mod config;
pub mod feedback;
pub mod guard;
pub mod ids;
pub mod render;
pub mod reply;
pub mod text;

pub use bot::Retrieval;
pub use config::{DiscordConfig, DiscordToken, ShardSpec, Snowflake, TokenError};
pub use feedback::{Asked, Feedback, FeedbackSink, LogFeedback};

use guard::Work;
use poise::serenity_prelude as serenity;
use serenity::{FullEvent, GatewayIntents, Interaction};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Why the bot stopped, by audience: [`ServeError::is_user_error`] tells which ones a user fixes.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A `[discord]` value is wrong.
    #[error("the configuration is invalid: {0}")]
    Config(String),
    /// Discord refused the token.
    #[error(
        "Discord rejected the token (401 Unauthorized at {0}); reset it in the developer portal (your application → Bot → Reset Token) and set DISCORD_TOKEN again"
    )]
    TokenRejected(String),
    /// The gateway refused the intents.
    #[error(
        "Discord refused the gateway intents; a text command prefix (discord.prefix) needs the MESSAGE CONTENT intent enabled in the developer portal (Bot → Privileged Gateway Intents), or remove discord.prefix"
    )]
    Intents,
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
        matches!(self, ServeError::Config(_) | ServeError::TokenRejected(_) | ServeError::Intents)
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
}

impl Server {
    /// A bot answering from `retriever`, logging feedback.
    pub fn new(config: DiscordConfig, token: DiscordToken, retriever: impl Into<Retrieval>) -> Server {
        Server { config, token, retrieval: retriever.into(), feedback: Arc::new(LogFeedback) }
    }

    /// Sends 👍/👎 to `sink`.
    pub fn feedback(mut self, sink: Arc<dyn FeedbackSink>) -> Server {
        self.feedback = sink;
        self
    }

    /// Runs the bot until `shutdown` resolves (see [`serve`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Server { config, token, retrieval, feedback } = self;
        config.validate().map_err(ServeError::Config)?;
        let http = build_http(&config, &token)?;
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
        let framework = framework(config.clone(), retrieval, work.clone(), feedback, fatal_tx);
        let mut client =
            serenity::ClientBuilder::new_with_http(http, intents(&config)).framework(framework).await?;
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
            result = &mut run => return result.map_err(gateway_failure),
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
        tracing::info!("stopped");
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

fn build_http(config: &DiscordConfig, token: &DiscordToken) -> Result<serenity::Http, ServeError> {
    let mut builder = serenity::HttpBuilder::new(token.expose());
    if !config.is_real_discord() {
        builder = builder.proxy(config.api_base()).ratelimiter_disabled(true);
        if is_loopback(config.api_base()) {
            // A loopback API must not go through an HTTP(S)_PROXY from the environment.
            let client = reqwest::Client::builder()
                .use_rustls_tls()
                .no_proxy()
                .build()
                .map_err(|e| ServeError::Setup(format!("could not build the HTTP client: {e}")))?;
            builder = builder.client(client);
        }
    }
    Ok(builder.build())
}

fn is_loopback(base: &str) -> bool {
    let host = base.split_once("://").map_or(base, |(_, rest)| rest);
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { host });
    host == "localhost" || host == "[::1]" || host.starts_with("127.")
}

fn http_failure(config: &DiscordConfig, e: serenity::Error) -> ServeError {
    let url = config.api_base().to_string();
    match &e {
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r))
            if r.status_code.as_u16() == 401 =>
        {
            ServeError::TokenRejected(url)
        }
        serenity::Error::Http(serenity::HttpError::UnsuccessfulRequest(r)) => {
            ServeError::Unreachable { url, reason: format!("it answered {}", r.status_code) }
        }
        _ => ServeError::Unreachable { url, reason: e.to_string() },
    }
}

fn gateway_failure(e: serenity::Error) -> ServeError {
    match e {
        serenity::Error::Gateway(serenity::GatewayError::InvalidAuthentication) => {
            ServeError::TokenRejected("the gateway".into())
        }
        serenity::Error::Gateway(
            serenity::GatewayError::DisallowedGatewayIntents | serenity::GatewayError::InvalidGatewayIntents,
        ) => ServeError::Intents,
        serenity::Error::Gateway(g) => ServeError::Gateway(g.to_string()),
        other => ServeError::Client(Box::new(other)),
    }
}

fn framework(
    config: DiscordConfig,
    retrieval: Retrieval,
    work: Arc<Work>,
    feedback: Arc<dyn FeedbackSink>,
    fatal: tokio::sync::mpsc::UnboundedSender<String>,
) -> poise::Framework<bot::Bot, bot::Error> {
    let options = poise::FrameworkOptions {
        commands: commands::all(config.prefix.is_some()),
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
                        Ok(bot::Bot::new(retrieval, config, work, feedback, ready.user.id))
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
    let http = &framework.serenity_context.http;
    match event {
        FullEvent::Message { new_message } => bot::on_message(bot, http, new_message).await,
        FullEvent::InteractionCreate { interaction: Interaction::Component(press) } => {
            bot::on_button(bot, http, press).await
        }
        _ => Ok(()),
    }
}

async fn on_error(error: poise::FrameworkError<'_, bot::Bot, bot::Error>) {
    match error {
        poise::FrameworkError::Setup { error, .. } => tracing::error!("start-up failed: {error:#}"),
        poise::FrameworkError::EventHandler { error, event, .. } => {
            tracing::error!(event = event.snake_case_name(), "handling an event failed: {error:#}")
        }
        poise::FrameworkError::Command { error, ctx, .. } => {
            tracing::error!(command = %ctx.command().qualified_name, "command failed: {error:#}");
            let reply = poise::CreateReply::default().content(bot::SORRY).ephemeral(true);
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
        assert!(!ServeError::Setup("x".into()).is_user_error());
    }
}
