//! The photosift command line: parses arguments, loads the config, opens the library, and hands
//! each subcommand to the library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use photosift::config::Config;
use photosift::library::Library;

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
    Train,
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
    /// The labeling TUI (also what `photosift` alone opens): one photo at a time, W/A/S/D.
    Label,
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
    let library = Library::create(config.library_dir(cli.library.as_deref())?)?;
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
        Some(Command::Train) => learn_cmd::train(&config, &library)?,
        Some(Command::Score) => learn_cmd::score(&library)?,
        Some(Command::Queue { mode, n }) => learn_cmd::print_queue(&config, &library, mode, n)?,
        Some(Command::Label) | None => {
            photosift::tui::run(&library, &config, tui_services(&library, &config))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The background jobs the TUI's keys start (R retrain, G seed generation).
fn tui_services(_library: &Library, _config: &Config) -> photosift::tui::Services {
    photosift::tui::Services::default()
}
