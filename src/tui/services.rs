//! The session's background jobs on a real library: R retrains and rescores, G makes seed
//! images, `label DIR` scans and embeds a folder while the user labels. The work is
//! `pipeline::session`'s; this wraps it in jobs and words its results for the status bar.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;

use super::app::{JobFactory, Services};
use super::state::JobOutput;
use crate::config::Config;
use crate::jobs::{JobContext, JobFn};
use crate::library::Library;
use crate::pipeline::queues::ModelSummary;
use crate::pipeline::session::{self, SeedJobReport};
use crate::synth::SynthError;

/// Progress notes with counts in them change with every photo: one every this often is plenty.
const NOTE_INTERVAL: Duration = Duration::from_millis(250);

impl Services {
    /// Retraining and seed generation on `library`; `command` is how the user calls photosift
    /// on it, for hints.
    pub fn for_library(library: &Library, config: &Config, command: &str) -> Self {
        let (lib, cfg) = (library.clone(), config.clone());
        let retrain = Box::new(move || -> JobFn<JobOutput> {
            let (lib, cfg) = (lib.clone(), cfg.clone());
            Box::new(move |ctx: &JobContext| retrain(&lib, &cfg, ctx))
        });
        let (lib, cfg) = (library.clone(), config.clone());
        let seed = Box::new(move || -> JobFn<JobOutput> {
            let (lib, cfg) = (lib.clone(), cfg.clone());
            Box::new(move |ctx: &JobContext| seed(&lib, &cfg, ctx))
        });
        Services {
            retrain: Some(retrain),
            seed: Some(seed),
            scan: None,
            command: Some(command.to_owned()),
        }
    }
}

/// The job `photosift label DIR...` starts with the session: scan, embed, score.
pub fn scan_factory(library: &Library, config: &Config, dirs: Vec<PathBuf>) -> JobFactory {
    let (lib, cfg) = (library.clone(), config.clone());
    Box::new(move || -> JobFn<JobOutput> {
        let (lib, cfg, dirs) = (lib.clone(), cfg.clone(), dirs.clone());
        Box::new(move |ctx: &JobContext| scan(&lib, &cfg, &dirs, ctx))
    })
}

fn scan(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    ctx: &JobContext,
) -> Result<JobOutput> {
    // Notes are made per photo; only one every NOTE_INTERVAL is handed on.
    let last = Mutex::new(None::<Instant>);
    let report = |fraction: f32, note: String| {
        let Ok(mut last) = last.lock() else { return };
        if last.is_none_or(|t| t.elapsed() >= NOTE_INTERVAL) || fraction >= 1.0 {
            *last = Some(Instant::now());
            ctx.progress(fraction, &note);
        }
    };
    let r = session::scan_embed_score(library, config, dirs, &report)?;
    let scored = match r.scored {
        Some((model, n)) => format!(", scored with model v{} ({n})", model.0),
        None => String::new(),
    };
    Ok(JobOutput::Scanned(format!(
        "scan done: {} new, {} unchanged, {} failed, {} missing; {} embedded{scored}",
        r.scan.new, r.scan.unchanged, r.scan.failed, r.scan.missing, r.embedded
    )))
}

fn retrain(library: &Library, config: &Config, ctx: &JobContext) -> Result<JobOutput> {
    let r = session::retrain(library, config, &|f, what| ctx.progress(f, what))?;
    let auc = r.cv_auc.map_or("AUC – (too few labels)".to_owned(), |a| format!("AUC {a:.2}"));
    let note = r.note.map(|n| format!(" ({n})")).unwrap_or_default();
    Ok(JobOutput::Trained {
        summary: format!(
            "model v{}: {} yes, {} no, {} seed images, {auc}; {} photos rescored{note}",
            r.model.0, r.n_positive, r.n_negative, r.n_synthetic, r.scored
        ),
        model: Some(ModelSummary { version: r.model.0, auc: r.cv_auc }),
    })
}

fn seed(library: &Library, config: &Config, ctx: &JobContext) -> Result<JobOutput> {
    let report =
        session::seed(library, config, &|f, what| ctx.progress(f, what), &|| ctx.is_cancelled())
            .map_err(|e| match e.chain().find_map(|c| c.downcast_ref::<SynthError>()) {
                Some(missing @ SynthError::MissingWeights(_)) => {
                    anyhow::anyhow!(short_seed_error(missing))
                }
                _ => e,
            })?;
    Ok(JobOutput::Seeded(seed_summary(&report)))
}

fn seed_summary(report: &SeedJobReport) -> String {
    let mut said = Vec::new();
    if let Some(e) = &report.examples {
        said.push(format!(
            "example photos: {} added, {} already there, {} unreadable",
            e.added,
            e.existing,
            e.failed.len()
        ));
    }
    if let Some(s) = &report.generated {
        said.push(format!(
            "seed images: {} generated, {} already there, {} planned{}",
            s.generated,
            s.existing,
            s.planned,
            if s.cancelled { " (stopped)" } else { "" }
        ));
    }
    format!("{}; press R to train with them", said.join("; "))
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
