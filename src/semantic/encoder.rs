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
/// The weights, in safetensors (F32, read one tensor at a time).
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
    /// Loads the model in `dir`: its configuration, tokenizer and weights.
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
        let file = Weights::open(&weights).map_err(|e| corrupt(dir, WEIGHTS_FILE, e))?;
        let vb = VarBuilder::from_backend(Box::new(file), DType::F32, device.clone());
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

/// The weights file, read one tensor at a time straight into the buffer the tensor keeps: the
/// process never holds a tensor twice (mapping the file and letting candle copy from the mapping
/// held both, a 205 MiB start-up peak for a 130 MiB process).
struct Weights {
    file: std::sync::Mutex<std::fs::File>,
    /// By name: the dtype, the shape and the byte range (from the start of the file).
    tensors: std::collections::HashMap<String, (String, Vec<usize>, u64, u64)>,
}

/// One entry of a safetensors header.
#[derive(serde::Deserialize)]
struct TensorEntry {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

impl Weights {
    /// Reads the safetensors header of `path` (an 8-byte little-endian length, then that much
    /// JSON naming each tensor's dtype, shape and byte range).
    fn open(path: &Path) -> Result<Weights, String> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let mut len = [0u8; 8];
        file.read_exact(&mut len).map_err(|e| format!("no safetensors header: {e}"))?;
        let len = u64::from_le_bytes(len);
        if len > size.saturating_sub(8) || len > 100 << 20 {
            return Err(format!("the safetensors header says it is {len} bytes long, in a file of {size}"));
        }
        let mut header = vec![0u8; len as usize];
        file.read_exact(&mut header).map_err(|e| format!("the safetensors header is cut short: {e}"))?;
        let entries: std::collections::HashMap<String, serde_json::Value> =
            serde_json::from_slice(&header)
                .map_err(|e| format!("the safetensors header is not JSON: {e}"))?;
        let start = 8 + len;
        let mut tensors = std::collections::HashMap::new();
        for (name, entry) in entries.into_iter().filter(|(n, _)| n != "__metadata__") {
            let e: TensorEntry =
                serde_json::from_value(entry).map_err(|err| format!("tensor {name}: {err}"))?;
            let (begin, end) = (start + e.data_offsets.0, start + e.data_offsets.1);
            if begin > end || end > size {
                return Err(format!("tensor {name} lies outside the file"));
            }
            tensors.insert(name, (e.dtype, e.shape, begin, end));
        }
        Ok(Weights { file: std::sync::Mutex::new(file), tensors })
    }

    /// The tensor `name` as f32 values, with its shape.
    fn read(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>), String> {
        use std::io::{Read, Seek};
        let (dtype, shape, begin, end) = self.tensors.get(name).ok_or_else(|| format!("no tensor {name}"))?;
        if dtype != "F32" {
            return Err(format!("tensor {name} is {dtype}; this build reads F32 weights"));
        }
        let count: usize = shape.iter().product();
        if (end - begin) as usize != count * 4 {
            return Err(format!("tensor {name}: {} bytes for {count} values", end - begin));
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(std::io::SeekFrom::Start(*begin)).map_err(|e| e.to_string())?;
        let mut values = Vec::with_capacity(count);
        let mut chunk = vec![0u8; 1 << 16];
        while values.len() < count {
            let n = ((count - values.len()) * 4).min(chunk.len());
            file.read_exact(&mut chunk[..n]).map_err(|e| format!("tensor {name}: {e}"))?;
            values.extend(chunk[..n].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        Ok((values, shape.clone()))
    }
}

impl candle_nn::var_builder::SimpleBackend for Weights {
    fn get(
        &self,
        shape: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let tensor = self.get_unchecked(name, dtype, device)?;
        if tensor.shape() != &shape {
            return Err(candle_core::Error::UnexpectedShape {
                msg: format!("shape mismatch for {name}"),
                expected: shape,
                got: tensor.shape().clone(),
            }
            .bt());
        }
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, device: &Device) -> candle_core::Result<Tensor> {
        let (values, shape) = self.read(name).map_err(candle_core::Error::Msg)?;
        Tensor::from_vec(values, shape, device)?.to_dtype(dtype)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A safetensors file holding `header` (JSON) and `data`.
    fn file(dir: &Path, header: &str, data: &[u8]) -> PathBuf {
        let path = dir.join("model.safetensors");
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn weights_are_read_tensor_by_tensor_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = [1.0f32, -2.5, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},
            "h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}"#;
        let weights = Weights::open(&file(dir.path(), header, &data)).unwrap();
        assert_eq!(weights.read("a").unwrap(), (vec![1.0, -2.5, 3.0], vec![3]));
        assert!(weights.read("h").unwrap_err().contains("F16"));
        assert!(weights.read("b").unwrap_err().contains("12 bytes for 4 values"));
        assert!(weights.read("missing").is_err());

        let outside = r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#;
        assert!(Weights::open(&file(dir.path(), outside, &data)).err().unwrap().contains("outside the file"));
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, 1u64.to_le_bytes().iter().chain(b"{").copied().collect::<Vec<u8>>()).unwrap();
        assert!(Weights::open(&path).err().unwrap().contains("not JSON"));
        std::fs::write(&path, u64::MAX.to_le_bytes()).unwrap();
        assert!(Weights::open(&path).err().unwrap().contains("header says"));
        std::fs::write(&path, b"abc").unwrap();
        assert!(Weights::open(&path).err().unwrap().contains("no safetensors header"));
    }
}
