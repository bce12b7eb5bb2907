//! The labeling TUI's background jobs, connected to the library: R retrains and rescores
//! (learn), G generates synthetic seed images (synth). Progress goes to the status bar.

use anyhow::{Result, bail};
use photosift::config::Config;
use photosift::ingest::examples::{add_examples, example_folders};
use photosift::jobs::{JobContext, JobFn};
use photosift::library::Library;
use photosift::synth::{SeedPhase, SeedProgress, Stage};
use photosift::tui::state::ModelSummary;
use photosift::tui::{JobOutput, Services};

use super::learn;

pub fn services(library: &Library, config: &Config) -> Services {
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
    Services { retrain: Some(retrain), seed: Some(seed) }
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
    )?;
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
