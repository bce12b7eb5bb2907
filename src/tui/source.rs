//! Where the session's data comes from: building both queues (and what the screen shows
//! about each photo) from the catalog, off the UI task.

use std::collections::HashMap;

use anyhow::{Context, Result};

use crate::backbone::{BackboneId, current_backbone};
use crate::catalog::{Catalog, LabelKind, PhotoId, PhotoState, Source};
use crate::config::Config;
use crate::library::Library;
use crate::queue::{self, Candidate};

use super::state::{ModelSummary, PhotoInfo, QueueData};

/// Reads the catalog and orders both queues. Runs on a job thread with its own connection.
/// `complete: false` leaves the embeddings out: reading 25,000 of them takes seconds, so the
/// session starts on an order by score alone and takes the full one (diversity, bursts,
/// typical photos first) when it lands.
pub fn load_queues(library: &Library, config: &Config, complete: bool) -> Result<QueueData> {
    let catalog = library.open_catalog()?;
    build_queues(&catalog, library, config, complete)
}

pub fn build_queues(
    catalog: &Catalog,
    library: &Library,
    config: &Config,
    complete: bool,
) -> Result<QueueData> {
    let model = catalog.latest_model().context("reading the latest model")?;
    let photos = catalog.photos().context("reading the photos")?;
    let candidates = if complete {
        // The queues compare photos by the embeddings training uses (before the first model
        // too: the cold start orders typical photos first by them).
        let backbone = current_backbone(catalog)
            .context("reading which embeddings the library has")?
            .unwrap_or_else(BackboneId::bundled);
        catalog.candidates(backbone.as_str()).context("reading the queue candidates")?
    } else {
        let scores: HashMap<PhotoId, f32> = match &model {
            Some(m) => catalog.scores(m.id)?.into_iter().collect(),
            None => HashMap::new(),
        };
        let kind: HashMap<_, _> = catalog.current_labels(LabelKind::Kind)?.into_iter().collect();
        let print: HashMap<_, _> = catalog.current_labels(LabelKind::Print)?.into_iter().collect();
        photos
            .iter()
            .filter(|p| p.source == Source::Camera && p.state == PhotoState::Ok)
            .map(|p| Candidate {
                photo: p.id,
                p: scores.get(&p.id).copied(),
                taken_at: p.taken_at,
                embedding: None,
                kind_label: kind.get(&p.id).copied(),
                print_label: print.get(&p.id).copied(),
            })
            .collect()
    };
    let p: HashMap<_, _> = candidates.iter().filter_map(|c| Some((c.photo, c.p?))).collect();
    let mut candidates = candidates;
    if !config.queue.include_screenshots {
        let shots: std::collections::HashSet<PhotoId> =
            photos.iter().filter(|p| p.screenshot).map(|p| p.id).collect();
        candidates.retain(|c| !shots.contains(&c.photo));
    }

    let mut infos = HashMap::with_capacity(candidates.len());
    for photo in photos {
        if photo.source != Source::Camera {
            continue;
        }
        infos.insert(
            photo.id,
            PhotoInfo {
                thumb: photo.thumb_path.as_ref().map(|t| library.root().join(t)),
                p: p.get(&photo.id).copied(),
                path: photo.path,
                taken_at: photo.taken_at,
                width: photo.width,
                height: photo.height,
                missing: photo.state == PhotoState::Missing,
                taken_source: photo.taken_source,
                taken_offset: photo.taken_offset,
                live_video: photo.live_video,
                screenshot: photo.screenshot,
            },
        );
    }
    Ok(QueueData {
        ambiguous: queue::ambiguous(&candidates, &config.queue),
        best: queue::best_first(&candidates, &config.queue),
        total_photos: infos.len(),
        photos: infos,
        complete,
        model: model.map(|m| ModelSummary { version: m.id.0, auc: m.cv_auc }),
        counts: catalog.label_counts()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewPhoto;
    use crate::model::BACKBONE_ID;

    fn unit(axis: usize, wobble: f32) -> Vec<f32> {
        let mut v = vec![0.0; 8];
        v[axis] = 1.0;
        v[(axis + 1) % 8] = wobble;
        v
    }

    #[test]
    fn the_cold_start_orders_by_the_stored_embeddings() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::create(dir.path()).unwrap();
        let mut catalog = library.open_catalog().unwrap();
        let photos: Vec<NewPhoto> = (0..6)
            .map(|i| NewPhoto {
                path: format!("/p/{i}.jpg").into(),
                content_hash: format!("h{i}"),
                ..Default::default()
            })
            .collect();
        let ids = catalog.insert_photos(&photos).unwrap();
        // Photos 0 and 1 are near-duplicates; the others are unlike anything.
        let vectors =
            [unit(0, 0.0), unit(0, 0.01), unit(2, 0.0), unit(3, 0.0), unit(4, 0.0), unit(5, 0.0)];
        let rows: Vec<_> = ids.iter().copied().zip(vectors).collect();
        catalog.put_embeddings(BACKBONE_ID, &rows).unwrap();
        let data = build_queues(&catalog, &library, &Config::default(), true).unwrap();
        assert!(data.model.is_none());
        assert_eq!(data.ambiguous.len(), 6);
        // Without embeddings the cold start falls back to id order with the near-duplicates
        // side by side; with them, they are kept apart.
        let at = |id| data.ambiguous.iter().position(|p| *p == id).unwrap();
        assert!(at(ids[0]).abs_diff(at(ids[1])) > 1, "{:?}", data.ambiguous);
    }
}
