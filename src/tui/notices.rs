//! The words of the status bar for the session's jobs: their progress and the one-line notice
//! each leaves when it is done, made from the pipeline's typed events and reports. Pure.

use crate::pipeline::Retrained;
use crate::pipeline::scan::{ScanEvent, ScanReport};
use crate::pipeline::seed::{SeedEvent, SeedPhase, SeedReport};
use crate::synth::Stage;

/// A scan's step, as the status bar shows it next to the job's bar.
pub fn scan_progress(event: &ScanEvent) -> String {
    match *event {
        ScanEvent::Listing { entries } => format!("listing folders: {entries} files"),
        ScanEvent::Reading { done, total, embedded } => {
            format!("reading {done}/{total} photos, {embedded} embedded")
        }
        ScanEvent::Embedding { done, total } => format!("embedding {done}/{total} photos"),
    }
}

/// The seed job's step.
pub fn seed_progress(event: &SeedEvent) -> (f32, String) {
    let part = |done: usize, total: usize| done as f32 / total.max(1) as f32;
    match event {
        SeedEvent::Examples { done, total } => {
            (part(*done, *total), format!("example photos {done}/{total}"))
        }
        SeedEvent::Generating(p) => {
            let note = match &p.phase {
                SeedPhase::Loading(msg) => msg.clone(),
                SeedPhase::Generating { prompt, stage, .. } => match stage {
                    Stage::TextEncoder => format!("{prompt:?}: text encoder"),
                    Stage::Denoise { step, steps } => {
                        format!("{prompt:?}: step {}/{steps}", step + 1)
                    }
                    Stage::Decode => format!("{prompt:?}: decoding"),
                },
                SeedPhase::Saved { .. } => format!("{}/{} images", p.done, p.total),
            };
            (part(p.done, p.total), note)
        }
        SeedEvent::Embedding { done, total } => {
            (part(*done, *total), format!("embedding seed images {done}/{total}"))
        }
    }
}

/// What a retrain made: the version, its labels and AUC, the photos rescored.
pub fn trained(r: &Retrained) -> String {
    let t = r.train();
    let auc = t.cv_auc.map_or("AUC – (too few labels)".to_owned(), |a| format!("AUC {a:.2}"));
    let note = t.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    let how = match r {
        Retrained::Head(_) => String::new(),
        Retrained::Finetuned(f) => format!(" (backbone fine-tuned as {})", f.backbone),
    };
    format!(
        "model v{}{how}: {} yes, {} no, {} seed images, {auc}; {} photos rescored{note}",
        t.model.0, t.n_positive, t.n_negative, t.n_synthetic, t.scored
    )
}

/// What a background scan did.
pub fn scanned(r: &ScanReport) -> String {
    let scored = match r.scored {
        Some((model, n)) => format!(", scored with model v{} ({n})", model.0),
        None => String::new(),
    };
    let s = &r.scan;
    format!(
        "scan done: {} new, {} unchanged, {} failed, {} missing; {} embedded{scored}",
        s.new, s.unchanged, s.failed, s.missing, r.embedded
    )
}

/// What the seed job added, and what to do next.
pub fn seeded(r: &SeedReport) -> String {
    let mut said = Vec::new();
    if let Some(e) = &r.examples {
        said.push(format!(
            "example photos: {} added, {} already there, {} unreadable",
            e.added,
            e.existing,
            e.failed.len()
        ));
    }
    if let Some(s) = &r.generated {
        said.push(format!(
            "seed images: {} generated, {} already there, {} planned{}",
            s.generated,
            s.existing,
            s.planned,
            if s.cancelled { " (stopped)" } else { "" }
        ));
    }
    format!("{}; press R to train with them", said.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ModelId;
    use crate::pipeline::TrainReport;

    #[test]
    fn a_retrain_says_its_version_labels_and_auc() {
        let report = TrainReport {
            model: ModelId(4),
            n_positive: 3,
            n_negative: 2,
            cv_auc: Some(0.876),
            scored: 40,
            ..Default::default()
        };
        let text = trained(&Retrained::Head(report));
        assert_eq!(text, "model v4: 3 yes, 2 no, 0 seed images, AUC 0.88; 40 photos rescored");
    }

    #[test]
    fn scan_steps_read_as_counts() {
        let e = ScanEvent::Reading { done: 3, total: 7, embedded: 2 };
        assert_eq!(scan_progress(&e), "reading 3/7 photos, 2 embedded");
        let (f, note) = seed_progress(&SeedEvent::Examples { done: 1, total: 4 });
        assert_eq!((f, note.as_str()), (0.25, "example photos 1/4"));
    }
}
