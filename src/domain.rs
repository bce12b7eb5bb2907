//! The nouns every layer shares: photo and model ids, labels and the decisions that carry
//! them. Plain data with no I/O, so the catalog below and the pure modules beside it
//! (`learn`, `queue`) agree on them without importing each other.

use std::fmt;

/// Row id of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhotoId(pub i64);

/// Row id of a trained model version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ModelId(pub i64);

/// What a label answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// "Is this the sort of image I want?": the classifier's training label.
    Kind,
    /// "Is this an image I want (to print)?": picked or passed in best-first mode.
    Print,
}

impl LabelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelKind::Kind => "kind",
            LabelKind::Print => "print",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kind" => Some(LabelKind::Kind),
            "print" => Some(LabelKind::Print),
            _ => None,
        }
    }
}

/// The answer. `Skip` means "unsure, ask later".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelValue {
    Yes,
    No,
    Skip,
}

impl LabelValue {
    pub fn as_i64(self) -> i64 {
        match self {
            LabelValue::Yes => 1,
            LabelValue::No => 0,
            LabelValue::Skip => -1,
        }
    }

    pub fn from_i64(v: i64) -> Self {
        match v {
            1 => LabelValue::Yes,
            0 => LabelValue::No,
            _ => LabelValue::Skip,
        }
    }
}

/// Where a decision was made: undo walks back one mode's decisions at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionMode {
    /// The ambiguous queue: "is this the sort of image I want?".
    Ambiguous,
    /// Best-first: "is this an image I want?".
    Best,
    /// The demo library's pre-made answers (`photosift demo`).
    Demo,
}

impl DecisionMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionMode::Ambiguous => "ambiguous",
            DecisionMode::Best => "best",
            DecisionMode::Demo => "demo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ambiguous" => Some(DecisionMode::Ambiguous),
            "best" => Some(DecisionMode::Best),
            "demo" => Some(DecisionMode::Demo),
            _ => None,
        }
    }
}

impl fmt::Display for DecisionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelEvent {
    pub kind: LabelKind,
    pub value: LabelValue,
}

/// One keystroke's worth of labels on one photo, written (and undone) together.
/// Best mode's "not the kind I want" is two events: kind = No and print = No.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub photo: PhotoId,
    pub mode: DecisionMode,
    pub events: Vec<LabelEvent>,
}

impl Decision {
    pub fn single(photo: PhotoId, mode: DecisionMode, kind: LabelKind, value: LabelValue) -> Self {
        Self { photo, mode, events: vec![LabelEvent { kind, value }] }
    }
}

/// What the queues know about one camera photo that can be shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub photo: PhotoId,
    /// p(desirable) under the current model; `None` before any model exists.
    pub p: Option<f32>,
    /// Capture time (seconds), for burst grouping.
    pub taken_at: Option<i64>,
    /// Embedding, for diversity, cold start and bursts. The catalog returns it as stored; the
    /// queues expect it centered and L2-normalized (`queue::center_embeddings`).
    pub embedding: Option<Vec<f32>>,
    /// Current "kind" label (Skip = unsure, ask later).
    pub kind_label: Option<LabelValue>,
    /// Current print decision (Yes = picked, No = passed, Skip = ask later).
    pub print_label: Option<LabelValue>,
    /// Place in the model's look-ahead order (0 = ask first): among the photos the model is
    /// least sure of, those whose answer is expected to change it most (`learn::lookahead`).
    pub ask_first: Option<u32>,
}

/// What a model version is: a head on frozen embeddings, or a head on the embeddings of a
/// backbone fine-tuned for this library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Head,
    Finetune,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Head => "head",
            ModelKind::Finetune => "finetune",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "head" => Some(ModelKind::Head),
            "finetune" => Some(ModelKind::Finetune),
            _ => None,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
