//! The dense stage alone at scale: exact dot products of a question vector with every passage
//! vector (384 dimensions) and the k best, at 10k and 100k passages of random unit vectors, plus
//! the sections (a fifth as many). The question embedding itself is measured by
//! `examples/query_bench.rs --model` on real questions.
//!
//! Run: `cargo bench --bench dense`.

use citebot::semantic::PassageVectors;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const DIM: usize = 384;

fn random_unit(seed: &mut u64) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            (*seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn vectors(n: usize, seed: &mut u64) -> PassageVectors {
    let rows: Vec<Vec<f32>> = (0..n).map(|_| random_unit(seed)).collect();
    PassageVectors::new("bench", DIM, (0..n).map(|i| format!("p{i}")).collect(), vec![0; n], rows)
}

fn dense(c: &mut Criterion) {
    let mut seed = 0x9e3779b97f4a7c15u64;
    for n in [10_000usize, 100_000] {
        let passages = vectors(n, &mut seed);
        let sections = vectors(n / 5, &mut seed);
        let question = random_unit(&mut seed);
        c.bench_function(&format!("dense/{}k/passages+sections top-20", n / 1000), |b| {
            b.iter(|| {
                let s = sections.cosines(black_box(&question));
                black_box(s.len());
                black_box(passages.nearest(black_box(&question), 20))
            })
        });
    }
}

criterion_group!(benches, dense);
criterion_main!(benches);
