//! Passage vectors: one unit vector per passage, saved beside the Tantivy index in the same
//! generation, keyed by the model's digest, and searched by exact dot products.
//!
//! The file (`vectors.bin`) is a magic line, a little-endian `u32` header length, a JSON header
//! (model digest, dimension, passage ids and the hash of the text each was embedded from), then the
//! vectors as little-endian `f32`. Anything unexpected in it reads as "no vectors", which only costs
//! embedding the passages again.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// File name inside an index generation.
pub const VECTORS_FILE: &str = "vectors.bin";
const MAGIC: &[u8] = b"citebot-vectors 1\n";

#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    model: String,
    dim: usize,
    ids: Vec<String>,
    hashes: Vec<u64>,
    /// The group (section) of each entry, when the entries are passages.
    #[serde(default)]
    parents: Vec<String>,
}

/// The vectors of a corpus's passages, from one model.
#[derive(Debug, Clone, Default)]
pub struct PassageVectors {
    model: String,
    dim: usize,
    ids: Vec<String>,
    hashes: Vec<u64>,
    parents: Vec<String>,
    data: Vec<f32>,
    by_id: HashMap<String, usize>,
}

/// The hash that decides whether a passage's vector can be reused: of the exact text embedded.
pub fn text_hash(text: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

impl PassageVectors {
    /// Vectors from their parts; `vectors[i]` belongs to `ids[i]`, embedded from a text of hash
    /// `hashes[i]`.
    pub fn new(model: &str, dim: usize, ids: Vec<String>, hashes: Vec<u64>, vectors: Vec<Vec<f32>>) -> Self {
        let mut data = Vec::with_capacity(ids.len() * dim);
        for v in &vectors {
            debug_assert_eq!(v.len(), dim);
            data.extend(v.iter().copied().chain(std::iter::repeat(0.0)).take(dim));
        }
        let by_id = ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        PassageVectors { model: model.to_string(), dim, ids, hashes, parents: Vec::new(), data, by_id }
    }

    /// The same vectors, each entry belonging to the group `parents[i]` (a passage's section).
    pub fn with_parents(mut self, parents: Vec<String>) -> Self {
        if parents.len() == self.ids.len() {
            self.parents = parents;
        }
        self
    }

    /// The group of each entry (empty when there are none).
    pub fn parents(&self) -> &[String] {
        &self.parents
    }

    /// The ids, in row order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The row of an id.
    pub fn row_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The cosine of every row to a (unit) question vector, in row order (empty for a vector of
    /// another length).
    pub fn cosines(&self, question: &[f32]) -> Vec<f32> {
        if question.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        self.data.chunks_exact(self.dim).map(|row| dot(row, question)).collect()
    }

    /// The digest of the model the vectors came from.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// How many passages have a vector.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The vector of a passage embedded from a text with this hash, if there is one (for reusing it).
    pub fn reusable(&self, id: &str, hash: u64) -> Option<&[f32]> {
        let &i = self.by_id.get(id)?;
        (self.hashes[i] == hash).then(|| self.row(i))
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The cosine of a passage to a (unit) question vector; None for a passage without a vector.
    pub fn cosine(&self, id: &str, question: &[f32]) -> Option<f32> {
        self.by_id.get(id).map(|&i| dot(self.row(i), question))
    }

    /// The `k` passages nearest to a (unit) question vector, best first: (passage id, cosine).
    /// Exact: one dot product per passage.
    pub fn nearest(&self, question: &[f32], k: usize) -> Vec<(&str, f32)> {
        if question.len() != self.dim || k == 0 {
            return Vec::new();
        }
        // A bounded min-heap would save little at these sizes; a partial sort of the scores does.
        let mut scored: Vec<(f32, usize)> =
            self.data.chunks_exact(self.dim).map(|row| dot(row, question)).zip(0..).collect();
        let k = k.min(scored.len());
        if k < scored.len() {
            scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(k);
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(s, i)| (self.ids[i].as_str(), s)).collect()
    }

    /// Writes the vectors to `path` (through a temporary file and a rename).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let header = Header {
            model: self.model.clone(),
            dim: self.dim,
            ids: self.ids.clone(),
            hashes: self.hashes.clone(),
            parents: self.parents.clone(),
        };
        let header = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("tmp");
        {
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            w.write_all(MAGIC)?;
            w.write_all(&(header.len() as u32).to_le_bytes())?;
            w.write_all(&header)?;
            for x in &self.data {
                w.write_all(&x.to_le_bytes())?;
            }
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    }

    /// Reads vectors saved by [`PassageVectors::save`]; None when the file is missing or not a
    /// complete vectors file.
    pub fn load(path: &Path) -> Option<PassageVectors> {
        let bytes = std::fs::read(path).ok()?;
        let rest = bytes.strip_prefix(MAGIC)?;
        let (len, rest) = rest.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*len) as usize;
        let header: Header = serde_json::from_slice(rest.get(..len)?).ok()?;
        let body = &rest[len..];
        let parents_ok = header.parents.is_empty() || header.parents.len() == header.ids.len();
        if header.hashes.len() != header.ids.len()
            || !parents_ok
            || body.len() != header.ids.len() * header.dim * 4
        {
            return None;
        }
        let data: Vec<f32> =
            body.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes"))).collect();
        let by_id = header.ids.iter().enumerate().map(|(i, id)| (id.clone(), i)).collect();
        Some(PassageVectors {
            model: header.model,
            dim: header.dim,
            ids: header.ids,
            hashes: header.hashes,
            parents: header.parents,
            data,
            by_id,
        })
    }
}

/// A dot product in eight independent lanes, which the compiler turns into SIMD (a plain `sum`
/// must add in order and stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for (lane, (p, q)) in lanes.iter_mut().zip(x.iter().zip(y)) {
            *lane += p * q;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    fn sample() -> PassageVectors {
        PassageVectors::new(
            "m1",
            3,
            vec!["a".into(), "b".into(), "c".into()],
            vec![1, 2, 3],
            vec![unit(&[1.0, 0.0, 0.0]), unit(&[1.0, 1.0, 0.0]), unit(&[0.0, 0.0, 1.0])],
        )
    }

    #[test]
    fn nearest_are_by_cosine_best_first() {
        let v = sample();
        let q = unit(&[1.0, 0.2, 0.0]);
        let ids: Vec<&str> = v.nearest(&q, 2).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["a", "b"]);
        assert!(v.cosine("c", &q).unwrap().abs() < 1e-6);
        assert!(v.nearest(&[1.0, 0.0], 2).is_empty(), "a vector of another length finds nothing");
    }

    #[test]
    fn saved_vectors_read_back_and_damage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(VECTORS_FILE);
        sample().save(&path).unwrap();
        let back = PassageVectors::load(&path).unwrap();
        assert_eq!(back.model(), "m1");
        assert_eq!(back.len(), 3);
        assert_eq!(back.reusable("b", 2), Some(unit(&[1.0, 1.0, 0.0]).as_slice()));
        assert_eq!(back.reusable("b", 9), None, "another text: embed again");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(PassageVectors::load(&path).is_none(), "a cut file is no vectors");
    }
}
