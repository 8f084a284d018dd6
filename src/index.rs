//! The search index: the only module that knows Tantivy.
//!
//! It stores every passage with its heading path and article title in separately weighted fields,
//! analysed by [`crate::analysis`] (registered as a Tantivy tokenizer, so indexing and questions
//! agree on what a term is). Beside the Tantivy files it keeps `citebot-meta.json`: the corpus
//! fingerprint, the article and section list, and the corpus's surface vocabulary for spelling
//! correction.
//!
//! On disk, `index/` holds generations: `CURRENT` names the live one. A build writes a new generation
//! in a temporary directory, renames it into place and only then switches `CURRENT` (an atomic
//! rename), so a crash mid-build leaves the previous index in service. It is not a place for ranking
//! policy: callers pass weighted terms and get BM25-scored passages back.

use crate::analysis;
use crate::corpus::{Corpus, PassageKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, ReloadPolicy, TantivyDocument, Term, doc};

/// Bumped whenever the schema or stored layout changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: u32 = 4;
const META_FILE: &str = "citebot-meta.json";
const CURRENT_FILE: &str = "CURRENT";
const TOKENIZER: &str = "citebot";
const WRITER_MEMORY: usize = 64 * 1024 * 1024;

/// The names of the index fields, in one place.
pub mod field {
    /// Passage id (exact).
    pub const ID: &str = "id";
    /// Section id (exact), for fetching a whole section.
    pub const SECTION_ID: &str = "section_id";
    /// Article path relative to the corpus directory.
    pub const ARTICLE: &str = "article";
    /// Passage text as searched (heading echoes blanked), analysed.
    pub const TEXT: &str = "text";
    /// Passage text as quoted (stored only).
    pub const QUOTE: &str = "quote";
    /// The passage's analysed features, in their compact stored form (stored only).
    pub const FEATURES: &str = "features";
    /// Section and sub-section headings (not the article title), analysed.
    pub const HEADING: &str = "heading";
    /// Article title, analysed.
    pub const TITLE: &str = "title";
    /// The sentence introducing a list item or table row, and a row's header labels, analysed.
    pub const CONTEXT: &str = "context";
    /// The sentence introducing a list item or table row, as written (stored only).
    pub const LEAD: &str = "lead";
    /// Heading path as JSON (stored only).
    pub const HEADING_PATH: &str = "heading_path";
    /// Section anchor (stored only).
    pub const ANCHOR: &str = "anchor";
    /// Passage kind (stored only).
    pub const KIND: &str = "kind";
    /// Position in the section (stored, indexed).
    pub const POSITION: &str = "position";
    /// Line in the file (stored only).
    pub const LINE: &str = "line";
}

/// Which analysed field a term is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    /// The passage text.
    Text,
    /// The section headings.
    Heading,
    /// The article title.
    Title,
    /// The list or table lead-in.
    Context,
}

/// One clause of a search: a term in a field with a boost.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedTerm {
    /// An analysed term (see [`analysis::term_of`]).
    pub term: String,
    /// Where to look for it.
    pub field: SearchField,
    /// Multiplies the BM25 score of this clause.
    pub boost: f32,
}

/// A passage as stored in the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPassage {
    /// Passage id.
    pub id: String,
    /// Section id.
    pub section_id: String,
    /// Article path.
    pub article_path: String,
    /// Article title > section > sub-section.
    pub heading_path: Vec<String>,
    /// Section anchor.
    pub anchor: String,
    /// Paragraph, list item or table row.
    pub kind: PassageKind,
    /// Verbatim text.
    pub text: String,
    /// List or table lead-in.
    pub context: Option<String>,
    /// Position within the section.
    pub position: u64,
    /// Line in the article file.
    pub line: u64,
    /// The passage analysed for retrieval.
    pub features: crate::analysis::PassageFeatures,
}

/// A search result.
#[derive(Debug, Clone)]
pub struct Hit {
    /// BM25 score (with boosts).
    pub score: f32,
    /// The passage.
    pub passage: StoredPassage,
}

/// What the index remembers about the corpus it was built from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexMeta {
    /// Schema version the index was written with.
    pub schema_version: u32,
    /// Analysis version the index was written with.
    pub analysis_version: u32,
    /// Corpus fingerprint (see [`Corpus::fingerprint`]).
    pub fingerprint: String,
    /// Seconds since the Unix epoch when built.
    pub built_at: u64,
    /// Number of passages.
    pub passages: usize,
    /// Articles and their sections.
    pub articles: Vec<ArticleInfo>,
    /// Every lower-case word of the corpus (text, headings, titles) mapped to its term.
    pub vocabulary: BTreeMap<String, String>,
}

impl IndexMeta {
    /// What answers call the corpus: the article's title when there is one article, else
    /// "the articles". Every front end names the corpus through this.
    pub fn corpus_title(&self) -> &str {
        match self.articles.as_slice() {
            [one] => one.title.as_str(),
            _ => "the articles",
        }
    }
}

/// An article as listed by `topics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ArticleInfo {
    /// Path relative to the corpus directory.
    pub path: String,
    /// Title.
    pub title: String,
    /// Web address, if any.
    pub url: Option<String>,
    /// Publisher, if known.
    pub publisher: Option<String>,
    /// Publication date as written, if known.
    pub published: Option<String>,
    /// Sections in order.
    pub sections: Vec<SectionInfo>,
}

/// A section as listed by `topics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SectionInfo {
    /// Section id.
    pub id: String,
    /// Article title > section > sub-section.
    pub heading_path: Vec<String>,
    /// Anchor.
    pub anchor: String,
    /// How many passages it has.
    pub passages: usize,
}

/// Index failures. A missing or outdated index is rebuilt by the caller; the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No index has been built in this directory yet.
    #[error("no index has been built in {0} yet")]
    Missing(PathBuf),
    /// The index was built by another version of citebot.
    #[error("the index in {0} was built by another version of citebot")]
    Outdated(PathBuf),
    /// The index files are damaged.
    #[error("the index in {path} is damaged: {reason}")]
    Damaged {
        /// Index directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Filesystem trouble while building or opening.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Tantivy reported an error.
    #[error("search engine error: {0}")]
    Engine(#[from] tantivy::TantivyError),
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    section_id: Field,
    article: Field,
    text: Field,
    quote: Field,
    features: Field,
    heading: Field,
    title: Field,
    context: Field,
    lead: Field,
    heading_path: Field,
    anchor: Field,
    kind: Field,
    position: Field,
    line: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analysed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        id: b.add_text_field(field::ID, STRING | STORED),
        section_id: b.add_text_field(field::SECTION_ID, STRING | STORED),
        article: b.add_text_field(field::ARTICLE, STRING | STORED),
        text: b.add_text_field(field::TEXT, analysed.clone()),
        quote: b.add_text_field(field::QUOTE, STORED),
        features: b.add_text_field(field::FEATURES, STORED),
        heading: b.add_text_field(field::HEADING, analysed.clone()),
        title: b.add_text_field(field::TITLE, analysed.clone()),
        context: b.add_text_field(field::CONTEXT, analysed),
        lead: b.add_text_field(field::LEAD, STORED),
        heading_path: b.add_text_field(field::HEADING_PATH, STORED),
        anchor: b.add_text_field(field::ANCHOR, STORED),
        kind: b.add_text_field(field::KIND, STORED),
        position: b.add_u64_field(field::POSITION, STORED | INDEXED),
        line: b.add_u64_field(field::LINE, STORED),
    };
    (b.build(), fields)
}

/// Feeds [`analysis::tokenize`] to Tantivy: non-stop terms with their offsets.
#[derive(Clone, Default)]
struct CitebotTokenizer {
    tokens: Vec<Token>,
}

struct VecStream<'a> {
    tokens: &'a [Token],
    next: usize,
}

impl Tokenizer for CitebotTokenizer {
    type TokenStream<'a> = VecStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecStream<'a> {
        self.tokens.clear();
        for (position, t) in analysis::tokenize(text).into_iter().filter(|t| !t.stop).enumerate() {
            self.tokens.push(Token {
                offset_from: t.start,
                offset_to: t.end,
                position,
                text: t.term,
                position_length: 1,
            });
        }
        VecStream { tokens: &self.tokens, next: 0 }
    }
}

impl TokenStream for VecStream<'_> {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        // Tantivy only mutates tokens in filters, which this tokenizer has none of.
        unreachable!("CitebotTokenizer tokens are not mutated")
    }
}

/// A complete index built beside the current one, not yet in service.
#[derive(Debug)]
pub struct StagedIndex {
    index: Option<SearchIndex>,
    dir: PathBuf,
    tmp: PathBuf,
    stamp: String,
}

impl StagedIndex {
    /// The staged index, for trying it before it goes into service.
    pub fn index(&self) -> &SearchIndex {
        self.index.as_ref().expect("a staged index is present until committed")
    }

    /// The directory of the staged generation, where derived files that go into service with it
    /// (the passage vectors) are written before [`StagedIndex::commit`].
    pub fn generation_dir(&self) -> &Path {
        &self.tmp
    }

    /// Takes the staged index out, for serving from it in memory; its files stay until
    /// [`StagedIndex::commit`] or drop.
    pub fn take(&mut self) -> Option<SearchIndex> {
        self.index.take()
    }

    /// Makes the staged index the current one (atomic rename of `CURRENT`) and returns it, opened
    /// from its final place. Older generations are removed; processes still reading them keep their
    /// open files.
    pub fn commit(mut self) -> Result<SearchIndex, IndexError> {
        self.index = None;
        let generation = format!("gen-{}", self.stamp);
        let live = self.dir.join(&generation);
        std::fs::rename(&self.tmp, &live).map_err(io_err("could not move the new index into", &live))?;
        let current_tmp = self.dir.join(format!(".{CURRENT_FILE}.{}", self.stamp));
        write_synced(&current_tmp, generation.as_bytes())?;
        std::fs::rename(&current_tmp, self.dir.join(CURRENT_FILE))
            .map_err(io_err("could not switch to the new index in", &self.dir))?;
        sync_dir(&self.dir);
        remove_old_generations(&self.dir, &generation);
        SearchIndex::open(&self.dir)
    }
}

impl Drop for StagedIndex {
    fn drop(&mut self) {
        // Not committed: the build is abandoned.
        if self.tmp.exists() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// An open index: one reader for the life of the process, a fresh searcher per query.
pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
    meta: IndexMeta,
    /// Directory of the generation in use (None in memory).
    location: Option<PathBuf>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("location", &self.location)
            .field("passages", &self.meta.passages)
            .field("fingerprint", &self.meta.fingerprint)
            .finish()
    }
}

fn register(index: &Index) {
    index.tokenizers().register(TOKENIZER, CitebotTokenizer::default());
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + use<> {
    let path = path.to_path_buf();
    move |source| IndexError::Io { action, path, source }
}

impl SearchIndex {
    /// Builds an index of `corpus` in memory (for tests and the embedded default corpus).
    pub fn build_in_ram(corpus: &Corpus) -> Result<SearchIndex, IndexError> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        register(&index);
        let meta = write_documents(&index, fields, corpus, &|_, _| {})?;
        Self::from_index(index, fields, meta, None)
    }

    /// Builds an index of `corpus` under `dir` and makes it the current one, atomically. A crash
    /// at any point leaves the previous index (if any) current.
    pub fn build(corpus: &Corpus, dir: &Path) -> Result<SearchIndex, IndexError> {
        Self::build_staged(corpus, dir)?.commit()
    }

    /// Builds an index of `corpus` beside the current one under `dir`, without switching to it:
    /// the caller can try it first, then [`StagedIndex::commit`] or drop it.
    pub fn build_staged(corpus: &Corpus, dir: &Path) -> Result<StagedIndex, IndexError> {
        Self::build_staged_with_progress(corpus, dir, &|_, _| {})
    }

    /// [`SearchIndex::build_staged`], reporting progress as passages are written.
    pub fn build_staged_with_progress(
        corpus: &Corpus,
        dir: &Path,
        progress: Progress,
    ) -> Result<StagedIndex, IndexError> {
        std::fs::create_dir_all(dir).map_err(io_err("could not create the index directory", dir))?;
        remove_stale_builds(dir);
        let stamp = format!(
            "{}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
            std::process::id()
        );
        let tmp = dir.join(format!(".build-{stamp}"));
        std::fs::create_dir_all(&tmp).map_err(io_err("could not create", &tmp))?;
        let result = (|| {
            let (schema, fields) = schema();
            let index = Index::create_in_dir(&tmp, schema)?;
            register(&index);
            let meta = write_documents(&index, fields, corpus, progress)?;
            let meta_json = serde_json::to_vec(&meta).expect("index metadata serialises");
            write_synced(&tmp.join(META_FILE), &meta_json)?;
            Self::open_generation(dir, &tmp)
        })();
        match result {
            Ok(index) => Ok(StagedIndex { index: Some(index), dir: dir.to_path_buf(), tmp, stamp }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    /// Opens the current index under `dir`.
    pub fn open(dir: &Path) -> Result<SearchIndex, IndexError> {
        Self::open_generation(dir, &current_generation(dir)?)
    }

    fn open_generation(dir: &Path, live: &Path) -> Result<SearchIndex, IndexError> {
        let live = live.to_path_buf();
        let meta_bytes = std::fs::read(live.join(META_FILE)).map_err(|e| IndexError::Damaged {
            path: dir.to_path_buf(),
            reason: format!("{META_FILE}: {e}"),
        })?;
        let meta: IndexMeta =
            serde_json::from_slice(&meta_bytes).map_err(|_| IndexError::Outdated(dir.into()))?;
        if meta.schema_version != SCHEMA_VERSION || meta.analysis_version != analysis::ANALYSIS_VERSION {
            return Err(IndexError::Outdated(dir.to_path_buf()));
        }
        let index = Index::open_in_dir(&live)
            .map_err(|e| IndexError::Damaged { path: dir.to_path_buf(), reason: e.to_string() })?;
        register(&index);
        let (_, fields) = schema();
        if index.schema() != schema().0 {
            return Err(IndexError::Outdated(dir.to_path_buf()));
        }
        Self::from_index(index, fields, meta, Some(live))
    }

    /// The directory of the current generation under `dir`, if there is one.
    pub fn current_dir(dir: &Path) -> Option<PathBuf> {
        current_generation(dir).ok()
    }

    /// The directory of the generation this index was opened from (None in memory).
    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// The fingerprint of the corpus the current index under `dir` was built from, if readable.
    pub fn stored_fingerprint(dir: &Path) -> Option<String> {
        let live = current_generation(dir).ok()?;
        let meta: IndexMeta = serde_json::from_slice(&std::fs::read(live.join(META_FILE)).ok()?).ok()?;
        (meta.schema_version == SCHEMA_VERSION && meta.analysis_version == analysis::ANALYSIS_VERSION)
            .then_some(meta.fingerprint)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        meta: IndexMeta,
        location: Option<PathBuf>,
    ) -> Result<SearchIndex, IndexError> {
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        // Fail now, not on the first question, if the segments cannot be read.
        let searcher = reader.searcher();
        if searcher.num_docs() as usize != meta.passages {
            return Err(IndexError::Damaged {
                path: location.clone().unwrap_or_default(),
                reason: format!("{} passages found, {} expected", searcher.num_docs(), meta.passages),
            });
        }
        Ok(SearchIndex { reader, fields, meta, location })
    }

    /// What the index knows about its corpus.
    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    /// Number of passages.
    pub fn num_passages(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn field(&self, f: SearchField) -> Field {
        match f {
            SearchField::Text => self.fields.text,
            SearchField::Heading => self.fields.heading,
            SearchField::Title => self.fields.title,
            SearchField::Context => self.fields.context,
        }
    }

    /// In how many passages `term` occurs in `field`.
    pub fn doc_freq(&self, term: &str, field: SearchField) -> u64 {
        let t = Term::from_field_text(self.field(field), term);
        self.reader.searcher().doc_freq(&t).unwrap_or(0)
    }

    /// The best `limit` passages for a disjunction of weighted terms, best first.
    pub fn search(&self, terms: &[WeightedTerm], limit: usize) -> Result<Vec<Hit>, IndexError> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|wt| {
                let term = Term::from_field_text(self.field(wt.field), &wt.term);
                let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Should, Box::new(BoostQuery::new(q, wt.boost)) as Box<dyn Query>)
            })
            .collect();
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(Hit { score, passage: self.stored(&doc) });
        }
        Ok(hits)
    }

    /// Every passage of a section, in order.
    pub fn section_passages(&self, section_id: &str) -> Result<Vec<StoredPassage>, IndexError> {
        self.exact(self.fields.section_id, section_id, 10_000).map(|mut v| {
            v.sort_by_key(|p| p.position);
            v
        })
    }

    /// One passage by id.
    pub fn passage(&self, id: &str) -> Result<Option<StoredPassage>, IndexError> {
        Ok(self.exact(self.fields.id, id, 1)?.into_iter().next())
    }

    fn exact(&self, field: Field, value: &str, limit: usize) -> Result<Vec<StoredPassage>, IndexError> {
        let query = TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic);
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit).order_by_score())?;
        top.into_iter().map(|(_, a)| Ok(self.stored(&searcher.doc::<TantivyDocument>(a)?))).collect()
    }

    fn stored(&self, doc: &TantivyDocument) -> StoredPassage {
        let f = &self.fields;
        let s = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        let n = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or_default();
        StoredPassage {
            id: s(f.id),
            section_id: s(f.section_id),
            article_path: s(f.article),
            heading_path: serde_json::from_str(&s(f.heading_path)).unwrap_or_default(),
            anchor: s(f.anchor),
            kind: serde_json::from_str(&format!("\"{}\"", s(f.kind))).unwrap_or(PassageKind::Paragraph),
            text: s(f.quote),
            features: crate::analysis::PassageFeatures::decode(&s(f.features)),
            context: Some(s(f.lead)).filter(|c| !c.is_empty()),
            position: n(f.position),
            line: n(f.line),
        }
    }
}

/// Told how many passages have been written, and how many there are.
pub type Progress<'a> = &'a dyn Fn(usize, usize);

fn write_documents(
    index: &Index,
    f: Fields,
    corpus: &Corpus,
    progress: Progress,
) -> Result<IndexMeta, IndexError> {
    let total: usize = corpus.articles.iter().map(|a| a.passages.len()).sum();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(4);
    let mut writer = index.writer_with_num_threads::<TantivyDocument>(threads, WRITER_MEMORY * threads)?;
    let mut vocabulary = BTreeMap::new();
    let mut articles = Vec::with_capacity(corpus.articles.len());
    let mut count = 0usize;
    for article in &corpus.articles {
        let mut per_section: HashMap<usize, usize> = HashMap::new();
        add_vocabulary(&mut vocabulary, &article.meta.title);
        for s in &article.sections {
            for h in &s.heading_path {
                add_vocabulary(&mut vocabulary, h);
            }
        }
        for p in &article.passages {
            let section = &article.sections[p.section];
            add_vocabulary(&mut vocabulary, &p.text);
            if let Some(c) = &p.context {
                add_vocabulary(&mut vocabulary, c);
            }
            *per_section.entry(p.section).or_default() += 1;
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            writer.add_document(doc!(
                f.id => p.id.as_str(),
                f.section_id => section.id.as_str(),
                f.article => article.path.as_str(),
                f.text => p.searchable_text(),
                f.quote => p.text.as_str(),
                f.features => p.features.encode(),
                f.heading => section.heading_path[1..].join(". "),
                f.title => article.meta.title.as_str(),
                f.context => p.searchable_context(),
                f.lead => p.context.clone().unwrap_or_default(),
                f.heading_path => serde_json::to_string(&section.heading_path).expect("strings serialise"),
                f.anchor => section.anchor.as_str(),
                f.kind => kind,
                f.position => p.position as u64,
                f.line => p.line as u64,
            ))?;
            count += 1;
            if count.is_multiple_of(1000) {
                progress(count, total);
            }
        }
        articles.push(ArticleInfo {
            path: article.path.clone(),
            title: article.meta.title.clone(),
            url: article.meta.url.clone(),
            publisher: article.meta.publisher.clone(),
            published: article.meta.published.clone(),
            sections: article
                .sections
                .iter()
                .enumerate()
                .map(|(i, s)| SectionInfo {
                    id: s.id.clone(),
                    heading_path: s.heading_path.clone(),
                    anchor: s.anchor.clone(),
                    passages: per_section.get(&i).copied().unwrap_or(0),
                })
                .collect(),
        });
    }
    writer.commit()?;
    // One segment: every term is looked up once per question instead of once per segment.
    let segments = index.searchable_segment_ids()?;
    if segments.len() > 1 {
        writer.merge(&segments).wait()?;
    }
    writer.wait_merging_threads()?;
    progress(count, total);
    Ok(IndexMeta {
        schema_version: SCHEMA_VERSION,
        analysis_version: analysis::ANALYSIS_VERSION,
        fingerprint: corpus.fingerprint.clone(),
        built_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        passages: count,
        articles,
        vocabulary,
    })
}

fn add_vocabulary(vocabulary: &mut BTreeMap<String, String>, text: &str) {
    for t in analysis::tokenize(text) {
        if !t.stop && !vocabulary.contains_key(&t.surface) {
            vocabulary.insert(t.surface, t.term);
        }
    }
}

fn current_generation(dir: &Path) -> Result<PathBuf, IndexError> {
    let current = dir.join(CURRENT_FILE);
    let name = match std::fs::read_to_string(&current) {
        Ok(name) => name.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(IndexError::Missing(dir.into())),
        Err(e) => return Err(IndexError::Io { action: "could not read", path: current, source: e }),
    };
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(IndexError::Damaged {
            path: dir.into(),
            reason: format!("{CURRENT_FILE} is unreadable"),
        });
    }
    let live = dir.join(name);
    if !live.is_dir() {
        return Err(IndexError::Missing(dir.into()));
    }
    Ok(live)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io_err("could not write", path))?;
    f.write_all(bytes).map_err(io_err("could not write", path))?;
    f.sync_all().map_err(io_err("could not sync", path))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Removes builds abandoned by a crashed process (older than ten minutes).
fn remove_stale_builds(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 600);
        if (name.starts_with(".build-") || name.starts_with(".CURRENT.")) && old {
            let _ = std::fs::remove_dir_all(entry.path()).or_else(|_| std::fs::remove_file(entry.path()));
        }
    }
}

/// Removes generations other than `keep`. Processes still reading them keep their open files.
fn remove_old_generations(dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("gen-") && name != keep {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
