//! Where the session's data comes from: building both queues (and what the screen shows
//! about each photo) from the catalog, off the UI task, and the retrain job.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::catalog::{Catalog, LabelKind, LabelValue, PhotoId, PhotoState, Source};
use crate::config::Config;
use crate::library::Library;
use crate::queue::{self, Candidate};

use super::state::{PhotoInfo, QueueData};

/// Reads the catalog and orders both queues. Runs on a job thread with its own connection.
pub fn load_queues(library: &Library, config: &Config) -> Result<QueueData> {
    let catalog = library.open_catalog()?;
    build_queues(&catalog, library, config)
}

pub fn build_queues(catalog: &Catalog, library: &Library, config: &Config) -> Result<QueueData> {
    let photos = catalog.photos().context("reading the photos")?;
    let kind: HashMap<PhotoId, LabelValue> =
        catalog.current_labels(LabelKind::Kind)?.into_iter().collect();
    let print: HashMap<PhotoId, LabelValue> =
        catalog.current_labels(LabelKind::Print)?.into_iter().collect();
    let counts = catalog.label_counts()?;

    let mut infos = HashMap::with_capacity(photos.len());
    let mut candidates = Vec::with_capacity(photos.len());
    for photo in photos {
        if photo.source != Source::Camera {
            continue;
        }
        candidates.push(Candidate {
            photo: photo.id,
            p: None,
            taken_at: photo.taken_at,
            embedding: None,
            kind_label: kind.get(&photo.id).copied(),
            print_label: print.get(&photo.id).copied(),
        });
        infos.insert(
            photo.id,
            PhotoInfo {
                thumb: photo.thumb_path.as_ref().map(|t| library.root().join(t)),
                path: photo.path,
                taken_at: photo.taken_at,
                width: photo.width,
                height: photo.height,
                p: None,
                missing: photo.state == PhotoState::Missing,
            },
        );
    }
    let total_photos = candidates.len();
    Ok(QueueData {
        ambiguous: queue::ambiguous(&candidates, &config.queue),
        best: queue::best_first(&candidates, &config.queue),
        photos: infos,
        model: None,
        counts,
        total_photos,
    })
}
