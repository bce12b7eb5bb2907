//! Where the session's data comes from: building both queues (and what the screen shows
//! about each photo) from the catalog, off the UI task.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::catalog::{Catalog, PhotoState, Source};
use crate::config::Config;
use crate::library::Library;
use crate::queue;

use super::state::{ModelSummary, PhotoInfo, QueueData};

/// Reads the catalog and orders both queues. Runs on a job thread with its own connection.
pub fn load_queues(library: &Library, config: &Config) -> Result<QueueData> {
    let catalog = library.open_catalog()?;
    build_queues(&catalog, library, config)
}

pub fn build_queues(catalog: &Catalog, library: &Library, config: &Config) -> Result<QueueData> {
    let model = catalog.latest_model().context("reading the latest model")?;
    // The queues compare photos by the embeddings the newest model was trained on.
    let backbone = model.as_ref().map_or(config.model.backbone.as_str(), |m| m.backbone.as_str());
    let candidates = catalog.candidates(backbone).context("reading the queue candidates")?;
    let p: HashMap<_, _> = candidates.iter().filter_map(|c| Some((c.photo, c.p?))).collect();

    let mut photos = HashMap::with_capacity(candidates.len());
    for photo in catalog.photos().context("reading the photos")? {
        if photo.source != Source::Camera {
            continue;
        }
        photos.insert(
            photo.id,
            PhotoInfo {
                thumb: photo.thumb_path.as_ref().map(|t| library.root().join(t)),
                p: p.get(&photo.id).copied(),
                path: photo.path,
                taken_at: photo.taken_at,
                width: photo.width,
                height: photo.height,
                missing: photo.state == PhotoState::Missing,
            },
        );
    }
    Ok(QueueData {
        ambiguous: queue::ambiguous(&candidates, &config.queue),
        best: queue::best_first(&candidates, &config.queue),
        total_photos: photos.len(),
        photos,
        model: model.map(|m| ModelSummary { version: m.id.0, auc: m.cv_auc }),
        counts: catalog.label_counts()?,
    })
}
