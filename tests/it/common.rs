//! Fixtures for the TUI tests and benchmark: a library with generated JPEG thumbnails and
//! hand-made photo rows (no scan, no photos from disk).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use photosift::catalog::NewPhoto;
use photosift::domain::PhotoId;
use photosift::library::Library;

/// A 2023-06-14 12:00 UTC capture time, the fixtures' first photo.
pub const T0: i64 = 1_686_744_000;

/// A distinct picture for index `i`: a two-colour gradient with a bright square whose
/// position depends on `i`.
pub fn picture(i: usize, width: u32, height: u32) -> RgbImage {
    let hue = (i * 47 % 256) as u8;
    let (sx, sy) = ((i as u32 * 37) % (width / 2), (i as u32 * 23) % (height / 2));
    RgbImage::from_fn(width, height, |x, y| {
        if x >= sx && x < sx + width / 4 && y >= sy && y < sy + height / 4 {
            Rgb([255, 255 - hue, hue])
        } else {
            Rgb([hue, (x * 255 / width) as u8, (y * 255 / height) as u8])
        }
    })
}

/// Writes `distinct` JPEG thumbnails (reused round-robin) and `n` photo rows pointing at
/// them; photos are taken 3 s apart. Returns the library and the ids in insertion order.
pub fn library_with_photos(
    root: &Path,
    n: usize,
    distinct: usize,
    thumb_size: (u32, u32),
) -> (Library, Vec<PhotoId>) {
    let library = Library::create(root).unwrap();
    let mut thumbs = Vec::new();
    for i in 0..distinct.max(1) {
        let rel = PathBuf::from(format!("thumbs/t{i:04}.jpg"));
        picture(i, thumb_size.0, thumb_size.1).save(root.join(&rel)).unwrap();
        thumbs.push(rel);
    }
    // The originals exist too (a copy of their thumbnail): the session checks they are there.
    std::fs::create_dir_all(root.join("camera")).unwrap();
    for i in 0..n {
        let original = root.join(format!("camera/IMG_{:04}.jpg", i + 1));
        std::fs::copy(root.join(&thumbs[i % thumbs.len()]), original).unwrap();
    }
    let records: Vec<NewPhoto> = (0..n)
        .map(|i| NewPhoto {
            path: root.join(format!("camera/IMG_{:04}.jpg", i + 1)),
            content_hash: format!("hash{i}"),
            byte_size: 3_000_000,
            width: Some(4032),
            height: Some(3024),
            taken_at: Some(T0 + 3 * i as i64),
            thumb_path: Some(thumbs[i % thumbs.len()].clone()),
            ..Default::default()
        })
        .collect();
    let mut catalog = library.open_catalog().unwrap();
    let ids = catalog.insert_photos(&records).unwrap();
    (library, ids)
}

/// Records a model version (cv AUC 0.83) scoring photo `i` of `ids` with `p(i)`.
pub fn score_all(library: &Library, ids: &[PhotoId], p: impl Fn(usize) -> f32) {
    let mut catalog = library.open_catalog().unwrap();
    let scores: Vec<(PhotoId, f32)> = ids.iter().enumerate().map(|(i, id)| (*id, p(i))).collect();
    let model = photosift::catalog::NewModel {
        backbone: "lite0".into(),
        kind: photosift::domain::ModelKind::Head,
        n_positive: 10,
        n_negative: 10,
        n_synthetic: 0,
        cv_auc: Some(0.83),
        params: Vec::new(),
        info: "{}".into(),
    };
    catalog.insert_model(&model, &scores).unwrap();
}

/// A retrain job's result: model `version` with cross-validated `auc`, 10 yes and 10 no.
pub fn trained(version: i64, auc: Option<f64>) -> photosift::tui::JobOutput {
    let report = photosift::pipeline::TrainReport {
        model: photosift::domain::ModelId(version),
        n_positive: 10,
        n_negative: 10,
        cv_auc: auc,
        ..Default::default()
    };
    photosift::tui::JobOutput::Trained(Box::new(photosift::pipeline::Retrained::Head(report)))
}

/// A background scan's result: `new` photos found.
pub fn scanned(new: u64) -> photosift::tui::JobOutput {
    let scan = photosift::ingest::ScanSummary { new, ..Default::default() };
    let report = photosift::pipeline::scan::ScanReport { scan, ..Default::default() };
    photosift::tui::JobOutput::Scanned(Box::new(report))
}
