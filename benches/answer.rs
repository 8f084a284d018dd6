//! Answer latency on the shipped corpus, synonyms and example questions, with the shipped
//! configuration: the full answer path (analysis, retrieval, example similarity, re-ranking,
//! excerpt) for each question of the project's own question set, one question per iteration. The
//! set's own questions are left out of the examples, as `citebot eval` does.
//!
//! Run: `cargo bench --bench answer`.

use citebot::app;
use citebot::config::Config;
use citebot::index::SearchIndex;
use citebot::retrieval::Retriever;
use citebot::synonyms::Synonyms;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn questions() -> Vec<String> {
    let text = include_str!("../tests/eval/own-questions.jsonl");
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["q"].as_str().map(String::from))
        .collect()
}

fn shipped(questions: &[String]) -> Retriever {
    let index = SearchIndex::build_in_ram(&app::embedded_corpus()).expect("index builds");
    let (synonyms, _) = Synonyms::parse(app::EMBEDDED_SYNONYMS);
    let none = std::path::Path::new("no-such-config.toml");
    let settings = citebot::app::retrieval_settings(
        &Config::load_with_env(none, false, Vec::new()).expect("defaults load"),
    );
    let (mut retriever, _) =
        Retriever::new(index, synonyms, settings).with_examples(&app::embedded_examples()).expect("examples");
    retriever.hold_out_examples(questions);
    retriever
}

fn answer(c: &mut Criterion) {
    let qs = questions();
    let retriever = shipped(&qs);
    let mut i = 0;
    c.bench_function("answer/shipped/one-question", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            black_box(retriever.answer(black_box(&qs[i])).expect("answers"))
        })
    });
    c.bench_function("analyse/shipped/one-question", |b| {
        b.iter(|| {
            i = (i + 1) % qs.len();
            black_box(retriever.analyse(black_box(&qs[i])))
        })
    });
}

criterion_group!(benches, answer);
criterion_main!(benches);
