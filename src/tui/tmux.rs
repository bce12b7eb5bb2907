//! tmux between photosift and the terminal. tmux answers the graphics probe itself and draws no
//! images (3.3 has no sixel; 3.4 only when built with it), so inside tmux a photo reaches the
//! screen only through tmux's passthrough (`allow-passthrough on`, tmux 3.3+): the escape
//! sequence wrapped in `ESC P tmux; … ESC \` with its ESCs doubled, and placed by a cursor move
//! in the outer terminal's coordinates (tmux does not move the outer cursor for it). What the
//! terminal behind tmux is, tmux says (`display-message -p`): its XTVERSION, its cell size in
//! pixels, whether passthrough is on and where this pane sits.

#![allow(clippy::disallowed_methods, reason = "asks the tmux server about this client")]

use std::fmt::Write as _;
use std::process::{Command, Stdio};

/// tmux drops a passthrough sequence above about 1 MB (3.3a drew a 584 KB sixel and dropped an
/// 824 KB one); images are kept below this.
pub const PASSTHROUGH_LIMIT: usize = 512 * 1024;

/// The lines `display-message -p` is asked for, tab-separated.
const FORMAT: &str = "#{version}\t#{client_termtype}\t#{client_termname}\t#{allow-passthrough}\t\
                      #{client_cell_width}\t#{client_cell_height}\t#{pane_left}\t#{pane_top}\t\
                      #{status}\t#{status-position}\t#{focus-events}";

/// What tmux says about the client this pane is shown in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmuxClient {
    /// tmux's version, e.g. `3.3a`.
    pub version: String,
    /// The outer terminal's XTVERSION as tmux recorded it, e.g. `XTerm(379)`, `kitty(0.26.5)`.
    pub terminal: String,
    /// The outer terminal's TERM.
    pub term: String,
    /// `allow-passthrough` is on for this pane.
    pub passthrough: bool,
    /// The outer terminal's cell size in pixels, where tmux knows it.
    pub cell: Option<(u16, u16)>,
    /// This pane's top-left cell in the outer terminal (0-based column, row).
    pub origin: (u16, u16),
    /// `focus-events` is on: tmux tells the pane when it is left and shown again.
    pub focus_events: bool,
}

/// The outer terminal's kind, as far as the image protocols go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outer {
    /// kitty: its graphics protocol, placed directly, in every version.
    Kitty,
    /// xterm: sixel only when started as a VT340 (`-ti vt340`), which tmux cannot tell.
    Xterm,
    /// iTerm2 and WezTerm: iTerm2's inline images.
    Iterm2,
    Other,
}

impl TmuxClient {
    /// Asks the tmux server about this pane's client; `None` outside tmux or when tmux does
    /// not answer.
    pub fn query() -> Option<Self> {
        let mut cmd = Command::new("tmux");
        cmd.args(["display-message", "-p"]);
        if let Some(pane) = std::env::var_os("TMUX_PANE") {
            cmd.arg("-t").arg(pane);
        }
        let out = cmd.arg(FORMAT).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
        if !out.status.success() {
            return None;
        }
        Self::parse(&String::from_utf8_lossy(&out.stdout))
    }

    /// Parses `display-message -p FORMAT`'s line.
    pub fn parse(line: &str) -> Option<Self> {
        let f: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
        if f.len() < 11 {
            return None;
        }
        let num = |s: &str| s.trim().parse::<u16>().ok();
        let on = |s: &str| matches!(s.trim(), "1" | "on" | "all");
        let cell = num(f[4]).zip(num(f[5])).filter(|(w, h)| *w > 0 && *h > 0);
        // The status line at the top pushes the panes down (tmux 3.3: `status` is on/off/2-5).
        let status_lines = match f[8].trim() {
            "off" | "0" => 0,
            "on" | "1" => 1,
            n => num(n).unwrap_or(1),
        };
        let top = if f[9].trim() == "top" { status_lines } else { 0 };
        Some(Self {
            version: f[0].trim().to_owned(),
            terminal: f[1].trim().to_owned(),
            term: f[2].trim().to_owned(),
            passthrough: on(f[3]),
            cell,
            origin: (num(f[6]).unwrap_or(0), num(f[7]).unwrap_or(0) + top),
            focus_events: on(f[10]),
        })
    }

    pub fn outer(&self) -> Outer {
        let t = self.terminal.to_ascii_lowercase();
        if t.starts_with("kitty") || self.term == "xterm-kitty" {
            Outer::Kitty
        } else if t.starts_with("xterm(") {
            Outer::Xterm
        } else if t.starts_with("iterm2") || t.starts_with("wezterm") {
            Outer::Iterm2
        } else {
            Outer::Other
        }
    }

    /// tmux 3.3 or newer: the first with `allow-passthrough`.
    pub fn has_passthrough_option(&self) -> bool {
        let digits: String =
            self.version.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        let mut parts = digits.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        (major, minor) >= (3, 3)
    }
}

/// Whether this pane is on screen (its window is the one shown, a client is attached, no other
/// pane of it is zoomed), and the tty of the client showing its session. `None` when tmux does
/// not answer.
pub fn pane_shown() -> Option<(bool, String)> {
    let mut cmd = Command::new("tmux");
    cmd.args(["display-message", "-p"]);
    if let Some(pane) = std::env::var_os("TMUX_PANE") {
        cmd.arg("-t").arg(pane);
    }
    let format = "#{window_active}\t#{session_attached}\t#{window_zoomed_flag}\t#{pane_active}\t\
                  #{client_tty}";
    let out = cmd.arg(format).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
    let flag = |i: usize| f.get(i).is_some_and(|v| *v != "0" && !v.is_empty());
    let shown = flag(0) && flag(1) && (!flag(2) || flag(3));
    (out.status.success() && f.len() == 5).then(|| (shown, f[4].to_owned()))
}

/// Writes `seq` to the client's terminal itself, past tmux: tmux passes nothing through from
/// a pane it is not showing, so a kitty image left on screen when the pane was hidden can only
/// be taken away this way. The tty is the user's own terminal, as tmux named it.
pub fn write_to_client(tty: &str, seq: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    if !tty.starts_with("/dev/") {
        return Err(std::io::Error::other(format!("not a terminal device: {tty}")));
    }
    std::fs::OpenOptions::new().write(true).open(tty)?.write_all(seq.as_bytes())
}

/// `data` (one or more escape sequences, each ending in `ESC \`) for tmux's passthrough: each
/// sequence in a wrapper of its own (kitty's chunks stay under tmux's limit one by one), its
/// ESCs doubled.
pub fn passthrough(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + data.len() / 512 + 16);
    let mut rest = data;
    while !rest.is_empty() {
        let end = rest.find("\x1b\\").map_or(rest.len(), |i| i + 2);
        let (seq, tail) = rest.split_at(end);
        out.push_str("\x1bPtmux;");
        for c in seq.chars() {
            if c == '\x1b' {
                out.push('\x1b');
            }
            out.push(c);
        }
        out.push_str("\x1b\\");
        rest = tail;
    }
    out
}

/// Moves the outer terminal's cursor to cell (`x`, `y`) of this pane (0-based), through tmux.
pub fn move_to(origin: (u16, u16), x: u16, y: u16) -> String {
    let mut s = String::with_capacity(24);
    let (row, col) =
        (u32::from(origin.1) + u32::from(y) + 1, u32::from(origin.0) + u32::from(x) + 1);
    let _ = write!(s, "\x1bPtmux;\x1b\x1b[{row};{col}H\x1b\\");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmux_describes_its_client() {
        let c =
            TmuxClient::parse("3.3a\tkitty(0.26.5)\txterm-kitty\t1\t9\t18\t81\t0\ton\ttop\t1\n")
                .unwrap();
        assert_eq!(c.outer(), Outer::Kitty);
        assert!(c.passthrough && c.focus_events && c.has_passthrough_option());
        assert_eq!(c.cell, Some((9, 18)));
        assert_eq!(c.origin, (81, 1), "the status line on top pushes the pane down");
        let c = TmuxClient::parse("3.2a\tXTerm(379)\txterm\t\t\t\t0\t3\ton\tbottom\t0").unwrap();
        assert_eq!(c.outer(), Outer::Xterm);
        assert!(!c.passthrough && !c.has_passthrough_option());
        assert_eq!((c.cell, c.origin), (None, (0, 3)));
        assert!(TmuxClient::parse("garbage").is_none());
    }

    #[test]
    fn each_sequence_passes_through_on_its_own_with_escs_doubled() {
        let kitty = "\x1b_Ga=T,m=1;QUJD\x1b\\\x1b_Gm=0;REVG\x1b\\";
        assert_eq!(
            passthrough(kitty),
            "\x1bPtmux;\x1b\x1b_Ga=T,m=1;QUJD\x1b\x1b\\\x1b\\\x1bPtmux;\x1b\x1b_Gm=0;REVG\x1b\x1b\\\x1b\\"
        );
        assert_eq!(move_to((81, 1), 2, 3), "\x1bPtmux;\x1b\x1b[5;84H\x1b\\");
    }
}
