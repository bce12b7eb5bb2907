//! Training, calibration, scoring and the eval simulation on generated data.

use super::eval::{self, SimConfig, Strategy};
use super::eval_report;
use super::*;
use crate::config::QueueConfig;
use crate::domain::PhotoId;
use crate::numeric::SplitMix;

fn gauss(rng: &mut SplitMix) -> f32 {
    let u1 = rng.next_f32().max(1e-7);
    let u2 = rng.next_f32();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// `n` points in `dim` dimensions; the class is decided by `rule` from the first coordinate
/// (plus noise in every coordinate).
pub(crate) fn dataset(
    n: usize,
    dim: usize,
    seed: u64,
    rule: impl Fn(f32, &mut SplitMix) -> bool,
) -> (Vec<f32>, Vec<bool>) {
    let mut rng = SplitMix(seed);
    let mut data = Vec::with_capacity(n * dim);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f32> = (0..dim).map(|_| gauss(&mut rng)).collect();
        y.push(rule(row[0], &mut rng));
        data.extend(row);
    }
    (data, y)
}

fn examples(y: &[bool], rows: std::ops::Range<usize>) -> Vec<Example> {
    rows.map(|row| Example { row, positive: y[row], weight: 1.0 }).collect()
}

const SETTINGS: TrainSettings = TrainSettings { l2: 0.001 };

#[test]
fn training_separates_a_linearly_separable_toy_set() {
    let dim = 32;
    let (data, y) = dataset(300, dim, 1, |x0, _| x0 > 0.2);
    let st = Standardizer::fit(&data, dim);
    let fitted =
        fit_calibrated(&data, dim, &st, &examples(&y, 0..100), &[], SETTINGS, &|_, _| {}).unwrap();
    let p = fitted.head.predict(&data, dim);
    let held_auc = calibrate::auc(&p[100..], &y[100..]).unwrap();
    assert!(held_auc > 0.95, "held-out AUC {held_auc}");
    assert!(fitted.cv_auc.unwrap() > 0.9, "cv AUC {:?}", fitted.cv_auc);
    let wrong = (0..100).filter(|&i| (p[i] > 0.5) != y[i]).count();
    assert!(wrong <= 2, "{wrong} training points on the wrong side");
}

#[test]
fn calibrated_probabilities_match_observed_frequencies() {
    // P(yes | x) = sigmoid(2 x0): overlapping classes, so p must be graded, not 0/1.
    let dim = 16;
    let (data, y) =
        dataset(1600, dim, 2, |x0, rng| rng.next_f32() < 1.0 / (1.0 + (-2.0 * x0).exp()));
    let st = Standardizer::fit(&data, dim);
    let fitted =
        fit_calibrated(&data, dim, &st, &examples(&y, 0..400), &[], SETTINGS, &|_, _| {}).unwrap();
    let p = fitted.head.predict(&data, dim);
    // Expected calibration error over 5 bins of the 1200 held-out photos.
    let mut bins = [(0f64, 0f64, 0usize); 5];
    for i in 400..1600 {
        let b = ((p[i] * 5.0) as usize).min(4);
        bins[b].0 += f64::from(p[i]);
        bins[b].1 += f64::from(u8::from(y[i]));
        bins[b].2 += 1;
    }
    let ece: f64 = bins.iter().map(|(sp, sy, _)| (sp - sy).abs()).sum::<f64>() / 1200.0;
    assert!(ece < 0.08, "expected calibration error {ece}, bins {bins:?}");
    let middle = p[400..].iter().filter(|&&v| (0.2..0.8).contains(&v)).count();
    assert!(middle > 200, "only {middle} of 1200 photos have 0.2 < p < 0.8");
}

#[test]
fn one_class_gives_a_prior_tilted_toward_similar_photos() {
    let dim = 8;
    let (data, _) = dataset(200, dim, 3, |_, _| false);
    let st = Standardizer::fit(&data, dim);
    // "Yes" on the three photos with the largest first coordinate.
    let mut order: Vec<usize> = (0..200).collect();
    order.sort_by(|&a, &b| data[b * dim].total_cmp(&data[a * dim]));
    let yes: Vec<Example> =
        order[..3].iter().map(|&row| Example { row, positive: true, weight: 1.0 }).collect();
    let fitted = fit_calibrated(&data, dim, &st, &yes, &[], SETTINGS, &|_, _| {}).unwrap();
    assert!(fitted.note.unwrap().contains("only \"yes\""));
    assert_eq!(fitted.cv_auc, None);
    let p = fitted.head.predict(&data, dim);
    let mut sorted = p.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[100];
    assert!((median - 0.8).abs() < 0.05, "median p {median} should be the prior 4/5");
    assert!(p[order[3]] > median && p[order[199]] < median, "tilted toward the yes photos");
    let none = fit_calibrated(&data, dim, &st, &[], &[], SETTINGS, &|_, _| {});
    assert!(matches!(none, Err(LearnError::NoLabels)));
}

#[test]
fn synthetic_seeds_alone_train_a_model() {
    let dim = 16;
    let (data, y) = dataset(200, dim, 4, |x0, _| x0 > 0.0);
    let st = Standardizer::fit(&data, dim);
    let seeds: Vec<Example> =
        (0..40).map(|row| Example { row, positive: y[row], weight: 0.3 }).collect();
    let fitted = fit_calibrated(&data, dim, &st, &[], &seeds, SETTINGS, &|_, _| {}).unwrap();
    let p = fitted.head.predict(&data, dim);
    assert!(calibrate::auc(&p[40..], &y[40..]).unwrap() > 0.9);
}

#[test]
fn head_round_trips_through_safetensors() {
    let dim = 4;
    let (data, y) = dataset(40, dim, 5, |x0, _| x0 > 0.0);
    let st = Standardizer::fit(&data, dim);
    let fitted =
        fit_calibrated(&data, dim, &st, &examples(&y, 0..40), &[], SETTINGS, &|_, _| {}).unwrap();
    let back = Head::from_safetensors(&fitted.head.to_safetensors().unwrap()).unwrap();
    assert_eq!(back, fitted.head);
}

fn sim_config() -> SimConfig {
    SimConfig {
        retrain_every: 4,
        max_labels: 40,
        precision_k: 10,
        runs: 3,
        examples: 0,
        example_weight: 0.5,
        propagate: false,
        lookahead: true,
        settings: SETTINGS,
        queue: QueueConfig {
            best_threshold: 0.05,
            burst_seconds: 5.0,
            burst_cosine: 0.8,
            near_duplicate_cosine: 0.92,
            include_screenshots: false,
        },
    }
}

/// Photos of 8 scenes in 64 dimensions (scene center + noise, like embeddings of a library);
/// the known rule: scenes 0-2 are desirable (3 of 8).
fn scenes(n: usize) -> (Vec<f32>, Vec<bool>, usize) {
    let dim = 64;
    let mut rng = SplitMix(7);
    let centers: Vec<Vec<f32>> =
        (0..8).map(|_| (0..dim).map(|_| gauss(&mut rng)).collect()).collect();
    let mut data = Vec::new();
    let mut truth = Vec::new();
    for i in 0..n {
        let scene = (i * 5) % 8;
        data.extend(centers[scene].iter().map(|c| c + 0.8 * gauss(&mut rng)));
        truth.push(scene < 3);
    }
    (data, truth, dim)
}

fn evaluation(curves: Vec<eval::Curve>, truth: &[bool], cfg: &SimConfig) -> eval::Evaluation {
    eval::Evaluation {
        photos: truth.len(),
        positives: truth.iter().filter(|&&t| t).count(),
        runs: cfg.runs,
        test_photos: truth.len() / 3,
        retrain_every: cfg.retrain_every,
        examples: cfg.examples,
        precision_k: cfg.precision_k,
        ceiling: eval::Stats::of(&[0.97, 0.99]),
        curves,
    }
}

#[test]
fn eval_simulation_learns_a_known_rule() {
    let (data, truth, dim) = scenes(200);
    let taken = vec![None; 200];
    let cfg = sim_config();
    let curves = eval::simulate_all(&data, dim, &truth, &taken, &cfg, &|_| {}).unwrap();
    let curve = |s: Strategy| curves.iter().find(|c| c.strategy == s).unwrap();
    let amb = curve(Strategy::Ambiguous);
    assert_eq!(amb.points.first().unwrap().labels, 0);
    assert_eq!(amb.points.first().unwrap().auc, None, "no model before the first answer");
    assert_eq!(amb.points.last().unwrap().labels, 40);
    let last = amb.points.last().unwrap();
    assert!(last.auc.unwrap() > 0.95, "ambiguous AUC after 40 labels: {:?}", last.auc);
    let e = evaluation(curves.clone(), &truth, &cfg);
    let reach = |s: Strategy| curve(s).labels_to_reach(0.95).unwrap_or(usize::MAX);
    // Which order wins is what `photosift eval` measures on real photos; on these clean
    // scenes both get there quickly.
    assert!(reach(Strategy::Ambiguous) <= 20, "{}", eval_report::table(&e));
    assert!(reach(Strategy::Random) <= 20, "{}", eval_report::table(&e));
    for c in &curves {
        assert_eq!(c.auc_min.len(), c.points.len());
        assert_eq!(c.first_yes.len(), cfg.runs);
        for ((lo, hi), p) in c.auc_min.iter().zip(&c.auc_max).zip(&c.points) {
            if let (Some(lo), Some(hi), Some(mean)) = (lo, hi, p.auc) {
                assert!(*lo <= mean + 1e-12 && mean <= hi + 1e-12);
            }
        }
    }
    let table = eval_report::table(&e);
    assert!(table.contains("ambiguous") && table.contains("P@10"), "{table}");
    assert!(table.contains("ceiling: 0.980"), "{table}");

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("eval.png");
    plot::draw(&png, &curves, 10, "test").unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn no_strategy_ever_asks_about_a_photo_of_the_test_split() {
    let (data, truth, dim) = scenes(60);
    let taken = vec![None; 60];
    // Ask until the library is exhausted: every photo outside the split, none inside it.
    let cfg = SimConfig { max_labels: 1000, retrain_every: 5, examples: 3, ..sim_config() };
    for seed in 1..4 {
        let held = eval::test_split(&truth, eval::TEST_FRACTION, seed);
        let n_pos = truth.iter().filter(|&&t| t).count();
        let held_pos = (0..60).filter(|&i| held[i] && truth[i]).count();
        let held_neg = (0..60).filter(|&i| held[i] && !truth[i]).count();
        assert_eq!(held_pos, (n_pos as f64 / 3.0).round() as usize, "stratified");
        assert_eq!(held_neg, ((60 - n_pos) as f64 / 3.0).round() as usize, "stratified");
        let examples = eval::pick_examples(&truth, &held, 3, seed);
        assert_eq!(examples.len(), 3);
        assert!(examples.iter().all(|&i| truth[i] && !held[i]));
        for strategy in Strategy::ALL {
            let run =
                eval::simulate(&data, dim, &truth, &taken, &held, &examples, strategy, &cfg, seed)
                    .unwrap();
            assert!(run.asked.iter().all(|&i| !held[i]), "{strategy:?} asked a test photo");
            assert!(run.asked.iter().all(|i| !examples.contains(i)));
            let mut asked = run.asked.clone();
            asked.sort_unstable();
            asked.dedup();
            assert_eq!(asked.len(), run.asked.len(), "{strategy:?} asked a photo twice");
            assert_eq!(asked.len(), 60 - held.iter().filter(|&&h| h).count() - 3, "{strategy:?}");
            // The example photos give a model before the first answer.
            assert!(run.points[0].auc.is_some(), "{strategy:?}");
        }
    }
    // Another seed holds out another third.
    assert_ne!(eval::test_split(&truth, 1.0 / 3.0, 1), eval::test_split(&truth, 1.0 / 3.0, 2));
}

#[test]
fn reaching_a_target_means_the_mean_stays_above_it_from_then_on() {
    let point = |labels, auc| eval::Checkpoint { labels, auc: Some(auc), precision: None };
    let curve = eval::Curve {
        strategy: Strategy::Random,
        points: vec![
            point(0, 0.5),
            point(5, 0.92),
            point(10, 0.88),
            point(15, 0.91),
            point(20, 0.96),
        ],
        auc_min: vec![None; 5],
        auc_max: vec![None; 5],
        auc_sd: vec![None; 5],
        auc_runs: vec![Vec::new(); 5],
        first_yes: vec![Some(2)],
        propagated: 0,
    };
    assert_eq!(curve.labels_to_reach(0.9), Some(15), "0.92 at 5 does not count: it drops");
    assert_eq!(curve.labels_to_reach(0.95), Some(20));
    assert_eq!(curve.labels_to_reach(0.97), None);
}

#[test]
fn eval_json_has_the_documented_shape() {
    let (data, truth, dim) = scenes(60);
    let cfg = SimConfig { max_labels: 12, runs: 2, ..sim_config() };
    let e = eval::evaluate(&data, dim, &truth, &[None; 60], &cfg, &|_| {}).unwrap();
    assert_eq!(e.test_photos, 20, "a stratified third of the photos");
    let v = eval_report::json(&e);
    assert_eq!(v["photos"], 60);
    assert_eq!(v["positives"], truth.iter().filter(|&&t| t).count());
    assert_eq!(v["runs"], 2);
    assert!(v["ceiling_auc"].as_f64().unwrap() > 0.9);
    let strategies = v["strategies"].as_object().unwrap();
    let names: Vec<&str> = strategies.keys().map(String::as_str).collect();
    for name in ["ambiguous", "random", "best-first"] {
        assert!(names.contains(&name), "{names:?}");
        let s = &strategies[name];
        let labels = s["labels"].as_array().unwrap();
        assert_eq!(labels.first().unwrap(), 0);
        assert_eq!(labels.last().unwrap(), 12);
        for key in ["auc_mean", "auc_min", "auc_max", "precision_at_k_mean"] {
            let values = s[key].as_array().unwrap_or_else(|| panic!("{name}.{key}"));
            assert_eq!(values.len(), labels.len(), "{name}.{key}");
            assert!(values[0].is_null(), "{name}.{key}: no model before any answer");
            assert!(values.last().unwrap().as_f64().is_some(), "{name}.{key}");
        }
        let runs = s["auc_runs"].as_array().unwrap();
        assert_eq!(runs.len(), labels.len(), "{name}.auc_runs: one entry per checkpoint");
        assert!(runs.iter().all(|r| r.as_array().unwrap().len() == 2), "{name}: one AUC per run");
        let last: Vec<f64> =
            runs.last().unwrap().as_array().unwrap().iter().map(|a| a.as_f64().unwrap()).collect();
        let mean = s["auc_mean"].as_array().unwrap().last().unwrap().as_f64().unwrap();
        assert!(
            (last.iter().sum::<f64>() / 2.0 - mean).abs() < 1e-9,
            "{name}: runs {last:?}, mean {mean}"
        );
        let reach = s["labels_to_auc"].as_object().unwrap();
        assert_eq!(reach.keys().collect::<Vec<_>>(), vec!["0.9", "0.95"]);
        assert!(reach.values().all(|n| n.is_null() || n.as_u64().is_some()));
    }
}

#[test]
fn truth_files_with_any_header_are_read_and_matched_by_name() {
    let truth =
        eval_report::parse_truth("file,person\n000009.jpg,0\nsub/b.jpg, 1\n\nc.jpg,yes\n").unwrap();
    assert_eq!(truth.len(), 3);
    assert!(eval_report::parse_truth("a.jpg,1\nb.jpg,maybe\n").is_err());
    let photos = vec![
        (PhotoId(1), std::path::PathBuf::from("/x/000009.jpg")),
        (PhotoId(2), std::path::PathBuf::from("/x/sub/b.jpg")),
    ];
    let (matched, unmatched) = eval_report::match_truth(&photos, &truth);
    assert_eq!(matched, vec![(PhotoId(1), false), (PhotoId(2), true)]);
    assert_eq!(unmatched, vec!["c.jpg".to_owned()]);
}
