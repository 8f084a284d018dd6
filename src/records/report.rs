//! `citebot report`: what the records say, for the people running the bot.
//!
//! Three tables: the questions the bot declined most, with near-identical wordings grouped (see
//! [`normalise_question`] and [`group_near_identical`]); the passages with the most 👎, counting
//! each person's latest vote on a passage once; and answers, declines and votes per day (UTC).
//! Rendered as text or, with `--json`, as one JSON object ([`RecordsReport`]).
//!
//! It only reads: the database must exist (it is never created here), and the index is only used,
//! when it opens, to show the section a passage id belongs to.

use super::{Database, RecordsConfig, RecordsError};
use crate::eval::normalise_question;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::path::Path;

/// Wordings whose token sets overlap at least this much (Jaccard) are one question.
pub const SAME_QUESTION_JACCARD: f64 = 0.8;
/// Declines read for grouping at most (the most recent ones).
pub const MAX_DECLINES_READ: usize = 20_000;
/// Other wordings shown per group.
const VARIANTS_SHOWN: usize = 3;
/// Sample questions shown per disliked passage.
const QUESTIONS_SHOWN: usize = 3;

/// What to report and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// JSON instead of text.
    pub json: bool,
    /// Example-question lines (`corpus/examples.jsonl` format) instead of text.
    pub examples: bool,
    /// Rows in the "top" tables.
    pub top: usize,
    /// Only the last this many days (all retained rows when None).
    pub days: Option<u32>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { json: false, examples: false, top: 20, days: None }
    }
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordsReport {
    /// The database read.
    pub database: String,
    /// First day (UTC) covered when limited by `days`.
    pub since: Option<String>,
    /// Sums over the period.
    pub totals: Totals,
    /// The most declined questions, near-identical wordings grouped, most asked first.
    pub unanswered: Vec<UnansweredGroup>,
    /// Passages with at least one 👎, most 👎 first.
    pub disliked: Vec<PassageVotes>,
    /// Counts per day (UTC), oldest first; days without any row are left out.
    pub per_day: Vec<DayCounts>,
}

impl RecordsReport {
    /// The questions declined and those whose answer was voted down, as lines for the example
    /// questions (`corpus/examples.jsonl`), each marked `near` until a maintainer gives it the
    /// phrase of the passage that answers it.
    pub fn as_examples(&self) -> String {
        let mut out = String::from(
            "# From `citebot report --examples`. Each line is marked \"near\" (not covered). Where the\n\
             # articles do answer it, replace \"ood\": \"near\" with \"expect\": [\"a phrase of the\n\
             # passage that answers it\"]; then add the lines to corpus/examples.jsonl.\n",
        );
        let line = |q: &str| serde_json::json!({ "q": q, "ood": "near" }).to_string();
        let mut seen = std::collections::HashSet::new();
        let mut section = |title: &str, questions: Vec<&str>, out: &mut String| {
            out.push_str(&format!("#\n# {title}\n"));
            for q in questions {
                if seen.insert(normalise_question(q)) {
                    out.push_str(&line(q));
                    out.push('\n');
                }
            }
        };
        let declined = self
            .unanswered
            .iter()
            .flat_map(|g| std::iter::once(g.question.as_str()).chain(g.variants.iter().map(String::as_str)))
            .collect();
        section("Declined, most asked first", declined, &mut out);
        let disliked = self.disliked.iter().flat_map(|p| p.questions.iter().map(String::as_str)).collect();
        section("Answered and voted down", disliked, &mut out);
        out
    }
}

/// Sums over the period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Questions answered.
    pub answered: u64,
    /// Questions declined.
    pub declined: u64,
    /// 👍 votes cast.
    pub up: u64,
    /// 👎 votes cast.
    pub down: u64,
}

/// One declined question, with its near-identical wordings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnansweredGroup {
    /// The most frequent wording of the most frequent form (the most recent on a tie).
    pub question: String,
    /// Times asked, all wordings together.
    pub count: u64,
    /// Distinct people who asked (by pseudonym; askers without a user id are not counted).
    pub askers: u64,
    /// Day (UTC) it was last asked.
    pub last_asked: String,
    /// A wording of each other form grouped with it (differing beyond case and punctuation),
    /// most frequent first (a few).
    pub variants: Vec<String>,
}

/// Votes on one passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassageVotes {
    /// The passage id.
    pub passage_id: String,
    /// Its heading path in the index now, when it still exists there.
    pub section: Option<Vec<String>>,
    /// 👎, one per person (their latest vote).
    pub down: u64,
    /// 👍, one per person (their latest vote).
    pub up: u64,
    /// Corpus versions the votes were cast on.
    pub corpus_versions: Vec<String>,
    /// Questions it was judged unhelpful for (a few).
    pub questions: Vec<String>,
}

/// Counts for one day (UTC).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DayCounts {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Questions answered.
    pub answered: u64,
    /// Questions declined.
    pub declined: u64,
    /// 👍 votes cast.
    pub up: u64,
    /// 👎 votes cast.
    pub down: u64,
}

/// Reads the database configured in `records` and renders the report (text, or JSON with
/// `opts.json`), ending with a newline. Passage ids are resolved to sections through the index in
/// `index_dir` when it opens; the report does not need it.
pub fn run_report(
    records: &RecordsConfig,
    index_dir: &Path,
    opts: &ReportOptions,
) -> Result<String, RecordsError> {
    let db = Database::open_existing(&records.database())?;
    let mut report = build_report(&db, opts, super::now())?;
    match crate::index::SearchIndex::open(index_dir) {
        Ok(index) => report.resolve_sections(|id| index.passage(id).ok().flatten().map(|p| p.heading_path)),
        Err(e) => tracing::info!("sections not shown: {e}"),
    }
    Ok(if opts.examples {
        report.as_examples()
    } else if opts.json {
        // The report is plain data: serialising it cannot fail.
        serde_json::to_string_pretty(&report).map(|j| j + "\n").unwrap_or_default()
    } else {
        report.to_string()
    })
}

/// Builds the report from `db` as of `now` (seconds since the epoch).
pub fn build_report(db: &Database, opts: &ReportOptions, now: i64) -> Result<RecordsReport, RecordsError> {
    let cutoff = opts.days.map_or(i64::MIN, |d| now - i64::from(d) * 24 * 60 * 60);
    let since = match opts.days {
        Some(_) => db.query("SELECT date(?1, 'unixepoch')", [cutoff], |r| r.get::<_, String>(0))?.pop(),
        None => None,
    };
    let per_day = db.query(
        "SELECT day, sum(answered), sum(declined), sum(up), sum(down) FROM (
            SELECT date(at, 'unixepoch') AS day, 1 AS answered, 0 AS declined, 0 AS up, 0 AS down
                FROM answers WHERE at >= ?1
            UNION ALL SELECT date(at, 'unixepoch'), 0, 1, 0, 0 FROM declines WHERE at >= ?1
            UNION ALL SELECT date(at, 'unixepoch'), 0, 0, helpful <> 0, helpful = 0 FROM votes WHERE at >= ?1
        ) GROUP BY day ORDER BY day",
        [cutoff],
        |r| {
            Ok(DayCounts {
                day: r.get(0)?,
                answered: r.get::<_, i64>(1)?.max(0) as u64,
                declined: r.get::<_, i64>(2)?.max(0) as u64,
                up: r.get::<_, i64>(3)?.max(0) as u64,
                down: r.get::<_, i64>(4)?.max(0) as u64,
            })
        },
    )?;
    let totals = per_day.iter().fold(Totals::default(), |t, d| Totals {
        answered: t.answered + d.answered,
        declined: t.declined + d.declined,
        up: t.up + d.up,
        down: t.down + d.down,
    });

    let declines: Vec<Asked> = db.query(
        "SELECT question, at, date(at, 'unixepoch'), user_hash FROM declines WHERE at >= ?1
            ORDER BY at DESC, id DESC LIMIT ?2",
        rusqlite::params![cutoff, MAX_DECLINES_READ as i64],
        |r| Ok(Asked { question: r.get(0)?, at: r.get(1)?, day: r.get(2)?, user: r.get(3)? }),
    )?;
    let mut unanswered = summarise_declines(&declines);
    unanswered.truncate(opts.top);

    let votes: Vec<CastVote> = db.query(
        "SELECT id, passage_id, corpus_version, question, helpful, user_hash FROM votes WHERE at >= ?1
            ORDER BY at, id",
        [cutoff],
        |r| {
            Ok(CastVote {
                id: r.get(0)?,
                passage_id: r.get(1)?,
                corpus_version: r.get(2)?,
                question: r.get(3)?,
                helpful: r.get(4)?,
                user: r.get(5)?,
            })
        },
    )?;
    let mut disliked = summarise_votes(&votes);
    disliked.truncate(opts.top);

    Ok(RecordsReport {
        database: db.path().display().to_string(),
        since,
        totals,
        unanswered,
        disliked,
        per_day,
    })
}

impl RecordsReport {
    /// Fills in each disliked passage's section with `lookup` (passage id → heading path).
    pub fn resolve_sections(&mut self, lookup: impl Fn(&str) -> Option<Vec<String>>) {
        for p in &mut self.disliked {
            p.section = lookup(&p.passage_id);
        }
    }

    /// Fills in sections from the retriever in service.
    pub fn resolve_sections_with(&mut self, retriever: &crate::retrieval::Retriever) {
        self.resolve_sections(|id| retriever.passage(id).ok().flatten().map(|(p, _)| p.heading_path));
    }
}

struct Asked {
    question: String,
    at: i64,
    day: String,
    user: Option<String>,
}

struct CastVote {
    id: i64,
    passage_id: String,
    corpus_version: String,
    question: Option<String>,
    helpful: bool,
    user: Option<String>,
}

fn summarise_declines(declines: &[Asked]) -> Vec<UnansweredGroup> {
    let questions: Vec<&str> = declines.iter().map(|d| d.question.as_str()).collect();
    let mut groups: Vec<(UnansweredGroup, i64)> = group_near_identical(&questions)
        .into_iter()
        .map(|members| {
            // `declines` come most recent first, so a lower index is more recent.
            let forms = wordings(members.iter().map(|&i| (i, declines[i].question.trim())));
            let latest = members.iter().copied().min().unwrap_or(0);
            let askers: BTreeSet<&str> =
                members.iter().filter_map(|&i| declines[i].user.as_deref()).collect();
            let group = UnansweredGroup {
                question: forms.first().map(|f| f.to_string()).unwrap_or_default(),
                count: members.len() as u64,
                askers: askers.len() as u64,
                last_asked: declines.get(latest).map(|d| d.day.clone()).unwrap_or_default(),
                variants: forms.iter().skip(1).take(VARIANTS_SHOWN).map(|f| f.to_string()).collect(),
            };
            (group, declines.get(latest).map_or(0, |d| d.at))
        })
        .collect();
    groups.sort_by(|(a, at_a), (b, at_b)| {
        b.count
            .cmp(&a.count)
            .then(b.askers.cmp(&a.askers))
            .then(at_b.cmp(at_a))
            .then_with(|| a.question.cmp(&b.question))
    });
    groups.into_iter().map(|(g, _)| g).collect()
}

/// One wording for each distinct normalised form among `(recency rank, question)` pairs, the most
/// frequent form first: the form's most frequent exact wording, the most recent on a tie.
fn wordings<'a>(asked: impl Iterator<Item = (usize, &'a str)>) -> Vec<&'a str> {
    // (normalised, count, most recent, [(wording, count, most recent)])
    type Form<'a> = (String, usize, usize, Vec<(&'a str, usize, usize)>);
    let mut forms: Vec<Form<'a>> = Vec::new();
    for (rank, q) in asked {
        let n = normalise_question(q);
        let form = match forms.iter().position(|f| f.0 == n) {
            Some(i) => &mut forms[i],
            None => {
                forms.push((n, 0, rank, Vec::new()));
                forms.last_mut().expect("just pushed")
            }
        };
        form.1 += 1;
        form.2 = form.2.min(rank);
        match form.3.iter_mut().find(|w| w.0 == q) {
            Some(w) => {
                w.1 += 1;
                w.2 = w.2.min(rank);
            }
            None => form.3.push((q, 1, rank)),
        }
    }
    forms.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    forms
        .into_iter()
        .filter_map(|(_, _, _, mut w)| {
            w.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
            w.first().map(|w| w.0)
        })
        .collect()
}

fn summarise_votes(votes: &[CastVote]) -> Vec<PassageVotes> {
    // Each person's latest vote on a passage counts; votes without a user id count each.
    let mut latest: HashMap<(&str, String), &CastVote> = HashMap::new();
    for v in votes {
        let voter = v.user.clone().unwrap_or_else(|| format!("row:{}", v.id));
        latest.insert((v.passage_id.as_str(), voter), v);
    }
    let mut by_passage: HashMap<&str, PassageVotes> = HashMap::new();
    for v in latest.values() {
        let p = by_passage.entry(v.passage_id.as_str()).or_insert_with(|| PassageVotes {
            passage_id: v.passage_id.clone(),
            section: None,
            down: 0,
            up: 0,
            corpus_versions: Vec::new(),
            questions: Vec::new(),
        });
        if v.helpful {
            p.up += 1;
        } else {
            p.down += 1;
        }
    }
    for v in votes {
        if let Some(p) = by_passage.get_mut(v.passage_id.as_str()) {
            if !p.corpus_versions.contains(&v.corpus_version) {
                p.corpus_versions.push(v.corpus_version.clone());
            }
            if let Some(q) = v.question.as_deref().map(str::trim).filter(|q| !q.is_empty())
                && !v.helpful
                && p.questions.len() < QUESTIONS_SHOWN
                && !p.questions.iter().any(|seen| seen == q)
            {
                p.questions.push(q.to_string());
            }
        }
    }
    let mut out: Vec<PassageVotes> = by_passage.into_values().filter(|p| p.down > 0).collect();
    out.sort_by(|a, b| {
        b.down.cmp(&a.down).then(a.up.cmp(&b.up)).then_with(|| a.passage_id.cmp(&b.passage_id))
    });
    out
}

/// Groups questions that are near-identical: the same after [`normalise_question`], or whose sets
/// of words overlap by at least [`SAME_QUESTION_JACCARD`]. Returns groups of indices into
/// `questions`, each in input order, larger groups first (then by first appearance). A wording
/// joins the first larger group whose first wording is close enough, so groups never chain.
pub fn group_near_identical(questions: &[&str]) -> Vec<Vec<usize>> {
    // Identical normalised text first.
    let mut exact: Vec<(String, Vec<usize>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (i, q) in questions.iter().enumerate() {
        let n = normalise_question(q);
        match position.get(&n) {
            Some(&g) => exact[g].1.push(i),
            None => {
                position.insert(n.clone(), exact.len());
                exact.push((n, vec![i]));
            }
        }
    }
    exact.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1[0].cmp(&b.1[0])));

    // Then by word overlap with each group's head, through an index from word to groups.
    let mut clusters: Vec<(BTreeSet<String>, Vec<usize>)> = Vec::new();
    let mut by_word: HashMap<String, Vec<usize>> = HashMap::new();
    for (text, members) in exact {
        let words: BTreeSet<String> = text.split(' ').filter(|w| !w.is_empty()).map(String::from).collect();
        let mut candidates: Vec<usize> =
            words.iter().filter_map(|w| by_word.get(w)).flatten().copied().collect();
        candidates.sort_unstable();
        candidates.dedup();
        let home = candidates.into_iter().find(|&c| jaccard(&clusters[c].0, &words) >= SAME_QUESTION_JACCARD);
        match home {
            Some(c) => clusters[c].1.extend(members),
            None => {
                for w in &words {
                    by_word.entry(w.clone()).or_default().push(clusters.len());
                }
                clusters.push((words, members));
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = clusters
        .into_iter()
        .map(|(_, mut m)| {
            m.sort_unstable();
            m
        })
        .collect();
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    groups
}

fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let shared = a.intersection(b).count();
    let union = a.len() + b.len() - shared;
    if union == 0 { 1.0 } else { shared as f64 / union as f64 }
}

impl fmt::Display for RecordsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match &self.since {
            Some(day) => format!("since {day} (UTC)"),
            None => "all retained days".to_string(),
        };
        writeln!(f, "Records in {}, {period}", self.database)?;
        let t = &self.totals;
        writeln!(f, "{} answered, {} declined, {} 👍, {} 👎", t.answered, t.declined, t.up, t.down)?;

        writeln!(f, "\nTop unanswered questions")?;
        if self.unanswered.is_empty() {
            writeln!(f, "  (none)")?;
        } else {
            writeln!(
                f,
                "  (`citebot report --examples` prints them as example-question lines to label; README: Example questions)"
            )?;
        }
        for g in &self.unanswered {
            let people = match g.askers {
                0 => String::new(),
                1 => ", 1 person".to_string(),
                n => format!(", {n} people"),
            };
            writeln!(f, "  {:>4}×  {}  (last {}{people})", g.count, g.question, g.last_asked)?;
            if !g.variants.is_empty() {
                let quoted: Vec<String> = g.variants.iter().map(|v| format!("\u{201c}{v}\u{201d}")).collect();
                writeln!(f, "         also: {}", quoted.join(", "))?;
            }
        }

        writeln!(f, "\nPassages with the most 👎")?;
        if self.disliked.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for p in &self.disliked {
            let section = p
                .section
                .as_ref()
                .map_or_else(|| "(not in the current index)".to_string(), |s| s.join(" > "));
            writeln!(f, "  {:>4} down {:>4} up  {}  {section}", p.down, p.up, p.passage_id)?;
            if !p.questions.is_empty() {
                let quoted: Vec<String> =
                    p.questions.iter().map(|q| format!("\u{201c}{q}\u{201d}")).collect();
                writeln!(f, "         for: {}", quoted.join(", "))?;
            }
        }

        writeln!(f, "\nPer day (UTC)")?;
        if self.per_day.is_empty() {
            writeln!(f, "  (none)")?;
        } else {
            let mut table = String::new();
            let _ = writeln!(
                table,
                "  {:<10}  {:>8}  {:>8}  {:>5}  {:>5}",
                "day", "answered", "declined", "up", "down"
            );
            for d in &self.per_day {
                let _ = writeln!(
                    table,
                    "  {:<10}  {:>8}  {:>8}  {:>5}  {:>5}",
                    d.day, d.answered, d.declined, d.up, d.down
                );
            }
            write!(f, "{table}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_case_punctuation_and_spacing() {
        for (input, expected) in [
            ("What's  Retinol?", "whats retinol"),
            ("what\u{2019}s retinol", "whats retinol"),
            ("ＷＨＡＴ is ﬁne-tuning!!", "what is fine tuning"),
            ("  ...  ", ""),
        ] {
            assert_eq!(normalise_question(input), expected, "{input:?}");
        }
    }

    #[test]
    fn near_identical_questions_group_and_others_do_not() {
        let qs = [
            "What is retinol?",                            // 0
            "what is retinol",                             // 1 identical after normalising
            "Is collagen vegan?",                          // 2
            "what is retinol used for in skin care today", // 3 too different from 0
            "WHAT IS RETINOL!!",                           // 4
            "retinol is what",                             // 5 same word set
            "is collagen vegan or not",                    // 6 Jaccard 3/5 < 0.8
        ];
        let groups = group_near_identical(&qs);
        assert_eq!(groups[0], vec![0, 1, 4, 5]);
        assert!(groups.contains(&vec![2]));
        assert!(groups.contains(&vec![3]));
        assert!(groups.contains(&vec![6]));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), qs.len());
    }

    #[test]
    fn jaccard_threshold_is_inclusive() {
        // 4 shared words of 5 distinct: exactly 0.8.
        let groups = group_near_identical(&["a b c d e", "a b c d"]);
        assert_eq!(groups, vec![vec![0, 1]]);
    }
}
