//! What the bot sends, as plain data ([`Reply`], [`Embed`], [`Button`]), checked against Discord's
//! limits, and its conversion into serenity's request builders.
//!
//! Rendering ([`super::render`]) produces these types and is tested without serenity; this module
//! is the one place that turns them into requests, and it sets `allowed_mentions` on every one of
//! them so that nothing the bot sends can ping anybody (see [`no_pings`]).

use poise::serenity_prelude as serenity;
use serenity::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, ReactionType,
};

use super::text::len;

/// Discord's documented limits (discord-api-docs), as the bot applies them.
pub mod limits {
    /// Message content.
    pub const CONTENT: usize = 2000;
    /// Embed title.
    pub const TITLE: usize = 256;
    /// Embed description.
    pub const DESCRIPTION: usize = 4096;
    /// Embed footer text.
    pub const FOOTER: usize = 2048;
    /// All embeds of a message together (title, description, footer, fields, author).
    pub const EMBEDS_TOTAL: usize = 6000;
    /// Embeds in one message.
    pub const EMBEDS_PER_MESSAGE: usize = 10;
    /// A component's `custom_id`.
    pub const CUSTOM_ID: usize = 100;
    /// A button's label.
    pub const LABEL: usize = 80;
    /// Buttons in one action row.
    pub const BUTTONS_PER_ROW: usize = 5;
    /// Action rows in one message.
    pub const ROWS: usize = 5;
    /// Autocomplete choices.
    pub const CHOICES: usize = 25;
    /// An autocomplete choice's name and value.
    pub const CHOICE_TEXT: usize = 100;
    /// An embed's url.
    pub const URL: usize = 2048;
}

/// The bot's embed colour for answers.
pub const ANSWER_COLOUR: u32 = 0x3b82f6;
/// The bot's embed colour for declines and notices.
pub const NOTICE_COLOUR: u32 = 0x9ca3af;

/// One embed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Embed {
    /// Title (Markdown escaped).
    pub title: Option<String>,
    /// Link of the title.
    pub url: Option<String>,
    /// Description (Markdown).
    pub description: String,
    /// Footer (plain text).
    pub footer: Option<String>,
    /// Colour.
    pub colour: u32,
}

impl Embed {
    /// The length Discord counts towards the 6000 of a message.
    pub fn size(&self) -> usize {
        self.title.as_deref().map_or(0, len) + len(&self.description) + self.footer.as_deref().map_or(0, len)
    }
}

/// How a button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Blue.
    Primary,
    /// Grey.
    Secondary,
}

/// One button.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    /// What it does ([`super::ids::ButtonId`] encoded).
    pub custom_id: String,
    /// Its text.
    pub label: String,
    /// An emoji shown before the label.
    pub emoji: Option<String>,
    /// Its colour.
    pub style: Style,
}

/// A message the bot sends (or an edit of one).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// Plain text above the embeds.
    pub content: Option<String>,
    /// Embeds.
    pub embeds: Vec<Embed>,
    /// Buttons, five a row.
    pub buttons: Vec<Button>,
    /// Only the person who asked sees it (interactions only).
    pub ephemeral: bool,
}

impl Reply {
    /// A short private notice.
    pub fn notice(text: impl Into<String>) -> Reply {
        Reply { content: Some(text.into()), ephemeral: true, ..Reply::default() }
    }

    /// Marks the reply private (or not).
    pub fn private(mut self, ephemeral: bool) -> Reply {
        self.ephemeral = ephemeral;
        self
    }

    /// Checks every Discord limit; the error names the first one broken.
    pub fn check(&self) -> Result<(), String> {
        let over = |what: &str, n: usize, max: usize| {
            if n > max { Err(format!("{what} is {n} long, over Discord's {max}")) } else { Ok(()) }
        };
        if let Some(c) = &self.content {
            over("content", len(c), limits::CONTENT)?;
        }
        if self.content.as_deref().is_none_or(str::is_empty) && self.embeds.is_empty() {
            return Err("a message needs content or an embed".into());
        }
        over("embed count", self.embeds.len(), limits::EMBEDS_PER_MESSAGE)?;
        for e in &self.embeds {
            over("embed title", e.title.as_deref().map_or(0, len), limits::TITLE)?;
            over("embed description", len(&e.description), limits::DESCRIPTION)?;
            over("embed footer", e.footer.as_deref().map_or(0, len), limits::FOOTER)?;
            over("embed url", e.url.as_deref().map_or(0, len), limits::URL)?;
        }
        over("embeds together", self.embeds.iter().map(Embed::size).sum(), limits::EMBEDS_TOTAL)?;
        over("button count", self.buttons.len(), limits::BUTTONS_PER_ROW * limits::ROWS)?;
        let mut ids = std::collections::HashSet::new();
        for b in &self.buttons {
            over("custom_id", len(&b.custom_id), limits::CUSTOM_ID)?;
            over("button label", len(&b.label), limits::LABEL)?;
            if b.custom_id.is_empty() || !ids.insert(&b.custom_id) {
                return Err(format!("custom_id {:?} is empty or repeated", b.custom_id));
            }
        }
        Ok(())
    }

    fn embeds_out(&self) -> Vec<CreateEmbed> {
        debug_assert!(self.check().is_ok(), "{:?}: {self:?}", self.check());
        self.embeds
            .iter()
            .map(|e| {
                let mut b = CreateEmbed::new().description(&e.description).colour(e.colour);
                if let Some(t) = &e.title {
                    b = b.title(t);
                }
                if let Some(u) = &e.url {
                    b = b.url(u);
                }
                if let Some(f) = &e.footer {
                    b = b.footer(CreateEmbedFooter::new(f));
                }
                b
            })
            .collect()
    }

    fn rows_out(&self) -> Vec<CreateActionRow> {
        self.buttons
            .chunks(limits::BUTTONS_PER_ROW)
            .map(|row| {
                CreateActionRow::Buttons(
                    row.iter()
                        .map(|b| {
                            let mut c =
                                CreateButton::new(&b.custom_id).label(&b.label).style(match b.style {
                                    Style::Primary => ButtonStyle::Primary,
                                    Style::Secondary => ButtonStyle::Secondary,
                                });
                            if let Some(e) = &b.emoji {
                                c = c.emoji(ReactionType::Unicode(e.clone()));
                            }
                            c
                        })
                        .collect(),
                )
            })
            .collect()
    }

    /// A channel message; `reply_to` makes it a reply, which pings its author only if `ping_author`.
    pub fn to_message(&self, reply_to: Option<&serenity::Message>, ping_author: bool) -> CreateMessage {
        let mut m = CreateMessage::new()
            .embeds(self.embeds_out())
            .components(self.rows_out())
            .allowed_mentions(no_pings(ping_author && reply_to.is_some()));
        if let Some(c) = &self.content {
            m = m.content(c);
        }
        if let Some(msg) = reply_to {
            m = m.reference_message(msg);
        }
        m
    }

    /// The first response to an interaction.
    pub fn to_response(&self) -> CreateInteractionResponseMessage {
        let mut m = CreateInteractionResponseMessage::new()
            .embeds(self.embeds_out())
            .components(self.rows_out())
            .allowed_mentions(no_pings(false))
            .ephemeral(self.ephemeral);
        if let Some(c) = &self.content {
            m = m.content(c);
        }
        m
    }

    /// The new content of the message a button is on (no flags: an update cannot change them).
    pub fn to_update(&self) -> CreateInteractionResponseMessage {
        CreateInteractionResponseMessage::new()
            .content(self.content.clone().unwrap_or_default())
            .embeds(self.embeds_out())
            .components(self.rows_out())
            .allowed_mentions(no_pings(false))
    }

    /// An edit of an interaction's response (after a deferral, or of the message a button is on).
    pub fn to_edit(&self) -> EditInteractionResponse {
        EditInteractionResponse::new()
            .content(self.content.clone().unwrap_or_default())
            .embeds(self.embeds_out())
            .components(self.rows_out())
            .allowed_mentions(no_pings(false))
    }

    /// A follow-up message of an interaction.
    pub fn to_followup(&self) -> CreateInteractionResponseFollowup {
        let mut m = CreateInteractionResponseFollowup::new()
            .embeds(self.embeds_out())
            .components(self.rows_out())
            .allowed_mentions(no_pings(false))
            .ephemeral(self.ephemeral);
        if let Some(c) = &self.content {
            m = m.content(c);
        }
        m
    }
}

/// `allowed_mentions` that ping nobody: no users, roles or @everyone parsed from the text, and the
/// replied-to author only when `replied_user`.
pub fn no_pings(replied_user: bool) -> CreateAllowedMentions {
    CreateAllowedMentions::new().empty_users().empty_roles().replied_user(replied_user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(id: &str) -> Button {
        Button { custom_id: id.into(), label: "x".into(), emoji: None, style: Style::Secondary }
    }

    #[test]
    fn limits_are_checked() {
        let ok =
            Reply { embeds: vec![Embed { description: "d".into(), ..Embed::default() }], ..Reply::default() };
        assert!(ok.check().is_ok());
        let cases: Vec<(Reply, &str)> = vec![
            (Reply::default(), "needs content"),
            (Reply::notice("x".repeat(2001)), "content"),
            (
                Reply {
                    embeds: vec![Embed { title: Some("t".repeat(257)), ..Embed::default() }],
                    ..Reply::default()
                },
                "title",
            ),
            (
                Reply {
                    embeds: vec![Embed { description: "d".repeat(3500), ..Embed::default() }; 2],
                    ..Reply::default()
                },
                "together",
            ),
            (Reply { buttons: vec![button("a"), button("a")], ..Reply::notice("x") }, "repeated"),
            (Reply { buttons: vec![button(&"a".repeat(101))], ..Reply::notice("x") }, "custom_id"),
        ];
        for (reply, what) in cases {
            let e = reply.check().unwrap_err();
            assert!(e.contains(what), "{e}");
        }
    }

    #[test]
    fn every_request_pings_nobody() {
        let reply = Reply::notice("@everyone <@&1> <@2>");
        let bodies = [
            serde_json::to_value(reply.to_message(None, true)).unwrap(),
            serde_json::to_value(reply.to_response()).unwrap(),
            serde_json::to_value(reply.to_edit()).unwrap(),
            serde_json::to_value(reply.to_followup()).unwrap(),
            serde_json::to_value(reply.to_update()).unwrap(),
        ];
        for body in bodies {
            let am = &body["allowed_mentions"];
            assert_eq!(am["parse"], serde_json::json!([]), "{body}");
            assert_eq!(am["users"], serde_json::json!([]), "{body}");
            assert_eq!(am["roles"], serde_json::json!([]), "{body}");
            assert_eq!(am["replied_user"], serde_json::json!(false), "{body}");
        }
    }

    #[test]
    fn buttons_are_laid_out_five_a_row() {
        let reply = Reply { buttons: (0..7).map(|i| button(&i.to_string())).collect(), ..Reply::notice("x") };
        let body = serde_json::to_value(reply.to_response()).unwrap();
        let rows = body["components"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
    }
}
