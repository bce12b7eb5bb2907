//! photosift: find the photos worth printing among thousands, in a terminal, on your own machine.
//!
//! The pieces, in the order a session uses them: [`config`] and [`library`] say where things
//! live; [`imaging`] decodes photo files to pixels; [`ingest`] scans folders into the
//! [`catalog`]; [`model`] turns thumbnails into EfficientNet-Lite0 features; [`learn`] trains the p(desirable) head; [`queue`] orders the
//! ambiguous and best-first queues; [`synth`] makes seed images with Stable Diffusion;
//! [`pipeline`] runs these on the library (embed, train and score, seed, demo, load the
//! queues); [`tui`] is the labeling session; [`export`] copies the picks out for printing,
//! [`print_check`] flagging those with too few pixels. ARCHITECTURE.md draws the layers.

pub mod assets;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod export;
pub mod export_manifest;
pub mod files;
pub mod hub;
pub mod imaging;
pub mod ingest;
pub mod jobs;
pub mod learn;
pub mod library;
pub mod model;
pub mod numeric;
pub mod pipeline;
pub mod print_check;
pub mod queue;
pub mod show;
pub mod synth;
pub mod tui;
