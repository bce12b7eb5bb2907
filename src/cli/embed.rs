//! `photosift embed` at the terminal: progress bar and summary.

use anyhow::Result;
use photosift::config::Config;
use photosift::library::Library;

pub fn run(config: &Config, library: &Library) -> Result<()> {
    let mut catalog = library.open_catalog()?;
    let bar = indicatif::ProgressBar::new(0).with_style(indicatif::ProgressStyle::with_template(
        "embedding {bar:40} {pos}/{len} photos  {per_sec}  eta {eta}",
    )?);
    let summary =
        photosift::model::embed_missing(&mut catalog, library, &config.model, &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })?;
    bar.finish_and_clear();
    println!(
        "embedded {} of {} photos lacking an embedding ({} failed)",
        summary.embedded,
        summary.total,
        summary.failed.len()
    );
    for (id, why) in summary.failed.iter().take(20) {
        eprintln!("  photo {}: {why}", id.0);
    }
    if summary.failed.len() > 20 {
        eprintln!("  ... and {} more", summary.failed.len() - 20);
    }
    Ok(())
}
