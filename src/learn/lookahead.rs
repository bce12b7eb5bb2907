//! Which photo to ask next among those the model is least sure of: a one-step look-ahead
//! ("expected model change"). For each candidate and each answer it could get, the head is
//! retrained with that answer added; the candidate's value is the change that answer would
//! make to p over the photos not asked yet, the two answers weighted by the candidate's
//! current p. The photo whose answer is expected to move the model most is asked first.
//!
//! Measured with `photosift eval` (docs/bench-learn.md, "Looking one answer ahead"): among
//! the 8 least sure photos, from 10 answers on, it reaches AUC 0.9 on coco-dev300's person
//! concept after 28 answers instead of 36, and loses beyond noise on no concept at any
//! checkpoint. Weighing 16 photos from 4 answers on gained more on two concepts (food +0.049
//! at 10 answers) but lost 0.023-0.026 on animal at 10-15.

use rayon::prelude::*;

use super::{Example, Head, LearnError, TrainSettings, head};
use crate::queue::{self, Candidate};

/// How many of the least sure photos the look-ahead weighs (two head fits each).
pub const CANDIDATES: usize = 8;
/// Photos not asked yet over which a change is measured: a stride sample of at most this
/// many keeps the cost independent of the library's size.
pub const SAMPLE: usize = 2000;
/// Manual answers (of both kinds) before the look-ahead is used; with fewer, plain
/// uncertainty (with 4, its picks cost animal 0.02 AUC at 10-15 answers).
pub const MIN_ANSWERS: usize = 10;

/// Whether the look-ahead applies to these manual answers: at least [`MIN_ANSWERS`], both
/// kinds among them.
pub fn applies(manual: &[Example]) -> bool {
    manual.len() >= MIN_ANSWERS
        && manual.iter().any(|e| e.positive)
        && manual.iter().any(|e| !e.positive)
}

/// At most `n` of `rows`, evenly spread (every k-th).
pub fn stride_sample(rows: &[usize], n: usize) -> Vec<usize> {
    rows.iter().copied().step_by(rows.len().div_ceil(n.max(1)).max(1)).collect()
}

/// The look-ahead over queue candidates scored by `head`, just trained on `manual` and
/// `synthetic` (calibrated or not): the indices into `cands` of the least sure photos ([`CANDIDATES`] of
/// `queue::least_sure`) in the order to ask them. `row(k)` is candidate k's row of `data`
/// (`None`: not embedded). Empty when the look-ahead does not apply yet ([`applies`]).
#[allow(clippy::too_many_arguments)]
pub fn ask_order(
    data: &[f32],
    dim: usize,
    head: &Head,
    manual: &[Example],
    synthetic: &[Example],
    settings: TrainSettings,
    cands: &[Candidate],
    row: &dyn Fn(usize) -> Option<usize>,
) -> Result<Vec<usize>, LearnError> {
    if !applies(manual) {
        return Ok(Vec::new());
    }
    let least: Vec<(usize, usize, f32)> = queue::least_sure(cands, CANDIDATES)
        .into_iter()
        .filter_map(|k| Some((k, row(k)?, cands[k].p?)))
        .collect();
    let open: Vec<usize> =
        (0..cands.len()).filter(|&k| queue::is_open(&cands[k])).filter_map(row).collect();
    let examples: Vec<Example> = manual.iter().chain(synthetic).copied().collect();
    let candidates: Vec<(usize, f32)> = least.iter().map(|&(_, r, p)| (r, p)).collect();
    let unasked = stride_sample(&open, SAMPLE);
    let order = order(data, dim, head, &examples, settings, &candidates, &unasked)?;
    Ok(order.into_iter().map(|i| least[i].0).collect())
}

/// `candidates` (row of `data`, current calibrated p) ordered by the expected change of their
/// answer, largest first: the indices into `candidates`. `examples` is what `head` was
/// trained on (manual answers and seed images, both kinds present); the change is the summed
/// |p' - p| of the uncalibrated head over the rows `unasked`, each refit with one more answer
/// against `head`.
pub fn order(
    data: &[f32],
    dim: usize,
    head: &Head,
    examples: &[Example],
    settings: TrainSettings,
    candidates: &[(usize, f32)],
    unasked: &[usize],
) -> Result<Vec<usize>, LearnError> {
    let rows: Vec<f32> =
        unasked.iter().flat_map(|&r| data[r * dim..(r + 1) * dim].iter().copied()).collect();
    let p_of =
        |h: &Head| -> Vec<f32> { h.decision(&rows, dim).into_iter().map(head::sigmoid).collect() };
    let now = p_of(head);
    let change = |row: usize, positive: bool| -> Result<f64, LearnError> {
        let mut with = examples.to_vec();
        with.push(Example { row, positive, weight: 1.0 });
        let after = p_of(&head::fit(data, dim, &head.standardizer, &with, settings)?);
        Ok(after.iter().zip(&now).map(|(a, b)| f64::from((a - b).abs())).sum())
    };
    let expected: Vec<f64> = candidates
        .par_iter()
        .map(|&(row, p)| {
            let p = f64::from(p);
            Ok(p * change(row, true)? + (1.0 - p) * change(row, false)?)
        })
        .collect::<Result<_, LearnError>>()?;
    let mut idx: Vec<usize> = (0..candidates.len()).collect();
    idx.sort_by(|&a, &b| expected[b].total_cmp(&expected[a]).then(a.cmp(&b)));
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two classes along axis 0, plus an unlabeled cluster on axis 1 that the labels say
    /// nothing about, and one lone outlier on axis 2. Both candidates sit on the boundary
    /// (p = 0.5); an answer on the cluster's photo moves the scores of the whole cluster,
    /// an answer on the outlier moves almost nothing.
    #[test]
    fn the_answer_that_moves_many_photos_comes_first() {
        let dim = 4;
        let mut data: Vec<f32> = Vec::new();
        let mut push = |v: [f32; 4]| data.extend_from_slice(&v);
        for i in 0..4 {
            let s = 0.1 * i as f32;
            push([1.0 + s, 0.0, 0.0, s]); // rows 0-3: "yes"
            push([-1.0 - s, 0.0, 0.0, s]); // rows 4-7 alternate: "no"
        }
        for i in 0..20 {
            push([0.0, 1.0 + 0.01 * i as f32, 0.0, 0.0]); // rows 8-27: the cluster
        }
        push([0.0, 0.0, 1.0, 0.0]); // row 28: the outlier
        let examples: Vec<Example> =
            (0..8).map(|row| Example { row, positive: row % 2 == 0, weight: 1.0 }).collect();
        let standardizer = crate::learn::Standardizer::fit(&data, dim);
        let unasked: Vec<usize> = (8..29).collect();
        let candidates = [(28, 0.5), (8, 0.5)];
        let settings = TrainSettings { l2: 0.1 };
        let head = head::fit(&data, dim, &standardizer, &examples, settings).unwrap();
        let order = order(&data, dim, &head, &examples, settings, &candidates, &unasked).unwrap();
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn it_waits_for_both_kinds_of_answer() {
        let answers = |n: usize, kinds: usize| -> Vec<Example> {
            (0..n).map(|row| Example { row, positive: row % kinds == 0, weight: 1.0 }).collect()
        };
        assert!(!applies(&answers(MIN_ANSWERS, 1)), "only \"yes\"");
        assert!(!applies(&answers(MIN_ANSWERS - 1, 2)), "too few");
        assert!(applies(&answers(MIN_ANSWERS, 2)));
    }

    #[test]
    fn the_sample_spreads_over_all_rows() {
        let rows: Vec<usize> = (0..10).collect();
        assert_eq!(stride_sample(&rows, 4), vec![0, 3, 6, 9]);
        assert_eq!(stride_sample(&rows, 20), rows);
        assert!(stride_sample(&[], 4).is_empty());
    }
}
