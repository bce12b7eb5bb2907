//! The embedding pass over the catalog: every photo still lacking an embedding of the current
//! backbone (and of a fine-tuned one the latest model reads, and of CLIP when `[embed]
//! backbone = "clip-b32"`) is embedded from its thumbnail, in batches that each commit on their
//! own: a killed pass loses at most one batch and the next one resumes where it stopped.

use std::path::{Path, PathBuf};

use anyhow::Context;
use image::RgbImage;
use rayon::prelude::*;

use crate::catalog::Catalog;

use crate::config::{Backbone, Config, EmbedConfig, ModelConfig};
use crate::domain::PhotoId;
use crate::library::Library;
use crate::model::clip::CLIP_B32_BACKBONE_ID;
use crate::model::clip::load::{Clip, ClipSource};
use crate::model::{BACKBONE_ID, Embedder, Features, ModelError, WeightsSource};

/// A network that turns thumbnails into the vectors stored under one backbone id.
pub trait ImageEmbedder {
    fn embed(&self, images: &[RgbImage]) -> anyhow::Result<Vec<Vec<f32>>>;
}

impl ImageEmbedder for Embedder {
    fn embed(&self, images: &[RgbImage]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(self.embed_images(images)?)
    }
}

impl ImageEmbedder for Clip {
    fn embed(&self, images: &[RgbImage]) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(self.embed_images(images)?)
    }
}

/// `[embed]`'s CLIP source.
pub fn clip_source(cfg: &EmbedConfig) -> ClipSource {
    ClipSource {
        repo: cfg.clip_repo.trim().to_string(),
        revision: cfg.clip_revision.trim().to_string(),
        weights_dir: cfg.weights_dir.clone(),
        download: cfg.download,
    }
}

/// Loads CLIP as `[embed]` says (downloading it if allowed and needed); the error says how to
/// get the weights, naming `command`.
pub fn load_clip(cfg: &EmbedConfig, command: &str) -> anyhow::Result<Clip> {
    let source = clip_source(cfg);
    let files = crate::model::clip::load::locate(&source, command, &|f| {
        tracing::info!("downloading {} (CLIP, once)", f.url());
    })?;
    Clip::load(&files).with_context(|| format!("loading CLIP from {}", files.weights.display()))
}

/// [`embed_missing`], then, with `[embed] backbone = "clip-b32"`, every photo still lacking
/// its CLIP embedding: the background re-embedding of a switch, resumed by every pass until it
/// is complete (the queues switch then: [`super::backbone::current_backbone`]). The bundled
/// features stay up to date meanwhile, so labeling goes on with them. `command` is named in the
/// message when CLIP's weights are missing.
pub fn embed_all(
    catalog: &mut Catalog,
    library: &Library,
    config: &Config,
    command: &str,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<EmbedSummary> {
    let mut summary = embed_missing(catalog, library, &config.model, progress)?;
    if config.embed.backbone == Backbone::ClipB32 {
        let todo = catalog
            .photos_missing_embedding(CLIP_B32_BACKBONE_ID)
            .context("cannot list photos to embed with CLIP")?;
        progress(0, todo.len());
        if !todo.is_empty() {
            let clip = load_clip(&config.embed, command)?;
            let batch = config.model.batch_size;
            let part =
                embed_list(catalog, library, CLIP_B32_BACKBONE_ID, &clip, &todo, batch, progress)?;
            summary.total += part.total;
            summary.embedded += part.embedded;
            summary.failed.extend(part.failed);
        }
    }
    Ok(summary)
}

/// What [`embed_missing`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EmbedSummary {
    /// Photos that lacked an embedding when the pass started.
    pub total: usize,
    pub embedded: usize,
    /// Photos left without an embedding, and why.
    pub failed: Vec<(PhotoId, String)>,
}

/// A photo's thumbnail (relative to the library `root`), or why it cannot be read.
pub fn load_thumb(root: &Path, thumb: Option<&PathBuf>) -> Result<RgbImage, String> {
    let Some(rel) = thumb else {
        return Err("no thumbnail was made for it; run `photosift scan` again".into());
    };
    let path = root.join(rel);
    if !path.is_file() {
        return Err(format!(
            "its thumbnail {} is missing; run `photosift scan` again to re-make it",
            path.display()
        ));
    }
    image::open(&path)
        .map(|img| img.to_rgb8())
        .map_err(|e| format!("cannot read its thumbnail {}: {e}", path.display()))
}

/// Embeds, from their thumbnails, every ok photo that lacks an embedding of the current
/// backbone: batches of `cfg.batch_size`, each stored in one transaction (a killed run resumes
/// where it stopped; memory stays flat whatever the number of photos). Photos whose thumbnail
/// is missing or unreadable are reported in the summary, not fatal. When the latest model
/// reads a fine-tuned backbone (`photosift train --finetune`), new photos get its embeddings
/// too, so they are scored by that model.
pub fn embed_missing(
    catalog: &mut Catalog,
    library: &Library,
    cfg: &ModelConfig,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<EmbedSummary> {
    let mut summary = EmbedSummary::default();
    let mut backbones = vec![(BACKBONE_ID.to_owned(), WeightsSource::from_config(&cfg.weights))];
    if let Some(latest) = catalog.latest_model().context("cannot read the latest model")? {
        let path = finetuned_weights_path(library, &latest.backbone);
        if latest.backbone != BACKBONE_ID && path.is_file() {
            backbones.push((latest.backbone, WeightsSource::File(path)));
        }
    }
    for (backbone, source) in backbones {
        let todo =
            catalog.photos_missing_embedding(&backbone).context("cannot list photos to embed")?;
        progress(0, todo.len());
        if todo.is_empty() {
            continue;
        }
        let embedder = Embedder::with_features(&source, Features::of_backbone(&backbone))?;
        let part =
            embed_list(catalog, library, &backbone, &embedder, &todo, cfg.batch_size, progress)?;
        summary.total += part.total;
        summary.embedded += part.embedded;
        summary.failed.extend(part.failed);
    }
    Ok(summary)
}

/// The embedder of the bundled backbone's photo features ([`BACKBONE_ID`]), with the weights
/// `[model] weights` names (the bundled ones when empty).
pub fn photo_embedder(cfg: &ModelConfig) -> Result<Embedder, ModelError> {
    Embedder::with_features(&WeightsSource::from_config(&cfg.weights), Features::Photo)
}

/// Where the weights of a fine-tuned backbone version live: `<library>/models/<backbone>.safetensors`.
pub fn finetuned_weights_path(library: &Library, backbone: &str) -> PathBuf {
    library.models_dir().join(format!("{backbone}.safetensors"))
}

/// Embeds the photos of `todo` (id, thumbnail) with `embedder`, storing them under `backbone`
/// in transactions of `batch_size`.
pub fn embed_list(
    catalog: &mut Catalog,
    library: &Library,
    backbone: &str,
    embedder: &dyn ImageEmbedder,
    todo: &[(PhotoId, Option<PathBuf>)],
    batch_size: usize,
    progress: &dyn Fn(usize, usize),
) -> anyhow::Result<EmbedSummary> {
    let mut summary = EmbedSummary { total: todo.len(), ..Default::default() };
    progress(0, summary.total);
    let mut done = 0;
    for chunk in todo.chunks(batch_size.max(1)) {
        let loaded: Vec<_> = chunk
            .par_iter()
            .map(|(id, thumb)| (*id, load_thumb(library.root(), thumb.as_ref())))
            .collect();
        let mut ids = Vec::with_capacity(loaded.len());
        let mut images = Vec::with_capacity(loaded.len());
        for (id, img) in loaded {
            match img {
                Ok(img) => {
                    ids.push(id);
                    images.push(img);
                }
                Err(why) => summary.failed.push((id, why)),
            }
        }
        let vectors = embedder.embed(&images).context("embedding a batch of thumbnails")?;
        let rows: Vec<_> = ids.into_iter().zip(vectors).collect();
        catalog.put_embeddings(backbone, &rows).context("cannot store embeddings")?;
        summary.embedded += rows.len();
        done += chunk.len();
        progress(done, summary.total);
    }
    Ok(summary)
}
