//! The corpus: articles on disk turned into sections and passages, the units the bot quotes.
//!
//! `corpus/` holds Markdown articles (the source of truth) and optionally plain-text ones. Loading is
//! total: a file that cannot be read or parsed is skipped or degraded with a [`Warning`] naming the
//! file and line, and every other file is still loaded. Nothing here knows about the index or Discord.
//!
//! A passage is one paragraph, one list item (with the sentence that introduces the list kept as
//! separate context), or one table row rendered as `Header: cell; Header: cell`. Passage text is always
//! the article's own words: only markup is removed.

mod frontmatter;
mod markdown;
mod plaintext;

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Files larger than this are skipped with a warning (a corpus article is prose, not a data dump).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Everything loaded from a corpus directory.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Articles in path order.
    pub articles: Vec<Article>,
    /// Problems met while loading, each naming its file (and line where known).
    pub warnings: Vec<Warning>,
    /// A digest of every article file's path and bytes: changes whenever the corpus does.
    pub fingerprint: String,
}

/// One article: its metadata, sections and passages.
#[derive(Debug, Clone)]
pub struct Article {
    /// Path relative to the corpus directory, with `/` separators.
    pub path: String,
    /// Front matter (or what could be inferred without it).
    pub meta: ArticleMeta,
    /// Sections in document order; the first is the article's introduction (heading path = title).
    pub sections: Vec<Section>,
    /// Passages in document order.
    pub passages: Vec<Passage>,
}

/// Article metadata from front matter. Unknown fields are kept in `extra`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticleMeta {
    /// The article's title: front matter `title`, else its first heading, else the file name.
    pub title: String,
    /// Where the article lives on the web, if anywhere.
    pub url: Option<String>,
    /// Who published it.
    pub publisher: Option<String>,
    /// When it was published, as written.
    pub published: Option<String>,
    /// Front matter fields citebot does not use, kept as written.
    pub extra: BTreeMap<String, String>,
}

/// A section: a heading and what follows it up to the next heading of any level.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Stable id (article path + heading path).
    pub id: String,
    /// Article title > section > sub-section.
    pub heading_path: Vec<String>,
    /// GitHub-style anchor of the section's heading.
    pub anchor: String,
    /// 1-based line of the heading in the file.
    pub line: usize,
}

/// What kind of block a passage came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassageKind {
    /// A paragraph.
    Paragraph,
    /// One item of a bulleted or numbered list.
    ListItem,
    /// One body row of a table.
    TableRow,
}

/// The unit of retrieval and quotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// Stable id: a short digest of article path, heading path and position.
    pub id: String,
    /// Path of the article, relative to the corpus directory.
    pub article_path: String,
    /// Index of the section in [`Article::sections`].
    pub section: usize,
    /// Article title > section > sub-section.
    pub heading_path: Vec<String>,
    /// Anchor of the section heading.
    pub anchor: String,
    /// Paragraph, list item or table row.
    pub kind: PassageKind,
    /// The quotable text, verbatim but for removed markup.
    pub text: String,
    /// For list items and table rows: the sentence that introduces them, shown apart from the quote.
    pub context: Option<String>,
    /// Position of the passage within its section, from 0.
    pub position: usize,
    /// 1-based line where the passage starts.
    pub line: usize,
    /// Byte ranges of `text` that repeat one of the article's headings word for word (SEO-style
    /// "To answer What Does X Do, …"). They are quoted but not searched: an echo of a heading
    /// does not make a passage an answer.
    pub echoes: Vec<(usize, usize)>,
    /// Byte ranges of table header labels in `text` ("Primary Function" in a row): searched as
    /// context, not as the row's own words.
    pub labels: Vec<(usize, usize)>,
    /// The passage analysed for retrieval.
    pub features: crate::analysis::PassageFeatures,
}

impl Passage {
    /// The text as searched: heading echoes and table header labels blanked out.
    pub fn searchable_text(&self) -> String {
        blank_spans(&self.text, &[self.echoes.as_slice(), self.labels.as_slice()].concat())
    }

    /// What introduces the passage, as searched: the list/table lead-in and the table header labels.
    pub fn searchable_context(&self) -> String {
        search_context(&self.text, self.context.as_deref(), &self.labels)
    }
}

fn search_context(text: &str, context: Option<&str>, labels: &[(usize, usize)]) -> String {
    let mut out = context.unwrap_or_default().to_string();
    for &(s, e) in labels {
        if let Some(label) = text.get(s..e) {
            out.push_str(". ");
            out.push_str(label);
        }
    }
    out
}

/// A problem with one corpus file. Loading goes on without (part of) that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file, as given to the loader.
    pub file: PathBuf,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// What is wrong and what was done about it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Errors that stop a corpus from loading at all (single bad files only produce warnings).
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The corpus directory does not exist or is not a directory.
    #[error(
        "the corpus directory {0} does not exist; create it and put Markdown articles in it, or set corpus.dir in the configuration"
    )]
    MissingDir(PathBuf),
    /// The directory could not be listed.
    #[error("could not read the corpus directory {path}: {source}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Lists the article files under `dir` (recursively, sorted), leaving out `exclude` and hidden files.
pub fn article_files(dir: &Path, exclude: &[PathBuf]) -> Result<Vec<PathBuf>, CorpusError> {
    if !dir.is_dir() {
        return Err(CorpusError::MissingDir(dir.to_path_buf()));
    }
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|source| CorpusError::Unreadable { path: current.clone(), source })?;
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden || exclude.iter().any(|e| same_file(e, &path)) {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if is_article_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn is_article_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref(),
        Some("md" | "markdown" | "txt")
    )
}

/// Loads every article under `dir`, skipping `exclude` (for example the synonyms file).
pub fn load_dir(dir: &Path, exclude: &[PathBuf]) -> Result<Corpus, CorpusError> {
    scan_dir(dir, exclude, true)
}

/// The fingerprint [`load_dir`] would compute, from the files' bytes alone (nothing is parsed):
/// cheap enough to check at every start whether the index is current.
pub fn fingerprint_dir(dir: &Path, exclude: &[PathBuf]) -> Result<String, CorpusError> {
    Ok(scan_dir(dir, exclude, false)?.fingerprint)
}

fn scan_dir(dir: &Path, exclude: &[PathBuf], parse: bool) -> Result<Corpus, CorpusError> {
    let files = article_files(dir, exclude)?;
    let mut corpus = Corpus::default();
    let mut hasher = Sha256::new();
    for file in files {
        let rel = relative_path(dir, &file);
        let bytes = match read_limited(&file) {
            Ok(bytes) => bytes,
            Err(message) => {
                corpus.warnings.push(Warning { file, line: None, message });
                continue;
            }
        };
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        if !parse {
            continue;
        }
        let (article, warnings) = parse_file(&file, &rel, &bytes);
        corpus.warnings.extend(warnings);
        if let Some(article) = article {
            corpus.articles.push(article);
        }
    }
    corpus.fingerprint = hex::encode(hasher.finalize());
    Ok(corpus)
}

fn read_limited(file: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(file).map_err(|e| format!("could not read the file ({e}); skipped"))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "the file is {} bytes, over the {} byte limit for an article; split it into several articles. Skipped",
            meta.len(),
            MAX_FILE_BYTES
        ));
    }
    std::fs::read(file).map_err(|e| format!("could not read the file ({e}); skipped"))
}

fn relative_path(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap_or(file);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Parses one file's bytes. Never fails: problems become warnings, and a file with nothing usable
/// yields no article.
pub fn parse_file(file: &Path, rel: &str, bytes: &[u8]) -> (Option<Article>, Vec<Warning>) {
    let warn = |line: Option<usize>, message: String| Warning { file: file.to_path_buf(), line, message };
    if bytes.contains(&0) {
        return (None, vec![warn(None, "the file looks binary (it contains NUL bytes); skipped".into())]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            return (
                None,
                vec![warn(Some(line), "the file is not valid UTF-8; save it as UTF-8. Skipped".into())],
            );
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return (None, vec![warn(None, "the file is empty; skipped".into())]);
    }
    let is_txt = file.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    let mut warnings = Vec::new();
    let (meta, body, body_line) = frontmatter::split(text, &mut |line, message| {
        warnings.push(warn(Some(line), message));
    });
    let fallback_title = file
        .file_stem()
        .map(|s| s.to_string_lossy().replace(['-', '_'], " "))
        .unwrap_or_else(|| rel.to_string());
    let mut sink = |line: usize, message: String| warnings.push(warn(Some(line), message));
    let doc = if is_txt {
        plaintext::parse(body, body_line, &mut sink)
    } else {
        markdown::parse(body, body_line, &mut sink)
    };
    let article = build_article(rel, meta, fallback_title, doc);
    if article.passages.is_empty() {
        warnings.push(warn(None, "no text to quote was found in the file; skipped".into()));
        return (None, warnings);
    }
    (Some(article), warnings)
}

/// A parsed document before ids and paths are assigned.
#[derive(Debug, Default)]
struct Doc {
    /// The first level-1 heading, if any.
    h1: Option<String>,
    /// Blocks with the headings above them.
    blocks: Vec<Block>,
    /// Headings in order: (level, text, line).
    headings: Vec<(u8, String, usize)>,
}

#[derive(Debug)]
struct Block {
    /// Index into `Doc::headings` of the heading this block sits under (None: before any).
    heading: Option<usize>,
    kind: PassageKind,
    text: String,
    context: Option<String>,
    /// Byte ranges of table header labels in `text`.
    labels: Vec<(usize, usize)>,
    line: usize,
}

fn build_article(rel: &str, meta: Option<ArticleMeta>, fallback_title: String, doc: Doc) -> Article {
    let mut meta = meta.unwrap_or_default();
    if meta.title.trim().is_empty() {
        meta.title = doc.h1.clone().unwrap_or(fallback_title);
    }
    let title = meta.title.clone();
    let mut anchors = AnchorSet::default();

    // Section 0: the introduction, under the article title.
    let intro_anchor = anchors.make(doc.h1.as_deref().unwrap_or(&title));
    let mut sections = vec![Section {
        id: short_id(&[rel, &title]),
        heading_path: vec![title.clone()],
        anchor: intro_anchor,
        line: 1,
    }];
    // heading index -> section index
    let mut section_of_heading = Vec::with_capacity(doc.headings.len());
    let mut stack: Vec<(u8, String)> = Vec::new();
    for (i, (level, text, line)) in doc.headings.iter().enumerate() {
        let is_title = doc.h1.is_some() && *level == 1 && i == first_h1(&doc);
        if is_title {
            section_of_heading.push(0);
            continue;
        }
        while stack.last().is_some_and(|(l, _)| *l >= *level) {
            stack.pop();
        }
        stack.push((*level, text.clone()));
        let mut heading_path = vec![title.clone()];
        heading_path.extend(stack.iter().map(|(_, t)| t.clone()));
        let key = heading_path.join("\u{1f}");
        sections.push(Section {
            id: short_id(&[rel, &key, &sections.len().to_string()]),
            heading_path,
            anchor: anchors.make(text),
            line: *line,
        });
        section_of_heading.push(sections.len() - 1);
    }

    let heading_words: Vec<Vec<&str>> = std::iter::once(title.as_str())
        .chain(doc.headings.iter().map(|(_, t, _)| t.as_str()))
        .map(raw_words)
        .collect();
    let mut positions = vec![0usize; sections.len()];
    let mut passages = Vec::with_capacity(doc.blocks.len());
    for block in doc.blocks {
        let section = block.heading.map(|h| section_of_heading[h]).unwrap_or(0);
        let position = positions[section];
        positions[section] += 1;
        let s = &sections[section];
        let key = s.heading_path.join("\u{1f}");
        let echoes = echo_spans(&block.text, &heading_words);
        passages.push(Passage {
            id: short_id(&[rel, &key, &position.to_string()]),
            article_path: rel.to_string(),
            section,
            heading_path: s.heading_path.clone(),
            anchor: s.anchor.clone(),
            kind: block.kind,
            features: crate::analysis::PassageFeatures::of(
                &blank_spans(&block.text, &[echoes.as_slice(), block.labels.as_slice()].concat()),
                Some(search_context(&block.text, block.context.as_deref(), &block.labels).as_str())
                    .filter(|c| !c.is_empty()),
                &s.heading_path,
            ),
            echoes,
            labels: block.labels,
            text: block.text,
            context: block.context,
            position,
            line: block.line,
        });
    }
    Article { path: rel.to_string(), meta, sections, passages }
}

/// Minimum number of consecutive heading words that make an echo.
const ECHO_MIN_WORDS: usize = 4;

fn raw_words(text: &str) -> Vec<&str> {
    crate::analysis::tokenize(text).into_iter().map(|t| &text[t.start..t.end]).collect()
}

/// Byte spans of `text` where at least [`ECHO_MIN_WORDS`] consecutive words repeat a run of some
/// heading's words exactly (case included).
pub fn echo_spans(text: &str, headings: &[Vec<&str>]) -> Vec<(usize, usize)> {
    let tokens = crate::analysis::tokenize(text);
    let words: Vec<&str> = tokens.iter().map(|t| &text[t.start..t.end]).collect();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut longest = 0;
        for h in headings {
            for j in 0..h.len() {
                let n = words[i..].iter().zip(&h[j..]).take_while(|(a, b)| a == b).count();
                longest = longest.max(n);
            }
        }
        if longest >= ECHO_MIN_WORDS {
            spans.push((tokens[i].start, tokens[i + longest - 1].end));
            i += longest;
        } else {
            i += 1;
        }
    }
    spans
}

/// `text` with the `spans` blanked out by spaces (offsets stay valid).
pub fn blank_spans(text: &str, spans: &[(usize, usize)]) -> String {
    let mut out = text.to_string();
    for &(s, e) in spans {
        if e <= out.len() && out.is_char_boundary(s) && out.is_char_boundary(e) {
            out.replace_range(s..e, &" ".repeat(e - s));
        }
    }
    out
}

fn first_h1(doc: &Doc) -> usize {
    doc.headings.iter().position(|(l, _, _)| *l == 1).unwrap_or(usize::MAX)
}

/// A 12-hex-digit digest of the parts: short enough for Discord button ids, stable across runs.
pub fn short_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(&h.finalize()[..6])
}

/// GitHub-style heading anchors, with `-1`, `-2` suffixes for repeated headings.
#[derive(Default)]
struct AnchorSet {
    seen: BTreeMap<String, usize>,
}

impl AnchorSet {
    fn make(&mut self, heading: &str) -> String {
        let base = anchor_of(heading);
        let n = self.seen.entry(base.clone()).or_insert(0);
        let anchor = if *n == 0 { base.clone() } else { format!("{base}-{n}") };
        *n += 1;
        anchor
    }
}

/// GitHub's anchor rule: lower-case, drop punctuation but hyphens and spaces, spaces become hyphens.
pub fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Splits text into sentences: after `.`, `!` or `?` (and closing quotes) followed by white space and
/// a capital letter, digit or opening quote. Returns byte ranges covering the whole text.
pub fn sentence_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')') {
                j += 1;
            }
            let end = chars.get(j).map(|(b, _)| *b).unwrap_or(text.len());
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let next_starts = chars
                .get(k)
                .is_some_and(|(_, n)| n.is_uppercase() || n.is_numeric() || matches!(n, '"' | '“' | '‘'));
            if k > j && next_starts {
                spans.push((start, end));
                start = chars[k].0;
                i = k;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        assert_eq!(
            anchor_of("What Does Collagen Serum Do for Skin Firmness?"),
            "what-does-collagen-serum-do-for-skin-firmness"
        );
        assert_eq!(anchor_of("Hydration-Related Benefits"), "hydration-related-benefits");
        let mut set = AnchorSet::default();
        assert_eq!(set.make("FAQ"), "faq");
        assert_eq!(set.make("FAQ"), "faq-1");
    }

    #[test]
    fn heading_echoes_are_found_case_sensitively() {
        let headings = vec![raw_words("What Does Collagen Serum Do for Skin Firmness?")];
        let text = "To answer What Does Collagen Serum Do, it is essential. what does collagen serum do";
        let spans = echo_spans(text, &headings);
        assert_eq!(spans.len(), 1);
        assert_eq!(&text[spans[0].0..spans[0].1], "What Does Collagen Serum Do");
        let blanked = blank_spans(text, &spans);
        assert_eq!(blanked.len(), text.len());
        assert!(!blanked.contains("Collagen"));
    }

    #[test]
    fn sentences_split_at_boundaries_only() {
        let text = "Collagen is a protein. It helps, e.g. with water! Does it? yes. Version 2.5 is out.";
        let parts: Vec<&str> = sentence_spans(text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(
            parts,
            ["Collagen is a protein.", "It helps, e.g. with water!", "Does it? yes.", "Version 2.5 is out."]
        );
    }
}
