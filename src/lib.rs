//! photosift: find the photos worth printing among thousands, in a terminal, on your own machine.
//!
//! The pieces, in the order a session uses them: [`config`] and [`library`] say where things
//! live; [`ingest`] scans folders into the [`catalog`]; [`model`] embeds thumbnails with
//! EfficientNet-Lite0; [`learn`] trains the p(desirable) head and scores; [`queue`] orders the
//! ambiguous and best-first queues; [`tui`] is the labeling session; [`synth`] makes seed images
//! with Stable Diffusion; [`export`] copies the picks out for printing, [`print_check`] flagging
//! those with too few pixels; [`demo`] builds a library from the sample photos in assets/.

pub mod backbone;
pub mod catalog;
pub mod config;
pub mod demo;
pub mod export;
pub mod font;
pub mod ingest;
pub mod jobs;
pub mod learn;
pub mod library;
pub mod model;
pub mod print_check;
pub mod queue;
pub mod show;
pub mod synth;
pub mod tui;
