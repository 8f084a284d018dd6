//! Start-up: from a [`Config`] to a ready [`Retriever`], building the index when it is missing,
//! outdated, damaged, or older than the corpus.
//!
//! Every command that answers questions goes through [`open`], so the terminal, the evaluator and the
//! bot answer from the same index the same way. When the default `corpus/` directory is absent the
//! built-in copy of the shipped article is served from memory, so `citebot ask` works anywhere.

use crate::config::Config;
use crate::corpus::{self, Corpus};
use crate::eval::{self, Case};
use crate::index::{IndexError, SearchIndex};
use crate::retrieval::Retriever;
use crate::semantic::{self, Model, ModelError, Semantic, StageError, VectorStats};
use crate::synonyms::Synonyms;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The shipped article and synonyms, compiled in.
pub const EMBEDDED_ARTICLE: (&str, &str) =
    ("what-does-collagen-serum-do.md", include_str!("../corpus/what-does-collagen-serum-do.md"));
/// The shipped synonyms, compiled in.
pub const EMBEDDED_SYNONYMS: &str = include_str!("../corpus/synonyms.txt");
/// The shipped example questions, compiled in.
pub const EMBEDDED_EXAMPLES: &str = include_str!("../corpus/examples.jsonl");

/// Start-up failures a user can fix, and faults.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The corpus directory is missing or unreadable.
    #[error(transparent)]
    Corpus(#[from] corpus::CorpusError),
    /// The corpus has no article with text to quote.
    #[error(
        "the corpus in {0} has no article with text to quote; add a Markdown article there (see README.md)"
    )]
    EmptyCorpus(PathBuf),
    /// The index could not be built or opened.
    #[error("the index could not be built: {0}")]
    Index(#[from] IndexError),
    /// The sentence model is there but cannot be used.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The passage vectors could not be written.
    #[error("the index could not be built: {0}")]
    Vectors(String),
}

impl From<StageError> for StartError {
    fn from(e: StageError) -> Self {
        match e {
            StageError::Index(e) => StartError::Index(e),
            StageError::Model(e) => StartError::Model(e),
            other => StartError::Vectors(other.to_string()),
        }
    }
}

/// What start-up did, for a one-line summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// True when the index was (re)built now.
    pub rebuilt: bool,
    /// Why it was rebuilt, if it was.
    pub reason: Option<String>,
    /// Corpus warnings (each names its file and line).
    pub warnings: Vec<String>,
    /// True when the built-in article is served because the corpus directory is absent.
    pub embedded: bool,
    /// The semantic stage: None when no model is configured or present (words alone).
    pub semantic: Option<VectorStats>,
    /// Where the model was looked for, when none was found there.
    pub model_missing: Option<PathBuf>,
    /// How the decline threshold was placed, when it was placed per corpus.
    pub calibration: Option<crate::calibration::Calibration>,
}

/// Whether to rebuild the index regardless of its fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebuild {
    /// Only when needed.
    IfStale,
    /// Always (`citebot index`).
    Always,
}

/// The retriever's settings from a configuration: `[answer]` and `[retrieval]`, with the decline
/// threshold left to be placed per corpus when `answer.min_confidence` is unset.
pub fn retrieval_settings(config: &Config) -> crate::retrieval::Settings {
    crate::retrieval::Settings {
        min_confidence: config.answer.min_confidence.unwrap_or(crate::config::LEXICAL_MIN_CONFIDENCE),
        calibrate: config.answer.min_confidence.is_none(),
        max_excerpt_chars: config.answer.max_excerpt_chars,
        alternatives: config.answer.alternatives,
        candidates: config.retrieval.candidates,
        analysis: config.retrieval.analysis.clone(),
        example_factor: config.retrieval.example_factor,
    }
}

/// Loads the corpus and synonyms, opens (or builds) the index, and returns the answering engine.
pub fn open(config: &Config, rebuild: Rebuild) -> Result<(Retriever, Loaded), StartError> {
    open_with_progress(config, rebuild, &|_, _| {})
}

/// [`open`], reporting index-building progress (passages written, total).
pub fn open_with_progress(
    config: &Config,
    rebuild: Rebuild,
    progress: crate::index::Progress,
) -> Result<(Retriever, Loaded), StartError> {
    let mut loaded = Loaded::default();
    let synonyms = load_synonyms(config, &mut loaded);
    let settings = retrieval_settings(config);
    let model = load_model(config, &mut loaded)?;

    if !config.corpus.dir.exists() && config.corpus.dir == Path::new("corpus") {
        tracing::info!("no corpus/ directory here; answering from the built-in article");
        loaded.embedded = true;
        let corpus = embedded_corpus();
        let index = SearchIndex::build_in_ram(&corpus)?;
        let semantic = match &model {
            Some(m) => Some(embed(&index, m, None, &mut loaded, progress)?),
            None => None,
        };
        let (cases, warnings) = parse_examples("built-in examples", EMBEDDED_EXAMPLES);
        let retriever = assemble(
            Retriever::new(index, synonyms, settings),
            semantic,
            &cases,
            None,
            warnings,
            &mut loaded,
        )?;
        return Ok((retriever, loaded));
    }

    // The corpus is parsed only when the index must be built: checking that it is current needs
    // the files' bytes alone.
    let fingerprint =
        corpus::fingerprint_dir(&config.corpus.dir, std::slice::from_ref(&config.corpus.synonyms))?;
    let dir = &config.index.dir;
    let stored = SearchIndex::stored_fingerprint(dir);
    let reason = match (&stored, rebuild) {
        (_, Rebuild::Always) => Some("requested".to_string()),
        (None, _) => Some("no usable index yet".to_string()),
        (Some(f), _) if *f != fingerprint => Some("the corpus changed".to_string()),
        _ => None,
    };
    let opened = match reason {
        Some(reason) => Err(reason),
        None => SearchIndex::open(dir).map_err(|e| format!("the index could not be opened ({e})")),
    };
    let (index, semantic) = match opened {
        Ok(index) => {
            let semantic = match &model {
                Some(m) => Some(current_vectors(&index, m, &mut loaded, progress)?),
                None => None,
            };
            (index, semantic)
        }
        Err(reason) => {
            let corpus = load_corpus(config, &mut loaded)?;
            build(&corpus, dir, reason, model.as_ref(), &mut loaded, progress)?
        }
    };
    let (cases, warnings) = examples_file(&config.corpus.examples);
    let cache = examples_cache(config);
    let retriever = assemble(
        Retriever::new(index, synonyms, settings),
        semantic,
        &cases,
        Some(&cache),
        warnings,
        &mut loaded,
    )?;
    Ok((retriever, loaded))
}

/// The sentence model of `[semantic] model_dir`, loaded once per process; None (and a note in
/// `loaded`) when there is none.
fn load_model(config: &Config, loaded: &mut Loaded) -> Result<Option<Arc<Model>>, StartError> {
    let dir = &config.semantic.model_dir;
    let model = semantic::shared(dir)?;
    if model.is_none() && !dir.as_os_str().is_empty() {
        loaded.model_missing = Some(dir.clone());
    }
    Ok(model)
}

/// Vectors for every passage of `index`, reusing `previous` where the text is unchanged.
fn embed(
    index: &SearchIndex,
    model: &Arc<Model>,
    previous: Option<&Semantic>,
    loaded: &mut Loaded,
    progress: crate::index::Progress,
) -> Result<Semantic, StartError> {
    let (semantic, stats) = semantic::vectors_for(index, model, previous, progress)?;
    loaded.semantic = Some(stats);
    Ok(semantic)
}

/// The vectors saved with the current index, or, when they are missing or from another model,
/// new ones (reusing what is there by text) saved into the same generation.
fn current_vectors(
    index: &SearchIndex,
    model: &Arc<Model>,
    loaded: &mut Loaded,
    progress: crate::index::Progress,
) -> Result<Semantic, StartError> {
    let Some(location) = index.location() else {
        return embed(index, model, None, loaded, progress);
    };
    if let Some(semantic) = Semantic::load(location, model, index.num_passages()) {
        loaded.semantic = Some(VectorStats { embedded: 0, reused: semantic.passages() });
        return Ok(semantic);
    }
    tracing::info!("the passage vectors are missing or from another model; embedding the passages");
    let previous = Semantic::load_any(location, model);
    let semantic = embed(index, model, previous.as_ref(), loaded, progress)?;
    semantic.save(location)?;
    Ok(semantic)
}

/// Puts the parts of a retriever together: the semantic stage, the example questions (their
/// analysis saved in `cache`), and the decline threshold placed per corpus when it is not set.
pub fn assemble(
    retriever: Retriever,
    semantic: Option<Semantic>,
    cases: &[Case],
    cache: Option<&Path>,
    warnings: Vec<String>,
    loaded: &mut Loaded,
) -> Result<Retriever, StartError> {
    let retriever = match semantic {
        Some(s) => retriever.with_semantic(s),
        None => retriever,
    };
    let mut retriever = with_examples(retriever, cases, cache, warnings, loaded)?;
    // Words alone keep the fixed threshold; the blend of words and meaning is placed per corpus.
    if retriever.settings().calibrate && retriever.semantic().is_some() {
        let calibration = crate::calibration::cached(&retriever, cases, cache.map(calibration_cache_of))?;
        retriever.set_min_confidence(calibration.threshold);
        loaded.calibration = Some(calibration);
    }
    Ok(retriever)
}

fn calibration_cache_of(examples_cache: &Path) -> PathBuf {
    examples_cache.with_file_name("calibration.json")
}

/// Where the analysed example questions are saved: beside the index they were analysed against.
pub fn examples_cache(config: &Config) -> PathBuf {
    config.index.dir.join("analysed-examples.json")
}

fn with_examples(
    retriever: Retriever,
    cases: &[Case],
    cache: Option<&Path>,
    mut warnings: Vec<String>,
    loaded: &mut Loaded,
) -> Result<Retriever, StartError> {
    let key = retriever.examples_key(cases);
    let (retriever, problems) = match cache.and_then(read_saved_examples).filter(|s| s.key == key) {
        Some(saved) => retriever.with_saved_examples(saved)?,
        None => {
            let (retriever, problems) = retriever.with_examples(cases)?;
            if let Some(path) = cache {
                write_saved_examples(path, &retriever.saved_examples(key, problems.clone()));
            }
            (retriever, problems)
        }
    };
    warnings.extend(problems);
    for msg in warnings {
        tracing::warn!("{msg}");
        loaded.warnings.push(msg);
    }
    Ok(retriever)
}

/// The example analysis saved at `path`, if it is there and readable (a damaged file only costs
/// the time to analyse again).
fn read_saved_examples(path: &Path) -> Option<crate::examples::Saved> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Saves analysed examples through a temporary file and a rename, so a reader never sees half; a
/// file that cannot be written only costs the time to analyse again at the next start.
fn write_saved_examples(path: &Path, saved: &crate::examples::Saved) {
    let Ok(bytes) = serde_json::to_vec(saved) else { return };
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::debug!(path = %path.display(), "could not save the analysed example questions: {e}");
    }
}

/// Reads an example-questions file (eval format, and `#` comment lines): a missing file means none;
/// an unreadable file or a bad line is a warning naming the file (and line), and the file's other
/// lines still count.
pub fn examples_file(path: &Path) -> (Vec<Case>, Vec<String>) {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_examples(&path.display().to_string(), &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "{}: could not read the example questions ({e}); answering without them",
                path.display()
            )],
        ),
    }
}

/// The shipped example questions (warnings dropped: a test checks the file loads cleanly).
pub fn embedded_examples() -> Vec<Case> {
    parse_examples("built-in examples", EMBEDDED_EXAMPLES).0
}

fn parse_examples(name: &str, text: &str) -> (Vec<Case>, Vec<String>) {
    let mut cases = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue; // a comment
        }
        match eval::parse_cases(name, line) {
            Ok(mut parsed) => cases.append(&mut parsed),
            Err(e) => warnings.push(format!("{name}:{}: {}", i + 1, e.message)),
        }
    }
    (cases, warnings)
}

fn build(
    corpus: &Corpus,
    dir: &Path,
    reason: String,
    model: Option<&Arc<Model>>,
    loaded: &mut Loaded,
    progress: crate::index::Progress,
) -> Result<(SearchIndex, Option<Semantic>), StartError> {
    tracing::info!(%reason, dir = %dir.display(), "building the index");
    loaded.rebuilt = true;
    loaded.reason = Some(reason);
    // The vectors of the generation in service, reused for every passage whose text is unchanged.
    let previous = model.and_then(|m| SearchIndex::current_dir(dir).and_then(|d| Semantic::load_any(&d, m)));
    let staged = SearchIndex::build_staged_with_progress(corpus, dir, progress)?;
    let semantic = match model {
        Some(m) => {
            let semantic = embed(staged.index(), m, previous.as_ref(), loaded, progress)?;
            semantic.save(staged.generation_dir())?;
            Some(semantic)
        }
        None => None,
    };
    Ok((staged.commit()?, semantic))
}

/// Loads the configured corpus directory, logging each warning.
pub fn load_corpus(config: &Config, loaded: &mut Loaded) -> Result<Corpus, StartError> {
    let corpus = corpus::load_dir(&config.corpus.dir, std::slice::from_ref(&config.corpus.synonyms))?;
    for w in &corpus.warnings {
        tracing::warn!("{w}");
        loaded.warnings.push(w.to_string());
    }
    if corpus.articles.is_empty() {
        return Err(StartError::EmptyCorpus(config.corpus.dir.clone()));
    }
    Ok(corpus)
}

/// The built-in copy of the shipped article.
pub fn embedded_corpus() -> Corpus {
    let (name, text) = EMBEDDED_ARTICLE;
    let (article, warnings) = corpus::parse_file(Path::new(name), name, text.as_bytes());
    Corpus { articles: article.into_iter().collect(), warnings, fingerprint: corpus::short_id(&[name, text]) }
}

fn load_synonyms(config: &Config, loaded: &mut Loaded) -> Synonyms {
    let path = &config.corpus.synonyms;
    let embedded = !config.corpus.dir.exists() && config.corpus.dir == Path::new("corpus");
    let (synonyms, warnings) = if embedded && !path.exists() {
        let (synonyms, problems) = Synonyms::parse(EMBEDDED_SYNONYMS);
        (synonyms, problems.into_iter().map(|(line, p)| format!("built-in synonyms:{line}: {p}")).collect())
    } else {
        synonyms_file(path)
    };
    for msg in warnings {
        tracing::warn!("{msg}");
        loaded.warnings.push(msg);
    }
    synonyms
}

/// Reads a synonyms file: a missing file means no synonyms; an unreadable one or a bad rule is a
/// warning naming the file (and line).
pub fn synonyms_file(path: &Path) -> (Synonyms, Vec<String>) {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Synonyms::default(), Vec::new()),
        Err(e) => {
            let msg = format!(
                "{}: could not read the synonyms file ({e}); answering without synonyms",
                path.display()
            );
            return (Synonyms::default(), vec![msg]);
        }
    };
    let (synonyms, problems) = Synonyms::parse(&text);
    let warnings =
        problems.into_iter().map(|(line, problem)| format!("{}:{line}: {problem}", path.display())).collect();
    (synonyms, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::test_retriever;

    const FAQ: &str = "# Widget FAQ\n\n## Charging\n\nThe widget charges over USB in two hours.\n";

    fn cases(q: &str) -> Vec<Case> {
        vec![Case { q: q.to_string(), expect: vec!["two hours".to_string()], ood: None }]
    }

    #[test]
    fn the_saved_example_analysis_is_reused_only_for_the_same_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("analysed-examples.json");
        let mine = cases("how fast does it fill up");
        let mut loaded = Loaded::default();
        let r = with_examples(test_retriever(FAQ), &mine, Some(&cache), Vec::new(), &mut loaded).unwrap();
        assert_eq!(r.examples(), 1);
        let saved = read_saved_examples(&cache).expect("saved");
        assert_eq!(saved.key, r.examples_key(&mine));

        // A second start reads it: a doctored copy shows it was read, not analysed again.
        let mut doctored = saved;
        doctored.problems = vec!["from the saved analysis".to_string()];
        write_saved_examples(&cache, &doctored);
        let mut loaded = Loaded::default();
        with_examples(test_retriever(FAQ), &mine, Some(&cache), Vec::new(), &mut loaded).unwrap();
        assert_eq!(loaded.warnings, ["from the saved analysis"]);

        // Other example lines: analysed afresh, and saved in its place.
        let mut loaded = Loaded::default();
        let other = cases("how quickly does it charge");
        let r = with_examples(test_retriever(FAQ), &other, Some(&cache), Vec::new(), &mut loaded).unwrap();
        assert!(loaded.warnings.is_empty());
        assert_eq!(read_saved_examples(&cache).map(|s| s.key), Some(r.examples_key(&other)));
    }

    #[test]
    fn a_damaged_or_unwritable_cache_only_costs_an_analysis() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("analysed-examples.json");
        std::fs::write(&cache, b"{ not json").unwrap();
        assert!(read_saved_examples(&cache).is_none());
        let mine = cases("how fast does it fill up");
        let r = with_examples(test_retriever(FAQ), &mine, Some(&cache), Vec::new(), &mut Loaded::default());
        assert_eq!(r.unwrap().examples(), 1);
        assert!(read_saved_examples(&cache).is_some(), "rewritten");
        let nowhere = dir.path().join("missing/analysed-examples.json");
        let r = with_examples(test_retriever(FAQ), &mine, Some(&nowhere), Vec::new(), &mut Loaded::default());
        assert_eq!(r.unwrap().examples(), 1);
        assert!(!nowhere.exists());
    }
}
