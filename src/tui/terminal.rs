//! The terminal's side of a session's life: putting it back as it was (raw mode off, main
//! screen, cursor shown) however the session ends, the signals that end it (SIGTERM, SIGHUP,
//! SIGINT), and noticing a terminal that went away without a signal reaching the process.

#![allow(clippy::disallowed_methods, reason = "puts the terminal back after the session")]

use std::io::{self, Write};

use tokio::signal::unix::{Signal, SignalKind, signal};

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user quit.
    Quit,
    /// This signal asked the process to end: the caller dies of it once the terminal is back
    /// (see [`die_of`]), so its parent sees the conventional status (128 + the signal).
    Signal(i32),
    /// The terminal closed (end of input, an I/O error, a hang-up with SIGHUP ignored): there
    /// is nobody to show anything to.
    TerminalGone,
}

/// The signals that end a session, each listened to only when the process does not ignore it
/// (under `nohup` SIGHUP stays ignored; a shell's background job keeps SIGINT ignored).
pub struct Signals {
    term: Option<Signal>,
    hup: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    /// Starts listening; must run inside a tokio runtime with its I/O driver enabled. From
    /// here on these signals no longer end the process at once: the loop must watch
    /// [`Signals::recv`].
    pub fn new() -> io::Result<Self> {
        let listen = |sig: i32| -> io::Result<Option<Signal>> {
            if ignored(sig) { Ok(None) } else { signal(SignalKind::from_raw(sig)).map(Some) }
        };
        Ok(Self {
            term: listen(libc::SIGTERM)?,
            hup: listen(libc::SIGHUP)?,
            int: listen(libc::SIGINT)?,
        })
    }

    /// The next of these signals to arrive.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            () = next(&mut self.term) => libc::SIGTERM,
            () = next(&mut self.hup) => libc::SIGHUP,
            () = next(&mut self.int) => libc::SIGINT,
        }
    }
}

/// The next delivery of one signal; never, when it is not listened to.
async fn next(signal: &mut Option<Signal>) {
    let delivered = match signal {
        Some(s) => s.recv().await.is_some(),
        None => false,
    };
    if !delivered {
        // Not listened to, or the runtime is shutting down.
        std::future::pending::<()>().await;
    }
}

/// Whether the process ignores `sig` (SIG_IGN), as `nohup` sets SIGHUP.
fn ignored(sig: i32) -> bool {
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// Whether the terminal on `fd` has gone away: a hang-up (the emulator, the SSH connection or
/// the tmux session closed) or an invalid descriptor. The input thread cannot tell: crossterm
/// reads a closed terminal in a loop and never reports it.
pub fn hung_up(fd: i32) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: poll(2) on one pollfd this function owns, without waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
}

/// Asks the terminal (tmux) to say when focus leaves and comes back; [`restore`] turns it off.
pub fn report_focus_changes() {
    let _ = crossterm::execute!(io::stdout(), crossterm::event::EnableFocusChange);
}

/// Puts the terminal back as the session found it: raw mode off (the modes saved when it was
/// switched on), the main screen, the cursor shown. Never fails and never prints: the
/// terminal may be gone.
pub fn restore() {
    let _ = crossterm::terminal::disable_raw_mode();
    let mut out = io::stdout();
    let _ = crossterm::execute!(
        out,
        crossterm::event::DisableFocusChange,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = out.flush();
}

/// Ends the process the way `sig` would have, had nothing caught it: the default action is
/// restored and the signal raised again, so the parent sees it (a shell's `$?` is 128 + the
/// signal; a script stops on an interrupted child). Call once everything is put back.
pub fn die_of(sig: i32) -> ! {
    // SAFETY: restoring the default action and raising a signal are async-signal-safe and
    // affect only this process, which is ending.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
    std::process::exit(128 + sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_descriptor_counts_as_a_terminal_gone() {
        let (r, w) = {
            let mut fds = [0; 2];
            // SAFETY: pipe(2) into a local array.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            (fds[0], fds[1])
        };
        assert!(!hung_up(r), "an open pipe with a writer is not hung up");
        // SAFETY: closing the descriptors this test opened.
        unsafe { libc::close(w) };
        assert!(hung_up(r), "the writer gone: hang-up");
        unsafe { libc::close(r) };
        assert!(hung_up(r), "a closed descriptor: POLLNVAL");
    }
}
