//! Question analysis: from what someone typed to weighted concept groups.
//!
//! A question becomes a list of [`Group`]s, one per concept the person asked about. Each group has
//! alternatives: the word itself, what the synonyms file rewrites it to, the corpus word it is most
//! likely a misspelling of (by edit distance, or by sound), the corpus words of its WordNet family
//! ("inflamed" → "inflammation") and, for a word the corpus never uses, WordNet's synonyms of its
//! commonest sense ("pick" → "select"). Chat filler ("hi", "pls", "lol") and question words are dropped;
//! generic words ("help", "good", "use") count for little. A group's weight is the rarity (IDF) of its
//! best alternative in the corpus, and a word the corpus has never seen weighs as much as the rarest
//! word: a question about "tretinoin" is not answered by a passage about "collagen".
//!
//! This module is plain Rust: it asks a [`TermStats`] for document frequencies and knows nothing of
//! Tantivy.

pub use crate::config::AnalysisSettings;

use crate::analysis::{self, Token};
use crate::synonyms::Synonyms;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Questions are cut to this many characters before analysis: bounded work for any input.
pub const MAX_QUESTION_CHARS: usize = 1000;

/// Where the corpus statistics come from (the index in production, a map in tests).
pub trait TermStats {
    /// Number of passages.
    fn passages(&self) -> u64;
    /// In how many passages `term` occurs in the text, list/table context, or headings.
    fn doc_freq(&self, term: &str) -> u64;
    /// True when `term` occurs anywhere in the corpus, titles included.
    fn known(&self, term: &str) -> bool;
}

/// How an alternative came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The word as typed.
    Word,
    /// A synonyms file rule.
    Synonym,
    /// The nearest corpus word to a misspelling.
    Spelling,
    /// A word of the same family ("inflammation" for "inflamed"), from WordNet's derivation links.
    Family,
    /// A synonym from WordNet ("choose" for "pick"), for a word the corpus never uses.
    Thesaurus,
}

/// One way to match a concept: a phrase of analysed terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    /// Analysed terms, all of which must be present.
    pub terms: Vec<String>,
    /// Multiplies the credit for matching this alternative (1 for the word itself).
    pub factor: f32,
    /// Where it came from.
    pub origin: Origin,
}

/// One concept of the question.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The words as typed (lower-case).
    pub words: String,
    /// Ways to match it.
    pub alternatives: Vec<Alternative>,
    /// Importance: IDF of the best alternative, or of an unseen word; smaller for generic words.
    pub weight: f32,
    /// True when some alternative occurs in the corpus.
    pub known: bool,
    /// True for a request for a summary ("tl;dr", "key takeaways"): matched by summary sections.
    pub summary: bool,
}

/// An analysed question.
#[derive(Debug, Clone, Default)]
pub struct Analysed {
    /// The question as used (cut to [`MAX_QUESTION_CHARS`]).
    pub text: String,
    /// Its concept groups.
    pub groups: Vec<Group>,
    /// For "what is X?" questions: the terms of X.
    pub definition_of: Option<Vec<String>>,
    /// True when a clause of the question asks for an amount or a time ("how long…", "how many…",
    /// "what percentage…"): only a passage that states one answers it.
    pub asks_quantity: bool,
}

/// Spelling candidates: the corpus's words and the synonyms' trigger words.
///
/// Candidates are bucketed by first letter: a misspelling almost always keeps it, and when the first
/// two letters are swapped the second letter's bucket is searched too. That keeps correction cheap
/// on a large vocabulary without a deletion index. Words spelt by ear ("hydrashun", "seramide") are
/// matched by their Double Metaphone code, an index built on first need.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    /// First letter → (surface word as chars, term).
    by_first: HashMap<char, Vec<Candidate>>,
    /// Every term, sorted, for stem-family look-ups.
    terms: std::collections::BTreeSet<String>,
    /// Double Metaphone code → (surface word as chars, term).
    by_sound: OnceLock<HashMap<String, Vec<Candidate>>>,
}

/// A spelling candidate: a surface word as chars, and its term.
type Candidate = (Vec<char>, String);

/// The longest Double Metaphone code compared: long enough that a code names few words.
const SOUND_CODE_LEN: usize = 12;

/// The Double Metaphone code (primary) of a word of English letters; None for any other word (the
/// encoder slices by bytes and is only meant for English spelling).
fn sound_code(word: &str) -> Option<String> {
    word.bytes()
        .all(|b| b.is_ascii_alphabetic())
        .then(|| rphonetic::DoubleMetaphone::new(Some(SOUND_CODE_LEN)).double_metaphone(word).primary())
}

impl Lexicon {
    /// Builds a lexicon from `(surface, term)` pairs.
    pub fn new<'a>(words: impl IntoIterator<Item = (&'a str, &'a str)>) -> Lexicon {
        let mut lexicon = Lexicon::default();
        for (surface, term) in words {
            let chars: Vec<char> = surface.chars().collect();
            if chars.len() >= 4 && !chars.iter().any(|c| c.is_numeric()) {
                lexicon.by_first.entry(chars[0]).or_default().push((chars, term.into()));
            }
            lexicon.terms.insert(term.to_string());
        }
        for v in lexicon.by_first.values_mut() {
            v.sort();
            v.dedup();
        }
        lexicon
    }

    /// The term of the closest word to `word` within the allowed edit distance (1 up to 7 letters,
    /// 2 beyond), preferring the more frequent; failing that, a corpus term of the same stem family
    /// as `term`. None when nothing is close or `word` is short.
    pub fn correct(&self, word: &str, term: &str, stats: &dyn TermStats) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < 4 || chars.iter().any(|c| c.is_numeric()) {
            return None;
        }
        let max = if chars.len() <= 7 { 1 } else { 2 };
        let mut best: Option<(usize, u64, &str)> = None;
        let mut firsts = vec![chars[0]];
        if chars[1] != chars[0] {
            firsts.push(chars[1]);
        }
        for first in firsts {
            for (surface, candidate) in self.by_first.get(&first).into_iter().flatten() {
                // A word is not its own correction (a synonym rule's trigger word may be the word
                // itself, as "always" in "always red").
                if candidate == term {
                    continue;
                }
                let term = candidate;
                let Some(d) = bounded_distance(&chars, surface, max) else { continue };
                let df = stats.doc_freq(term);
                let better = match best {
                    None => true,
                    Some((bd, bdf, bterm)) => {
                        (d, std::cmp::Reverse(df), term.as_str()) < (bd, std::cmp::Reverse(bdf), bterm)
                    }
                };
                if better {
                    best = Some((d, df, term));
                }
            }
        }
        if let Some((_, _, t)) = best {
            return Some(t.to_string());
        }
        self.sounds_like(word, &chars, stats)
            .or_else(|| self.same_stem_family(term, stats))
            .filter(|fixed| fixed != term)
    }

    /// The corpus word that sounds like `word` (the same Double Metaphone code, at least three
    /// letters of it) and is spelt within a third of its letters; the closest, then the most
    /// frequent. Words under five letters have too short a code to tell.
    fn sounds_like(&self, word: &str, chars: &[char], stats: &dyn TermStats) -> Option<String> {
        if chars.len() < 5 {
            return None;
        }
        let code = sound_code(word).filter(|c| c.len() >= 3)?;
        let by_sound = self.by_sound.get_or_init(|| {
            let mut map: HashMap<String, Vec<Candidate>> = HashMap::new();
            for (surface, term) in self.by_first.values().flatten() {
                if let Some(code) = sound_code(&surface.iter().collect::<String>()) {
                    map.entry(code).or_default().push((surface.clone(), term.clone()));
                }
            }
            map
        });
        let max = chars.len().div_ceil(3);
        by_sound
            .get(&code)?
            .iter()
            .filter_map(|(surface, term)| {
                bounded_distance(chars, surface, max)
                    .map(|d| (d, std::cmp::Reverse(stats.doc_freq(term)), term))
            })
            .min()
            .map(|(_, _, term)| term.clone())
    }

    /// A corpus term that starts with `term` or that `term` starts with (at least five letters
    /// shared, at most four more): "recov" (recovering) meets "recoveri" (recovery). The most
    /// frequent wins.
    fn same_stem_family(&self, term: &str, stats: &dyn TermStats) -> Option<String> {
        if term.chars().count() < 5 {
            return None;
        }
        let longer = self
            .terms
            .range(term.to_string()..)
            .take_while(|t| t.starts_with(term))
            .filter(|t| t.len() - term.len() <= 4 && t.as_str() != term);
        let shorter = term
            .char_indices()
            .map(|(i, _)| &term[..i])
            .filter(|p| p.chars().count() >= 5 && term.len() - p.len() <= 4)
            .filter_map(|p| self.terms.get(p));
        longer
            .chain(shorter)
            .map(|t| (stats.doc_freq(t), t))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, t)| t.clone())
    }
}

/// Optimal-string-alignment distance between `a` and `b`, or None when it exceeds `max`.
fn bounded_distance(a: &[char], b: &[char], max: usize) -> Option<usize> {
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let (n, m) = (a.len(), b.len());
    let mut prev2 = vec![0usize; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur = vec![0usize; m + 1];
    for i in 1..=n {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    (prev[m] <= max && prev[m] > 0).then_some(prev[m])
}

/// BM25's inverse document frequency.
pub fn idf(passages: u64, df: u64) -> f32 {
    let n = passages as f32;
    let df = df as f32;
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

/// Cuts `question` to at most [`MAX_QUESTION_CHARS`] characters, on a character boundary.
pub fn bounded(question: &str) -> &str {
    match question.char_indices().nth(MAX_QUESTION_CHARS) {
        Some((i, _)) => &question[..i],
        None => question,
    }
}

/// Analyses a question into weighted concept groups.
pub fn analyse(
    question: &str,
    synonyms: &Synonyms,
    lexicon: &Lexicon,
    stats: &dyn TermStats,
    settings: &AnalysisSettings,
) -> Analysed {
    let text = bounded(question).to_string();
    let tokens: Vec<Token> = analysis::tokenize(&text);
    let terms: Vec<(&str, bool)> = tokens.iter().map(|t| (t.term.as_str(), t.stop)).collect();
    let expansions = synonyms.expand(&terms);
    let n = stats.passages().max(1);
    let unseen_weight = idf(n, 0) * settings.unknown_word_factor;

    // The word asking for an amount ("long" in "how long") is the question's kind, not its topic.
    let quantity_word = quantity_word(&text, &tokens);
    let mut groups: Vec<Group> = Vec::new();
    let mut i = 0;
    let mut exp = expansions.iter().peekable();
    while i < tokens.len() {
        if let Some(e) = exp.next_if(|e| e.start == i) {
            let words =
                tokens[e.start..e.end].iter().map(|t| t.surface.as_str()).collect::<Vec<_>>().join(" ");
            let mut alternatives: Vec<Alternative> = e
                .alternatives
                .iter()
                .map(|terms| Alternative {
                    terms: terms.clone(),
                    factor: settings.synonym_factor,
                    origin: Origin::Synonym,
                })
                .collect();
            // The words as typed still count when the corpus uses them too.
            let own: Vec<String> =
                tokens[e.start..e.end].iter().filter(|t| !t.stop).map(|t| t.term.clone()).collect();
            if !own.is_empty()
                && !alternatives.iter().any(|a| a.terms == own)
                && own.iter().all(|t| stats.known(t))
            {
                alternatives.push(Alternative { terms: own, factor: 1.0, origin: Origin::Word });
            }
            let generic = tokens[e.start..e.end].iter().all(|t| t.stop || is_generic(&t.surface));
            groups.push(group(words, alternatives, generic, stats, n, unseen_weight, settings));
            i = e.end;
            continue;
        }
        let t = &tokens[i];
        i += 1;
        if quantity_word == Some(i - 1) {
            continue;
        }
        // A lone letter the corpus lacks is chat shorthand ("w" for with, "n" for and), not a topic.
        let shorthand = t.surface.chars().count() == 1 && !stats.known(&t.term);
        if t.stop || shorthand || is_filler(&t.surface) {
            continue;
        }
        if is_summary_word(&t.surface) {
            match groups.iter_mut().find(|g| g.summary) {
                Some(g) => {
                    g.words.push(' ');
                    g.words.push_str(&t.surface);
                }
                None => groups.push(Group {
                    words: t.surface.clone(),
                    alternatives: Vec::new(),
                    weight: idf(n, 1),
                    known: true,
                    summary: true,
                }),
            }
            continue;
        }
        if groups
            .iter()
            .any(|g| g.alternatives.iter().any(|a| a.origin == Origin::Word && a.terms == [t.term.clone()]))
        {
            continue; // the same word twice adds nothing
        }
        let mut alternatives =
            vec![Alternative { terms: vec![t.term.clone()], factor: 1.0, origin: Origin::Word }];
        if !stats.known(&t.term)
            && let Some(fixed) = lexicon.correct(&t.surface, &t.term, stats)
        {
            alternatives.push(Alternative {
                terms: vec![fixed],
                factor: settings.spelling_factor,
                origin: Origin::Spelling,
            });
        }
        // Other words of its family the corpus uses ("inflamed" → "inflammation"); for a word the
        // corpus lacks and cannot correct or relate, the synonyms of its commonest sense.
        let relations = word_relations(&t.term);
        add_known(&mut alternatives, &relations.family, settings.family_factor, Origin::Family, stats);
        if !stats.known(&t.term) && alternatives.len() == 1 {
            add_known(
                &mut alternatives,
                &relations.synonyms,
                settings.thesaurus_factor,
                Origin::Thesaurus,
                stats,
            );
        }
        // A typo of a generic word ("actualy") is as vague as the word.
        let corrected_generic = alternatives
            .iter()
            .any(|a| a.origin == Origin::Spelling && a.terms.iter().all(|t| is_generic(t)));
        let generic = is_generic(&t.surface)
            || corrected_generic
            || (!stats.known(&t.term) && alternatives.len() == 1 && is_common_modifier(&t.surface));
        groups.push(group(t.surface.clone(), alternatives, generic, stats, n, unseen_weight, settings));
    }
    let definition_of = definition_subject(&tokens);
    Analysed { text, groups, definition_of, asks_quantity: quantity_word.is_some() }
}

/// The index of the word that asks for an amount or a time ("long" in "how long"), when a clause
/// opens with "how long / many / much / often / soon / quickly / frequently" or "what percentage /
/// percent / concentration / dose / dosage / amount". A clause opens at the start of the question
/// or after punctuation, once chat openers ("so", "ok", "and"…) are skipped: "does how much water
/// is in skin matter" asks no amount.
fn quantity_word(text: &str, tokens: &[Token]) -> Option<usize> {
    let mut clause_start = true;
    let mut prev_end = 0;
    for (i, t) in tokens.iter().enumerate() {
        if text[prev_end..t.start]
            .chars()
            .any(|c| matches!(c, ',' | '.' | '?' | '!' | ';' | ':' | '(' | '\n'))
        {
            clause_start = true;
        }
        prev_end = t.end;
        if !clause_start {
            continue;
        }
        if matches!(
            t.surface.as_str(),
            "so" | "ok"
                | "okay"
                | "and"
                | "but"
                | "also"
                | "like"
                | "hey"
                | "hi"
                | "um"
                | "uh"
                | "wait"
                | "then"
                | "btw"
                | "q"
        ) {
            continue;
        }
        let next = tokens.get(i + 1).map(|n| n.surface.as_str());
        let asks = matches!(
            (t.surface.as_str(), next),
            ("how", Some("long" | "many" | "much" | "often" | "soon" | "quickly" | "frequently"))
                | (
                    "what" | "whats",
                    Some("percentage" | "percent" | "concentration" | "dose" | "dosage" | "amount")
                )
        );
        if asks {
            return Some(i + 1);
        }
        clause_start = false;
    }
    None
}

/// Number and time-unit words, sorted.
const QUANTITY_WORDS: &[&str] = &[
    "annually",
    "daily",
    "day",
    "days",
    "dozen",
    "eight",
    "eighteen",
    "eleven",
    "fifteen",
    "fifty",
    "five",
    "fortnight",
    "forty",
    "four",
    "fourteen",
    "half",
    "hour",
    "hourly",
    "hours",
    "hundred",
    "minute",
    "minutes",
    "month",
    "monthly",
    "months",
    "nine",
    "once",
    "one",
    "percent",
    "quarter",
    "second",
    "seconds",
    "seven",
    "six",
    "sixty",
    "ten",
    "third",
    "thirty",
    "thousand",
    "three",
    "thrice",
    "twelve",
    "twenty",
    "twice",
    "two",
    "week",
    "weekly",
    "weeks",
    "year",
    "yearly",
    "years",
];

/// True when `text` states an amount or a time: a digit, or a number or time-unit word.
pub fn states_quantity(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit() || c == '%')
        || analysis::tokenize(text).iter().any(|t| QUANTITY_WORDS.binary_search(&t.surface.as_str()).is_ok())
}

/// Adds each of `terms` that the corpus uses, and that is not an alternative yet, as a one-word
/// alternative.
fn add_known(
    alternatives: &mut Vec<Alternative>,
    terms: &[&str],
    factor: f32,
    origin: Origin,
    stats: &dyn TermStats,
) {
    for term in terms.iter().filter(|t| stats.known(t)) {
        if !alternatives.iter().any(|a| a.terms.len() == 1 && a.terms[0] == *term) {
            alternatives.push(Alternative { terms: vec![term.to_string()], factor, origin });
        }
    }
}

/// The terms of X in "what is X", "what are X", "define X", "meaning of X", "X meaning" (at most three
/// content words).
fn definition_subject(tokens: &[Token]) -> Option<Vec<String>> {
    let words: Vec<&Token> =
        tokens.iter().filter(|t| t.surface == "whats" || !is_filler(&t.surface)).collect();
    let s: Vec<&str> = words.iter().map(|t| t.surface.as_str()).collect();
    let (from, to) = match s.as_slice() {
        ["what", "is" | "are", ..] => (2, s.len()),
        ["whats" | "define", ..] => (1, s.len()),
        ["meaning", "of", ..] => (2, s.len()),
        [.., "meaning"] => (0, s.len() - 1),
        _ => return None,
    };
    let subject: Vec<String> = words[from..to].iter().filter(|t| !t.stop).map(|t| t.term.clone()).collect();
    (!subject.is_empty() && subject.len() <= 3).then_some(subject)
}

/// Words that ask for a summary rather than a topic.
pub fn is_summary_word(word: &str) -> bool {
    matches!(
        word,
        "tldr"
            | "tl"
            | "dr"
            | "summary"
            | "summarise"
            | "summarize"
            | "recap"
            | "overview"
            | "takeaway"
            | "takeaways"
            | "gist"
            | "nutshell"
            | "conclusion"
    )
}

fn group(
    words: String,
    mut alternatives: Vec<Alternative>,
    generic: bool,
    stats: &dyn TermStats,
    n: u64,
    unseen_weight: f32,
    settings: &AnalysisSettings,
) -> Group {
    let alt_idf = |a: &Alternative| {
        let idfs: Vec<f32> = a.terms.iter().map(|t| idf(n, stats.doc_freq(t))).collect();
        idfs.iter().sum::<f32>() / idfs.len().max(1) as f32
    };
    let is_known = |a: &Alternative| a.terms.iter().all(|t| stats.known(t));
    let known = alternatives.iter().any(is_known);
    let mut weight = if known {
        alternatives.iter().filter(|a| is_known(a)).map(alt_idf).fold(0.0, f32::max)
    } else {
        unseen_weight
    };
    // A broader alternative (a synonym's "post-procedure" for "microneedling") earns less than the
    // most specific one: credit scales with the square root of its rarity relative to the best.
    if known && weight > 0.0 {
        for a in alternatives.iter_mut().filter(|a| is_known(a)) {
            a.factor *= (alt_idf(a) / weight).clamp(0.0, 1.0).sqrt();
        }
    }
    if generic {
        weight *= settings.generic_word_factor;
    }
    Group { words, alternatives, weight, known, summary: false }
}

/// Word families and synonyms from WordNet, as analysed terms (see `src/lexicon/`).
const WORD_RELATIONS: &str = include_str!("lexicon/word-relations.tsv");

/// What WordNet relates a term to, as analysed terms other than the term itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Relations {
    /// Words of the same family: derivations and pertainyms ("inflam" → "inflamm").
    pub family: Vec<&'static str>,
    /// The other words of the commonest sense of each of its words ("pick" → "choic", "select").
    pub synonyms: Vec<&'static str>,
}

/// The WordNet relations of an analysed term.
pub fn word_relations(term: &str) -> Relations {
    // The table is sorted by term: an index of its lines is cheap to build and to search.
    static LINES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let lines = LINES.get_or_init(|| WORD_RELATIONS.lines().filter(|l| !l.starts_with('#')).collect());
    let Ok(at) = lines.binary_search_by(|line| line.split('\t').next().unwrap_or_default().cmp(term)) else {
        return Relations::default();
    };
    let mut parts = lines[at].split('\t').skip(1);
    let mut words = || parts.next().unwrap_or_default().split(' ').filter(|w| !w.is_empty()).collect();
    Relations { family: words(), synonyms: words() }
}

/// Common English words with their usual part of speech, from WordNet (see `src/lexicon/`).
const ENGLISH_WORDS: &str = include_str!("lexicon/english-words.tsv");

/// Verbs, adjectives and adverbs tagged at least this often in WordNet count as common.
const COMMON_MIN_COUNT: u32 = 10;

/// Words that keep their full weight even when common: they change what is asked (price, safety,
/// frequency, use), so a passage that lacks them does not answer the question.
const SIGNIFICANT: &[&str] = &[
    "afford",
    "allergic",
    "apply",
    "buy",
    "cheap",
    "combine",
    "cost",
    "daily",
    "dangerous",
    "expensive",
    "expire",
    "layer",
    "mix",
    "natural",
    "often",
    "organic",
    "pregnant",
    "purchase",
    "safe",
    "store",
    "toxic",
    "unsafe",
    "vegan",
    "weekly",
];

/// True when `word` is a common English verb, adjective or adverb ("happens", "older", "tiny") that
/// is not one of the [`SIGNIFICANT`] words. Such a word, unseen in the corpus, says little about
/// whether the corpus answers a question; an unseen noun or rare word ("hair", "tretinoin") does.
pub fn is_common_modifier(word: &str) -> bool {
    static WORDS: OnceLock<HashMap<&'static str, (&'static str, u32)>> = OnceLock::new();
    let words = WORDS.get_or_init(|| {
        ENGLISH_WORDS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut parts = l.split('\t');
                let (form, pos, count) = (parts.next()?, parts.next()?, parts.next()?);
                Some((form, (pos, count.parse().ok()?)))
            })
            .collect()
    });
    let lemmas = base_forms(word);
    if lemmas.iter().any(|l| SIGNIFICANT.contains(&l.as_str())) {
        return false;
    }
    lemmas
        .iter()
        .find_map(|l| words.get(l.as_str()))
        .is_some_and(|(pos, count)| *pos != "n" && *count >= COMMON_MIN_COUNT)
}

/// The word and the base forms its regular English endings suggest, most literal first.
fn base_forms(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    let rules: &[(&str, &str)] = &[
        ("ies", "y"),
        ("es", ""),
        ("s", ""),
        ("ied", "y"),
        ("ed", "e"),
        ("ed", ""),
        ("ing", "e"),
        ("ing", ""),
        ("ier", "y"),
        ("iest", "y"),
        ("er", "e"),
        ("er", ""),
        ("est", "e"),
        ("est", ""),
        ("ily", "y"),
        ("ly", ""),
    ];
    for (suffix, replacement) in rules {
        if let Some(stem) = word.strip_suffix(suffix).filter(|s| s.len() >= 2) {
            out.push(format!("{stem}{replacement}"));
            // Doubled consonants: "bigger" → "big", "stopped" → "stop".
            let b = stem.as_bytes();
            let doubled =
                b.len() >= 3 && b[b.len() - 1] == b[b.len() - 2] && b[b.len() - 1].is_ascii_alphabetic();
            if replacement.is_empty() && doubled {
                out.push(stem[..stem.len() - 1].to_string());
            }
        }
    }
    out
}

/// Chat filler and question scaffolding that carry no topic ("hi", "pls", "anyone", "know").
pub fn is_filler(word: &str) -> bool {
    FILLER.binary_search(&word).is_ok()
}

/// Generic words: real words, but too vague to decide a topic ("help", "good", "use"), in any
/// inflection ("helping", "used").
pub fn is_generic(word: &str) -> bool {
    static TERMS: OnceLock<HashSet<String>> = OnceLock::new();
    GENERIC.binary_search(&word).is_ok()
        || TERMS
            .get_or_init(|| GENERIC.iter().map(|w| analysis::term_of(w)).collect())
            .contains(&analysis::term_of(word))
}

const FILLER: &[&str] = &[
    "absolutely",
    "abt",
    "actually",
    "afaik",
    "ain't",
    "aint",
    "also",
    "anybody",
    "anyone",
    "anything",
    "aren't",
    "arent",
    "atm",
    "basically",
    "bc",
    "bruh",
    "btw",
    "can",
    "can't",
    "cant",
    "could",
    "couldn't",
    "couldnt",
    "coz",
    "curious",
    "currently",
    "cuz",
    "did",
    "didn't",
    "didnt",
    "does",
    "doesnt",
    "dont",
    "eh",
    "even",
    "ever",
    "everybody",
    "everyone",
    "everything",
    "explain",
    "extremely",
    "fr",
    "freaking",
    "gonna",
    "gotta",
    "guys",
    "hadn't",
    "hadnt",
    "hasn't",
    "hasnt",
    "haven't",
    "havent",
    "he's",
    "hella",
    "hello",
    "here's",
    "hey",
    "hi",
    "highkey",
    "hiya",
    "hmm",
    "honestly",
    "how's",
    "hows",
    "hw",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "idc",
    "idk",
    "iirc",
    "imo",
    "insanely",
    "isnt",
    "it'll",
    "ive",
    "kinda",
    "know",
    "lately",
    "legit",
    "let's",
    "literally",
    "lmao",
    "lmk",
    "lol",
    "lowkey",
    "may",
    "mega",
    "might",
    "must",
    "nah",
    "ngl",
    "nothing",
    "ok",
    "okay",
    "omg",
    "onto",
    "please",
    "pls",
    "plz",
    "ppl",
    "pretty",
    "question",
    "r",
    "recently",
    "rly",
    "rn",
    "shall",
    "she's",
    "shouldn't",
    "shouldnt",
    "smh",
    "so",
    "somebody",
    "someone",
    "something",
    "sorta",
    "srsly",
    "still",
    "super",
    "tbh",
    "tell",
    "tf",
    "thank",
    "thanks",
    "that'll",
    "that's",
    "thats",
    "there's",
    "they're",
    "they've",
    "theyre",
    "theyve",
    "tho",
    "though",
    "thx",
    "today",
    "tomorrow",
    "tonight",
    "totally",
    "ty",
    "u",
    "uh",
    "um",
    "upon",
    "ur",
    "wanna",
    "wasn't",
    "wasnt",
    "wat",
    "we're",
    "we've",
    "weren't",
    "werent",
    "weve",
    "whats",
    "where's",
    "who's",
    "wondering",
    "wont",
    "would",
    "wouldn't",
    "wouldnt",
    "wtf",
    "wut",
    "y'all",
    "ya",
    "yall",
    "yeah",
    "yep",
    "yes",
    "yesterday",
    "yo",
    "you'd",
    "you'll",
    "you've",
    "youre",
    "youve",
    "yup",
];

const GENERIC: &[&str] = &[
    "able",
    "according",
    "actual",
    "affect",
    "affects",
    "allow",
    "allows",
    "amount",
    "anyway",
    "appear",
    "appears",
    "area",
    "bad",
    "basic",
    "begin",
    "best",
    "better",
    "big",
    "bit",
    "bring",
    "build",
    "call",
    "certain",
    "change",
    "changes",
    "choose",
    "clear",
    "come",
    "comes",
    "common",
    "correct",
    "currently",
    "deal",
    "decent",
    "deep",
    "deeper",
    "definitely",
    "difference",
    "different",
    "do",
    "does",
    "doing",
    "done",
    "easy",
    "enough",
    "especially",
    "everyday",
    "exact",
    "exactly",
    "example",
    "fact",
    "feel",
    "feels",
    "find",
    "fine",
    "focus",
    "general",
    "generally",
    "get",
    "gets",
    "give",
    "gives",
    "go",
    "going",
    "good",
    "got",
    "great",
    "guess",
    "happen",
    "happened",
    "happening",
    "happens",
    "hard",
    "hear",
    "heard",
    "help",
    "helps",
    "high",
    "huge",
    "idea",
    "important",
    "improve",
    "increase",
    "instead",
    "issue",
    "issues",
    "keep",
    "kind",
    "large",
    "least",
    "less",
    "like",
    "little",
    "live",
    "look",
    "looks",
    "lot",
    "lots",
    "low",
    "main",
    "major",
    "make",
    "makes",
    "matter",
    "mean",
    "meaning",
    "means",
    "meant",
    "mind",
    "mostly",
    "much",
    "need",
    "needs",
    "normal",
    "part",
    "people",
    "person",
    "pick",
    "place",
    "point",
    "possible",
    "probably",
    "problem",
    "product",
    "products",
    "properly",
    "proven",
    "purpose",
    "put",
    "quick",
    "quite",
    "reach",
    "read",
    "real",
    "really",
    "reason",
    "right",
    "role",
    "run",
    "same",
    "saw",
    "say",
    "says",
    "seem",
    "seems",
    "seen",
    "seriously",
    "session",
    "sessions",
    "show",
    "similar",
    "simple",
    "simply",
    "small",
    "someone",
    "something",
    "sometimes",
    "soon",
    "sort",
    "start",
    "stop",
    "stuff",
    "sure",
    "take",
    "takes",
    "talk",
    "tell",
    "thing",
    "things",
    "think",
    "thought",
    "tiny",
    "told",
    "true",
    "try",
    "trying",
    "turn",
    "type",
    "types",
    "typically",
    "understand",
    "use",
    "used",
    "uses",
    "using",
    "usually",
    "want",
    "way",
    "ways",
    "whole",
    "work",
    "works",
    "worth",
    "wrong",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Stats(HashMap<String, u64>);
    impl TermStats for Stats {
        fn passages(&self) -> u64 {
            100
        }
        fn doc_freq(&self, term: &str) -> u64 {
            self.0.get(term).copied().unwrap_or(0)
        }
        fn known(&self, term: &str) -> bool {
            self.0.contains_key(term)
        }
    }

    /// A question analysed with no synonyms, no spelling lexicon and the default settings.
    fn plain(question: &str, s: &Stats) -> Analysed {
        analyse(question, &Synonyms::default(), &Lexicon::default(), s, &AnalysisSettings::default())
    }

    fn stats(words: &[(&str, u64)]) -> Stats {
        Stats(words.iter().map(|(w, df)| (analysis::term_of(w), *df)).collect())
    }

    #[test]
    fn word_lists_are_sorted() {
        assert!(FILLER.windows(2).all(|w| w[0] < w[1]));
        assert!(GENERIC.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn misspelling_is_corrected_to_a_corpus_word() {
        let s = stats(&[("collagen", 40), ("serum", 20), ("humectant", 1)]);
        let lex = Lexicon::new([("collagen", "collagen"), ("serum", "serum"), ("humectant", "humect")]);
        let a = analyse(
            "is colagen serun a humectant??",
            &Synonyms::default(),
            &lex,
            &s,
            &AnalysisSettings::default(),
        );
        let words: Vec<_> = a.groups.iter().map(|g| (g.words.as_str(), g.known)).collect();
        assert_eq!(words, [("colagen", true), ("serun", true), ("humectant", true)]);
        assert_eq!(a.groups[0].alternatives[1].origin, Origin::Spelling);
        assert_eq!(a.groups[0].alternatives[1].terms, ["collagen"]);
    }

    #[test]
    fn a_typo_of_a_generic_word_weighs_as_little_as_the_word() {
        let s = stats(&[("collagen", 40), ("actually", 1), ("humectant", 1)]);
        let lex = Lexicon::new([("collagen", "collagen"), ("actually", "actual"), ("humectant", "humect")]);
        let settings = AnalysisSettings::default();
        let a = analyse("is collagen actualy a humectant", &Synonyms::default(), &lex, &s, &settings);
        let typo = a.groups.iter().find(|g| g.words == "actualy").expect("a group");
        assert_eq!(typo.alternatives[1].origin, Origin::Spelling);
        let humectant = a.groups.iter().find(|g| g.words == "humectant").expect("a group");
        assert!(typo.weight < humectant.weight / 2.0, "{typo:?} vs {humectant:?}");
    }

    #[test]
    fn chat_slang_and_prepositions_are_not_topics() {
        let s = stats(&[("collagen", 40), ("absorb", 2)]);
        let a = plain(
            "wait if collagen cant get super absorbed onto skin then how tf does it freaking work smh",
            &s,
        );
        let words: Vec<_> = a.groups.iter().map(|g| g.words.as_str()).collect();
        assert!(!words.iter().any(|w| ["onto", "tf", "smh", "super", "freaking"].contains(w)), "{words:?}");
    }

    #[test]
    fn questions_asking_for_an_amount_or_a_time_are_told_apart() {
        let s = stats(&[("collagen", 10)]);
        for q in [
            "how long until i see results",
            "so how many drops should i use",
            "ok i got botox yesterday, how soon can i use it?",
            "what percentage of collagen should it have",
        ] {
            assert!(plain(q, &s).asks_quantity, "{q}");
        }
        for q in [
            "does how much water is in ur skin matter",
            "how does it work",
            "is it long lasting",
            "what is collagen",
        ] {
            assert!(!plain(q, &s).asks_quantity, "{q}");
        }
        assert!(states_quantity("Apply twice daily for 4 weeks."));
        assert!(states_quantity("Results appear within weeks."));
        assert!(!states_quantity("Collagen serums support hydration and barrier function."));
    }

    #[test]
    fn quantity_words_are_sorted() {
        assert!(QUANTITY_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_word_is_not_its_own_correction() {
        // "always" is a synonym rule's trigger word ("always red"), not a corpus word.
        let s = stats(&[("redness", 3), ("away", 2)]);
        let lex = Lexicon::new([("always", "alway"), ("redness", "red")]);
        let a =
            analyse("is it always like that", &Synonyms::default(), &lex, &s, &AnalysisSettings::default());
        let g = a.groups.iter().find(|g| g.words == "always").unwrap();
        assert_eq!(g.alternatives.len(), 1, "{g:?}");
        assert!(g.weight < idf(100, 0), "a common adverb the corpus lacks weighs little: {g:?}");
    }

    #[test]
    fn words_spelt_by_ear_are_corrected_by_sound() {
        let s = stats(&[("hydration", 10), ("ceramide", 2), ("serum", 20)]);
        let lex = Lexicon::new([("hydration", "hydrat"), ("ceramide", "ceramid"), ("serum", "serum")]);
        let fix = |w: &str| lex.correct(w, &analysis::term_of(w), &s);
        // Three letters off: beyond the edit distance, but the same sound.
        assert_eq!(fix("hydrashun").as_deref(), Some("hydrat"));
        // Another first letter.
        assert_eq!(fix("seramide").as_deref(), Some("ceramid"));
        // A different word that merely shares some sounds stays unknown.
        assert_eq!(fix("hydrant"), None);
        assert_eq!(fix("sermon"), None);
    }

    proptest::proptest! {
        #[test]
        fn sound_codes_never_panic(word in "\\PC{0,40}", letters in "[a-zA-Z]{0,40}") {
            let _ = sound_code(&word);
            proptest::prop_assert!(sound_code(&letters).is_some());
        }
    }

    #[test]
    fn unseen_words_weigh_most_and_filler_is_dropped() {
        let s = stats(&[("collagen", 40), ("serum", 30), ("use", 10)]);
        let a = plain("hey guys can u use collagen serum with tretinoin pls", &s);
        let words: Vec<_> = a.groups.iter().map(|g| g.words.as_str()).collect();
        assert_eq!(words, ["use", "collagen", "serum", "tretinoin"]);
        let tretinoin = &a.groups[3];
        assert!(!tretinoin.known);
        assert!(a.groups.iter().all(|g| g.weight <= tretinoin.weight));
        assert!(a.groups[0].weight < a.groups[2].weight, "generic 'use' weighs little");
    }

    #[test]
    fn chat_slang_pronouns_and_time_words_are_not_topics() {
        let s = stats(&[("collagen", 40), ("serum", 30), ("microneedl", 3)]);
        let a =
            plain("ngl everyone says to get microneedling yesterday, is collagen serum w it legit rn??", &s);
        let words: Vec<_> = a.groups.iter().map(|g| g.words.as_str()).collect();
        assert_eq!(words, ["says", "get", "microneedling", "collagen", "serum"]);
    }

    #[test]
    fn contractions_typed_without_apostrophes_are_not_topics() {
        let s = stats(&[("collagen", 40), ("repair", 5)]);
        let a = plain("if collagen doesnt n wont work, thats it? youre sure it isnt repair", &s);
        let words: Vec<_> = a.groups.iter().map(|g| g.words.as_str()).collect();
        assert_eq!(words, ["collagen", "work", "sure", "repair"]);
        // With apostrophes, straight or curly, likewise.
        let a = plain("i'm sure i\u{2019}ve seen collagen repair, can't it? that's it", &s);
        let words: Vec<_> = a.groups.iter().map(|g| g.words.as_str()).collect();
        assert!(!words.iter().any(|w| w.contains('\'')), "{words:?}");
    }

    #[test]
    fn word_relations_table_is_sorted_by_term() {
        let terms: Vec<&str> = WORD_RELATIONS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap())
            .collect();
        assert!(terms.len() > 10_000);
        assert!(terms.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn word_relations_table_matches_the_analysis() {
        // The table is keyed by analysed terms: regenerate it when the analysis changes.
        let inflamed = word_relations(&analysis::term_of("inflamed"));
        assert!(inflamed.family.contains(&analysis::term_of("inflammation").as_str()), "{inflamed:?}");
        let pick = word_relations(&analysis::term_of("pick"));
        assert!(pick.synonyms.contains(&analysis::term_of("select").as_str()), "{pick:?}");
        assert_eq!(word_relations("zzzz"), Relations::default());
    }

    #[test]
    fn a_word_family_meets_the_corpus_form() {
        let s = stats(&[("inflammation", 3), ("skin", 50)]);
        let a = plain("is my skin inflamed", &s);
        let inflamed = a.groups.iter().find(|g| g.words == "inflamed").unwrap();
        assert!(inflamed.known, "{inflamed:?}");
        let family = inflamed.alternatives.iter().find(|a| a.origin == Origin::Family).unwrap();
        assert_eq!(family.terms, [analysis::term_of("inflammation")]);
        assert!(family.factor > 0.0 && family.factor <= AnalysisSettings::default().family_factor);
    }

    #[test]
    fn thesaurus_synonyms_stand_in_only_for_words_the_corpus_lacks() {
        let settings = AnalysisSettings::default();
        let s = stats(&[("select", 2), ("serum", 30)]);
        let a =
            analyse("which serum should i pick", &Synonyms::default(), &Lexicon::default(), &s, &settings);
        let pick = a.groups.iter().find(|g| g.words == "pick").unwrap();
        assert!(pick.known);
        let alt = pick.alternatives.iter().find(|a| a.origin == Origin::Thesaurus).unwrap();
        assert_eq!(alt.terms, ["select"]);
        assert!(alt.factor <= settings.thesaurus_factor);

        // A word the corpus uses is searched as itself only.
        let s = stats(&[("select", 2), ("pick", 2), ("serum", 30)]);
        let a =
            analyse("which serum should i pick", &Synonyms::default(), &Lexicon::default(), &s, &settings);
        let pick = a.groups.iter().find(|g| g.words == "pick").unwrap();
        assert!(pick.alternatives.iter().all(|a| a.origin == Origin::Word), "{pick:?}");
    }

    #[test]
    fn synonyms_make_lay_words_known() {
        let (syn, _) = Synonyms::parse("redness => inflammation\n");
        let s = stats(&[("inflammation", 3)]);
        let a = analyse("does it calm redness", &syn, &Lexicon::default(), &s, &AnalysisSettings::default());
        let redness = a.groups.iter().find(|g| g.words == "redness").unwrap();
        assert!(redness.known);
        assert_eq!(redness.alternatives[0].origin, Origin::Synonym);
    }

    #[test]
    fn distance_is_bounded() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        let a = c("colagen");
        assert_eq!(bounded_distance(&a, &c("collagen"), 1), Some(1));
        assert_eq!(bounded_distance(&a, &c("coligan"), 1), None);
        assert_eq!(bounded_distance(&c("abcd"), &c("abdc"), 1), Some(1));
        assert_eq!(bounded_distance(&a, &c("colagen"), 1), None, "identical words need no correction");
    }

    #[test]
    fn common_verbs_and_adjectives_are_told_from_nouns_and_rare_words() {
        for w in ["happens", "older", "tiny", "goes", "stronger", "behaved"] {
            assert!(is_common_modifier(w), "{w}");
        }
        for w in ["hair", "kids", "tretinoin", "bovine", "price", "safe", "cheapest", "often"] {
            assert!(!is_common_modifier(w), "{w}");
        }
        // Found by the fuzzer: a multi-byte character whose last two bytes are equal.
        assert!(!is_common_modifier("a\u{1000}\u{1000}ed"));
    }

    #[test]
    fn long_questions_are_cut() {
        let q = "é".repeat(MAX_QUESTION_CHARS * 3);
        assert_eq!(bounded(&q).chars().count(), MAX_QUESTION_CHARS);
    }
}
