//! Build script: gives the crate a digest of its own sources (`CITEBOT_SOURCE_DIGEST`), so that
//! what a build saved from its analysis (example questions, the calibrated threshold) is not
//! reused by a build whose code differs. Reads `src/` only; downloads nothing.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let src = Path::new("src");
    println!("cargo:rerun-if-changed=src");
    let mut paths = Vec::new();
    files(src, &mut paths);
    paths.sort();
    // FNV-1a over each file's path and bytes: stable across toolchains, unlike std's hasher.
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for path in &paths {
        path.strip_prefix(src).unwrap_or(path).to_string_lossy().replace('\\', "/").hash(&mut h);
        std::fs::read(path).unwrap_or_default().hash(&mut h);
    }
    println!("cargo:rustc-env=CITEBOT_SOURCE_DIGEST={:016x}", h.finish());
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
