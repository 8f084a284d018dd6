//! Ranking signals: each BM25 or meaning candidate scored by coverage (the share of the question's
//! weight its words match, by field), meaning (the cosine of question and passage, blended with
//! its section's), example-question similarity and the smaller bonuses, each kept apart in
//! [`Ranked`] for the explanation.

use super::{Retriever, round};
use crate::analysis;
use crate::answer::Signals;
use crate::examples::{QueryAlternative, QueryConcept, Similar, Similarities};
use crate::index::{Hit, IndexError, SearchField, StoredPassage, WeightedTerm};
use crate::question::{self, Analysed};
use crate::semantic::Meanings;
use std::collections::HashSet;

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
/// With the semantic stage, the share of a passage's confidence that comes from meaning (the
/// cosine of question and passage), the rest from its words (coverage).
pub(super) const MEANING_SHARE: f32 = 0.6;
/// The share of a passage's meaning score that comes from its whole section's vector (a FAQ
/// entry or a section is one topic; a paragraph alone may not name it).
pub(super) const SECTION_SHARE: f32 = 0.5;
/// With the semantic stage and no example questions, the rank added to a section's lead passage.
const LEAD_BONUS: f32 = 0.3;
/// Stands for a request for a summary among an example's terms.
pub(super) const SUMMARY_TERM: &str = "\u{0}summary";

/// One re-ranked candidate.
pub(super) struct Ranked {
    pub(super) hit: Hit,
    /// The larger of coverage and example similarity (less for an amount asked and not stated):
    /// what the threshold is compared with.
    pub(super) confidence: f32,
    pub(super) rank: f32,
    /// The example question that lifted the confidence above coverage, if one did.
    pub(super) like: Option<usize>,
    /// Per group: (credit, where).
    pub(super) found: Vec<(f32, Option<&'static str>)>,
    /// The share of the question's weight its words match (before examples).
    pub(super) coverage: f32,
    /// The meaning score (passage and section cosine), with the semantic stage.
    pub(super) meaning: Option<f32>,
}

/// A passage's confidence from its own match: coverage, blended with the meaning score when the
/// semantic stage gives one.
pub(super) fn own_confidence(coverage: f32, meaning: Option<f32>) -> f32 {
    meaning.map_or(coverage, |m| MEANING_SHARE * m.max(0.0) + (1.0 - MEANING_SHARE) * coverage)
}

/// The lead passage of a section states what the section is about: a question that finds the
/// section is answered from it, unless another passage of the section ranks higher by more than
/// `bonus`.
pub(super) fn lead_bonus(ranked: &mut [Ranked], bonus: f32) {
    for r in ranked.iter_mut().filter(|r| r.hit.passage.position == 0) {
        r.rank += bonus;
    }
}

impl Retriever {
    /// [`Retriever::rank`] with the question's meaning scores, when the semantic stage is on.
    pub(super) fn rank_question(
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

    pub(super) fn clauses(&self, analysed: &Analysed) -> Vec<WeightedTerm> {
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
    pub(super) fn rank(
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
    pub(super) fn signals(&self, r: &Ranked) -> Signals {
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
}

/// True for alternatives that are guesses at what a word meant (a spelling correction, a WordNet
/// synonym), as opposed to the word, its synonym rules and its family.
pub(super) fn is_guess(origin: question::Origin) -> bool {
    matches!(origin, question::Origin::Spelling | question::Origin::Thesaurus)
}

/// The term sets that match a concept group (a summary request is matched by [`SUMMARY_TERM`]).
pub(super) fn alternative_terms(g: &question::Group) -> Vec<Vec<String>> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::analysis::PassageFeatures;
    use crate::corpus::PassageKind;
    use crate::question::{Alternative, Group, Origin};

    /// A stored passage with the given analysed terms in its text, heading and title.
    pub(in crate::retrieval) fn passage(
        id: &str,
        position: u64,
        kind: PassageKind,
        text: &str,
    ) -> StoredPassage {
        StoredPassage {
            id: id.to_string(),
            section_id: "s".to_string(),
            article_path: "faq.md".to_string(),
            heading_path: vec!["FAQ".to_string(), "Section".to_string()],
            anchor: "section".to_string(),
            kind,
            text: text.to_string(),
            context: None,
            position,
            line: 1 + position,
            features: PassageFeatures::default(),
        }
    }

    pub(in crate::retrieval) fn ranked(p: StoredPassage, rank: f32) -> Ranked {
        Ranked {
            hit: Hit { score: 1.0, passage: p },
            confidence: rank,
            rank,
            like: None,
            found: Vec::new(),
            coverage: rank,
            meaning: None,
        }
    }

    fn group(alternatives: &[(&[&str], f32, Origin)]) -> Group {
        Group {
            words: "w".to_string(),
            alternatives: alternatives
                .iter()
                .map(|(terms, factor, origin)| Alternative {
                    terms: terms.iter().map(|t| t.to_string()).collect(),
                    factor: *factor,
                    origin: *origin,
                })
                .collect(),
            weight: 1.0,
            known: true,
            summary: false,
        }
    }

    fn terms(words: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn meaning_blends_with_coverage_and_never_lowers_below_its_share_of_words() {
        assert_eq!(own_confidence(0.7, None), 0.7);
        let blended = own_confidence(0.5, Some(1.0));
        assert!((blended - (MEANING_SHARE + (1.0 - MEANING_SHARE) * 0.5)).abs() < 1e-6);
        // A negative cosine counts as no meaning at all, not as a penalty.
        assert!((own_confidence(0.5, Some(-0.3)) - (1.0 - MEANING_SHARE) * 0.5).abs() < 1e-6);
    }

    #[test]
    fn the_lead_bonus_goes_to_a_section_opening_only() {
        let mut r = vec![
            ranked(passage("a", 0, PassageKind::Paragraph, "lead"), 0.5),
            ranked(passage("b", 3, PassageKind::Paragraph, "later"), 0.6),
        ];
        lead_bonus(&mut r, 0.3);
        assert!((r[0].rank - 0.8).abs() < 1e-6);
        assert!((r[1].rank - 0.6).abs() < 1e-6);
    }

    #[test]
    fn a_word_counts_most_in_the_passage_text_and_least_in_the_title() {
        let mut p = passage("a", 0, PassageKind::Paragraph, "");
        p.features.text = terms(&["charg"]);
        p.features.heading = terms(&["batteri"]);
        p.features.title = terms(&["widget"]);
        let f = PassageTerms::of(&p);
        assert_eq!(f.best_match(&group(&[(&["charg"], 1.0, Origin::Word)])), (IN_TEXT, Some("text")));
        assert_eq!(f.best_match(&group(&[(&["batteri"], 1.0, Origin::Word)])), (IN_HEADING, Some("heading")));
        assert_eq!(f.best_match(&group(&[(&["widget"], 1.0, Origin::Word)])), (IN_TITLE, Some("title")));
        // A phrase is credited at its weakest place, an alternative at its factor, the best
        // alternative wins, and a phrase with a missing term earns nothing.
        let phrase = group(&[(&["charg", "widget"], 1.0, Origin::Word)]);
        assert_eq!(f.best_match(&phrase), (IN_TITLE, Some("title")));
        let spelled = group(&[(&["missing"], 1.0, Origin::Word), (&["charg"], 0.6, Origin::Spelling)]);
        assert_eq!(f.best_match(&spelled), (0.6, Some("text")));
        assert_eq!(f.best_match(&group(&[(&["charg", "missing"], 1.0, Origin::Word)])), (0.0, None));
    }

    #[test]
    fn restating_a_heading_counts_only_past_half_its_terms() {
        let mut p = passage("a", 0, PassageKind::Paragraph, "");
        p.features.own_heading = terms(&["clean", "widget"]);
        let q = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<HashSet<_>>();
        assert_eq!(restatement(&q(&["clean", "widget"]), &p), 1.0);
        assert_eq!(restatement(&q(&["clean", "widget", "cloth", "damp"]), &p), 0.0);
        let third = restatement(&q(&["clean", "widget", "cloth"]), &p);
        assert!(third > 0.0 && third < 1.0, "{third}");
        assert_eq!(restatement(&q(&[]), &passage("b", 0, PassageKind::Paragraph, "")), 0.0);
    }

    #[test]
    fn guesses_are_spellings_and_thesaurus_words_only() {
        assert!(is_guess(Origin::Spelling) && is_guess(Origin::Thesaurus));
        assert!(!is_guess(Origin::Word) && !is_guess(Origin::Synonym) && !is_guess(Origin::Family));
        let mut summary = group(&[(&["tldr"], 1.0, Origin::Word)]);
        summary.summary = true;
        assert_eq!(alternative_terms(&summary), vec![vec![SUMMARY_TERM.to_string()]]);
    }

    #[test]
    fn ranking_keeps_each_signal_apart() {
        let r = super::super::test_retriever(
            "# Widget FAQ\n\n## Charging\n\nThe widget charges over USB in two hours.\n\n## Cleaning\n\n\
             Wipe the widget with a damp cloth.\n",
        );
        let analysed = r.analyse("charging over usb");
        let (ranked, not_covered) = r.rank(&analysed, None).unwrap();
        assert!(not_covered.is_none());
        let best = &ranked[0];
        assert!(best.hit.passage.text.contains("USB"));
        assert!(best.coverage > 0.9, "{}", best.coverage);
        assert_eq!(best.meaning, None);
        assert_eq!(best.found.len(), analysed.groups.len());
        let signals = r.signals(best);
        assert_eq!(signals.meaning, None);
        assert_eq!(signals.meaning_share, 0.0);
        assert_eq!(signals.example, None);
        assert!(ranked.windows(2).all(|w| w[0].rank >= w[1].rank));
    }
}
