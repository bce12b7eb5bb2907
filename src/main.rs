//! The photosift command line: parses arguments, loads the config, opens the library, and hands
//! each subcommand to the library crate.

// Every line goes through `cli::out` (escaped): `println!`/`eprintln!` are denied for the
// whole package (Cargo.toml's [lints]), so printing around that door takes a visible `#[allow]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use photosift::config::Config;
use photosift::export::ExportOptions;
use photosift::library::Library;
use photosift::print_check::PrintSpec;

mod cli;

use cli::learn;
use photosift::tui::Services;
use photosift::tui::services::scan_factory;

#[derive(Debug, Parser)]
#[command(
    name = "photosift",
    version,
    about = "Find the photos worth printing among thousands, in a terminal, on your own machine."
)]
struct Cli {
    /// The library folder (catalog, thumbnails, models). Default: the config's `library`, else
    /// ~/.local/share/photosift (`demo`: ~/.local/share/photosift-demo).
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
        /// List every photo whose original file is gone (its labels are kept).
        #[arg(long)]
        missing: bool,
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
        mode: learn::QueueMode,
        /// How many.
        #[arg(short, default_value_t = 20)]
        n: usize,
        /// End each record with a NUL byte and print the path raw (for `xargs -0`), instead
        /// of one line per photo with control characters escaped.
        #[arg(long)]
        null: bool,
    },
    /// Label-efficiency simulation against known answers: scans DIR into a temporary
    /// library, then lets each strategy ask an oracle; prints a table and writes a plot.
    Eval(learn::EvalArgs),
    /// The labeling TUI (also what `photosift` alone opens): one photo at a time, W/A/S/D.
    /// With folders: scans and embeds them in the background while you label (the queues
    /// fill as photos are read; the status bar shows the scan's progress).
    Label {
        /// Folders to scan (recursively) while labeling; new and changed photos only.
        #[arg(value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// What you are looking for, in your words ("animals in the garden"): the screen's
        /// title in both modes, remembered by the library. Default: `[session] question`.
        #[arg(long, value_name = "TEXT")]
        want: Option<String>,
        /// Also walk into hidden folders and files.
        #[arg(long)]
        hidden: bool,
    },
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
    /// Which image protocol the labeling TUI uses in this terminal (sixel, kitty, iTerm2 or
    /// half-blocks), what the terminal answered when asked, and why that protocol.
    Doctor,
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
        /// Export even when DEST is inside (or above) a scanned photo folder or inside the
        /// library folder; refused otherwise, since the copies would mix with the originals.
        /// Later scans skip the copies (the export's manifest lists them).
        #[arg(long)]
        into_photo_folder: bool,
    },
}

/// How the process ends.
enum Exit {
    Code(ExitCode),
    /// A labeling session was ended by this signal: the process dies of it, after the
    /// terminal and the library's lock were put back.
    Signal(i32),
}

fn main() -> ExitCode {
    // SAFETY: the first thing the process does, before any thread exists.
    unsafe { photosift::jobs::settle_compute_threads() };
    restore_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and the version are photosift's own text; an error may quote an argument.
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            cli::out::stderr_text(&err.render().to_string());
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(Exit::Code(code)) => code,
        Ok(Exit::Signal(sig)) => photosift::tui::terminal::die_of(sig),
        Err(err) => {
            cli::out::note!("photosift: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`photosift status | head -1`) would
/// panic; the default action ends the process quietly, as other Unix tools do.
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
    // Through the door like every other line; no colours (they would be escaped).
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(|| cli::out::LogWriter)
        .init();
}

/// After a switch of `[embed] backbone`, the session's embedding job (a scan of no folder, when
/// no folder is scanned anyway) re-embeds the library while the labeling goes on.
fn reembed_in_background(library: &Library, config: &Config, services: &mut Services) {
    if services.scan.is_some() {
        return;
    }
    let needed = library
        .open_catalog()
        .and_then(|catalog| Ok(photosift::pipeline::needs_embedding(&catalog, config)?));
    if matches!(needed, Ok(true)) {
        services.scan = Some(scan_factory(library, config, Vec::new()));
    }
}

fn run(cli: Cli) -> Result<Exit> {
    let config = Config::load(cli.config.as_deref())?;
    if let Some(Command::Doctor) = cli.command {
        cli::doctor::run(&config)?;
        return Ok(Exit::Code(ExitCode::SUCCESS));
    }
    let library_dir = match (&cli.command, cli.library.as_deref()) {
        // The demo never mixes its sample photos into the user's own library.
        (Some(Command::Demo { .. }), None) => photosift::pipeline::demo::default_library_dir()
            .context("no home folder to put the demo library in: pass --library DIR")?,
        (_, dir) => config.library_dir(dir)?,
    };
    // A folder that is not there (a typo) stops here, before a library is created for it.
    if let Some(Command::Scan { dirs, .. } | Command::Label { dirs, .. }) = &cli.command
        && let Err(msg) = cli::label::check_folders(dirs)
    {
        cli::out::note!("photosift: {msg}");
        return Ok(Exit::Code(ExitCode::from(2)));
    }
    // Only the commands that fill a library start a new one.
    let library = match &cli.command {
        Some(
            Command::Status { .. }
            | Command::Embed
            | Command::Train { .. }
            | Command::Score
            | Command::Queue { .. }
            | Command::Export { .. },
        ) => Library::open_existing(library_dir)?,
        // A dry run only looks: it creates no folder.
        Some(Command::Seed { dry_run: true, .. }) => Library::at(library_dir),
        _ => Library::create(library_dir)?,
    };
    // How the hints should call photosift on this library: with the --library the user gave.
    let command = match &cli.library {
        Some(dir) => format!("photosift --library {}", photosift::show::path(dir)),
        None => "photosift".to_owned(),
    };
    // A labeling session ended by a signal: die of it once everything is put back; else
    // say what it did and what comes next.
    let ended = |(ending, summary): (photosift::tui::Ending, photosift::tui::Summary)| match ending
    {
        photosift::tui::Ending::Signal(sig) => Some(Exit::Signal(sig)),
        _ => {
            cli::label::print_summary(&summary, &command);
            None
        }
    };
    match cli.command {
        Some(Command::Scan { dirs, hidden, no_embed }) => {
            let mut scan_cfg = config.clone();
            scan_cfg.scan.include_hidden |= hidden;
            scan_cfg.scan.embed &= !no_embed;
            cli::scan::run(&library, &dirs, &scan_cfg)?;
        }
        Some(Command::Status { errors, missing }) => {
            cli::scan::status(&library, &config, errors, missing, &command)?
        }
        Some(Command::Embed) => cli::embed::run(&config, &library)?,
        Some(Command::Train { finetune, frozen }) => {
            let finetune = finetune || (config.train.finetune && !frozen);
            learn::train(&config, &library, finetune)?
        }
        Some(Command::Score) => learn::score(&library)?,
        Some(Command::Queue { mode, n, null }) => {
            learn::print_queue(&config, &library, mode, n, null)?
        }
        Some(Command::Eval(args)) => learn::eval_dir(&config, &args)?,
        Some(Command::Label { dirs, hidden, want }) => {
            cli::label::store_question(&library, want.as_deref(), &config.session.question)?;
            cli::label::start_from_prompts(&library, &config);
            let mut services = Services::for_library(&library, &config, &command);
            if !dirs.is_empty() {
                let mut scan_cfg = config.clone();
                scan_cfg.scan.include_hidden |= hidden;
                services.scan = Some(scan_factory(&library, &scan_cfg, dirs));
            }
            reembed_in_background(&library, &config, &mut services);
            if let Some(exit) = ended(photosift::tui::run(&library, &config, services)?) {
                return Ok(exit);
            }
        }
        None => {
            cli::label::store_question(&library, None, &config.session.question)?;
            cli::label::start_from_prompts(&library, &config);
            let mut services = Services::for_library(&library, &config, &command);
            reembed_in_background(&library, &config, &mut services);
            if let Some(exit) = ended(photosift::tui::run(&library, &config, services)?) {
                return Ok(exit);
            }
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
            cli::seed::run(&library, &config, &seed, dry_run)?;
        }
        Some(Command::Demo { no_tui }) => {
            cli::demo::run(&library, &config)?;
            if !no_tui {
                let services = Services::for_library(&library, &config, &command);
                if let Some(exit) = ended(photosift::tui::run(&library, &config, services)?) {
                    return Ok(exit);
                }
            }
        }
        Some(Command::Doctor) => cli::doctor::run(&config)?,
        Some(Command::Export { dest, print_size, dpi, no_contact_sheet, into_photo_folder }) => {
            let print = PrintSpec::from_config(
                print_size.as_deref().unwrap_or(&config.export.print_size),
                dpi.unwrap_or(config.export.dpi),
            )
            .context("bad print size (--print-size, or [export] print_size in the config)")?;
            let contact_sheet = !no_contact_sheet;
            let options = ExportOptions { dest, print, contact_sheet, into_photo_folder };
            cli::export::run(&library, &options)?;
        }
    }
    Ok(Exit::Code(ExitCode::SUCCESS))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_cli_is_consistent_and_every_command_says_what_it_does() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "`photosift {}` has no description", sub.get_name());
        }
        let about =
            |name: &str| cmd.find_subcommand(name).and_then(|s| s.get_about()).unwrap().to_string();
        assert!(about("doctor").contains("image protocol"), "{}", about("doctor"));
        assert!(about("export").starts_with("Copy the original file"), "{}", about("export"));
    }
}
