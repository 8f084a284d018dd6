//! Rendering for Discord: answers, declines, whole sections, topics and the corpus summary as
//! [`Reply`] values, always within Discord's limits whatever the corpus holds.
//!
//! Pure functions of their inputs: no serenity, no network, no retrieval. Corpus text is escaped
//! so it shows exactly as written; only the bot's own markup (bold matches, block quote, links) is
//! Markdown. Long text is cut after a whole sentence, or between words when a single sentence is
//! too long, and never mid-word.

use super::ids::{Action, ButtonId};
use super::reply::{ANSWER_COLOUR, Button, Embed, NOTICE_COLOUR, Reply, Style, limits};
use super::text::{self, escape, len};
use crate::analysis;
use crate::answer::{Answer, Source};
use crate::corpus::PassageKind;
use crate::index::{ArticleInfo, IndexMeta, StoredPassage};
use std::collections::HashSet;
use std::fmt::Write;

/// Longest footer the bot writes (Discord allows 2048; a short one leaves room for the quote).
const FOOTER_MAX: usize = 512;
/// Longest lead-in sentence shown above a list item or table row.
const LEAD_IN_MAX: usize = 400;
/// Longest disclaimer shown.
const DISCLAIMER_MAX: usize = 300;
/// Description size of each embed of a whole section: two of them, with title and footer, fit in
/// one message's 6000.
const SECTION_CHUNK: usize = 2500;
/// Messages a whole section may take (one response and follow-ups).
const SECTION_MESSAGES: usize = 4;

/// What every rendering needs to know about the bot and the corpus.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions<'a> {
    /// The corpus version served ([`crate::retrieval::Retriever::corpus_version`]).
    pub corpus_version: &'a str,
    /// The line under every answer (empty: none).
    pub disclaimer: &'a str,
    /// What to call the corpus in a decline when no article is nearest ("the articles").
    pub corpus_title: &'a str,
}

/// One passage to show, with how it was matched.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// Article title > section > sub-section.
    pub heading_path: &'a [String],
    /// Where it comes from.
    pub source: &'a Source,
    /// The verbatim excerpt.
    pub excerpt: &'a str,
    /// Byte ranges of `excerpt` to bold.
    pub highlights: &'a [(usize, usize)],
    /// The sentence introducing a list item or table row.
    pub context: Option<&'a str>,
    /// True when the excerpt is part of a longer passage.
    pub truncated: bool,
    /// The passage id.
    pub passage_id: &'a str,
    /// The section id.
    pub section_id: &'a str,
}

/// An answer, or a decline when the corpus does not cover the question.
pub fn answer(a: &Answer, o: &RenderOptions) -> Reply {
    let (Some(excerpt), Some(source), Some(passage_id), Some(section_id), true) =
        (&a.excerpt, &a.source, &a.passage_id, &a.section_id, a.answered)
    else {
        return decline(a, o);
    };
    let shown = Shown {
        heading_path: &a.section,
        source,
        excerpt,
        highlights: &a.highlights,
        context: a.context.as_deref(),
        truncated: a.truncated,
        passage_id,
        section_id,
    };
    let mut cycle = vec![passage_id.clone()];
    cycle.extend(a.alternatives.iter().map(|alt| alt.passage_id.clone()).filter(|p| p != passage_id));
    passage(&shown, &cycle, 0, o)
}

/// One passage with its buttons; `cycle[shown]` is this passage, the "Next passage" button shows
/// the one after it.
pub fn passage(shown: &Shown, cycle: &[String], index: usize, o: &RenderOptions) -> Reply {
    let mut buttons = Vec::new();
    if cycle.len() > 1 {
        buttons.push(Button {
            custom_id: ButtonId::next(o.corpus_version, index, cycle).encode(),
            label: "Next passage".into(),
            emoji: None,
            style: Style::Primary,
        });
    }
    let id = |action| ButtonId { corpus_version: o.corpus_version.to_string(), action }.encode();
    buttons.push(Button {
        custom_id: id(Action::Section { section_id: shown.section_id.to_string() }),
        label: "Full section".into(),
        emoji: None,
        style: Style::Secondary,
    });
    for (helpful, emoji, label) in [(true, "👍", "Helpful"), (false, "👎", "Not helpful")] {
        buttons.push(Button {
            custom_id: id(Action::Feedback { passage_id: shown.passage_id.to_string(), helpful }),
            label: label.into(),
            emoji: Some(emoji.into()),
            style: Style::Secondary,
        });
    }
    Reply { content: None, embeds: vec![passage_embed(shown, o)], buttons, ephemeral: false }
}

fn passage_embed(shown: &Shown, o: &RenderOptions) -> Embed {
    let heading = shown.heading_path.last().map(String::as_str).unwrap_or(&shown.source.title);
    let title = text::cut(&escape(heading), limits::TITLE);
    let footer = footer(&shown.source.title, shown.heading_path, o.corpus_version);
    let lead = match shown.context {
        Some(c) if !c.trim().is_empty() => format!("*{}*\n", escape(&text::cut(c, LEAD_IN_MAX))),
        _ => String::new(),
    };
    let disclaimer = match o.disclaimer.trim() {
        "" => String::new(),
        d => format!("\n\n*{}*", escape(&text::cut(d, DISCLAIMER_MAX))),
    };
    let room = limits::DESCRIPTION.min(limits::EMBEDS_TOTAL - len(&title) - len(&footer));
    let budget = room.saturating_sub(len(&lead) + len(&disclaimer));
    let quote = text::quote(shown.excerpt, shown.highlights, budget, shown.truncated);
    Embed {
        title: Some(title),
        url: link(shown.source),
        description: format!("{lead}{}{disclaimer}", quote.markdown),
        footer: Some(footer),
        colour: ANSWER_COLOUR,
    }
}

/// `Article title · Section › Sub-section · corpus 1a2b3c4d`.
fn footer(title: &str, heading_path: &[String], corpus_version: &str) -> String {
    let mut parts = vec![title.trim().to_string()];
    let path: Vec<&str> = heading_path.iter().skip(1).map(|h| h.trim()).collect();
    if !path.is_empty() {
        parts.push(path.join(" › "));
    }
    let version = format!(" · corpus {corpus_version}");
    let head = text::cut(&parts.join(" · "), FOOTER_MAX - len(&version));
    format!("{head}{version}")
}

/// The section's web address (`url#anchor`), when the article has a usable one.
fn link(source: &Source) -> Option<String> {
    let url = usable_url(source.url.as_deref()?)?;
    let full = if source.anchor.is_empty() {
        url.to_string()
    } else {
        Source { url: Some(url.to_string()), ..source.clone() }.link()
    };
    (len(&full) <= limits::URL).then_some(full)
}

/// An article address safe to use as a link: http(s), no spaces or characters that end Markdown links.
fn usable_url(url: &str) -> Option<&str> {
    let url = url.trim();
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '(' | ')' | '<' | '>');
    (!rest.is_empty() && !url.contains(bad) && len(url) < limits::URL - 200).then_some(url)
}

/// A Markdown link to a section, or its escaped heading when there is no usable address.
fn section_link(heading: &str, source: &Source) -> String {
    match link(source) {
        Some(url) => format!("[{}]({url})", escape(heading)),
        None => escape(heading),
    }
}

/// "This isn't covered in `article title`." with the nearest sections as buttons.
pub fn decline(a: &Answer, o: &RenderOptions) -> Reply {
    let title = a.source.as_ref().map(|s| s.title.as_str()).unwrap_or(o.corpus_title);
    let mut description = format!("This isn't covered in **{}**.", escape(&text::cut(title, 300)));
    if let Some(reason) = &a.decline_reason {
        let _ = write!(description, "\n{}", escape(&text::cut(reason, 500)));
    }
    let mut seen = HashSet::new();
    let nearest: Vec<_> = a.alternatives.iter().filter(|alt| seen.insert(&alt.section_id)).take(3).collect();
    let mut buttons = Vec::new();
    if !nearest.is_empty() {
        description.push_str("\n\nThe nearest sections:");
        for alt in &nearest {
            let heading = alt.section.last().map(String::as_str).unwrap_or(&alt.source.title);
            let _ = write!(description, "\n• {}", section_link(&text::cut(heading, 200), &alt.source));
            buttons.push(Button {
                custom_id: ButtonId {
                    corpus_version: o.corpus_version.to_string(),
                    action: Action::Section { section_id: alt.section_id.clone() },
                }
                .encode(),
                label: text::cut(heading, limits::LABEL),
                emoji: Some("📖".into()),
                style: Style::Secondary,
            });
        }
    }
    let embed = Embed {
        title: Some("Not covered".into()),
        url: None,
        description,
        footer: Some(format!("corpus {}", o.corpus_version)),
        colour: NOTICE_COLOUR,
    };
    Reply { content: None, embeds: vec![embed], buttons, ephemeral: false }
}

/// A whole section, privately, split over embeds and, when it is long, over several messages (the
/// first is the response, the others follow-ups). Empty when the section has no passages.
pub fn section(passages: &[StoredPassage], source: &Source, o: &RenderOptions) -> Vec<Reply> {
    let Some(first) = passages.first() else { return Vec::new() };
    let mut blocks = Vec::new();
    let mut lead_in: Option<&str> = None;
    let mut previous: Option<&str> = None;
    for p in passages {
        if p.context.as_deref() != lead_in {
            lead_in = p.context.as_deref();
            // The lead-in is usually the end of the paragraph just shown: not twice.
            if let Some(c) = lead_in.filter(|c| !previous.is_some_and(|t| t.trim_end().ends_with(c.trim()))) {
                blocks.push(escape(c));
            }
        }
        previous = Some(&p.text);
        blocks.push(match p.kind {
            PassageKind::Paragraph => escape(&p.text),
            PassageKind::ListItem | PassageKind::TableRow => format!("• {}", escape(&p.text)),
        });
    }
    let chunks = text::split(&blocks, SECTION_CHUNK);
    let heading = first.heading_path.last().map(String::as_str).unwrap_or(&source.title);
    let mut embeds: Vec<Embed> = chunks
        .into_iter()
        .map(|description| Embed { description, colour: ANSWER_COLOUR, ..Embed::default() })
        .collect();
    let room = SECTION_MESSAGES * 2;
    if embeds.len() > room {
        embeds.truncate(room);
        if let Some(last) = embeds.last_mut() {
            last.description.push_str("\n\n*The section goes on in the article.*");
        }
    }
    if let Some(e) = embeds.first_mut() {
        e.title = Some(text::cut(&escape(heading), limits::TITLE));
        e.url = link(source);
    }
    if let Some(e) = embeds.last_mut() {
        e.footer = Some(footer(&source.title, &first.heading_path, o.corpus_version));
    }
    let mut replies: Vec<Reply> = Vec::new();
    for embed in embeds {
        match replies.last_mut() {
            Some(r)
                if r.embeds.len() < limits::EMBEDS_PER_MESSAGE
                    && r.embeds.iter().map(Embed::size).sum::<usize>() + embed.size()
                        <= limits::EMBEDS_TOTAL =>
            {
                r.embeds.push(embed)
            }
            _ => replies.push(Reply { embeds: vec![embed], ephemeral: true, ..Reply::default() }),
        }
    }
    replies
}

/// The articles and their sections, privately.
pub fn topics(articles: &[ArticleInfo]) -> Reply {
    if articles.is_empty() {
        return Reply::notice("The knowledge base has no articles yet.");
    }
    let shown = articles.len().min(limits::EMBEDS_PER_MESSAGE);
    let per_article = (limits::EMBEDS_TOTAL - 100) / shown;
    let mut embeds = Vec::new();
    for article in &articles[..shown] {
        let title = text::cut(&escape(&article.title), limits::TITLE);
        let budget = limits::DESCRIPTION.min(per_article.saturating_sub(len(&title)));
        let sections: Vec<_> = article.sections.iter().filter(|s| s.heading_path.len() > 1).collect();
        let mut description = String::new();
        for (i, s) in sections.iter().enumerate() {
            let heading = s.heading_path.last().map(String::as_str).unwrap_or_default();
            let source = Source {
                title: article.title.clone(),
                path: article.path.clone(),
                url: article.url.clone(),
                anchor: s.anchor.clone(),
                line: 0,
            };
            let indent = "\u{2003}".repeat(s.heading_path.len().saturating_sub(2));
            let line = format!("{indent}• {}\n", section_link(&text::cut(heading, 200), &source));
            let rest = sections.len() - i;
            let more = format!("…and {rest} more sections");
            if len(&description) + len(&line) + len(&more) + 1 > budget {
                description.push_str(&more);
                break;
            }
            description.push_str(&line);
        }
        if description.trim().is_empty() {
            description = "(no sections)".into();
        }
        embeds.push(Embed {
            title: Some(title),
            url: article.url.as_deref().and_then(usable_url).map(str::to_string),
            description: description.trim_end().to_string(),
            footer: None,
            colour: ANSWER_COLOUR,
        });
    }
    let mut content = None;
    if articles.len() > shown {
        content = Some(format!("Showing {shown} of {} articles.", articles.len()));
    }
    Reply { content, embeds, buttons: Vec::new(), ephemeral: true }
}

/// What corpus and version the bot serves, privately.
pub fn source_info(meta: &IndexMeta, o: &RenderOptions) -> Reply {
    let mut description = format!(
        "Answers quote these articles verbatim. Corpus version `{}`: {} article(s), {} passages.\n",
        o.corpus_version,
        meta.articles.len(),
        meta.passages
    );
    for (i, a) in meta.articles.iter().enumerate() {
        let mut line = match a.url.as_deref().and_then(usable_url) {
            Some(url) => format!("\n• [{}]({url})", escape(&text::cut(&a.title, 200))),
            None => format!("\n• {}", escape(&text::cut(&a.title, 200))),
        };
        let by: Vec<&str> = [a.publisher.as_deref(), a.published.as_deref()].into_iter().flatten().collect();
        if !by.is_empty() {
            let _ = write!(line, " ({})", escape(&text::cut(&by.join(", "), 120)));
        }
        let more = format!("\n…and {} more", meta.articles.len() - i);
        if len(&description) + len(&line) + len(&more) > limits::DESCRIPTION - 100 {
            description.push_str(&more);
            break;
        }
        description.push_str(&line);
    }
    let embed = Embed {
        title: Some("Knowledge base".into()),
        url: None,
        description,
        footer: Some(format!("corpus {}", o.corpus_version)),
        colour: ANSWER_COLOUR,
    };
    Reply { content: None, embeds: vec![embed], buttons: Vec::new(), ephemeral: true }
}

/// The polite answer to a button made for another corpus version.
pub fn stale() -> Reply {
    Reply::notice(
        "The articles have been updated since this answer was given, so this button no longer applies. \
         Ask again to get an answer from the current version.",
    )
}

/// Up to 25 section headings matching what the user has typed so far, as (name, value) pairs:
/// headings starting with the text first, then those containing every typed word.
pub fn autocomplete(articles: &[ArticleInfo], partial: &str) -> Vec<(String, String)> {
    let typed = partial.trim().to_lowercase();
    let words: Vec<&str> = typed.split_whitespace().collect();
    let mut starts = Vec::new();
    let mut contains = Vec::new();
    let mut seen = HashSet::new();
    for s in articles.iter().flat_map(|a| a.sections.iter()) {
        let Some(heading) = s.heading_path.last().map(|h| h.trim()) else { continue };
        let lower = heading.to_lowercase();
        if heading.is_empty() || !seen.insert(lower.clone()) {
            continue;
        }
        if lower.starts_with(&typed) {
            starts.push(heading);
        } else if words.iter().all(|w| lower.contains(w)) {
            contains.push(heading);
        }
    }
    starts
        .into_iter()
        .chain(contains)
        .take(limits::CHOICES)
        .map(|h| {
            let h = text::cut(h, limits::CHOICE_TEXT);
            (h.clone(), h)
        })
        .collect()
}

/// An excerpt of a stored passage for "Next passage": the sentences richest in `terms` (the words
/// the answer matched), with those words' byte ranges to bold.
pub fn excerpt_of(
    p: &StoredPassage,
    terms: &HashSet<String>,
    max_chars: usize,
) -> (String, Vec<(usize, usize)>, bool) {
    let text = &p.text;
    let ex = crate::answer::excerpt(text, max_chars, |s, e| {
        terms.contains(&analysis::term_of(&text[s..e].to_lowercase()))
    });
    let highlights = crate::retrieval::highlights(&ex.text, terms);
    (ex.text, highlights, ex.truncated)
}

/// The analysed terms of the words an answer highlighted.
pub fn terms_of_words(words: &[String]) -> HashSet<String> {
    words.iter().flat_map(|w| analysis::terms(w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Alternative;

    const O: RenderOptions = RenderOptions {
        corpus_version: "0123abcd",
        disclaimer: "Educational information from the article above, not medical advice.",
        corpus_title: "the articles",
    };

    fn source(url: Option<&str>) -> Source {
        Source {
            title: "What Does Collagen Serum Do?".into(),
            path: "collagen.md".into(),
            url: url.map(str::to_string),
            anchor: "post-procedure-recovery".into(),
            line: 12,
        }
    }

    fn answered(excerpt: &str, highlights: Vec<(usize, usize)>) -> Answer {
        Answer {
            question: "does it help after microneedling?".into(),
            answered: true,
            confidence: 0.9,
            excerpt: Some(excerpt.into()),
            section: vec!["What Does Collagen Serum Do?".into(), "Post-Procedure Recovery".into()],
            source: Some(source(Some("https://example.test/collagen"))),
            alternatives: vec![alternative("b1", "s2", "Other Section")],
            passage_id: Some("a1".into()),
            section_id: Some("s1".into()),
            context: None,
            highlights,
            truncated: false,
            decline_reason: None,
            matched: vec![],
            like_question: None,
            signals: Default::default(),
        }
    }

    fn alternative(passage: &str, section: &str, heading: &str) -> Alternative {
        Alternative {
            excerpt: "Some text.".into(),
            section: vec!["What Does Collagen Serum Do?".into(), heading.into()],
            confidence: 0.4,
            passage_id: passage.into(),
            section_id: section.into(),
            source: source(Some("https://example.test/collagen")),
        }
    }

    #[test]
    fn an_answer_is_an_embed_with_source_and_buttons() {
        let text = "After microneedling, collagen serums *support* recovery.";
        let r = answer(&answered(text, vec![(6, 19)]), &O);
        r.check().unwrap();
        let e = &r.embeds[0];
        assert_eq!(e.title.as_deref(), Some("Post-Procedure Recovery"));
        assert_eq!(e.url.as_deref(), Some("https://example.test/collagen#post-procedure-recovery"));
        assert!(
            e.description.starts_with("> After **microneedling**, collagen serums \\*support\\* recovery.")
        );
        assert!(e.description.ends_with(&format!("*{}*", escape(O.disclaimer))));
        assert_eq!(
            e.footer.as_deref(),
            Some("What Does Collagen Serum Do? · Post-Procedure Recovery · corpus 0123abcd")
        );
        let labels: Vec<&str> = r.buttons.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["Next passage", "Full section", "Helpful", "Not helpful"]);
        assert_eq!(r.buttons[0].custom_id, "cb1:n:0123abcd:0:a1.b1");
        assert_eq!(r.buttons[1].custom_id, "cb1:s:0123abcd:s1");
        assert_eq!(r.buttons[2].custom_id, "cb1:u:0123abcd:a1");
    }

    #[test]
    fn no_url_no_link_and_no_disclaimer_when_empty() {
        let mut a = answered("Text.", vec![]);
        a.source = Some(source(None));
        a.alternatives.clear();
        let o = RenderOptions { disclaimer: " ", ..O };
        let r = answer(&a, &o);
        assert_eq!(r.embeds[0].url, None);
        assert_eq!(r.embeds[0].description, "> Text.");
        assert_eq!(r.buttons.len(), 3, "no Next passage without alternatives");
        a.source = Some(source(Some("javascript:alert(1)")));
        assert_eq!(answer(&a, &o).embeds[0].url, None);
    }

    #[test]
    fn a_lead_in_is_shown_apart_from_the_quote() {
        let mut a = answered("Hydration Enhancement: binds water.", vec![]);
        a.context = Some("Key functions include:".into());
        let r = answer(&a, &O);
        assert!(r.embeds[0].description.starts_with("*Key functions include:*\n> Hydration"));
    }

    #[test]
    fn everything_stays_within_limits_whatever_the_corpus_holds() {
        let sentence = "Collagen **matters** for _skin_ and `barrier` repair in every single case we know. ";
        let excerpt = sentence.repeat(200);
        let highlights: Vec<(usize, usize)> =
            excerpt.match_indices("Collagen").map(|(i, m)| (i, i + m.len())).collect();
        let mut a = answered(&excerpt, highlights);
        a.section = vec!["T".repeat(3000), "H ".repeat(1500)];
        a.context = Some("lead ".repeat(500));
        if let Some(s) = a.source.as_mut() {
            s.title = "Title ".repeat(1000);
        }
        let o = RenderOptions { disclaimer: &"careful ".repeat(400), ..O };
        let r = answer(&a, &o);
        r.check().unwrap();
        let d = &r.embeds[0].description;
        assert!(d.contains("> **Collagen**"));
        assert!(d.contains(" …"), "a cut quote says so");
        let quote_end = d.find(" …").unwrap();
        assert!(
            d[..quote_end].ends_with("know."),
            "cut after a whole sentence: {}",
            &d[quote_end - 30..quote_end]
        );
    }

    #[test]
    fn a_decline_names_the_article_and_offers_the_nearest_sections() {
        let mut a = answered("x", vec![]);
        a.answered = false;
        a.excerpt = None;
        a.passage_id = None;
        a.decline_reason = Some("The articles never mention “pizza”.".into());
        a.alternatives = vec![
            alternative("p1", "s1", "First"),
            alternative("p2", "s1", "First again"),
            alternative("p3", "s2", "Second [draft]"),
            alternative("p4", "s3", "Third"),
            alternative("p5", "s4", "Fourth"),
        ];
        let r = answer(&a, &O);
        r.check().unwrap();
        let d = &r.embeds[0].description;
        assert!(d.starts_with("This isn't covered in **What Does Collagen Serum Do?**."), "{d}");
        assert!(d.contains("pizza"));
        assert!(d.contains("• [Second \\[draft\\]](https://example.test/collagen#post-procedure-recovery)"));
        let ids: Vec<&str> = r.buttons.iter().map(|b| b.custom_id.as_str()).collect();
        assert_eq!(ids, ["cb1:s:0123abcd:s1", "cb1:s:0123abcd:s2", "cb1:s:0123abcd:s3"]);
    }

    #[test]
    fn a_decline_without_any_source_names_the_corpus() {
        let mut a = answered("x", vec![]);
        a.answered = false;
        a.source = None;
        a.alternatives.clear();
        let r = answer(&a, &O);
        assert!(r.embeds[0].description.starts_with("This isn't covered in **the articles**."));
        assert!(r.buttons.is_empty());
    }

    /// The passages of the section headed `heading` in a Markdown article, as the index stores them.
    fn section_of(markdown: &str, heading: &str) -> Vec<StoredPassage> {
        let (article, _) =
            crate::corpus::parse_file(std::path::Path::new("a.md"), "a.md", markdown.as_bytes());
        let corpus = crate::corpus::Corpus {
            articles: article.into_iter().collect(),
            warnings: vec![],
            fingerprint: "0123abcd".into(),
        };
        let index = crate::index::SearchIndex::build_in_ram(&corpus).unwrap();
        let id = index.meta().articles[0]
            .sections
            .iter()
            .find(|s| s.heading_path.last().is_some_and(|h| h == heading))
            .map(|s| s.id.clone())
            .unwrap();
        index.section_passages(&id).unwrap()
    }

    #[test]
    fn a_short_section_is_one_private_message_with_each_lead_in_once() {
        let md = "# Article\n\n## Section\n\nIntro paragraph. The items are:\n\n- One\n- Two\n\nStandalone lead:\n\n- Three\n";
        let passages = section_of(md, "Section");
        assert!(passages.iter().any(|p| p.kind == PassageKind::ListItem), "{passages:?}");
        let replies = section(&passages, &source(Some("https://example.test/a")), &O);
        assert_eq!(replies.len(), 1);
        let r = &replies[0];
        assert!(r.ephemeral);
        r.check().unwrap();
        let d = &r.embeds[0].description;
        assert!(d.starts_with("Intro paragraph. The items are:\n\n• One\n\n• Two"), "{d}");
        assert_eq!(d.matches("The items are:").count(), 1, "{d}");
        assert_eq!(d.matches("Standalone lead:").count(), 1, "{d}");
        assert_eq!(r.embeds[0].title.as_deref(), Some("Section"));
    }

    #[test]
    fn a_long_section_is_split_over_embeds_and_messages_within_limits() {
        let long = "A sentence about collagen and hydration that goes on for a while. ".repeat(60);
        let md = format!("# Article\n\n## Long\n\n{}", format!("{long}\n\n").repeat(12));
        let passages = section_of(&md, "Long");
        assert_eq!(passages.len(), 12);
        let replies = section(&passages, &source(None), &O);
        assert!(replies.len() > 1 && replies.len() <= SECTION_MESSAGES, "{}", replies.len());
        for r in &replies {
            r.check().unwrap();
            assert!(r.ephemeral);
        }
        assert!(replies.iter().map(|r| r.embeds.len()).sum::<usize>() > 2);
        let last = replies.last().unwrap().embeds.last().unwrap();
        assert!(last.footer.is_some());
        assert!(last.description.ends_with("*The section goes on in the article.*"));
        assert!(section(&[], &source(None), &O).is_empty());
    }

    fn article(n_sections: usize, url: Option<&str>) -> ArticleInfo {
        let mut sections = vec![crate::index::SectionInfo {
            id: "s0".into(),
            heading_path: vec!["Article".into()],
            anchor: "article".into(),
            passages: 2,
        }];
        for i in 0..n_sections {
            sections.push(crate::index::SectionInfo {
                id: format!("s{}", i + 1),
                heading_path: vec!["Article".into(), format!("Section number {i} about skin")],
                anchor: format!("section-{i}"),
                passages: 1,
            });
        }
        ArticleInfo {
            path: "a.md".into(),
            title: "Article".into(),
            url: url.map(str::to_string),
            publisher: Some("Clinic".into()),
            published: None,
            sections,
        }
    }

    #[test]
    fn topics_list_sections_within_limits() {
        let r = topics(&[article(3, Some("https://example.test/a"))]);
        r.check().unwrap();
        assert!(r.ephemeral);
        assert!(
            r.embeds[0]
                .description
                .contains("• [Section number 1 about skin](https://example.test/a#section-1)")
        );
        let many: Vec<ArticleInfo> = (0..15).map(|_| article(400, None)).collect();
        let r = topics(&many);
        r.check().unwrap();
        assert!(r.embeds[0].description.contains("more sections"));
        assert_eq!(r.content.as_deref(), Some("Showing 10 of 15 articles."));
    }

    #[test]
    fn source_info_names_the_version() {
        let meta = IndexMeta {
            fingerprint: "0123abcdffff".into(),
            passages: 42,
            articles: vec![article(1, Some("https://example.test/a"))],
            ..IndexMeta::default()
        };
        let r = source_info(&meta, &O);
        r.check().unwrap();
        let d = &r.embeds[0].description;
        assert!(d.contains("`0123abcd`") && d.contains("42 passages"), "{d}");
        assert!(d.contains("• [Article](https://example.test/a) (Clinic)"), "{d}");
    }

    #[test]
    fn autocomplete_prefers_prefixes_and_caps_at_25() {
        let a = article(40, None);
        let got = autocomplete(std::slice::from_ref(&a), "section number 1");
        assert_eq!(got[0].0, "Section number 1 about skin");
        let prefixed = got.iter().take_while(|(n, _)| n.starts_with("Section number 1")).count();
        assert_eq!(prefixed, 11, "1 and 10-19 first: {got:?}");
        assert!(got[prefixed..].iter().all(|(n, _)| !n.starts_with("Section number 1")));
        assert_eq!(autocomplete(std::slice::from_ref(&a), "").len(), 25);
        let got = autocomplete(std::slice::from_ref(&a), "skin 3");
        assert!(got.iter().any(|(n, _)| n == "Section number 3 about skin"));
        assert!(autocomplete(&[a], "zzz").is_empty());
    }

    #[test]
    fn next_passage_excerpts_bold_the_answer_words() {
        let p = section_of("# Article\n\n## Care\n\nCollagen supports skin recovery.\n", "Care").remove(0);
        let terms = terms_of_words(&["recovery".to_string()]);
        let (text, highlights, truncated) = excerpt_of(&p, &terms, 700);
        assert_eq!(text, p.text);
        assert!(!truncated);
        assert_eq!(highlights.iter().map(|&(s, e)| &text[s..e]).collect::<Vec<_>>(), ["recovery"]);
    }
}
