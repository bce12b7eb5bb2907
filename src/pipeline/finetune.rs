//! `photosift train --finetune`: fine-tunes the backbone's last stage(s) on the labeled
//! thumbnails, saves it as a new backbone version, re-embeds every photo with it, then trains,
//! scores and records the head on the new embeddings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;

use super::embed::{embed_list, finetuned_weights_path, load_thumb};
use super::session_data::SessionData;
use super::train::{FinetuneInfo, Recording, TrainReport, train_and_record};
use crate::catalog::Catalog;
use crate::config::Config;
use crate::domain::{LabelKind, LabelValue, PhotoId};
use crate::learn::LearnError;
use crate::learn::finetune::{self, FinetuneSettings, Target};
use crate::library::Library;
use crate::model::{Embedder, WeightsSource};

/// What a fine-tuning run did.
#[derive(Debug, Clone)]
pub struct FinetuneReport {
    /// The new backbone version, `lite0-ft-<model id>`.
    pub backbone: String,
    /// Its weights (the whole network, safetensors).
    pub weights: PathBuf,
    /// Labeled images trained on (manual and synthetic), and views of each.
    pub n_images: usize,
    pub views: usize,
    /// Labeled photos left out because their thumbnail could not be read.
    pub n_unreadable: usize,
    /// Mean training loss per epoch.
    pub epoch_loss: Vec<f32>,
    /// Photos embedded with the new backbone.
    pub embedded: usize,
    pub finetune_ms: f64,
    pub embed_ms: f64,
    /// The head trained on the new embeddings, and its scores.
    pub train: TrainReport,
}

/// Fine-tunes the backbone named in the config (the ImageNet weights by default: every run
/// starts from them, so versions do not drift) on the manual "kind" labels and the seed
/// images (at `synthetic_weight`), writes `<library>/models/lite0-ft-<id>.safetensors`,
/// embeds every photo with it and records the head trained on those embeddings as model
/// `<id>` (kind "finetune", backbone `lite0-ft-<id>`), so the queues use it. Blocking.
pub fn finetune_and_score(
    catalog: &mut Catalog,
    library: &Library,
    cfg: &Config,
    data: &mut SessionData,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<FinetuneReport> {
    let t0 = Instant::now();
    let settings = FinetuneSettings::from_config(&cfg.train);
    progress(0.0, "reading labels and thumbnails");
    let thumbs: HashMap<PhotoId, Option<PathBuf>> =
        catalog.photos()?.into_iter().map(|p| (p.id, p.thumb_path)).collect();
    let mut labeled: Vec<(PhotoId, Target)> = Vec::new();
    for (photo, value) in catalog.current_labels(LabelKind::Kind)? {
        let positive = match value {
            LabelValue::Yes => true,
            LabelValue::No => false,
            LabelValue::Skip => continue,
        };
        labeled.push((photo, Target { positive, weight: 1.0 }));
    }
    for (photo, positive) in catalog.synthetic_seed_labels()? {
        labeled.push((photo, Target { positive, weight: cfg.train.synthetic_weight }));
    }
    let loaded: Vec<_> = labeled
        .par_iter()
        .map(|(id, t)| (load_thumb(library.root(), thumbs.get(id).and_then(Option::as_ref)), *t))
        .collect();
    let n_unreadable = loaded.iter().filter(|(img, _)| img.is_err()).count();
    let (images, targets): (Vec<_>, Vec<_>) =
        loaded.into_iter().filter_map(|(img, t)| Some((img.ok()?, t))).unzip();
    if !targets.iter().any(|t| t.positive) || !targets.iter().any(|t| !t.positive) {
        anyhow::bail!(
            "fine-tuning needs photos answered both ways (yes and no) with readable thumbnails"
        );
    }

    let source = WeightsSource::from_config(&cfg.model.weights);
    let folded = source.load_folded(&candle_core::Device::Cpu)?;
    let views = finetune::views(&images, settings.views, settings.seed);
    let trunk = finetune::trunk_features(&folded, &views, settings.from_stage, &|done, total| {
        progress(0.2 * done as f32 / total.max(1) as f32, "frozen trunk of the training views");
    })?;
    drop(folded);
    let tuned = finetune::train_tail(&source, &trunk, &targets, &settings, &|f, what| {
        progress(0.2 + 0.4 * f, what);
    })?;
    drop(trunk);

    let id = catalog.next_model_id()?;
    let backbone = format!("lite0-ft-{}", id.0);
    let weights = finetuned_weights_path(library, &backbone);
    tuned
        .varmap
        .save(&weights)
        .map_err(LearnError::from)
        .with_context(|| format!("cannot write {}", weights.display()))?;
    let finetune_ms = t0.elapsed().as_secs_f64() * 1000.0;

    let t1 = Instant::now();
    let embedder = Embedder::new(&WeightsSource::File(weights.clone()))?;
    let todo = catalog.photos_missing_embedding(&backbone)?;
    let summary = embed_list(
        catalog,
        library,
        &backbone,
        &embedder,
        &todo,
        cfg.model.batch_size,
        &|d, t| {
            progress(
                0.6 + 0.3 * d as f32 / t.max(1) as f32,
                "embedding every photo with the new backbone",
            );
        },
    )?;
    let embed_ms = t1.elapsed().as_secs_f64() * 1000.0;

    let recording = Recording {
        id: Some(id),
        finetune: Some(FinetuneInfo {
            from_stage: settings.from_stage,
            epochs: settings.epochs,
            views: settings.views,
            images: images.len(),
            epoch_loss: tuned.epoch_loss.clone(),
            finetune_ms,
            embed_ms,
        }),
    };
    let train = train_and_record(catalog, cfg, &backbone, &recording, data, &|f, what| {
        progress(0.9 + 0.1 * f, what);
    })?;
    Ok(FinetuneReport {
        backbone,
        weights,
        n_images: images.len(),
        views: settings.views,
        n_unreadable,
        epoch_loss: tuned.epoch_loss,
        embedded: summary.embedded,
        finetune_ms,
        embed_ms,
        train,
    })
}
