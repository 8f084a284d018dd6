//! Hot reload: rebuild the index from the corpus on disk, try it, and only then put it in service.
//!
//! [`reload`] loads the corpus (collecting its warnings), builds a new index generation beside the
//! one in service ([`SearchIndex::build_staged`]), and answers the configured smoke file (the eval
//! format, [`crate::eval`]) from it. Only when the figures meet the configured floors is the new
//! generation committed and swapped into the [`Live`] handle; questions already being answered
//! finish on the old retriever, new ones get the new. On any failure the staged build is dropped,
//! the old index keeps serving, and the error says why (the parse warnings, the smoke figures).
//! A successful reload reports what changed: passages added, removed and changed.
//!
//! [`spawn_watcher`] runs reloads in the background: after changes under the corpus directory
//! (the `notify` crate, debounced) and on SIGHUP. A front end's admin command (`/reindex`) calls
//! [`reload_async`]. Reloads are serialised process-wide, so two triggers never race to commit.
//!
//! It does not decide *when* a corpus is good in general: the smoke file and its floors do.

pub use crate::config::ReloadConfig;

use crate::config::Config;
use crate::corpus;
use crate::eval;
use crate::index::{IndexError, SearchIndex, StoredPassage};
use crate::live::Live;
use crate::retrieval::Retriever;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Passage changes listed one by one in a report, at most (all are counted).
pub const MAX_CHANGES_LISTED: usize = 20;
/// Wrongly answered smoke questions listed, at most.
const MAX_WRONG_LISTED: usize = 10;

/// One reload at a time in this process: a later trigger waits and then builds from the newer files.
static RELOADING: Mutex<()> = Mutex::new(());

/// The smoke test of a new corpus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeResult {
    /// The question file.
    pub file: PathBuf,
    /// Its figures on the new index.
    pub figures: eval::Report,
    /// The accuracy floor.
    pub min_accuracy: f64,
    /// The hit@1 floor, if any.
    pub min_hit_at_1: Option<f64>,
    /// Questions answered wrongly (a few).
    pub wrong: Vec<String>,
}

impl SmokeResult {
    /// Why the figures fall short of the floors, if they do.
    pub fn shortfall(&self) -> Option<String> {
        let mut reasons = Vec::new();
        if self.figures.accuracy < self.min_accuracy {
            reasons.push(format!("accuracy {:.3} is below {:.3}", self.figures.accuracy, self.min_accuracy));
        }
        if let Some(floor) = self.min_hit_at_1
            && self.figures.hit_at_1 < floor
        {
            reasons.push(format!("hit@1 {:.3} is below {floor:.3}", self.figures.hit_at_1));
        }
        (!reasons.is_empty()).then(|| reasons.join(" and "))
    }
}

impl fmt::Display for SmokeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.figures;
        write!(
            f,
            "smoke test {}: {} questions, accuracy {:.3} (floor {:.3}), hit@1 {:.3}",
            self.file.display(),
            r.questions,
            r.accuracy,
            self.min_accuracy,
            r.hit_at_1
        )?;
        if let Some(h) = self.min_hit_at_1 {
            write!(f, " (floor {h:.3})")?;
        }
        for q in &self.wrong {
            write!(f, "\n  wrong: {q}")?;
        }
        Ok(())
    }
}

/// How a passage changed between the old and the new corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new corpus.
    Added,
    /// Only in the old corpus.
    Removed,
    /// In both, with different text.
    Changed,
}

/// One passage that changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassageChange {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// The passage id (stable across edits of its text).
    pub passage_id: String,
    /// Its heading path (in the new corpus; in the old one when removed).
    pub section: Vec<String>,
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReloadReport {
    /// Corpus version served before.
    pub previous_version: String,
    /// Corpus version served now.
    pub corpus_version: String,
    /// Articles now.
    pub articles: usize,
    /// Passages now.
    pub passages: usize,
    /// Passages only in the new corpus.
    pub added: usize,
    /// Passages only in the old corpus.
    pub removed: usize,
    /// Passages in both whose text changed.
    pub changed: usize,
    /// The first [`MAX_CHANGES_LISTED`] changes.
    pub changes: Vec<PassageChange>,
    /// Corpus and synonyms warnings (each names its file and line).
    pub warnings: Vec<String>,
    /// The smoke test, when one is configured.
    pub smoke: Option<SmokeResult>,
    /// Time taken.
    pub elapsed_ms: u64,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reloaded corpus {} (was {}): {} articles, {} passages; {} added, {} removed, {} changed; {} warning(s); {} ms",
            self.corpus_version,
            self.previous_version,
            self.articles,
            self.passages,
            self.added,
            self.removed,
            self.changed,
            self.warnings.len(),
            self.elapsed_ms
        )?;
        for c in &self.changes {
            let kind = match c.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Changed => "changed",
            };
            write!(f, "\n  {kind:<7} {}  {}", c.passage_id, c.section.join(" > "))?;
        }
        let listed = self.changes.len();
        let total = self.added + self.removed + self.changed;
        if total > listed {
            write!(f, "\n  … and {} more", total - listed)?;
        }
        if let Some(smoke) = &self.smoke {
            write!(f, "\n{smoke}")?;
        }
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

/// Why a reload did not go into service. In every case the old index keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The corpus directory could not be read.
    #[error("the corpus could not be loaded: {reason}")]
    Corpus {
        /// What went wrong and how to fix it.
        reason: String,
        /// Warnings met so far.
        warnings: Vec<String>,
    },
    /// No article with text to quote is left (every file missing or broken).
    #[error(
        "the corpus in {} has no article with text to quote; fix the files named in the warnings",
        dir.display()
    )]
    EmptyCorpus {
        /// The corpus directory.
        dir: PathBuf,
        /// The warnings, which say what is wrong with each file.
        warnings: Vec<String>,
    },
    /// The smoke file could not be read or parsed.
    #[error("the smoke file {} could not be used: {reason}; fix it or unset reload.smoke_file", path.display())]
    SmokeFile {
        /// The smoke file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// Corpus warnings.
        warnings: Vec<String>,
    },
    /// The new index answered the smoke file below the floor.
    #[error("the new corpus failed its smoke test: {}", smoke.shortfall().unwrap_or_default())]
    BelowFloor {
        /// The figures.
        smoke: Box<SmokeResult>,
        /// Corpus warnings, which often explain the drop.
        warnings: Vec<String>,
    },
    /// The new index could not be built or committed.
    #[error("the new index could not be built: {source}")]
    Index {
        /// The cause.
        source: IndexError,
        /// Corpus warnings.
        warnings: Vec<String>,
    },
    /// The semantic stage failed (the model or the vectors).
    #[error("the new index could not be built: {reason}")]
    Semantic {
        /// The cause.
        reason: String,
        /// Corpus warnings.
        warnings: Vec<String>,
    },
    /// The reload task died (a bug).
    #[error("the reload stopped unexpectedly: {0}")]
    Interrupted(String),
}

impl ReloadError {
    /// The corpus warnings met before the failure.
    pub fn warnings(&self) -> &[String] {
        match self {
            ReloadError::Corpus { warnings, .. }
            | ReloadError::EmptyCorpus { warnings, .. }
            | ReloadError::SmokeFile { warnings, .. }
            | ReloadError::BelowFloor { warnings, .. }
            | ReloadError::Index { warnings, .. }
            | ReloadError::Semantic { warnings, .. } => warnings,
            ReloadError::Interrupted(_) => &[],
        }
    }

    /// The smoke figures, when the smoke test ran.
    pub fn smoke(&self) -> Option<&SmokeResult> {
        match self {
            ReloadError::BelowFloor { smoke, .. } => Some(smoke),
            _ => None,
        }
    }

    /// True when the people running the bot can fix it (the corpus, the smoke file), false for
    /// faults (disk, index engine, bugs).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, ReloadError::Index { .. } | ReloadError::Interrupted(_))
    }

    /// The reason, the smoke figures and the warnings, for an admin reply or a log line.
    pub fn explain(&self) -> String {
        let mut out = format!("{self}. The previous index keeps serving.");
        if let Some(smoke) = self.smoke() {
            out.push('\n');
            out.push_str(&smoke.to_string());
        }
        for w in self.warnings() {
            out.push_str("\nwarning: ");
            out.push_str(w);
        }
        out
    }
}

/// Rebuilds the index from `config`'s corpus, runs the smoke test of `settings` on it, and swaps
/// it into `live` only if it passes. Blocking (index build): call from a thread or
/// [`reload_async`]. Concurrent calls in one process run one after the other.
pub fn reload(config: &Config, settings: &ReloadConfig, live: &Live) -> Result<ReloadReport, ReloadError> {
    let _one_at_a_time = RELOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = Instant::now();
    let mut warnings = Vec::new();

    let corpus = corpus::load_dir(&config.corpus.dir, std::slice::from_ref(&config.corpus.synonyms))
        .map_err(|e| ReloadError::Corpus { reason: e.to_string(), warnings: Vec::new() })?;
    warnings.extend(corpus.warnings.iter().map(ToString::to_string));
    if corpus.articles.is_empty() {
        return Err(ReloadError::EmptyCorpus { dir: config.corpus.dir.clone(), warnings });
    }
    let (synonyms, synonym_warnings) = crate::app::synonyms_file(&config.corpus.synonyms);
    warnings.extend(synonym_warnings);
    let (examples, example_warnings) = crate::app::examples_file(&config.corpus.examples);
    warnings.extend(example_warnings);
    let cases = match &settings.smoke_file {
        Some(path) => match read_smoke_file(path) {
            Ok(cases) => Some((path, cases)),
            Err(reason) => return Err(ReloadError::SmokeFile { path: path.clone(), reason, warnings }),
        },
        None => None,
    };
    let retrieval = crate::app::retrieval_settings(config);

    let index_err = |warnings: &Vec<String>| {
        let warnings = warnings.clone();
        move |source| ReloadError::Index { source, warnings }
    };
    let semantic_err = |warnings: &Vec<String>| {
        let warnings = warnings.clone();
        move |e: crate::app::StartError| ReloadError::Semantic { reason: e.to_string(), warnings }
    };
    let model =
        crate::semantic::shared(&config.semantic.model_dir).map_err(|e| semantic_err(&warnings)(e.into()))?;
    let mut staged = SearchIndex::build_staged(&corpus, &config.index.dir).map_err(index_err(&warnings))?;
    // Passages whose text is unchanged keep the vectors of the index in service.
    let semantic = match &model {
        Some(m) => {
            let previous = live.current().semantic().cloned();
            let (semantic, _) =
                crate::semantic::vectors_for(staged.index(), m, previous.as_ref(), &|_, _| {})
                    .map_err(|e| semantic_err(&warnings)(e.into()))?;
            semantic.save(staged.generation_dir()).map_err(|e| semantic_err(&warnings)(e.into()))?;
            Some(semantic)
        }
        None => None,
    };
    let cache = crate::app::examples_cache(config);
    let assemble = |retriever: Retriever| {
        // The analysis and the calibration are saved and reused for the committed index (same key).
        crate::app::assemble(
            retriever,
            semantic.clone(),
            &examples,
            Some(&cache),
            Vec::new(),
            &mut crate::app::Loaded::default(),
        )
    };
    let smoke = match cases {
        Some((path, cases)) => {
            let Some(index) = staged.take() else {
                return Err(ReloadError::Interrupted("the staged index was already taken".into()));
            };
            let candidate = assemble(Retriever::new(index, synonyms.clone(), retrieval.clone()))
                .map_err(semantic_err(&warnings))?;
            let smoke = run_smoke(&candidate, path, &cases, settings).map_err(index_err(&warnings))?;
            if smoke.shortfall().is_some() {
                // Dropping `staged` removes the build; the old index was never touched.
                return Err(ReloadError::BelowFloor { smoke: Box::new(smoke), warnings });
            }
            Some(smoke)
        }
        None => None,
    };
    let index = staged.commit().map_err(index_err(&warnings))?;
    let mut loaded = crate::app::Loaded::default();
    let fresh = crate::app::assemble(
        Retriever::new(index, synonyms, retrieval),
        semantic.clone(),
        &examples,
        Some(&cache),
        Vec::new(),
        &mut loaded,
    )
    .map_err(semantic_err(&warnings))?;
    warnings.extend(loaded.warnings);

    let old = live.current();
    let diff = diff_passages(&passages_of(&old), &passages_of(&fresh));
    let report = ReloadReport {
        previous_version: old.corpus_version().to_string(),
        corpus_version: fresh.corpus_version().to_string(),
        articles: fresh.index().meta().articles.len(),
        passages: fresh.index().meta().passages,
        added: diff.iter().filter(|c| c.kind == ChangeKind::Added).count(),
        removed: diff.iter().filter(|c| c.kind == ChangeKind::Removed).count(),
        changed: diff.iter().filter(|c| c.kind == ChangeKind::Changed).count(),
        changes: diff.into_iter().take(MAX_CHANGES_LISTED).collect(),
        warnings,
        smoke,
        elapsed_ms: started.elapsed().as_millis().try_into().unwrap_or(u64::MAX),
    };
    drop(old);
    live.replace(fresh);
    Ok(report)
}

/// [`reload`] on the blocking pool, for async front ends (the `/reindex` command).
pub async fn reload_async(
    config: Arc<Config>,
    settings: ReloadConfig,
    live: Arc<Live>,
) -> Result<ReloadReport, ReloadError> {
    tokio::task::spawn_blocking(move || reload(&config, &settings, &live))
        .await
        .unwrap_or_else(|e| Err(ReloadError::Interrupted(e.to_string())))
}

/// Every passage a retriever serves, in article and section order.
///
/// Built from the section list in the index metadata; a `SearchIndex::all_passages` would do the
/// same in one query.
pub fn passages_of(retriever: &Retriever) -> Vec<StoredPassage> {
    let mut out = Vec::new();
    for article in &retriever.index().meta().articles {
        for section in &article.sections {
            match retriever.section(&section.id) {
                Ok(passages) => out.extend(passages),
                Err(e) => tracing::warn!(section = %section.id, "could not list a section's passages: {e}"),
            }
        }
    }
    out
}

/// Passages added, removed and changed from `old` to `new`, compared by id and text, in id order
/// within each kind (added, then removed, then changed).
pub fn diff_passages(old: &[StoredPassage], new: &[StoredPassage]) -> Vec<PassageChange> {
    let old: BTreeMap<&str, &StoredPassage> = old.iter().map(|p| (p.id.as_str(), p)).collect();
    let new: BTreeMap<&str, &StoredPassage> = new.iter().map(|p| (p.id.as_str(), p)).collect();
    let change = |kind, p: &StoredPassage| PassageChange {
        kind,
        passage_id: p.id.clone(),
        section: p.heading_path.clone(),
    };
    let added =
        new.iter().filter(|(id, _)| !old.contains_key(*id)).map(|(_, p)| change(ChangeKind::Added, p));
    let removed =
        old.iter().filter(|(id, _)| !new.contains_key(*id)).map(|(_, p)| change(ChangeKind::Removed, p));
    let changed = new
        .iter()
        .filter(|(id, p)| old.get(*id).is_some_and(|o| o.text != p.text))
        .map(|(_, p)| change(ChangeKind::Changed, p));
    added.chain(removed).chain(changed).collect()
}

fn read_smoke_file(path: &Path) -> Result<Vec<eval::Case>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("it could not be read ({e})"))?;
    let cases = eval::parse_cases(&path.display().to_string(), &text).map_err(|e| e.to_string())?;
    if cases.is_empty() {
        return Err("it has no questions".into());
    }
    Ok(cases)
}

fn run_smoke(
    retriever: &Retriever,
    path: &Path,
    cases: &[eval::Case],
    settings: &ReloadConfig,
) -> Result<SmokeResult, IndexError> {
    let mut outcomes = Vec::with_capacity(cases.len());
    for case in cases {
        outcomes.push(eval::score(case, &retriever.answer(&case.q)?));
    }
    Ok(SmokeResult {
        file: path.to_path_buf(),
        figures: eval::report(&outcomes),
        min_accuracy: settings.min_accuracy,
        min_hit_at_1: settings.min_hit_at_1,
        wrong: outcomes.iter().filter(|o| !o.right).take(MAX_WRONG_LISTED).map(|o| o.q.clone()).collect(),
    })
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// It must be started from inside a Tokio runtime.
    #[error("the corpus watcher must be started inside the async runtime")]
    NoRuntime,
}

/// A running watcher. Dropping it stops watching (a reload under way still finishes).
#[derive(Debug)]
pub struct Watcher {
    files: Option<notify::RecommendedWatcher>,
    sighup: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// True when file changes are being watched.
    pub fn watches_files(&self) -> bool {
        self.files.is_some()
    }

    /// True when SIGHUP reloads (otherwise the signal keeps its default effect: ending the process).
    pub fn listens_for_sighup(&self) -> bool {
        self.sighup
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What woke the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Files,
    Signal,
}

/// Watches the corpus directory (and the synonyms file) when `settings.watch` is on, and listens
/// for SIGHUP; each trigger runs [`reload`] on the blocking pool and hands the result to
/// `on_report` (after logging it). File changes are debounced by `settings.debounce_ms`; changes
/// during a reload cause one more reload after it. Hidden files (editor swap files), backups
/// ending in `~`, and the index directory are ignored. Failing to watch files or signals is logged
/// and the rest goes on; only a missing runtime is an error.
pub fn spawn_watcher<F>(
    config: Config,
    settings: ReloadConfig,
    live: Arc<Live>,
    on_report: F,
) -> Result<Watcher, WatchError>
where
    F: Fn(&Result<ReloadReport, ReloadError>) + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let files = if settings.watch { watch_files(&config, tx) } else { None };
    let mut hangup = hangup_signal();
    let sighup = hangup.is_some();
    let debounce = Duration::from_millis(settings.debounce_ms);
    let config = Arc::new(config);
    let task = runtime.spawn(async move {
        loop {
            let trigger = tokio::select! {
                Some(()) = rx.recv() => Trigger::Files,
                Some(()) = next_hangup(&mut hangup) => Trigger::Signal,
                else => break,
            };
            if trigger == Trigger::Files {
                // Wait for a quiet spell: editors and `git checkout` write in bursts.
                while let Ok(Some(())) = tokio::time::timeout(debounce, rx.recv()).await {}
            }
            tracing::info!(?trigger, "reloading the corpus");
            let result = reload_async(config.clone(), settings.clone(), live.clone()).await;
            match &result {
                Ok(report) => tracing::info!("{report}"),
                Err(e) if e.is_user_error() => tracing::warn!("corpus not reloaded: {}", e.explain()),
                Err(e) => tracing::error!("corpus not reloaded: {}", e.explain()),
            }
            on_report(&result);
        }
    });
    Ok(Watcher { files, sighup, task })
}

#[cfg(unix)]
type Hangup = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangup = Option<()>;

#[cfg(unix)]
fn hangup_signal() -> Hangup {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).map_err(|e| tracing::warn!("SIGHUP will not reload the corpus: {e}")).ok()
}

#[cfg(not(unix))]
fn hangup_signal() -> Hangup {
    None
}

/// The next SIGHUP; pending forever when signals are not available.
async fn next_hangup(hangup: &mut Hangup) -> Option<()> {
    #[cfg(unix)]
    if let Some(signal) = hangup {
        return signal.recv().await;
    }
    let _ = hangup;
    std::future::pending().await
}

/// Starts the file watcher, sending a unit on `tx` for each relevant change.
fn watch_files(config: &Config, tx: tokio::sync::mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher as _};
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let corpus_dir = absolute(&config.corpus.dir);
    let synonyms = absolute(&config.corpus.synonyms);
    let index_dir = absolute(&config.index.dir);
    let filter = ChangeFilter { corpus_dir: corpus_dir.clone(), synonyms: synonyms.clone(), index_dir };
    let handler = move |event: notify::Result<notify::Event>| match event {
        Ok(event) if filter.matters(&event) => {
            // A full channel already holds a pending change: nothing to add.
            let _ = tx.try_send(());
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("corpus watcher: {e}"),
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!("corpus changes will not be noticed (send SIGHUP to reload): {e}");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&corpus_dir, RecursiveMode::Recursive) {
        tracing::warn!(dir = %corpus_dir.display(), "corpus changes will not be noticed (send SIGHUP to reload): {e}");
        return None;
    }
    if !synonyms.starts_with(&corpus_dir)
        && let Some(parent) = synonyms.parent()
        && let Err(e) = watcher.watch(parent, RecursiveMode::NonRecursive)
    {
        tracing::warn!(file = %synonyms.display(), "synonyms changes will not be noticed: {e}");
    }
    Some(watcher)
}

/// Which file events call for a reload.
struct ChangeFilter {
    corpus_dir: PathBuf,
    synonyms: PathBuf,
    index_dir: PathBuf,
}

impl ChangeFilter {
    fn matters(&self, event: &notify::Event) -> bool {
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return false;
        }
        event.paths.iter().any(|p| self.path_matters(p))
    }

    fn path_matters(&self, path: &Path) -> bool {
        if path == self.synonyms {
            return true;
        }
        if path.starts_with(&self.index_dir) {
            return false;
        }
        let Ok(rel) = path.strip_prefix(&self.corpus_dir) else { return false };
        !rel.components().any(|c| {
            let name = c.as_os_str().to_string_lossy();
            name.starts_with('.') || name.ends_with('~')
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_backup_and_index_files_do_not_trigger() {
        let f = ChangeFilter {
            corpus_dir: "/srv/corpus".into(),
            synonyms: "/srv/synonyms.txt".into(),
            index_dir: "/srv/corpus/index".into(),
        };
        for (path, expected) in [
            ("/srv/corpus/a.md", true),
            ("/srv/corpus/sub/b.md", true),
            ("/srv/corpus/sub", true),
            ("/srv/synonyms.txt", true),
            ("/srv/corpus/.a.md.swp", false),
            ("/srv/corpus/.git/index", false),
            ("/srv/corpus/a.md~", false),
            ("/srv/corpus/index/gen-1/meta.json", false),
            ("/srv/other.md", false),
        ] {
            assert_eq!(f.path_matters(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn floors_name_what_fell_short() {
        let mut smoke = SmokeResult {
            file: "s.jsonl".into(),
            figures: eval::Report { accuracy: 0.5, hit_at_1: 0.9, ..Default::default() },
            min_accuracy: 0.8,
            min_hit_at_1: Some(0.95),
            wrong: vec![],
        };
        let why = smoke.shortfall().unwrap();
        assert!(why.contains("accuracy 0.500 is below 0.800") && why.contains("hit@1 0.900"), "{why}");
        smoke.figures.accuracy = 0.8;
        smoke.min_hit_at_1 = None;
        assert_eq!(smoke.shortfall(), None);
    }

    #[test]
    fn configuration_ranges_are_checked() {
        assert!(ReloadConfig::default().validate().is_ok());
        let bad = ReloadConfig { min_accuracy: 1.5, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("reload.min_accuracy"));
    }
}
