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
