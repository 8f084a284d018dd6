//! Gateway events that serenity could not read.
//!
//! A dispatch whose `d` does not deserialise (a field missing or of the wrong type) and an event
//! type this serenity version does not know both become `Event::Unknown`, which serenity drops
//! with a DEBUG line only: a question would then vanish without a trace. [`Unreadable`] sees
//! them (as a raw event handler, beside poise) and warns: every time (up to a limit, then every
//! hundredth) for the events the bot answers (`MESSAGE_CREATE`, `INTERACTION_CREATE`), with what was
//! wrong; once per type for the rest, since Discord adds event types over time. Nothing else is
//! done with them: the next event is handled as usual.
//!
//! Frames that are not JSON at all, unknown opcodes and dispatches without a sequence number never
//! reach this: serenity's shard logs them as a warning ("Err deserializing text", "Unhandled
//! error") and reads on.

use poise::serenity_prelude as serenity;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// Warnings logged one by one for a kind of event the bot answers, before only every hundredth.
const WARN_EACH: u64 = 20;
/// Distinct event types remembered (a flood of invented types cannot grow memory).
const KINDS: usize = 256;

/// Warns about events serenity could not read; see the module documentation.
#[derive(Debug, Default)]
pub struct Unreadable {
    seen: Mutex<HashMap<String, u64>>,
}

impl Unreadable {
    /// Counts one unreadable event of type `kind` with payload `d`, and says what is wrong when it
    /// is worth a warning. Returns the warning (for tests).
    pub fn note(&self, kind: &str, d: &Value) -> Option<String> {
        let count = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            let key = if seen.len() >= KINDS && !seen.contains_key(kind) { "(other)" } else { kind };
            let n = seen.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let problem = match kind {
            "MESSAGE_CREATE" => serde_json::from_value::<serenity::Message>(d.clone()).err(),
            "INTERACTION_CREATE" => serde_json::from_value::<serenity::Interaction>(d.clone()).err(),
            _ => None,
        };
        let id = d
            .get("id")
            .and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_u64().map(|n| n.to_string())));
        let warning = match problem {
            Some(e) if count <= WARN_EACH || count % 100 == 0 => format!(
                "ignored a {kind} event (id {}) that could not be read: {e}{}",
                id.as_deref().unwrap_or("missing"),
                if count > WARN_EACH { format!(" ({count} so far)") } else { String::new() }
            ),
            Some(_) => return None,
            None if count == 1 => format!(
                "ignored a gateway event this version does not read ({kind}); later ones of this type are not logged"
            ),
            None => return None,
        };
        tracing::warn!(event = kind, "{warning}");
        Some(warning)
    }
}

#[poise::async_trait]
impl serenity::RawEventHandler for Unreadable {
    async fn raw_event(&self, _ctx: serenity::Context, event: serenity::Event) {
        if let serenity::Event::Unknown(unknown) = event {
            self.note(&unknown.kind, &unknown.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_broken_question_is_warned_about_with_what_is_wrong() {
        let u = Unreadable::default();
        let w = u.note("MESSAGE_CREATE", &json!({"id": "7", "channel_id": "1", "content": "hi"})).unwrap();
        assert!(w.contains("MESSAGE_CREATE") && w.contains("id 7") && w.contains("missing field"), "{w}");
        let w = u.note("INTERACTION_CREATE", &json!({"type": 2})).unwrap();
        assert!(w.contains("id missing"), "{w}");
    }

    #[test]
    fn unknown_types_are_warned_about_once_and_floods_are_thinned() {
        let u = Unreadable::default();
        assert!(u.note("SOMETHING_NEW", &json!({})).is_some());
        assert!(u.note("SOMETHING_NEW", &json!({})).is_none());
        let warned = (0..1000).filter(|_| u.note("MESSAGE_CREATE", &json!({})).is_some()).count();
        assert_eq!(warned, 20 + 10, "the first 20, then every hundredth");
        for i in 0..1000 {
            u.note(&format!("INVENTED_{i}"), &json!({}));
        }
        assert!(u.seen.lock().unwrap().len() <= KINDS + 1);
    }
}
