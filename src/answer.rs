//! Answers: what the bot says, in a form every front end (terminal, JSON, Discord) renders.
//!
//! An [`Answer`] holds a verbatim excerpt (never rewritten: at most cut at sentence boundaries), the
//! offsets of the words that matched the question, its source, a confidence in [0, 1], up to a few
//! alternatives, and an explanation of how each question word was matched. A decline carries the
//! nearest sections instead of an excerpt.

use crate::corpus::sentence_spans;
use serde::Serialize;

/// Where a passage comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// Article title.
    pub title: String,
    /// Article file, relative to the corpus directory.
    pub path: String,
    /// Article web address, if it has one.
    pub url: Option<String>,
    /// Section anchor (GitHub style).
    pub anchor: String,
    /// Line of the passage in the file.
    pub line: u64,
}

impl Source {
    /// `url#anchor` when the article has a url, else `path#anchor`.
    pub fn link(&self) -> String {
        match &self.url {
            Some(url) => format!("{}#{}", url.trim_end_matches('#'), self.anchor),
            None => format!("{}#{}", self.path, self.anchor),
        }
    }
}

/// Another passage worth reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    /// Verbatim excerpt.
    pub excerpt: String,
    /// Heading path.
    pub section: Vec<String>,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// Passage id.
    pub passage_id: String,
    /// Section id.
    pub section_id: String,
    /// Source.
    pub source: Source,
}

/// How one word (or phrase) of the question was matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordMatch {
    /// The words as typed.
    pub words: String,
    /// How it was searched: `word`, `synonym` or `spelling`; None when the corpus never uses it.
    pub via: Option<crate::question::Origin>,
    /// Where the answer matched it: `text`, `context`, `heading`, `title`, or None.
    pub found_in: Option<&'static str>,
    /// Its weight in the confidence.
    pub weight: f64,
}

/// The reply to one question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The question as asked.
    pub question: String,
    /// True when the corpus answers it; false for a decline.
    pub answered: bool,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The verbatim excerpt (None on a decline).
    pub excerpt: Option<String>,
    /// Heading path of the answer (on a decline: of the nearest section, if any).
    pub section: Vec<String>,
    /// Source of the answer (on a decline: of the nearest section, if any).
    pub source: Option<Source>,
    /// Other passages (on a decline: the nearest sections).
    pub alternatives: Vec<Alternative>,
    /// Id of the quoted passage.
    pub passage_id: Option<String>,
    /// Id of the section quoted or nearest.
    pub section_id: Option<String>,
    /// The sentence introducing the list item or table row quoted, shown apart from the quote.
    pub context: Option<String>,
    /// Byte ranges in `excerpt` of words that matched the question.
    pub highlights: Vec<(usize, usize)>,
    /// True when the excerpt is a part of a longer passage.
    pub truncated: bool,
    /// Why the question was declined, in one sentence.
    pub decline_reason: Option<String>,
    /// How each part of the question was matched.
    pub matched: Vec<WordMatch>,
    /// The example question whose similarity gave the answer its confidence, when that was
    /// higher than the passage's own match.
    pub like_question: Option<String>,
    /// What the confidence of the best passage is made of.
    pub signals: Signals,
}

/// The parts of the best passage's confidence, for `--explain` and the JSON output.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Signals {
    /// The share of the question's weight its words match (coverage).
    pub words: f64,
    /// Its meaning score (the cosine of question and passage, blended with its section's); None
    /// when the semantic stage is off.
    pub meaning: Option<f64>,
    /// The share of the confidence that came from meaning (0 with the stage off).
    pub meaning_share: f64,
    /// The similarity of the example question that lifted the confidence, if one did.
    pub example: Option<f64>,
    /// The threshold the confidence was compared with.
    pub threshold: f64,
}

/// An excerpt cut from a passage.
#[derive(Debug, Clone, PartialEq)]
pub struct Excerpt {
    /// The text, verbatim.
    pub text: String,
    /// True when it is not the whole passage.
    pub truncated: bool,
}

/// Cuts `text` to at most `max_chars` characters. Whole sentences are kept, choosing the run of
/// sentences that holds the most of `is_match`'s words; a single sentence longer than the limit is cut
/// at the last word boundary that fits. The result is always a substring of `text`.
pub fn excerpt(text: &str, max_chars: usize, mut is_match: impl FnMut(usize, usize) -> bool) -> Excerpt {
    let text = text.trim();
    if text.chars().count() <= max_chars {
        return Excerpt { text: text.to_string(), truncated: false };
    }
    let sentences = sentence_spans(text);
    let words = crate::analysis::tokenize(text);
    // Per sentence: matched words and length in characters, so every window is scored in O(1).
    let mut matched = vec![0usize; sentences.len()];
    let mut w = 0;
    for (i, &(s, e)) in sentences.iter().enumerate() {
        while w < words.len() && words[w].start < e {
            if words[w].start >= s && !words[w].stop && is_match(words[w].start, words[w].end) {
                matched[i] += 1;
            }
            w += 1;
        }
    }
    let chars: Vec<usize> = sentences.iter().map(|&(s, e)| text[s..e].chars().count()).collect();
    let mut best: Option<(usize, usize, usize)> = None; // (score, first, last)
    for i in 0..sentences.len() {
        let (mut score, mut len) = (0, 0);
        for j in i..sentences.len() {
            // Window i..=j spans from sentence i's start to sentence j's end (gaps included).
            len = if j == i {
                chars[i]
            } else {
                len + text[sentences[j - 1].1..sentences[j].1].chars().count()
            };
            if len > max_chars {
                break;
            }
            score += matched[j];
            let (s, e) = (sentences[i].0, sentences[j].1);
            if best.is_none_or(|(b, bi, bj)| {
                score > b || (score == b && e - s > sentences[bj].1 - sentences[bi].0)
            }) {
                best = Some((score, i, j));
            }
        }
    }
    let (start, end) = match best {
        Some((_, i, j)) => (sentences[i].0, sentences[j].1),
        None => {
            // No whole sentence fits: the best sentence, cut at a word boundary.
            let i = (0..sentences.len()).max_by_key(|&i| (matched[i], std::cmp::Reverse(i))).unwrap_or(0);
            let (s, e) = sentences.get(i).copied().unwrap_or((0, text.len()));
            (s, cut_at_word(text, s, e, max_chars))
        }
    };
    Excerpt { text: text[start..end].trim().to_string(), truncated: true }
}

/// The end of the longest prefix of `text[start..end]` of at most `max_chars` characters that ends
/// at a word boundary (never mid-word; mid-word only when a single word is longer than the limit).
pub fn cut_at_word(text: &str, start: usize, end: usize, max_chars: usize) -> usize {
    let slice = &text[start..end];
    let limit = slice.char_indices().nth(max_chars).map(|(i, _)| i).unwrap_or(slice.len());
    if limit == slice.len() {
        return end;
    }
    // `limit` is a char boundary; look at the characters up to and including the one there.
    let upto = limit + slice[limit..].chars().next().map_or(0, char::len_utf8);
    let boundary =
        slice[..upto].char_indices().rev().find(|(i, c)| c.is_whitespace() && *i <= limit).map(|(i, _)| i);
    let cut = match boundary {
        Some(i) if i > 0 => slice[..i].trim_end().len(),
        _ => limit,
    };
    start + cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_whole() {
        let e = excerpt("One. Two.", 700, |_, _| false);
        assert_eq!(e, Excerpt { text: "One. Two.".into(), truncated: false });
    }

    #[test]
    fn long_text_keeps_the_matching_sentences() {
        let text = "Alpha beta gamma. Delta epsilon zeta. Collagen binds water here. Eta theta iota.";
        let e = excerpt(text, 45, |s, e| &text[s..e] == "Collagen");
        assert!(e.truncated);
        assert!(e.text.contains("Collagen binds water here."), "{}", e.text);
        assert!(text.contains(&e.text));
        assert!(e.text.chars().count() <= 45);
    }

    #[test]
    fn one_huge_sentence_is_cut_between_words() {
        let text = "word ".repeat(400);
        let e = excerpt(&text, 700, |_, _| false);
        assert!(e.text.chars().count() <= 700);
        assert!(e.text.ends_with("word"));
        assert!(text.contains(&e.text));
    }

    #[test]
    fn cutting_next_to_a_multibyte_character_does_not_panic() {
        for text in ["🙂".repeat(800), format!("{} {}", "a".repeat(699), "🙂".repeat(50)), "é ".repeat(500)]
        {
            let e = excerpt(&text, 700, |_, _| false);
            assert!(e.text.chars().count() <= 700);
            assert!(text.contains(&e.text));
        }
    }

    #[test]
    fn long_passages_are_cut_in_linear_time_per_window() {
        // 5,000 short sentences: the window search must not rescan words per window.
        let text = "Collagen binds water. ".repeat(5000);
        let e = excerpt(&text, 700, |_, _| true);
        assert!(e.truncated && e.text.chars().count() <= 700 && e.text.ends_with('.'));
    }

    #[test]
    fn links_prefer_the_url() {
        let mut s = Source { title: "T".into(), path: "a.md".into(), url: None, anchor: "x".into(), line: 1 };
        assert_eq!(s.link(), "a.md#x");
        s.url = Some("https://e.test/a".into());
        assert_eq!(s.link(), "https://e.test/a#x");
    }
}
