//! `photosift seed` at the terminal: the plan, a progress bar with ETA, the summary, then the
//! new images embedded.

use anyhow::Result;
use photosift::config::Config;
use photosift::ingest::examples::add_examples;
use photosift::library::Library;
use photosift::show;

use super::out::{note, say};

pub fn run(
    library: &Library,
    config: &Config,
    seed: &photosift::config::SeedConfig,
    dry_run: bool,
) -> Result<()> {
    use anyhow::bail;
    use photosift::ingest::examples::example_folders;
    use photosift::pipeline::seed::{SeedPhase, SeedProgress, generate_seeds};
    use photosift::synth::{Stage, plan_seeds};

    let plans = plan_seeds(seed)?;
    let folders = example_folders(seed);
    if plans.is_empty() && folders.is_empty() {
        bail!(
            "no seed prompts and no example photos: add them to the [seed] section of your \
             config.toml, e.g.\n  \
             [seed]\n  want = [\"two friends on a mountain\", \"hummingbird on a flower\"]\n  \
             dont_want = [\"blurry screenshot of a receipt\"]\n  \
             examples_want = [\"~/Pictures/printed\"]"
        );
    }
    if dry_run {
        for (wanted, folder) in &folders {
            let list = if *wanted { "examples_want" } else { "examples_dont_want" };
            say!("{:12} {list:18} {}", "examples", show::path(folder));
        }
        for p in &plans {
            let path = library.synthetic_dir().join(&p.file_name);
            let state = if path.is_file() { "exists" } else { "to generate" };
            let list = if p.wanted { "want" } else { "dont_want" };
            say!(
                "{state:12} {list:9} #{} \"{}\"  {}",
                p.index,
                show::text(&p.prompt),
                show::path(&path)
            );
        }
        print_weights(library, seed)?;
        return Ok(());
    }
    let mut catalog = library.open_catalog()?;
    if !folders.is_empty() {
        add_example_photos(&mut catalog, library, config)?;
    }
    if plans.is_empty() {
        return super::embed::run(config, library);
    }
    let bar = indicatif::ProgressBar::new(plans.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |p: SeedProgress| {
        bar.set_position(p.done as u64);
        let eta = p.eta.map(|d| format!(" | ETA {}", format_duration(d))).unwrap_or_default();
        match p.phase {
            SeedPhase::Loading(msg) => bar.set_message(msg),
            SeedPhase::Generating { prompt, index, stage, .. } => {
                let stage = match stage {
                    Stage::TextEncoder => "text encoder".to_string(),
                    Stage::Denoise { step, steps } => format!("denoising {}/{steps}", step + 1),
                    Stage::Decode => "decoding".to_string(),
                };
                bar.set_message(format!("\"{}\" #{index}: {stage}{eta}", show::text(&prompt)));
            }
            SeedPhase::Saved { .. } => bar.set_message(eta),
        }
    };
    let summary = generate_seeds(&mut catalog, library, seed, &progress, &|| false)?;
    bar.finish_and_clear();
    say!(
        "seed images: {} generated, {} already there{}, {} planned; in {}",
        summary.generated,
        summary.existing,
        if summary.recovered > 0 {
            format!(", {} recovered from an interrupted run", summary.recovered)
        } else {
            String::new()
        },
        summary.planned,
        format_duration(summary.elapsed),
    );
    say!("they are in {}", show::path(&library.synthetic_dir()));
    // Training reads embeddings: embed the new images now, as a scan does.
    super::embed::run(config, library)
}

/// Adds the `[seed] examples_*` folders' photos, with a progress bar and a summary.
fn add_example_photos(
    catalog: &mut photosift::catalog::Catalog,
    library: &Library,
    config: &Config,
) -> Result<()> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} example photos")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let s = add_examples(catalog, library, &config.seed, &config.scan, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    for folder in &s.missing_folders {
        note!("example folder {} does not exist; skipped", show::path(folder));
    }
    for (path, why) in &s.failed {
        note!("example photo {} skipped: {}", show::path(path), show::text(why));
    }
    say!(
        "example photos: {} added, {} already there, {} unreadable",
        s.added,
        s.existing,
        s.failed.len()
    );
    Ok(())
}

fn format_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The dry run's word on the Stable Diffusion weights: on this machine, or what is missing.
fn print_weights(library: &Library, seed: &photosift::config::SeedConfig) -> Result<()> {
    use photosift::synth::{DecoderKind, SdModel, hub};
    let model = SdModel::parse(&seed.model)?;
    let decoder = DecoderKind::parse(&seed.decoder)?;
    let local_dir = photosift::pipeline::seed::weights_dir(library, seed);
    let files = model.files(decoder, &photosift::synth::loader::weight_names(model, seed));
    let missing: Vec<_> =
        files.all().into_iter().filter(|f| hub::locate(f, &local_dir).is_none()).collect();
    if missing.is_empty() {
        say!("weights: all {} files of {} are on this machine", files.all().len(), seed.model);
        return Ok(());
    }
    say!(
        "weights: {} of {} files are missing{}:",
        missing.len(),
        files.all().len(),
        if seed.download { " (they will be downloaded on the first run)" } else { "" }
    );
    for f in missing {
        say!("  {}  ->  {}", f.url(), show::path(&f.local_path(&local_dir)));
    }
    Ok(())
}
