//! The labeling TUI's background jobs, connected to the library: R retrains and rescores
//! (learn), G generates synthetic seed images (synth), `label DIR` scans and embeds a folder
//! while the user labels (ingest, model). Progress goes to the status bar.

use std::cell::Cell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use photosift::config::Config;
use photosift::ingest::examples::{add_examples, example_folders};
use photosift::ingest::{ScanPhase, ScanProgress};
use photosift::jobs::{JobContext, JobFn};
use photosift::library::Library;
use photosift::synth::{SeedPhase, SeedProgress, Stage, SynthError};
use photosift::tui::state::ModelSummary;
use photosift::tui::{JobFactory, JobOutput, Services};

use super::learn;

/// Progress notes with counts in them change with every photo: one every this often is plenty.
const NOTE_INTERVAL: Duration = Duration::from_millis(250);

/// Share of the scan job's progress bar that reading and thumbnailing takes (embedding the
/// rest): thumbnailing a phone photo costs about twice what embedding its thumbnail does.
const READ_SHARE: f32 = 0.65;

pub fn services(library: &Library, config: &Config, command: &str) -> Services {
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

/// The job `photosift label DIR...` starts with the session: scan, embed, score.
pub fn scan_factory(library: &Library, config: &Config, dirs: Vec<PathBuf>) -> JobFactory {
    let (lib, cfg) = (library.clone(), config.clone());
    Box::new(move || -> JobFn<JobOutput> {
        let (lib, cfg, dirs) = (lib.clone(), cfg.clone(), dirs.clone());
        Box::new(move |ctx: &JobContext| scan(&lib, &cfg, &dirs, ctx))
    })
}

/// Scans `dirs` (the photos land in the catalog in batches, and the session's queues pick
/// them up as they do), embeds the new photos and scores them with the current model.
fn scan(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    ctx: &JobContext,
) -> Result<JobOutput> {
    // The scan keeps every core busy for minutes: below the session's own short jobs (queue
    // rebuilds, previews), or the first photos wait behind it. Its worker threads are made
    // from this thread, so they inherit the priority.
    lowest_thread_priority();
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("scan-{i}"))
        .build()
        .context("cannot start the scan threads")?;
    pool.install(|| scan_in_pool(library, config, dirs, ctx))
}

/// The lowest CPU priority for the calling thread (Linux thread nice 19; best effort).
fn lowest_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: two system calls about the calling thread; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

fn scan_in_pool(
    library: &Library,
    config: &Config,
    dirs: &[PathBuf],
    ctx: &JobContext,
) -> Result<JobOutput> {
    let mut catalog = library.open_catalog()?;
    let last = Cell::new(None::<Instant>);
    let report = |fraction: f32, note: String| {
        if last.get().is_none_or(|t| t.elapsed() >= NOTE_INTERVAL) || fraction >= 1.0 {
            last.set(Some(Instant::now()));
            ctx.progress(fraction, &note);
        }
    };
    let on_scan = |p: &ScanProgress| match p.phase {
        ScanPhase::Walking => report(0.0, format!("listing folders: {} files", p.done)),
        ScanPhase::Reading => report(
            READ_SHARE * p.done as f32 / p.total.max(1) as f32,
            format!("reading {}/{} photos", p.done, p.total),
        ),
    };
    let summary = photosift::ingest::scan(&mut catalog, library, dirs, &config.scan, &on_scan)?;
    let embedded = if config.scan.embed {
        photosift::model::embed_missing(&mut catalog, library, &config.model, &|d, t| {
            let f = READ_SHARE + (1.0 - READ_SHARE) * d as f32 / t.max(1) as f32;
            report(f, format!("embedding {d}/{t} photos"))
        })?
        .embedded
    } else {
        0
    };
    let scored = match photosift::learn::score_latest(&mut catalog)? {
        Some((model, n)) => format!(", scored with model v{} ({n})", model.0),
        None => String::new(),
    };
    Ok(JobOutput::Scanned(format!(
        "scan done: {} new, {} unchanged, {} failed, {} missing; {embedded} embedded{scored}",
        summary.new, summary.unchanged, summary.failed, summary.missing
    )))
}

fn retrain(library: &Library, config: &Config, ctx: &JobContext) -> Result<JobOutput> {
    let mut catalog = library.open_catalog()?;
    let progress = |f: f32, what: &str| ctx.progress(f, what);
    let r = if config.train.finetune {
        photosift::learn::finetune_and_score(&mut catalog, library, config, &progress)?.train
    } else {
        let backbone = learn::current_backbone(&catalog)?;
        photosift::learn::train_and_score(&mut catalog, config, backbone.as_str(), &progress)?
    };
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
    let has_prompts = !photosift::synth::plan_seeds(&config.seed).is_empty();
    let has_examples = !example_folders(&config.seed).is_empty();
    if !has_prompts && !has_examples {
        bail!(
            "no seed prompts and no example photos: add `want` / `dont_want` prompts or \
             `examples_want` / `examples_dont_want` folders to [seed] in config.toml"
        );
    }
    let mut catalog = library.open_catalog()?;
    let mut said = Vec::new();
    if has_examples {
        let e = add_examples(&mut catalog, library, &config.seed, &config.scan, &|d, t| {
            ctx.progress(d as f32 / t.max(1) as f32, &format!("example photos {d}/{t}"))
        })?;
        said.push(format!(
            "example photos: {} added, {} already there, {} unreadable",
            e.added,
            e.existing,
            e.failed.len()
        ));
    }
    if !has_prompts {
        embed_seeds(&mut catalog, library, config, ctx)?;
        return Ok(JobOutput::Seeded(format!("{}; press R to train with them", said.join("; "))));
    }
    let progress = |p: SeedProgress| {
        let note = match p.phase {
            SeedPhase::Loading(msg) => msg,
            SeedPhase::Generating { prompt, stage, .. } => match stage {
                Stage::TextEncoder => format!("{prompt:?}: text encoder"),
                Stage::Denoise { step, steps } => format!("{prompt:?}: step {}/{steps}", step + 1),
                Stage::Decode => format!("{prompt:?}: decoding"),
            },
            SeedPhase::Saved { .. } => format!("{}/{} images", p.done, p.total),
        };
        ctx.progress(p.done as f32 / p.total.max(1) as f32, &note);
    };
    let s = photosift::synth::generate_seeds(
        &mut catalog,
        library,
        &config.seed,
        &progress,
        ctx.cancel_flag(),
    )
    .map_err(|e| match e.chain().find_map(|c| c.downcast_ref::<SynthError>()) {
        Some(missing @ SynthError::MissingWeights(_)) => {
            anyhow::anyhow!(short_seed_error(missing))
        }
        _ => e,
    })?;
    embed_seeds(&mut catalog, library, config, ctx)?;
    said.push(format!(
        "seed images: {} generated, {} already there, {} planned{}",
        s.generated,
        s.existing,
        s.planned,
        if s.cancelled { " (stopped)" } else { "" }
    ));
    Ok(JobOutput::Seeded(format!("{}; press R to train with them", said.join("; "))))
}

/// Training reads embeddings: embeds the new seed photos before saying they are ready.
fn embed_seeds(
    catalog: &mut photosift::catalog::Catalog,
    library: &Library,
    config: &Config,
    ctx: &JobContext,
) -> Result<()> {
    let embedded = photosift::model::embed_missing(catalog, library, &config.model, &|d, t| {
        ctx.progress(d as f32 / t.max(1) as f32, &format!("embedding seed images {d}/{t}"))
    })?;
    tracing::debug!(embedded = embedded.embedded, "seed images embedded");
    Ok(())
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
