//! What `photosift eval` needs from a folder of photos and a truth file: a scratch library
//! the folder is scanned and embedded into, and the truth's photos as embedding rows (for the
//! simulation) or thumbnails (for the fine-tuning comparison).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;
use tempfile::TempDir;

use super::backbone::require_backbone;
use super::embed::{embed_missing, load_thumb};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::domain::PhotoId;
use crate::ingest::ScanProgress;
use crate::learn::eval_report;
use crate::library::Library;

/// A library in a temporary folder, removed when this is dropped.
pub struct ScratchLibrary {
    pub library: Library,
    pub catalog: Catalog,
    _dir: TempDir,
}

/// Where [`scan_into_scratch`] is, for a spinner.
#[derive(Debug, Clone, Copy)]
pub enum ScratchProgress {
    Scanning { done: u64, total: u64 },
    Embedding { done: usize, total: usize },
}

/// Scans `dir` into a new temporary library and embeds every photo.
pub fn scan_into_scratch(
    dir: &Path,
    config: &Config,
    progress: &(dyn Fn(ScratchProgress) + Sync),
) -> Result<ScratchLibrary> {
    let tmp = tempfile::Builder::new().prefix("photosift-eval-").tempdir()?;
    let library = Library::create(tmp.path())?;
    let mut catalog = library.open_catalog()?;
    let on_scan =
        |p: &ScanProgress| progress(ScratchProgress::Scanning { done: p.done, total: p.total });
    crate::ingest::scan(&mut catalog, &library, &[dir.to_path_buf()], &config.scan, &on_scan)
        .with_context(|| format!("cannot scan {}", dir.display()))?;
    embed_missing(&mut catalog, &library, &config.model, &|done, total| {
        progress(ScratchProgress::Embedding { done, total })
    })?;
    Ok(ScratchLibrary { library, catalog, _dir: tmp })
}

/// Reads a truth file (`file,label` rows, see [`eval_report::parse_truth`]).
pub fn read_truth(path: &Path) -> Result<Vec<(String, bool)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the truth file {}", path.display()))?;
    eval_report::parse_truth(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("bad truth file {}", path.display()))
}

/// The truth's photos as the simulation reads them: embedding rows of the current backbone,
/// their answers and capture times, in catalog order.
#[derive(Debug, Clone, Default)]
pub struct TruthRows {
    pub data: Vec<f32>,
    pub dim: usize,
    pub labels: Vec<bool>,
    pub taken_at: Vec<Option<i64>>,
    /// Truth rows that name no scanned photo.
    pub unmatched: Vec<String>,
}

/// Matches `truth` to the catalog's photos by file name and reads their embeddings (photos
/// without one are left out).
pub fn truth_rows(catalog: &Catalog, truth: &[(String, bool)]) -> Result<TruthRows> {
    let backbone = require_backbone(catalog)?;
    let photos = catalog.photos()?;
    let pairs: Vec<(PhotoId, PathBuf)> = photos.iter().map(|p| (p.id, p.path.clone())).collect();
    let (matched, unmatched) = eval_report::match_truth(&pairs, truth);
    let table = catalog.embedding_table(backbone.as_str())?;
    let row_of: HashMap<_, _> = table.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let taken: HashMap<_, _> = photos.iter().map(|p| (p.id, p.taken_at)).collect();
    let mut rows = TruthRows { dim: table.dim, unmatched, ..Default::default() };
    for (id, label) in &matched {
        if let Some(&row) = row_of.get(id) {
            rows.data.extend_from_slice(table.row(row));
            rows.labels.push(*label);
            rows.taken_at.push(taken.get(id).copied().flatten());
        }
    }
    Ok(rows)
}

/// The truth's photos as thumbnails with their answers (unreadable thumbnails left out).
pub fn truth_thumbnails(
    catalog: &Catalog,
    library: &Library,
    truth: &[(String, bool)],
) -> Result<(Vec<RgbImage>, Vec<bool>)> {
    let photos = catalog.photos()?;
    let pairs: Vec<_> = photos.iter().map(|p| (p.id, p.path.clone())).collect();
    let thumb_of: HashMap<_, _> = photos.iter().map(|p| (p.id, p.thumb_path.as_ref())).collect();
    let (matched, _) = eval_report::match_truth(&pairs, truth);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (id, label) in matched {
        let thumb = thumb_of.get(&id).copied().flatten();
        if let Ok(img) = load_thumb(library.root(), thumb) {
            images.push(img);
            labels.push(label);
        }
    }
    Ok((images, labels))
}
