//! `photosift demo` at the terminal, up to opening the TUI.

use anyhow::{Context, Result};
use photosift::config::Config;
use photosift::library::Library;

use super::out::say;

/// `photosift demo` up to the TUI: one progress line per stage, then what was built.
pub fn run(library: &Library, config: &Config) -> Result<()> {
    use photosift::pipeline::demo::DemoProgress;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:24} {bar:30} {pos}/{len}")
            .context("progress bar template")?,
    );
    let summary = photosift::pipeline::demo::build(library, config, &|p| match p {
        DemoProgress::WritingPhotos => bar.set_message("writing the demo photos"),
        DemoProgress::Scanning(s) => {
            bar.set_message("scanning");
            bar.set_length(s.total);
            bar.set_position(s.done);
        }
        DemoProgress::Embedding { done, total } => {
            bar.set_message("embedding (Lite0)");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        DemoProgress::Labeling => bar.set_message("built-in labels"),
        DemoProgress::Training { fraction, what } => {
            bar.set_message(format!("training: {what}"));
            bar.set_length(100);
            bar.set_position((fraction * 100.0) as u64);
        }
    })
    .with_context(|| {
        format!("cannot build the demo library in {}", photosift::show::path(library.root()))
    })?;
    bar.finish_and_clear();
    let t = &summary.train;
    say!("Demo library: {}", photosift::show::path(library.root()));
    say!(
        "  {} sample photos in {} ({} new this run), {} embedded",
        summary.scan.files,
        photosift::show::path(&summary.photos_dir),
        summary.scan.new,
        summary.embed.embedded
    );
    say!(
        "  built-in labels ({:?}): {} yes, {} no; model {} scored {} photos",
        photosift::pipeline::demo::QUESTION,
        t.n_positive,
        t.n_negative,
        t.model.0,
        t.scored
    );
    let lib = photosift::show::path(library.root());
    say!(
        "  then: `photosift --library {lib} label` (Tab: best-first, W picks for print), and \
         `photosift --library {lib} export DEST` to copy the picks out"
    );
    Ok(())
}
