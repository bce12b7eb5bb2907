//! Scanning folders into the library: walk, thumbnail and record the photos, embed the new
//! ones from the pixels the scan already has, and score them with the current model. One
//! implementation for `photosift scan` and for the session's `label DIR`; both hear typed
//! [`ScanEvent`]s and show them their own way.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result};
use image::RgbImage;

use super::embed::{embed_all, photo_embedder};
use super::train::score_latest;
use crate::config::{Config, ModelConfig};
use crate::domain::{ModelId, PhotoId};
use crate::ingest::{ScanPhase, ScanProgress, ScanSummary, scan_with};
use crate::jobs::{lowest_thread_priority, rayon_pool};
use crate::library::Library;
use crate::model::BACKBONE_ID;

/// Share of the whole job that reading and thumbnailing takes (embedding the rest):
/// thumbnailing a phone photo costs about twice what embedding its thumbnail does.
const READ_SHARE: f32 = 0.65;

/// Where a scan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanEvent {
    /// Listing the folders: entries seen so far.
    Listing { entries: u64 },
    /// Reading and thumbnailing the new and changed files (`done` of `total`), while the ones
    /// already recorded are embedded (`embedded`).
    Reading { done: u64, total: u64, embedded: usize },
    /// After the reading: embedding what is left (`done` of `total`).
    Embedding { done: usize, total: usize },
}

impl ScanEvent {
    /// The share of the whole job done, 0 to 1.
    pub fn fraction(&self) -> f32 {
        match *self {
            ScanEvent::Listing { .. } => 0.0,
            ScanEvent::Reading { done, total, embedded } => {
                let total = total.max(1) as f32;
                READ_SHARE * done as f32 / total
                    + (1.0 - READ_SHARE) * (embedded as f32 / total).min(1.0)
            }
            ScanEvent::Embedding { done, total } => {
                READ_SHARE + (1.0 - READ_SHARE) * done as f32 / total.max(1) as f32
            }
        }
    }
}

/// What [`scan_embed_score`] did.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    pub scan: ScanSummary,
    /// Photos embedded (0 with `[scan] embed = false`).
    pub embedded: usize,
    /// Photos whose thumbnail could not be embedded, and why.
    pub embed_failed: Vec<(PhotoId, String)>,
    /// The model the new photos were scored with, and how many photos it scored.
    pub scored: Option<(ModelId, usize)>,
}

/// How many committed photos' pixels may wait for the embedder: the scan's writer waits when
/// it runs ahead (so no thumbnail is decoded twice), but not by more than this.
const WAITING_BATCHES: usize = 2;

/// Scans `dirs` (the photos land in the catalog in batches, so a session's queues pick them
/// up as they do), embeds the new photos and scores them with the current model. `on` hears
/// every step (throttle it there).
///
/// Embedding does not wait for the whole folder: each photo the scan commits is handed over
/// with the thumbnail pixels it was just made from, and embedded in batches on a thread of its
/// own, so a session's queues get their embedding order (typical photos first) and a retrain
/// its features within seconds, and no thumbnail is read back and decoded again. What could not
/// be embedded then (a photo committed without pixels, a failed batch) is embedded from its
/// thumbnail file after the reading. Everything runs at the lowest CPU priority, below the
/// session's own short jobs and the UI: a scan keeps every core busy for minutes.
pub fn scan_embed_score(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    on: &(dyn Fn(ScanEvent) + Sync),
) -> Result<ScanReport> {
    let pool = rayon_pool("scan", None, true).context("cannot start the scan threads")?;
    let mut catalog = library.open_catalog()?;
    let early = AtomicUsize::new(0);
    let on_scan = |p: &ScanProgress| match p.phase {
        ScanPhase::Walking => on(ScanEvent::Listing { entries: p.done }),
        ScanPhase::Reading => on(ScanEvent::Reading {
            done: p.done,
            total: p.total,
            embedded: early.load(Ordering::Relaxed),
        }),
    };
    let batch = config.model.batch_size.max(1);
    let (tx, rx) = sync_channel::<(PhotoId, RgbImage)>(WAITING_BATCHES * batch);
    let (scan, during) = std::thread::scope(|s| {
        let embedding = config.scan.embed.then(|| {
            s.spawn(|| {
                lowest_thread_priority();
                embed_as_committed(library, &config.model, rx, &early)
            })
        });
        let listener = |id: PhotoId, image: RgbImage| {
            // Fails only when the embedder stopped on an error: the pass after the scan
            // embeds the rest from the thumbnails.
            let _ = tx.send((id, image));
        };
        let new_pixels: Option<&(dyn Fn(PhotoId, RgbImage) + Sync)> =
            if config.scan.embed { Some(&listener) } else { None };
        let scan = pool
            .install(|| scan_with(&mut catalog, library, dirs, &config.scan, &on_scan, new_pixels));
        drop(tx);
        let during = match embedding.map(|h| h.join()) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        (scan, during)
    });
    let scan = scan?;
    if let Err(err) = during {
        // Not fatal: the pass below embeds from the thumbnails what is still missing.
        tracing::warn!("embedding during the scan stopped: {err:#}");
    }
    let mut report =
        ScanReport { scan, embedded: early.into_inner(), embed_failed: Vec::new(), scored: None };
    if config.scan.embed {
        let before = report.embedded;
        let rest = pool.install(|| {
            embed_all(&mut catalog, library, config, "photosift scan", &|done, total| {
                on(ScanEvent::Embedding { done: before + done, total: before + total })
            })
        })?;
        report.embedded += rest.embedded;
        report.embed_failed = rest.failed;
        if report.embedded > 0 {
            report.scored = score_latest(&mut catalog)?;
            // A library that just became complete on CLIP ranks by the prompts before any
            // answer. Not fatal: the scan's work is committed, and the next retrain tries again.
            let mut data = super::SessionData::default();
            if let Err(err) = super::zero_shot::start_from_prompts(&mut catalog, config, &mut data)
            {
                tracing::warn!("ranking by the prompts: {err:#}");
            }
        }
    }
    Ok(report)
}

/// Embeds the photos the scan hands over, in batches of the configured size, on its own
/// connection; returns when the scan is over (the sender gone) and the last batch is stored.
/// Its own threads, so the operating system shares the cores between reading and embedding
/// (on the scan's pool, work stolen from its reading would only start once the reading ends).
fn embed_as_committed(
    library: &Library,
    cfg: &ModelConfig,
    rx: Receiver<(PhotoId, RgbImage)>,
    embedded: &AtomicUsize,
) -> Result<()> {
    let pool = rayon_pool("embed", None, true).context("cannot start the embedding threads")?;
    let mut catalog = library.open_catalog()?;
    let batch = cfg.batch_size.max(1);
    let mut embedder = None;
    let mut ids = Vec::with_capacity(batch);
    let mut images = Vec::with_capacity(batch);
    let mut rx = rx.into_iter().peekable();
    while let Some((id, image)) = rx.next() {
        ids.push(id);
        images.push(image);
        // A full batch, or the scan is over (nothing more will come soon enough to wait for).
        if ids.len() < batch && rx.peek().is_some() {
            continue;
        }
        let embedder = match &mut embedder {
            Some(e) => e,
            None => embedder.insert(photo_embedder(cfg)?),
        };
        let vectors = pool
            .install(|| embedder.embed_images(&images))
            .context("embedding a batch of new photos")?;
        let rows: Vec<_> = ids.drain(..).zip(vectors).collect();
        catalog.put_embeddings(BACKBONE_ID, &rows).context("cannot store embeddings")?;
        embedded.fetch_add(rows.len(), Ordering::Relaxed);
        images.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// `dir/photos` with `n` small distinct JPEGs, and a new library in `dir/lib`.
    fn folder_and_library(dir: &std::path::Path, n: u8) -> (PathBuf, Library) {
        let folder = dir.join("photos");
        std::fs::create_dir(&folder).unwrap();
        for i in 0..n {
            let img = image::RgbImage::from_fn(96, 64, |x, y| {
                image::Rgb([(x as u8).wrapping_mul(i + 1), (y * 3) as u8, i.wrapping_mul(40)])
            });
            img.save(folder.join(format!("IMG_{i:02}.jpg"))).unwrap();
        }
        (folder, Library::create(dir.join("lib")).unwrap())
    }

    fn config(batch_size: usize) -> Config {
        let mut config = Config::default();
        config.model.batch_size = batch_size;
        config
    }

    #[test]
    fn the_scan_embeds_every_photo_once_from_its_pixels_and_reports_as_it_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let (folder, library) = folder_and_library(tmp.path(), 7);
        let events = Mutex::new(Vec::new());
        let r =
            scan_embed_score(&library, &config(2), &[folder], &|e| events.lock().unwrap().push(e))
                .unwrap();
        assert_eq!((r.scan.new, r.embedded), (7, 7));
        let events = events.into_inner().unwrap();
        // Every photo came with its pixels: the pass after the scan found nothing to embed.
        assert!(
            events.iter().all(|e| !matches!(e, ScanEvent::Embedding { total, .. } if *total > 7)),
            "{events:?}"
        );
        let catalog = library.open_catalog().unwrap();
        assert!(catalog.photos_missing_embedding(BACKBONE_ID).unwrap().is_empty());
        let fractions: Vec<f32> = events.iter().map(ScanEvent::fraction).collect();
        assert!(fractions.windows(2).all(|w| w[0] <= w[1] + 1e-6), "only grows: {events:?}");
        assert!(events.iter().any(|e| matches!(e, ScanEvent::Reading { done: 7, total: 7, .. })));
        assert!((fractions.last().unwrap() - 1.0).abs() < 1e-6, "{events:?}");
        // The vectors are those of the stored thumbnails, near enough (JPEG at quality 85).
        let table = catalog.embedding_table(BACKBONE_ID).unwrap();
        let embedder = photo_embedder(&Config::default().model).unwrap();
        let photo = catalog.photo(table.ids[0]).unwrap().unwrap();
        let thumb = image::open(library.root().join(photo.thumb_path.unwrap())).unwrap();
        let again = embedder.embed_images(&[thumb.to_rgb8()]).unwrap().remove(0);
        let cos = crate::numeric::dot(&again, &table.data[..table.dim])
            / (crate::numeric::dot(&again, &again).sqrt()
                * crate::numeric::dot(&table.data[..table.dim], &table.data[..table.dim]).sqrt());
        assert!(cos > 0.98, "cosine {cos}");
    }

    #[test]
    fn without_embedding_the_scan_only_records() {
        let tmp = tempfile::tempdir().unwrap();
        let (folder, library) = folder_and_library(tmp.path(), 3);
        let mut config = config(2);
        config.scan.embed = false;
        let r = scan_embed_score(&library, &config, &[folder], &|_| {}).unwrap();
        assert_eq!((r.scan.new, r.embedded, r.scored), (3, 0, None));
        let catalog = library.open_catalog().unwrap();
        assert_eq!(catalog.photos_missing_embedding(BACKBONE_ID).unwrap().len(), 3);
    }
}
