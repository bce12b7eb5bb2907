//! The label-efficiency simulation behind `photosift eval`: an oracle answers each photo a
//! strategy asks about with its true label; every few labels the head is retrained, and the
//! AUC on the photos not labeled yet and the precision of the best-first queue are recorded.
//! Pure: it works on an embedding matrix and the truth, so it is testable without a library.

use std::fmt::Write as _;

use super::{Example, LearnError, Standardizer, TrainSettings, calibrate, fit_calibrated};
use crate::catalog::{LabelValue, PhotoId};
use crate::config::QueueConfig;
use crate::queue::{self, Candidate, SplitMix};

/// Which photo to ask about next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The ambiguous queue (typical photos at cold start, then p nearest 0.5).
    Ambiguous,
    /// Uniformly random order: the baseline.
    Random,
    /// The best-first queue (the ambiguous queue until a model has scored anything).
    BestFirst,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Ambiguous, Strategy::Random, Strategy::BestFirst];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::Ambiguous => "ambiguous",
            Strategy::Random => "random",
            Strategy::BestFirst => "best-first",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Retrain (and record a checkpoint) after this many new labels.
    pub retrain_every: usize,
    /// Stop after this many labels (or when every photo is labeled).
    pub max_labels: usize,
    /// K of precision@K of the best-first queue.
    pub precision_k: usize,
    /// Random order is averaged over this many seeds.
    pub random_runs: usize,
    pub settings: TrainSettings,
    pub queue: QueueConfig,
}

/// The state of the loop after `labels` answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    pub labels: usize,
    /// AUC of the current model on the photos not labeled yet (`None` before a model, or
    /// when those photos hold one class only).
    pub auc: Option<f64>,
    /// Share of desirable photos among the first K of the best-first queue.
    pub precision: Option<f64>,
}

/// One strategy's run (for random order: the mean over the seeds).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub strategy: Strategy,
    pub points: Vec<Checkpoint>,
}

impl Curve {
    /// The fewest labels after which the AUC on the unlabeled photos reached `target`.
    pub fn labels_to_reach(&self, target: f64) -> Option<usize> {
        self.points.iter().find(|c| c.auc.is_some_and(|a| a >= target)).map(|c| c.labels)
    }
}

/// Runs every strategy over `data` (rows of `dim` floats) against `truth`.
pub fn simulate_all(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    taken_at: &[Option<i64>],
    cfg: &SimConfig,
    progress: &dyn Fn(&str),
) -> Result<Vec<Curve>, LearnError> {
    let mut curves = Vec::new();
    for strategy in Strategy::ALL {
        let runs = if strategy == Strategy::Random { cfg.random_runs.max(1) } else { 1 };
        let mut all = Vec::with_capacity(runs);
        for run in 0..runs {
            progress(&format!("{} (run {}/{runs})", strategy.name(), run + 1));
            all.push(simulate(data, dim, truth, taken_at, strategy, cfg, 1 + run as u64)?);
        }
        curves.push(Curve { strategy, points: mean_points(&all) });
    }
    Ok(curves)
}

/// One run of one strategy.
pub fn simulate(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    taken_at: &[Option<i64>],
    strategy: Strategy,
    cfg: &SimConfig,
    seed: u64,
) -> Result<Vec<Checkpoint>, LearnError> {
    let n = truth.len();
    let standardizer = Standardizer::fit(data, dim);
    let mut cands: Vec<Candidate> = (0..n)
        .map(|i| Candidate {
            photo: PhotoId(i as i64),
            p: None,
            taken_at: taken_at.get(i).copied().flatten(),
            embedding: Some(data[i * dim..(i + 1) * dim].to_vec()),
            kind_label: None,
            print_label: None,
        })
        .collect();
    queue::center_embeddings(&mut cands);
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut labeled: Vec<usize> = Vec::new();
    let mut points = Vec::new();
    let max = cfg.max_labels.min(n);
    let every = cfg.retrain_every.max(1);
    loop {
        let spent = labeled.len();
        if spent.is_multiple_of(every) || spent == max {
            if spent > 0 {
                let manual: Vec<Example> = labeled
                    .iter()
                    .map(|&row| Example { row, positive: truth[row], weight: 1.0 })
                    .collect();
                let fitted = fit_calibrated(
                    data,
                    dim,
                    &standardizer,
                    &manual,
                    &[],
                    cfg.settings,
                    &|_, _| {},
                )?;
                let p = fitted.head.predict(data, dim);
                cands.iter_mut().zip(p).for_each(|(c, p)| c.p = Some(p));
            }
            points.push(checkpoint(&cands, truth, spent, cfg));
        }
        if spent >= max {
            break;
        }
        let next = match strategy {
            Strategy::Ambiguous => first_ambiguous(&cands, cfg),
            Strategy::BestFirst => queue::best_first(&cands, &cfg.queue)
                .first()
                .map(|e| e.photo.0 as usize)
                .or_else(|| first_ambiguous(&cands, cfg)),
            Strategy::Random => {
                let open: Vec<usize> = (0..n).filter(|&i| cands[i].kind_label.is_none()).collect();
                (!open.is_empty()).then(|| open[(rng.next_u64() % open.len() as u64) as usize])
            }
        };
        let Some(next) = next else { break };
        // The oracle answers, the way best-first mode records it: kind and print together,
        // so the photo leaves both queues.
        let answer = if truth[next] { LabelValue::Yes } else { LabelValue::No };
        cands[next].kind_label = Some(answer);
        cands[next].print_label = Some(answer);
        labeled.push(next);
    }
    Ok(points)
}

fn first_ambiguous(cands: &[Candidate], cfg: &SimConfig) -> Option<usize> {
    queue::ambiguous(cands, &cfg.queue).first().map(|p| p.0 as usize)
}

fn checkpoint(cands: &[Candidate], truth: &[bool], labels: usize, cfg: &SimConfig) -> Checkpoint {
    let open: Vec<usize> = (0..cands.len()).filter(|&i| cands[i].kind_label.is_none()).collect();
    let scored = cands.iter().any(|c| c.p.is_some());
    let auc = scored
        .then(|| {
            let p: Vec<f32> = open.iter().map(|&i| cands[i].p.unwrap_or(0.5)).collect();
            let y: Vec<bool> = open.iter().map(|&i| truth[i]).collect();
            calibrate::auc(&p, &y)
        })
        .flatten();
    let k = cfg.precision_k.min(open.len());
    let precision = (scored && k > 0).then(|| {
        let best = queue::best_first(cands, &cfg.queue);
        best.iter().take(k).filter(|e| truth[e.photo.0 as usize]).count() as f64 / k as f64
    });
    Checkpoint { labels, auc, precision }
}

/// The mean of several runs, checkpoint by checkpoint (a value missing in a run is left out
/// of that checkpoint's mean).
fn mean_points(runs: &[Vec<Checkpoint>]) -> Vec<Checkpoint> {
    let Some(first) = runs.first() else { return Vec::new() };
    let mean = |values: Vec<f64>| {
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    (0..first.len())
        .map(|i| Checkpoint {
            labels: first[i].labels,
            auc: mean(runs.iter().filter_map(|r| r.get(i)?.auc).collect()),
            precision: mean(runs.iter().filter_map(|r| r.get(i)?.precision).collect()),
        })
        .collect()
}

/// The curves as a text table: one row per checkpoint, AUC and precision@K per strategy,
/// then the labels each strategy needed to reach AUC `target`.
pub fn table(curves: &[Curve], precision_k: usize, target: f64) -> String {
    let mut out = String::new();
    let _ = write!(out, "{:>6}", "labels");
    for c in curves {
        let _ = write!(out, " | {:>10} AUC  P@{precision_k:<3}", c.strategy.name());
    }
    out.push('\n');
    let rows = curves.iter().map(|c| c.points.len()).max().unwrap_or(0);
    let fmt = |v: Option<f64>| v.map_or("    -".to_owned(), |v| format!("{v:.3}"));
    for r in 0..rows {
        let labels = curves.iter().find_map(|c| c.points.get(r)).map_or(0, |p| p.labels);
        let _ = write!(out, "{labels:>6}");
        for c in curves {
            let p = c.points.get(r);
            let _ = write!(
                out,
                " | {:>15} {:>5}",
                fmt(p.and_then(|p| p.auc)),
                fmt(p.and_then(|p| p.precision))
            );
        }
        out.push('\n');
    }
    for c in curves {
        let reached = c
            .labels_to_reach(target)
            .map_or("not reached".to_owned(), |l| format!("after {l} labels"));
        let _ = writeln!(out, "{:>10}: AUC >= {target} {reached}", c.strategy.name());
    }
    out
}

/// Reads a truth file: `file,label` rows (1/0, yes/no, true/false); any header line (such
/// as coco-dev's `file,person`) is skipped, and only the first two columns are read.
pub fn parse_truth(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split(',').map(str::trim);
        let (Some(file), Some(label)) = (cols.next(), cols.next()) else {
            return Err(format!("line {}: expected `file,label`, found {line:?}", n + 1));
        };
        let label = match label.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "y" => true,
            "0" | "no" | "false" | "n" => false,
            _ if rows.is_empty() => continue, // the header
            other => return Err(format!("line {}: label {other:?} is not 1 or 0", n + 1)),
        };
        rows.push((file.to_owned(), label));
    }
    Ok(rows)
}

/// Pairs catalog photos (`(id, path)`) with truth rows: a row naming a relative path matches
/// a photo whose path ends with it, a bare name matches the photo's file name. Returns the
/// matched (photo id, label) pairs and the rows that matched nothing.
pub fn match_truth(
    photos: &[(PhotoId, std::path::PathBuf)],
    truth: &[(String, bool)],
) -> (Vec<(PhotoId, bool)>, Vec<String>) {
    let mut matched = Vec::new();
    let mut unmatched = Vec::new();
    for (file, label) in truth {
        let rel = std::path::Path::new(file);
        match photos.iter().find(|(_, path)| path.ends_with(rel)) {
            Some((id, _)) => matched.push((*id, *label)),
            None => unmatched.push(file.clone()),
        }
    }
    (matched, unmatched)
}
