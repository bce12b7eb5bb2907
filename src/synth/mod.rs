//! Synthetic seed images: Stable Diffusion (sd-turbo by default) in candle, run from the
//! `[seed]` prompts, written to the library's `synthetic/` folder and the catalog.
//!
//! [`plan`] says which images `[seed]` asks for; `pipeline::seed` (the layer above) generates
//! and catalogs them for `photosift seed` and the TUI's G key. The networks: CLIP's text encoder
//! ([`crate::model::clip::ClipTextEncoder`], the text tower of the CLIP backbone too), candle-transformers' UNet and VAE,
//! [`taesd`] (the fast decoder); the sampler is [`scheduler`]; [`loader`] finds the weights in
//! a [`diffusers`] folder or through [`crate::hub`]; [`tiny`] builds test-sized models with random
//! weights for plumbing tests.

pub mod diffusers;
pub mod loader;
pub mod models;
pub mod pipeline;
pub mod plan;
pub mod scheduler;
pub mod taesd;
pub mod tiny;

pub use models::{DecoderKind, SdArch, SdModel, WeightNames};
pub use pipeline::{GenerateParams, Pipeline, Stage};
pub use plan::{SeedPlan, params_for, plan_seeds};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SynthError {
    #[error("{0}")]
    MissingWeights(String),
    #[error("cannot load weights: {0}")]
    Weights(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

impl From<crate::model::clip::tokenizer::TokenizerError> for SynthError {
    fn from(e: crate::model::clip::tokenizer::TokenizerError) -> Self {
        SynthError::Tokenizer(e.0)
    }
}
