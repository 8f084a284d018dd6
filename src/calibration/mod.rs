//! Declines calibrated per corpus: where the confidence threshold goes when `answer.min_confidence`
//! is not set.
//!
//! Two samples are scored with the corpus's own retriever, exactly as questions are:
//! - *negatives*: a fixed, shipped set of questions about everyday life and other products
//!   (`negatives.txt`, written once for every corpus), which no corpus is meant to answer;
//! - *stand-ins*: the corpus's own section headings and list lead-ins, read as questions its
//!   passages answer (only those with two or more words to search for).
//!
//! The threshold sits just above nearly all negatives (their 95th percentile, plus a margin of 0.1), and is
//! lowered to let through at least 90 % of the stand-ins when that is below it. The result is saved
//! beside the index under a key of everything it depends on, so only `citebot index` (or the first
//! start after a change) pays for it.

use crate::eval::Case;
use crate::index::IndexError;
use crate::retrieval::Retriever;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped negatives, one question a line (`#` lines are comments).
pub const NEGATIVES: &str = include_str!("negatives.txt");
/// The share of negatives the threshold is placed above.
const NEGATIVE_QUANTILE: f64 = 0.95;
/// Added above that quantile: questions about neighbouring topics score higher than everyday
/// ones. Chosen on the development FAQs (`tests/eval/generalisation/`) and the shipped article.
const MARGIN: f64 = 0.1;
/// The share of stand-ins the threshold must let through.
const STANDIN_QUANTILE: f64 = 0.1;
/// Stand-ins scored at most (spread evenly over the corpus).
const MAX_STANDINS: usize = 200;
/// The threshold never goes outside these.
const BOUNDS: (f64, f64) = (0.2, 0.9);

/// Where the threshold was placed, and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The confidence below which questions are declined.
    pub threshold: f64,
    /// Negatives scored, and the confidence below which 95 % of them fall.
    pub negatives: usize,
    /// That quantile.
    pub negative_quantile: f64,
    /// Stand-ins scored, and the confidence above which 90 % of them fall (None with fewer than 10).
    pub standins: usize,
    /// That quantile.
    pub standin_quantile: Option<f64>,
}

impl Calibration {
    /// One sentence on how the threshold was placed.
    pub fn describe(&self) -> String {
        let base = format!(
            "decline threshold {:.2}, placed per corpus: {} everyday and other-product questions score below {:.2} (95 %)",
            self.threshold, self.negatives, self.negative_quantile
        );
        match self.standin_quantile {
            Some(q) if q < self.negative_quantile + MARGIN => format!(
                "{base}, lowered so that 90 % of the corpus's {} headings and lead-ins asked as questions ({q:.2}) still pass",
                self.standins
            ),
            Some(q) => format!(
                "{base}; 90 % of the corpus's {} headings and lead-ins score above {q:.2}",
                self.standins
            ),
            None => format!("{base}; too few informative headings to check it against"),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    key: String,
    calibration: Calibration,
}

/// The negatives, as questions.
pub fn negatives() -> Vec<&'static str> {
    NEGATIVES.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// [`calibrate`], reusing the result saved at `cache` when it was made for the same retriever
/// inputs, and saving it there otherwise.
pub fn cached(
    retriever: &Retriever,
    cases: &[Case],
    cache: Option<std::path::PathBuf>,
) -> Result<Calibration, IndexError> {
    // The inputs' key covers the build (its sources, the negatives among them).
    let key = retriever.inputs_key(cases);
    if let Some(path) = &cache
        && let Some(saved) = read(path).filter(|s| s.key == key)
    {
        return Ok(saved.calibration);
    }
    let calibration = calibrate(retriever)?;
    if let Some(path) = &cache {
        let saved = Saved { key, calibration: calibration.clone() };
        if let Ok(bytes) = serde_json::to_vec(&saved) {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }
    Ok(calibration)
}

fn read(path: &Path) -> Option<Saved> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Places the threshold for `retriever`'s corpus (see the module documentation).
pub fn calibrate(retriever: &Retriever) -> Result<Calibration, IndexError> {
    let mut negative: Vec<f64> = Vec::new();
    for q in negatives() {
        negative.push(retriever.best_confidence(q)?);
    }
    let mut standin: Vec<f64> = Vec::new();
    let questions = standins(retriever);
    let step = questions.len().div_ceil(MAX_STANDINS).max(1);
    for q in questions.iter().step_by(step) {
        standin.push(retriever.best_confidence(q)?);
    }
    let negative_quantile = quantile(&mut negative, NEGATIVE_QUANTILE).unwrap_or(BOUNDS.0);
    let standin_quantile = (standin.len() >= 10).then(|| quantile(&mut standin, STANDIN_QUANTILE)).flatten();
    let mut threshold = negative_quantile + MARGIN;
    if let Some(q) = standin_quantile {
        threshold = threshold.min(q);
    }
    Ok(Calibration {
        threshold: (threshold.clamp(BOUNDS.0, BOUNDS.1) * 1000.0).round() / 1000.0,
        negatives: negative.len(),
        negative_quantile: (negative_quantile * 1000.0).round() / 1000.0,
        standins: standin.len(),
        standin_quantile: standin_quantile.map(|q| (q * 1000.0).round() / 1000.0),
    })
}

/// The corpus's headings (below the article title) and list lead-ins with two or more words to
/// search for, each once, in corpus order.
fn standins(retriever: &Retriever) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for article in &retriever.index().meta().articles {
        for section in &article.sections {
            if let Some(h) = section.heading_path.get(1..).and_then(<[String]>::last) {
                out.push(h.clone());
            }
        }
    }
    out.extend(retriever.lead_ins());
    out.retain(|q| {
        let words =
            crate::analysis::terms(q).into_iter().filter(|t| t.chars().any(char::is_alphabetic)).count();
        words >= 2 && seen.insert(q.to_lowercase())
    });
    out
}

/// The `q` quantile of `values` (sorted in place), None for none.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    Some(values[at.min(values.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_pick_the_sorted_value() {
        let mut v = vec![0.5, 0.1, 0.9, 0.3, 0.7];
        assert_eq!(quantile(&mut v, 0.0), Some(0.1));
        assert_eq!(quantile(&mut v, 0.5), Some(0.5));
        assert_eq!(quantile(&mut v, 1.0), Some(0.9));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    #[test]
    fn the_negatives_are_many_and_distinct() {
        let n = negatives();
        assert!(n.len() >= 100, "{}", n.len());
        let distinct: std::collections::HashSet<_> = n.iter().map(|q| q.to_lowercase()).collect();
        assert_eq!(distinct.len(), n.len());
    }
}
