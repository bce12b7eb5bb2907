//! The workflows that touch files and the catalog: embedding the photos, training and
//! scoring, fine-tuning, generating seed images, building the demo library, loading the
//! queues, and the labeling session's background jobs. Below this layer, `model`, `learn`,
//! `synth` and `queue` compute on plain data; above it, `cli` and `tui` only present.

pub mod backbone;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod finetune;
pub mod queues;
pub mod seed;
pub mod session;
pub mod train;

pub use backbone::{current_backbone, require_backbone};
pub use embed::{EmbedSummary, embed_list, embed_missing, finetuned_weights_path, load_thumb};
pub use finetune::{FinetuneReport, finetune_and_score};
pub use train::{
    FinetuneInfo, Recording, TrainReport, score_latest, train_and_record, train_and_score,
};
