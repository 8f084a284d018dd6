//! Scale: how retrieval, the full answer path and the index build grow with the corpus, at about
//! 1,000, 10,000 and 100,000 passages of real prose (Debian's Python, PostgreSQL, Perl and Git
//! manuals, made into Markdown articles by `bench/make-corpus.py`).
//!
//! ```sh
//! python3 bench/make-corpus.py          # once: the corpora and questions, in bench/data/
//! cargo bench --bench scale             # every size whose corpus exists
//! cargo bench --bench scale -- 10k      # one size (criterion filter)
//! ```
//!
//! Per size: `build/<size>` (load the Markdown, build the on-disk index; at 100k only with
//! `CITEBOT_BENCH_BUILD_100K=1`, since ten builds take minutes; otherwise one timed build is
//! printed), `retrieve/<size>` (`Retriever::retrieve(q, 10)`: question analysis plus BM25 top 10,
//! stored passages included) and `answer/<size>` (`Retriever::answer(q)`: everything `citebot ask`
//! does but printing). One iteration is one question; the questions cycle through
//! `bench/data/queries-<size>.jsonl`. The index size on disk is printed beside each build. A size
//! whose corpus is missing is skipped with a message. `CITEBOT_BENCH_DATA` overrides `bench/data`.
//! Timing only: nothing is asserted.

use citebot::config::Config;
use citebot::corpus::{self, Corpus};
use citebot::index::SearchIndex;
use citebot::retrieval::Retriever;
use citebot::synonyms::Synonyms;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SIZES: [&str; 3] = ["1k", "10k", "100k"];

fn data_dir() -> PathBuf {
    std::env::var_os("CITEBOT_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench").join("data"))
}

fn corpus_dir(size: &str) -> Option<PathBuf> {
    let dir = data_dir().join(format!("corpus-{size}"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "scale: skipping {size}: {} not found; run `python3 bench/make-corpus.py` to make it",
            dir.display()
        );
        None
    }
}

fn questions(size: &str) -> Vec<String> {
    let path = data_dir().join(format!("queries-{size}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}; run `python3 bench/make-queries.py` to make it", path.display())
    });
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["q"].as_str().map(String::from))
        .collect()
}

fn load(dir: &Path) -> Corpus {
    corpus::load_dir(dir, &[]).expect("the scale corpus loads")
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata().expect("index files are readable");
        total += if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() };
    }
    total
}

/// Builds the index of `size` once, prints what it took, and returns the retriever over it.
fn build_once(size: &str, dir: &Path, index_dir: &Path) -> Retriever {
    let started = Instant::now();
    let corpus = load(dir);
    let loaded = started.elapsed();
    let index = SearchIndex::build(&corpus, index_dir).expect("the index builds");
    let total = started.elapsed();
    eprintln!(
        "scale: {size}: {} articles, {} passages; built in {:.2} s (Markdown {:.2} s + index {:.2} s); \
         index {:.1} MiB on disk",
        corpus.articles.len(),
        index.num_passages(),
        total.as_secs_f64(),
        loaded.as_secs_f64(),
        (total - loaded).as_secs_f64(),
        dir_bytes(index_dir) as f64 / (1024.0 * 1024.0),
    );
    let config = Config::load(Path::new(""), false).expect("built-in configuration");
    Retriever::new(index, Synonyms::default(), citebot::app::retrieval_settings(&config))
}

fn scale(c: &mut Criterion) {
    let build_100k = std::env::var_os("CITEBOT_BENCH_BUILD_100K").is_some();
    for size in SIZES {
        let Some(dir) = corpus_dir(size) else { continue };
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let retriever = build_once(size, &dir, &tmp.path().join("index"));

        if size != "100k" || build_100k {
            let corpus = load(&dir);
            let mut group = c.benchmark_group("build");
            group.sampling_mode(SamplingMode::Flat).sample_size(10);
            group.measurement_time(Duration::from_secs(match size {
                "1k" => 5,
                "10k" => 30,
                _ => 60,
            }));
            group.bench_function(BenchmarkId::from_parameter(size), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for i in 0..iters {
                        let target = tmp.path().join(format!("build-{i}"));
                        let t = Instant::now();
                        black_box(SearchIndex::build(&corpus, &target).expect("the index builds"));
                        spent += t.elapsed();
                        std::fs::remove_dir_all(&target).expect("the built index is removable");
                    }
                    spent
                })
            });
            group.finish();
        }

        let qs = questions(size);
        let mut group = c.benchmark_group("retrieve");
        let mut i = 0;
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(retriever.retrieve(black_box(&qs[i]), 10).expect("retrieves"))
            })
        });
        group.finish();

        let mut group = c.benchmark_group("answer");
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            b.iter(|| {
                i = (i + 1) % qs.len();
                black_box(retriever.answer(black_box(&qs[i])).expect("answers"))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, scale);
criterion_main!(benches);
