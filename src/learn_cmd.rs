//! The `train`, `score` and `queue` subcommands: argument handling, progress bars and
//! printing around `photosift::learn` and `photosift::queue`.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use photosift::catalog::Catalog;
use photosift::config::Config;
use photosift::learn;
use photosift::library::Library;
use photosift::queue;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueMode {
    /// "Is this the sort of image I want?": the photos the model is least sure of.
    Ambiguous,
    /// "Is this an image I want?": the likeliest picks first, bursts together.
    Best,
}

/// The backbone to train on: the one with the most embeddings (after fine-tuning, the new
/// version once its embeddings are recomputed).
pub fn current_backbone(catalog: &Catalog) -> Result<String> {
    match catalog.embedding_backbones()?.into_iter().next() {
        Some((backbone, _)) => Ok(backbone),
        None => bail!("no photo is embedded yet: run `photosift scan DIR` first"),
    }
}

fn percent_bar() -> ProgressBar {
    let bar = ProgressBar::new(100);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos:>3}% {msg}") {
        bar.set_style(style);
    }
    bar
}

pub fn train(config: &Config, library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    let backbone = current_backbone(&catalog)?;
    let bar = percent_bar();
    let report = learn::train_and_score(&mut catalog, config, &backbone, &|f, what| {
        bar.set_position((f * 100.0) as u64);
        bar.set_message(what.to_owned());
    })?;
    bar.finish_and_clear();
    println!(
        "model {}: {} yes, {} no, {} seed images; cross-validated AUC {}",
        report.model.0,
        report.n_positive,
        report.n_negative,
        report.n_synthetic,
        report.cv_auc.map_or("- (too few labels)".to_owned(), |a| format!("{a:.3}")),
    );
    println!(
        "scored {} photos in {:.0} ms (read {:.0}, train {:.0}, score {:.0}, save {:.0})",
        report.scored,
        report.read_ms + report.train_ms + report.score_ms + report.write_ms,
        report.read_ms,
        report.train_ms,
        report.score_ms,
        report.write_ms
    );
    if report.n_unembedded > 0 {
        println!("{} labeled photos are not embedded yet and were left out", report.n_unembedded);
    }
    if let Some(note) = report.note {
        println!("note: {note}");
    }
    Ok(())
}

pub fn score(library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    match learn::score_latest(&mut catalog)? {
        Some((model, n)) => println!("scored {n} photos with model {}", model.0),
        None => bail!("no model yet: label some photos and run `photosift train`"),
    }
    Ok(())
}

/// Prints the next `n` photos of a queue, one per line: `p<TAB>path` (ambiguous) or
/// `p<TAB>group<TAB>path` (best; photos of one burst share the group number).
pub fn print_queue(config: &Config, library: &Library, mode: QueueMode, n: usize) -> Result<()> {
    let catalog = library.open_catalog()?;
    let backbone = current_backbone(&catalog).unwrap_or_default();
    let cands = catalog.candidates(&backbone)?;
    let p_of: std::collections::HashMap<_, _> = cands.iter().map(|c| (c.photo, c.p)).collect();
    let fmt_p = |p: Option<f32>| p.map_or("-".to_owned(), |p| format!("{p:.3}"));
    let path_of = |id| -> Result<String> {
        let photo = catalog.photo(id)?.context("a queued photo vanished from the catalog")?;
        Ok(photo.path.display().to_string())
    };
    match mode {
        QueueMode::Ambiguous => {
            for id in queue::ambiguous(&cands, &config.queue).into_iter().take(n) {
                println!("{}\t{}", fmt_p(p_of[&id]), path_of(id)?);
            }
        }
        QueueMode::Best => {
            for e in queue::best_first(&cands, &config.queue).into_iter().take(n) {
                println!("{}\t{}\t{}", fmt_p(p_of[&e.photo]), e.group, path_of(e.photo)?);
            }
        }
    }
    Ok(())
}
