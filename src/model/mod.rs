//! The image backbone: EfficientNet-Lite0 in candle with bundled ImageNet weights, its fast CPU
//! kernels, preprocessing, and the [`Embedder`] that turns images into feature vectors.
//!
//! Inference runs the folded network ([`EfficientNetLite::new_folded`]): BatchNorm folded into
//! the convolutions at load time, activations channels-last. Embedding runs each image through
//! `fused` (every MBConv block streamed row by row through expand → depthwise → project, 1×1
//! weights packed at load for AVX-512 / AVX2 tiles in `kernels::pointwise`); the layer-by-layer
//! path (fine-tuning's frozen trunk) runs the candle custom ops of [`kernels::channels_last`]. Fine-tuning builds the
//! network as stored ([`WeightsSource::load_trainable`]) and trains the last stages with
//! [`EfficientNetLite::forward_from`] on top of frozen [`EfficientNetLite::forward_until`]
//! features.

mod backbone_id;
pub mod clip;
pub mod efficientnet_lite;
mod embedder;
mod fused;
pub mod kernels;
pub mod preprocess;
pub mod weights;

use std::path::PathBuf;

use thiserror::Error;

pub use backbone_id::BackboneId;
pub use efficientnet_lite::{Config, EfficientNetLite, MBConv, StageConfig};
pub use embedder::{Embedder, Features};
pub use weights::WeightsSource;

/// EfficientNet-Lite0, the backbone photosift ships.
pub type Lite0 = EfficientNetLite;

/// Backbone id under which the photo features ([`EfficientNetLite::features`]) of the bundled
/// ImageNet Lite0 are stored. (Libraries from before these features hold 1280-d pooled
/// embeddings under "lite0-imagenet", and the average-pooled features under "lite0-mid-s224";
/// the next scan or `embed` computes the new ones.)
pub const BACKBONE_ID: &str = "lite0-max-s224";

/// Length of the 1280-d pooled embedding ([`EfficientNetLite::embed`], [`Features::Pooled`]).
pub const EMBEDDING_DIM: usize = 1280;

#[derive(Debug, Error)]
pub enum ModelError {
    #[error("cannot read the weights file {path}: {source}")]
    ReadWeights { path: PathBuf, source: std::io::Error },
    #[error("the weights file {path} is not usable EfficientNet-Lite0 safetensors: {source}")]
    BadWeights { path: PathBuf, source: candle_core::Error },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Deterministic test data for the kernel tests: `n` values spread evenly over `range`
/// (xorshift, so every run checks the same numbers).
#[cfg(test)]
pub(crate) fn test_values(n: usize, seed: u32, range: std::ops::Range<f32>) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            range.start + (s % 2001) as f32 / 2000.0 * (range.end - range.start)
        })
        .collect()
}
