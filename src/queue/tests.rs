//! Queue ordering rules on hand-made embeddings.

use super::*;

fn cfg() -> QueueConfig {
    QueueConfig {
        best_threshold: 0.05,
        burst_seconds: 5.0,
        burst_cosine: 0.8,
        near_duplicate_cosine: 0.92,
        include_screenshots: false,
    }
}

/// A unit vector in 8 dimensions: `axis` plus `wobble` on the next axis.
fn unit(axis: usize, wobble: f32) -> Vec<f32> {
    let mut v = vec![0.0; 8];
    v[axis % 8] = 1.0;
    v[(axis + 1) % 8] += wobble;
    let n = dot(&v, &v).sqrt();
    v.iter().map(|x| x / n).collect()
}

fn cand(id: i64, p: Option<f32>, embedding: Vec<f32>) -> Candidate {
    Candidate {
        photo: PhotoId(id),
        p,
        taken_at: None,
        embedding: Some(embedding),
        kind_label: None,
        print_label: None,
        ask_first: None,
    }
}

fn ids(v: &[PhotoId]) -> Vec<i64> {
    v.iter().map(|p| p.0).collect()
}

fn assert_no_similar_neighbours(order: &[PhotoId], cands: &[Candidate]) {
    let by_id = |p: PhotoId| cands.iter().find(|c| c.photo == p).unwrap();
    for w in order.windows(2) {
        let (a, b) = (by_id(w[0]), by_id(w[1]));
        assert!(!too_similar(a, b, &cfg()), "{:?} and {:?} back to back", a.photo, b.photo);
    }
}

#[test]
fn centering_spreads_all_positive_features_apart() {
    // Three all-positive vectors pointing roughly the same way (cosine > 0.9 each), the way
    // photo features of unrelated photos do; the third is a near-copy of the first.
    let raw = [vec![1.0, 0.2, 0.1], vec![0.2, 1.0, 0.1], vec![1.0, 0.21, 0.12]];
    let mut cands: Vec<Candidate> =
        raw.iter().enumerate().map(|(i, v)| cand(i as i64, None, v.clone())).collect();
    cands.push(Candidate { embedding: None, ..cand(9, None, vec![]) });
    center_embeddings(&mut cands);
    let e = |i: usize| cands[i].embedding.as_deref().unwrap();
    for i in 0..3 {
        assert!((dot(e(i), e(i)) - 1.0).abs() < 1e-5, "unit length");
    }
    assert!(dot(e(0), e(1)) < 0.0, "unrelated photos are no longer alike");
    assert!(dot(e(0), e(2)) > 0.9, "near-copies stay alike");
    assert_eq!(cands[3].embedding, None);
}

#[test]
fn cold_start_shows_one_typical_photo_per_cluster_biggest_first() {
    // Three clusters around axes 0, 2, 4 of sizes 9, 5, 3; the exact axis vector is the
    // most central member of each.
    let mut cands = Vec::new();
    let mut id = 0;
    for (axis, size) in [(2usize, 5usize), (0, 9), (4, 3)] {
        for k in 0..size {
            id += 1;
            // Symmetric around the axis, so the axis itself is the cluster's center.
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            let wobble = 0.1 * k.div_ceil(2) as f32 * sign;
            cands.push(cand(id, None, unit(axis, wobble)));
        }
    }
    let order = ambiguous(&cands, &cfg());
    assert_eq!(order.len(), cands.len());
    // Photo 6 is axis 0 (9 members), photo 1 axis 2 (5), photo 15 axis 4 (3).
    assert_eq!(ids(&order[..3]), vec![6, 1, 15]);
}

#[test]
fn cold_start_lasts_until_both_classes_are_labeled() {
    // A model exists and photo 3 is the most uncertain, but only "yes" has been answered.
    let mut cands = vec![
        cand(1, Some(0.9), unit(0, 0.0)),
        cand(2, Some(0.1), unit(0, 0.1)),
        cand(3, Some(0.5), unit(5, 0.0)),
        cand(4, Some(0.8), unit(0, -0.1)),
    ];
    cands[0].kind_label = Some(LabelValue::Yes);
    let order = ambiguous(&cands, &cfg());
    assert_eq!(order[0], PhotoId(2), "the typical photo of the big cluster: {order:?}");
    assert!(!order.contains(&PhotoId(1)), "labeled photos are not asked again");

    cands[1].kind_label = Some(LabelValue::No);
    let order = ambiguous(&cands, &cfg());
    assert_eq!(ids(&order), vec![3, 4], "both classes known: |p - 0.5| ascending");
}

/// Photos 1..=n scored `ps`, each on its own axis (no two alike).
fn scored(ps: &[f32]) -> Vec<Candidate> {
    ps.iter().enumerate().map(|(i, &p)| cand(i as i64 + 1, Some(p), unit(i, 0.0))).collect()
}

#[test]
fn uncertainty_order_with_skipped_and_print_decided() {
    let mut cands = scored(&[0.95, 0.45, 0.05, 0.7, 0.52, 0.3]);
    cands[0].kind_label = Some(LabelValue::Yes);
    cands[2].kind_label = Some(LabelValue::No);
    cands[4].kind_label = Some(LabelValue::Skip); // p 0.52: most uncertain, but asked later
    cands[5].print_label = Some(LabelValue::No); // passed in best-first: done with it
    let order = ambiguous(&cands, &cfg());
    assert_eq!(ids(&order), vec![2, 4, 5]);
}

#[test]
fn the_models_look_ahead_picks_come_first_in_its_order() {
    let mut cands = scored(&[0.95, 0.45, 0.05, 0.7, 0.52, 0.3]);
    cands[0].kind_label = Some(LabelValue::Yes);
    cands[2].kind_label = Some(LabelValue::No);
    // The look-ahead says: photo 4 (p 0.7) first, then photo 6 (p 0.3); then the rest by
    // |p - 0.5|.
    cands[3].ask_first = Some(0);
    cands[5].ask_first = Some(1);
    let order = ambiguous(&cands, &cfg());
    assert_eq!(ids(&order), vec![4, 6, 5, 2]);
    // A look-ahead pick answered since is not asked again.
    cands[3].kind_label = Some(LabelValue::Yes);
    assert_eq!(ids(&ambiguous(&cands, &cfg())), vec![6, 5, 2]);
}

#[test]
fn least_sure_skips_answered_unscored_and_print_decided_photos() {
    let mut cands: Vec<Candidate> = [Some(0.9), Some(0.49), None, Some(0.6), Some(0.5), Some(0.3)]
        .iter()
        .enumerate()
        .map(|(i, &p)| cand(i as i64 + 1, p, unit(i, 0.0)))
        .collect();
    cands[4].kind_label = Some(LabelValue::Skip);
    cands[1].print_label = Some(LabelValue::Yes);
    // Open and scored: 0 (0.9), 3 (0.6), 5 (0.3); nearest 0.5 first.
    assert_eq!(least_sure(&cands, 2), vec![3, 5]);
    assert_eq!(least_sure(&cands, 10), vec![3, 5, 0]);
}

#[test]
fn near_duplicates_and_burst_siblings_never_come_back_to_back() {
    // Pairs (1,2) and (3,4) are near-duplicates; (5,6) are burst siblings (3 s apart,
    // cosine ~0.89); (7,8) are as alike as 5 and 6 but an hour apart, so they may touch.
    let mut cands = vec![
        cand(1, Some(0.50), unit(0, 0.0)),
        cand(2, Some(0.51), unit(0, 0.05)),
        cand(3, Some(0.49), unit(2, 0.0)),
        cand(4, Some(0.48), unit(2, 0.1)),
        cand(5, Some(0.47), unit(4, 0.0)),
        cand(6, Some(0.46), unit(4, 0.5)),
        cand(7, Some(0.45), unit(6, 0.0)),
        cand(8, Some(0.44), unit(6, 0.5)),
    ];
    cands[4].taken_at = Some(1000);
    cands[5].taken_at = Some(1003);
    cands[6].taken_at = Some(1000);
    cands[7].taken_at = Some(4600);
    let c = dot(cands[4].embedding.as_ref().unwrap(), cands[5].embedding.as_ref().unwrap());
    assert!(c > 0.8 && c < 0.92, "fixture: burst siblings are not near-duplicates ({c})");
    let both_classes = [cand(9, Some(0.99), unit(1, 0.0)), cand(10, Some(0.01), unit(3, 0.0))];
    let mut all = cands.clone();
    all.extend(both_classes);
    all[8].kind_label = Some(LabelValue::Yes);
    all[9].kind_label = Some(LabelValue::No);
    let order = ambiguous(&all, &cfg());
    assert_eq!(order.len(), 8);
    assert_no_similar_neighbours(&order, &all);
    // Each photo moves at most one place from the |p - 0.5| order.
    assert_eq!(ids(&order), vec![1, 3, 2, 4, 5, 7, 6, 8]);
}

#[test]
fn a_queue_of_only_duplicates_still_lists_every_photo() {
    let cands: Vec<Candidate> = (1..=5).map(|i| cand(i, None, unit(0, 0.0))).collect();
    let order = ambiguous(&cands, &cfg());
    assert_eq!(order.len(), 5);
}

#[test]
fn photos_without_embeddings_or_scores_are_still_queued() {
    let mut cands = vec![cand(1, None, unit(0, 0.0)), cand(2, None, unit(1, 0.0))];
    cands.push(Candidate { embedding: None, ..cand(3, None, vec![]) });
    let order = ambiguous(&cands, &cfg());
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], PhotoId(3), "not embedded yet: last");
    assert!(best_first(&cands, &cfg()).is_empty(), "no model, no best-first queue");
}

#[test]
fn best_first_is_descending_p_above_threshold_and_undecided() {
    let mut cands = scored(&[0.9, 0.04, 0.5, 0.7, 0.95, 0.06, 0.8]);
    cands[4].print_label = Some(LabelValue::Yes); // 0.95, already picked
    cands[6].kind_label = Some(LabelValue::No); // 0.8, "not the kind I want"
    cands[0].print_label = Some(LabelValue::Skip); // 0.9, ask later: after the rest
    let best = best_first(&cands, &cfg());
    let order: Vec<i64> = best.iter().map(|e| e.photo.0).collect();
    assert_eq!(order, vec![4, 3, 6, 1]);
    let groups: Vec<usize> = best.iter().map(|e| e.group).collect();
    assert_eq!(groups, vec![0, 1, 2, 3]);
}

#[test]
fn best_first_keeps_a_burst_together_ranked_by_its_best_photo() {
    // Burst {1, 2, 3}: within 5 s of each other, alike. Photo 4 is alike but a minute later;
    // photo 5 is at the same moment but a different picture.
    let mut cands = vec![
        cand(1, Some(0.9), unit(0, 0.0)),
        cand(2, Some(0.2), unit(0, 0.3)),
        cand(3, Some(0.4), unit(0, -0.3)),
        cand(4, Some(0.6), unit(0, 0.1)),
        cand(5, Some(0.7), unit(4, 0.0)),
    ];
    for (c, t) in cands.iter_mut().zip([100, 104, 107, 170, 101]) {
        c.taken_at = Some(t);
    }
    let best = best_first(&cands, &cfg());
    let order: Vec<i64> = best.iter().map(|e| e.photo.0).collect();
    assert_eq!(order, vec![1, 3, 2, 5, 4], "chained burst 100-104-107 comes together");
    let groups: Vec<usize> = best.iter().map(|e| e.group).collect();
    assert_eq!(groups, vec![0, 0, 0, 1, 2]);
}

#[test]
fn bursts_stop_chaining_at_a_capped_size_and_span() {
    // A walk: 40 near-identical shots 2 s apart. Each is within burst_seconds of the next,
    // so without caps they chain into one group of 40 spanning 78 s.
    let cands: Vec<Candidate> = (0..40)
        .map(|i| Candidate {
            taken_at: Some(1000 + 2 * i),
            ..cand(i, Some(0.9 - i as f32 * 0.001), unit(0, 0.01 * (i % 3) as f32))
        })
        .collect();
    let best = best_first(&cands, &cfg());
    assert_eq!(best.len(), 40);
    let mut groups: HashMap<usize, Vec<i64>> = HashMap::new();
    for e in &best {
        groups.entry(e.group).or_default().push(cands[e.photo.0 as usize].taken_at.unwrap());
    }
    assert!(groups.len() >= 40 / MAX_BURST_SIZE, "{groups:?}");
    for times in groups.values() {
        assert!(times.len() <= MAX_BURST_SIZE, "{times:?}");
        let span = times.iter().max().unwrap() - times.iter().min().unwrap();
        assert!(span as f64 <= cfg().burst_seconds * MAX_BURST_SPAN, "{times:?}");
    }
    // Still real bursts, not single photos.
    assert!(groups.values().any(|t| t.len() >= 5), "{groups:?}");
}
