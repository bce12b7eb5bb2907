//! One tmux server of the tests' own (a private socket), to run the real binary in a
//! terminal: start a session, send keys, read the screen, wait for text on it.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A private tmux server; killed, with its sessions, when dropped.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server on its own socket, named after `name` and this process.
    pub fn new(name: &str) -> Self {
        Self { socket: format!("photosift-{name}-{}", std::process::id()) }
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux")
    }

    /// A new detached session of `cols`×`rows` running `command` (a shell line).
    ///
    /// tmux 3.3a's new server now and then dies while it starts when the whole suite runs
    /// terminals at once ("server exited unexpectedly", before `command` runs); that start is
    /// tried again, up to three times. Any other failure fails the test.
    pub fn start(&self, session: &str, cols: u16, rows: u16, command: &str) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        for attempt in 1..=3 {
            let out =
                self.cmd(&["new-session", "-d", "-s", session, "-x", &cols, "-y", &rows, command]);
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return;
            }
            assert!(
                attempt < 3 && err.contains("server exited unexpectedly"),
                "tmux (attempt {attempt}): {err}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The text on `session`'s screen.
    pub fn capture(&self, session: &str) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", session]).stdout)
            .into_owned()
    }

    /// Sends `keys` (tmux key names: `w`, `Up`, `Escape`, ...).
    pub fn keys(&self, session: &str, keys: &str) {
        let out = self.cmd(&["send-keys", "-t", session, keys]);
        assert!(out.status.success(), "send-keys: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Waits (up to `timeout`) until the screen contains every one of `needles`; returns it.
    pub fn wait_for_within(&self, session: &str, needles: &[&str], timeout: Duration) -> String {
        let end = Instant::now() + timeout;
        loop {
            let screen = self.capture(session);
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            assert!(Instant::now() < end, "timed out waiting for {needles:?}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// [`Tmux::wait_for_within`] 30 s.
    pub fn wait_for(&self, session: &str, needles: &[&str]) -> String {
        self.wait_for_within(session, needles, Duration::from_secs(30))
    }

    /// Waits until the labeling session in `session` has loaded its queues: a key pressed
    /// before that has no photo to act on.
    pub fn wait_loaded(&self, session: &str) -> String {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.wait_for(session, &["AMBIGUOUS"]);
            if !screen.contains("Loading the queues") {
                return screen;
            }
            assert!(Instant::now() < end, "the queues never loaded; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// The process id of the program in `session`'s pane.
    pub fn pane_pid(&self, session: &str) -> i32 {
        let out = self.cmd(&["list-panes", "-t", session, "-F", "#{pane_pid}"]);
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("pane pid")
    }

    /// Whether `session` still runs (its program has not exited).
    pub fn has_session(&self, session: &str) -> bool {
        self.cmd(&["has-session", "-t", session]).status.success()
    }

    /// Waits (up to `timeout`) until `session` has ended.
    pub fn wait_gone(&self, session: &str, timeout: Duration) {
        let end = Instant::now() + timeout;
        while self.has_session(session) {
            assert!(
                Instant::now() < end,
                "session {session} did not end:\n{}",
                self.capture(session)
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

/// `path` in single quotes for a shell line.
pub fn shell_quote(path: &std::path::Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}
