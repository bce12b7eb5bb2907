//! The photosift command line: parses arguments, loads the config, opens the library, and hands
//! each subcommand to the library crate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use photosift::config::Config;
use photosift::library::Library;

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
    /// Catalog counts; --errors lists the files that failed and why.
    Status {
        #[arg(long)]
        errors: bool,
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
        Some(Command::Status { errors: _ }) => {
            let catalog = library.open_catalog()?;
            let counts = catalog.label_counts()?;
            println!("labels: {counts:?}");
        }
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
