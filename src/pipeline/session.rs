//! The labeling session's background work on the library, as the TUI's jobs run it: scanning
//! and embedding a folder while the user labels, retraining, and making seed images. Each
//! opens its own catalog connection (it runs on a job thread) and reports progress through a
//! callback; the TUI turns the reports into status lines.

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::backbone::require_backbone;
use super::embed::embed_missing;
use super::finetune::finetune_and_score;
use super::seed::{SeedPhase, SeedProgress, SeedSummary, generate_seeds};
use super::train::{TrainReport, score_latest, train_and_score};
use crate::catalog::{Catalog, ModelId};
use crate::config::Config;
use crate::ingest::examples::{ExampleSummary, add_examples, example_folders};
use crate::ingest::{ScanPhase, ScanProgress, ScanSummary};
use crate::library::Library;
use crate::synth::{Stage, plan_seeds};

/// Share of the scan job's progress that reading and thumbnailing takes (embedding the rest):
/// thumbnailing a phone photo costs about twice what embedding its thumbnail does.
const READ_SHARE: f32 = 0.65;

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
pub fn scan_embed_score(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    report: &dyn Fn(f32, String),
) -> Result<ScanReport> {
    let mut catalog = library.open_catalog()?;
    let on_scan = |p: &ScanProgress| match p.phase {
        ScanPhase::Walking => report(0.0, format!("listing folders: {} files", p.done)),
        ScanPhase::Reading => report(
            READ_SHARE * p.done as f32 / p.total.max(1) as f32,
            format!("reading {}/{} photos", p.done, p.total),
        ),
    };
    let scan = crate::ingest::scan(&mut catalog, library, dirs, &config.scan, &on_scan)?;
    let embedded = if config.scan.embed {
        embed_missing(&mut catalog, library, &config.model, &|d, t| {
            let f = READ_SHARE + (1.0 - READ_SHARE) * d as f32 / t.max(1) as f32;
            report(f, format!("embedding {d}/{t} photos"))
        })?
        .embedded
    } else {
        0
    };
    let scored = score_latest(&mut catalog)?;
    Ok(ScanReport { scan, embedded, scored })
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
    let has_prompts = !plan_seeds(&config.seed).is_empty();
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
