//! Example questions, analysed once: each line is pointed to the passages holding its `expect`
//! phrases and analysed into concepts; `near` lines that some passage fully answers are left out.
//! The analysis can be kept ([`Retriever::saved_examples`]) and given back to a later start
//! ([`Retriever::with_saved_examples`]) under a key made of everything it depends on (the
//! examples, the corpus, the synonyms, the analysis settings and this build's sources); where it
//! is kept is the caller's business (`app` keeps it beside the index). No file I/O here.

use super::rank::{SUMMARY_TERM, alternative_terms, is_guess};
use super::{IndexStats, Retriever};
use crate::eval::{self, Case};
use crate::examples::{Concept, Example, Examples, Saved};
use crate::index::IndexError;
use crate::question::{Analysed, TermStats};
use std::collections::HashMap;

/// Example questions that point nowhere are listed one by one up to this many lines.
const MAX_EXAMPLE_PROBLEMS: usize = 5;
/// A near example that a passage covers this well is left out (it would decline that passage's
/// questions).
const NEAR_ANSWERED: f32 = 0.9;

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

impl Retriever {
    /// Adds example questions. An in-domain line points to the passages containing one of its
    /// `expect` phrases (in their text or their list's lead-in, compared as `eval` compares text);
    /// a `near` line is a question known not to be covered; `far` lines are skipped. Returns the
    /// problems found: in-domain lines that point nowhere are left out.
    pub fn with_examples(self, cases: &[Case]) -> Result<(Retriever, Vec<String>), IndexError> {
        self.analyse_examples(cases)
    }

    /// Adds example questions analysed before (by [`Retriever::with_examples`] on the same inputs,
    /// kept as [`Retriever::saved_examples`]); returns the problems found then.
    pub fn with_saved_examples(mut self, saved: Saved) -> Result<(Retriever, Vec<String>), IndexError> {
        for id in saved.items.iter().flat_map(|e| &e.passages) {
            if !self.example_passages.contains_key(id)
                && let Some(p) = self.index.passage(id)?
            {
                self.example_passages.insert(id.clone(), p);
            }
        }
        self.examples = Examples::new(saved.items);
        Ok((self, saved.problems))
    }

    /// The example questions in use, analysed, to be saved under `key` (the
    /// [`Retriever::examples_key`] of the lines they came from) with the `problems` found.
    pub fn saved_examples(&self, key: String, problems: Vec<String>) -> Saved {
        Saved { key, items: self.examples.items().to_vec(), problems }
    }

    /// What analysed examples depend on: the examples, the corpus, the synonyms, the settings and
    /// the build's sources. Saved examples are reused only under the same key.
    pub fn examples_key(&self, cases: &[Case]) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(cases).unwrap_or_default().hash(&mut h);
        self.index.meta().fingerprint.hash(&mut h);
        self.synonyms.rules_text().hash(&mut h);
        format!("{:?}", self.settings.analysis).hash(&mut h);
        format!("{}-{:016x}", crate::SOURCE_DIGEST, h.finish())
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::{Settings, test_retriever};

    const FAQ: &str = "# Widget FAQ\n\n## Charging\n\nThe widget charges over USB in two hours.\n\n## Cleaning\n\n\
                       Wipe the widget with a damp cloth; never submerge it.\n";

    fn case(q: &str, expect: &[&str], ood: Option<&str>) -> Case {
        Case {
            q: q.to_string(),
            expect: expect.iter().map(|e| e.to_string()).collect(),
            ood: ood.map(str::to_string),
        }
    }

    #[test]
    fn examples_point_to_the_passages_holding_their_phrases() {
        let cases = vec![
            case("how fast does it fill up", &["two hours"], None),
            case("is it waterproof", &["not in this article"], None),
            case("what is the weather tomorrow", &[], Some("far")),
        ];
        let (r, problems) = test_retriever(FAQ).with_examples(&cases).unwrap();
        assert_eq!(r.examples(), 1, "the far line is skipped, the one pointing nowhere left out");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("is it waterproof"), "{problems:?}");
        // The example now answers its own wording, which shares no word with the passage.
        let a = r.answer("how fast does it fill up").unwrap();
        assert!(a.answered, "{a:?}");
        assert!(a.excerpt.unwrap().contains("two hours"));
        assert_eq!(a.like_question.as_deref(), Some("how fast does it fill up"));
    }

    #[test]
    fn a_near_line_that_a_passage_answers_is_left_out() {
        let cases = vec![case("wipe the widget with a damp cloth", &[], Some("near"))];
        let (r, problems) = test_retriever(FAQ).with_examples(&cases).unwrap();
        assert_eq!(r.examples(), 0);
        assert!(problems[0].contains("is marked near"), "{problems:?}");
    }

    #[test]
    fn many_lines_pointing_nowhere_are_summed_up() {
        let cases: Vec<Case> = (0..9).map(|i| case(&format!("question {i}"), &["nowhere"], None)).collect();
        let (_, problems) = test_retriever(FAQ).with_examples(&cases).unwrap();
        assert_eq!(problems.len(), MAX_EXAMPLE_PROBLEMS);
        assert!(problems.last().unwrap().starts_with("5 more example questions"), "{problems:?}");
    }

    #[test]
    fn saved_examples_answer_as_the_analysis_they_were_made_from() {
        let cases = vec![case("how fast does it fill up", &["two hours"], None)];
        let (first, problems) = test_retriever(FAQ).with_examples(&cases).unwrap();
        let saved = first.saved_examples(first.examples_key(&cases), problems);
        assert!(saved.key.starts_with(crate::SOURCE_DIGEST));
        assert_eq!(saved.items.len(), 1);
        let (second, problems) = test_retriever(FAQ).with_saved_examples(saved).unwrap();
        assert!(problems.is_empty());
        assert_eq!(second.examples(), 1);
        let (a, b) = (
            first.answer("how fast does it fill up").unwrap(),
            second.answer("how fast does it fill up").unwrap(),
        );
        assert!(b.answered);
        assert_eq!((a.passage_id, a.confidence), (b.passage_id, b.confidence));
    }

    #[test]
    fn the_key_changes_with_every_input_of_the_analysis() {
        let cases = vec![case("how fast does it fill up", &["two hours"], None)];
        let other = vec![case("how quickly does it charge", &["two hours"], None)];
        let base = test_retriever(FAQ).examples_key(&cases);
        assert_eq!(test_retriever(FAQ).examples_key(&cases), base);
        assert_ne!(test_retriever(FAQ).examples_key(&other), base);
        assert_ne!(test_retriever(&format!("{FAQ}\nMore text.\n")).examples_key(&cases), base);
        let mut r = test_retriever(FAQ);
        let mut settings = Settings::default();
        settings.analysis.generic_word_factor += 0.1;
        r.settings = settings;
        assert_ne!(r.examples_key(&cases), base);
    }
}
