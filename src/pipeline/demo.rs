//! `photosift demo`: a library built from the real sample photos shipped in assets/demo
//! (compiled in by `assets`, so it works from anywhere, offline), with a few built-in labels.
//!
//! The demo's question is "has a person or an animal in it": the kind of photo a newcomer
//! can judge at a glance. Seven photos come labeled (mode "demo"); the model scores the rest.
//! [`build`] runs the real pipeline on them: write, scan, embed, label, train and score.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::backbone::current_backbone;
use super::embed::{EmbedSummary, embed_missing};
use super::session_data::SessionData;
use super::train::{TrainReport, train_and_score};
pub use crate::assets::{DEMO_PHOTOS, DemoPhoto, Subject};
use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::domain::{Decision, DecisionMode, LabelKind, LabelValue};
use crate::ingest::{self, ScanProgress, ScanSummary};
use crate::library::Library;
use crate::model::BackboneId;

/// The demo's question, the labeling screen's title.
pub const QUESTION: &str = "has a person or an animal in it";

/// The folder inside the demo library that the photos are written to and scanned from.
pub const PHOTOS_DIR: &str = "demo-photos";

/// The photos labeled for the user, as a newcomer's first few answers would be: three
/// wanted, four not. The other sixteen are left for the model and the TUI.
pub const LABELED: &[&str] = &[
    "astronaut.jpg",
    "chelsea-the-cat.jpg",
    "two-dogs.jpg",
    "coins.jpg",
    "hubble-deep-field.jpg",
    "forest-path.jpg",
    "coffee.jpg",
];

/// The default demo library: beside the real one, never inside it
/// (~/.local/share/photosift-demo).
pub fn default_library_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "photosift-demo").map(|d| d.data_dir().to_path_buf())
}

/// Writes the demo photos into `dir` (created when missing). A file already there with the
/// same bytes is left alone, so running the demo again changes nothing; a different file of
/// that name is replaced, since the folder belongs to the demo. Returns how many were written.
pub fn write_photos(dir: &Path) -> io::Result<usize> {
    fs::create_dir_all(dir)?;
    let mut written = 0;
    for photo in &DEMO_PHOTOS {
        let path = dir.join(photo.file_name);
        if fs::read(&path).is_ok_and(|b| b == photo.bytes) {
            continue;
        }
        fs::write(&path, photo.bytes)?;
        written += 1;
    }
    Ok(written)
}

/// Records the built-in "kind" labels on the scanned demo photos in `photos_dir`, each as
/// its own decision in mode [`DecisionMode::Demo`] (undo in the TUI leaves them alone). A photo that already has a kind label (from an
/// earlier demo run or from the user) keeps it. Returns how many labels were recorded.
pub fn apply_built_in_labels(
    catalog: &mut Catalog,
    photos_dir: &Path,
) -> Result<usize, CatalogError> {
    let labeled: std::collections::HashSet<_> =
        catalog.current_labels(LabelKind::Kind)?.into_iter().map(|(id, _)| id).collect();
    let mut recorded = 0;
    for photo in catalog.photos()? {
        if labeled.contains(&photo.id) || photo.path.parent() != Some(photos_dir) {
            continue;
        }
        let Some(name) = photo.path.file_name().and_then(|n| n.to_str()) else { continue };
        if !LABELED.contains(&name) {
            continue;
        }
        let Some(demo) = DEMO_PHOTOS.iter().find(|d| d.file_name == name) else { continue };
        let value = if demo.subject.wanted() { LabelValue::Yes } else { LabelValue::No };
        catalog.record_decisions(&[Decision::single(
            photo.id,
            DecisionMode::Demo,
            LabelKind::Kind,
            value,
        )])?;
        recorded += 1;
    }
    Ok(recorded)
}

/// Where [`build`] is, for a progress line.
#[derive(Debug, Clone, PartialEq)]
pub enum DemoProgress {
    WritingPhotos,
    Scanning(ScanProgress),
    Embedding { done: usize, total: usize },
    Labeling,
    Training { fraction: f32, what: String },
}

/// What [`build`] did.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// The folder the demo photos were written to and scanned from.
    pub photos_dir: PathBuf,
    /// Demo photo files written this run (0 when a previous run left them in place).
    pub written: usize,
    pub scan: ScanSummary,
    pub embed: EmbedSummary,
    /// Built-in labels recorded this run (0 when an earlier run recorded them).
    pub labels_recorded: usize,
    pub train: TrainReport,
}

/// Builds (or brings up to date) the demo library in `library`: writes the shipped photos to
/// `<library>/demo-photos`, scans them, embeds them with the bundled EfficientNet-Lite0,
/// records the built-in labels and trains a model that scores every photo. Offline; running
/// it again adds a model version and changes nothing else.
pub fn build(
    library: &Library,
    config: &Config,
    progress: &(dyn Fn(DemoProgress) + Sync),
) -> anyhow::Result<DemoSummary> {
    progress(DemoProgress::WritingPhotos);
    let photos_dir = library.root().join(PHOTOS_DIR);
    let written = write_photos(&photos_dir)
        .with_context(|| format!("cannot write the demo photos to {}", photos_dir.display()))?;
    // The scan stores canonical paths; match the labels against the same form.
    let photos_dir = fs::canonicalize(&photos_dir)
        .with_context(|| format!("cannot resolve {}", photos_dir.display()))?;

    let mut catalog = library.open_catalog()?;
    let scan = ingest::scan(
        &mut catalog,
        library,
        std::slice::from_ref(&photos_dir),
        &config.scan,
        &|p| progress(DemoProgress::Scanning(*p)),
    )
    .context("scanning the demo photos")?;
    let embed = embed_missing(&mut catalog, library, &config.model, &|done, total| {
        progress(DemoProgress::Embedding { done, total })
    })
    .context("embedding the demo photos")?;

    progress(DemoProgress::Labeling);
    catalog.set_question(QUESTION).context("saving the demo's question")?;
    let labels_recorded = apply_built_in_labels(&mut catalog, &photos_dir)
        .context("recording the demo's built-in labels")?;

    // The demo is Lite0 whatever `[embed]` says: it must work offline.
    let backbone = current_backbone(&catalog, crate::config::Backbone::Lite0)
        .context("reading which embeddings the demo has")?
        .unwrap_or_else(BackboneId::bundled);
    let mut data = SessionData::default();
    let train = train_and_score(&mut catalog, config, backbone.as_str(), &mut data, &|f, what| {
        progress(DemoProgress::Training { fraction: f, what: what.to_owned() })
    })
    .context("training on the demo labels")?;
    Ok(DemoSummary { photos_dir, written, scan, embed, labels_recorded, train })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_photo_is_listed_and_licensed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
        let mut on_disk: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".jpg"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = DEMO_PHOTOS.iter().map(|p| p.file_name.to_owned()).collect();
        listed.sort();
        assert_eq!(on_disk, listed);
        let licenses = fs::read_to_string(dir.join("LICENSES.md")).unwrap();
        for name in &listed {
            let row = licenses.lines().find(|l| l.starts_with(&format!("| {name} |")));
            assert!(row.is_some(), "{name} has no row in LICENSES.md");
        }
    }

    #[test]
    fn built_in_labels_cover_both_answers() {
        let subject = |n: &str| DEMO_PHOTOS.iter().find(|d| d.file_name == n).unwrap().subject;
        let wanted = LABELED.iter().filter(|n| subject(n).wanted()).count();
        assert!(wanted >= 2 && LABELED.len() - wanted >= 2);
        let people_or_animals = DEMO_PHOTOS.iter().filter(|d| d.subject.wanted()).count();
        assert!(people_or_animals > wanted, "some wanted photos are left for the model to find");
    }

    #[test]
    fn writing_the_photos_twice_writes_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join(PHOTOS_DIR);
        assert_eq!(write_photos(&photos).unwrap(), DEMO_PHOTOS.len());
        assert_eq!(write_photos(&photos).unwrap(), 0);
        let astronaut = fs::read(photos.join("astronaut.jpg")).unwrap();
        assert_eq!(astronaut, DEMO_PHOTOS[0].bytes);
        assert!(image::load_from_memory(&astronaut).is_ok());
    }
}
