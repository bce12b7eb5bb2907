//! `photosift scan` and `photosift status` at the terminal: progress bar, summary, error list.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use photosift::config::Config;
use photosift::ingest::ScanSummary;
use photosift::library::Library;
use photosift::pipeline::scan::{ScanEvent, ScanReport, scan_embed_score};

use super::out::{note, say};

/// How many failures the scan summary prints before pointing at `status --errors`.
const FAILURES_SHOWN: usize = 10;

/// `photosift scan`: walks, thumbnails and records, embeds the new photos as they come
/// (unless `[scan] embed` is off) and scores them with the current model.
pub fn run(library: &Library, dirs: &[PathBuf], config: &Config) -> Result<()> {
    let bar = super::progress::bar("thumbnailing", "photos");
    let embedding = std::sync::atomic::AtomicBool::new(false);
    let on = |event: ScanEvent| match event {
        ScanEvent::Listing { entries } => {
            bar.set_message(format!("listing folders: {entries} entries"));
        }
        ScanEvent::Reading { done, total, embedded } => {
            if bar.length() != Some(total) {
                bar.set_length(total);
                bar.reset_eta();
            }
            bar.set_position(done);
            bar.set_message(format!("{:.1} photos/s, {embedded} embedded", bar.per_sec()));
        }
        ScanEvent::Embedding { done, total } => {
            if !embedding.swap(true, std::sync::atomic::Ordering::Relaxed) {
                bar.set_style(super::progress::style("embedding", "photos"));
                bar.reset_eta();
            }
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!("{:.1} photos/s", bar.per_sec()));
        }
    };
    let report = scan_embed_score(library, config, dirs, &on)
        .with_context(|| format!("scan of {} failed", join(dirs)))?;
    bar.finish_and_clear();
    print_summary(&report.scan);
    print_embedding(&report, config.scan.embed);
    Ok(())
}

fn print_embedding(report: &ScanReport, embed: bool) {
    if !embed {
        say!("not embedded ([scan] embed = false, or --no-embed): run `photosift embed` next");
        return;
    }
    say!("embedded {} photos ({} failed)", report.embedded, report.embed_failed.len());
    for (id, why) in report.embed_failed.iter().take(FAILURES_SHOWN) {
        note!("  photo {}: {}", id.0, photosift::show::text(why));
    }
    if let Some((model, n)) = report.scored {
        say!("scored {n} photos with the current model v{} (new ones included)", model.0);
    }
}

fn join(dirs: &[PathBuf]) -> String {
    dirs.iter().map(|d| show(d)).collect::<Vec<_>>().join(", ")
}

fn print_summary(s: &ScanSummary) {
    let secs = s.elapsed.as_secs_f64();
    say!(
        "scanned {} photo files in {secs:.1} s: {} thumbnailed ({:.1} photos/s), {} read",
        s.files,
        s.decoded,
        s.decoded_per_second(),
        s.files_read
    );
    say!(
        "  new {}  unchanged {}  moved {}  duplicates {}  changed {}  restored {}  missing {}  \
         failed {}  unsupported {}",
        s.new,
        s.unchanged,
        s.moved,
        s.duplicates,
        s.changed,
        s.restored,
        s.missing,
        s.failed,
        s.unsupported
    );
    say!(
        "  videos {} (not read)  Live Photos {}  Takeout sidecars {}  screenshots {}  \
         capture time guessed from the file time {}",
        s.videos,
        s.live_photos,
        s.sidecars,
        s.screenshots,
        s.time_guessed
    );
    if s.unsupported > 0 {
        let by_ext: Vec<String> =
            s.unsupported_by_ext.iter().map(|(ext, n)| format!("{n} .{ext}")).collect();
        say!(
            "unsupported (not read: photosift reads JPEG, PNG, WebP, TIFF, HEIC/HEIF and RAW \
             files with an embedded preview): {}",
            by_ext.join(", ")
        );
    }
    for f in s.failures.iter().take(FAILURES_SHOWN) {
        say!("failed: {}: {}", show(&f.path), text(&f.message));
    }
    if s.failures.len() > FAILURES_SHOWN {
        say!(
            "... and {} more: `photosift status --errors` lists them all",
            s.failures.len() - FAILURES_SHOWN
        );
    }
    for issue in &s.walk_issues {
        say!("skipped: {}: {}", show(&issue.path), text(&issue.message));
    }
}

/// `[embed] backbone`, its weights, its embeddings and what the queues use, in one line.
pub fn backbone_line(b: &photosift::pipeline::BackboneStatus, command: &str) -> String {
    let weights = if b.weights_present {
        format!("weights present ({})", b.weights_where)
    } else {
        format!(
            "weights MISSING (looked in {}; `{command} embed` with network access downloads \
             them, or see [embed] weights_dir)",
            b.weights_where
        )
    };
    let using = match &b.in_use {
        Some(id) => format!("queues use {id}"),
        None => "nothing embedded yet".to_owned(),
    };
    format!(
        "backbone: {} ([embed]), {weights}; {} of {} photos embedded with it; {using}",
        b.configured.name(),
        b.embedded,
        b.photos
    )
}

/// A path for the terminal, on one line (see `photosift::show`).
fn show(path: &Path) -> String {
    photosift::show::path(path)
}

/// A message that may quote outside text (a decoder's words about a file), on one line.
fn text(message: &str) -> String {
    photosift::show::text(message)
}

pub fn status(
    library: &Library,
    config: &photosift::config::Config,
    errors: bool,
    missing: bool,
    command: &str,
) -> Result<()> {
    let catalog = library.open_catalog()?;
    // Every page, before the counts below would stumble on a damaged one.
    catalog.check()?;
    let c = catalog.photo_counts()?;
    let labels = catalog.label_counts()?;
    say!("library: {} (catalog checked: ok)", show(library.root()));
    say!(
        "photos: {} ({} ok, {} missing, {} failed; {} camera, {} synthetic), {} duplicate paths",
        c.total,
        c.ok,
        c.missing,
        c.error,
        c.camera,
        c.synthetic,
        c.duplicate_paths
    );
    say!(
        "videos: {} (counted, not read); Live Photos: {}; screenshots: {}",
        c.videos,
        c.live_photos,
        c.screenshots
    );
    say!(
        "labels: {} wanted, {} not wanted, {} skipped; {} picked for print, {} passed",
        labels.kind_yes,
        labels.kind_no,
        labels.kind_skip,
        labels.picked,
        labels.passed
    );
    let embedded: Vec<String> = catalog
        .embedding_backbones()?
        .into_iter()
        .map(|(backbone, n)| format!("{n} ({backbone})"))
        .collect();
    say!(
        "embeddings: {}",
        if embedded.is_empty() { "none yet".to_owned() } else { embedded.join(", ") }
    );
    let b = photosift::pipeline::backbone_status(&catalog, config)?;
    say!("{}", backbone_line(&b, command));
    match catalog.latest_model()? {
        Some(m) => say!(
            "model: v{} ({}, {} wanted / {} not wanted labels{}){}",
            m.id.0,
            m.kind,
            m.n_positive,
            m.n_negative,
            m.cv_auc.map(|a| format!(", cross-validated AUC {a:.2}")).unwrap_or_default(),
            if catalog.models()?.len() > 1 {
                format!("; {} versions", catalog.models()?.len())
            } else {
                String::new()
            }
        ),
        None => say!("model: none yet (label some photos, then `{command} train` or R)"),
    }
    if errors {
        let failed = catalog.failed_photos()?;
        if failed.is_empty() {
            say!("no failed files");
        }
        for p in failed {
            say!("{}: {}", show(&p.path), text(p.error.as_deref().unwrap_or("unknown error")));
        }
    } else if c.error > 0 {
        say!("`{command} status --errors` lists the failed files and why");
    }
    if missing {
        let gone = catalog.missing_photos()?;
        if gone.is_empty() {
            say!("no missing originals");
        }
        for p in gone {
            say!("missing: {}", show(&p.path));
        }
    } else if c.missing > 0 {
        say!(
            "`{command} status --missing` lists the photos whose original file is gone \
             (a scan finds them again if they come back)"
        );
    }
    Ok(())
}
