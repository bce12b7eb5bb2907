//! The integration tests, as one binary: photosift, candle, libheif and libjpeg-turbo are
//! linked once instead of once per test file. Each module is one former test file, named
//! after what it tests; `cargo test --release --test it MODULE` runs one of them.
//!
//! Shared helpers: `common` (a library of generated photos for the TUI), `fixtures` (scan
//! fixtures: one environment, EXIF bytes), `encode` (the image encoders), `hostile` (the
//! hostile-input corpus), `phone_library` (a phone's folder: HEIC, DNG, Live Photos, Takeout),
//! `rule_images` (pictures a rule labels), `tmux` (the real binary in a terminal), `process`
//! (signals), `tools` (tests that need a tool skip on a laptop and fail under CI).

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

mod common;
mod encode;
mod fixtures;
mod hostile;
mod phone_library;
mod process;
mod rule_images;
mod tmux;
mod tools;

mod clip_parity;
mod demo;
mod eval_cli;
mod export;
mod export_cli;
mod finetune;
mod harden_cli;
mod harden_export;
mod harden_faults;
mod harden_hostile;
mod harden_kill;
mod harden_originals;
mod harden_output;
mod harden_scan;
mod layering;
mod model_depthwise;
mod model_embed;
mod model_features;
mod model_parity;
mod scan;
mod scan_bad_input;
mod scan_phone;
mod seed_cli;
mod seed_parity;
mod seed_plumbing;
mod term_graphics;
mod tui_app;
mod tui_culling;
mod tui_e2e;
mod tui_screens;
mod tui_session;
mod tui_update;

/// An empty Hugging Face cache for the whole test binary, so that a developer's real one
/// never answers a lookup that must fail. Set once: tests run on several threads, and
/// `set_var` while another thread reads the environment is undefined behaviour.
pub fn empty_hf_home() {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        // SAFETY: the first call sets it, under the OnceLock, before any test reads it;
        // nothing else in this binary writes the environment.
        unsafe { std::env::set_var("HF_HOME", dir.path().join("hf")) };
        dir
    });
}
