//! The two orders the user works through, as pure functions over scores, labels, embeddings
//! and capture times: the ambiguous queue ("is this the sort of image I want?") and the
//! best-first queue ("is this an image I want?").
//!
//! Both are rebuilt from scratch after every retrain, so they must stay cheap: 25,000 photos
//! in well under 50 ms (see `docs/bench-learn.md`).

use std::cmp::Ordering;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::config::QueueConfig;
pub use crate::domain::Candidate;
use crate::domain::{LabelValue, PhotoId};
use crate::numeric::{SplitMix, dot, normalize};

/// One entry of the best-first queue; photos of one burst share `group` and come together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestEntry {
    pub photo: PhotoId,
    pub group: usize,
}

/// Photos the cold-start clustering looks at: a stride sample keeps it fast on big libraries.
const CLUSTER_SAMPLE: usize = 512;
/// Most clusters (typical photos) the cold start shows before the second round.
const MAX_CLUSTERS: usize = 16;
const KMEANS_ITERATIONS: usize = 4;
/// How far ahead the diversity pass looks for a photo unlike the previous one.
const DIVERSITY_LOOKAHEAD: usize = 64;
/// A burst holds at most this many photos...
const MAX_BURST_SIZE: usize = 12;
/// ...taken within this many `burst_seconds` of its first shot: without the caps, a walk
/// shooting every few seconds chains into one endless "burst".
const MAX_BURST_SPAN: f64 = 3.0;

/// The ambiguous queue: photos without a "kind" answer, the ones the model is least sure of
/// first (|p - 0.5| ascending), except that the model's look-ahead picks
/// (`Candidate::ask_first`, `learn::lookahead`) come before all of them, in its order.
///
/// Before any model, or with "yes" but no "no" answers, typical photos come first instead:
/// the photos nearest the centers of clusters of the embeddings, one per cluster, biggest
/// cluster first. With a model but no "yes" answer yet (seed or example photos, or only "no"
/// answers), the likeliest photos come first, to find a first "yes" fast. Photos skipped
/// earlier ("ask later") come after all the others; photos already decided for print are left
/// out. Two photos that are near-duplicates or burst siblings never come back to back.
pub fn ambiguous(cands: &[Candidate], cfg: &QueueConfig) -> Vec<PhotoId> {
    let has_yes = cands.iter().any(|c| c.kind_label == Some(LabelValue::Yes));
    let has_no = cands.iter().any(|c| c.kind_label == Some(LabelValue::No));
    let has_model = cands.iter().any(|c| c.p.is_some());
    let mut fresh = Vec::new();
    let mut skipped = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        if decided_for_print(c) {
            continue;
        }
        match c.kind_label {
            None => fresh.push(i),
            Some(LabelValue::Skip) => skipped.push(i),
            Some(_) => {}
        }
    }
    let order_fn = match (has_model, has_yes, has_no) {
        (true, true, true) => by_uncertainty,
        // No "yes" yet: a rare kind (10-20% of the photos) would take many typical photos to
        // turn up, so hunt for it: photos most like the wanted seed or example photos, least
        // like the "no" answers, first.
        (true, false, _) => by_likelihood,
        _ => by_typicality,
    };
    let mut order = order_fn(cands, fresh);
    order.extend(order_fn(cands, skipped));
    spread(cands, order, cfg).into_iter().map(|i| cands[i].photo).collect()
}

/// The best-first queue: photos with p > `best_threshold` that are not decided for print
/// (and not answered "not the kind I want"), best first. Bursts (taken within
/// `burst_seconds` of each other and at least `burst_cosine` alike) form one group that comes
/// together, ranked by its best photo. Photos skipped earlier come after all the others.
pub fn best_first(cands: &[Candidate], cfg: &QueueConfig) -> Vec<BestEntry> {
    let mut fresh = Vec::new();
    let mut skipped = Vec::new();
    for (i, c) in cands.iter().enumerate() {
        let Some(p) = c.p else { continue };
        if p <= cfg.best_threshold || c.kind_label == Some(LabelValue::No) {
            continue;
        }
        match c.print_label {
            None => fresh.push(i),
            Some(LabelValue::Skip) => skipped.push(i),
            Some(_) => {}
        }
    }
    let mut out = Vec::with_capacity(fresh.len() + skipped.len());
    for part in [fresh, skipped] {
        let first_group = out.last().map_or(0, |e: &BestEntry| e.group + 1);
        for (g, group) in bursts(cands, part, cfg).into_iter().enumerate() {
            out.extend(
                group
                    .into_iter()
                    .map(|i| BestEntry { photo: cands[i].photo, group: first_group + g }),
            );
        }
    }
    out
}

/// Scales each embedding to unit length, centers them on their mean and scales each back to
/// unit length, in place: every photo weighs the same in the mean. The photo features are all
/// positive, so any two photos have a cosine near 0.9; around the
/// library's mean photo unrelated photos are near 0 (95% below 0.23 on coco-dev) and
/// near-duplicates stay above 0.8, which is what `burst_cosine`, `near_duplicate_cosine` and
/// the cold-start clustering expect. Embeddings of another length than the first are left as
/// they are.
pub fn center_embeddings(cands: &mut [Candidate]) {
    let Some(dim) = cands.iter().find_map(|c| c.embedding.as_ref().map(Vec::len)) else {
        return;
    };
    cands.par_iter_mut().filter_map(|c| c.embedding.as_mut()).for_each(|v| normalize(v));
    let mut mean = vec![0f64; dim];
    let mut n = 0usize;
    for v in cands.iter().filter_map(|c| c.embedding.as_ref()).filter(|v| v.len() == dim) {
        mean.iter_mut().zip(v).for_each(|(m, x)| *m += f64::from(*x));
        n += 1;
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    cands.par_iter_mut().filter_map(|c| c.embedding.as_mut()).for_each(|v| {
        if v.len() != dim {
            return;
        }
        v.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
        normalize(v);
    });
}

fn cosine(a: &Candidate, b: &Candidate) -> Option<f32> {
    Some(dot(a.embedding.as_deref()?, b.embedding.as_deref()?))
}

fn close_in_time(a: &Candidate, b: &Candidate, cfg: &QueueConfig) -> bool {
    matches!((a.taken_at, b.taken_at),
        (Some(ta), Some(tb)) if ((ta - tb).abs() as f64) <= cfg.burst_seconds)
}

fn same_burst(a: &Candidate, b: &Candidate, cfg: &QueueConfig) -> bool {
    close_in_time(a, b, cfg) && cosine(a, b).is_some_and(|c| c >= cfg.burst_cosine)
}

/// Would showing `b` right after `a` feel like seeing the same picture twice?
fn too_similar(a: &Candidate, b: &Candidate, cfg: &QueueConfig) -> bool {
    let limit = if close_in_time(a, b, cfg) {
        cfg.burst_cosine.min(cfg.near_duplicate_cosine)
    } else {
        cfg.near_duplicate_cosine
    };
    cosine(a, b).is_some_and(|c| c >= limit)
}

/// The model's look-ahead picks first, in its order; then p nearest 0.5 first.
fn by_uncertainty(cands: &[Candidate], mut idx: Vec<usize>) -> Vec<usize> {
    let rank = |i: usize| cands[i].ask_first.unwrap_or(u32::MAX);
    idx.sort_by(|&a, &b| rank(a).cmp(&rank(b)).then(nearer_half(&cands[a], &cands[b])));
    idx
}

/// p nearest 0.5 first, photos not scored yet (no embedding when the model ran) last, then by
/// id.
fn nearer_half(a: &Candidate, b: &Candidate) -> Ordering {
    let key = |c: &Candidate| c.p.map_or(f32::INFINITY, |p| (p - 0.5).abs());
    key(a).total_cmp(&key(b)).then(a.photo.cmp(&b.photo))
}

/// The `n` scored photos the model is least sure of (p nearest 0.5 first) among those the
/// ambiguous queue may ask: no "kind" answer and not decided for print. The look-ahead
/// (`learn::lookahead`) orders these; it ignores any earlier look-ahead's picks.
pub fn least_sure(cands: &[Candidate], n: usize) -> Vec<usize> {
    let mut scored: Vec<usize> =
        (0..cands.len()).filter(|&i| is_open(&cands[i]) && cands[i].p.is_some()).collect();
    scored.sort_by(|&a, &b| nearer_half(&cands[a], &cands[b]));
    scored.truncate(n);
    scored
}

/// Photos the ambiguous queue asks before any skipped one: no "kind" answer, not decided for
/// print.
pub fn is_open(c: &Candidate) -> bool {
    c.kind_label.is_none() && !decided_for_print(c)
}

fn decided_for_print(c: &Candidate) -> bool {
    matches!(c.print_label, Some(LabelValue::Yes | LabelValue::No))
}

fn by_likelihood(cands: &[Candidate], mut idx: Vec<usize>) -> Vec<usize> {
    let key = |i: usize| cands[i].p.unwrap_or(f32::NEG_INFINITY);
    idx.sort_by(|&a, &b| key(b).total_cmp(&key(a)).then(cands[a].photo.cmp(&cands[b].photo)));
    idx
}

/// Typical photos first: k-means over a stride sample of the embeddings; then round-robin over
/// the clusters (biggest first), each cluster's members nearest its center first; then the
/// photos outside the sample by closeness to the mean photo; photos without an embedding last.
fn by_typicality(cands: &[Candidate], idx: Vec<usize>) -> Vec<usize> {
    let (with, without): (Vec<usize>, Vec<usize>) =
        idx.into_iter().partition(|&i| cands[i].embedding.is_some());
    let emb = |i: usize| cands[i].embedding.as_deref().unwrap_or(&[]);
    let mut out = Vec::with_capacity(with.len() + without.len());
    if !with.is_empty() {
        let stride = with.len().div_ceil(CLUSTER_SAMPLE);
        let sample: Vec<usize> = with.iter().copied().step_by(stride).collect();
        // The usual rule of thumb, k ~ sqrt(n / 2).
        let k = (sample.len() as f64 / 2.0).sqrt().ceil().min(MAX_CLUSTERS as f64) as usize;
        let vectors: Vec<&[f32]> = sample.iter().map(|&i| emb(i)).collect();
        let (centers, assign) = kmeans(&vectors, k.max(1));
        let mut clusters: Vec<Vec<(f32, usize)>> = vec![Vec::new(); centers.len()];
        for (s, &c) in assign.iter().enumerate() {
            clusters[c].push((dot(vectors[s], &centers[c]), sample[s]));
        }
        for members in &mut clusters {
            members.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        }
        clusters.retain(|m| !m.is_empty());
        clusters.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].1.cmp(&b[0].1)));
        let longest = clusters.first().map_or(0, Vec::len);
        for round in 0..longest {
            out.extend(clusters.iter().filter_map(|m| m.get(round)).map(|&(_, i)| i));
        }
        if stride > 1 {
            let mean = normalized_mean(with.iter().map(|&i| emb(i)));
            let mut in_sample = vec![false; cands.len()];
            sample.iter().for_each(|&i| in_sample[i] = true);
            let mut rest: Vec<(f32, usize)> =
                with.iter().filter(|&&i| !in_sample[i]).map(|&i| (dot(emb(i), &mean), i)).collect();
            rest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            out.extend(rest.into_iter().map(|(_, i)| i));
        }
    }
    let mut without = without;
    without.sort_by_key(|&i| (cands[i].taken_at, cands[i].photo));
    out.extend(without);
    out
}

fn normalized_mean<'a>(vectors: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut mean: Vec<f32> = Vec::new();
    for v in vectors {
        if mean.is_empty() {
            mean = vec![0.0; v.len()];
        }
        mean.iter_mut().zip(v).for_each(|(m, x)| *m += x);
    }
    normalize(&mut mean);
    mean
}

/// Spherical k-means (cosine), seeded by k-means++ with a fixed-seed generator so that the
/// queue is the same every time it is rebuilt. Returns the centers and each vector's cluster.
fn kmeans(vectors: &[&[f32]], k: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    let k = k.min(vectors.len());
    let mut rng = SplitMix(0x5EED_CAFE);
    let mut centers: Vec<Vec<f32>> = Vec::with_capacity(k);
    // k-means++: the first center is the most typical vector, then far-apart picks.
    let mean = normalized_mean(vectors.iter().copied());
    let first = argmax(vectors.iter().map(|v| dot(v, &mean)));
    centers.push(vectors[first].to_vec());
    let mut nearest: Vec<f32> = vectors.iter().map(|v| 1.0 - dot(v, &centers[0])).collect();
    while centers.len() < k {
        let total: f32 = nearest.iter().map(|d| d.max(0.0) * d.max(0.0)).sum();
        if total <= 0.0 {
            break;
        }
        let mut target = rng.next_f32() * total;
        let mut pick = vectors.len() - 1;
        for (i, d) in nearest.iter().enumerate() {
            target -= d.max(0.0) * d.max(0.0);
            if target <= 0.0 {
                pick = i;
                break;
            }
        }
        centers.push(vectors[pick].to_vec());
        let c = centers.len() - 1;
        for (i, v) in vectors.iter().enumerate() {
            nearest[i] = nearest[i].min(1.0 - dot(v, &centers[c]));
        }
    }
    let mut assign = Vec::new();
    for _ in 0..KMEANS_ITERATIONS {
        assign = vectors.par_iter().map(|v| argmax(centers.iter().map(|c| dot(v, c)))).collect();
        for (c, center) in centers.iter_mut().enumerate() {
            let members = assign.iter().zip(vectors).filter(|(a, _)| **a == c).map(|(_, v)| *v);
            let mean = normalized_mean(members);
            if !mean.is_empty() {
                *center = mean;
            }
        }
    }
    (centers, assign)
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// Reorders `order` so that no two neighbours are too similar, moving each photo as little as
/// possible: a photo too like the previous one waits for the next slot.
fn spread(cands: &[Candidate], order: Vec<usize>, cfg: &QueueConfig) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::with_capacity(order.len());
    let mut waiting: Vec<usize> = Vec::new(); // earlier in `order` than anything not yet looked at
    // Most photos simply follow their predecessor in `order`: check those pairs in parallel
    // up front, so the serial pass below only computes similarities around a move.
    let clash: Vec<bool> =
        order.par_windows(2).map(|w| too_similar(&cands[w[0]], &cands[w[1]], cfg)).collect();
    let mut next = 0;
    while out.len() < order.len() {
        let prev = out.last().copied();
        let fits = |i: usize, k: Option<usize>| match (prev, k) {
            (None, _) => true,
            (Some(p), Some(k)) if k > 0 && order[k - 1] == p => !clash[k - 1],
            (Some(p), _) => !too_similar(&cands[p], &cands[i], cfg),
        };
        if let Some(w) = waiting.iter().position(|&i| fits(i, None)) {
            out.push(waiting.remove(w));
            continue;
        }
        // Look further down the order, parking what does not fit; give up after a window
        // (everything left may be one long burst) and take the earliest waiting photo.
        let mut placed = false;
        while next < order.len() && waiting.len() < DIVERSITY_LOOKAHEAD {
            let i = order[next];
            next += 1;
            if fits(i, Some(next - 1)) {
                out.push(i);
                placed = true;
                break;
            }
            waiting.push(i);
        }
        if !placed {
            if waiting.is_empty() {
                break;
            }
            out.push(waiting.remove(0));
        }
    }
    out
}

/// Groups `idx` into bursts and orders them: groups by their best p (descending), photos in
/// a group by p (descending).
fn bursts(cands: &[Candidate], idx: Vec<usize>, cfg: &QueueConfig) -> Vec<Vec<usize>> {
    let mut by_time: Vec<usize> =
        idx.iter().copied().filter(|&i| cands[i].taken_at.is_some()).collect();
    by_time.sort_by_key(|&i| (cands[i].taken_at, cands[i].photo));
    let mut parent: Vec<usize> = (0..cands.len()).collect();
    // Per group root: size and first/last capture time, to cap what a burst may grow to.
    let time = |i: usize| cands[i].taken_at.unwrap_or(0);
    let mut extent: HashMap<usize, (usize, i64, i64)> =
        by_time.iter().map(|&i| (i, (1, time(i), time(i)))).collect();
    let max_span = cfg.burst_seconds * MAX_BURST_SPAN;
    for (a, &i) in by_time.iter().enumerate() {
        let ti = time(i);
        for &j in &by_time[a + 1..] {
            if (time(j) - ti) as f64 > cfg.burst_seconds {
                break;
            }
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            if ri == rj || !same_burst(&cands[i], &cands[j], cfg) {
                continue;
            }
            let (ni, fi, li) = extent[&ri];
            let (nj, fj, lj) = extent[&rj];
            let merged = (ni + nj, fi.min(fj), li.max(lj));
            if merged.0 > MAX_BURST_SIZE || (merged.2 - merged.1) as f64 > max_span {
                continue;
            }
            let (root, child) = (ri.min(rj), ri.max(rj));
            parent[child] = root;
            extent.insert(root, merged);
        }
    }
    let p = |i: usize| cands[i].p.unwrap_or(0.0);
    let better = |a: &usize, b: &usize| -> Ordering {
        p(*b).total_cmp(&p(*a)).then(cands[*a].photo.cmp(&cands[*b].photo))
    };
    let mut sorted = idx;
    sorted.sort_by(better);
    // Walking in descending p, a group is placed where its best photo first appears.
    let mut slot_of_root = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in sorted {
        let root = find(&mut parent, i);
        let slot = *slot_of_root.entry(root).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(i);
    }
    groups
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

#[cfg(test)]
mod tests;
