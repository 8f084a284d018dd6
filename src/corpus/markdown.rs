//! Markdown → headings and passage blocks, with pulldown-cmark.
//!
//! Paragraphs, list items and table rows become blocks; code blocks and raw HTML are left out (they are
//! not prose to quote). A single-sentence paragraph that ends in `:` right before a list only
//! introduces it: it becomes the list items' context instead of a passage of its own.

use super::{Block, Doc, PassageKind, sentence_spans};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

#[derive(Debug)]
enum Raw {
    Paragraph { text: String, line: usize, heading: Option<usize> },
    Item { text: String, line: usize, heading: Option<usize>, list: usize, parent: Option<String> },
    Row { text: String, labels: Vec<(usize, usize)>, line: usize, heading: Option<usize> },
}

struct LineMap {
    starts: Vec<usize>,
    first_line: usize,
}

impl LineMap {
    fn new(text: &str, first_line: usize) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineMap { starts, first_line }
    }
    fn line(&self, offset: usize) -> usize {
        let idx = self.starts.partition_point(|s| *s <= offset);
        self.first_line + idx.saturating_sub(1)
    }
}

/// Parses a Markdown body (front matter already removed) that starts at line `first_line`.
pub(super) fn parse(text: &str, first_line: usize, warn: &mut dyn FnMut(usize, String)) -> Doc {
    let lines = LineMap::new(text, first_line);
    let mut doc = Doc::default();
    let mut raws: Vec<Raw> = Vec::new();

    let mut buf = String::new();
    let mut block_start = 0usize;
    let mut in_heading: Option<u8> = None;
    let mut in_code = 0usize;
    // Open list items: (text so far, start offset, list id).
    let mut items: Vec<(String, usize, usize)> = Vec::new();
    let mut list_ids: Vec<usize> = Vec::new();
    let mut next_list = 0usize;
    let mut table_head: Vec<String> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut in_table_head = false;
    let mut cell = String::new();
    let mut in_cell = false;

    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    for (event, range) in Parser::new_ext(text, opts).into_offset_iter() {
        let heading = doc.headings.len().checked_sub(1);
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                in_heading = Some(level as u8);
                buf.clear();
                block_start = range.start;
            }
            Event::End(TagEnd::Heading(_)) => {
                let level = in_heading.take().unwrap_or(2);
                let title = collapse(&buf);
                buf.clear();
                if title.is_empty() {
                    warn(lines.line(block_start), "an empty heading was ignored".into());
                    continue;
                }
                if level == 1 && doc.h1.is_none() {
                    doc.h1 = Some(title.clone());
                }
                doc.headings.push((level, title, lines.line(block_start)));
            }
            Event::Start(Tag::CodeBlock(_)) => in_code += 1,
            Event::End(TagEnd::CodeBlock) => in_code = in_code.saturating_sub(1),
            Event::Start(Tag::Paragraph) if items.is_empty() && !in_cell => {
                buf.clear();
                block_start = range.start;
            }
            Event::End(TagEnd::Paragraph) if items.is_empty() && !in_cell => {
                let text = collapse(&buf);
                buf.clear();
                if !text.is_empty() {
                    raws.push(Raw::Paragraph { text, line: lines.line(block_start), heading });
                }
            }
            Event::Start(Tag::List(_)) => {
                // A nested list: the parent item's own text becomes a passage now.
                flush_item(&mut items, &lines, heading, &mut raws, None);
                list_ids.push(next_list);
                next_list += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_ids.pop();
            }
            Event::Start(Tag::Item) => {
                items.push((String::new(), range.start, list_ids.last().copied().unwrap_or(0)));
            }
            Event::End(TagEnd::Item) => {
                let parent = items.len().checked_sub(2).and_then(|i| {
                    raws.iter().rev().find_map(|r| match r {
                        Raw::Item { text, list, .. } if *list == items[i].2 => Some(text.clone()),
                        _ => None,
                    })
                });
                flush_item(&mut items, &lines, heading, &mut raws, parent);
                items.pop();
            }
            Event::Start(Tag::TableHead) => {
                in_table_head = true;
                table_head.clear();
                row.clear();
            }
            Event::End(TagEnd::TableHead) => {
                in_table_head = false;
                table_head = std::mem::take(&mut row);
            }
            Event::Start(Tag::TableRow) => {
                row.clear();
                block_start = range.start;
            }
            Event::End(TagEnd::TableRow) => {
                let cells = std::mem::take(&mut row);
                // "Header: cell; Header: cell", remembering where the header labels are.
                let mut text = String::new();
                let mut labels = Vec::new();
                for (i, c) in cells.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
                    if !text.is_empty() {
                        text.push_str("; ");
                    }
                    if let Some(h) = table_head.get(i).filter(|h| !h.is_empty()) {
                        labels.push((text.len(), text.len() + h.len()));
                        text.push_str(h);
                        text.push_str(": ");
                    }
                    text.push_str(c);
                }
                if !text.is_empty() && !in_table_head {
                    raws.push(Raw::Row { text, labels, line: lines.line(block_start), heading });
                }
            }
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                cell.clear();
            }
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                row.push(collapse(&cell));
            }
            Event::End(TagEnd::Table) => table_head.clear(),
            Event::Text(_) | Event::Code(_) | Event::SoftBreak | Event::HardBreak if in_code == 0 => {
                let piece = match &event {
                    Event::Text(t) | Event::Code(t) => t.as_ref(),
                    _ => " ",
                };
                // Text goes to the open table cell, else the open list item, else the block.
                let target = match (in_cell, in_heading, items.last_mut()) {
                    (true, _, _) => &mut cell,
                    (false, None, Some(item)) => &mut item.0,
                    _ => &mut buf,
                };
                target.push_str(piece);
            }
            Event::End(TagEnd::Paragraph) => {
                // Paragraph breaks inside a list item keep words apart.
                if let Some(item) = items.last_mut() {
                    item.0.push(' ');
                }
            }
            _ => {}
        }
    }
    if doc.headings.is_empty() {
        warn(first_line, "the article has no headings; it was read as a single section".into());
    }
    doc.blocks = into_blocks(raws);
    doc
}

fn flush_item(
    items: &mut [(String, usize, usize)],
    lines: &LineMap,
    heading: Option<usize>,
    raws: &mut Vec<Raw>,
    parent: Option<String>,
) {
    let Some((text, start, list)) = items.last_mut() else { return };
    let collapsed = collapse(text);
    if collapsed.is_empty() {
        return;
    }
    raws.push(Raw::Item { text: collapsed, line: lines.line(*start), heading, list: *list, parent });
    text.clear();
}

/// Turns raw blocks into passage blocks, attaching each list's and table's introducing sentence.
fn into_blocks(raws: Vec<Raw>) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::with_capacity(raws.len());
    // The paragraph just before the current list or table, and the list it introduced.
    let mut lead: Option<(usize, String)> = None; // (index in blocks, text)
    let mut current_list: Option<usize> = None;
    let mut lead_for_list: Option<String> = None;
    let mut in_table = false;
    for raw in raws {
        match raw {
            Raw::Paragraph { text, line, heading } => {
                current_list = None;
                in_table = false;
                blocks.push(Block {
                    heading,
                    kind: PassageKind::Paragraph,
                    text: text.clone(),
                    context: None,
                    labels: Vec::new(),
                    line,
                });
                lead = Some((blocks.len() - 1, text));
            }
            Raw::Item { text, line, heading, list, parent } => {
                in_table = false;
                if current_list != Some(list) && parent.is_none() {
                    current_list = Some(list);
                    lead_for_list = lead.take().and_then(|(idx, lead_text)| {
                        let same_heading = blocks[idx].heading == heading;
                        if !same_heading {
                            return None;
                        }
                        let sentence = last_sentence(&lead_text);
                        // A lone "… for:" sentence only introduces the list: not a passage itself.
                        if sentence == lead_text && lead_text.ends_with(':') {
                            blocks.remove(idx);
                        }
                        Some(sentence)
                    });
                }
                let context = parent.or_else(|| lead_for_list.clone());
                blocks.push(Block {
                    heading,
                    kind: PassageKind::ListItem,
                    text,
                    context,
                    labels: Vec::new(),
                    line,
                });
            }
            Raw::Row { text, labels, line, heading } => {
                current_list = None;
                if !in_table {
                    in_table = true;
                    lead_for_list = lead
                        .take()
                        .filter(|(idx, _)| blocks[*idx].heading == heading)
                        .map(|(_, t)| last_sentence(&t));
                }
                blocks.push(Block {
                    heading,
                    kind: PassageKind::TableRow,
                    text,
                    context: lead_for_list.clone(),
                    labels,
                    line,
                });
            }
        }
    }
    blocks
}

fn last_sentence(text: &str) -> String {
    sentence_spans(text).last().map(|(s, e)| text[*s..*e].trim().to_string()).unwrap_or_default()
}

/// Collapses runs of white space to one space and trims.
fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
