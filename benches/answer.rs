//! Answer latency on the shipped corpus: the full answer path (analysis, retrieval, re-ranking,
//! excerpt) for each question of the project's own question set, one question per iteration.
//!
//! Run: `cargo bench --bench answer`.

use citebot::app;
use citebot::index::SearchIndex;
use citebot::retrieval::{Retriever, Settings};
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

fn shipped() -> Retriever {
    let index = SearchIndex::build_in_ram(&app::embedded_corpus()).expect("index builds");
    let (synonyms, _) = Synonyms::parse(app::EMBEDDED_SYNONYMS);
    Retriever::new(index, synonyms, Settings::default())
}

fn answer(c: &mut Criterion) {
    let retriever = shipped();
    let qs = questions();
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
