//! The labeling TUI: one photo at a time, one key per decision, two modes (ambiguous and
//! best-first), retraining in the background. [`run`] opens it on a library in the terminal.
//!
//! Data flow: key → [`keymap`] → `Action` → [`state::update`] (pure) → effects run by the
//! [`app`] loop (labels written in one transaction before the next photo shows) → previews
//! decoded and encoded off the UI task by [`preview`] → one draw by [`view`]. The loop runs on
//! tokio (crossterm's `EventStream`, one `select!`), the jobs on its blocking pool.

pub mod app;
pub mod backend;
pub mod encode;
pub mod fresh;
pub mod graphics;
pub mod keymap;
pub mod notices;
pub mod pacing;
pub mod preview;
pub mod services;
pub mod state;
pub mod terminal;
pub mod tmux;
pub mod view;

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{IsTerminal, Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::library::Library;

pub use app::{App, AppEvent, JobFactory, Services};
pub use keymap::{Action, Keymap};
pub use state::{JobOutput, Mode, State, Summary};
pub use terminal::Ending;

/// Opens the labeling session on `library` in this terminal and returns when the user quits,
/// a signal (SIGTERM, SIGHUP, SIGINT) asks it to end, or the terminal closes; the terminal is
/// put back as it was in every case, and the library's lock is released on return. For
/// [`Ending::Signal`] the caller should then die of that signal ([`terminal::die_of`]); with
/// the ending comes what the session did, for a summary once the terminal is back.
/// A second session on the same library is refused while this one runs.
pub fn run(library: &Library, config: &Config, services: Services) -> Result<(Ending, Summary)> {
    let _lock = SessionLock::acquire(library)?;
    #[allow(clippy::disallowed_methods, reason = "asks whether stdout is a terminal")]
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("the labeling session needs a terminal (stdin and stdout are not both one)");
    }
    // Fail on a bad config or catalog before the screen switches over.
    Keymap::from_config(&config.keys).context("bad [keys] in the config")?;
    let forced = graphics::parse_setting(&config.tui.graphics).map_err(anyhow::Error::msg)?;
    drop(library.open_catalog()?);
    let rt = app::SessionRuntime::new().context("cannot start the async runtime")?;
    // Before the terminal changes: from here on these signals end the loop, which puts the
    // terminal back, instead of the process with the terminal left raw.
    let signals = {
        let _in_runtime = rt.handle().enter();
        terminal::Signals::new().context("cannot listen for signals")?
    };

    // Raw mode, the alternate screen and a panic hook that restores them; then the same
    // crossterm backend minus its cursor queries (see `backend`).
    drop(ratatui::try_init().context("cannot set up the terminal")?);
    let result = (|| {
        let terminal = ratatui::Terminal::new(backend::TuiBackend::new())
            .context("cannot set up the terminal")?;
        only_the_ui_thread_restores_on_panic();
        let choice = graphics::detect(forced, QUERY_TIMEOUT);
        if choice.tmux_origin.is_some() {
            // tmux says when this pane is left and shown again (`focus-events on`): a photo
            // passed through tmux is redrawn, or taken away, then.
            terminal::report_focus_changes();
        }
        tracing::info!(
            "graphics: {} ({}): {}",
            choice.protocol.name(),
            choice.terminal,
            choice.why
        );
        // The loop runs here, on this (the UI) thread; the jobs on the runtime's threads.
        // Those still running when it returns were asked to stop; dropping `rt` does not
        // wait for them.
        rt.handle().block_on(async {
            let mut app = App::new(terminal, library.clone(), config.clone(), choice, services)?;
            // crossterm reads stdin when it is a terminal (checked above).
            let tty = std::os::fd::AsRawFd::as_raw_fd(&std::io::stdin());
            let ending = app.run(&mut crossterm::event::EventStream::new(), signals, tty).await?;
            Ok::<_, anyhow::Error>((ending, app.state().summary()))
        })
    })();
    terminal::restore();
    let (ending, summary) = result?;
    if ending == Ending::TerminalGone {
        bail!("the terminal closed, so the labeling session ended (every label answered is saved)");
    }
    Ok((ending, summary))
}

/// How long the terminal may take to say what graphics it supports. A local terminal answers
/// in a millisecond; this only matters where nothing answers at all.
const QUERY_TIMEOUT: Duration = Duration::from_millis(300);

/// A panic on the UI thread (the one running the loop) restores the terminal and prints as
/// usual; one on a job or preview thread is caught there and reported in the status bar, so it must neither tear
/// down the screen of a session that goes on nor print over it.
fn only_the_ui_thread_restores_on_panic() {
    let ui = std::thread::current().id();
    let restore_and_print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == ui {
            restore_and_print(info);
        } else {
            tracing::debug!("background thread panicked: {info}");
        }
    }));
}

/// An exclusive lock on `<library>/lock`, held for the session: two sessions labeling the
/// same library would show the same photos and undo each other's decisions.
pub struct SessionLock {
    _file: File,
}

impl SessionLock {
    pub fn acquire(library: &Library) -> Result<Self> {
        let path: PathBuf = library.root().join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who =
                    if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
                bail!(
                    "another photosift session{who} already has the library {} open; \
                     finish that one first (its labels are saved as you go)",
                    library.root().display()
                );
            }
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        // Who holds it, for the message above; best effort.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_session_on_the_same_library_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::create(dir.path()).unwrap();
        let first = SessionLock::acquire(&lib).unwrap();
        let err = SessionLock::acquire(&lib).err().unwrap().to_string();
        assert!(err.contains("already has the library"), "{err}");
        assert!(err.contains(&std::process::id().to_string()), "{err}");
        drop(first);
        SessionLock::acquire(&lib).unwrap();
    }
}
