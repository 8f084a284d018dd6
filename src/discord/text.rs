//! Text for Discord: Markdown escaping, Discord's length measure, and cutting or splitting text to
//! a limit at a sentence or word boundary.
//!
//! Discord counts lengths the way JavaScript does (UTF-16 code units); [`len`] does the same, which
//! is never less than the count of Unicode characters that a JSON Schema `maxLength` checks, so a
//! text that fits by [`len`] fits by both. Nothing here knows about answers or embeds.

use crate::corpus::sentence_spans;

/// The ellipsis appended to a cut text.
pub const ELLIPSIS: &str = "…";

/// Length as Discord measures it.
pub fn len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Escapes Discord Markdown so that `text` shows exactly as written: emphasis, code, spoilers,
/// masked links and mentions anywhere, and headings, lists and quotes at the start of a line.
pub fn escape(text: &str) -> String {
    escape_within(text, true)
}

/// [`escape`] for a piece of a line: `at_line_start` says whether the piece begins a line.
fn escape_within(text: &str, at_line_start: bool) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut line_start = at_line_start;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '>' if line_start => {
                out.push('\\');
                out.push(c);
            }
            '0'..='9' if line_start => {
                // "1. item" would become a numbered list.
                out.push(c);
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    out.push(d);
                    chars.next();
                }
                if chars.peek() == Some(&'.') {
                    chars.next();
                    out.push_str("\\.");
                }
            }
            _ => out.push(c),
        }
        line_start = c == '\n' || (line_start && c.is_whitespace());
    }
    out
}

/// Cuts plain text to at most `max` (by [`len`]) at a word boundary, ending with `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    let text = text.trim();
    if len(text) <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(len(ELLIPSIS));
    format!("{}{ELLIPSIS}", &text[..word_end(text, room)])
}

/// The byte end of the longest prefix of `text` at most `max` long (by [`len`]) that ends at a word
/// boundary, trailing white space left out. Mid-word only when the first word alone is longer.
pub fn word_end(text: &str, max: usize) -> usize {
    let mut used = 0;
    let mut fit = 0;
    for (i, c) in text.char_indices() {
        used += c.len_utf16();
        if used > max {
            break;
        }
        fit = i + c.len_utf8();
    }
    if fit == text.len() || text[fit..].starts_with(char::is_whitespace) {
        return text[..fit].trim_end().len();
    }
    match text[..fit].rfind(char::is_whitespace) {
        Some(i) if !text[..i].trim_end().is_empty() => text[..i].trim_end().len(),
        _ => fit,
    }
}

/// A verbatim excerpt rendered as a Markdown quote with the matched words in bold.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// The Markdown.
    pub markdown: String,
    /// True when the excerpt had to be shortened to fit.
    pub cut: bool,
}

/// Renders `excerpt` as a block quote (`> ` on every line), escaped, with the byte ranges
/// `highlights` in bold, in at most `max` (by [`len`]). A too long excerpt is cut after the last
/// whole sentence that fits, or, when not even the first sentence fits, at the last word boundary
/// that does; a cut quote ends with ` …`. `more` adds that ellipsis even when nothing was cut here
/// (the excerpt is itself part of a longer passage).
pub fn quote(excerpt: &str, highlights: &[(usize, usize)], max: usize, more: bool) -> Quote {
    let excerpt = excerpt.trim_end();
    let whole = render_quote(excerpt, highlights, more);
    if len(&whole) <= max {
        return Quote { markdown: whole, cut: false };
    }
    let fits = |end: usize| {
        let q = render_quote(excerpt[..end].trim_end(), highlights, true);
        (len(&q) <= max).then_some(q)
    };
    let sentence_ends: Vec<usize> = sentence_spans(excerpt).into_iter().map(|(_, e)| e).collect();
    for &end in sentence_ends.iter().rev() {
        if end < excerpt.len()
            && let Some(q) = fits(end)
        {
            return Quote { markdown: q, cut: true };
        }
    }
    // Not even one sentence fits: the longest word-boundary prefix that does.
    let (mut lo, mut hi) = (0usize, len(excerpt));
    let mut best = String::new();
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let end = word_end(excerpt, mid);
        match fits(end) {
            Some(q) => {
                best = q;
                lo = mid;
            }
            None => hi = mid - 1,
        }
    }
    if best.is_empty() {
        best = cut(&format!("> {ELLIPSIS}"), max);
    }
    Quote { markdown: best, cut: true }
}

fn render_quote(text: &str, highlights: &[(usize, usize)], ellipsis: bool) -> String {
    let mut body = String::with_capacity(text.len() * 2);
    let starts_line = |i: usize| i == 0 || text[..i].ends_with('\n');
    let mut at = 0;
    for &(s, e) in highlights {
        if s < at || e > text.len() || s >= e || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        body.push_str(&escape_within(&text[at..s], starts_line(at)));
        body.push_str("**");
        body.push_str(&escape_within(&text[s..e], starts_line(s)));
        body.push_str("**");
        at = e;
    }
    body.push_str(&escape_within(&text[at..], starts_line(at)));
    let mut out = String::with_capacity(body.len() + 16);
    for (i, line) in body.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str("> ");
        out.push_str(line);
    }
    if ellipsis {
        out.push(' ');
        out.push_str(ELLIPSIS);
    }
    out
}

/// Splits `blocks` (paragraphs, list items) into chunks of at most `max` (by [`len`]), joining
/// blocks with a blank line and never breaking one unless it alone is too long; then it is broken
/// between sentences, or between words when a sentence is too long.
pub fn split(blocks: &[String], max: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    for block in blocks.iter().map(|b| b.trim()).filter(|b| !b.is_empty()) {
        if len(block) <= max {
            pieces.push(block.to_string());
        } else {
            pieces.extend(split_block(block, max));
        }
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in pieces {
        if current.is_empty() {
            current = piece;
        } else if len(&current) + 2 + len(&piece) <= max {
            current.push_str("\n\n");
            current.push_str(&piece);
        } else {
            chunks.push(std::mem::replace(&mut current, piece));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn split_block(block: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (s, e) in sentence_spans(block) {
        let sentence = block[s..e].trim();
        let mut parts = Vec::new();
        let mut rest = sentence;
        while !rest.is_empty() {
            let end = match word_end(rest, max) {
                0 => rest.chars().next().map_or(rest.len(), char::len_utf8),
                end => end,
            };
            parts.push(rest[..end].trim().to_string());
            rest = rest[end..].trim_start();
        }
        for part in parts {
            if current.is_empty() {
                current = part;
            } else if len(&current) + 1 + len(&part) <= max {
                current.push(' ');
                current.push_str(&part);
            } else {
                out.push(std::mem::replace(&mut current, part));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped() {
        let cases = [
            ("plain words", "plain words"),
            ("**bold** and _it_", "\\*\\*bold\\*\\* and \\_it\\_"),
            ("`code` ~~x~~ ||spoiler||", "\\`code\\` \\~\\~x\\~\\~ \\|\\|spoiler\\|\\|"),
            ("[link](https://e.test)", "\\[link\\](https://e.test)"),
            ("ping <@123> <@&456> @everyone", "ping \\<@123> \\<@&456> @everyone"),
            ("# Title\n- item\n> quote\n1. first", "\\# Title\n\\- item\n\\> quote\n1\\. first"),
            ("a - b # c > d 2. e", "a - b # c > d 2. e"),
            ("back\\slash", "back\\\\slash"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape(input), expected, "{input}");
        }
    }

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(len("abc"), 3);
        assert_eq!(len("é"), 1);
        assert_eq!(len("😀"), 2);
    }

    #[test]
    fn cut_keeps_whole_words() {
        let text = "Collagen serums support hydration and barrier recovery.";
        assert_eq!(cut(text, 100), text);
        let c = cut(text, 20);
        assert!(len(&c) <= 20, "{c}");
        assert_eq!(c, "Collagen serums…");
        let emoji = "😀".repeat(30);
        assert!(len(&cut(&emoji, 11)) <= 11);
        let mixed = "😀😀 😀😀😀 é".repeat(10);
        for max in 1..40 {
            let c = cut(&mixed, max);
            assert!(len(&c) <= max, "{max}: {c}");
        }
    }

    #[test]
    fn quote_bolds_matches_and_quotes_every_line() {
        let text = "Collagen binds water.\nIt *helps*.";
        let q = quote(text, &[(0, 8)], 1000, false);
        assert_eq!(q.markdown, "> **Collagen** binds water.\n> It \\*helps\\*.");
        let text = "post-laser, post-microneedling\n- item";
        let q = quote(text, &[(0, 4), (12, 16)], 1000, false);
        assert_eq!(
            q.markdown, "> **post**-laser, **post**-microneedling\n> \\- item",
            "only a line's start is escaped"
        );
        assert!(!q.cut);
        assert!(quote(text, &[], 1000, true).markdown.ends_with(" …"));
    }

    #[test]
    fn quote_cuts_at_a_sentence_boundary_first() {
        let text = "First sentence here. Second sentence is longer than the first one. Third.";
        let q = quote(text, &[], 40, false);
        assert!(q.cut);
        assert_eq!(q.markdown, "> First sentence here. …");
    }

    #[test]
    fn quote_cuts_one_long_sentence_between_words() {
        let text = format!("{} end.", "word ".repeat(2000));
        let q = quote(&text, &[(0, 4)], 4096, false);
        assert!(len(&q.markdown) <= 4096);
        assert!(q.markdown.ends_with("word …"), "{}", &q.markdown[q.markdown.len() - 20..]);
        assert!(q.markdown.starts_with("> **word** word"));
    }

    #[test]
    fn quote_survives_escape_heavy_text() {
        let text = "*_`|".repeat(3000);
        let q = quote(&text, &[], 4000, false);
        assert!(len(&q.markdown) <= 4000);
    }

    #[test]
    fn split_respects_the_limit_and_keeps_words() {
        let blocks: Vec<String> = (0..40)
            .map(|i| {
                format!("Paragraph {i} has a few sentences. Each one is short. {}", "Long words ".repeat(i))
            })
            .collect();
        let chunks = split(&blocks, 300);
        assert!(chunks.len() > 1);
        for c in &chunks {
            assert!(len(c) <= 300, "{}", len(c));
            assert!(!c.starts_with(' ') && !c.ends_with(' '));
        }
        let joined: String = chunks.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
        let original: String = blocks.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(joined, original);
    }
}
