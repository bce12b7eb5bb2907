//! The photosift command line: parses arguments, loads the config, opens the library, and hands
//! each subcommand to the library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use photosift::config::Config;
use photosift::export::{ExportEvent, ExportOptions};
use photosift::library::Library;
use photosift::print_check::PrintSpec;

mod cli_embed;
mod cli_scan;
mod learn_cmd;

#[derive(Debug, Parser)]
#[command(
    name = "photosift",
    version,
    about = "Find the photos worth printing among thousands, in a terminal, on your own machine."
)]
struct Cli {
    /// The library folder (catalog, thumbnails, models). Default: the config's `library`, else
    /// ~/.local/share/photosift.
    #[arg(long, global = true, value_name = "DIR")]
    library: Option<PathBuf>,
    /// Config file. Default: ./config.toml if present, then ~/.config/photosift/config.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan folders of photos into the catalog and make their thumbnails. Re-scans skip
    /// unchanged files; moved files keep their labels; deleted files are marked missing.
    Scan {
        /// Folders (or single files) to scan, recursively.
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Also walk into hidden folders and files (names starting with a dot) this time.
        #[arg(long)]
        hidden: bool,
        /// Do not embed the new photos after scanning (run `photosift embed` later).
        #[arg(long)]
        no_embed: bool,
    },
    /// Catalog counts; --errors lists the files that failed and why.
    Status {
        /// List every file that could not be read or decoded, with the reason.
        #[arg(long)]
        errors: bool,
    },
    /// Compute the EfficientNet-Lite0 embedding of every photo that lacks one (from its
    /// thumbnail; resumable: interrupt it any time).
    Embed,
    /// Train a new model version on the labels so far and score every photo with it.
    Train {
        /// Also fine-tune the backbone's last stage(s) on the labeled thumbnails (a new
        /// backbone version; every photo is re-embedded with it). Default: `[train] finetune`.
        #[arg(long, conflicts_with = "frozen")]
        finetune: bool,
        /// Train only the head (on the current backbone's embeddings) even if
        /// `[train] finetune` is set.
        #[arg(long)]
        frozen: bool,
    },
    /// Score every embedded photo with the latest model (after a scan added photos).
    Score,
    /// Print the next photos of a queue, one per line: p, [burst group,] path.
    Queue {
        #[arg(long, value_enum, default_value = "ambiguous")]
        mode: learn_cmd::QueueMode,
        /// How many.
        #[arg(short, default_value_t = 20)]
        n: usize,
    },
    /// Label-efficiency simulation against known answers: scans DIR into a temporary
    /// library, then lets each strategy ask an oracle; prints a table and writes a plot.
    Eval(learn_cmd::EvalArgs),
    /// The labeling TUI (also what `photosift` alone opens): one photo at a time, W/A/S/D.
    Label,
    /// Generate synthetic seed images from the [seed] prompts in config.toml (Stable Diffusion
    /// on this machine). Resumable: existing images are kept; Ctrl-C loses at most the image
    /// in progress.
    Seed {
        /// Only list what would be generated and what exists.
        #[arg(long)]
        dry_run: bool,
        /// Override [seed] images_per_prompt.
        #[arg(long, value_name = "N")]
        images_per_prompt: Option<usize>,
        /// Override [seed] model: sd-turbo, sd15, sd21.
        #[arg(long)]
        model: Option<String>,
        /// Override [seed] decoder: taesd, vae.
        #[arg(long)]
        decoder: Option<String>,
        /// Never download weights (use the local folder and the Hugging Face cache only).
        #[arg(long)]
        offline: bool,
    },
    /// The README's first command: builds a demo library from the sample photos shipped with
    /// photosift (offline, none of your photos), trains on a few built-in labels, and opens the
    /// labeling TUI on it. Default library: ~/.local/share/photosift-demo.
    Demo {
        /// Build the demo library, then stop instead of opening the TUI.
        #[arg(long)]
        no_tui: bool,
    },
    /// Copy the original file of every photo picked for print into DEST, byte-identical and
    /// never overwriting, with picks.csv and a contact sheet. Run again to resume.
    Export {
        /// The folder to export into (created when missing).
        #[arg(value_name = "DEST")]
        dest: PathBuf,
        /// Print size to check the picks against, e.g. 8x10in, 20x30cm, A4; "" for no check.
        /// Default: `[export] print_size` in the config.
        #[arg(long, value_name = "SIZE")]
        print_size: Option<String>,
        /// Dots per inch the print needs. Default: `[export] dpi` in the config.
        #[arg(long, value_name = "DPI")]
        dpi: Option<u32>,
        /// Do not draw the contact sheet.
        #[arg(long)]
        no_contact_sheet: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("photosift: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::load(cli.config.as_deref())?;
    let library_dir = match (&cli.command, cli.library.as_deref()) {
        // The demo never mixes its sample photos into the user's own library.
        (Some(Command::Demo { .. }), None) => photosift::demo::default_library_dir()
            .context("no home folder to put the demo library in: pass --library DIR")?,
        (_, dir) => config.library_dir(dir)?,
    };
    let library = Library::create(library_dir)?;
    match cli.command {
        Some(Command::Scan { dirs, hidden, no_embed }) => {
            let mut scan_cfg = config.scan.clone();
            scan_cfg.include_hidden |= hidden;
            cli_scan::run(&library, &dirs, &scan_cfg)?;
            if config.scan.embed && !no_embed {
                cli_embed::run(&config, &library)?;
            }
        }
        Some(Command::Status { errors }) => cli_scan::status(&library, errors)?,
        Some(Command::Embed) => cli_embed::run(&config, &library)?,
        Some(Command::Train { finetune, frozen }) => {
            let finetune = finetune || (config.train.finetune && !frozen);
            learn_cmd::train(&config, &library, finetune)?
        }
        Some(Command::Score) => learn_cmd::score(&library)?,
        Some(Command::Queue { mode, n }) => learn_cmd::print_queue(&config, &library, mode, n)?,
        Some(Command::Eval(args)) => learn_cmd::eval_dir(&config, &args)?,
        Some(Command::Label) | None => {
            photosift::tui::run(&library, &config, tui_services(&library, &config))?;
        }
        Some(Command::Seed { dry_run, images_per_prompt, model, decoder, offline }) => {
            let mut seed = config.seed.clone();
            if let Some(n) = images_per_prompt {
                seed.images_per_prompt = n;
            }
            if let Some(m) = model {
                seed.model = m;
            }
            if let Some(d) = decoder {
                seed.decoder = d;
            }
            if offline {
                seed.download = false;
            }
            seed_command(&library, &seed, dry_run)?;
        }
        Some(Command::Demo { no_tui }) => {
            demo(&library, &config)?;
            if !no_tui {
                photosift::tui::run(&library, &config, tui_services(&library, &config))?;
            }
        }
        Some(Command::Export { dest, print_size, dpi, no_contact_sheet }) => {
            let print = PrintSpec::from_config(
                print_size.as_deref().unwrap_or(&config.export.print_size),
                dpi.unwrap_or(config.export.dpi),
            )
            .context("bad print size (--print-size, or [export] print_size in the config)")?;
            let options = ExportOptions { dest, print, contact_sheet: !no_contact_sheet };
            export(&library, &options)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The background jobs the TUI's keys start (R retrain, G seed generation).
fn tui_services(library: &Library, config: &Config) -> photosift::tui::Services {
    photosift::tui::Services {
        retrain: Some(learn_cmd::retrain_job(library, config)),
        ..Default::default()
    }
}

fn seed_command(
    library: &Library,
    seed: &photosift::config::SeedConfig,
    dry_run: bool,
) -> Result<()> {
    use std::sync::atomic::AtomicBool;

    use anyhow::bail;
    use photosift::synth::{SeedPhase, Stage, generate_seeds, plan_seeds};

    let plans = plan_seeds(seed);
    if plans.is_empty() {
        bail!(
            "no seed prompts: add them to the [seed] section of your config.toml, e.g.\n  \
             [seed]\n  want = [\"two friends on a mountain\", \"hummingbird on a flower\"]\n  \
             dont_want = [\"blurry screenshot of a receipt\"]"
        );
    }
    if dry_run {
        for p in &plans {
            let path = library.synthetic_dir().join(&p.file_name);
            let state = if path.is_file() { "exists" } else { "to generate" };
            let list = if p.wanted { "want" } else { "dont_want" };
            println!("{state:12} {list:9} #{} {:?}  {}", p.index, p.prompt, path.display());
        }
        return Ok(());
    }
    let mut catalog = library.open_catalog()?;
    let bar = indicatif::ProgressBar::new(plans.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} images  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |p: photosift::synth::SeedProgress| {
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
                bar.set_message(format!("{prompt:?} #{index}: {stage}{eta}"));
            }
            SeedPhase::Saved { .. } => bar.set_message(eta),
        }
    };
    let summary = generate_seeds(&mut catalog, library, seed, &progress, &AtomicBool::new(false))?;
    bar.finish_and_clear();
    println!(
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
    println!("they are in {}", library.synthetic_dir().display());
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
/// `photosift demo` up to the TUI: one progress line per stage, then what was built.
fn demo(library: &Library, config: &Config) -> Result<()> {
    use photosift::demo::DemoProgress;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:24} {bar:30} {pos}/{len}")
            .context("progress bar template")?,
    );
    let summary = photosift::demo::build(library, config, &|p| match p {
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
    .with_context(|| format!("cannot build the demo library in {}", library.root().display()))?;
    bar.finish_and_clear();
    let t = &summary.train;
    println!("Demo library: {}", library.root().display());
    println!(
        "  {} sample photos in {} ({} new this run), {} embedded",
        summary.scan.files,
        summary.photos_dir.display(),
        summary.scan.new,
        summary.embed.embedded
    );
    println!(
        "  built-in labels (\"has a person or an animal\"): {} yes, {} no; model {} scored {} photos",
        t.n_positive, t.n_negative, t.model.0, t.scored
    );
    let lib = library.root().display();
    println!(
        "  then: `photosift --library {lib} label` (Tab: best-first, W picks for print), and \
         `photosift --library {lib} export DEST` to copy the picks out"
    );
    Ok(())
}

/// `photosift export`: a progress bar over the copies, then the summary.
fn export(library: &Library, options: &ExportOptions) -> Result<()> {
    let catalog = library.open_catalog()?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
            .context("progress bar template")?,
    );
    let summary =
        photosift::export::export_picks(&catalog, library, options, &mut |event| match event {
            ExportEvent::Started { total } => bar.set_length(total as u64),
            ExportEvent::Exported { pick, .. } => {
                bar.set_message(pick.pick.photo.path.display().to_string());
                bar.inc(1);
            }
            ExportEvent::ContactSheet { pages } => {
                bar.set_message(format!("drawing the contact sheet ({pages} pages)"));
            }
        })
        .with_context(|| format!("cannot export to {}", options.dest.display()))?;
    bar.finish_and_clear();
    print!("{}", summary.report());
    Ok(())
}
