//! Button ids: everything a button needs, carried in its `custom_id` (at most 100 characters), so
//! buttons keep working after a restart and need no storage.
//!
//! Every id names the corpus version it was made for; a press on a button from another version is
//! answered with a polite "the articles changed" instead of a wrong passage. Ids look like
//! `cb1:n:<version>:<shown>:<passage>.<passage>…` (next passage), `cb1:s:<version>:<section>`
//! (a whole section), `cb1:u:<version>:<passage>` / `cb1:d:…` (👍 / 👎).

use super::reply::limits;

const TAG: &str = "cb1";

/// What a button does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Show the passage after `passages[shown]` (cycling), editing the message.
    Next {
        /// Index in `passages` of the passage shown now.
        shown: usize,
        /// The answer's passage and its alternatives, in order.
        passages: Vec<String>,
    },
    /// Show a whole section, privately.
    Section {
        /// The section id.
        section_id: String,
    },
    /// Record whether a passage helped.
    Feedback {
        /// The passage judged.
        passage_id: String,
        /// 👍 (true) or 👎 (false).
        helpful: bool,
    },
}

/// A decoded button id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonId {
    /// The corpus version the button was made for.
    pub corpus_version: String,
    /// What it does.
    pub action: Action,
}

impl ButtonId {
    /// A "next passage" button; passages that would make the id too long are left out.
    pub fn next(corpus_version: &str, shown: usize, passages: &[String]) -> ButtonId {
        let mut passages = passages.to_vec();
        let mut id = ButtonId {
            corpus_version: corpus_version.to_string(),
            action: Action::Next { shown, passages: vec![] },
        };
        while !passages.is_empty() {
            id.action = Action::Next { shown: shown.min(passages.len() - 1), passages: passages.clone() };
            if id.encode().len() <= limits::CUSTOM_ID {
                break;
            }
            passages.pop();
        }
        id
    }

    /// The `custom_id` text.
    pub fn encode(&self) -> String {
        let v = &self.corpus_version;
        match &self.action {
            Action::Next { shown, passages } => format!("{TAG}:n:{v}:{shown}:{}", passages.join(".")),
            Action::Section { section_id } => format!("{TAG}:s:{v}:{section_id}"),
            Action::Feedback { passage_id, helpful } => {
                format!("{TAG}:{}:{v}:{passage_id}", if *helpful { 'u' } else { 'd' })
            }
        }
    }

    /// Decodes a `custom_id`; None for ids this bot did not make (or made by an older version).
    pub fn parse(custom_id: &str) -> Option<ButtonId> {
        let mut parts = custom_id.split(':');
        if parts.next() != Some(TAG) {
            return None;
        }
        let kind = parts.next()?;
        let corpus_version = parts.next().filter(|v| is_id(v))?.to_string();
        let action = match kind {
            "n" => {
                let shown: usize = parts.next()?.parse().ok()?;
                let passages: Vec<String> = parts.next()?.split('.').map(str::to_string).collect();
                if shown >= passages.len() || !passages.iter().all(|p| is_id(p)) {
                    return None;
                }
                Action::Next { shown, passages }
            }
            "s" => Action::Section { section_id: parts.next().filter(|s| is_id(s))?.to_string() },
            "u" | "d" => Action::Feedback {
                passage_id: parts.next().filter(|s| is_id(s))?.to_string(),
                helpful: kind == "u",
            },
            _ => return None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(ButtonId { corpus_version, action })
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:012x}")).collect()
    }

    #[test]
    fn ids_round_trip() {
        let cases = [
            ButtonId::next("0123abcd", 1, &ids(4)),
            ButtonId {
                corpus_version: "0123abcd".into(),
                action: Action::Section { section_id: "a1b2c3d4e5f6".into() },
            },
            ButtonId {
                corpus_version: "0123abcd".into(),
                action: Action::Feedback { passage_id: "a1b2c3d4e5f6".into(), helpful: false },
            },
        ];
        for id in cases {
            let text = id.encode();
            assert!(text.len() <= limits::CUSTOM_ID, "{text}");
            assert_eq!(ButtonId::parse(&text), Some(id), "{text}");
        }
    }

    #[test]
    fn next_drops_passages_that_do_not_fit() {
        let id = ButtonId::next("0123abcd", 0, &ids(12));
        let text = id.encode();
        assert!(text.len() <= limits::CUSTOM_ID, "{}", text.len());
        let Action::Next { passages, .. } = id.action else { panic!() };
        assert!(passages.len() >= 5 && passages.len() < 12, "{}", passages.len());
    }

    #[test]
    fn foreign_or_damaged_ids_are_rejected() {
        for bad in [
            "",
            "other:n:1:0:a",
            "cb1:x:0123abcd:a",
            "cb1:n:0123abcd:5:a.b",
            "cb1:n:0123abcd:zero:a",
            "cb1:s:0123abcd:",
            "cb1:s:0123abcd:a:b",
            "cb1:u:bad version:a",
            "cb1:s:0123abcd:a b",
        ] {
            assert_eq!(ButtonId::parse(bad), None, "{bad}");
        }
    }
}
