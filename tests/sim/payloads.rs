//! Gateway events and REST responses the simulator sends, built in one place so that a unit test
//! can deserialise every one of them into serenity's own types (an event serenity cannot parse is
//! silently dropped as `Event::Unknown`).

use super::BOT_ID;
use serde_json::{Value, json};

/// The guild every test event happens in.
pub const GUILD: &str = "500";
/// The default channel.
pub const CHANNEL: &str = "600";
/// A timestamp for messages and members.
const WHEN: &str = "2026-01-01T00:00:00.000000+00:00";

/// A dispatch frame.
pub fn dispatch(name: &str, s: u64, d: Value) -> Value {
    json!({"op": 0, "s": s, "t": name, "d": d})
}

/// HELLO with this heartbeat interval (Discord's is 41250 ms).
pub fn hello(heartbeat_interval_ms: u64) -> Value {
    json!({"op": 10, "d": {"heartbeat_interval": heartbeat_interval_ms}})
}

/// READY of session `session_id` for the shard in IDENTIFY (`[id, total]`, or null).
pub fn ready(s: u64, gateway_url: &str, shard: Value, session_id: &str) -> Value {
    let mut d = json!({
        "v": 10,
        "user": {"id": BOT_ID, "username": "citebot", "discriminator": "0", "bot": true},
        "guilds": [],
        "session_id": session_id,
        "resume_gateway_url": gateway_url,
        "application": {"id": BOT_ID, "flags": 0},
    });
    if shard.is_array() {
        d["shard"] = shard;
    }
    dispatch("READY", s, d)
}

/// `GET /gateway/bot`.
pub fn gateway_bot(url: &str, shards: u32) -> Value {
    json!({
        "url": url,
        "shards": shards,
        "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
    })
}

/// `GET /oauth2/applications/@me`.
pub fn application() -> Value {
    json!({
        "id": BOT_ID, "name": "citebot", "description": "", "icon": null,
        "bot_public": true, "bot_require_code_grant": false, "verify_key": "00", "flags": 0,
    })
}

/// A user.
pub fn user(id: &str, name: &str, bot: bool) -> Value {
    json!({"id": id, "username": name, "discriminator": "0", "global_name": null, "avatar": null, "bot": bot})
}

/// The bot's own user.
pub fn bot_user() -> Value {
    user(BOT_ID, "citebot", true)
}

/// A guild member (in interactions).
pub fn member(user: &Value) -> Value {
    json!({
        "user": user, "roles": [], "joined_at": WHEN, "deaf": false, "mute": false, "flags": 0,
        "permissions": "2248473465835073",
    })
}

/// A message in the guild.
#[derive(Debug, Clone)]
pub struct MessageSpec {
    /// Its id.
    pub id: String,
    /// Its channel.
    pub channel: String,
    /// Its author.
    pub author: Value,
    /// Its text.
    pub content: String,
    /// Users it mentions.
    pub mentions: Vec<Value>,
    /// Roles it mentions.
    pub mention_roles: Vec<String>,
    /// Whether it mentions @everyone.
    pub mention_everyone: bool,
    /// The message it replies to.
    pub referenced: Option<Value>,
}

impl MessageSpec {
    /// A human's message mentioning the bot (`<@1000> text`).
    pub fn mention(id: &str, text: &str) -> MessageSpec {
        MessageSpec {
            id: id.to_string(),
            channel: CHANNEL.to_string(),
            author: user("42", "asker", false),
            content: format!("<@{BOT_ID}> {text}"),
            mentions: vec![bot_user()],
            mention_roles: vec![],
            mention_everyone: false,
            referenced: None,
        }
    }

    /// A human's message without a mention.
    pub fn plain(id: &str, text: &str) -> MessageSpec {
        MessageSpec { content: text.to_string(), mentions: vec![], ..MessageSpec::mention(id, "") }
    }

    /// The message object.
    pub fn to_json(&self) -> Value {
        let mut m = json!({
            "id": self.id, "channel_id": self.channel, "guild_id": GUILD,
            "author": self.author, "content": self.content, "timestamp": WHEN, "edited_timestamp": null,
            "tts": false, "mention_everyone": self.mention_everyone, "mentions": self.mentions,
            "mention_roles": self.mention_roles, "attachments": [], "embeds": [], "pinned": false, "type": 0,
        });
        if let Some(r) = &self.referenced {
            m["type"] = json!(19);
            m["message_reference"] =
                json!({"message_id": r["id"], "channel_id": r["channel_id"], "guild_id": GUILD});
            m["referenced_message"] = r.clone();
        }
        m
    }

    /// MESSAGE_CREATE's `d` (the message plus the author's member).
    pub fn event(&self) -> Value {
        let mut d = self.to_json();
        d["member"] = json!({"roles": [], "joined_at": WHEN, "deaf": false, "mute": false, "flags": 0});
        d
    }
}

/// The message serenity gets back for a message the bot sent (`body` is the request body).
pub fn message_echo(id: &str, channel: &str, body: &Value) -> Value {
    let mut m = json!({
        "id": id, "channel_id": channel, "author": bot_user(),
        "content": body["content"].as_str().unwrap_or_default(), "timestamp": WHEN, "edited_timestamp": null,
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": body["embeds"].as_array().cloned().unwrap_or_default(),
        "components": body["components"].as_array().cloned().unwrap_or_default(),
        "pinned": false, "type": 0, "flags": body["flags"].as_u64().unwrap_or(0),
    });
    if let Some(reference) = body.get("message_reference").filter(|r| r.is_object()) {
        m["type"] = json!(19);
        m["message_reference"] = reference.clone();
    }
    m
}

/// The commands as Discord returns them after registration.
pub fn commands_echo(body: &Value, guild: Option<&str>, mut id: impl FnMut() -> String) -> Value {
    let commands = body.as_array().cloned().unwrap_or_default();
    Value::Array(
        commands
            .iter()
            .map(|c| {
                let mut out = json!({
                    "id": id(), "application_id": BOT_ID, "version": "1",
                    "type": c["type"].as_u64().unwrap_or(1), "name": c["name"],
                    "description": c["description"].as_str().unwrap_or_default(),
                    "options": c["options"].as_array().cloned().unwrap_or_default(),
                    "default_member_permissions": null, "nsfw": false,
                });
                if let Some(g) = guild {
                    out["guild_id"] = json!(g);
                }
                out
            })
            .collect(),
    )
}

fn interaction(id: &str, kind: u8, data: Value, who: &Value, extra: Value) -> Value {
    let mut d = json!({
        "id": id, "application_id": BOT_ID, "type": kind, "token": format!("token-{id}"), "version": 1,
        "guild_id": GUILD, "channel_id": CHANNEL, "member": member(who), "locale": "en-US",
        "guild_locale": "en-US", "entitlements": [], "attachment_size_limit": 8_388_608,
        "app_permissions": "2248473465835073", "authorizing_integration_owners": {"0": GUILD}, "context": 0,
        "data": data,
    });
    if let (Some(d), Some(extra)) = (d.as_object_mut(), extra.as_object()) {
        d.extend(extra.clone());
    }
    d
}

/// `/ask question:<q> [private:<p>]` from `who`.
pub fn slash_ask(id: &str, question: &str, private: Option<bool>, who: &Value) -> Value {
    let mut options = vec![json!({"name": "question", "type": 3, "value": question})];
    if let Some(p) = private {
        options.push(json!({"name": "private", "type": 5, "value": p}));
    }
    slash(id, "ask", options, who)
}

/// A slash command.
pub fn slash(id: &str, name: &str, options: Vec<Value>, who: &Value) -> Value {
    interaction(id, 2, json!({"id": "1", "name": name, "type": 1, "options": options}), who, json!({}))
}

/// Autocomplete of `/ask question:` with `partial` typed.
pub fn autocomplete(id: &str, partial: &str, who: &Value) -> Value {
    let data = json!({"id": "1", "name": "ask", "type": 1,
        "options": [{"name": "question", "type": 3, "value": partial, "focused": true}]});
    interaction(id, 4, data, who, json!({}))
}

/// The message context-menu command on `target` (a message object).
pub fn message_command(id: &str, target: &Value, who: &Value) -> Value {
    let target_id = target["id"].as_str().unwrap_or_default().to_string();
    let data = json!({"id": "2", "name": "Answer from knowledge base", "type": 3, "target_id": target_id,
        "resolved": {"messages": {target_id.clone(): target}}});
    interaction(id, 2, data, who, json!({}))
}

/// A press on the button `custom_id` of `message` (a message object).
pub fn button(id: &str, custom_id: &str, message: &Value, who: &Value) -> Value {
    let data = json!({"custom_id": custom_id, "component_type": 2});
    interaction(id, 3, data, who, json!({"message": message}))
}

/// The custom ids of a sent message's buttons, by label.
pub fn buttons(message: &Value) -> Vec<(String, String)> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["label"].as_str().unwrap_or_default().to_string(),
                b["custom_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The custom id of the button labelled `label`.
pub fn button_id(message: &Value, label: &str) -> String {
    buttons(message)
        .into_iter()
        .find(|(l, _)| l == label)
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("no button {label:?} in {message}"))
}

#[cfg(test)]
mod tests {
    //! Every payload above, through serenity's own types: an event serenity cannot parse would be
    //! dropped silently, and a response it cannot parse fails the bot's request.

    use super::*;
    use poise::serenity_prelude as serenity;
    use serenity::GatewayEvent;

    /// Parses a gateway frame and returns the dispatch event's name (None: not understood).
    fn event_name(frame: Value) -> Option<String> {
        match serde_json::from_value::<GatewayEvent>(frame.clone()) {
            Ok(GatewayEvent::Dispatch(_, event)) => event.name(),
            Ok(other) => panic!("not a dispatch: {other:?}"),
            Err(e) => panic!("{e}: {frame}"),
        }
    }

    fn typed<T: serde::de::DeserializeOwned>(what: &str, v: &Value) -> T {
        serde_json::from_value(v.clone())
            .unwrap_or_else(|e| panic!("{what} does not deserialise: {e}\n{v:#}"))
    }

    #[test]
    fn every_simulated_discord_event_deserialises_into_serenity_types() {
        assert!(matches!(
            serde_json::from_value::<GatewayEvent>(hello(41250)),
            Ok(GatewayEvent::Hello(41250))
        ));
        assert_eq!(event_name(dispatch("RESUMED", 9, json!({}))).as_deref(), Some("RESUMED"));
        for shard in [Value::Null, json!([1, 2])] {
            let frame = ready(1, "ws://127.0.0.1:1", shard, "sim-session-1");
            assert_eq!(event_name(frame.clone()).as_deref(), Some("READY"));
            let _: serenity::Ready = typed("READY", &frame["d"]);
        }

        let mut reply_to = MessageSpec::mention("2", "");
        reply_to.referenced = Some(MessageSpec::plain("1", "a question").to_json());
        let mut loud = MessageSpec::mention("3", "@everyone <@&5>");
        loud.mention_everyone = true;
        loud.mention_roles = vec!["5".into()];
        let mut from_bot = MessageSpec::mention("4", "hi");
        from_bot.author = bot_user();
        for m in [MessageSpec::mention("1", "q"), MessageSpec::plain("1", "!ask q"), reply_to, loud, from_bot]
        {
            let d = m.event();
            assert_eq!(
                event_name(dispatch("MESSAGE_CREATE", 2, d.clone())).as_deref(),
                Some("MESSAGE_CREATE")
            );
            let msg: serenity::Message = typed("MESSAGE_CREATE", &d);
            assert_eq!(msg.content, m.content);
            assert_eq!(msg.referenced_message.is_some(), m.referenced.is_some());
        }

        let who = user("42", "asker", false);
        let sent = message_echo(
            "9",
            CHANNEL,
            &json!({"content": "", "embeds": [{"title": "t", "description": "d", "color": 1, "footer": {"text": "f"}}],
                "components": [{"type": 1, "components": [{"type": 2, "style": 2, "custom_id": "cb1:s:v:s", "label": "Full section", "emoji": {"name": "📖"}}]}],
                "message_reference": {"message_id": "1", "channel_id": CHANNEL}}),
        );
        let cases = [
            ("slash", slash_ask("10", "q", Some(true), &who)),
            ("slash without options", slash("11", "topics", vec![], &who)),
            ("autocomplete", autocomplete("12", "hyd", &who)),
            ("message command", message_command("13", &MessageSpec::plain("1", "q").to_json(), &who)),
            ("button", button("14", "cb1:s:v:s", &sent, &who)),
        ];
        for (what, d) in cases.clone() {
            assert_eq!(
                event_name(dispatch("INTERACTION_CREATE", 3, d.clone())).as_deref(),
                Some("INTERACTION_CREATE"),
                "{what}"
            );
            let interaction: serenity::Interaction = typed(what, &d);
            let ok = match what {
                "autocomplete" => matches!(interaction, serenity::Interaction::Autocomplete(_)),
                "button" => matches!(interaction, serenity::Interaction::Component(_)),
                _ => matches!(interaction, serenity::Interaction::Command(_)),
            };
            assert!(ok, "{what}: {interaction:?}");
        }
        if let serenity::Interaction::Command(c) =
            typed::<serenity::Interaction>("message command", &cases[3].1)
        {
            assert!(
                matches!(c.data.target(), Some(serenity::ResolvedTarget::Message(_))),
                "the target resolves"
            );
        }
    }

    #[test]
    fn every_simulated_discord_response_deserialises_into_serenity_types() {
        let _: serenity::model::gateway::Gateway = typed("GET /gateway", &json!({"url": "ws://127.0.0.1:1"}));
        let _: serenity::BotGateway = typed("GET /gateway/bot", &gateway_bot("ws://127.0.0.1:1", 2));
        let _: serenity::CurrentApplicationInfo = typed("GET /oauth2/applications/@me", &application());
        let registered = json!([
            {"name": "ask", "description": "Ask", "type": 1, "options": [
                {"type": 3, "name": "question", "description": "q", "required": true, "autocomplete": true, "max_length": 500},
                {"type": 5, "name": "private", "description": "p"}]},
            {"name": "Answer from knowledge base", "type": 3},
        ]);
        let mut n = 0;
        let echoed = commands_echo(&registered, Some("7"), || {
            n += 1;
            n.to_string()
        });
        let commands: Vec<serenity::Command> = typed("PUT commands", &echoed);
        assert_eq!(commands.len(), 2);
        let body = json!({"content": "hi", "embeds": [{"title": "t", "description": "d", "url": "https://e.test/#a"}],
            "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x", "label": "Next passage"}]}],
            "flags": 64});
        let m: serenity::Message = typed("a sent message", &message_echo("5", CHANNEL, &body));
        assert_eq!(m.embeds.len(), 1);
        assert_eq!(m.components.len(), 1);
    }
}
