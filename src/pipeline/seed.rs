//! Seeding the classifier before the first answer: the `[seed]` example photos added, the
//! prompts' images that do not exist yet generated one at a time into `<library>/synthetic/`
//! (thumbnailed and cataloged as synthetic photos with their prompt and label), and all of them
//! embedded. Resumable (what exists is kept) and cancellable. [`seed`] is the one workflow
//! `photosift seed` and the session's G key run; [`plan`] is what `seed --dry-run` shows.

use std::path::Path;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use candle_core::DType;
use image::{ImageFormat, RgbImage};

use super::embed::{EmbedSummary, embed_all};
use crate::catalog::{Catalog, NewPhoto, Source};
use crate::config::{Config, SeedConfig};
use crate::hub::{self, HubFile, WeightSources};
use crate::ingest::examples::{ExampleSummary, add_examples, example_folders};
use crate::ingest::thumbs::store_resized_thumbnail;
use crate::library::Library;
use crate::synth::pipeline::{self, Pipeline, Stage};
use crate::synth::{DecoderKind, SdModel, SeedPlan, SynthError, loader, params_for, plan_seeds};

/// Long side and JPEG quality of the thumbnails written for seed images (the scan's defaults).
const THUMB_SIZE: u32 = 512;
const THUMB_QUALITY: u8 = 85;

/// Loads the model when the first image must be generated; the argument reports what it does
/// (finding, downloading, loading weights).
pub type LoadPipeline<'a> = dyn FnMut(&dyn Fn(String)) -> Result<Pipeline, SynthError> + 'a;

/// What the job is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedPhase {
    /// Finding, downloading or loading the weights.
    Loading(String),
    /// Working on `prompt` (image `index`).
    Generating { prompt: String, wanted: bool, index: usize, stage: Stage },
    /// An image was written and cataloged.
    Saved { path: PathBuf },
}

/// A progress report; sent at every stage of every image.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedProgress {
    pub phase: SeedPhase,
    /// Images that exist now (found or generated), out of `total` planned.
    pub done: usize,
    pub total: usize,
    /// Remaining time at this run's speed, once one image is finished.
    pub eta: Option<Duration>,
}

/// How a run went.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedSummary {
    pub planned: usize,
    pub generated: usize,
    /// Already there (file and catalog row), left alone.
    pub existing: usize,
    /// Files from an interrupted run that had no catalog row yet: cataloged without
    /// regenerating.
    pub recovered: usize,
    pub cancelled: bool,
    pub elapsed: Duration,
}

/// Where the seed workflow is.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedEvent {
    /// Adding the example photos: `done` of `total` read.
    Examples { done: usize, total: usize },
    /// Generating the prompts' images.
    Generating(SeedProgress),
    /// Embedding the new seed photos: `done` of `total`.
    Embedding { done: usize, total: usize },
}

/// What [`seed`] did: the example photos added and the images generated, where asked for,
/// and the embedding of them all.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub examples: Option<ExampleSummary>,
    pub generated: Option<SeedSummary>,
    pub embedded: EmbedSummary,
}

/// Adds the example photos of `seed` (`[seed] examples_*`) and generates the prompts' images
/// that do not exist yet, then embeds them, so the next retrain uses them. Stops between
/// images once `cancelled()` says so. `config` gives the scan and model settings; `seed` may
/// differ from `config.seed` (the command line's overrides).
pub fn seed(
    library: &Library,
    config: &Config,
    seed: &SeedConfig,
    on: &dyn Fn(SeedEvent),
    cancelled: &dyn Fn() -> bool,
) -> Result<SeedReport> {
    let has_prompts = !plan_seeds(seed)?.is_empty();
    let has_examples = !example_folders(seed).is_empty();
    if !has_prompts && !has_examples {
        anyhow::bail!(
            "no seed prompts and no example photos: add them to the [seed] section of your \
             config.toml, e.g.\n  \
             [seed]\n  want = [\"two friends on a mountain\", \"hummingbird on a flower\"]\n  \
             dont_want = [\"blurry screenshot of a receipt\"]\n  \
             examples_want = [\"~/Pictures/printed\"]"
        );
    }
    let mut catalog = library.open_catalog()?;
    let examples = if has_examples {
        Some(add_examples(&mut catalog, library, seed, &config.scan, &|done, total| {
            on(SeedEvent::Examples { done, total })
        })?)
    } else {
        None
    };
    let generated = if has_prompts {
        let progress = |p: SeedProgress| on(SeedEvent::Generating(p));
        Some(generate_seeds(&mut catalog, library, seed, &progress, cancelled)?)
    } else {
        None
    };
    // Training reads embeddings: the new seed photos are embedded before they count as ready.
    let embedded = embed_all(&mut catalog, library, config, "photosift embed", &|done, total| {
        on(SeedEvent::Embedding { done, total })
    })?;
    Ok(SeedReport { examples, generated, embedded })
}

/// One image of the plan, and whether it is there already.
#[derive(Debug, Clone)]
pub struct PlannedImage {
    pub plan: SeedPlan,
    pub path: PathBuf,
    pub exists: bool,
}

/// What `seed` would do: the example folders, every planned image, and the weight files it
/// would need that are not on this machine (URL, where to put it).
#[derive(Debug, Clone)]
pub struct SeedOutline {
    pub examples: Vec<(bool, PathBuf)>,
    pub images: Vec<PlannedImage>,
    pub weight_files: usize,
    pub missing_weights: Vec<(HubFile, PathBuf)>,
}

/// The dry run of [`seed`]: nothing is written, loaded or downloaded.
pub fn plan(library: &Library, seed: &SeedConfig) -> Result<SeedOutline> {
    let images = plan_seeds(seed)?
        .into_iter()
        .map(|plan| {
            let path = library.synthetic_dir().join(&plan.file_name);
            PlannedImage { exists: path.is_file(), path, plan }
        })
        .collect();
    let model = SdModel::parse(&seed.model)?;
    let decoder = DecoderKind::parse(&seed.decoder)?;
    let local_dir = weights_dir(library, seed);
    let model_files = model.files(decoder, &loader::weight_names(model, seed));
    let files = model_files.all();
    let missing_weights = files
        .iter()
        .filter(|f| hub::locate(f, &local_dir).is_none())
        .map(|f| ((*f).clone(), f.local_path(&local_dir)))
        .collect();
    Ok(SeedOutline {
        examples: example_folders(seed),
        images,
        weight_files: files.len(),
        missing_weights,
    })
}

/// Where the Stable Diffusion weights are looked for: `[seed] weights_dir`, else the library's
/// `models/hub`.
pub fn weights_dir(library: &Library, cfg: &SeedConfig) -> PathBuf {
    if cfg.weights_dir.as_os_str().is_empty() {
        library.models_dir().join("hub")
    } else {
        cfg.weights_dir.clone()
    }
}

/// Generates the `[seed]` images that do not exist yet, loading the model (and downloading its
/// weights into the hub cache, if allowed) only when there is something to generate.
pub fn generate_seeds(
    catalog: &mut Catalog,
    library: &Library,
    cfg: &SeedConfig,
    progress: &dyn Fn(SeedProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<SeedSummary> {
    let model = SdModel::parse(&cfg.model)?;
    let decoder = DecoderKind::parse(&cfg.decoder)?;
    let sources = WeightSources { local_dir: weights_dir(library, cfg), download: cfg.download };
    let names = loader::weight_names(model, cfg);
    let mut load = |report: &dyn Fn(String)| -> Result<Pipeline, SynthError> {
        let device = pipeline::default_device();
        loader::load_pipeline(model, decoder, &names, &sources, &device, DType::F32, report)
    };
    generate_seeds_with(catalog, library, cfg, model, &mut load, progress, cancelled)
}

/// [`generate_seeds`] with the pipeline supplied by `load` (called at most once, only when an
/// image must be generated): tests pass tiny random-weight pipelines here.
pub fn generate_seeds_with(
    catalog: &mut Catalog,
    library: &Library,
    cfg: &SeedConfig,
    model: SdModel,
    load: &mut LoadPipeline<'_>,
    progress: &dyn Fn(SeedProgress),
    cancelled: &dyn Fn() -> bool,
) -> Result<SeedSummary> {
    let start = Instant::now();
    let plans = plan_seeds(cfg)?;
    let total = plans.len();
    let dir = library.synthetic_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Catalog paths are absolute, whatever folder `--library` was given relative to.
    let dir = dir.canonicalize().with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut summary = SeedSummary {
        planned: total,
        generated: 0,
        existing: 0,
        recovered: 0,
        cancelled: false,
        elapsed: Duration::ZERO,
    };

    // First pass: what exists. A file without a row (killed between the two) is cataloged now.
    let mut todo = Vec::new();
    for plan in &plans {
        let path = dir.join(&plan.file_name);
        if !path.is_file() {
            todo.push(plan);
            continue;
        }
        if catalog.synthetic_at(&path)?.is_some() {
            summary.existing += 1;
            continue;
        }
        match image::open(&path) {
            Ok(img) => {
                catalog_image(catalog, library, plan, &path, &img.to_rgb8())?;
                summary.recovered += 1;
            }
            // A damaged file from a kill mid-write: make it again.
            Err(_) => todo.push(plan),
        }
    }

    let mut done = total - todo.len();
    let mut pipeline: Option<Pipeline> = None;
    let mut gen_time = Duration::ZERO;
    for plan in todo {
        if cancelled() {
            summary.cancelled = true;
            break;
        }
        let eta = (summary.generated > 0)
            .then(|| gen_time / summary.generated as u32 * (total - done) as u32);
        let report = |phase: SeedPhase| progress(SeedProgress { phase, done, total, eta });
        let pipe = match &mut pipeline {
            Some(p) => p,
            None => {
                report(SeedPhase::Loading(format!("preparing {}", model.name())));
                let p = load(&|msg| report(SeedPhase::Loading(msg)))?;
                pipeline.insert(p)
            }
        };
        let t0 = Instant::now();
        let params = params_for(cfg, model, plan.seed);
        let mut on_stage = |stage: Stage| {
            report(SeedPhase::Generating {
                prompt: plan.prompt.clone(),
                wanted: plan.wanted,
                index: plan.index,
                stage,
            })
        };
        let Some(img) = pipe
            .generate(&plan.prompt, &params, &mut on_stage, cancelled)
            .with_context(|| format!("generating {:?}", plan.prompt))?
        else {
            summary.cancelled = true;
            break;
        };
        let path = dir.join(&plan.file_name);
        write_png_atomically(&img, &path)?;
        catalog_image(catalog, library, plan, &path, &img)?;
        gen_time += t0.elapsed();
        summary.generated += 1;
        done += 1;
        let eta = Some(gen_time / summary.generated as u32 * (total - done) as u32);
        progress(SeedProgress { phase: SeedPhase::Saved { path }, done, total, eta });
    }
    summary.elapsed = start.elapsed();
    Ok(summary)
}

/// Writes through a temporary name and renames, so a kill never leaves a half-written image
/// under the final name.
fn write_png_atomically(img: &RgbImage, path: &Path) -> Result<()> {
    let tmp = path.with_extension("png.part");
    img.save_with_format(&tmp, ImageFormat::Png)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Hashes the file, writes its thumbnail and upserts its catalog row.
fn catalog_image(
    catalog: &mut Catalog,
    library: &Library,
    plan: &SeedPlan,
    path: &Path,
    img: &RgbImage,
) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let meta = std::fs::metadata(path)?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    let thumb = store_resized_thumbnail(library.root(), &hash, img, THUMB_SIZE, THUMB_QUALITY)?;
    // An image regenerated at the same path (its file went missing) keeps its row and id.
    catalog.insert_photos(&[NewPhoto {
        path: path.to_path_buf(),
        content_hash: hash,
        byte_size: bytes.len() as u64,
        mtime_ns,
        width: Some(img.width()),
        height: Some(img.height()),
        thumb_path: Some(thumb.rel_path),
        source: Source::Synthetic,
        prompt: Some(plan.prompt.clone()),
        seed_label: Some(plan.wanted),
        ..Default::default()
    }])?;
    Ok(())
}
