//! `photosift seed` at the terminal: the plan (`--dry-run`), a progress bar with ETA, then what
//! the seed workflow added, generated and embedded.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use photosift::config::{Config, SeedConfig};
use photosift::library::Library;
use photosift::pipeline::seed::{self, SeedEvent, SeedPhase, SeedReport};
use photosift::show;
use photosift::synth::Stage;

use super::out::{note, say};

pub fn run(library: &Library, config: &Config, seed_cfg: &SeedConfig, dry_run: bool) -> Result<()> {
    if dry_run {
        return print_plan(library, seed_cfg);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on = |event: SeedEvent| match event {
        SeedEvent::Examples { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message("example photos");
        }
        SeedEvent::Generating(p) => {
            bar.set_length(p.total as u64);
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
                    bar.set_message(format!(
                        "images: \"{}\" #{index}: {stage}{eta}",
                        show::text(&prompt)
                    ));
                }
                SeedPhase::Saved { .. } => bar.set_message(format!("images{eta}")),
            }
        }
        SeedEvent::Embedding { done, total } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message("embedding the seed photos");
        }
    };
    let report = seed::seed(library, config, seed_cfg, &on, &|| false)?;
    bar.finish_and_clear();
    print_report(library, &report);
    Ok(())
}

fn print_report(library: &Library, report: &SeedReport) {
    if let Some(e) = &report.examples {
        for folder in &e.missing_folders {
            note!("example folder {} does not exist; skipped", show::path(folder));
        }
        for (path, why) in &e.failed {
            note!("example photo {} skipped: {}", show::path(path), show::text(why));
        }
        say!(
            "example photos: {} added, {} already there, {} unreadable",
            e.added,
            e.existing,
            e.failed.len()
        );
    }
    if let Some(s) = &report.generated {
        say!(
            "seed images: {} generated, {} already there{}, {} planned; in {}",
            s.generated,
            s.existing,
            if s.recovered > 0 {
                format!(", {} recovered from an interrupted run", s.recovered)
            } else {
                String::new()
            },
            s.planned,
            format_duration(s.elapsed),
        );
        say!("they are in {}", show::path(&library.synthetic_dir()));
    }
    let embedded = &report.embedded;
    say!(
        "embedded {} of {} photos lacking an embedding ({} failed)",
        embedded.embedded,
        embedded.total,
        embedded.failed.len()
    );
}

/// `--dry-run`: the example folders, every planned image (there or to generate), and the
/// weight files that are missing.
fn print_plan(library: &Library, seed_cfg: &SeedConfig) -> Result<()> {
    let outline = seed::plan(library, seed_cfg)?;
    for (wanted, folder) in &outline.examples {
        let list = if *wanted { "examples_want" } else { "examples_dont_want" };
        say!("{:12} {list:18} {}", "examples", show::path(folder));
    }
    for image in &outline.images {
        let state = if image.exists { "exists" } else { "to generate" };
        let list = if image.plan.wanted { "want" } else { "dont_want" };
        say!(
            "{state:12} {list:9} #{} \"{}\"  {}",
            image.plan.index,
            show::text(&image.plan.prompt),
            show::path(&image.path)
        );
    }
    if outline.missing_weights.is_empty() {
        say!(
            "weights: all {} files of {} are on this machine",
            outline.weight_files,
            show::text(&seed_cfg.model)
        );
        return Ok(());
    }
    say!(
        "weights: {} of {} files are missing{}:",
        outline.missing_weights.len(),
        outline.weight_files,
        if seed_cfg.download { " (they will be downloaded on the first run)" } else { "" }
    );
    for (file, local) in &outline.missing_weights {
        say!("  {}  ->  {}", show::text(&file.url()), show::path(local));
    }
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
