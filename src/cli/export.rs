//! `photosift export` at the terminal.

use anyhow::{Context, Result};
use photosift::export::{ExportEvent, ExportOptions};
use photosift::library::Library;

/// `photosift export`: a progress bar over the copies, then the summary.
pub fn run(library: &Library, options: &ExportOptions) -> Result<()> {
    let catalog = library.open_catalog()?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
            .context("progress bar template")?,
    );
    let summary =
        photosift::export::export_picks(&catalog, library, options, &mut |event| match event {
            ExportEvent::Waiting => {
                bar.set_message("another export to this folder is running: waiting for it");
                bar.tick();
            }
            ExportEvent::Started { total } => bar.set_length(total as u64),
            ExportEvent::Exported { pick, .. } => {
                bar.set_message(photosift::show::path(&pick.pick.photo.path));
                bar.inc(1);
            }
            ExportEvent::ContactSheet { pages } => {
                bar.set_message(format!("drawing the contact sheet ({pages} pages)"));
            }
        })
        .with_context(|| format!("cannot export to {}", photosift::show::path(&options.dest)))?;
    bar.finish_and_clear();
    super::out::stdout_text(&summary.report());
    Ok(())
}
