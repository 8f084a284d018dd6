//! Retrieval: from a question to an [`Answer`] or a decline.
//!
//! 1. The question is analysed into weighted concept groups ([`crate::question`]).
//! 2. The index returns BM25 candidates for every alternative of every group, over the passage text,
//!    its list/table lead-in, its section headings and the article title, each field weighted.
//! 3. Candidates are re-ranked by *coverage*: the share of the question's weight that the passage
//!    matches, where a match in the passage's own words counts fully, in its lead-in or section
//!    headings nearly so, and in the article title a little. BM25 breaks near-ties, then the
//!    passage's position in its section (the lead passage first).
//! 4. Example questions ([`crate::examples`]) add their similarity to the passages they point to:
//!    as a ranking bonus, and as a second route to confidence (a passage's confidence is the larger
//!    of its coverage and its example similarity, times `example_factor`).
//!    A question asking for an amount or a time ("how long…") keeps 0.3 of the confidence of a
//!    passage that states none.
//! 5. With the semantic stage ([`crate::semantic`]), the question's embedding scores every passage
//!    (its own cosine blended with its section's); the nearest join the candidates, and a
//!    passage's own confidence is `MEANING_SHARE` × meaning + the rest × coverage. With no example
//!    questions, a section's lead passage gets a ranking bonus (a FAQ entry opens with its answer).
//! 6. The best passage's confidence decides. Below the configured threshold the question is
//!    declined, with the nearest sections; so is a question at least as similar to an example
//!    known not to be covered (a `near` example) as that confidence.
//!
//! The module is split by job: [`rank`] scores the candidates, keeping each signal apart (so an
//! answer can say how much came from words and how much from meaning); [`compose`] turns the
//! ranking into an [`Answer`] or a decline; [`example_analysis`] analyses the example questions
//! once, and gives back an analysis kept from an earlier start.
//!
//! Plain Rust apart from the index handle; no Discord, no terminal.

mod compose;
mod example_analysis;
mod rank;

pub use compose::highlights;

use crate::answer::{Answer, Source};
use crate::eval::{self, Case};
use crate::examples::Examples;
use crate::index::{Hit, IndexError, SearchField, SearchIndex, StoredPassage};
use crate::question::{self, Analysed, AnalysisSettings, Lexicon, TermStats};
use crate::semantic::Semantic;
use crate::synonyms::Synonyms;
use std::collections::{HashMap, HashSet};

/// Tunable retrieval settings (the `[answer]` and `[retrieval]` configuration sections).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Confidence below which a question is declined.
    pub min_confidence: f64,
    /// Longest excerpt, in characters.
    pub max_excerpt_chars: usize,
    /// How many alternatives to return.
    pub alternatives: usize,
    /// How many BM25 candidates to re-rank.
    pub candidates: usize,
    /// Question analysis weights.
    pub analysis: AnalysisSettings,
    /// Multiplies an example question's similarity when it stands in for coverage.
    pub example_factor: f32,
    /// True when `min_confidence` is to be placed per corpus ([`Retriever::calibrate`]) rather
    /// than taken as configured.
    pub calibrate: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_confidence: 0.5,
            max_excerpt_chars: 700,
            alternatives: 3,
            candidates: 20,
            analysis: AnalysisSettings::default(),
            example_factor: 1.0,
            calibrate: false,
        }
    }
}

/// The answering engine: an open index plus synonyms, spelling lexicon and example questions.
#[derive(Debug)]
pub struct Retriever {
    index: SearchIndex,
    synonyms: Synonyms,
    lexicon: Lexicon,
    settings: Settings,
    examples: Examples,
    /// The passages examples point to, kept at hand to join the candidates without a lookup.
    example_passages: HashMap<String, StoredPassage>,
    /// Sentence embeddings of the passages, when the model is there.
    semantic: Option<Semantic>,
}

pub(super) struct IndexStats<'a>(&'a SearchIndex);

impl TermStats for IndexStats<'_> {
    fn passages(&self) -> u64 {
        self.0.num_passages()
    }
    fn doc_freq(&self, term: &str) -> u64 {
        let text = self.0.doc_freq(term, SearchField::Text).max(self.0.doc_freq(term, SearchField::Context));
        if text > 0 { text } else { self.0.doc_freq(term, SearchField::Heading) }
    }
    fn known(&self, term: &str) -> bool {
        [SearchField::Text, SearchField::Context, SearchField::Heading, SearchField::Title]
            .into_iter()
            .any(|f| self.0.doc_freq(term, f) > 0)
    }
}

impl Retriever {
    /// Wraps an open index.
    pub fn new(index: SearchIndex, synonyms: Synonyms, settings: Settings) -> Retriever {
        let mut words: Vec<(&str, &str)> =
            index.meta().vocabulary.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
        words.extend(synonyms.trigger_words().map(|t| (t, t)));
        let lexicon = Lexicon::new(words);
        Retriever {
            index,
            synonyms,
            lexicon,
            settings,
            examples: Examples::default(),
            example_passages: HashMap::new(),
            semantic: None,
        }
    }

    /// Adds the semantic stage: the model and the vectors of this index's passages.
    pub fn with_semantic(mut self, semantic: Semantic) -> Retriever {
        self.semantic = Some(semantic);
        self
    }

    /// The semantic stage in use, if any.
    pub fn semantic(&self) -> Option<&Semantic> {
        self.semantic.as_ref()
    }

    /// What a calibration of this retriever depends on: the corpus, examples, synonyms, settings
    /// (but the threshold), the model and the build.
    pub fn inputs_key(&self, cases: &[Case]) -> String {
        let model = self.semantic.as_ref().map_or("words alone", |s| s.model.digest.as_str());
        let mut settings = self.settings.clone();
        settings.min_confidence = 0.0;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        use std::hash::{Hash, Hasher};
        format!("{settings:?}").hash(&mut h);
        format!("{}-{model}-{:016x}", self.examples_key(cases), h.finish())
    }

    /// The confidence of the best passage for a question, whatever the threshold.
    pub fn best_confidence(&self, question: &str) -> Result<f64, IndexError> {
        let (ranked, _) = self.rank_question(question, &self.analyse(question))?;
        Ok(ranked.first().map_or(0.0, |r| r.confidence as f64))
    }

    /// The distinct list and table lead-ins of the corpus, in corpus order.
    pub fn lead_ins(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        crate::semantic::all_passages(&self.index)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.context)
            .filter(|c| seen.insert(c.clone()))
            .collect()
    }

    /// Sets the confidence below which questions are declined.
    pub fn set_min_confidence(&mut self, threshold: f64) {
        self.settings.min_confidence = threshold;
    }

    /// Leaves out the example questions that are among `questions` (their words compared, case,
    /// punctuation and spacing aside), so that scoring a file measures wording the examples do not
    /// hold. Returns how many.
    pub fn hold_out_examples(&mut self, questions: &[String]) -> usize {
        let questions: HashSet<String> = questions.iter().map(|q| eval::normalise_question(q)).collect();
        self.examples.hold_out(|example| questions.contains(&eval::normalise_question(example)))
    }

    /// How many example questions are in use.
    pub fn examples(&self) -> usize {
        self.examples.len()
    }

    /// The index in use.
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// A short name of the corpus version served: the first 8 hex digits of its fingerprint.
    pub fn corpus_version(&self) -> &str {
        let f = &self.index.meta().fingerprint;
        &f[..f.len().min(8)]
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Analyses a question against this corpus.
    pub fn analyse(&self, question: &str) -> Analysed {
        self.analyse_with(question, &IndexStats(&self.index))
    }

    pub(super) fn analyse_with(&self, question: &str, stats: &dyn TermStats) -> Analysed {
        question::analyse(question, &self.synonyms, &self.lexicon, stats, &self.settings.analysis)
    }

    /// Retrieval alone: the BM25 candidates for a question, best first, before re-ranking (for
    /// benchmarks and diagnostics).
    pub fn retrieve(&self, question: &str, limit: usize) -> Result<Vec<Hit>, IndexError> {
        let analysed = self.analyse(question);
        self.index.search(&self.clauses(&analysed), limit)
    }

    /// Answers a question, or declines it with the nearest sections.
    pub fn answer(&self, question: &str) -> Result<Answer, IndexError> {
        let analysed = self.analyse(question);
        let (ranked, not_covered) = self.rank_question(question, &analysed)?;
        Ok(self.build_answer(question, &analysed, ranked, not_covered))
    }

    pub(super) fn source_of(&self, p: &StoredPassage) -> Source {
        let article = self.index.meta().articles.iter().find(|a| a.path == p.article_path);
        Source {
            title: article
                .map(|a| a.title.clone())
                .unwrap_or_else(|| p.heading_path.first().cloned().unwrap_or_default()),
            path: p.article_path.clone(),
            url: article.and_then(|a| a.url.clone()),
            anchor: p.anchor.clone(),
            line: p.line,
        }
    }

    /// Every passage of a section, in order (for "Full section").
    pub fn section(&self, section_id: &str) -> Result<Vec<StoredPassage>, IndexError> {
        self.index.section_passages(section_id)
    }

    /// Every passage of a section, in order, with the section's source; None for a section this
    /// corpus does not have (a button from an older corpus).
    pub fn section_with_source(
        &self,
        section_id: &str,
    ) -> Result<Option<(Vec<StoredPassage>, Source)>, IndexError> {
        let passages = self.index.section_passages(section_id)?;
        let source = passages.first().map(|p| self.source_of(p));
        Ok(source.map(|s| (passages, s)))
    }

    /// A passage by id, with its source.
    pub fn passage(&self, id: &str) -> Result<Option<(StoredPassage, Source)>, IndexError> {
        Ok(self.index.passage(id)?.map(|p| {
            let s = self.source_of(&p);
            (p, s)
        }))
    }
}

/// A confidence or score rounded to three decimals for display (negative ones to 0).
fn round(x: f64) -> f64 {
    (x.clamp(0.0, 1.0e9) * 1000.0).round() / 1000.0
}

/// A retriever over one Markdown article held in memory, for the unit tests of the parts.
#[cfg(test)]
pub(crate) fn test_retriever(markdown: &str) -> Retriever {
    let path = std::path::Path::new("faq.md");
    let (article, warnings) = crate::corpus::parse_file(path, "faq.md", markdown.as_bytes());
    assert!(warnings.is_empty(), "{warnings:?}");
    let corpus = crate::corpus::Corpus {
        articles: article.into_iter().collect(),
        warnings,
        fingerprint: format!("{:x}", markdown.len()),
    };
    let index = SearchIndex::build_in_ram(&corpus).expect("an in-memory index");
    Retriever::new(index, Synonyms::default(), Settings::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAQ: &str = "---\ntitle: Widget FAQ\n---\n# Widget FAQ\n\n## Charging\n\nThe widget charges \
                       over USB in two hours.\n\n## Cleaning\n\nWipe the widget with a damp cloth; never \
                       submerge it.\n";

    #[test]
    fn an_answer_quotes_the_passage_with_its_source() {
        let r = test_retriever(FAQ);
        let a = r.answer("how long does the widget take to charge over usb").unwrap();
        assert!(a.answered, "{a:?}");
        assert_eq!(a.excerpt.as_deref(), Some("The widget charges over USB in two hours."));
        let source = a.source.expect("a source");
        assert_eq!(source.title, "Widget FAQ");
        assert_eq!(source.path, "faq.md");
        assert_eq!(a.section.last().map(String::as_str), Some("Charging"));
    }

    #[test]
    fn sections_and_passages_are_found_by_id() {
        let r = test_retriever(FAQ);
        let a = r.answer("how do I clean the widget").unwrap();
        let section_id = a.section_id.expect("a section");
        let (passages, source) = r.section_with_source(&section_id).unwrap().expect("the section");
        assert_eq!(passages.len(), 1);
        assert_eq!(source.anchor, "cleaning");
        let id = a.passage_id.expect("a passage");
        assert_eq!(r.passage(&id).unwrap().map(|(p, _)| p.text), Some(passages[0].text.clone()));
        assert!(r.section_with_source("no-such-section").unwrap().is_none());
    }

    #[test]
    fn the_threshold_can_be_moved() {
        let mut r = test_retriever(FAQ);
        let best = r.best_confidence("cleaning the widget with a cloth").unwrap();
        assert!(best > 0.0);
        r.set_min_confidence(best + 0.01);
        assert!(!r.answer("cleaning the widget with a cloth").unwrap().answered);
        r.set_min_confidence(best);
        assert!(r.answer("cleaning the widget with a cloth").unwrap().answered);
    }
}
