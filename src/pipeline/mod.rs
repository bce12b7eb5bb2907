//! The workflows, where the library, the catalog and the computation meet: scanning (with
//! embedding and scoring), embedding, training and scoring, fine-tuning, seeding, the demo
//! library, loading the queues, the evaluation. Each is written once here and run by both the
//! command line and the TUI, which hear its typed progress and present its typed report; below
//! this layer `model`, `learn`, `synth` and `queue` compute on plain data.

pub mod backbone;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod finetune;
pub mod prompts;
pub mod queues;
pub mod scan;
pub mod seed;
pub mod session_data;
pub mod train;
pub mod zero_shot;

pub use backbone::{
    BackboneStatus, backbone_status, configured_weights, current_backbone, needs_embedding,
    require_backbone,
};
pub use embed::{
    EmbedSummary, clip_source, embed_all, embed_list, embed_missing, finetuned_weights_path,
    load_clip, load_thumb,
};
pub use finetune::{FinetuneReport, finetune_and_score};
pub use session_data::SessionData;
pub use train::{
    FinetuneInfo, Recording, Retrained, TrainReport, retrain, score_latest, train_and_record,
    train_and_score,
};
pub use zero_shot::start_from_prompts;
