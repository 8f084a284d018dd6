//! Plain-text articles: blank-line-separated blocks, where a short one-line block without closing
//! punctuation is a heading.
//!
//! The first block's first line is the title. Lines starting with `- `, `* ` or `• ` are list items,
//! introduced by the block's lines before them. Everything else is a paragraph.

use super::{Block, Doc, PassageKind};

/// Parses a plain-text body that starts at line `first_line`.
pub(super) fn parse(text: &str, first_line: usize, warn: &mut dyn FnMut(usize, String)) -> Doc {
    let mut doc = Doc::default();
    let mut block: Vec<(usize, &str)> = Vec::new();
    let mut blocks: Vec<Vec<(usize, &str)>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else {
            block.push((first_line + i, line.trim()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    for (n, block) in blocks.into_iter().enumerate() {
        let (line, first) = block[0];
        if n == 0 {
            doc.h1 = Some(first.to_string());
            doc.headings.push((1, first.to_string(), line));
            push_lines(&mut doc, &block[1..]);
            continue;
        }
        if block.len() == 1 && looks_like_heading(first) {
            doc.headings.push((2, first.to_string(), line));
            continue;
        }
        push_lines(&mut doc, &block);
    }
    if doc.headings.len() <= 1 {
        warn(first_line, "the text file has no headings; it was read as a single section".into());
    }
    doc
}

fn looks_like_heading(line: &str) -> bool {
    line.chars().count() <= 100 && !line.ends_with(['.', ',', ';', ':', '!']) && !is_bullet(line)
}

fn is_bullet(line: &str) -> bool {
    line.starts_with("- ") || line.starts_with("* ") || line.starts_with("• ")
}

fn push_lines(doc: &mut Doc, lines: &[(usize, &str)]) {
    let heading = doc.headings.len().checked_sub(1);
    let mut para: Vec<&str> = Vec::new();
    let mut para_line = 0;
    let mut lead: Option<String> = None;
    for &(line, text) in lines {
        if is_bullet(text) {
            if !para.is_empty() {
                let p = para.join(" ");
                lead = Some(p.clone());
                doc.blocks.push(Block {
                    heading,
                    kind: PassageKind::Paragraph,
                    text: p,
                    context: None,
                    labels: Vec::new(),
                    line: para_line,
                });
                para.clear();
            }
            let item = text[text.find(' ').unwrap_or(0)..].trim().to_string();
            if !item.is_empty() {
                doc.blocks.push(Block {
                    heading,
                    kind: PassageKind::ListItem,
                    text: item,
                    context: lead.clone(),
                    labels: Vec::new(),
                    line,
                });
            }
        } else {
            if para.is_empty() {
                para_line = line;
            }
            para.push(text);
        }
    }
    if !para.is_empty() {
        doc.blocks.push(Block {
            heading,
            kind: PassageKind::Paragraph,
            text: para.join(" "),
            context: None,
            labels: Vec::new(),
            line: para_line,
        });
    }
}
