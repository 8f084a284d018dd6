//! Answer-quality evaluation, scored as `shared/eval/README.md` describes.
//!
//! A question file is JSON Lines: `{"q": …, "expect": [phrases]}` for questions the corpus answers
//! (right when the answer's excerpt, at most 700 characters, contains any phrase) and
//! `{"q": …, "ood": "far"|"near"}` for questions it does not (right when declined). Text is compared
//! after NFKC, lower-casing, plain quotes and dashes, and collapsed white space.

use crate::answer::Answer;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Longest excerpt that can score.
pub const MAX_SCORED_EXCERPT: usize = 700;

/// One line of a question file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Case {
    /// The question.
    pub q: String,
    /// Phrases any of which makes an answer right.
    #[serde(default)]
    pub expect: Vec<String>,
    /// `far` or `near` for questions the corpus does not answer.
    #[serde(default)]
    pub ood: Option<String>,
}

/// A question-file line that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct CaseError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads a question file.
pub fn parse_cases(file: &str, text: &str) -> Result<Vec<Case>, CaseError> {
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| CaseError { file: file.to_string(), line: i + 1, message };
        let case: Case =
            serde_json::from_str(line).map_err(|e| err(format!("not a question object ({e})")))?;
        match (&case.ood, case.expect.is_empty()) {
            (Some(kind), _) if kind != "far" && kind != "near" => {
                return Err(err(format!("ood must be \"far\" or \"near\", not {kind:?}")));
            }
            (None, true) => return Err(err("an in-domain question needs a non-empty expect list".into())),
            _ => cases.push(case),
        }
    }
    Ok(cases)
}

/// Text as the scoring rule compares it.
pub fn normalise(text: &str) -> String {
    let plain: String = text
        .nfkc()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => '\'',
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c => c,
        })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A question as compared for sameness (grouping in `citebot report`, holding examples out in
/// `eval`): NFKC, lower case, apostrophes dropped (`what's` →
/// `whats`), other punctuation and symbols turned into spaces, spaces collapsed.
pub fn normalise_question(question: &str) -> String {
    let mut out = String::with_capacity(question.len());
    for c in question.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`') {
            continue;
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_string()
}

fn strip_display_markup(text: &str) -> String {
    text.replace("**", "").replace(['*', '_', '`'], "")
}

/// The result for one question.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The question.
    pub q: String,
    /// `in`, `far` or `near`.
    pub kind: String,
    /// Whether the behaviour was right.
    pub right: bool,
    /// 1-based rank of the first passage (answer, then alternatives) containing an expected
    /// phrase, for in-domain questions.
    pub rank: Option<usize>,
    /// Whether the bot answered.
    pub answered: bool,
    /// Confidence.
    pub confidence: f64,
    /// The excerpt given, if any.
    pub excerpt: Option<String>,
    /// Section of the answer or nearest section.
    pub section: Vec<String>,
}

/// Scores one answer.
pub fn score(case: &Case, answer: &Answer) -> Outcome {
    let contains = |excerpt: &str| {
        let ex = normalise(&strip_display_markup(excerpt));
        excerpt.chars().count() <= MAX_SCORED_EXCERPT
            && case.expect.iter().any(|p| ex.contains(&normalise(p)))
    };
    let (kind, right, rank) = match &case.ood {
        Some(kind) => (kind.clone(), !answer.answered, None),
        None => {
            let mut ranked: Vec<&str> = Vec::new();
            if answer.answered {
                ranked.extend(answer.excerpt.as_deref());
            }
            ranked.extend(answer.alternatives.iter().map(|a| a.excerpt.as_str()));
            let rank = ranked.iter().position(|e| contains(e)).map(|p| p + 1);
            let right = answer.answered && answer.excerpt.as_deref().is_some_and(contains);
            ("in".to_string(), right, rank)
        }
    };
    Outcome {
        q: case.q.clone(),
        kind,
        right,
        rank,
        answered: answer.answered,
        confidence: answer.confidence,
        excerpt: answer.excerpt.clone(),
        section: answer.section.clone(),
    }
}

/// Figures over a question set.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    /// Questions scored.
    pub questions: usize,
    /// In-domain questions.
    pub in_domain: usize,
    /// Far out-of-domain questions.
    pub far: usize,
    /// Near out-of-domain questions.
    pub near: usize,
    /// Share of in-domain questions answered right first.
    pub hit_at_1: f64,
    /// Share of in-domain questions with a right passage among the first three offered.
    pub hit_at_3: f64,
    /// Mean reciprocal rank over in-domain questions.
    pub mrr: f64,
    /// Share of in-domain questions declined.
    pub wrongful_declines: f64,
    /// Share of far questions declined.
    pub far_declined: f64,
    /// Share of near questions declined.
    pub near_declined: f64,
    /// Right answers plus right declines over all questions.
    pub accuracy: f64,
    /// Excerpts containing a sentence or cell not found in the corpus.
    pub non_verbatim: usize,
    /// Example questions in use while scoring (set by the caller).
    pub examples: usize,
    /// Example questions left out because they are questions of the scored file (set by the caller).
    pub examples_held_out: usize,
}

/// Sums outcomes into figures. `non_verbatim` is counted by the caller.
pub fn report(outcomes: &[Outcome]) -> Report {
    let share = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let ind: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == "in").collect();
    let far: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == "far").collect();
    let near: Vec<&Outcome> = outcomes.iter().filter(|o| o.kind == "near").collect();
    Report {
        questions: outcomes.len(),
        in_domain: ind.len(),
        far: far.len(),
        near: near.len(),
        hit_at_1: share(ind.iter().filter(|o| o.right).count(), ind.len()),
        hit_at_3: share(ind.iter().filter(|o| o.rank.is_some_and(|r| r <= 3)).count(), ind.len()),
        mrr: if ind.is_empty() {
            0.0
        } else {
            ind.iter().map(|o| o.rank.map(|r| 1.0 / r as f64).unwrap_or(0.0)).sum::<f64>() / ind.len() as f64
        },
        wrongful_declines: share(ind.iter().filter(|o| !o.answered).count(), ind.len()),
        far_declined: share(far.iter().filter(|o| !o.answered).count(), far.len()),
        near_declined: share(near.iter().filter(|o| !o.answered).count(), near.len()),
        accuracy: share(outcomes.iter().filter(|o| o.right).count(), outcomes.len()),
        non_verbatim: 0,
        examples: 0,
        examples_held_out: 0,
    }
}

/// True when every sentence and table cell of `excerpt` occurs in `corpus_text` (both normalised).
pub fn is_verbatim(excerpt: &str, corpus_text: &str) -> bool {
    let corpus = normalise(corpus_text);
    let sentences = excerpt
        .lines()
        .flat_map(|line| crate::corpus::sentence_spans(line).into_iter().map(move |(s, e)| &line[s..e]));
    sentences.into_iter().all(|sentence| {
        corpus.contains(&normalise(sentence))
            || sentence.split("; ").all(|cell| {
                corpus.contains(&normalise(cell))
                    || cell.split_once(": ").is_some_and(|(h, v)| {
                        corpus.contains(&normalise(h)) && corpus.contains(&normalise(v))
                    })
            })
    })
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "questions:         {} ({} in-domain, {} far, {} near)",
            self.questions, self.in_domain, self.far, self.near
        )?;
        writeln!(f, "hit@1:             {:.3}", self.hit_at_1)?;
        writeln!(f, "hit@3:             {:.3}", self.hit_at_3)?;
        writeln!(f, "MRR:               {:.3}", self.mrr)?;
        writeln!(f, "wrongful declines: {:.3}", self.wrongful_declines)?;
        writeln!(f, "far declined:      {:.3}", self.far_declined)?;
        writeln!(f, "near declined:     {:.3}", self.near_declined)?;
        writeln!(f, "accuracy:          {:.3}", self.accuracy)?;
        writeln!(f, "non-verbatim:      {}", self.non_verbatim)?;
        write!(
            f,
            "example questions: {} in use, {} left out as questions of this file",
            self.examples, self.examples_held_out
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_follows_the_rule() {
        assert_eq!(normalise("It\u{2019}s  \u{201c}Repair\u{201d} \u{2014} ok\n"), "it's \"repair\" - ok");
        assert_eq!(normalise("ﬁne"), "fine");
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse_cases("q.jsonl", "{\"q\":\"a\",\"expect\":[\"x\"]}\n{\"q\":\"b\"}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse_cases("q.jsonl", "{\"q\":\"a\",\"ood\":\"mid\"}").is_err());
        assert_eq!(parse_cases("q.jsonl", "\n{\"q\":\"a\",\"ood\":\"far\"}\n").unwrap().len(), 1);
    }

    #[test]
    fn verbatim_check_accepts_rows_and_rejects_inventions() {
        let corpus =
            "| Ingredient | Best Use Case |\n| Collagen | Dry, sensitive skin |\nCollagen is a protein.";
        assert!(is_verbatim("Ingredient: Collagen; Best Use Case: Dry, sensitive skin", corpus));
        assert!(is_verbatim("Collagen is a protein.", corpus));
        assert!(!is_verbatim("Collagen is a miracle.", corpus));
        // A quoted list or table: each line on its own.
        assert!(is_verbatim(
            "Ingredient: Collagen; Best Use Case: Dry, sensitive skin\nCollagen is a protein.",
            corpus
        ));
        assert!(!is_verbatim("Ingredient: Collagen\nIngredient: Retinol", corpus));
    }
}
