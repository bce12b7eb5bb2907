//! Benchmark of the model-in-the-loop costs on 25,000 synthetic embeddings: rebuilding both
//! queues (cold start and with a model), and retrain + rescore through a real catalog file
//! (read the embeddings, train with 5-fold CV and calibration, score, write the scores).
//!
//! `cargo run --release --example bench_learn [-- N_PHOTOS]`; results in docs/bench-learn.md.

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use photosift::catalog::{Catalog, NewPhoto, PhotoState, ScanOp, Source};

use photosift::config::Config;
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue, PhotoId};
use photosift::queue::{self, Candidate};

/// Length of the photo features (`EfficientNetLite::features`).
const DIM: usize = 1152;

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

/// CPU time of this process so far (all threads), in ms: on a shared machine the wall
/// time mostly measures the other processes, the CPU time does not.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// (median wall ms, mean CPU ms) over `runs` calls.
fn median_ms(mut f: impl FnMut(), runs: usize) -> (f64, f64) {
    let cpu0 = cpu_ms();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[runs / 2], (cpu_ms() - cpu0) / runs as f64)
}

fn main() {
    // As the binary does (jobs::settle_compute_threads): the product's retrain speed.
    // SAFETY: the first thing the benchmark does, before any thread exists.
    unsafe { photosift::jobs::settle_compute_threads() };
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(25_000);
    let cfg = Config::default();
    let embeddings = synthetic_embeddings(n);
    let mut rng = Rng(7);
    let mut cold: Vec<Candidate> = embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| Candidate {
            photo: PhotoId(i as i64 + 1),
            p: None,
            taken_at: Some(1_600_000_000 + (i / 3 * 600 + i % 3) as i64),
            embedding: Some(e.clone()),
            kind_label: None,
            print_label: None,
            ask_first: None,
        })
        .collect();
    // What `pipeline::queues::candidates` does after reading the vectors.
    let raw = cold.clone();
    let center_ms = median_ms(
        || {
            let mut c = raw.clone();
            queue::center_embeddings(&mut c);
            std::hint::black_box(c);
        },
        7,
    );
    queue::center_embeddings(&mut cold);
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
    println!(
        "center the embeddings (when reading candidates; includes a copy): wall {:.1} ms, CPU {:.1} ms",
        center_ms.0, center_ms.1
    );
    let show = |(wall, cpu): (f64, f64)| format!("wall {wall:.1} ms, CPU {cpu:.1} ms");
    println!("(wall: median of 7; CPU: mean over the 7, all threads)");
    println!("ambiguous alone, cold start:              {}", show(amb_cold_ms));
    println!("ambiguous alone, with a model:            {}", show(amb_ms));
    println!("both queues, cold start (no model/labels): {}", show(cold_ms));
    println!("both queues, with a model and 100 labels: {}", show(warm_ms));
    for n_labels in [50, 300] {
        bench_train(&embeddings, n_labels);
    }
}

/// Retrain + rescore on a catalog file holding `embeddings` and `n_labels` manual labels.
fn bench_train(embeddings: &[Vec<f32>], n_labels: usize) {
    let dir = std::env::temp_dir().join(format!("photosift-bench-learn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut catalog = Catalog::open(&dir.join("catalog.sqlite")).expect("catalog");
    let ops: Vec<ScanOp> = (0..embeddings.len())
        .map(|i| {
            ScanOp::Upsert(NewPhoto {
                path: format!("/bench/{i}.jpg").into(),
                content_hash: format!("{i:064x}"),
                byte_size: 1,
                mtime_ns: 1,
                width: Some(4032),
                height: Some(3024),
                taken_at: Some(1_600_000_000 + i as i64),
                orientation: Some(1),
                thumb_path: None,
                source: Source::Camera,
                state: PhotoState::Ok,
                error: None,
                prompt: None,
                seed_label: None,
                ..Default::default()
            })
        })
        .collect();
    let ids: Vec<PhotoId> =
        catalog.apply_scan_ops(&ops).expect("insert").into_iter().flatten().collect();
    let items: Vec<(PhotoId, Vec<f32>)> =
        ids.iter().copied().zip(embeddings.iter().cloned()).collect();
    catalog.put_embeddings("bench", &items).expect("embeddings");
    // Labels: "yes" for photos of the first 60 scenes, so the classes are learnable.
    for (k, &id) in ids.iter().step_by(embeddings.len() / n_labels).take(n_labels).enumerate() {
        let scene = (id.0 as usize - 1) / 3 * 7919 % 300;
        let v = if scene < 60 || k % 7 == 0 { LabelValue::Yes } else { LabelValue::No };
        catalog
            .record_decisions(&[Decision::single(id, DecisionMode::Ambiguous, LabelKind::Kind, v)])
            .expect("label");
    }
    let cfg = Config::default();
    let mut totals = Vec::new();
    let mut last = None;
    let cpu0 = cpu_ms();
    for _ in 0..3 {
        let t = Instant::now();
        let r = photosift::pipeline::train_and_score(
            &mut catalog,
            &cfg,
            "bench",
            &mut photosift::pipeline::SessionData::default(),
            &|_, _| {},
        )
        .expect("train");
        totals.push(t.elapsed().as_secs_f64() * 1000.0);
        last = Some(r);
    }
    let cpu = (cpu_ms() - cpu0) / 3.0;
    totals.sort_by(f64::total_cmp);
    if let Some(r) = last {
        println!(
            "retrain + rescore, {} photos, {} labels ({} yes), CV AUC {:.3}: wall {:.0} ms (median of 3), CPU {cpu:.0} ms \
             (mean); last run wall: read {:.0}, train+CV {:.0}, score {:.0}, look-ahead {:.0}, write {:.0})",
            r.scored,
            r.n_positive + r.n_negative,
            r.n_positive,
            r.cv_auc.unwrap_or(f64::NAN),
            totals[1],
            r.read_ms,
            r.train_ms,
            r.score_ms,
            r.ask_ms,
            r.write_ms
        );
    }
    drop(catalog);
    let _ = std::fs::remove_dir_all(&dir);
}
