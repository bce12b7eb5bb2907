//! `photosift embed` at the terminal: progress bar and summary.

use anyhow::Result;
use photosift::config::Config;
use photosift::library::Library;

use super::out::{note, say};

pub fn run(config: &Config, library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    let bar = super::progress::bar("embedding", "photos");
    let summary = photosift::pipeline::embed_all(
        &mut catalog,
        library,
        config,
        "photosift embed",
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
    let mut data = photosift::pipeline::SessionData::default();
    if let Some(report) = photosift::pipeline::start_from_prompts(&mut catalog, config, &mut data)?
    {
        say!(
            "no answers yet: {} photos ranked by the prompts (model v{})",
            report.scored,
            report.model.0
        );
    }
    Ok(())
}
