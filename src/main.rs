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

mod cli_scan;

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
    },
    /// Catalog counts; --errors lists the files that failed and why.
    Status {
        /// List every file that could not be read or decoded, with the reason.
        #[arg(long)]
        errors: bool,
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
    let library = Library::create(config.library_dir(cli.library.as_deref())?)?;
    match cli.command {
        Some(Command::Scan { dirs, hidden }) => {
            let mut scan_cfg = config.scan.clone();
            scan_cfg.include_hidden |= hidden;
            cli_scan::run(&library, &dirs, &scan_cfg)?;
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
        Some(Command::Status { errors }) => cli_scan::status(&library, errors)?,
        None => {}
    }
    Ok(ExitCode::SUCCESS)
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
