//! The sentence encoder: a BERT-family model (all-MiniLM-L6-v2 by default) run in-process with
//! candle, tokenised with the `tokenizers` crate, mean-pooled and L2-normalised, as
//! sentence-transformers does. The only file of citebot that knows the inference engine.

use super::ModelError;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The files a model directory must hold.
pub const CONFIG_FILE: &str = "config.json";
/// The tokenizer, in the `tokenizers` JSON format.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The weights, in safetensors (memory-mapped).
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Longest passage embedded, in tokens (the model's own `max_seq_length`); longer ones are cut.
pub const PASSAGE_TOKENS: usize = 256;
/// Longest question embedded, in tokens.
pub const QUESTION_TOKENS: usize = 128;
/// Passages embedded together (padded to the longest of the batch; passages are sorted by length
/// first so that little padding is computed).
const BATCH: usize = 16;

/// Vectors by the index of the text they embed.
type Embedded = Vec<(usize, Vec<f32>)>;

/// A loaded sentence encoder.
pub struct Encoder {
    model: BertModel,
    /// The tokenizer cutting at [`QUESTION_TOKENS`], and a copy cutting at [`PASSAGE_TOKENS`].
    questions: Tokenizer,
    passages: Tokenizer,
    dim: usize,
    dir: PathBuf,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("dir", &self.dir).field("dim", &self.dim).finish()
    }
}

fn corrupt(dir: &Path, file: &str, reason: impl std::fmt::Display) -> ModelError {
    ModelError::Corrupt { dir: dir.to_path_buf(), file: file.to_string(), reason: reason.to_string() }
}

impl Encoder {
    /// Loads the model in `dir`: its configuration, tokenizer and (memory-mapped) weights.
    pub fn load(dir: &Path) -> Result<Encoder, ModelError> {
        let config_text =
            std::fs::read_to_string(dir.join(CONFIG_FILE)).map_err(|e| corrupt(dir, CONFIG_FILE, e))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| corrupt(dir, CONFIG_FILE, e))?;
        let mut tokenizer =
            Tokenizer::from_file(dir.join(TOKENIZER_FILE)).map_err(|e| corrupt(dir, TOKENIZER_FILE, e))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let cut = |tokenizer: &Tokenizer, max_length: usize| {
            let mut t = tokenizer.clone();
            t.with_truncation(Some(TruncationParams { max_length, ..Default::default() }))
                .map_err(|e| corrupt(dir, TOKENIZER_FILE, e))?;
            Ok::<Tokenizer, ModelError>(t)
        };
        let questions = cut(&tokenizer, QUESTION_TOKENS)?;
        let passages = cut(&tokenizer, PASSAGE_TOKENS)?;
        let weights = dir.join(WEIGHTS_FILE);
        if !weights.is_file() {
            return Err(corrupt(dir, WEIGHTS_FILE, "the file is missing"));
        }
        let device = Device::Cpu;
        // SAFETY: the weights file is mapped read-only; citebot never writes it while it runs (a
        // `model fetch` writes a new file and renames it over the old one, which stays mapped).
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&weights], DType::F32, &device) }
            .map_err(|e| corrupt(dir, WEIGHTS_FILE, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| corrupt(dir, WEIGHTS_FILE, e))?;
        let encoder = Encoder { model, questions, passages, dim: config.hidden_size, dir: dir.to_path_buf() };
        // A file whose tensors have the right names and shapes but cannot be read fails here, once,
        // rather than on the first question.
        encoder.embed(&["ok"], &encoder.questions).map_err(|e| corrupt(dir, WEIGHTS_FILE, e))?;
        Ok(encoder)
    }

    /// Length of a vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Embeds one question.
    pub fn embed_question(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let mut v = self.embed(&[text], &self.questions)?;
        Ok(v.pop().unwrap_or_default())
    }

    /// Embeds passages in batches (sorted by length), one thread per core taking every n-th batch,
    /// calling `progress(done)` after each batch.
    pub fn embed_passages(
        &self,
        texts: &[&str],
        progress: &dyn Fn(usize),
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let batches: Vec<&[usize]> = order.chunks(BATCH).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let results: Vec<Result<Embedded, ModelError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (batches, done, finished) = (&batches, &done, &finished);
                    scope.spawn(move || {
                        let work = || -> Result<Embedded, ModelError> {
                            let mut mine = Vec::new();
                            for chunk in batches.iter().skip(t).step_by(threads) {
                                let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
                                mine.extend(chunk.iter().copied().zip(self.embed(&batch, &self.passages)?));
                                done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
                            }
                            Ok(mine)
                        };
                        let result = work();
                        finished.fetch_add(1, std::sync::atomic::Ordering::Release);
                        result
                    })
                })
                .collect();
            // Progress is reported from here, so the callback need not be shared across threads.
            while finished.load(std::sync::atomic::Ordering::Acquire) < threads {
                progress(done.load(std::sync::atomic::Ordering::Relaxed));
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            progress(done.load(std::sync::atomic::Ordering::Relaxed));
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(ModelError::Inference("an encoder thread panicked".into())))
                })
                .collect()
        });
        let mut out = vec![Vec::new(); texts.len()];
        for part in results {
            for (i, v) in part? {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Makes the encoder's matrix kernels run on the calling thread alone (citebot spreads its own
    /// work over the cores: batches of passages above, questions across requests), unless
    /// `RAYON_NUM_THREADS` says otherwise. A question is a few tokens: splitting its small matrix
    /// products costs more than it saves (p50 16 → 13 ms measured).
    ///
    /// # Safety
    /// Sets an environment variable: call it before any other thread starts (first thing in
    /// `main`).
    pub unsafe fn kernels_on_one_thread() {
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            // SAFETY: the caller guarantees no other thread runs yet.
            unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
        }
    }

    /// Mean-pooled, L2-normalised embeddings of `texts`, tokenised (and cut) by `tokenizer`.
    fn embed(&self, texts: &[&str], tokenizer: &Tokenizer) -> Result<Vec<Vec<f32>>, ModelError> {
        let engine = |e: candle_core::Error| ModelError::Inference(e.to_string());
        let encodings =
            tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| ModelError::Inference(e.to_string()))?;
        let rows = encodings.len();
        let len = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        if rows == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.dim]; rows]);
        }
        let mut ids = Vec::with_capacity(rows * len);
        let mut mask = Vec::with_capacity(rows * len);
        for e in &encodings {
            ids.extend(e.get_ids().iter().copied());
            mask.extend(e.get_attention_mask().iter().copied());
        }
        let device = &self.model.device;
        let ids = Tensor::from_vec(ids, (rows, len), device).map_err(engine)?;
        let mask = Tensor::from_vec(mask, (rows, len), device).map_err(engine)?;
        let types = ids.zeros_like().map_err(engine)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(engine)?;
        // Mean over the real tokens, then unit length.
        let mask = mask.to_dtype(DType::F32).map_err(engine)?.unsqueeze(2).map_err(engine)?;
        let summed = hidden.broadcast_mul(&mask).and_then(|t| t.sum(1)).map_err(engine)?;
        let counts = mask.sum(1).and_then(|t| t.clamp(1e-9, f64::MAX)).map_err(engine)?;
        let mean = summed.broadcast_div(&counts).map_err(engine)?;
        let rows: Vec<Vec<f32>> = mean.to_vec2().map_err(engine)?;
        Ok(rows.into_iter().map(normalised).collect())
    }
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
