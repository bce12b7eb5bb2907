//! The two orders the user works through, as pure functions over scores, labels, embeddings
//! and capture times: the ambiguous queue ("is this the sort of image I want?") and the
//! best-first queue ("is this an image I want?").

use crate::catalog::{LabelValue, PhotoId};

/// What the queues know about one camera photo that can be shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub photo: PhotoId,
    /// p(desirable) under the current model; `None` before any model exists.
    pub p: Option<f32>,
    /// Capture time (seconds), for burst grouping.
    pub taken_at: Option<i64>,
    /// L2-normalized embedding, for diversity, cold start and bursts.
    pub embedding: Option<Vec<f32>>,
    /// Current "kind" label (Skip = unsure, ask later).
    pub kind_label: Option<LabelValue>,
    /// Current print decision (Yes = picked, No = passed, Skip = ask later).
    pub print_label: Option<LabelValue>,
}

/// One entry of the best-first queue; photos of one burst share `group` and come together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestEntry {
    pub photo: PhotoId,
    pub group: usize,
}

// TEMPORARY (tui branch only): minimal orderings so the TUI builds before the learn branch's
// real `ambiguous` / `best_first` land on main; the merge replaces everything below.
use crate::config::QueueConfig;

/// Unlabeled photos by |p - 0.5| (unscored ones in id order), skipped photos after them.
pub fn ambiguous(cands: &[Candidate], _cfg: &QueueConfig) -> Vec<PhotoId> {
    let mut open: Vec<&Candidate> = cands.iter().filter(|c| c.kind_label.is_none()).collect();
    open.sort_by(|a, b| {
        let d = |c: &Candidate| c.p.map_or(0.0, |p| (p - 0.5).abs());
        d(a).total_cmp(&d(b)).then(a.photo.cmp(&b.photo))
    });
    let skipped = cands.iter().filter(|c| c.kind_label == Some(LabelValue::Skip));
    open.into_iter().chain(skipped).map(|c| c.photo).collect()
}

/// Photos above the threshold not yet decided for print, by descending p, one group each.
pub fn best_first(cands: &[Candidate], cfg: &QueueConfig) -> Vec<BestEntry> {
    let mut open: Vec<(&Candidate, f32)> = cands
        .iter()
        .filter(|c| matches!(c.print_label, None | Some(LabelValue::Skip)))
        .filter_map(|c| c.p.filter(|p| *p > cfg.best_threshold).map(|p| (c, p)))
        .collect();
    open.sort_by(|a, b| b.1.total_cmp(&a.1));
    open.into_iter()
        .enumerate()
        .map(|(group, (c, _))| BestEntry { photo: c.photo, group })
        .collect()
}
