//! Benchmark of the model-in-the-loop costs on 25,000 synthetic embeddings: rebuilding both
//! queues (cold start and with a model), and retrain + rescore.
//!
//! `cargo run --release --example bench_learn [-- N_PHOTOS]`; results in docs/bench-learn.md.

use std::time::Instant;

use photosift::catalog::{LabelValue, PhotoId};
use photosift::config::Config;
use photosift::queue::{self, Candidate};

const DIM: usize = 1280;

/// Deterministic generator so every run measures the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// Photos around 300 scenes, ReLU-like (non-negative) features, L2-normalized; bursts of
/// three shots a second apart.
fn synthetic_embeddings(n: usize) -> Vec<Vec<f32>> {
    let mut rng = Rng(42);
    let scenes: Vec<Vec<f32>> =
        (0..300).map(|_| (0..DIM).map(|_| (rng.next() - 0.6).max(0.0)).collect()).collect();
    (0..n)
        .map(|i| {
            let s = &scenes[(i / 3 * 7919) % scenes.len()];
            let mut v: Vec<f32> =
                s.iter().map(|x| (x + 0.15 * (rng.next() - 0.5)).max(0.0)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

fn median_ms(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(25_000);
    let cfg = Config::default();
    let embeddings = synthetic_embeddings(n);
    let mut rng = Rng(7);
    let cold: Vec<Candidate> = embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| Candidate {
            photo: PhotoId(i as i64 + 1),
            p: None,
            taken_at: Some(1_600_000_000 + (i / 3 * 600 + i % 3) as i64),
            embedding: Some(e.clone()),
            kind_label: None,
            print_label: None,
        })
        .collect();
    let mut warm = cold.clone();
    for (i, c) in warm.iter_mut().enumerate() {
        c.p = Some(rng.next());
        if i % 250 == 0 {
            c.kind_label = Some(if i % 500 == 0 { LabelValue::Yes } else { LabelValue::No });
        }
    }
    let cold_ms = median_ms(
        || {
            std::hint::black_box(queue::ambiguous(&cold, &cfg.queue));
            std::hint::black_box(queue::best_first(&cold, &cfg.queue));
        },
        7,
    );
    let warm_ms = median_ms(
        || {
            std::hint::black_box(queue::ambiguous(&warm, &cfg.queue));
            std::hint::black_box(queue::best_first(&warm, &cfg.queue));
        },
        7,
    );
    let amb_ms = median_ms(|| drop(std::hint::black_box(queue::ambiguous(&warm, &cfg.queue))), 7);
    let amb_cold_ms =
        median_ms(|| drop(std::hint::black_box(queue::ambiguous(&cold, &cfg.queue))), 7);
    println!("photos: {n}, dim {DIM}");
    println!("  ambiguous alone: cold {amb_cold_ms:.1} ms, with a model {amb_ms:.1} ms");
    println!("both queues, cold start (no model, no labels): {cold_ms:.1} ms (median of 7)");
    println!("both queues, with a model and 100 labels:      {warm_ms:.1} ms (median of 7)");
}
