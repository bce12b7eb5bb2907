//! Ranking by the prompts before any answer, and handing over to the trained head as answers
//! arrive.
//!
//! With CLIP, a photo's unit image embedding `x` and the unit text embeddings of the `want`
//! prompts and of the `dont_want` prompts (or, without any, a few neutral ones) give CLIP's
//! zero-shot p(want): a softmax over `logit_scale · cos(x, class)` for the two classes, each
//! class the renormalized mean of its prompts' embeddings (CLIP's prompt ensembling). With two
//! classes that softmax is `sigmoid(logit_scale · x · (want − other))`: a linear function of
//! the embedding, i.e. a [`Head`]. So the zero-shot ranking is stored, scored and queued
//! exactly like a trained head, and the hand-over is a blend of the two heads' logits
//! ([`blend`]), again a head: after `n` answers the trained head weighs `n / (n + k)`.

use super::head::{Head, Standardizer};

/// Prompts standing for "any photo" when the user named nothing unwanted.
pub const NEUTRAL_PROMPTS: [&str; 3] = ["a photo.", "a photo of something.", "a picture."];

/// The renormalized mean of unit vectors; `None` for none.
pub fn class_vector(prompts: &[Vec<f32>]) -> Option<Vec<f32>> {
    let dim = prompts.first()?.len();
    let mut mean = vec![0f32; dim];
    for p in prompts {
        for (m, x) in mean.iter_mut().zip(p) {
            *m += x;
        }
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    Some(mean.into_iter().map(|x| x / norm).collect())
}

/// The zero-shot head over unit image embeddings: p = sigmoid(`logit_scale` · x · (want −
/// other)), written in `standardizer`'s coordinates so that it blends with heads trained on
/// the same table. `None` without a `want` prompt (or without `other` ones).
pub fn zero_shot_head(
    want: &[Vec<f32>],
    other: &[Vec<f32>],
    logit_scale: f32,
    standardizer: &Standardizer,
) -> Option<Head> {
    let (w, o) = (class_vector(want)?, class_vector(other)?);
    if w.len() != standardizer.mean.len() || o.len() != w.len() {
        return None;
    }
    // z = s·(w − o)·x = weight·((x − mean)·inv_std) + bias.
    let direct: Vec<f32> = w.iter().zip(&o).map(|(a, b)| logit_scale * (a - b)).collect();
    let weight: Vec<f32> =
        direct.iter().zip(&standardizer.inv_std).map(|(d, s)| d / s.max(1e-12)).collect();
    let bias = direct.iter().zip(&standardizer.mean).map(|(d, m)| d * m).sum();
    Some(Head { standardizer: standardizer.clone(), weight, bias, platt: (1.0, 0.0) })
}

/// The trained head's share after `answers` manual answers: `n / (n + k)`, 1 when `k` is 0.
pub fn handover_weight(answers: usize, k: u32) -> f32 {
    if k == 0 {
        return 1.0;
    }
    answers as f32 / (answers as f32 + k as f32)
}

/// One head whose logit is `alpha · trained + (1 − alpha) · prior` (both calibrated logits,
/// Platt included). Both must share the standardizer (heads of one table do).
pub fn blend(trained: &Head, prior: &Head, alpha: f32) -> Head {
    let (ta, tc) = trained.platt;
    let (pa, pc) = prior.platt;
    let weight = trained
        .weight
        .iter()
        .zip(&prior.weight)
        .map(|(t, p)| alpha * ta * t + (1.0 - alpha) * pa * p)
        .collect();
    let bias = alpha * (ta * trained.bias + tc) + (1.0 - alpha) * (pa * prior.bias + pc);
    Head { standardizer: trained.standardizer.clone(), weight, bias, platt: (1.0, 0.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learn::head::sigmoid;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn the_zero_shot_head_is_the_two_class_softmax_of_scaled_cosines() {
        let data: Vec<f32> = [[1.0, 0.2, 0.0], [0.1, 1.0, 0.3], [0.5, 0.5, 0.5], [0.0, 0.1, 1.0]]
            .iter()
            .flat_map(|r| unit(r))
            .collect();
        let std = Standardizer::fit(&data, 3);
        let want = vec![unit(&[1.0, 0.0, 0.0]), unit(&[1.0, 0.3, 0.0])];
        let other = vec![unit(&[0.0, 1.0, 0.0])];
        let head = zero_shot_head(&want, &other, 100.0, &std).unwrap();
        let (w, o) = (class_vector(&want).unwrap(), class_vector(&other).unwrap());
        for (row, p) in data.chunks(3).zip(head.predict(&data, 3)) {
            let cos = |c: &[f32]| row.iter().zip(c).map(|(a, b)| a * b).sum::<f32>();
            let (lw, lo) = (100.0 * cos(&w), 100.0 * cos(&o));
            // exp(lw) / (exp(lw) + exp(lo)), without overflowing at logits near 100.
            let softmax = 1.0 / (1.0 + (lo - lw).exp());
            assert!((p - softmax).abs() < 1e-4, "{p} vs {softmax}");
        }
        assert!(zero_shot_head(&[], &other, 100.0, &std).is_none());
    }

    #[test]
    fn the_head_takes_over_as_answers_arrive() {
        assert_eq!(handover_weight(0, 20), 0.0);
        assert_eq!(handover_weight(20, 20), 0.5);
        assert!(handover_weight(380, 20) > 0.94);
        assert_eq!(handover_weight(0, 0), 1.0);
        let data: Vec<f32> = (0..12).map(|i| ((i * 7) % 5) as f32 / 5.0).collect();
        let std = Standardizer::fit(&data, 3);
        let prior = Head {
            standardizer: std.clone(),
            weight: vec![2.0, -1.0, 0.5],
            bias: 0.3,
            platt: (1.0, 0.0),
        };
        let trained =
            Head { standardizer: std, weight: vec![-1.0, 3.0, 0.0], bias: -0.2, platt: (0.8, 0.1) };
        let logit = |p: f32| (p / (1.0 - p)).ln();
        for alpha in [0.0, 0.25, 1.0] {
            let mixed = blend(&trained, &prior, alpha).predict(&data, 3);
            for ((m, t), p) in
                mixed.iter().zip(trained.predict(&data, 3)).zip(prior.predict(&data, 3))
            {
                let want = sigmoid(alpha * logit(t) + (1.0 - alpha) * logit(p));
                assert!((m - want).abs() < 1e-4, "alpha {alpha}: {m} vs {want}");
            }
        }
    }
}
