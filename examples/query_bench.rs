//! The citebot side of `bench/compare.sh`: builds an index, exports passages, and times questions,
//! printing one JSON object per command so the script can put citebot beside SQLite FTS5 and bm25s.
//!
//! ```text
//! query_bench export CORPUS_DIR OUT.jsonl        passages as JSONL, for the other engines
//! query_bench build  CORPUS_DIR INDEX_DIR        load + index build time, index size
//! query_bench query  INDEX_DIR QUESTIONS [--mode retrieve|answer|analyse|embed] [--k 10] [--rounds 3]
//!                    [--threads 2] [--dump LATENCIES.jsonl] [--model MODEL_DIR]
//! ```
//!
//! `query` opens the built index the way `citebot ask` does, answers every question once untimed
//! (warm-up), then times each question `--rounds` times on one thread (p50/p90/p99/mean, queries per
//! second), then runs the same questions on `--threads` threads for throughput. `--mode analyse`
//! times the question analysis alone (the part of `retrieve` before the index is searched);
//! `--dump` writes each question's fastest time, to find the slow ones. `--model` adds the
//! semantic stage (question embedding, meaning scores) with the vectors saved in the index, or
//! made now when there are none. QUESTIONS is a JSONL
//! file with `q` (and optionally `article`, the file a question was drawn from, for a rough top-k hit
//! rate) or a plain text file with one question a line. Timing only: nothing here is asserted.

use citebot::config::Config;
use citebot::corpus;
use citebot::index::SearchIndex;
use citebot::retrieval::Retriever;
use citebot::synonyms::Synonyms;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("export") if args.len() == 3 => export(Path::new(&args[1]), Path::new(&args[2])),
        Some("build") if args.len() == 3 => build(Path::new(&args[1]), Path::new(&args[2])),
        Some("query") if args.len() >= 3 => query(Path::new(&args[1]), Path::new(&args[2]), &args[3..]),
        _ => Err("usage: query_bench export CORPUS OUT.jsonl | build CORPUS INDEX | query INDEX QUESTIONS \
                  [--mode retrieve|answer|analyse|embed] [--k N] [--rounds N] [--threads N] [--dump FILE]"
            .into()),
    };
    if let Err(e) = result {
        eprintln!("query_bench: {e}");
        std::process::exit(2);
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn export(corpus_dir: &Path, out: &Path) -> Result<()> {
    use std::io::Write;
    let corpus = corpus::load_dir(corpus_dir, &[])?;
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut passages = 0usize;
    for article in &corpus.articles {
        for p in &article.passages {
            let line = json!({
                "id": p.id,
                "article": article.path,
                "title": article.meta.title,
                "headings": p.heading_path.get(1..).unwrap_or_default().join(" / "),
                "context": p.context.clone().unwrap_or_default(),
                "text": p.text,
            });
            writeln!(w, "{line}")?;
            passages += 1;
        }
    }
    w.flush()?;
    let summary =
        json!({"articles": corpus.articles.len(), "passages": passages, "warnings": corpus.warnings.len()});
    println!("{summary}");
    Ok(())
}

fn build(corpus_dir: &Path, index_dir: &Path) -> Result<()> {
    let started = Instant::now();
    let corpus = corpus::load_dir(corpus_dir, &[])?;
    let loaded = started.elapsed();
    let index = SearchIndex::build(&corpus, index_dir)?;
    let total = started.elapsed();
    let summary = json!({
        "articles": corpus.articles.len(),
        "passages": index.num_passages(),
        "warnings": corpus.warnings.len(),
        "load_s": loaded.as_secs_f64(),
        "index_s": (total - loaded).as_secs_f64(),
        "build_s": total.as_secs_f64(),
        "index_bytes": dir_size(index_dir),
        "peak_rss_kib": peak_rss_kib(),
    });
    println!("{summary}");
    Ok(())
}

struct Question {
    q: String,
    article: Option<String>,
}

fn questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let q = v["q"].as_str().ok_or("a JSONL question needs a \"q\" field")?.to_string();
            out.push(Question { q, article: v["article"].as_str().map(String::from) });
        } else {
            out.push(Question { q: line.to_string(), article: None });
        }
    }
    if out.is_empty() {
        return Err(format!("{} holds no questions", path.display()).into());
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Retrieve,
    Answer,
    Analyse,
    /// The question's sentence embedding alone (needs `--model`).
    Embed,
}

/// Runs one question; returns the article paths of the results, best first.
fn run(retriever: &Retriever, mode: Mode, q: &str, k: usize) -> Vec<String> {
    match mode {
        Mode::Retrieve => retriever
            .retrieve(q, k)
            .expect("the index answers")
            .into_iter()
            .map(|h| h.passage.article_path)
            .collect(),
        Mode::Answer => {
            let a = retriever.answer(q).expect("the index answers");
            a.source
                .into_iter()
                .map(|s| s.path)
                .chain(a.alternatives.into_iter().map(|x| x.source.path))
                .collect()
        }
        Mode::Analyse => {
            std::hint::black_box(retriever.analyse(q));
            Vec::new()
        }
        Mode::Embed => {
            let semantic = retriever.semantic().expect("--mode embed needs --model");
            std::hint::black_box(semantic.embed_question(q).expect("the model embeds"));
            Vec::new()
        }
    }
}

fn query(index_dir: &Path, questions_file: &Path, options: &[String]) -> Result<()> {
    let mut mode = Mode::Retrieve;
    let (mut k, mut rounds, mut threads) = (10usize, 3usize, 2usize);
    let mut dump = None;
    let mut model_dir: Option<PathBuf> = None;
    let mut it = options.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mode" if value == "retrieve" => mode = Mode::Retrieve,
            "--mode" if value == "answer" => mode = Mode::Answer,
            "--mode" if value == "analyse" => mode = Mode::Analyse,
            "--mode" if value == "embed" => mode = Mode::Embed,
            "--dump" => dump = Some(PathBuf::from(value)),
            "--model" => model_dir = Some(PathBuf::from(value)),
            "--k" => k = value.parse()?,
            "--rounds" => rounds = value.parse()?,
            "--threads" => threads = value.parse()?,
            _ => return Err(format!("unknown option {flag} {value}").into()),
        }
    }
    let questions = questions(questions_file)?;

    let started = Instant::now();
    let config = Config::load(Path::new(""), false)?;
    let index = SearchIndex::open(index_dir)?;
    let mut semantic = None;
    if let Some(dir) = &model_dir {
        let model = citebot::semantic::shared(dir)?.ok_or("no model in --model")?;
        let saved =
            index.location().and_then(|l| citebot::semantic::Semantic::load(l, &model, index.num_passages()));
        semantic = Some(match saved {
            Some(s) => s,
            None => {
                let (s, _) = citebot::semantic::vectors_for(&index, &model, None, &|_, _| {})?;
                if let Some(l) = index.location() {
                    s.save(l)?;
                }
                s
            }
        });
    }
    let retriever = Retriever::new(index, Synonyms::default(), citebot::app::retrieval_settings(&config));
    let retriever = match semantic {
        Some(s) => retriever.with_semantic(s),
        None => retriever,
    };
    let open_s = started.elapsed().as_secs_f64();
    let rss_after_open = current_rss_kib();

    // Warm-up pass, which also gives the hit rate.
    let mut hits = 0usize;
    let mut labelled = 0usize;
    for question in &questions {
        let articles = run(&retriever, mode, &question.q, k);
        if let Some(a) = &question.article {
            labelled += 1;
            hits += usize::from(articles.iter().any(|x| x == a));
        }
    }

    let mut latencies = Vec::with_capacity(questions.len() * rounds);
    let mut fastest = vec![Duration::MAX; questions.len()];
    let single = Instant::now();
    for _ in 0..rounds {
        for (i, question) in questions.iter().enumerate() {
            let t = Instant::now();
            std::hint::black_box(run(&retriever, mode, &question.q, k));
            let elapsed = t.elapsed();
            latencies.push(elapsed);
            fastest[i] = fastest[i].min(elapsed);
        }
    }
    let single_s = single.elapsed().as_secs_f64();
    latencies.sort();
    if let Some(path) = dump {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (question, t) in questions.iter().zip(&fastest) {
            writeln!(w, "{}", json!({"q": question.q, "us": t.as_secs_f64() * 1e6}))?;
        }
        w.flush()?;
    }

    let parallel = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (retriever, questions) = (&retriever, &questions);
            s.spawn(move || {
                for _ in 0..rounds {
                    for question in questions.iter().skip(t).step_by(threads) {
                        std::hint::black_box(run(retriever, mode, &question.q, k));
                    }
                }
            });
        }
    });
    let parallel_s = parallel.elapsed().as_secs_f64();

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let pct = |p: f64| us(latencies[((latencies.len() - 1) as f64 * p).round() as usize]);
    let n = latencies.len();
    let summary = json!({
        "engine": "citebot",
        "mode": match mode {
            Mode::Retrieve => "retrieve",
            Mode::Answer => "answer",
            Mode::Analyse => "analyse",
            Mode::Embed => "embed",
        },
        "k": k,
        "questions": questions.len(),
        "timed": n,
        "open_s": open_s,
        "p50_us": pct(0.50),
        "p90_us": pct(0.90),
        "p99_us": pct(0.99),
        "max_us": us(latencies[n - 1]),
        "mean_us": single_s * 1e6 / n as f64,
        "qps_1": n as f64 / single_s,
        "threads": threads,
        "qps_threads": n as f64 / parallel_s,
        "hit_rate": if labelled > 0 { Some(hits as f64 / labelled as f64) } else { None },
        "rss_after_open_kib": rss_after_open,
        "rss_end_kib": current_rss_kib(),
        "peak_rss_kib": peak_rss_kib(),
    });
    println!("{summary}");
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

fn current_rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}
