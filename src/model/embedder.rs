//! Images to feature vectors: the [`Embedder`] holds the folded network on the CPU and batches
//! images by input size.

use candle_core::Device;
use image::RgbImage;

use super::{BACKBONE_ID, EfficientNetLite, ModelError, WeightsSource, preprocess};

/// Which vector an [`Embedder`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Features {
    /// [`EfficientNetLite::features`] from the aspect-kept input: the bundled backbone's photo
    /// features ([`BACKBONE_ID`]), what heads are trained on.
    Photo,
    /// [`EfficientNetLite::embed`] from the 224² input: the 1280-d pooled head output, what a
    /// fine-tuned backbone (whose head conv was trained) produces.
    Pooled,
}

impl Features {
    /// The features stored under `backbone`: the bundled backbone's photo features, or a
    /// fine-tuned version's pooled head output.
    pub fn of_backbone(backbone: &str) -> Self {
        if backbone == BACKBONE_ID { Self::Photo } else { Self::Pooled }
    }
}

/// The folded network on the CPU, turning images into embeddings.
pub struct Embedder {
    model: EfficientNetLite,
    device: Device,
    features: Features,
}

impl Embedder {
    /// The 1280-d pooled embedding ([`Features::Pooled`]) of the network in `source`.
    pub fn new(source: &WeightsSource) -> Result<Self, ModelError> {
        Self::with_features(source, Features::Pooled)
    }

    pub fn with_features(source: &WeightsSource, features: Features) -> Result<Self, ModelError> {
        let device = Device::Cpu;
        Ok(Self { model: source.load_folded(&device)?, device, features })
    }

    pub fn features(&self) -> Features {
        self.features
    }

    /// Length of the vectors [`Self::embed_images`] returns.
    pub fn dim(&self) -> usize {
        match self.features {
            Features::Photo => self.model.feature_dim(),
            Features::Pooled => self.model.config().head,
        }
    }

    pub fn model(&self) -> &EfficientNetLite {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Embeddings of images of any size, in order. Pooled: each resized whole to 224×224.
    /// Photo features: each at its [`preprocess::feature_size`], images of one size batched
    /// together.
    pub fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>, ModelError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        if self.features == Features::Pooled {
            let xs = preprocess::batch(images, &self.device)?;
            return Ok(self.model.embed(&xs)?.to_vec2()?);
        }
        let mut by_size: Vec<((u32, u32), Vec<usize>)> = Vec::new();
        for (i, img) in images.iter().enumerate() {
            let size = preprocess::feature_size(img.width(), img.height());
            match by_size.iter_mut().find(|(s, _)| *s == size) {
                Some((_, members)) => members.push(i),
                None => by_size.push((size, vec![i])),
            }
        }
        let mut out = vec![Vec::new(); images.len()];
        for (size, members) in by_size {
            let xs =
                preprocess::batch_sized(members.iter().map(|&i| &images[i]), size, &self.device)?;
            let vectors: Vec<Vec<f32>> = self.model.features(&xs)?.to_vec2()?;
            for (i, v) in members.into_iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
