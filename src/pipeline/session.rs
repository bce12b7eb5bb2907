//! The labeling session's background work on the library, as the TUI's jobs run it: scanning
//! and embedding a folder while the user labels, retraining, and making seed images. Each
//! opens its own catalog connection (it runs on a job thread) and reports progress through a
//! callback; the TUI turns the reports into status lines.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::backbone::require_backbone;
use super::embed::{embed_list, embed_missing};
use super::finetune::finetune_and_score;
use super::seed::{SeedPhase, SeedProgress, SeedSummary, generate_seeds};
use super::train::{TrainReport, score_latest, train_and_score};
use crate::catalog::{Catalog, ModelId};
use crate::config::{Config, ModelConfig};
use crate::ingest::examples::{ExampleSummary, add_examples, example_folders};
use crate::ingest::{ScanPhase, ScanProgress, ScanSummary};
use crate::jobs::lowest_thread_priority;
use crate::library::Library;
use crate::model::{BACKBONE_ID, Embedder};
use crate::synth::{Stage, plan_seeds};

/// Share of the scan job's progress that reading and thumbnailing takes (embedding the rest):
/// thumbnailing a phone photo costs about twice what embedding its thumbnail does.
const READ_SHARE: f32 = 0.65;

/// How often embedding during a scan looks for newly committed photos.
const EMBED_POLL: Duration = Duration::from_millis(500);

/// What [`scan_embed_score`] did.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub scan: ScanSummary,
    /// Photos embedded (0 with `[scan] embed = false`).
    pub embedded: usize,
    /// The model the new photos were scored with, and how many photos it scored.
    pub scored: Option<(ModelId, usize)>,
}

/// Scans `dirs` (the photos land in the catalog in batches, so a session's queues pick them
/// up as they do), embeds the new photos and scores them with the current model. `report`
/// gets the fraction done and a note; it is called for every photo (throttle it there).
///
/// Embedding does not wait for the whole folder: while the scan reads, the photos it has
/// committed are embedded batch by batch, so the session's queues get their embedding order
/// (typical photos first) and a retrain its features within seconds, not after the last
/// file. Everything runs at the lowest CPU priority, below the session's own short jobs
/// (queue rebuilds, previews) and the UI: the scan keeps every core busy for minutes.
pub fn scan_embed_score(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    report: &(dyn Fn(f32, String) + Sync),
) -> Result<ScanReport> {
    let pool = lowest_priority_pool("scan")?;
    let mut catalog = library.open_catalog()?;
    let scan_over = AtomicBool::new(false);
    let early = AtomicUsize::new(0);
    let on_scan = |p: &ScanProgress| match p.phase {
        ScanPhase::Walking => report(0.0, format!("listing folders: {} files", p.done)),
        ScanPhase::Reading => {
            let total = p.total.max(1) as f32;
            let embedded = early.load(Ordering::Relaxed);
            report(
                READ_SHARE * p.done as f32 / total
                    + (1.0 - READ_SHARE) * (embedded as f32 / total).min(1.0),
                format!("reading {}/{} photos, {embedded} embedded", p.done, p.total),
            )
        }
    };
    let (scan, during) = std::thread::scope(|s| {
        let embedding = config.scan.embed.then(|| {
            s.spawn(|| {
                lowest_thread_priority();
                embed_during_scan(library, &config.model, &scan_over, &early)
            })
        });
        let scan = pool
            .install(|| crate::ingest::scan(&mut catalog, library, dirs, &config.scan, &on_scan));
        scan_over.store(true, Ordering::Release);
        let during = match embedding.map(|h| h.join()) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
        };
        (scan, during)
    });
    let scan = scan?;
    during.context("embedding while scanning")?;
    let mut embedded = early.into_inner();
    if config.scan.embed {
        let before = embedded;
        let rest = pool.install(|| {
            embed_missing(&mut catalog, library, &config.model, &|d, t| {
                let f = (before + d) as f32 / (before + t).max(1) as f32;
                report(READ_SHARE + (1.0 - READ_SHARE) * f, format!("embedding {d}/{t} photos"))
            })
        })?;
        embedded += rest.embedded;
    }
    let scored = score_latest(&mut catalog)?;
    Ok(ScanReport { scan, embedded, scored })
}

/// Embeds, in batches, the photos a running scan has committed (once there is at least a
/// batch of them), until `scan_over`: what is left then is for the pass after the scan. Its own
/// threads, so the operating system shares the cores between reading and embedding (on the
/// scan's pool, work stolen from its reading would only start once the reading ends).
fn embed_during_scan(
    library: &Library,
    cfg: &ModelConfig,
    scan_over: &AtomicBool,
    embedded: &AtomicUsize,
) -> Result<()> {
    if cfg.backbone != "lite0" {
        // The pass after the scan says why not.
        return Ok(());
    }
    let pool = lowest_priority_pool("embed")?;
    let mut catalog = library.open_catalog()?;
    let batch = cfg.batch_size.max(1);
    let mut embedder = None;
    // Photos whose thumbnail cannot be read: the pass after the scan reports them.
    let mut failed = HashSet::new();
    while !scan_over.load(Ordering::Acquire) {
        let todo: Vec<_> = catalog
            .photos_missing_embedding(BACKBONE_ID)
            .context("cannot list photos to embed")?
            .into_iter()
            .filter(|(id, _)| !failed.contains(id))
            .collect();
        if todo.len() < batch {
            std::thread::sleep(EMBED_POLL);
            continue;
        }
        let embedder = match &mut embedder {
            Some(e) => e,
            None => embedder.insert(Embedder::from_config(cfg)?),
        };
        for chunk in todo.chunks(batch) {
            if scan_over.load(Ordering::Acquire) {
                break;
            }
            let r = pool.install(|| {
                embed_list(&mut catalog, library, BACKBONE_ID, embedder, chunk, batch, &|_, _| {})
            })?;
            embedded.fetch_add(r.embedded, Ordering::Relaxed);
            failed.extend(r.failed.into_iter().map(|(id, _)| id));
        }
    }
    Ok(())
}

/// A rayon pool whose threads run at the lowest CPU priority.
fn lowest_priority_pool(name: &'static str) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(move |i| format!("{name}-{i}"))
        .start_handler(|_| lowest_thread_priority())
        .build()
        .with_context(|| format!("cannot start the {name} threads"))
}

/// A new model version from the current labels: fine-tuned when `[train] finetune` says so,
/// otherwise a head on the current backbone's embeddings. Every photo is rescored.
pub fn retrain(
    library: &Library,
    config: &Config,
    progress: &dyn Fn(f32, &str),
) -> Result<TrainReport> {
    let mut catalog = library.open_catalog()?;
    if config.train.finetune {
        return Ok(finetune_and_score(&mut catalog, library, config, progress)?.train);
    }
    let backbone = require_backbone(&catalog)?;
    train_and_score(&mut catalog, config, backbone.as_str(), progress)
}

/// What [`seed`] did: the example photos added and the images generated, where asked for.
#[derive(Debug, Clone)]
pub struct SeedJobReport {
    pub examples: Option<ExampleSummary>,
    pub generated: Option<SeedSummary>,
}

/// Adds the `[seed]` example photos and generates the prompts' images that do not exist yet,
/// then embeds them, so the next retrain can use them. Stops between images once
/// `cancelled()` says so.
pub fn seed(
    library: &Library,
    config: &Config,
    progress: &dyn Fn(f32, &str),
    cancelled: &dyn Fn() -> bool,
) -> Result<SeedJobReport> {
    let has_prompts = !plan_seeds(&config.seed)?.is_empty();
    let has_examples = !example_folders(&config.seed).is_empty();
    if !has_prompts && !has_examples {
        bail!(
            "no seed prompts and no example photos: add `want` / `dont_want` prompts or \
             `examples_want` / `examples_dont_want` folders to [seed] in config.toml"
        );
    }
    let mut catalog = library.open_catalog()?;
    let examples = if has_examples {
        Some(add_examples(&mut catalog, library, &config.seed, &config.scan, &|d, t| {
            progress(d as f32 / t.max(1) as f32, &format!("example photos {d}/{t}"))
        })?)
    } else {
        None
    };
    let generated = if has_prompts {
        let on_seed = |p: SeedProgress| {
            let note = match p.phase {
                SeedPhase::Loading(msg) => msg,
                SeedPhase::Generating { prompt, stage, .. } => match stage {
                    Stage::TextEncoder => format!("{prompt:?}: text encoder"),
                    Stage::Denoise { step, steps } => {
                        format!("{prompt:?}: step {}/{steps}", step + 1)
                    }
                    Stage::Decode => format!("{prompt:?}: decoding"),
                },
                SeedPhase::Saved { .. } => format!("{}/{} images", p.done, p.total),
            };
            progress(p.done as f32 / p.total.max(1) as f32, &note);
        };
        Some(generate_seeds(&mut catalog, library, &config.seed, &on_seed, cancelled)?)
    } else {
        None
    };
    embed_seeds(&mut catalog, library, config, progress)?;
    Ok(SeedJobReport { examples, generated })
}

/// Training reads embeddings: embeds the new seed photos before saying they are ready.
fn embed_seeds(
    catalog: &mut Catalog,
    library: &Library,
    config: &Config,
    progress: &dyn Fn(f32, &str),
) -> Result<()> {
    let embedded = embed_missing(catalog, library, &config.model, &|d, t| {
        progress(d as f32 / t.max(1) as f32, &format!("embedding seed images {d}/{t}"))
    })?;
    tracing::debug!(embedded = embedded.embedded, "seed images embedded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// `n` small distinct JPEGs in `dir`.
    fn photos(dir: &std::path::Path, n: u8) {
        for i in 0..n {
            let img = image::RgbImage::from_fn(96, 64, |x, y| {
                image::Rgb([(x as u8).wrapping_mul(i + 1), (y * 3) as u8, i.wrapping_mul(40)])
            });
            img.save(dir.join(format!("IMG_{i:02}.jpg"))).unwrap();
        }
    }

    /// `dir/photos` with `n` photos, and a new library in `dir/lib`.
    fn folder_and_library(dir: &std::path::Path, n: u8) -> (PathBuf, Library) {
        let folder = dir.join("photos");
        std::fs::create_dir(&folder).unwrap();
        photos(&folder, n);
        (folder, Library::create(dir.join("lib")).unwrap())
    }

    fn config(batch_size: usize) -> Config {
        let mut config = Config::default();
        config.model.batch_size = batch_size;
        config
    }

    #[test]
    fn photos_a_scan_has_committed_are_embedded_before_it_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let (folder, library) = folder_and_library(tmp.path(), 6);
        let config = config(4);
        let mut catalog = library.open_catalog().unwrap();
        crate::ingest::scan(&mut catalog, &library, &[folder], &config.scan, &|_| {}).unwrap();
        // The scan is still "running" (not over) until every committed photo has its
        // embedding.
        let (over, embedded) = (AtomicBool::new(false), AtomicUsize::new(0));
        std::thread::scope(|s| {
            let during = s.spawn(|| embed_during_scan(&library, &config.model, &over, &embedded));
            let deadline = std::time::Instant::now() + Duration::from_secs(120);
            while embedded.load(Ordering::Relaxed) < 6 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            over.store(true, Ordering::Release);
            during.join().unwrap().unwrap();
        });
        assert_eq!(embedded.into_inner(), 6, "all of them while the scan runs");
        assert!(catalog.photos_missing_embedding(BACKBONE_ID).unwrap().is_empty());
    }

    #[test]
    fn the_scan_job_embeds_every_photo_once_and_reports_as_it_goes() {
        let tmp = tempfile::tempdir().unwrap();
        let (folder, library) = folder_and_library(tmp.path(), 7);
        let notes = Mutex::new(Vec::new());
        let report = |f: f32, note: String| notes.lock().unwrap().push((f, note));
        let r = scan_embed_score(&library, &config(2), &[folder], &report).unwrap();
        assert_eq!((r.scan.new, r.embedded), (7, 7));
        let catalog = library.open_catalog().unwrap();
        assert!(catalog.photos_missing_embedding(BACKBONE_ID).unwrap().is_empty());
        let notes = notes.into_inner().unwrap();
        assert!(notes.windows(2).all(|w| w[0].0 <= w[1].0), "progress only grows: {notes:?}");
        assert!(notes.iter().any(|(_, n)| n.starts_with("reading 7/7 photos")), "{notes:?}");
        assert!((notes.last().unwrap().0 - 1.0).abs() < 1e-6, "{notes:?}");
    }
}
