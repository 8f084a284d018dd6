//! Example questions: questions a corpus maintainer knows a passage answers, kept in the eval
//! format (`{"q": …, "expect": [phrases]}`, see `corpus/examples.jsonl`), used as a second kind of
//! evidence for that passage.
//!
//! A new question is compared with each example the way it is compared with a passage: the share
//! of the question's weight whose words (or their spelling fixes, families and synonyms) the example
//! also uses, damped by how much of the example's own weight the question leaves out. The passages
//! an example points to (those containing one of its `expect` phrases) earn that similarity as a
//! ranking bonus and as a second route to confidence. FAQ bots learn from "training phrases" the
//! same way; here the reply is still the verbatim passage, never the example.
//!
//! Plain Rust: the caller analyses the questions.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One concept of an example question: its weight and the term sets that match it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    /// Importance, as in the question analysis.
    pub weight: f32,
    /// Each way to match it: terms that must all be present.
    pub alternatives: Vec<Vec<String>>,
}

/// One example question, analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The question as written.
    pub question: String,
    /// The terms of its words as written, their synonym rules and word families: its concepts'
    /// terms less spelling corrections and WordNet synonyms. Sorted and unique.
    pub exact_terms: Vec<String>,
    /// Its concepts.
    pub concepts: Vec<Concept>,
    /// Ids of the passages it points to; none for a question the corpus is known not to answer.
    pub passages: Vec<String>,
    /// True when it asks for an amount or a time ("how long…", "what percentage…").
    pub asks_quantity: bool,
}

/// The best example for a passage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similar {
    /// Similarity to the question, 0..1.
    pub similarity: f32,
    /// Index of the example.
    pub example: usize,
    /// The second-best similarity among the passage's examples.
    pub runner_up: f32,
}

/// The examples most similar to a question.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Similarities<'a> {
    /// For each passage some example points to, its most similar example.
    pub passages: HashMap<&'a str, Similar>,
    /// The most similar question known not to be answered by the corpus.
    pub not_covered: Option<Similar>,
}

/// Analysed examples as saved beside the index, so that a start need not analyse them again.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Saved {
    /// What they were analysed with (see `Retriever::examples_key`).
    pub key: String,
    /// The examples.
    pub items: Vec<Example>,
    /// The problems found in the file.
    pub problems: Vec<String>,
}

/// How strongly leaving out an example's own concepts lowers its similarity: the share of the
/// example's weight the question matches, raised to this power, multiplies the similarity.
const PRECISION_POWER: f32 = 0.25;
/// The similarity left when one question asks for an amount or a time and the other does not (the
/// factor a passage that states none keeps for such a question).
const OTHER_INTENT: f32 = 0.3;

/// One concept of the question being answered: its weight and its ways to match.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConcept<'a> {
    /// Importance.
    pub weight: f32,
    /// Ways to match it.
    pub alternatives: Vec<QueryAlternative<'a>>,
}

/// One way to match a concept of the question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryAlternative<'a> {
    /// Terms that must all be present.
    pub terms: &'a [String],
    /// The credit (0..1) it earns.
    pub credit: f32,
    /// True for a guess (a spelling correction, a WordNet synonym): it matches only an example's
    /// exact terms, so that two guesses ("phone" → "prone" ← "prove") never meet.
    pub guess: bool,
}

/// A set of analysed example questions, with their terms numbered and indexed for speed.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    items: Vec<Example>,
    /// Term → number.
    ids: HashMap<String, u32>,
    /// Per example: the numbers of every term of its concepts, sorted.
    terms: Vec<Vec<u32>>,
    /// Per example: the numbers of its exact terms, sorted.
    exact: Vec<Vec<u32>>,
    /// Per example: per concept: per alternative: term numbers.
    concepts: Vec<Vec<(f32, Vec<Vec<u32>>)>>,
    /// Term number → the examples using it, ascending.
    postings: Vec<Vec<u32>>,
}

impl Examples {
    /// Wraps analysed examples.
    pub fn new(items: Vec<Example>) -> Examples {
        let mut examples = Examples { items, ..Examples::default() };
        examples.reindex();
        examples
    }

    fn reindex(&mut self) {
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut id_of = |t: &String| -> u32 {
            let next = ids.len() as u32;
            *ids.entry(t.clone()).or_insert(next)
        };
        let mut terms = Vec::with_capacity(self.items.len());
        let mut exact = Vec::with_capacity(self.items.len());
        let mut concepts = Vec::with_capacity(self.items.len());
        for ex in &self.items {
            // Numbered in sorted order, so that the numbering (and the order sums run in) does not
            // depend on the order of the concepts.
            let mut words: Vec<&String> =
                ex.concepts.iter().flat_map(|c| c.alternatives.iter().flatten()).collect();
            words.sort();
            words.dedup();
            let mut own: Vec<u32> = words.into_iter().map(&mut id_of).collect();
            own.sort_unstable();
            own.dedup();
            terms.push(own);
            let mut own: Vec<u32> = ex.exact_terms.iter().map(&mut id_of).collect();
            own.sort_unstable();
            own.dedup();
            exact.push(own);
            concepts.push(
                ex.concepts
                    .iter()
                    .map(|c| {
                        (
                            c.weight,
                            c.alternatives.iter().map(|a| a.iter().map(&mut id_of).collect()).collect(),
                        )
                    })
                    .collect(),
            );
        }
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); ids.len()];
        for (i, own) in terms.iter().enumerate() {
            for &t in own {
                postings[t as usize].push(i as u32);
            }
        }
        self.ids = ids;
        self.terms = terms;
        self.exact = exact;
        self.concepts = concepts;
        self.postings = postings;
    }

    /// How many examples there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// One example.
    pub fn get(&self, i: usize) -> Option<&Example> {
        self.items.get(i)
    }

    /// All of them.
    pub fn items(&self) -> &[Example] {
        &self.items
    }

    /// Leaves out the examples whose question `held` picks, so that scoring a question file measures
    /// questions the examples do not contain. Returns how many.
    pub fn hold_out(&mut self, held: impl Fn(&str) -> bool) -> usize {
        let before = self.items.len();
        self.items.retain(|e| !held(&e.question));
        self.reindex();
        before - self.items.len()
    }

    /// For each passage some example points to, its most similar example to a question; and the
    /// most similar of the questions known not to be covered.
    ///
    /// The similarity is the share of the question's weight the example matches, times
    /// `evidence(matched weight)` (a factor 0..1 for how much was matched at all, the same one that
    /// caps a passage's confidence when only common words match), times the share of the example's
    /// own weight the question matches raised to [`PRECISION_POWER`]; times [`OTHER_INTENT`] when
    /// one of the two asks for an amount or a time (`asks_quantity` for the question) and the other
    /// does not.
    pub fn similar(
        &self,
        question: &[QueryConcept],
        asks_quantity: bool,
        evidence: impl Fn(f32) -> f32,
    ) -> Similarities<'_> {
        let mut best = Similarities::default();
        let total: f32 = question.iter().map(|c| c.weight).sum();
        if total <= 0.0 || self.items.is_empty() {
            return best;
        }
        let n = self.items.len();
        let mut covered = vec![0.0f32; n];
        let mut credit = vec![0.0f32; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut question_ids: Vec<u32> = Vec::new();
        for concept in question {
            for alt in &concept.alternatives {
                let ids = alt.terms.iter().map(|t| self.ids.get(t).copied()).collect::<Option<Vec<u32>>>();
                let Some(ids) = ids else { continue }; // some term no example uses
                let Some(&first) = ids.first() else { continue };
                question_ids.extend(&ids);
                for &e in &self.postings[first as usize] {
                    let has = if alt.guess { &self.exact[e as usize] } else { &self.terms[e as usize] };
                    if ids.iter().all(|t| has.binary_search(t).is_ok()) {
                        let c = &mut credit[e as usize];
                        if *c == 0.0 {
                            touched.push(e);
                        }
                        *c = c.max(alt.credit);
                    }
                }
            }
            for &e in &touched {
                covered[e as usize] += concept.weight * credit[e as usize];
                credit[e as usize] = 0.0;
            }
            touched.clear();
        }
        question_ids.sort_unstable();
        question_ids.dedup();
        let in_question =
            |alt: &Vec<u32>| !alt.is_empty() && alt.iter().all(|t| question_ids.binary_search(t).is_ok());
        for (i, ex) in self.items.iter().enumerate() {
            let matched_weight = covered[i];
            if matched_weight <= 0.0 {
                continue;
            }
            let own: f32 = self.concepts[i].iter().map(|c| c.0).sum();
            let matched: f32 =
                self.concepts[i].iter().filter(|c| c.1.iter().any(in_question)).map(|c| c.0).sum();
            let precision = if own > 0.0 { (matched / own).powf(PRECISION_POWER) } else { 0.0 };
            let intent = if ex.asks_quantity == asks_quantity { 1.0 } else { OTHER_INTENT };
            let similarity = matched_weight / total * evidence(matched_weight) * precision * intent;
            let this = Similar { similarity, example: i, runner_up: 0.0 };
            if ex.passages.is_empty() && best.not_covered.is_none_or(|b| similarity > b.similarity) {
                best.not_covered = Some(this);
            }
            for p in &ex.passages {
                match best.passages.entry(p.as_str()) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(this);
                    }
                    std::collections::hash_map::Entry::Occupied(mut o) => {
                        let e = o.get_mut();
                        if similarity > e.similarity {
                            *e = Similar { runner_up: e.similarity, ..this };
                        } else if similarity > e.runner_up {
                            e.runner_up = similarity;
                        }
                    }
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(question: &str, concepts: &[(&str, f32)], passages: &[&str]) -> Example {
        let mut terms: Vec<String> = concepts.iter().map(|(t, _)| t.to_string()).collect();
        terms.sort();
        Example {
            question: question.into(),
            exact_terms: terms,
            concepts: concepts
                .iter()
                .map(|(t, w)| Concept { weight: *w, alternatives: vec![vec![t.to_string()]] })
                .collect(),
            passages: passages.iter().map(|p| p.to_string()).collect(),
            asks_quantity: false,
        }
    }

    fn similar<'a>(examples: &'a Examples, question: &[(&str, f32)]) -> Similarities<'a> {
        similar_asking(examples, question, false)
    }

    /// [`similar`] for a question that does (or does not) ask for an amount or a time.
    fn similar_asking<'a>(
        examples: &'a Examples,
        question: &[(&str, f32)],
        quantity: bool,
    ) -> Similarities<'a> {
        let terms: Vec<Vec<String>> = question.iter().map(|(t, _)| vec![t.to_string()]).collect();
        let concepts: Vec<QueryConcept> = question
            .iter()
            .zip(&terms)
            .map(|((_, w), t)| QueryConcept {
                weight: *w,
                alternatives: vec![QueryAlternative { terms: t.as_slice(), credit: 1.0, guess: false }],
            })
            .collect();
        examples.similar(&concepts, quantity, |_| 1.0)
    }

    #[test]
    fn the_passage_gets_its_most_similar_examples_similarity() {
        let examples = Examples::new(vec![
            example("does it sting", &[("sting", 3.0)], &["p1"]),
            example("does it sting or burn", &[("sting", 3.0), ("burn", 3.0)], &["p1"]),
            example("is it sticky", &[("sticky", 3.0)], &["p2"]),
        ]);
        let s = similar(&examples, &[("sting", 3.0)]);
        assert_eq!(s.passages["p1"].example, 0);
        assert!((s.passages["p1"].similarity - 1.0).abs() < 1e-6);
        assert!(!s.passages.contains_key("p2"), "an example sharing no concept gives nothing");
    }

    #[test]
    fn a_second_example_agreeing_on_a_passage_is_kept_as_runner_up() {
        let examples = Examples::new(vec![
            example("does it sting", &[("sting", 3.0)], &["p1"]),
            example("does it sting or burn", &[("sting", 3.0), ("burn", 3.0)], &["p1"]),
            example("sting", &[("sting", 3.0)], &["p2"]),
        ]);
        let s = similar(&examples, &[("sting", 3.0)]);
        let p1 = s.passages["p1"];
        assert_eq!(p1.example, 0);
        assert!((p1.runner_up - 0.5f32.powf(PRECISION_POWER)).abs() < 1e-6, "{p1:?}");
        assert_eq!(s.passages["p2"].runner_up, 0.0, "one example only");
    }

    #[test]
    fn concepts_the_question_leaves_out_lower_the_similarity() {
        let examples =
            Examples::new(vec![example("does it sting or burn", &[("sting", 3.0), ("burn", 3.0)], &["p1"])]);
        let s = similar(&examples, &[("sting", 3.0)]);
        let expected = 0.5f32.powf(PRECISION_POWER);
        assert!((s.passages["p1"].similarity - expected).abs() < 1e-6, "{:?}", s.passages["p1"]);
    }

    #[test]
    fn a_question_word_no_example_has_lowers_the_similarity() {
        let examples = Examples::new(vec![example("does it sting", &[("sting", 3.0)], &["p1"])]);
        let s = similar(&examples, &[("sting", 3.0), ("marine", 6.0)]);
        assert!((s.passages["p1"].similarity - 1.0 / 3.0).abs() < 1e-6, "{:?}", s.passages["p1"]);
    }

    #[test]
    fn an_example_without_passages_is_a_known_uncovered_question() {
        let examples = Examples::new(vec![
            example("does it sting", &[("sting", 3.0)], &["p1"]),
            example("is it safe when pregnant", &[("safe", 2.0), ("pregnant", 4.0)], &[]),
        ]);
        let s = similar(&examples, &[("safe", 2.0), ("pregnant", 4.0)]);
        assert_eq!(s.not_covered.map(|n| n.example), Some(1));
        assert!(s.passages.is_empty());
        let s = similar(&examples, &[("sting", 3.0)]);
        assert_eq!(s.not_covered, None);
    }

    #[test]
    fn two_guesses_never_meet() {
        // The example wrote "prove", corrected to "prone"; the question's "phone" is corrected to
        // "prone" too. That is no evidence.
        let mut ex = example("prove it", &[("prove", 3.0), ("prone", 3.0)], &["p1"]);
        ex.exact_terms = vec!["prove".into()];
        let examples = Examples::new(vec![ex]);
        let terms = [vec!["phone".to_string()], vec!["prone".to_string()]];
        let concept = |alternatives| vec![QueryConcept { weight: 3.0, alternatives }];
        let word = QueryAlternative { terms: &terms[0], credit: 1.0, guess: false };
        let guess = QueryAlternative { terms: &terms[1], credit: 0.9, guess: true };
        assert!(examples.similar(&concept(vec![word, guess]), false, |_| 1.0).passages.is_empty());
        // The same term as an exact word of the question does meet the example's guess.
        let exact = QueryAlternative { terms: &terms[1], credit: 1.0, guess: false };
        assert!(examples.similar(&concept(vec![exact]), false, |_| 1.0).passages.contains_key("p1"));
    }

    #[test]
    fn an_example_asking_for_an_amount_is_a_different_question() {
        let mut how_long = example("how long until it stings", &[("sting", 3.0)], &["p1"]);
        how_long.asks_quantity = true;
        let examples = Examples::new(vec![how_long]);
        let s = similar(&examples, &[("sting", 3.0)]);
        assert!((s.passages["p1"].similarity - OTHER_INTENT).abs() < 1e-6, "{:?}", s.passages["p1"]);
        let s = similar_asking(&examples, &[("sting", 3.0)], true);
        assert!(
            (s.passages["p1"].similarity - 1.0).abs() < 1e-6,
            "both ask how long: {:?}",
            s.passages["p1"]
        );
    }

    #[test]
    fn held_out_questions_are_left_out() {
        let mut examples = Examples::new(vec![
            example("Does it sting?", &[("sting", 3.0)], &["p1"]),
            example("is it sticky", &[("sticky", 3.0)], &["p2"]),
        ]);
        let n = examples.hold_out(|q| q.eq_ignore_ascii_case("does it sting?"));
        assert_eq!((n, examples.len()), (1, 1));
        assert_eq!(examples.get(0).map(|e| e.question.as_str()), Some("is it sticky"));
    }
}
