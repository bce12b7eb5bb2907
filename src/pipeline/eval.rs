//! `photosift eval`: a folder of photos and a truth file, scanned and embedded into a scratch
//! library, then the label-efficiency simulation run on the truth's photos as embedding rows
//! (its table's data, the JSON and the plot written where asked), or the fine-tuning
//! comparison on their thumbnails. The command line only words the outcome.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;
use tempfile::TempDir;

use super::backbone::require_backbone;
use super::embed::{embed_all, load_thumb};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::domain::PhotoId;
use crate::ingest::ScanProgress;
use crate::learn::eval::{self, Evaluation, SimConfig};
use crate::learn::{self, CompareRow, FinetuneSettings, TrainSettings, eval_report};
use crate::library::Library;
use crate::model::WeightsSource;

/// What to evaluate and how: `photosift eval`'s options.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// CSV of `file,label` (1 = desirable).
    pub truth: PathBuf,
    /// The photos the truth names.
    pub dir: PathBuf,
    /// Retrain after this many answers (`None`: the TUI's `[train] retrain_every`).
    pub every: Option<usize>,
    pub max_labels: usize,
    /// K of precision@K.
    pub k: usize,
    pub runs: usize,
    /// Known desirable photos given as example photos.
    pub examples: usize,
    pub propagate: bool,
    pub lookahead: bool,
    /// Also write the whole evaluation as JSON here.
    pub json: Option<PathBuf>,
    /// Where to draw the plot.
    pub plot: PathBuf,
    /// Instead of the simulation: compare fine-tuning with the frozen head at these counts.
    pub finetune_compare: Vec<usize>,
    pub compare_runs: usize,
}

/// Where the evaluation is.
#[derive(Debug, Clone)]
pub enum EvalEvent {
    Scanning {
        done: u64,
        total: u64,
    },
    Embedding {
        done: usize,
        total: usize,
    },
    /// The simulation or the comparison, in its own words.
    Working(String),
}

/// What the evaluation found.
#[derive(Debug, Clone)]
pub enum EvalOutcome {
    Simulation(Box<Simulation>),
    Comparison(Comparison),
}

/// The simulation on the truth's photos.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub evaluation: Evaluation,
    pub config: SimConfig,
    /// Truth rows that name no scanned photo.
    pub unmatched: Vec<String>,
    /// Where the JSON and the plot were written.
    pub json: Option<PathBuf>,
    pub plot: PathBuf,
}

/// Fine-tuning against the frozen head on the truth's photos.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub photos: usize,
    pub positives: usize,
    pub settings: FinetuneSettings,
    /// Label counts left out: not fewer than the photos.
    pub skipped: Vec<usize>,
    pub rows: Vec<CompareRow>,
}

/// How often the simulation retrains: `every`, else the TUI's automatic cadence.
pub fn cadence(config: &Config, every: Option<usize>) -> Result<usize> {
    Ok(match every {
        Some(n) => n.max(1),
        None if config.train.retrain_every > 0 => config.train.retrain_every as usize,
        None => anyhow::bail!(
            "[train] retrain_every = 0 (retrain only on R) has no cadence to simulate: pass \
             --every N"
        ),
    })
}

/// Scans `req.dir` into a scratch library, embeds it, and runs the simulation (writing the
/// JSON and the plot) or the fine-tuning comparison on the photos the truth file names.
pub fn evaluate_dir(
    config: &Config,
    req: &EvalRequest,
    on: &(dyn Fn(EvalEvent) + Sync),
) -> Result<EvalOutcome> {
    let comparing = !req.finetune_compare.is_empty();
    if !comparing {
        // A bad option is an error before minutes of scanning, not after.
        cadence(config, req.every)?;
    }
    let truth = read_truth(&req.truth)?;
    let scratch = scan_into_scratch(&req.dir, config, &|p| match p {
        ScratchProgress::Scanning { done, total } => on(EvalEvent::Scanning { done, total }),
        ScratchProgress::Embedding { done, total } => on(EvalEvent::Embedding { done, total }),
    })?;
    if comparing {
        return compare(config, &scratch, &truth, req, on).map(EvalOutcome::Comparison);
    }
    simulate(config, &scratch.catalog, &truth, req, on)
        .map(|s| EvalOutcome::Simulation(Box::new(s)))
}

fn simulate(
    config: &Config,
    catalog: &Catalog,
    truth: &[(String, bool)],
    req: &EvalRequest,
    on: &(dyn Fn(EvalEvent) + Sync),
) -> Result<Simulation> {
    let rows = truth_rows(catalog, truth, config)?;
    let positives = rows.labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == rows.labels.len() {
        anyhow::bail!(
            "the truth file needs both desirable and other photos among the embedded ones"
        );
    }
    let sim = SimConfig {
        retrain_every: cadence(config, req.every)?,
        max_labels: req.max_labels,
        precision_k: req.k,
        runs: req.runs.max(1),
        examples: req.examples,
        example_weight: config.train.synthetic_weight,
        propagate: req.propagate,
        lookahead: req.lookahead,
        settings: TrainSettings { l2: config.train.l2 },
        queue: config.queue.clone(),
    };
    let evaluation =
        eval::evaluate(&rows.data, rows.dim, &rows.labels, &rows.taken_at, &sim, &|what| {
            on(EvalEvent::Working(what.to_owned()))
        })?;
    if let Some(path) = &req.json {
        let text = serde_json::to_string_pretty(&eval_report::json(&evaluation))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let title = format!("photosift eval: {} photos, {positives} desirable", rows.labels.len());
    learn::plot::draw(&req.plot, &evaluation.curves, req.k, &title)
        .with_context(|| format!("cannot draw the plot {}", req.plot.display()))?;
    Ok(Simulation {
        evaluation,
        config: sim,
        unmatched: rows.unmatched,
        json: req.json.clone(),
        plot: req.plot.clone(),
    })
}

fn compare(
    config: &Config,
    scratch: &ScratchLibrary,
    truth: &[(String, bool)],
    req: &EvalRequest,
    on: &(dyn Fn(EvalEvent) + Sync),
) -> Result<Comparison> {
    let (images, labels) = truth_thumbnails(&scratch.catalog, &scratch.library, truth)?;
    let settings = FinetuneSettings::from_config(&config.train);
    let rows = learn::compare_finetune(
        &WeightsSource::from_config(&config.model.weights),
        &images,
        &labels,
        &req.finetune_compare,
        req.compare_runs,
        &settings,
        TrainSettings { l2: config.train.l2 },
        &|what| on(EvalEvent::Working(what.to_owned())),
    )?;
    Ok(Comparison {
        photos: labels.len(),
        positives: labels.iter().filter(|&&l| l).count(),
        skipped: req.finetune_compare.iter().copied().filter(|&c| c >= labels.len()).collect(),
        settings,
        rows,
    })
}

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
    embed_all(&mut catalog, &library, config, "photosift eval", &|done, total| {
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
pub fn truth_rows(
    catalog: &Catalog,
    truth: &[(String, bool)],
    config: &Config,
) -> Result<TruthRows> {
    let backbone = require_backbone(catalog, config.embed.backbone)?;
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
