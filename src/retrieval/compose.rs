//! Answer building: the ranked candidates become an [`Answer`] (the best passage quoted, a whole
//! list or table where the question asks for it, the alternatives, the explanation) or a decline
//! with its reason and the nearest sections.

use super::rank::Ranked;
use super::{IndexStats, Retriever, round};
use crate::analysis;
use crate::answer::{self, Alternative as AltAnswer, Answer, Signals, Source, WordMatch};
use crate::corpus::PassageKind;
use crate::examples::Similar;
use crate::index::StoredPassage;
use crate::question::{self, Analysed, TermStats};
use std::collections::HashSet;

/// Below this share of the matched weight in a list item's (or table row's) own words, the whole
/// list (or table) is quoted.
const LIST_SHARE: f32 = 0.5;
/// An item ranked within this of the best, in the same list or table, makes all of it the answer.
const SIBLING_MARGIN: f32 = 0.2;

impl Retriever {
    pub(super) fn build_answer(
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

/// Byte ranges of words in `text` whose term is one of `terms`.
pub fn highlights(text: &str, terms: &HashSet<String>) -> Vec<(usize, usize)> {
    analysis::tokenize(text)
        .into_iter()
        .filter(|t| !t.stop && terms.contains(&t.term))
        .map(|t| (t.start, t.end))
        .collect()
}

fn quote_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\u{201c}{w}\u{201d}")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::rank::tests::{passage, ranked};

    fn item(id: &str, position: u64, text: &str, lead_in: &str) -> StoredPassage {
        let mut p = passage(id, position, PassageKind::ListItem, text);
        p.context = Some(lead_in.to_string());
        p
    }

    fn section() -> Vec<StoredPassage> {
        vec![
            passage("p", 0, PassageKind::Paragraph, "Before you start, check three things:"),
            item("a", 1, "the cable", "check three things:"),
            item("b", 2, "the port", "check three things:"),
            item("c", 3, "the charger", "check three things:"),
            passage("q", 4, PassageKind::Paragraph, "Then plug it in."),
        ]
    }

    #[test]
    fn a_list_is_quoted_whole_with_the_paragraph_that_introduces_it() {
        let s = section();
        let quote = whole_list(&s, 2, None, 500).expect("fits");
        assert_eq!(
            quote.text,
            "Before you start, check three things:\n- the cable\n- the port\n- the charger"
        );
        assert_eq!(quote.line, s[0].line);
        assert_eq!(quote.paragraph.as_deref(), Some("p"));
        assert_eq!(quote.item.id, "a");
        // Too long for `max`: without the paragraph, then nothing.
        let short = whole_list(&s, 2, None, 60).expect("the lead-in sentence alone fits");
        assert_eq!(short.text, "check three things:\n- the cable\n- the port\n- the charger");
        assert!(whole_list(&s, 2, None, 10).is_none());
    }

    #[test]
    fn a_paragraph_ending_in_a_colon_brings_its_list() {
        let s = section();
        let quote = paragraph_and_list(&s, 0, 500).expect("introduces the list");
        assert!(quote.text.ends_with("- the charger"));
        assert!(paragraph_and_list(&s, 4, 500).is_none(), "the last paragraph introduces nothing");
    }

    #[test]
    fn items_of_one_list_are_told_from_others() {
        let s = section();
        assert!(same_list(&s[1], &s[3]));
        assert!(!same_list(&s[0], &s[1]), "a paragraph is in no list");
        let mut other = s[1].clone();
        other.context = Some("another list:".to_string());
        assert!(!same_list(&s[1], &other));
    }

    #[test]
    fn a_close_sibling_makes_the_list_the_answer() {
        let s = section();
        let close = vec![ranked(s[1].clone(), 1.0), ranked(s[2].clone(), 0.9)];
        assert!(sibling_close(&close));
        let far = vec![ranked(s[1].clone(), 1.0), ranked(s[2].clone(), 0.5)];
        assert!(!sibling_close(&far));
        let stranger = vec![ranked(s[1].clone(), 1.0), ranked(s[4].clone(), 1.0)];
        assert!(!sibling_close(&stranger));
        assert!(!sibling_close(&[]));
    }

    #[test]
    fn missing_words_are_listed_as_a_sentence() {
        assert_eq!(quote_list(&[]), "");
        assert_eq!(quote_list(&["a"]), "\u{201c}a\u{201d}");
        assert_eq!(quote_list(&["a", "b", "c"]), "\u{201c}a\u{201d}, \u{201c}b\u{201d} or \u{201c}c\u{201d}");
        assert_eq!(round(0.12345), 0.123);
        assert_eq!(round(-1.0), 0.0);
    }

    #[test]
    fn highlights_cover_the_matched_words_only() {
        let text = "Charging the widget: it charges fast.";
        let terms: HashSet<String> = [analysis::term_of("charging")].into_iter().collect();
        let spans: Vec<&str> = highlights(text, &terms).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(spans, vec!["Charging", "charges"]);
    }

    #[test]
    fn a_decline_says_why_and_points_to_the_nearest_section() {
        let mut r = crate::retrieval::test_retriever(
            "# Widget FAQ\n\n## Charging\n\nThe widget charges over USB in two hours.\n\n## Cleaning\n\n\
             Wipe the widget with a damp cloth.\n",
        );
        r.set_min_confidence(0.99);
        let unknown = r.answer("zyzzyva quokka").unwrap();
        assert!(!unknown.answered);
        assert_eq!(
            unknown.decline_reason.as_deref(),
            Some("None of the question's words appear in the articles.")
        );
        let empty = r.answer("???").unwrap();
        assert!(!empty.answered && empty.excerpt.is_none());
        let partly = r.answer("does the widget charge over bluetooth").unwrap();
        assert!(!partly.answered);
        assert_eq!(
            partly.decline_reason.as_deref(),
            Some("The articles never mention \u{201c}bluetooth\u{201d}.")
        );
        assert_eq!(partly.alternatives[0].section.last().map(String::as_str), Some("Charging"));
    }
}
