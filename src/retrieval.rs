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
//! Plain Rust apart from the index handle; no Discord, no terminal.

use crate::analysis;
use crate::answer::{self, Alternative as AltAnswer, Answer, Signals, Source, WordMatch};
use crate::corpus::PassageKind;
use crate::eval::{self, Case};
use crate::examples::{
    Concept, Example, Examples, QueryAlternative, QueryConcept, Saved, Similar, Similarities,
};
use crate::index::{Hit, IndexError, SearchField, SearchIndex, StoredPassage, WeightedTerm};
use crate::question::{self, Analysed, AnalysisSettings, Lexicon, TermStats};
use crate::semantic::{Meanings, Semantic};
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

/// Credit for a question word found in each part of a passage.
const IN_TEXT: f32 = 1.0;
const IN_CONTEXT: f32 = 0.9;
const IN_HEADING: f32 = 0.85;
const IN_TITLE: f32 = 0.5;
/// BM25 boosts per field.
const FIELD_BOOSTS: [(SearchField, f32); 4] = [
    (SearchField::Text, 1.0),
    (SearchField::Context, 0.5),
    (SearchField::Heading, 1.5),
    (SearchField::Title, 0.2),
];
/// How much the (normalised) BM25 score adds to coverage when ranking.
const BM25_WEIGHT: f32 = 0.15;
/// The matched weight below which confidence shrinks, as a share of the rarest term's weight.
const EVIDENCE_FLOOR: f32 = 0.4;
/// Ranking bonus for passages of a section whose heading the question restates.
const RESTATEMENT_BONUS: f32 = 0.3;
/// Ranking bonus per unit of example-question similarity: of the passage's most similar example,
/// and of a second example that agrees on the passage.
const EXAMPLE_BONUS: f32 = 0.2;
const AGREEMENT_BONUS: f32 = 0.4;
/// Passages outside the BM25 candidates added because an example points to them (the most
/// similar first), and the least similarity that earns it.
const EXAMPLE_CANDIDATES: usize = 5;
const EXAMPLE_CANDIDATE_FLOOR: f32 = 0.1;
/// Multiplies the confidence of a passage that states no amount or time, for a question asking
/// for one.
const QUANTITY_FACTOR: f32 = 0.3;
/// Example questions that point nowhere are listed one by one up to this many lines.
const MAX_EXAMPLE_PROBLEMS: usize = 5;
/// Below this share of the matched weight in a list item's (or table row's) own words, the whole
/// list (or table) is quoted.
const LIST_SHARE: f32 = 0.5;
/// An item ranked within this of the best, in the same list or table, makes all of it the answer.
const SIBLING_MARGIN: f32 = 0.2;
/// A near example that a passage covers this well is left out (it would decline that passage's
/// questions).
const NEAR_ANSWERED: f32 = 0.9;
/// With the semantic stage, the share of a passage's confidence that comes from meaning (the
/// cosine of question and passage), the rest from its words (coverage).
const MEANING_SHARE: f32 = 0.6;
/// The share of a passage's meaning score that comes from its whole section's vector (a FAQ
/// entry or a section is one topic; a paragraph alone may not name it).
const SECTION_SHARE: f32 = 0.5;
/// With the semantic stage and no example questions, the rank added to a section's lead passage.
const LEAD_BONUS: f32 = 0.3;
/// Stands for a request for a summary among an example's terms.
const SUMMARY_TERM: &str = "\u{0}summary";

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

struct IndexStats<'a>(&'a SearchIndex);

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

/// [`IndexStats`] remembering each answer, for analysing many questions in a row (the example
/// questions at start-up share most of their words).
struct CachedStats<'a> {
    index: IndexStats<'a>,
    doc_freq: std::cell::RefCell<HashMap<String, u64>>,
    known: std::cell::RefCell<HashMap<String, bool>>,
}

impl TermStats for CachedStats<'_> {
    fn passages(&self) -> u64 {
        self.index.passages()
    }
    fn doc_freq(&self, term: &str) -> u64 {
        if let Some(&n) = self.doc_freq.borrow().get(term) {
            return n;
        }
        let n = self.index.doc_freq(term);
        self.doc_freq.borrow_mut().insert(term.to_string(), n);
        n
    }
    fn known(&self, term: &str) -> bool {
        if let Some(&k) = self.known.borrow().get(term) {
            return k;
        }
        let k = self.index.known(term);
        self.known.borrow_mut().insert(term.to_string(), k);
        k
    }
}

/// One re-ranked candidate.
struct Ranked {
    hit: Hit,
    /// The larger of coverage and example similarity (less for an amount asked and not stated):
    /// what the threshold is compared with.
    confidence: f32,
    rank: f32,
    /// The example question that lifted the confidence above coverage, if one did.
    like: Option<usize>,
    /// Per group: (credit, where).
    found: Vec<(f32, Option<&'static str>)>,
    /// The share of the question's weight its words match (before examples).
    coverage: f32,
    /// The meaning score (passage and section cosine), with the semantic stage.
    meaning: Option<f32>,
}

/// A passage's confidence from its own match: coverage, blended with the meaning score when the
/// semantic stage gives one.
fn own_confidence(coverage: f32, meaning: Option<f32>) -> f32 {
    meaning.map_or(coverage, |m| MEANING_SHARE * m.max(0.0) + (1.0 - MEANING_SHARE) * coverage)
}

/// The lead passage of a section states what the section is about: a question that finds the
/// section is answered from it, unless another passage of the section ranks higher by more than
/// `bonus`.
fn lead_bonus(ranked: &mut [Ranked], bonus: f32) {
    for r in ranked.iter_mut().filter(|r| r.hit.passage.position == 0) {
        r.rank += bonus;
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

    /// Adds example questions. An in-domain line points to the passages containing one of its
    /// `expect` phrases (in their text or their list's lead-in, compared as `eval` compares text);
    /// a `near` line is a question known not to be covered; `far` lines are skipped. Returns the
    /// problems found: in-domain lines that point nowhere are left out.
    pub fn with_examples(self, cases: &[Case]) -> Result<(Retriever, Vec<String>), IndexError> {
        self.with_examples_cached(cases, None)
    }

    /// [`Retriever::with_examples`], reusing the analysis saved in `cache` when it was made from the
    /// same examples, corpus, synonyms, settings and build, and saving it there otherwise (a file
    /// that cannot be read or written only costs the time to analyse again).
    pub fn with_examples_cached(
        mut self,
        cases: &[Case],
        cache: Option<&std::path::Path>,
    ) -> Result<(Retriever, Vec<String>), IndexError> {
        let key = self.examples_key(cases);
        if let Some(saved) = cache.and_then(read_saved).filter(|s| s.key == key) {
            for id in saved.items.iter().flat_map(|e| &e.passages) {
                if !self.example_passages.contains_key(id)
                    && let Some(p) = self.index.passage(id)?
                {
                    self.example_passages.insert(id.clone(), p);
                }
            }
            self.examples = Examples::new(saved.items);
            return Ok((self, saved.problems));
        }
        let (retriever, problems) = self.analyse_examples(cases)?;
        if let Some(path) = cache {
            let saved = Saved { key, items: retriever.examples.items().to_vec(), problems: problems.clone() };
            write_saved(path, &saved);
        }
        Ok((retriever, problems))
    }

    /// What analysed examples depend on: the examples, the corpus, the synonyms, the settings and
    /// the build.
    fn examples_key(&self, cases: &[Case]) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(cases).unwrap_or_default().hash(&mut h);
        self.index.meta().fingerprint.hash(&mut h);
        self.synonyms.rules_text().hash(&mut h);
        format!("{:?}", self.settings.analysis).hash(&mut h);
        question::analysis_fingerprint().hash(&mut h);
        format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), h.finish())
    }

    fn analyse_examples(mut self, cases: &[Case]) -> Result<(Retriever, Vec<String>), IndexError> {
        let mut passages = Vec::new();
        for article in &self.index.meta().articles {
            for section in &article.sections {
                for p in self.index.section_passages(&section.id)? {
                    // A list's lead-in names its items too.
                    let lead_in = p.context.as_deref().unwrap_or_default();
                    passages.push((eval::normalise(&format!("{}\n{lead_in}", p.text)), p));
                }
            }
        }
        // Which passages each example points to (many examples share their phrases).
        let mut pointed: Vec<(&Case, Vec<usize>)> = Vec::new();
        let mut by_phrase: HashMap<String, Vec<usize>> = HashMap::new();
        let mut problems = Vec::new();
        for case in cases.iter().filter(|c| c.ood.as_deref() != Some("far")) {
            let mut at: Vec<usize> = Vec::new();
            for phrase in case.expect.iter().map(|e| eval::normalise(e)).filter(|p| !p.is_empty()) {
                let found = by_phrase.entry(phrase).or_insert_with_key(|phrase| {
                    passages
                        .iter()
                        .enumerate()
                        .filter(|(_, (text, _))| text.contains(phrase.as_str()))
                        .map(|(i, _)| i)
                        .collect()
                });
                at.extend(found.iter().copied());
            }
            at.sort_unstable();
            at.dedup();
            if at.is_empty() && case.ood.is_none() {
                problems.push(format!("example {:?}: no passage contains any of its expect phrases", case.q));
                continue;
            }
            pointed.push((case, at));
        }
        if problems.len() > MAX_EXAMPLE_PROBLEMS {
            let more = problems.len() - (MAX_EXAMPLE_PROBLEMS - 1);
            problems.truncate(MAX_EXAMPLE_PROBLEMS - 1);
            problems.push(format!(
                "{more} more example questions point to no passage; is corpus.examples meant for this corpus?"
            ));
        }
        // Analysing a thousand questions takes tens of milliseconds: spread it over the cores.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
        let this = &self;
        let pointed_ref = &pointed;
        // With each near line, the passage that matches all its words, if one does: such a line
        // would decline what that passage answers (its distinguishing word was dropped, or the
        // article covers it after all).
        type Checked = (Analysed, Option<(String, u64, f32)>);
        let analysed: Vec<Result<Checked, IndexError>> = std::thread::scope(|scope| {
            // Thread t takes lines t, t + threads, …: the near lines, which cost more, sit together
            // at the end of the file.
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        let stats = CachedStats {
                            index: IndexStats(&this.index),
                            doc_freq: Default::default(),
                            known: Default::default(),
                        };
                        let check = |(c, at): &(&Case, Vec<usize>)| -> Result<Checked, IndexError> {
                            let analysed = this.analyse_with(&c.q, &stats);
                            if !at.is_empty() {
                                return Ok((analysed, None));
                            }
                            let (ranked, _) = this.rank(&analysed, None)?;
                            let answered =
                                ranked.first().filter(|r| r.confidence >= NEAR_ANSWERED).map(|r| {
                                    (r.hit.passage.article_path.clone(), r.hit.passage.line, r.confidence)
                                });
                            Ok((analysed, answered))
                        };
                        pointed_ref.iter().skip(t).step_by(threads).map(check).collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut parts: Vec<std::vec::IntoIter<_>> =
                handles.into_iter().map(|h| h.join().unwrap_or_default().into_iter()).collect();
            (0..pointed_ref.len()).map_while(|i| parts[i % threads].next()).collect()
        });
        let mut items = Vec::with_capacity(pointed.len());
        for ((case, at), checked) in pointed.iter().zip(analysed) {
            let (analysed, answered) = checked?;
            if let Some((path, line, confidence)) = answered {
                problems.push(format!(
                    "example {:?} is marked near, but the passage at {path}:{line} matches all its words \
                     (confidence {confidence:.2}); left out",
                    case.q
                ));
                continue;
            }
            let ids: Vec<String> = at.iter().map(|&i| passages[i].1.id.clone()).collect();
            for &i in at {
                let p = &passages[i].1;
                self.example_passages.entry(p.id.clone()).or_insert_with(|| p.clone());
            }
            let concepts: Vec<Concept> = analysed
                .groups
                .iter()
                .map(|g| Concept { weight: g.weight, alternatives: alternative_terms(g) })
                .collect();
            let mut exact_terms: Vec<String> = analysed
                .groups
                .iter()
                .flat_map(|g| {
                    let exact = g.alternatives.iter().filter(|a| !is_guess(a.origin));
                    exact
                        .flat_map(|a| a.terms.iter().cloned())
                        .chain(g.summary.then(|| SUMMARY_TERM.to_string()))
                })
                .collect();
            exact_terms.sort();
            exact_terms.dedup();
            items.push(Example {
                question: case.q.clone(),
                exact_terms,
                concepts,
                passages: ids,
                asks_quantity: analysed.asks_quantity,
            });
        }
        self.examples = Examples::new(items);
        Ok((self, problems))
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

    fn analyse_with(&self, question: &str, stats: &dyn TermStats) -> Analysed {
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

    /// [`Retriever::rank`] with the question's meaning scores, when the semantic stage is on.
    fn rank_question(
        &self,
        question: &str,
        analysed: &Analysed,
    ) -> Result<(Vec<Ranked>, Option<Similar>), IndexError> {
        let vector = self.question_vector(question);
        let meanings =
            self.semantic.as_ref().zip(vector.as_deref()).map(|(s, v)| s.meanings(v, SECTION_SHARE));
        self.rank(analysed, meanings.as_ref())
    }

    /// The question's sentence embedding, with the semantic stage; a failure of the model is
    /// logged and the question answered from its words.
    fn question_vector(&self, question: &str) -> Option<Vec<f32>> {
        let semantic = self.semantic.as_ref()?;
        match semantic.embed_question(question) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(error = %e, "the question could not be embedded; answering from its words");
                None
            }
        }
    }

    fn clauses(&self, analysed: &Analysed) -> Vec<WeightedTerm> {
        let mut clauses = Vec::new();
        for g in analysed.groups.iter().filter(|g| g.known) {
            for alt in &g.alternatives {
                for term in &alt.terms {
                    for (field, boost) in FIELD_BOOSTS {
                        clauses.push(WeightedTerm {
                            term: term.clone(),
                            field,
                            boost: boost * alt.factor * (g.weight / question::idf(10, 1)).max(0.05),
                        });
                    }
                }
            }
        }
        clauses
    }

    /// Candidates best first, and the most similar question known not to be covered.
    fn rank(
        &self,
        analysed: &Analysed,
        meanings: Option<&Meanings>,
    ) -> Result<(Vec<Ranked>, Option<Similar>), IndexError> {
        let mut hits = self.index.search(&self.clauses(analysed), self.settings.candidates)?;
        // The passages nearest in meaning join the BM25 candidates.
        for (id, _) in meanings.map(|m| m.top(self.settings.candidates)).unwrap_or_default() {
            if !hits.iter().any(|h| h.passage.id == id)
                && let Some(passage) = self.index.passage(id)?
            {
                hits.push(Hit { score: 0.0, passage });
            }
        }
        let question_terms: HashSet<String> = analysed
            .groups
            .iter()
            .flat_map(|g| g.alternatives.iter().filter(|a| a.origin == question::Origin::Word))
            .flat_map(|a| a.terms.iter().cloned())
            .collect();
        let wants_summary = analysed.groups.iter().any(|g| g.summary);
        let summary = self.summary_candidates(&question_terms, wants_summary, &hits)?;
        for p in &summary {
            if !hits.iter().any(|h| h.passage.id == p.id) {
                hits.push(Hit { score: 0.0, passage: p.clone() });
            }
        }
        let total: f32 = analysed.groups.iter().map(|g| g.weight).sum();
        // Too little evidence (only generic or very common words matched) caps the confidence.
        let evidence_floor = EVIDENCE_FLOOR * question::idf(self.index.num_passages().max(1), 1);
        let evidence = |covered: f32| (covered / evidence_floor).min(1.0);
        let similar = self.similar_examples(analysed, evidence);
        let mut extra: Vec<(&str, Similar)> = similar
            .passages
            .iter()
            .filter(|(id, s)| {
                s.similarity >= EXAMPLE_CANDIDATE_FLOOR && !hits.iter().any(|h| h.passage.id == **id)
            })
            .map(|(id, s)| (*id, *s))
            .collect();
        extra.sort_by(|a, b| b.1.similarity.total_cmp(&a.1.similarity).then_with(|| a.0.cmp(b.0)));
        for (id, _) in extra.into_iter().take(EXAMPLE_CANDIDATES) {
            if let Some(p) = self.example_passages.get(id) {
                hits.push(Hit { score: 0.0, passage: p.clone() });
            }
        }
        let top_bm25 = hits.first().map(|h| h.score).unwrap_or(1.0).max(f32::EPSILON);
        let mut ranked: Vec<Ranked> = hits
            .into_iter()
            .map(|hit| {
                let fields = PassageTerms::of(&hit.passage);
                let found: Vec<(f32, Option<&'static str>)> =
                    analysed.groups.iter().map(|g| fields.best_match(g)).collect();
                let covered: f32 = analysed.groups.iter().zip(&found).map(|(g, (c, _))| g.weight * c).sum();
                let coverage = if total > 0.0 { covered / total * evidence(covered) } else { 0.0 };
                let meaning = meanings.and_then(|m| m.of(&hit.passage.id));
                let own = own_confidence(coverage, meaning);
                let example = similar.passages.get(hit.passage.id.as_str()).copied();
                let lifted = example
                    .map(|s| (s.similarity * self.settings.example_factor, s.example))
                    .filter(|(s, _)| *s > own);
                let confidence = lifted.map_or(own, |(s, _)| s);
                // A question asking for an amount or a time, and a passage that states none.
                let confidence = if analysed.asks_quantity && !question::states_quantity(&hit.passage.text) {
                    confidence * QUANTITY_FACTOR
                } else {
                    confidence
                };
                let restated = restatement(&question_terms, &hit.passage);
                let defining = analysed
                    .definition_of
                    .as_deref()
                    .zip(hit.passage.features.defines.as_ref())
                    .is_some_and(|(subject, term)| subject.contains(term));
                let in_summary = summary.iter().any(|p| p.section_id == hit.passage.section_id);
                let rank = confidence
                    + example.map_or(0.0, |s| EXAMPLE_BONUS * s.similarity + AGREEMENT_BONUS * s.runner_up)
                    + BM25_WEIGHT * hit.score / top_bm25
                    + RESTATEMENT_BONUS * restated
                    + if in_summary { RESTATEMENT_BONUS } else { 0.0 }
                    + if defining { RESTATEMENT_BONUS } else { 0.0 }
                    - 0.001 * hit.passage.position.min(50) as f32;
                Ranked { hit, confidence, rank, found, like: lifted.map(|(_, e)| e), coverage, meaning }
            })
            .collect();
        // Where no example question says which passage answers, a section that meaning finds is
        // answered from its lead (in a FAQ, the first paragraph of an entry is its answer).
        if meanings.is_some() && self.examples.is_empty() {
            lead_bonus(&mut ranked, LEAD_BONUS);
        }
        ranked
            .sort_by(|a, b| b.rank.total_cmp(&a.rank).then_with(|| a.hit.passage.id.cmp(&b.hit.passage.id)));
        Ok((ranked, similar.not_covered))
    }

    /// For each passage an example question points to, its most similar example to the question.
    fn similar_examples(&self, analysed: &Analysed, evidence: impl Fn(f32) -> f32) -> Similarities<'_> {
        if self.examples.is_empty() {
            return Similarities::default();
        }
        let terms: Vec<Vec<Vec<String>>> = analysed.groups.iter().map(alternative_terms).collect();
        let concepts: Vec<QueryConcept> = analysed
            .groups
            .iter()
            .zip(&terms)
            .map(|(g, alts)| {
                // A summary request has one alternative of its own (SUMMARY_TERM), exact.
                let kinds = g
                    .alternatives
                    .iter()
                    .map(|a| (a.factor, is_guess(a.origin)))
                    .chain(std::iter::repeat((1.0, false)));
                let alternatives = alts
                    .iter()
                    .zip(kinds)
                    .map(|(terms, (credit, guess))| QueryAlternative { terms, credit, guess })
                    .collect();
                QueryConcept { weight: g.weight, alternatives }
            })
            .collect();
        self.examples.similar(&concepts, analysed.asks_quantity, evidence)
    }

    /// Summary-section passages worth considering: the top article's when the question asks for a
    /// summary or only restates that article's title; every article's (up to three) when it asks
    /// for a summary and nothing else matched.
    fn summary_candidates(
        &self,
        question_terms: &HashSet<String>,
        wants_summary: bool,
        hits: &[Hit],
    ) -> Result<Vec<StoredPassage>, IndexError> {
        let articles = &self.index.meta().articles;
        let chosen: Vec<&crate::index::ArticleInfo> = match hits.first() {
            Some(top) => {
                let Some(article) = articles.iter().find(|a| a.path == top.passage.article_path) else {
                    return Ok(Vec::new());
                };
                let title: HashSet<String> = analysis::terms(&article.title).into_iter().collect();
                let restates_title = !question_terms.is_empty() && question_terms.is_subset(&title);
                if !(wants_summary || restates_title) {
                    return Ok(Vec::new());
                }
                vec![article]
            }
            None if wants_summary => articles.iter().take(3).collect(),
            None => return Ok(Vec::new()),
        };
        let mut out = Vec::new();
        for article in chosen {
            if let Some(s) = article.sections.iter().find(|s| analysis::is_summary_heading(&s.heading_path)) {
                out.extend(self.index.section_passages(&s.id)?);
            }
        }
        Ok(out)
    }

    fn source_of(&self, p: &StoredPassage) -> Source {
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

    fn build_answer(
        &self,
        question: &str,
        analysed: &Analysed,
        ranked: Vec<Ranked>,
        not_covered: Option<Similar>,
    ) -> Answer {
        let max = self.settings.max_excerpt_chars;
        let confidence = ranked.first().map(|r| r.confidence).unwrap_or(0.0) as f64;
        let matched: Vec<WordMatch> = analysed
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let found = ranked.first().and_then(|r| r.found[i].1);
                let via = g
                    .alternatives
                    .iter()
                    .find(|a| a.terms.iter().all(|t| IndexStats(&self.index).known(t)))
                    .map(|a| a.origin);
                WordMatch { words: g.words.clone(), via, found_in: found, weight: round(g.weight as f64) }
            })
            .collect();
        let query_terms: HashSet<String> = analysed
            .groups
            .iter()
            .flat_map(|g| g.alternatives.iter().flat_map(|a| a.terms.clone()))
            .collect();
        let is_match = |text: &str| {
            let text = text.to_string();
            let terms = &query_terms;
            move |s: usize, e: usize| terms.contains(&analysis::term_of(&text[s..e].to_lowercase()))
        };

        // A question at least as close to one known not to be covered as to its best passage.
        let like_uncovered = not_covered
            .filter(|n| n.similarity as f64 >= confidence)
            .and_then(|n| self.examples.get(n.example));
        let answered =
            confidence >= self.settings.min_confidence && !ranked.is_empty() && like_uncovered.is_none();
        let decline_reason = if answered {
            None
        } else if let Some(known) = like_uncovered.filter(|_| confidence >= self.settings.min_confidence) {
            Some(format!(
                "It is like a question the articles are known not to answer: \u{201c}{}\u{201d}.",
                known.question
            ))
        } else if analysed.groups.is_empty() {
            Some("The question has no words to search for; ask about a topic in the articles.".to_string())
        } else if analysed.groups.iter().all(|g| !g.known) {
            Some("None of the question's words appear in the articles.".to_string())
        } else {
            let missing: Vec<&str> =
                analysed.groups.iter().filter(|g| !g.known).map(|g| g.words.as_str()).collect();
            let unstated = analysed.asks_quantity
                && ranked.first().is_some_and(|r| !question::states_quantity(&r.hit.passage.text));
            Some(if missing.is_empty() && unstated {
                "The question asks for an amount or a time, and the passages it matches state none."
                    .to_string()
            } else if missing.is_empty() {
                "No passage matches enough of the question.".to_string()
            } else {
                format!("The articles never mention {}.", quote_list(&missing))
            })
        };

        // A question about a list (or table) as a whole, or one that does not tell its items
        // apart, is answered with all of it; so is one answered by the paragraph introducing it.
        let list = ranked.first().filter(|_| answered).and_then(|r| {
            let best = &r.hit.passage;
            let whole = asks_for_list(analysed, r) || sibling_close(&ranked);
            if !whole && best.kind != PassageKind::Paragraph {
                return None;
            }
            let section = self.index.section_passages(&best.section_id).ok()?;
            let at = section.iter().position(|p| p.id == best.id)?;
            if whole { whole_list(&section, at, None, max) } else { paragraph_and_list(&section, at, max) }
        });
        let in_list = |p: &StoredPassage| {
            list.as_ref()
                .is_some_and(|l| same_list(&l.item, p) || l.paragraph.as_deref() == Some(p.id.as_str()))
        };

        let alternative = |r: &Ranked| {
            let p = &r.hit.passage;
            AltAnswer {
                excerpt: answer::excerpt(&p.text, max, is_match(&p.text)).text,
                section: p.heading_path.clone(),
                confidence: round(r.confidence as f64),
                passage_id: p.id.clone(),
                section_id: p.section_id.clone(),
                source: self.source_of(p),
            }
        };
        let mut alternatives = Vec::new();
        let mut seen_sections = HashSet::new();
        let skip = usize::from(answered);
        if let Some(first) = ranked.first().filter(|_| !answered) {
            seen_sections.insert(first.hit.passage.section_id.clone());
        }
        for r in ranked.iter().skip(skip) {
            if alternatives.len() == self.settings.alternatives {
                break;
            }
            let p = &r.hit.passage;
            // A decline points to distinct sections; an answer offers the next passages.
            if !answered && !seen_sections.insert(p.section_id.clone()) {
                continue;
            }
            if r.confidence <= 0.0 || in_list(p) {
                continue;
            }
            alternatives.push(alternative(r));
        }
        if !answered {
            // The nearest section comes first among the alternatives.
            if let Some(first) = ranked.first().filter(|r| r.confidence > 0.0) {
                alternatives.insert(0, alternative(first));
                alternatives.truncate(self.settings.alternatives);
            }
        }

        let best = ranked.first().map(|r| &r.hit.passage);
        let (excerpt, highlights, truncated) = match (best.filter(|_| answered), &list) {
            (Some(_), Some(l)) => (Some(l.text.clone()), highlights(&l.text, &query_terms), false),
            (Some(p), None) => {
                let ex = answer::excerpt(&p.text, max, is_match(&p.text));
                let hl = highlights(&ex.text, &query_terms);
                (Some(ex.text), hl, ex.truncated)
            }
            (None, _) => (None, Vec::new(), false),
        };
        let nearest = best.filter(|_| answered || ranked[0].confidence > 0.0);
        Answer {
            question: question.to_string(),
            answered,
            confidence: round(confidence),
            excerpt,
            section: nearest.map(|p| p.heading_path.clone()).unwrap_or_default(),
            source: nearest
                .map(|p| Source { line: list.as_ref().map_or(p.line, |l| l.line), ..self.source_of(p) }),
            alternatives,
            passage_id: best.filter(|_| answered).map(|p| p.id.clone()),
            section_id: nearest.map(|p| p.section_id.clone()),
            context: best.filter(|_| answered && list.is_none()).and_then(|p| p.context.clone()),
            highlights,
            truncated,
            decline_reason,
            matched,
            like_question: ranked
                .first()
                .filter(|_| answered)
                .and_then(|r| r.like)
                .and_then(|i| self.examples.get(i))
                .map(|e| e.question.clone()),
            signals: ranked
                .first()
                .map(|r| self.signals(r))
                .unwrap_or_else(|| Signals { threshold: self.settings.min_confidence, ..Default::default() }),
        }
    }

    fn signals(&self, r: &Ranked) -> Signals {
        let own = own_confidence(r.coverage, r.meaning);
        Signals {
            words: round(r.coverage as f64),
            meaning: r.meaning.map(|m| round(m as f64)),
            meaning_share: match r.meaning {
                Some(m) if own > 0.0 && r.like.is_none() => round((MEANING_SHARE * m.max(0.0) / own) as f64),
                _ => 0.0,
            },
            example: r.like.map(|_| round(r.confidence as f64)),
            threshold: round(self.settings.min_confidence),
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

fn read_saved(path: &std::path::Path) -> Option<Saved> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Saves analysed examples through a temporary file and a rename, so a reader never sees half.
fn write_saved(path: &std::path::Path, saved: &Saved) {
    let Ok(bytes) = serde_json::to_vec(saved) else { return };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::debug!(path = %path.display(), "could not save the analysed example questions: {e}");
    }
}

/// The list (or table) that `section[at]` belongs to, quoted whole: `lead_in` (by default the
/// paragraph that ends with the list's lead-in, or the lead-in sentence alone when the paragraph is
/// too long), then each item on a line of its own after `- ` (each row on a line of its own), as
/// the article has them; with the line it starts on. None when that is longer than `max`
/// characters.
fn whole_list(
    section: &[StoredPassage],
    at: usize,
    lead_in: Option<&StoredPassage>,
    max: usize,
) -> Option<ListQuote> {
    let item = &section[at];
    let first = section[..at].iter().rposition(|p| !same_list(item, p)).map_or(0, |i| i + 1);
    let end = section[at..].iter().position(|p| !same_list(item, p)).map_or(section.len(), |i| at + i);
    let items = section[first..end].iter().map(|p| match p.kind {
        PassageKind::TableRow => p.text.trim().to_string(),
        _ => format!("- {}", p.text.trim()),
    });
    // `paragraph` is the lead-in quoted whole; without it, the lead-in sentence.
    let quote = |paragraph: Option<&StoredPassage>| {
        let lead = paragraph.map(|p| p.text.as_str()).or(item.context.as_deref());
        let text = lead.map(|l| l.trim().to_string()).into_iter().chain(items.clone()).collect::<Vec<_>>();
        let text = text.join("\n");
        (text.chars().count() <= max).then(|| ListQuote {
            text,
            line: paragraph.map_or(section[first].line, |p| p.line),
            item: section[first].clone(),
            paragraph: paragraph.map(|p| p.id.clone()),
        })
    };
    if lead_in.is_some() {
        return quote(lead_in);
    }
    let paragraph = first.checked_sub(1).map(|i| &section[i]).filter(|p| {
        p.kind == PassageKind::Paragraph
            && item.context.as_deref().is_some_and(|c| p.text.trim_end().ends_with(c.trim()))
    });
    paragraph.and_then(|p| quote(Some(p))).or_else(|| quote(None))
}

/// For a paragraph (`section[at]`) that introduces a list ("…it supports repair by:") or a table
/// (its rows' lead-in), the paragraph and the list or table, when they fit in `max` characters.
fn paragraph_and_list(section: &[StoredPassage], at: usize, max: usize) -> Option<ListQuote> {
    let paragraph = &section[at];
    let text = paragraph.text.trim_end();
    let next = section.get(at + 1)?;
    let introduced = match next.kind {
        PassageKind::ListItem => text.ends_with(':'),
        PassageKind::TableRow => true,
        PassageKind::Paragraph => false,
    };
    if !introduced || !next.context.as_deref().is_some_and(|c| text.ends_with(c.trim())) {
        return None;
    }
    whole_list(section, at + 1, Some(paragraph), max)
}

/// A whole list or table as one quote.
struct ListQuote {
    /// The lead-in and the items, a line each.
    text: String,
    /// The line the quote starts on.
    line: u64,
    /// One item (or row) of it.
    item: StoredPassage,
    /// The paragraph quoted as its lead-in, if one is.
    paragraph: Option<String>,
}

/// True when the best passage is a list item (or table row) and most of what the question matched
/// there lies outside the item's own words (in the lead-in or heading): the question asks for the
/// whole list.
fn asks_for_list(analysed: &Analysed, best: &Ranked) -> bool {
    if !matches!(best.hit.passage.kind, PassageKind::ListItem | PassageKind::TableRow) {
        return false;
    }
    let (mut own, mut all) = (0.0, 0.0);
    for (g, (credit, at)) in analysed.groups.iter().zip(&best.found) {
        if matches!(*at, None | Some("title")) {
            continue;
        }
        all += g.weight * credit;
        if *at == Some("text") {
            own += g.weight * credit;
        }
    }
    all > 0.0 && own < LIST_SHARE * all
}

/// True when another item of the best passage's list ranks almost as high: the question does not
/// tell the items apart.
fn sibling_close(ranked: &[Ranked]) -> bool {
    let Some((best, rest)) = ranked.split_first() else { return false };
    rest.iter().any(|r| same_list(&best.hit.passage, &r.hit.passage) && r.rank >= best.rank - SIBLING_MARGIN)
}

/// True when `a` and `b` are both list items, or both table rows, of one section with the same
/// lead-in: as a rule, of one list or table. ([`whole_list`] also requires them to be
/// consecutive.)
fn same_list(a: &StoredPassage, b: &StoredPassage) -> bool {
    matches!(a.kind, PassageKind::ListItem | PassageKind::TableRow)
        && b.kind == a.kind
        && a.section_id == b.section_id
        && a.context == b.context
}

/// True for alternatives that are guesses at what a word meant (a spelling correction, a WordNet
/// synonym), as opposed to the word, its synonym rules and its family.
fn is_guess(origin: question::Origin) -> bool {
    matches!(origin, question::Origin::Spelling | question::Origin::Thesaurus)
}

/// The term sets that match a concept group (a summary request is matched by [`SUMMARY_TERM`]).
fn alternative_terms(g: &question::Group) -> Vec<Vec<String>> {
    if g.summary {
        vec![vec![SUMMARY_TERM.to_string()]]
    } else {
        g.alternatives.iter().map(|a| a.terms.clone()).collect()
    }
}

/// How closely the question restates the passage's own section heading (the article title for an
/// introduction): 0 below half overlap of their terms, rising to 1 for the same terms.
fn restatement(question_terms: &HashSet<String>, p: &StoredPassage) -> f32 {
    let heading = &p.features.own_heading;
    let shared = heading.iter().filter(|t| question_terms.contains(*t)).count();
    let union = question_terms.len() + heading.len() - shared;
    if union == 0 {
        return 0.0;
    }
    let jaccard = shared as f32 / union as f32;
    ((jaccard - 0.5) / 0.5).max(0.0)
}

/// Byte ranges of words in `text` whose term is one of `terms`.
pub fn highlights(text: &str, terms: &HashSet<String>) -> Vec<(usize, usize)> {
    analysis::tokenize(text)
        .into_iter()
        .filter(|t| !t.stop && terms.contains(&t.term))
        .map(|t| (t.start, t.end))
        .collect()
}

fn round(x: f64) -> f64 {
    (x.clamp(0.0, 1.0e9) * 1000.0).round() / 1000.0
}

fn quote_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\u{201c}{w}\u{201d}")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

/// The analysed terms of each part of a passage.
struct PassageTerms<'a> {
    f: &'a analysis::PassageFeatures,
}

impl<'a> PassageTerms<'a> {
    fn of(p: &'a StoredPassage) -> PassageTerms<'a> {
        PassageTerms { f: &p.features }
    }

    fn place(&self, term: &str) -> Option<(f32, &'static str)> {
        let has = |v: &[String]| v.binary_search_by(|t| t.as_str().cmp(term)).is_ok();
        if has(&self.f.text) {
            Some((IN_TEXT, "text"))
        } else if has(&self.f.context) {
            Some((IN_CONTEXT, "context"))
        } else if has(&self.f.heading) {
            Some((IN_HEADING, "heading"))
        } else if has(&self.f.title) {
            Some((IN_TITLE, "title"))
        } else {
            None
        }
    }

    /// The best credit any alternative of `g` earns here, and where it was found.
    fn best_match(&self, g: &question::Group) -> (f32, Option<&'static str>) {
        if g.summary {
            return if self.f.summary_section { (IN_TEXT, Some("heading")) } else { (0.0, None) };
        }
        let mut best = (0.0, None);
        for alt in &g.alternatives {
            let places: Option<Vec<(f32, &'static str)>> = alt.terms.iter().map(|t| self.place(t)).collect();
            if let Some(places) = places.filter(|p| !p.is_empty()) {
                let (credit, at) = places
                    .iter()
                    .copied()
                    .fold((f32::MAX, "text"), |acc, p| if p.0 < acc.0 { p } else { acc });
                let credit = credit * alt.factor;
                if credit > best.0 {
                    best = (credit, Some(at));
                }
            }
        }
        best
    }
}
