//! `photosift embed` at the terminal: progress bar and summary.

use anyhow::Result;
use photosift::config::Config;
use photosift::library::Library;

use super::out::{note, say};

pub fn run(config: &Config, library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    let bar = super::progress::bar("embedding", "photos");
    let summary = photosift::pipeline::embed_missing(
        &mut catalog,
        library,
        &config.model,
        &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(format!("{:.1} photos/s", bar.per_sec()));
        },
    )?;
    bar.finish_and_clear();
    say!(
        "embedded {} of {} photos lacking an embedding ({} failed)",
        summary.embedded,
        summary.total,
        summary.failed.len()
    );
    for (id, why) in summary.failed.iter().take(20) {
        note!("  photo {}: {why}", id.0);
    }
    if summary.failed.len() > 20 {
        note!("  ... and {} more", summary.failed.len() - 20);
    }
    Ok(())
}
