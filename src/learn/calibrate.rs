//! Ranking quality and calibration: AUC, Platt scaling, and the stratified k-fold split that
//! gives both their out-of-fold decision values.

/// Area under the ROC curve (Mann-Whitney, ties count half); `None` without both classes.
pub fn auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    // Sum of the (average, for ties) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Platt scaling: (a, c) such that sigmoid(a z + c) matches the labels, fitted by Newton's
/// method on Platt's smoothed targets with a weak pull toward the identity (1, 0) so that a
/// handful of labels cannot produce a wild fit. `a` stays positive: calibration never flips
/// the ranking.
pub fn platt(z: &[f32], positive: &[bool]) -> (f32, f32) {
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    let t_pos = (n_pos + 1.0) / (n_pos + 2.0);
    let t_neg = 1.0 / (n_neg + 2.0);
    let ridge = 1.0;
    let loss = |a: f64, c: f64| -> f64 {
        let mut l = 0.5 * ridge * ((a - 1.0).powi(2) + c * c);
        for (&zi, &yi) in z.iter().zip(positive) {
            let t = if yi { t_pos } else { t_neg };
            let s = a * f64::from(zi) + c;
            // -(t log p + (1 - t) log(1 - p)) with p = sigmoid(s), stable for any s.
            l += softplus(s) - t * s;
        }
        l
    };
    let (mut a, mut c) = (1.0f64, 0.0f64);
    let mut current = loss(a, c);
    for _ in 0..50 {
        let (mut ga, mut gc) = (ridge * (a - 1.0), ridge * c);
        let (mut haa, mut hac, mut hcc) = (ridge, 0.0, ridge);
        for (&zi, &yi) in z.iter().zip(positive) {
            let zi = f64::from(zi);
            let t = if yi { t_pos } else { t_neg };
            let p = 1.0 / (1.0 + (-(a * zi + c)).exp());
            let w = p * (1.0 - p);
            ga += (p - t) * zi;
            gc += p - t;
            haa += w * zi * zi;
            hac += w * zi;
            hcc += w;
        }
        let det = haa * hcc - hac * hac;
        if det <= 0.0 {
            break;
        }
        let da = (hcc * ga - hac * gc) / det;
        let dc = (haa * gc - hac * ga) / det;
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-4 {
            let (na, nc) = (a - step * da, c - step * dc);
            let l = loss(na, nc);
            if l <= current {
                (a, c, current) = (na, nc, l);
                improved = true;
                break;
            }
            step /= 2.0;
        }
        if !improved || (da * da + dc * dc).sqrt() * step < 1e-9 {
            break;
        }
    }
    (a.max(0.01) as f32, c as f32)
}

/// Platt scaling where it means something: `None` (keep the uncalibrated score) when the
/// out-of-fold ranking is no better than chance. With a handful of labels the cross-validated
/// ranking can come out inverted; a Platt fit on it wants a negative slope, which is clamped
/// to nearly zero and would squash every score to one value, erasing the model's ranking.
pub fn platt_or_identity(z: &[f32], positive: &[bool]) -> Option<(f32, f32)> {
    if auc(z, positive).is_none_or(|a| a <= 0.5) {
        return None;
    }
    Some(platt(z, positive))
}

fn softplus(s: f64) -> f64 {
    s.max(0.0) + (-s.abs()).exp().ln_1p()
}

/// Stratified fold of each item: each class dealt round-robin over `k` folds, so every fold
/// holds both classes when each class has at least `k` members.
pub fn stratified_folds(positive: &[bool], k: usize) -> Vec<usize> {
    let mut next = [0usize; 2];
    positive
        .iter()
        .map(|&p| {
            let slot = &mut next[usize::from(p)];
            let fold = *slot % k.max(1);
            *slot += 1;
            fold
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_reversed_and_tied_rankings() {
        let y = [false, false, true, true];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &y), Some(1.0));
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &y), Some(0.0));
        assert_eq!(auc(&[0.5; 4], &y), Some(0.5));
        assert_eq!(auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn platt_recovers_a_known_calibration() {
        // Labels drawn so that P(yes | z) = sigmoid(2 z - 1), on a fine grid of z.
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in 0..400 {
            let zi = -3.0 + 6.0 * i as f32 / 400.0;
            let p = 1.0 / (1.0 + (-(2.0 * zi - 1.0)).exp());
            // A hundred copies per grid point, round(100 p) of them positive.
            let k = (100.0 * p).round() as usize;
            for j in 0..100 {
                z.push(zi);
                y.push(j < k);
            }
        }
        let (a, c) = platt(&z, &y);
        assert!((a - 2.0).abs() < 0.15 && (c + 1.0).abs() < 0.1, "a {a} c {c}");
    }

    #[test]
    fn an_inverted_ranking_at_three_and_three_labels_keeps_the_uncalibrated_score() {
        // Out-of-fold values of 3 + 3 labels that rank every "no" above every "yes".
        let z = [-1.2, -0.8, -0.5, 0.4, 0.9, 1.5];
        let y = [true, true, true, false, false, false];
        assert_eq!(platt_or_identity(&z, &y), None);
        // A chance-level ranking too; a good one is calibrated, slope positive.
        assert_eq!(platt_or_identity(&[0.0; 6], &y), None);
        let right: Vec<f32> = z.iter().map(|v| -v).collect();
        let (a, _) = platt_or_identity(&right, &y).unwrap();
        assert!(a > 0.5, "slope {a}");
    }

    #[test]
    fn stratified_folds_deal_each_class_round_robin() {
        let y = [true, false, true, false, true, true, false];
        assert_eq!(stratified_folds(&y, 3), vec![0, 0, 1, 1, 2, 0, 2]);
    }
}
