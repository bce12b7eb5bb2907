//! The label-efficiency simulation behind `photosift eval`: an oracle answers each photo a
//! strategy asks about with its true label, the way the product's default loop records it,
//! and the model is retrained at the product's cadence. Every run holds out a fixed,
//! stratified test split (a third of the photos) that no strategy may ask about; every
//! strategy of the run is scored on that same split. Pure: it works on an embedding matrix
//! and the truth, so it is testable without a library.

use super::{
    Example, LearnError, Standardizer, TrainSettings, calibrate, fit_calibrated, head, lookahead,
};
use crate::config::QueueConfig;
use crate::domain::{LabelValue, PhotoId};
use crate::numeric::{SplitMix, dot};
use crate::queue::{self, Candidate};

/// Which photo to ask about next, and in which mode the answer is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The ambiguous queue (typical photos at cold start, then p nearest 0.5); kind labels.
    Ambiguous,
    /// Uniformly random order, answered as kind labels: the baseline.
    Random,
    /// The best-first queue, answered in best mode: a pick is a "yes, this kind" (and a print
    /// pick), a photo not of the kind is "not the kind" (X). Until a model has scored
    /// anything, the ambiguous queue.
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

/// The share of each class held out for testing in every run.
pub const TEST_FRACTION: f64 = 1.0 / 3.0;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Retrain after this many new answers: the TUI's `[train] retrain_every`.
    pub retrain_every: usize,
    /// Stop after this many answers (or when every photo outside the test split is asked).
    pub max_labels: usize,
    /// K of precision@K (the top K of the test split by p).
    pub precision_k: usize,
    /// Runs, each with its own test split and random order.
    pub runs: usize,
    /// Known positives from outside the test split given as example photos (`[seed]
    /// examples_want`), weighted like seed images; they are not in the library.
    pub examples: usize,
    /// Weight of an example photo (`[train] synthetic_weight`).
    pub example_weight: f32,
    /// An answer also labels the unasked near-duplicates of the photo (cosine at least
    /// `queue.near_duplicate_cosine`), free of charge.
    pub propagate: bool,
    /// The ambiguous queue asks the model's look-ahead picks first (`learn::lookahead`), as
    /// the product does; `false` orders it by |p - 0.5| alone, to measure what the look-ahead
    /// adds.
    pub lookahead: bool,
    pub settings: TrainSettings,
    pub queue: QueueConfig,
}

/// The state of the loop after `labels` answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    pub labels: usize,
    /// AUC of the current model on the test split (`None` before any model).
    pub auc: Option<f64>,
    /// Share of desirable photos among the K test photos with the highest p.
    pub precision: Option<f64>,
}

/// One run of one strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub points: Vec<Checkpoint>,
    /// Photos asked, in order (row indices); never one of the test split.
    pub asked: Vec<usize>,
    /// Answers until the first desirable photo was asked (1 = the first one).
    pub first_yes: Option<usize>,
    /// Photos labeled by propagation to near-duplicates.
    pub propagated: usize,
}

/// One strategy over all runs: per checkpoint, the mean (in `points`) and the spread.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub strategy: Strategy,
    pub points: Vec<Checkpoint>,
    pub auc_min: Vec<Option<f64>>,
    pub auc_max: Vec<Option<f64>>,
    pub auc_sd: Vec<Option<f64>>,
    /// Every run's AUC at each checkpoint (`[checkpoint][run]`), in run order: run r of every
    /// strategy shares its test split, so two evaluations compare run by run.
    pub auc_runs: Vec<Vec<Option<f64>>>,
    pub first_yes: Vec<Option<usize>>,
    pub propagated: usize,
}

impl Curve {
    /// The fewest answers N such that the mean AUC stays at least `target` from N on.
    pub fn labels_to_reach(&self, target: f64) -> Option<usize> {
        let mut from = None;
        for c in self.points.iter().rev() {
            if c.auc.is_some_and(|a| a >= target) {
                from = Some(c.labels);
            } else {
                break;
            }
        }
        from
    }
}

/// Mean, standard deviation and range of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

impl Stats {
    /// `None` without values.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Self { mean, sd: var.sqrt(), min, max })
    }
}

/// A whole evaluation: the set, the ceiling and one curve per strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub photos: usize,
    pub positives: usize,
    pub runs: usize,
    /// Photos held out for testing in each run.
    pub test_photos: usize,
    pub retrain_every: usize,
    pub examples: usize,
    pub precision_k: usize,
    /// Cross-validated AUC with every label known.
    pub ceiling: Option<Stats>,
    pub curves: Vec<Curve>,
}

/// A stratified test split: `fraction` of each class (rounded, at least one of each class
/// when the class has two or more), chosen by `seed`. `true` = held out.
pub fn test_split(truth: &[bool], fraction: f64, seed: u64) -> Vec<bool> {
    let mut rng = SplitMix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x7E57);
    let mut held = vec![false; truth.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] == class).collect();
        shuffle(&mut members, &mut rng);
        let mut k = (members.len() as f64 * fraction).round() as usize;
        if members.len() >= 2 {
            k = k.clamp(1, members.len() - 1);
        }
        members.iter().take(k).for_each(|&i| held[i] = true);
    }
    held
}

fn shuffle(v: &mut [usize], rng: &mut SplitMix) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// The ceiling: the AUC of the product's head with every label known, `folds`-fold
/// cross-validated (the mean of the folds' AUCs, like scikit-learn's `cross_val_score`; on
/// coco-dev300 pooling the folds' decision values instead gives the same within 0.002),
/// averaged over `repeats` shuffles. Returns the mean and the spread over the repeats.
pub fn ceiling_auc(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    settings: TrainSettings,
    folds: usize,
    repeats: usize,
) -> Result<Option<Stats>, LearnError> {
    let standardizer = Standardizer::fit(data, dim);
    let mut values = Vec::new();
    for r in 0..repeats.max(1) {
        let mut order: Vec<usize> = (0..truth.len()).collect();
        shuffle(&mut order, &mut SplitMix(0xCE11 + r as u64));
        let y: Vec<bool> = order.iter().map(|&i| truth[i]).collect();
        let fold_of = calibrate::stratified_folds(&y, folds);
        let mut fold_aucs = Vec::with_capacity(folds);
        for f in 0..folds {
            let train: Vec<Example> = order
                .iter()
                .zip(&fold_of)
                .filter(|(_, k)| **k != f)
                .map(|(&row, _)| Example { row, positive: truth[row], weight: 1.0 })
                .collect();
            if !train.iter().any(|e| e.positive) || train.iter().all(|e| e.positive) {
                continue;
            }
            let head = head::fit(data, dim, &standardizer, &train, settings)?;
            let held: Vec<usize> =
                order.iter().zip(&fold_of).filter(|(_, k)| **k == f).map(|(&r, _)| r).collect();
            let rows: Vec<f32> =
                held.iter().flat_map(|&i| data[i * dim..(i + 1) * dim].iter().copied()).collect();
            let y: Vec<bool> = held.iter().map(|&i| truth[i]).collect();
            fold_aucs.extend(calibrate::auc(&head.decision(&rows, dim), &y));
        }
        if let Some(s) = Stats::of(&fold_aucs) {
            values.push(s.mean);
        }
    }
    Ok(Stats::of(&values))
}

/// A whole `photosift eval` over `data` (rows of `dim` floats) against `truth`: the ceiling
/// ([`ceiling_auc`], 3 shuffles) and every strategy's curves ([`simulate_all`]).
pub fn evaluate(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    taken_at: &[Option<i64>],
    cfg: &SimConfig,
    progress: &dyn Fn(&str),
) -> Result<Evaluation, LearnError> {
    let ceiling = ceiling_auc(data, dim, truth, cfg.settings, super::CV_FOLDS, 3)?;
    let curves = simulate_all(data, dim, truth, taken_at, cfg, progress)?;
    Ok(Evaluation {
        photos: truth.len(),
        positives: truth.iter().filter(|&&t| t).count(),
        runs: cfg.runs.max(1),
        test_photos: test_split(truth, TEST_FRACTION, 1).iter().filter(|&&h| h).count(),
        retrain_every: cfg.retrain_every,
        examples: cfg.examples,
        precision_k: cfg.precision_k,
        ceiling,
        curves,
    })
}

/// Runs every strategy `cfg.runs` times over `data` (rows of `dim` floats) against `truth`:
/// run r holds out the same test split for every strategy.
pub fn simulate_all(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    taken_at: &[Option<i64>],
    cfg: &SimConfig,
    progress: &dyn Fn(&str),
) -> Result<Vec<Curve>, LearnError> {
    let runs = cfg.runs.max(1);
    let mut per_strategy: Vec<Vec<Run>> = vec![Vec::new(); Strategy::ALL.len()];
    for r in 0..runs {
        let seed = 1 + r as u64;
        let held = test_split(truth, TEST_FRACTION, seed);
        let examples = pick_examples(truth, &held, cfg.examples, seed);
        for (s, strategy) in Strategy::ALL.into_iter().enumerate() {
            progress(&format!("run {}/{runs}: {}", r + 1, strategy.name()));
            let run = simulate(data, dim, truth, taken_at, &held, &examples, strategy, cfg, seed)?;
            per_strategy[s].push(run);
        }
    }
    Ok(Strategy::ALL.into_iter().zip(per_strategy).map(|(s, runs)| aggregate(s, &runs)).collect())
}

/// `n` desirable photos outside the test split, chosen by `seed`: the simulated example
/// photos. They leave the library of that run.
pub fn pick_examples(truth: &[bool], held: &[bool], n: usize, seed: u64) -> Vec<usize> {
    let mut pos: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] && !held[i]).collect();
    shuffle(&mut pos, &mut SplitMix(seed ^ 0xE8A3_91E5));
    pos.truncate(n);
    pos
}

/// One run of one strategy: the photos outside `held` and `examples` form the library the
/// strategy asks from; the model is scored on `held`.
#[allow(clippy::too_many_arguments)]
pub fn simulate(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    taken_at: &[Option<i64>],
    held: &[bool],
    examples: &[usize],
    strategy: Strategy,
    cfg: &SimConfig,
    seed: u64,
) -> Result<Run, LearnError> {
    let standardizer = Standardizer::fit(data, dim);
    let test: Vec<usize> = (0..truth.len()).filter(|&i| held[i]).collect();
    let pool: Vec<usize> =
        (0..truth.len()).filter(|&i| !held[i] && !examples.contains(&i)).collect();
    // Candidate k is photo pool[k]; its PhotoId is k, so queue entries index `pool`.
    let mut cands: Vec<Candidate> = pool
        .iter()
        .enumerate()
        .map(|(k, &i)| Candidate {
            photo: PhotoId(k as i64),
            p: None,
            taken_at: taken_at.get(i).copied().flatten(),
            embedding: Some(data[i * dim..(i + 1) * dim].to_vec()),
            kind_label: None,
            print_label: None,
            ask_first: None,
        })
        .collect();
    queue::center_embeddings(&mut cands);
    let synthetic: Vec<Example> = examples
        .iter()
        .map(|&row| Example { row, positive: truth[row], weight: cfg.example_weight })
        .collect();
    let mut rng = SplitMix(seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut run = Run { points: Vec::new(), asked: Vec::new(), first_yes: None, propagated: 0 };
    let max = cfg.max_labels.min(pool.len());
    let every = cfg.retrain_every.max(1);
    loop {
        let spent = run.asked.len();
        if spent.is_multiple_of(every) || spent == max {
            let manual: Vec<Example> = cands
                .iter()
                .enumerate()
                .filter_map(|(k, c)| match c.kind_label? {
                    LabelValue::Yes => Some(Example { row: pool[k], positive: true, weight: 1.0 }),
                    LabelValue::No => Some(Example { row: pool[k], positive: false, weight: 1.0 }),
                    LabelValue::Skip => None,
                })
                .collect();
            let head = if manual.is_empty() && synthetic.is_empty() {
                None
            } else {
                let fitted = fit_calibrated(
                    data,
                    dim,
                    &standardizer,
                    &manual,
                    &synthetic,
                    cfg.settings,
                    &|_, _| {},
                )?;
                Some(fitted.head)
            };
            let p = head.as_ref().map(|h| h.predict(data, dim));
            if let (Some(head), Some(p)) = (&head, &p) {
                cands.iter_mut().zip(&pool).for_each(|(c, &i)| {
                    c.p = Some(p[i]);
                    c.ask_first = None;
                });
                // The look-ahead the product records with every model (the random order
                // never reads it).
                let order = if strategy == Strategy::Random || !cfg.lookahead {
                    Vec::new()
                } else {
                    lookahead::ask_order(
                        data,
                        dim,
                        head,
                        &manual,
                        &synthetic,
                        cfg.settings,
                        &cands,
                        &|k| Some(pool[k]),
                    )?
                };
                for (rank, k) in order.into_iter().enumerate() {
                    cands[k].ask_first = Some(rank as u32);
                }
            }
            run.points.push(checkpoint(p.as_deref(), truth, &test, spent, cfg.precision_k));
        }
        if spent >= max {
            break;
        }
        let (next, best_mode) = match strategy {
            Strategy::Ambiguous => (first_ambiguous(&cands, cfg), false),
            Strategy::BestFirst => match queue::best_first(&cands, &cfg.queue)
                .iter()
                .find(|e| queue::is_open(&cands[e.photo.0 as usize]))
            {
                Some(e) => (Some(e.photo.0 as usize), true),
                None => (first_ambiguous(&cands, cfg), false),
            },
            Strategy::Random => {
                let open: Vec<usize> =
                    (0..cands.len()).filter(|&k| queue::is_open(&cands[k])).collect();
                let pick =
                    (!open.is_empty()).then(|| open[(rng.next_u64() % open.len() as u64) as usize]);
                (pick, false)
            }
        };
        let Some(k) = next else { break };
        let yes = truth[pool[k]];
        let answer = if yes { LabelValue::Yes } else { LabelValue::No };
        cands[k].kind_label = Some(answer);
        if best_mode {
            // W (pick: print yes + kind yes) or X (not the kind: print no + kind no).
            cands[k].print_label = Some(answer);
        }
        run.asked.push(pool[k]);
        if yes && run.first_yes.is_none() {
            run.first_yes = Some(run.asked.len());
        }
        if cfg.propagate {
            run.propagated += propagate(&mut cands, k, answer, cfg.queue.near_duplicate_cosine);
        }
    }
    Ok(run)
}

/// Labels the unasked near-duplicates of candidate `k` like it; returns how many.
fn propagate(cands: &mut [Candidate], k: usize, answer: LabelValue, min_cosine: f32) -> usize {
    let Some(v) = cands[k].embedding.clone() else { return 0 };
    let mut n = 0;
    for (j, c) in cands.iter_mut().enumerate() {
        if j == k || !queue::is_open(c) {
            continue;
        }
        if c.embedding.as_deref().is_some_and(|e| dot(e, &v) >= min_cosine) {
            c.kind_label = Some(answer);
            n += 1;
        }
    }
    n
}

fn first_ambiguous(cands: &[Candidate], cfg: &SimConfig) -> Option<usize> {
    queue::ambiguous(cands, &cfg.queue).first().map(|p| p.0 as usize)
}

fn checkpoint(
    p: Option<&[f32]>,
    truth: &[bool],
    test: &[usize],
    labels: usize,
    k: usize,
) -> Checkpoint {
    let Some(p) = p else { return Checkpoint { labels, auc: None, precision: None } };
    let scores: Vec<f32> = test.iter().map(|&i| p[i]).collect();
    let y: Vec<bool> = test.iter().map(|&i| truth[i]).collect();
    let mut order: Vec<usize> = (0..test.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let k = k.min(test.len());
    let precision =
        (k > 0).then(|| order.iter().take(k).filter(|&&i| y[i]).count() as f64 / k as f64);
    Checkpoint { labels, auc: calibrate::auc(&scores, &y), precision }
}

/// Mean and spread over the runs, checkpoint by checkpoint (a value missing in a run is left
/// out of that checkpoint).
fn aggregate(strategy: Strategy, runs: &[Run]) -> Curve {
    let n = runs.iter().map(|r| r.points.len()).min().unwrap_or(0);
    let mut curve = Curve {
        strategy,
        points: Vec::with_capacity(n),
        auc_min: Vec::with_capacity(n),
        auc_max: Vec::with_capacity(n),
        auc_sd: Vec::with_capacity(n),
        auc_runs: Vec::with_capacity(n),
        first_yes: runs.iter().map(|r| r.first_yes).collect(),
        propagated: runs.iter().map(|r| r.propagated).sum(),
    };
    for i in 0..n {
        let auc: Vec<f64> = runs.iter().filter_map(|r| r.points[i].auc).collect();
        let precision: Vec<f64> = runs.iter().filter_map(|r| r.points[i].precision).collect();
        let a = Stats::of(&auc);
        curve.points.push(Checkpoint {
            labels: runs[0].points[i].labels,
            auc: a.map(|s| s.mean),
            precision: Stats::of(&precision).map(|s| s.mean),
        });
        curve.auc_min.push(a.map(|s| s.min));
        curve.auc_max.push(a.map(|s| s.max));
        curve.auc_sd.push(a.map(|s| s.sd));
        curve.auc_runs.push(runs.iter().map(|r| r.points[i].auc).collect());
    }
    curve
}
