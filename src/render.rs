//! Terminal rendering of answers and topics: plain text, with matched words in bold when the output
//! is a terminal. Discord rendering lives in the Discord adapter.

use crate::answer::Answer;
use crate::index::ArticleInfo;
use std::fmt::Write;

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Renders an answer (or a decline) for a terminal. `corpus_title` names what a decline was
/// looked up in (the article's title when there is one article).
pub fn answer(a: &Answer, corpus_title: &str, color: bool) -> String {
    let (bold, dim, reset) = if color { (BOLD, DIM, RESET) } else { ("", "", "") };
    let mut out = String::new();
    match (&a.excerpt, a.answered) {
        (Some(excerpt), true) => {
            if let Some(context) = &a.context {
                let _ = writeln!(out, "{dim}{context}{reset}");
            }
            let mut quoted = String::new();
            let mut at = 0;
            for &(s, e) in &a.highlights {
                if s < at || e > excerpt.len() {
                    continue;
                }
                quoted.push_str(&excerpt[at..s]);
                let _ = write!(quoted, "{bold}{}{reset}", &excerpt[s..e]);
                at = e;
            }
            quoted.push_str(&excerpt[at..]);
            let ellipsis = if a.truncated { " …" } else { "" };
            // A quoted list spans lines: every line is part of the quote.
            let _ = writeln!(out, "> {}{ellipsis}", quoted.replace('\n', "\n> "));
            let _ = writeln!(out);
            let _ = writeln!(out, "Section:    {}", a.section.join(" › "));
            if let Some(src) = &a.source {
                let _ = writeln!(out, "Source:     {} ({})", src.title, src.link());
                let _ = writeln!(out, "File:       {}:{}", src.path, src.line);
            }
            let _ = writeln!(out, "Confidence: {:.2}", a.confidence);
            if !a.alternatives.is_empty() {
                let _ = writeln!(out, "\nAlso relevant:");
                for alt in &a.alternatives {
                    let _ = writeln!(out, "  - {} ({:.2})", alt.section.join(" › "), alt.confidence);
                }
            }
        }
        _ => {
            let _ = writeln!(out, "{bold}Not covered:{reset} this isn't covered in {corpus_title}.");
            if let Some(reason) = &a.decline_reason {
                let _ = writeln!(out, "{reason}");
            }
            let _ = writeln!(out, "Confidence: {:.2}", a.confidence);
            if !a.alternatives.is_empty() {
                let _ = writeln!(out, "\nNearest sections:");
                for alt in &a.alternatives {
                    let _ = writeln!(out, "  - {} ({})", alt.section.join(" › "), alt.source.link());
                }
            }
        }
    }
    out
}

/// Renders how the question was matched (`ask --explain`).
pub fn explanation(a: &Answer) -> String {
    let mut out = String::from("\nHow the question was matched:\n");
    for m in &a.matched {
        let via =
            m.via.map(|v| format!("{v:?}").to_lowercase()).unwrap_or_else(|| "not in the corpus".into());
        let found = m.found_in.unwrap_or("not in this passage");
        let _ =
            writeln!(out, "  {:<24} weight {:>5.2}  via {:<18} found in {}", m.words, m.weight, via, found);
    }
    if let Some(like) = &a.like_question {
        let _ = writeln!(out, "  The confidence comes from the example question \u{201c}{like}\u{201d}.");
    }
    out
}

/// Renders the articles and their sections.
pub fn topics(articles: &[ArticleInfo]) -> String {
    let mut out = String::new();
    for a in articles {
        let _ = writeln!(out, "{} ({})", a.title, a.url.as_deref().unwrap_or(&a.path));
        for s in a.sections.iter().skip(1) {
            let depth = s.heading_path.len().saturating_sub(2);
            let _ = writeln!(
                out,
                "  {}- {} [{} passages]",
                "  ".repeat(depth),
                s.heading_path.last().map(String::as_str).unwrap_or(""),
                s.passages
            );
        }
    }
    out
}
