//! Delivery: every request the bot makes to answer someone (interaction responses, channel
//! messages, edits and deletions of a deferred response, follow-ups, reactions) goes through
//! [`Rest`], which
//!
//! - honours rate limits: a 429 is waited out for its `retry_after` before the request is sent
//!   again, for that route only, or for every request when Discord says the limit is global;
//! - retries transient failures (500, 502, 503, 504, time-outs, refused connections) a bounded
//!   number of times with exponential backoff, then gives up, logs one warning and counts it in
//!   [`DeliveryStats`];
//! - never turns a retry into a second reply: channel messages carry an enforced `nonce` (the id of
//!   the question), so Discord returns the first message instead of posting another; a repeated
//!   interaction response or deletion that Discord reports as already done (40060, 10008) counts
//!   as delivered; follow-ups, which Discord cannot deduplicate, are not sent again once an attempt
//!   may have landed (time-out, 500).
//!
//! Why not serenity's own rate limiter: it rebuilds every request for `https://discord.com`,
//! ignoring the proxy address (`discord.api_url`), so it is off unless the API is Discord itself
//! (see [`super`]). Off Discord, no 429 would be honoured at all without this module. On Discord,
//! serenity's limiter stays on (it also waits *before* a bucket runs out, which only it can do, as
//! it sees every request) and this module adds the retries of 5xx and time-outs it lacks; 429s
//! then never reach this module. Serenity's error type drops a 429's headers and `retry_after`, so
//! off Discord the requests are built with serenity's own [`Request`] (same URL, headers and body
//! as serenity would send) and executed here, where the whole response is visible.
//!
//! Nothing logged here contains a URL: an interaction's URL holds its token.

use crate::config::DiscordConfig;
use poise::serenity_prelude as serenity;
use serde::Serialize;
use serenity::http::{HttpError, LightMethod, Request, Route};
use serenity::{
    ApplicationId, ChannelId, CreateInteractionResponse, CreateInteractionResponseFollowup, CreateMessage,
    EditInteractionResponse, Http, InteractionId, MessageId, ReactionType,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Discord's error code for a second response to one interaction.
const ALREADY_ACKNOWLEDGED: isize = 40060;
/// Discord's error code for a message that does not exist (already deleted).
const UNKNOWN_MESSAGE: isize = 10008;
/// Route gates kept before expired ones are dropped.
const GATES: usize = 1024;

/// How hard delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// One attempt's limit (connect, send, response).
    pub timeout: Duration,
    /// Attempts after the first for a transient failure.
    pub retries: u32,
    /// The pause before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// The longest pause between retries.
    pub max_backoff: Duration,
    /// A 429 asking for a longer wait than this is a failure (an interaction token lasts 15 min).
    pub max_rate_limit_wait: Duration,
    /// 429s waited out for one request before giving up.
    pub rate_limit_waits: u32,
}

impl RetryPolicy {
    /// The policy of `[discord]` (`request_timeout_ms`, `request_retries`).
    pub fn from_config(config: &DiscordConfig) -> RetryPolicy {
        RetryPolicy {
            timeout: Duration::from_millis(config.request_timeout_ms),
            retries: config.request_retries,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(4),
            max_rate_limit_wait: Duration::from_secs(60),
            rate_limit_waits: 5,
        }
    }

    /// The pause before retry number `retry` (from 1).
    pub fn pause(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Delivery outcomes since start, shared with whoever wants to watch them (tests, the log at exit).
#[derive(Debug, Default)]
pub struct DeliveryStats {
    delivered: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`DeliveryStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    /// Requests that succeeded (after retries or not).
    pub delivered: u64,
    /// Attempts repeated after a transient failure.
    pub retries: u64,
    /// 429 responses waited out.
    pub rate_limited: u64,
    /// Requests given up on.
    pub failed: u64,
}

impl DeliveryStats {
    /// The counts now.
    pub fn snapshot(&self) -> DeliveryCounts {
        DeliveryCounts {
            delivered: self.delivered.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// A request given up on; the reason names the route without its token.
#[derive(Debug, thiserror::Error)]
#[error("could not deliver the {what} ({route}) after {attempts} attempt(s): {reason}")]
pub struct DeliveryError {
    /// What was being sent ("channel message"…).
    pub what: &'static str,
    /// Method and path with the token left out.
    pub route: String,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last one failed.
    pub reason: String,
}

/// What sending a request again could do when an earlier attempt may have landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Nothing: Discord deduplicates it, or it is idempotent.
    Harmless,
    /// Post it twice.
    Duplicates,
}

/// Whether a failed attempt may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Never (a 4xx: sending it again changes nothing).
    No,
    /// Only when repeating is harmless: the attempt may have landed (500, time-out).
    IfHarmless,
    /// Yes: the attempt did not land (refused connection, 502/503/504).
    Yes,
}

#[derive(Debug)]
enum Outcome {
    Delivered,
    RateLimited { wait: Duration, global: bool },
    Failed { reason: String, retry: Retry },
}

struct Call<'a> {
    what: &'static str,
    route: String,
    request: Request<'a>,
    repeat: Repeat,
    /// Discord error codes that, after an earlier attempt, mean that attempt landed.
    done: &'static [isize],
}

#[derive(Debug, Default)]
struct Gates {
    global: Option<Instant>,
    routes: HashMap<String, Instant>,
}

/// Sends the bot's replies; see the module documentation.
pub struct Rest {
    http: Arc<Http>,
    client: reqwest::Client,
    policy: RetryPolicy,
    gates: Mutex<Gates>,
    stats: Arc<DeliveryStats>,
}

impl Rest {
    /// Delivery through `http` (its token, proxy address and, on Discord, rate limiter), executing
    /// with `client` (the client `http` was built with) when serenity's rate limiter is off.
    pub fn new(
        http: Arc<Http>,
        client: reqwest::Client,
        policy: RetryPolicy,
        stats: Arc<DeliveryStats>,
    ) -> Rest {
        Rest { http, client, policy, gates: Mutex::new(Gates::default()), stats }
    }

    /// Responds to an interaction (`POST /interactions/{id}/{token}/callback`).
    pub async fn respond(
        &self,
        id: InteractionId,
        token: &str,
        response: &CreateInteractionResponse,
    ) -> Result<(), DeliveryError> {
        let route = format!("POST /interactions/{id}/callback");
        let request =
            Request::new(Route::InteractionResponse { interaction_id: id, token }, LightMethod::Post);
        let call = Call {
            what: "interaction response",
            request: request.body(Some(json(response, "interaction response", &route)?)),
            route,
            repeat: Repeat::Harmless,
            done: &[ALREADY_ACKNOWLEDGED],
        };
        self.send(call).await
    }

    /// Posts `message` in `channel`, at most once for the question `trigger` (a message or
    /// interaction id): it becomes the message's enforced nonce.
    pub async fn post_message(
        &self,
        channel: ChannelId,
        message: CreateMessage,
        trigger: u64,
    ) -> Result<(), DeliveryError> {
        let message = message.nonce(serenity::Nonce::String(trigger.to_string())).enforce_nonce(true);
        let route = format!("POST /channels/{channel}/messages");
        let request = Request::new(Route::ChannelMessages { channel_id: channel }, LightMethod::Post);
        let call = Call {
            what: "channel message",
            request: request.body(Some(json(&message, "channel message", &route)?)),
            route,
            repeat: Repeat::Harmless,
            done: &[],
        };
        self.send(call).await
    }

    /// Replaces the (deferred) response of interaction `id`.
    pub async fn edit_original(
        &self,
        application: ApplicationId,
        token: &str,
        id: InteractionId,
        edit: &EditInteractionResponse,
    ) -> Result<(), DeliveryError> {
        let route = format!("PATCH /webhooks/{application}/<token of {id}>/messages/@original");
        let request = Request::new(
            Route::WebhookOriginalInteractionResponse { application_id: application, token },
            LightMethod::Patch,
        );
        let call = Call {
            what: "edit of a deferred response",
            request: request.body(Some(json(edit, "edit", &route)?)),
            route,
            repeat: Repeat::Harmless,
            done: &[],
        };
        self.send(call).await
    }

    /// Deletes the response of interaction `id`.
    pub async fn delete_original(
        &self,
        application: ApplicationId,
        token: &str,
        id: InteractionId,
    ) -> Result<(), DeliveryError> {
        let route = format!("DELETE /webhooks/{application}/<token of {id}>/messages/@original");
        let request = Request::new(
            Route::WebhookOriginalInteractionResponse { application_id: application, token },
            LightMethod::Delete,
        );
        let call = Call {
            what: "deletion of a deferred response",
            request,
            route,
            repeat: Repeat::Harmless,
            done: &[UNKNOWN_MESSAGE],
        };
        self.send(call).await
    }

    /// Sends a follow-up message for interaction `id`.
    pub async fn followup(
        &self,
        application: ApplicationId,
        token: &str,
        id: InteractionId,
        followup: &CreateInteractionResponseFollowup,
    ) -> Result<(), DeliveryError> {
        let route = format!("POST /webhooks/{application}/<token of {id}>");
        let request = Request::new(
            Route::WebhookFollowupMessages { application_id: application, token },
            LightMethod::Post,
        );
        let call = Call {
            what: "follow-up message",
            request: request.body(Some(json(followup, "follow-up", &route)?)),
            route,
            repeat: Repeat::Duplicates,
            done: &[],
        };
        self.send(call).await
    }

    /// Adds the bot's reaction `emoji` to a message.
    pub async fn react(
        &self,
        channel: ChannelId,
        message: MessageId,
        emoji: &ReactionType,
    ) -> Result<(), DeliveryError> {
        let reaction = emoji.as_data();
        let route = format!("PUT /channels/{channel}/messages/{message}/reactions/…/@me");
        let request = Request::new(
            Route::ChannelMessageReactionMe { channel_id: channel, message_id: message, reaction: &reaction },
            LightMethod::Put,
        );
        self.send(Call { what: "reaction", request, route, repeat: Repeat::Harmless, done: &[] }).await
    }

    async fn send(&self, call: Call<'_>) -> Result<(), DeliveryError> {
        let (mut attempts, mut retries, mut waits) = (0u32, 0u32, 0u32);
        loop {
            self.wait_for_gates(&call.route).await;
            attempts += 1;
            let reason = match self.attempt(&call, attempts > 1).await {
                Outcome::Delivered => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Outcome::RateLimited { wait, global } => {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if wait > self.policy.max_rate_limit_wait || waits >= self.policy.rate_limit_waits {
                        format!(
                            "rate limited (retry_after {:.3} s, {waits} wait(s) already)",
                            wait.as_secs_f64()
                        )
                    } else {
                        waits += 1;
                        tracing::info!(
                            what = call.what,
                            route = %call.route,
                            global,
                            wait_ms = wait.as_millis() as u64,
                            "rate limited by Discord; sending again after the wait it asked for"
                        );
                        self.close_gate(&call.route, global, wait);
                        continue;
                    }
                }
                Outcome::Failed { reason, retry } => {
                    let allowed = match retry {
                        Retry::Yes => true,
                        Retry::IfHarmless => call.repeat == Repeat::Harmless,
                        Retry::No => false,
                    };
                    if allowed && retries < self.policy.retries {
                        retries += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        let pause = self.policy.pause(retries);
                        tracing::warn!(
                            what = call.what,
                            route = %call.route,
                            attempt = attempts,
                            "sending failed ({reason}); trying again in {} ms",
                            pause.as_millis()
                        );
                        tokio::time::sleep(pause).await;
                        continue;
                    }
                    if retry == Retry::IfHarmless && call.repeat == Repeat::Duplicates {
                        format!(
                            "{reason}; not sent again, as it may have been posted and a repeat would show twice"
                        )
                    } else {
                        reason
                    }
                }
            };
            let failed = self.stats.failed.fetch_add(1, Ordering::Relaxed) + 1;
            let error = DeliveryError { what: call.what, route: call.route, attempts, reason };
            tracing::warn!(failed_so_far = failed, "{error}");
            return Err(error);
        }
    }

    async fn attempt(&self, call: &Call<'_>, repeated: bool) -> Outcome {
        let done = |status: u16, code: Option<isize>| {
            repeated && matches!(status, 400 | 404) && code.is_some_and(|c| call.done.contains(&c))
        };
        if self.http.ratelimiter.is_some() {
            // Discord itself: serenity's limiter waits out 429s; the rest is classified here.
            return match self.http.request(call.request.clone()).await {
                Ok(response) => {
                    let _ = response.bytes().await;
                    Outcome::Delivered
                }
                Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(e))) => {
                    let status = e.status_code.as_u16();
                    if done(status, Some(e.error.code)) {
                        tracing::debug!(route = %call.route, "an earlier attempt had landed");
                        return Outcome::Delivered;
                    }
                    status_failure(status, &e.error.message)
                }
                Err(serenity::Error::Http(HttpError::Request(e))) => {
                    transport_failure(e, self.policy.timeout)
                }
                Err(other) => Outcome::Failed { reason: other.to_string(), retry: Retry::No },
            };
        }
        let request = match call
            .request
            .clone()
            .build(&self.client, self.http.token(), self.http.proxy.as_deref())
            .map(|b| b.timeout(self.policy.timeout).build())
        {
            Ok(Ok(request)) => request,
            Ok(Err(e)) => return Outcome::Failed { reason: e.without_url().to_string(), retry: Retry::No },
            Err(e) => return Outcome::Failed { reason: e.to_string(), retry: Retry::No },
        };
        let response = match self.client.execute(request).await {
            Ok(r) => r,
            Err(e) => return transport_failure(e, self.policy.timeout),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) if (200..300).contains(&status) => {
                // The status says it landed; the rest of the body does not matter.
                tracing::debug!(route = %call.route, "reading a success response failed: {}", e.without_url());
                return Outcome::Delivered;
            }
            Err(e) => return transport_failure(e, self.policy.timeout),
        };
        if (200..300).contains(&status) {
            return Outcome::Delivered;
        }
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status == 429 {
            return Outcome::RateLimited {
                wait: retry_after(&headers, &json),
                global: is_global(&headers, &json),
            };
        }
        let code = json["code"].as_i64().and_then(|c| isize::try_from(c).ok());
        if done(status, code) {
            tracing::debug!(route = %call.route, "an earlier attempt had landed");
            return Outcome::Delivered;
        }
        status_failure(status, json["message"].as_str().unwrap_or_default())
    }

    async fn wait_for_gates(&self, route: &str) {
        loop {
            let until = {
                let gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
                gates.global.max(gates.routes.get(route).copied())
            };
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    fn close_gate(&self, route: &str, global: bool, wait: Duration) {
        let now = Instant::now();
        let until = now + wait;
        let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
        if global {
            gates.global = gates.global.max(Some(until));
            return;
        }
        if gates.routes.len() >= GATES {
            gates.routes.retain(|_, at| *at > now);
        }
        let gate = gates.routes.entry(route.to_string()).or_insert(until);
        *gate = (*gate).max(until);
    }
}

fn json(body: &impl Serialize, what: &'static str, route: &str) -> Result<Vec<u8>, DeliveryError> {
    serde_json::to_vec(body).map_err(|e| DeliveryError {
        what,
        route: route.to_string(),
        attempts: 0,
        reason: format!("the request could not be written as JSON: {e}"),
    })
}

fn status_failure(status: u16, message: &str) -> Outcome {
    let retry = match status {
        502..=504 => Retry::Yes,
        500 | 408 => Retry::IfHarmless,
        _ => Retry::No,
    };
    let message: String = message.chars().take(200).collect();
    let reason =
        if message.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {message}") };
    Outcome::Failed { reason, retry }
}

fn transport_failure(e: reqwest::Error, timeout: Duration) -> Outcome {
    if e.is_timeout() {
        return Outcome::Failed {
            reason: format!("no response within {} ms", timeout.as_millis()),
            retry: Retry::IfHarmless,
        };
    }
    if e.is_connect() {
        return Outcome::Failed { reason: "could not connect".into(), retry: Retry::Yes };
    }
    let e = e.without_url();
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    Outcome::Failed { reason, retry: Retry::IfHarmless }
}

/// The wait a 429 asks for: the body's `retry_after` (seconds, fractional), else the
/// `X-RateLimit-Reset-After` or `Retry-After` header, else one second.
fn retry_after(headers: &reqwest::header::HeaderMap, body: &serde_json::Value) -> Duration {
    let header = |name: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<f64>().ok())
    };
    let seconds = body["retry_after"]
        .as_f64()
        .or_else(|| header("x-ratelimit-reset-after"))
        .or_else(|| header("retry-after"))
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(seconds.min(86_400.0))
}

/// Whether a 429 is Discord's global limit rather than the route's.
fn is_global(headers: &reqwest::header::HeaderMap, body: &serde_json::Value) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase);
    body["global"].as_bool() == Some(true)
        || header("x-ratelimit-global").is_some_and(|v| v == "true")
        || header("x-ratelimit-scope").is_some_and(|v| v == "global")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_prefers_the_precise_body_value() {
        let cases = [
            (headers(&[("retry-after", "2")]), json!({"retry_after": 0.35}), 350),
            (headers(&[("x-ratelimit-reset-after", "1.5"), ("retry-after", "2")]), json!({}), 1500),
            (headers(&[("retry-after", "3")]), json!(null), 3000),
            (headers(&[]), json!({}), 1000),
            (headers(&[("retry-after", "soon")]), json!({"retry_after": -1}), 1000),
        ];
        for (h, body, ms) in cases {
            assert_eq!(retry_after(&h, &body), Duration::from_millis(ms), "{h:?} {body}");
        }
    }

    #[test]
    fn global_limits_are_recognised_by_body_or_header() {
        assert!(is_global(&headers(&[]), &json!({"global": true})));
        assert!(is_global(&headers(&[("x-ratelimit-global", "true")]), &json!({})));
        assert!(is_global(&headers(&[("x-ratelimit-scope", "global")]), &json!({})));
        assert!(!is_global(&headers(&[("x-ratelimit-scope", "user")]), &json!({"global": false})));
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let p = RetryPolicy::from_config(&DiscordConfig::default());
        let pauses: Vec<u128> = (1..=6).map(|n| p.pause(n).as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 4000]);
    }

    #[test]
    fn failures_are_retried_only_when_that_is_safe() {
        let retry = |status| match status_failure(status, "") {
            Outcome::Failed { retry, .. } => retry,
            other => panic!("{other:?}"),
        };
        assert_eq!(retry(502), Retry::Yes);
        assert_eq!(retry(503), Retry::Yes);
        assert_eq!(retry(500), Retry::IfHarmless, "a 500 may have been processed");
        assert_eq!(retry(400), Retry::No);
        assert_eq!(retry(403), Retry::No);
    }
}
