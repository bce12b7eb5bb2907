//! The session's background jobs on a real library: R retrains and rescores, G adds example
//! photos and makes seed images, `label DIR` scans and embeds a folder while the user labels.
//! The work is the pipeline's own workflows; this wraps each in a job, passes its progress to
//! the status bar (in [`super::notices`]' words) and hands back its typed report.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::app::{JobFactory, Services};
use super::notices;
use super::state::JobOutput;
use crate::config::Config;
use crate::jobs::{JobContext, JobFn};
use crate::library::Library;
use crate::pipeline::scan::scan_embed_score;
use crate::pipeline::{SessionData, retrain, seed};
use crate::synth::SynthError;

/// Progress notes with counts in them change with every photo: one every this often is plenty.
const NOTE_INTERVAL: Duration = Duration::from_millis(250);

impl Services {
    /// Retraining and seed generation on `library`; `command` is how the user calls photosift
    /// on it, for hints.
    pub fn for_library(library: &Library, config: &Config, command: &str) -> Self {
        let data = Arc::<Mutex<SessionData>>::default();
        let (lib, cfg, shared) = (library.clone(), config.clone(), data.clone());
        let retrain = Box::new(move || -> JobFn<JobOutput> {
            let (lib, cfg, data) = (lib.clone(), cfg.clone(), shared.clone());
            Box::new(move |ctx: &JobContext| {
                let progress = |f, what: &str| ctx.progress(f, what);
                let r = retrain(&lib, &cfg, cfg.train.finetune, &data, &progress)?;
                Ok(JobOutput::Trained(Box::new(r)))
            })
        });
        let (lib, cfg) = (library.clone(), config.clone());
        let seed = Box::new(move || -> JobFn<JobOutput> {
            let (lib, cfg) = (lib.clone(), cfg.clone());
            Box::new(move |ctx: &JobContext| seed_job(&lib, &cfg, ctx))
        });
        Services {
            retrain: Some(retrain),
            seed: Some(seed),
            scan: None,
            command: Some(command.to_owned()),
            data,
        }
    }
}

/// The job `photosift label DIR...` starts with the session: scan, embed, score.
pub fn scan_factory(library: &Library, config: &Config, dirs: Vec<PathBuf>) -> JobFactory {
    let (lib, cfg) = (library.clone(), config.clone());
    Box::new(move || -> JobFn<JobOutput> {
        let (lib, cfg, dirs) = (lib.clone(), cfg.clone(), dirs.clone());
        Box::new(move |ctx: &JobContext| {
            // Events come per photo; only one note every NOTE_INTERVAL is handed on.
            let last = Mutex::new(None::<Instant>);
            let on = |event: crate::pipeline::scan::ScanEvent| {
                let Ok(mut last) = last.lock() else { return };
                let fraction = event.fraction();
                if last.is_none_or(|t| t.elapsed() >= NOTE_INTERVAL) || fraction >= 1.0 {
                    *last = Some(Instant::now());
                    ctx.progress(fraction, &notices::scan_progress(&event));
                }
            };
            let report = scan_embed_score(&lib, &cfg, &dirs, &on)?;
            Ok(JobOutput::Scanned(Box::new(report)))
        })
    })
}

fn seed_job(library: &Library, config: &Config, ctx: &JobContext) -> Result<JobOutput> {
    let on = |event: seed::SeedEvent| {
        let (fraction, note) = notices::seed_progress(&event);
        ctx.progress(fraction, &note);
    };
    let report = seed::seed(library, config, &config.seed, &on, &|| ctx.is_cancelled()).map_err(
        |e| match e.chain().find_map(|c| c.downcast_ref::<SynthError>()) {
            Some(missing @ SynthError::MissingWeights(_)) => {
                anyhow::anyhow!(short_seed_error(missing))
            }
            _ => e,
        },
    )?;
    Ok(JobOutput::Seeded(Box::new(report)))
}

/// The seed error as one status line: the missing-weights message lists every file with
/// its URL over many lines, which a status bar cannot show; the first file and where the
/// full list is are enough there.
fn short_seed_error(err: &SynthError) -> String {
    match err {
        SynthError::MissingWeights(msg) => {
            let missing = msg.lines().filter(|l| l.trim_start().starts_with("https://")).count();
            let first = msg
                .lines()
                .find_map(|l| l.trim().strip_prefix("https://huggingface.co/"))
                .map(|f| f.replace("/resolve/main/", "/"))
                .unwrap_or_else(|| "?".to_owned());
            format!(
                "Stable Diffusion weights missing ({missing} files, first: {first}); \
                 `photosift seed --offline` lists them all and where to put them"
            )
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_weights_error_fits_a_status_line() {
        let msg = "the Stable Diffusion weights are not on this machine and could not be \
                   downloaded.\nMissing files:\n  https://huggingface.co/stabilityai/sd-turbo/\
                   resolve/main/unet/x.safetensors\n    (offline)\n  https://huggingface.co/a/b/\
                   resolve/main/c.json\n    (offline)\nEither run ...\n";
        let short = short_seed_error(&SynthError::MissingWeights(msg.into()));
        assert!(!short.contains('\n'), "{short}");
        assert!(
            short.contains("2 files, first: stabilityai/sd-turbo/unet/x.safetensors"),
            "{short}"
        );
        assert!(short.contains("photosift seed --offline"), "{short}");
    }
}
