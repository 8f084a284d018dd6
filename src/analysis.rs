//! Text analysis: the one place that decides what a "term" is.
//!
//! Passages and questions go through the same steps, so that a word in a question meets the same word
//! in the corpus: Unicode NFKC and lower-casing, splitting into words (hyphens and punctuation split,
//! a trailing possessive `'s` is dropped), British/American spelling folding, and English (Porter2)
//! stemming. Stop words are flagged rather than removed, so offsets stay usable for highlighting.
//!
//! This module is plain Rust: the index module feeds these terms to Tantivy, retrieval uses them to
//! build queries, and the answer module uses the offsets to mark matched words. It knows nothing of
//! Tantivy, Discord or the corpus format.

use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;

/// Bumped whenever analysis changes in a way that changes indexed terms; part of the index fingerprint.
pub const ANALYSIS_VERSION: u32 = 2;

/// One word of a text, with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Byte offset of the word's first byte in the original text.
    pub start: usize,
    /// Byte offset one past the word's last byte in the original text.
    pub end: usize,
    /// The word lower-cased, as written (after NFKC).
    pub surface: String,
    /// The indexed form: spelling-folded and stemmed.
    pub term: String,
    /// True for a stop word ("the", "does", "is"): kept for offsets, not indexed or searched.
    pub stop: bool,
}

/// Splits `text` into analysed tokens.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for (start, end) in word_spans(text) {
        let raw = &text[start..end];
        let mut surface: String = raw.nfkc().flat_map(char::to_lowercase).collect();
        surface = surface.replace(['\u{2019}', '\u{2018}'], "'");
        if let Some(stripped) = surface.strip_suffix("'s") {
            surface = stripped.to_string();
        }
        let surface = surface.trim_matches('\'').to_string();
        if surface.is_empty() {
            continue;
        }
        let stop = is_stop_word(&surface);
        let term = term_of(&surface);
        tokens.push(Token { start, end, surface, term, stop });
    }
    tokens
}

/// The indexed terms of `text`: non-stop tokens' terms, in order.
pub fn terms(text: &str) -> Vec<String> {
    tokenize(text).into_iter().filter(|t| !t.stop).map(|t| t.term).collect()
}

/// The indexed form of one lower-case word: spelling-folded, then stemmed.
pub fn term_of(word: &str) -> String {
    let folded = fold_spelling(word);
    stemmer().stem(&folded).into_owned()
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Byte spans of words: runs of alphanumeric characters, with inner apostrophes kept
/// ("don't", "collagen's") so the possessive can be dropped afterwards.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let is_word = c.is_alphanumeric();
        let inner_apostrophe = matches!(c, '\'' | '\u{2019}')
            && start.is_some()
            && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric());
        match (start, is_word || inner_apostrophe) {
            (None, true) if is_word => start = Some(i),
            (Some(s), false) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// What retrieval needs to know about a passage, analysed once when the index is built.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassageFeatures {
    /// Distinct terms of the searchable text (heading echoes left out).
    pub text: Vec<String>,
    /// Distinct terms of the list or table lead-in.
    pub context: Vec<String>,
    /// Distinct terms of the section headings below the article title.
    pub heading: Vec<String>,
    /// Distinct terms of the passage's own heading (the title for an introduction).
    pub own_heading: Vec<String>,
    /// Distinct terms of the article title.
    pub title: Vec<String>,
    /// The term X when the passage opens by defining it ("X is …", "X are …", "X refers to …").
    pub defines: Option<String>,
    /// True when the passage's own heading is a conventional summary heading ("Key Takeaways").
    pub summary_section: bool,
}

/// Section headings that conventionally summarise an article.
pub const SUMMARY_HEADINGS: &[&str] = &[
    "bottom line",
    "conclusion",
    "conclusions",
    "final thoughts",
    "in a nutshell",
    "in short",
    "in summary",
    "key points",
    "key takeaways",
    "overview",
    "summary",
    "takeaways",
    "the bottom line",
    "tl dr",
    "tldr",
];

impl PassageFeatures {
    /// A compact text form for storage: parts separated by U+001E, terms by spaces.
    pub fn encode(&self) -> String {
        let join = |v: &[String]| v.join(" ");
        [
            join(&self.text),
            join(&self.context),
            join(&self.heading),
            join(&self.own_heading),
            join(&self.title),
            self.defines.clone().unwrap_or_default(),
            if self.summary_section { "1".into() } else { String::new() },
        ]
        .join("\u{1e}")
    }

    /// Reads [`PassageFeatures::encode`]'s form; anything unreadable yields empty features.
    pub fn decode(s: &str) -> PassageFeatures {
        let mut parts = s.split('\u{1e}');
        let mut terms =
            || parts.next().unwrap_or("").split(' ').filter(|t| !t.is_empty()).map(String::from).collect();
        let (text, context, heading, own_heading, title) = (terms(), terms(), terms(), terms(), terms());
        let defines: Vec<String> = terms();
        let summary: Vec<String> = terms();
        PassageFeatures {
            text,
            context,
            heading,
            own_heading,
            title,
            defines: defines.into_iter().next(),
            summary_section: summary.first().is_some_and(|f| f == "1"),
        }
    }
}

/// True when the last heading of `heading_path` (below the title) is a conventional summary heading.
pub fn is_summary_heading(heading_path: &[String]) -> bool {
    let Some(own) = heading_path.last().filter(|_| heading_path.len() > 1) else { return false };
    let words = tokenize(own).into_iter().map(|t| t.surface).collect::<Vec<_>>().join(" ");
    SUMMARY_HEADINGS.contains(&words.as_str())
}

impl PassageFeatures {
    /// Analyses a passage's parts: `searchable` is its text with heading echoes blanked.
    pub fn of(searchable: &str, context: Option<&str>, heading_path: &[String]) -> PassageFeatures {
        let distinct = |s: &str| {
            let mut v = terms(s);
            v.sort();
            v.dedup();
            v
        };
        let own = heading_path.last().map(String::as_str).unwrap_or("");
        let tokens = tokenize(searchable);
        let mut content = tokens.iter().skip_while(|t| t.stop && t.surface != "is" && t.surface != "are");
        let defines = match (content.next(), content.next()) {
            (Some(first), Some(verb))
                if !first.stop && matches!(verb.surface.as_str(), "is" | "are" | "refers" | "means") =>
            {
                Some(first.term.clone())
            }
            _ => None,
        };
        PassageFeatures {
            text: distinct(searchable),
            context: context.map(distinct).unwrap_or_default(),
            heading: distinct(&heading_path.iter().skip(1).cloned().collect::<Vec<_>>().join(" ")),
            own_heading: distinct(own),
            title: heading_path.first().map(|t| distinct(t)).unwrap_or_default(),
            defines,
            summary_section: is_summary_heading(heading_path),
        }
    }
}

/// Folds British and American spellings onto one form, so "moisturizer" meets "moisturiser" and
/// "color" meets "colour". The form need not be a real word: both sides of a match are folded alike.
pub fn fold_spelling(word: &str) -> Cow<'_, str> {
    if let Some(folded) = FOLDED_WORDS.iter().find(|(from, _)| *from == word) {
        return Cow::Borrowed(folded.1);
    }
    let mut out: Cow<'_, str> = Cow::Borrowed(word);
    // -ize/-izing/-ization/-izer → -ise…; -yze → -yse. Three letters before keep "size", "prize".
    for (american, british) in [("iz", "is"), ("yz", "ys")] {
        if let Some(pos) = out.find(american) {
            let rest = &out[pos + 2..];
            if pos >= 3 && (rest.starts_with('e') || rest.starts_with("ing") || rest.starts_with("ation")) {
                out = Cow::Owned(format!("{}{british}{rest}", &out[..pos]));
            }
        }
    }
    // Greek "ae" spellings: haemoglobin, anaemia, aesthetic/esthetic, paediatric.
    if out.contains("ae") && out.len() > 4 {
        out = Cow::Owned(out.replace("ae", "e"));
    }
    // -our/-or endings on the common word stems (colour, flavour, odour, tumour…).
    for stem in OUR_STEMS {
        if let Some(tail) = out.strip_prefix(stem).and_then(|rest| rest.strip_prefix("our")) {
            out = Cow::Owned(format!("{stem}or{tail}"));
            break;
        }
    }
    out
}

const OUR_STEMS: &[&str] = &[
    "col", "flav", "behavi", "fav", "hum", "od", "lab", "harb", "hon", "neighb", "rum", "sav", "vap", "tum",
    "arm", "rig", "vig", "glam", "disfav", "discol",
];

const FOLDED_WORDS: &[(&str, &str)] = &[
    ("centre", "center"),
    ("centres", "centers"),
    ("fibre", "fiber"),
    ("fibres", "fibers"),
    ("litre", "liter"),
    ("litres", "liters"),
    ("grey", "gray"),
    ("mould", "mold"),
    ("defence", "defense"),
    ("licence", "license"),
    ("oestrogen", "estrogen"),
    ("programme", "program"),
    ("sulphur", "sulfur"),
    ("sulphate", "sulfate"),
    ("sulphates", "sulfates"),
];

/// True when `word` (lower-case) carries no meaning of its own for retrieval.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

/// English stop words (the widely used NLTK list, sorted for binary search), plus contractions
/// written without an apostrophe as people type them in chat.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "ain",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "aren't",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "couldn",
    "couldn't",
    "d",
    "did",
    "didn",
    "didn't",
    "do",
    "does",
    "doesn",
    "doesn't",
    "doing",
    "don",
    "don't",
    "dont",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn",
    "hadn't",
    "has",
    "hasn",
    "hasn't",
    "have",
    "haven",
    "haven't",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "im",
    "in",
    "into",
    "is",
    "isn",
    "isn't",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "ll",
    "m",
    "ma",
    "me",
    "mightn",
    "mightn't",
    "more",
    "most",
    "mustn",
    "mustn't",
    "my",
    "myself",
    "needn",
    "needn't",
    "no",
    "nor",
    "not",
    "now",
    "o",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "shan",
    "shan't",
    "she",
    "she's",
    "should",
    "should've",
    "shouldn",
    "shouldn't",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "that'll",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "wasn",
    "wasn't",
    "we",
    "were",
    "weren",
    "weren't",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "won't",
    "wouldn",
    "wouldn't",
    "y",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]), "STOP_WORDS must stay sorted");
    }

    #[test]
    fn british_and_american_spellings_meet() {
        for (a, b) in [
            ("moisturizer", "moisturiser"),
            ("moisturizing", "moisturising"),
            ("color", "colour"),
            ("prioritize", "prioritise"),
            ("sensitized", "sensitised"),
            ("aging", "ageing"),
            ("esthetic", "aesthetic"),
            ("analyze", "analyse"),
            ("stabilization", "stabilisation"),
            ("center", "centre"),
        ] {
            assert_eq!(term_of(a), term_of(b), "{a} vs {b}");
        }
        assert_ne!(term_of("size"), term_of("sis"));
    }

    #[test]
    fn tokens_keep_offsets_and_flag_stop_words() {
        let text = "What does Collagen’s humectant do? Post-procedure!";
        let toks = tokenize(text);
        let surfaces: Vec<_> = toks.iter().map(|t| t.surface.as_str()).collect();
        assert_eq!(surfaces, ["what", "does", "collagen", "humectant", "do", "post", "procedure"]);
        assert!(toks[0].stop && toks[1].stop && !toks[2].stop);
        assert_eq!(&text[toks[2].start..toks[2].end], "Collagen’s");
        assert_eq!(toks[6].term, term_of("procedures"));
    }

    #[test]
    fn features_round_trip_through_their_stored_form() {
        let f = PassageFeatures::of(
            "Collagen is a protein that binds water.",
            Some("Key facts:"),
            &["Title".into(), "Key Takeaways".into()],
        );
        assert_eq!(f.defines.as_deref(), Some("collagen"));
        assert!(f.summary_section);
        assert_eq!(PassageFeatures::decode(&f.encode()), f);
        assert_eq!(PassageFeatures::decode(""), PassageFeatures::default());
    }

    #[test]
    fn odd_input_never_panics() {
        for text in ["", "   ", "''", "\u{202e}abc", "🙂🙂", "a\u{200b}b", "ǅ", "ﬁne", "'s"] {
            let _ = tokenize(text);
        }
    }
}
