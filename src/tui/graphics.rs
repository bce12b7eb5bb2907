//! Which image protocol this terminal gets, and why: a probe of the terminal (kitty graphics
//! query, device attributes, XTVERSION, cell and window size in pixels, sixel geometry), its
//! replies parsed, and a choice that never leaves the photo blank — a protocol is only used
//! when the terminal said it speaks it and its cell size in pixels is known; otherwise
//! half-blocks, with the reason kept for the side panel and `photosift doctor`.
//!
//! Two traps this avoids (both seen in real emulators): xterm drops a sixel image larger than
//! its maximum graphic size (1000×1000 by default) without drawing anything, so that size is
//! asked for (XTSMGRAPHICS) and respected; kitty before 0.28 does not know unicode
//! placeholders (`U=1`) and shows boxes, so kitty graphics are placed directly at the cursor.

#![allow(clippy::disallowed_methods, reason = "probes and sizes the terminal the session draws on")]

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use ratatui_image::FontSize;

use super::tmux::{Outer, TmuxClient};
use ratatui_image::picker::{Picker, ProtocolType};

/// How photos reach the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Two colours per character cell (`▀`): works everywhere, shows no detail.
    Halfblocks,
    /// DEC sixel graphics (xterm `-ti vt340`, foot, mlterm, WezTerm, Konsole...).
    Sixel,
    /// kitty graphics, transmitted and placed directly at the cursor (kitty, Ghostty,
    /// WezTerm, Konsole): works in every kitty version, unlike unicode placeholders.
    Kitty,
    /// kitty graphics through unicode placeholders (kitty 0.28+): the only kitty form that
    /// survives tmux, used there when forced.
    KittyPlaceholders,
    /// iTerm2's inline images (iTerm2, WezTerm, mintty...).
    Iterm2,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Halfblocks => "half-blocks",
            Protocol::Sixel => "sixel",
            Protocol::Kitty => "kitty",
            Protocol::KittyPlaceholders => "kitty (unicode placeholders)",
            Protocol::Iterm2 => "iTerm2",
        }
    }

    /// Whether the terminal shows real pixels (anything but half-blocks).
    pub fn is_pixels(self) -> bool {
        self != Protocol::Halfblocks
    }
}

/// `[tui] graphics`: `None` = ask the terminal.
pub fn parse_setting(name: &str) -> Result<Option<Protocol>, String> {
    Ok(Some(match name {
        "auto" => return Ok(None),
        "halfblocks" => Protocol::Halfblocks,
        "sixel" => Protocol::Sixel,
        "kitty" => Protocol::Kitty,
        "kitty-placeholders" => Protocol::KittyPlaceholders,
        "iterm2" => Protocol::Iterm2,
        other => {
            return Err(format!(
                "[tui] graphics = {other:?} is not one of auto, halfblocks, sixel, kitty, \
                 kitty-placeholders, iterm2"
            ));
        }
    }))
}

/// What the terminal answered to the probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermReport {
    /// Anything came back (the closing status report at least).
    pub answered: bool,
    /// `OK` to a kitty graphics query.
    pub kitty_graphics: bool,
    /// Primary device attributes (`CSI ? 63;1;2;4... c`); 4 = sixel.
    pub device_attrs: Vec<u16>,
    /// XTVERSION, e.g. `XTerm(379)`, `kitty(0.26.5)`.
    pub version: Option<String>,
    /// Cell size in pixels (width, height), from `CSI 16 t`.
    pub cell_px: Option<(u16, u16)>,
    /// Text area in pixels (width, height), from `CSI 14 t`.
    pub window_px: Option<(u32, u32)>,
    /// The largest sixel image the terminal draws (XTSMGRAPHICS), width × height.
    pub sixel_max: Option<(u32, u32)>,
    /// Sixel colour registers (XTSMGRAPHICS).
    pub color_registers: Option<u32>,
}

impl TermReport {
    pub fn sixel(&self) -> bool {
        self.device_attrs.first().is_some_and(|&v| v >= 60) && self.device_attrs.contains(&4)
    }
}

/// The environment's part of the picture: names the terminal sets and the window size the
/// kernel knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermEnv {
    pub term: Option<String>,
    pub term_program: Option<String>,
    pub lc_terminal: Option<String>,
    pub in_tmux: bool,
    /// What tmux says about the terminal behind it (inside tmux 3.3+).
    pub tmux: Option<TmuxClient>,
    /// (columns, rows, width px, height px) from TIOCGWINSZ; the pixels are 0 where unknown.
    pub winsize: Option<(u16, u16, u16, u16)>,
}

impl TermEnv {
    pub fn current() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let term = var("TERM");
        let term_program = var("TERM_PROGRAM");
        let in_tmux = var("TMUX").is_some()
            || term.as_deref().is_some_and(|t| t.starts_with("tmux") || t.starts_with("screen"))
            || term_program.as_deref() == Some("tmux");
        let tmux = if var("TMUX").is_some() { TmuxClient::query() } else { None };
        Self {
            term,
            term_program,
            lc_terminal: var("LC_TERMINAL"),
            in_tmux,
            tmux,
            winsize: winsize(),
        }
    }
}

fn winsize() -> Option<(u16, u16, u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the pointer we pass, which lives here.
    let rc = unsafe { libc::ioctl(io::stdout().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((
        ws.ws_col,
        ws.ws_row,
        ws.ws_xpixel,
        ws.ws_ypixel,
    ))
}

/// The protocol chosen, the cell size it draws at, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub protocol: Protocol,
    /// Cell size in pixels (width, height).
    pub cell: (u16, u16),
    /// The largest image the terminal draws, where it has a limit (xterm's sixel).
    pub max_px: Option<(u32, u32)>,
    /// The terminal, as it named itself.
    pub terminal: String,
    /// Why this protocol: what the terminal answered, or what was missing.
    pub why: String,
    /// Inside tmux: images go through its passthrough, placed from this pane's top-left cell
    /// in the outer terminal (see [`super::tmux`]).
    pub tmux_origin: Option<(u16, u16)>,
}

impl Choice {
    /// Half-blocks with a made-up 1×2 "font": one pixel per half cell.
    pub fn halfblocks(why: impl Into<String>) -> Self {
        Self {
            protocol: Protocol::Halfblocks,
            cell: (1, 2),
            max_px: None,
            terminal: "unknown".into(),
            why: why.into(),
            tmux_origin: None,
        }
    }

    /// A pixel protocol at a given cell size (tests, benchmarks, forced settings).
    pub fn fixed(protocol: Protocol, cell: (u16, u16)) -> Self {
        if protocol == Protocol::Halfblocks {
            return Self::halfblocks("fixed");
        }
        Self {
            protocol,
            cell,
            max_px: None,
            terminal: "fixed".into(),
            why: "fixed".into(),
            tmux_origin: None,
        }
    }

    /// The largest image, in pixels, that a `cols`×`rows` cell area takes.
    pub fn area_px(&self, cols: u16, rows: u16) -> (u32, u32) {
        let w = u32::from(cols) * u32::from(self.cell.0);
        let h = u32::from(rows) * u32::from(self.cell.1);
        match self.max_px {
            Some((mw, mh)) => (w.min(mw), h.min(mh)),
            None => (w, h),
        }
    }

    /// One line for the side panel: `sixel 10×20 px cells`.
    pub fn short(&self) -> String {
        match self.protocol {
            Protocol::Halfblocks => "half-blocks".into(),
            p => format!("{} · {}×{} px cells", p.name(), self.cell.0, self.cell.1),
        }
    }

    /// A ratatui-image picker that encodes at this choice's cell size.
    pub fn picker(&self) -> Picker {
        let protocol = match self.protocol {
            Protocol::Halfblocks => ProtocolType::Halfblocks,
            Protocol::Sixel => ProtocolType::Sixel,
            Protocol::Kitty | Protocol::KittyPlaceholders => ProtocolType::Kitty,
            Protocol::Iterm2 => ProtocolType::Iterm2,
        };
        #[allow(deprecated)] // the way to state a known font size
        let mut p = Picker::from_fontsize(FontSize::new(self.cell.0.max(1), self.cell.1.max(1)));
        p.set_protocol_type(protocol);
        p
    }
}

/// A default cell size for a forced protocol on a terminal that reports none.
const FALLBACK_CELL: (u16, u16) = (10, 20);

/// Decides the protocol from the terminal's replies, its environment and `[tui] graphics`.
pub fn choose(report: &TermReport, env: &TermEnv, forced: Option<Protocol>) -> Choice {
    let terminal = report
        .version
        .clone()
        .or_else(|| env.term_program.clone())
        .or_else(|| env.term.clone())
        .unwrap_or_else(|| "unknown".into());
    let (cell, cell_from) = cell_size(report, env);
    let with = |protocol: Protocol, cell: (u16, u16), why: String| Choice {
        protocol,
        cell,
        max_px: if protocol == Protocol::Sixel { report.sixel_max } else { None },
        terminal: terminal.clone(),
        why,
        tmux_origin: None,
    };
    let halfblocks = |why: String| Choice { terminal: terminal.clone(), ..Choice::halfblocks(why) };
    if let Some(t) = env.tmux.as_ref().filter(|_| env.in_tmux) {
        return through_tmux(t, forced, cell.map(|c| (c, cell_from)));
    }
    if let Some(p) = forced {
        if p == Protocol::Halfblocks {
            return halfblocks("[tui] graphics = \"halfblocks\"".into());
        }
        return match cell {
            Some(c) => with(p, c, format!("[tui] graphics forces it; cells {cell_from}")),
            None => with(
                p,
                FALLBACK_CELL,
                "[tui] graphics forces it; the terminal reports no cell size, assuming 10×20 px"
                    .into(),
            ),
        };
    }
    if env.in_tmux {
        return halfblocks(
            "inside tmux/screen, which does not pass images through by default; set \
             [tui] graphics to force a protocol"
                .into(),
        );
    }
    if !report.answered {
        return halfblocks("the terminal did not answer the graphics probe".into());
    }
    let Some(cell) = cell else {
        return halfblocks("the terminal reports no cell size in pixels".into());
    };
    let name = |what: &str| format!("{what}; cells {cell_from}");
    let iterm_env = env.term_program.as_deref().is_some_and(|p| {
        ["iTerm", "WezTerm", "mintty", "vscode", "Tabby", "rio"].iter().any(|n| p.contains(n))
    }) || env.lc_terminal.as_deref().is_some_and(|t| t.contains("iTerm"));
    let version = report.version.as_deref().unwrap_or("");
    if iterm_env || version.starts_with("iTerm2") || version.starts_with("WezTerm") {
        return with(Protocol::Iterm2, cell, name("the terminal is iTerm2-compatible"));
    }
    if report.kitty_graphics {
        return with(
            Protocol::Kitty,
            cell,
            name("answered the kitty graphics query; placed directly (any kitty version)"),
        );
    }
    if report.sixel() {
        let limit = match report.sixel_max {
            Some((w, h)) => format!(", images up to {w}×{h} px"),
            None => String::new(),
        };
        return with(Protocol::Sixel, cell, name(&format!("device attributes list sixel{limit}")));
    }
    halfblocks("the terminal speaks no image protocol (no kitty, sixel or iTerm2 reply)".into())
}

/// Inside tmux (which said what is behind it): a protocol through its passthrough where the
/// outer terminal speaks one and tmux lets it through; else half-blocks, saying what to set.
fn through_tmux(
    t: &TmuxClient,
    forced: Option<Protocol>,
    cell: Option<((u16, u16), &str)>,
) -> Choice {
    // Empty when no client is attached (the session is detached).
    let terminal = [&t.terminal, &t.term]
        .into_iter()
        .find(|n| !n.is_empty())
        .map_or_else(|| "an unknown terminal".to_owned(), |n| n.clone());
    let halfblocks = |why: String| Choice { terminal: terminal.clone(), ..Choice::halfblocks(why) };
    if forced == Some(Protocol::Halfblocks) {
        return halfblocks("[tui] graphics = \"halfblocks\"".into());
    }
    let tmux = format!("tmux {} in {terminal}", t.version);
    if !t.passthrough {
        let how = if t.has_passthrough_option() {
            "add `set -g allow-passthrough on` to ~/.tmux.conf (then `tmux source ~/.tmux.conf`)"
        } else {
            "images pass through tmux 3.3 and newer with `set -g allow-passthrough on`"
        };
        return halfblocks(format!("{tmux}: tmux passes no images through; {how}"));
    }
    let outer = t.outer();
    let auto = match outer {
        Outer::Kitty => Some((Protocol::Kitty, "kitty graphics through tmux")),
        Outer::Iterm2 => Some((Protocol::Iterm2, "iTerm2 images through tmux")),
        Outer::Xterm | Outer::Other => None,
    };
    let (protocol, how) = match (forced, auto) {
        (Some(p), _) => (p, "[tui] graphics forces it, through tmux"),
        (None, Some(a)) => a,
        (None, None) if outer == Outer::Xterm => {
            return halfblocks(format!(
                "{tmux}: tmux cannot tell whether xterm draws sixel; if it runs as `xterm -ti \
                 vt340`, set [tui] graphics = \"sixel\""
            ));
        }
        (None, None) => {
            return halfblocks(format!(
                "{tmux}: no image protocol known for that terminal through tmux; [tui] \
                 graphics forces one"
            ));
        }
    };
    let (cell, from) = match (t.cell, cell) {
        (Some(c), _) => (c, "from tmux"),
        (None, Some((c, from))) => (c, from),
        (None, None) => {
            return halfblocks(format!("{tmux}: the cell size in pixels is unknown"));
        }
    };
    // xterm's default largest sixel; tmux cannot ask (XTSMGRAPHICS replies stay in tmux).
    let max_px = (protocol == Protocol::Sixel && outer == Outer::Xterm).then_some((1000, 1000));
    let focus = if t.focus_events {
        ""
    } else {
        "; `set -g focus-events on` redraws the photo when you come back to this pane"
    };
    Choice {
        protocol,
        cell,
        max_px,
        terminal,
        why: format!("{tmux}: {how} (allow-passthrough is on); cells {from}{focus}"),
        tmux_origin: Some(t.origin),
    }
}

/// The cell size in pixels and where it came from.
fn cell_size(report: &TermReport, env: &TermEnv) -> (Option<(u16, u16)>, &'static str) {
    if let Some(c) = report.cell_px.filter(|c| c.0 > 0 && c.1 > 0) {
        return (Some(c), "from the terminal (CSI 16 t)");
    }
    let cells = env.winsize.map(|(c, r, ..)| (u32::from(c), u32::from(r)));
    if let (Some((w, h)), Some((c, r))) = (report.window_px, cells) {
        let cell = ((w / c) as u16, (h / r) as u16);
        if cell.0 > 0 && cell.1 > 0 {
            return (Some(cell), "from the window size (CSI 14 t)");
        }
    }
    if let Some((c, r, w, h)) = env.winsize {
        let cell = (w / c, h / r);
        if cell.0 > 0 && cell.1 > 0 {
            return (Some(cell), "from the window size (TIOCGWINSZ)");
        }
    }
    (None, "unknown")
}

/// Parses the replies to [`QUERY`] and [`SIXEL_QUERY`].
pub fn parse_replies(bytes: &[u8]) -> TermReport {
    let mut report = TermReport::default();
    for seq in sequences(bytes) {
        report.answered = true;
        match seq {
            Seq::Apc(body) => {
                if body.starts_with(b"Gi=31;") && body.ends_with(b"OK") {
                    report.kitty_graphics = true;
                }
            }
            Seq::Dcs(body) => {
                if let Some(v) = body.strip_prefix(b">|") {
                    report.version = Some(String::from_utf8_lossy(v).trim().to_owned());
                }
            }
            Seq::Csi { params, final_byte } => apply_csi(&mut report, params, final_byte),
        }
    }
    report
}

fn apply_csi(report: &mut TermReport, params: &[u8], final_byte: u8) {
    let text = String::from_utf8_lossy(params);
    let (private, text) = match text.strip_prefix('?') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, text.into_owned()),
    };
    let nums: Vec<u32> = text.split(';').filter_map(|n| n.parse().ok()).collect();
    match (private, final_byte, nums.as_slice()) {
        (true, b'c', attrs) => {
            report.device_attrs =
                attrs.iter().map(|&a| a.min(u32::from(u16::MAX)) as u16).collect();
        }
        (false, b't', &[6, h, w]) => {
            report.cell_px = Some((w.min(u16::MAX.into()) as u16, h.min(u16::MAX.into()) as u16));
        }
        (false, b't', &[4, h, w]) => report.window_px = Some((w, h)),
        // XTSMGRAPHICS: item;status;value(s); status 0 = success.
        (true, b'S', &[1, 0, n]) => report.color_registers = Some(n),
        (true, b'S', &[2, 0, w, h]) => report.sixel_max = Some((w, h)),
        _ => {}
    }
}

enum Seq<'a> {
    Apc(&'a [u8]),
    Dcs(&'a [u8]),
    Csi { params: &'a [u8], final_byte: u8 },
}

/// Splits terminal replies into escape sequences; stray bytes in between are skipped.
fn sequences(bytes: &[u8]) -> Vec<Seq<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != 0x1b || i + 1 >= bytes.len() {
            i += 1;
            continue;
        }
        let start = i + 2;
        match bytes[i + 1] {
            b'[' => {
                let end = (start..bytes.len()).find(|&j| (0x40..=0x7e).contains(&bytes[j]));
                match end {
                    Some(j) => {
                        out.push(Seq::Csi { params: &bytes[start..j], final_byte: bytes[j] });
                        i = j + 1;
                    }
                    None => break,
                }
            }
            kind @ (b'_' | b'P') => {
                let end = (start..bytes.len().saturating_sub(1))
                    .find(|&j| bytes[j] == 0x1b && bytes[j + 1] == b'\\');
                match end {
                    Some(j) => {
                        let body = &bytes[start..j];
                        out.push(if kind == b'_' { Seq::Apc(body) } else { Seq::Dcs(body) });
                        i = j + 2;
                    }
                    None => break,
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Kitty graphics query (a 1×1 image that is never stored), XTVERSION, primary device
/// attributes, cell size and text area size in pixels, then a status report that every
/// terminal answers, so the reader knows when the replies are complete.
pub const QUERY: &str =
    "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[>0q\x1b[c\x1b[16t\x1b[14t\x1b[5n";
/// Sent only to terminals that listed sixel: the largest sixel image and the colour
/// registers (XTSMGRAPHICS; kitty logs a parse error for it, so it is not sent blindly).
pub const SIXEL_QUERY: &str = "\x1b[?2;1;0S\x1b[?1;1;0S\x1b[5n";

/// Asks the terminal on stdin/stdout (which must be in raw mode) and parses its replies.
/// Waits at most `timeout` for each round; a terminal that answers nothing costs that once.
pub fn probe(timeout: Duration) -> io::Result<TermReport> {
    let mut replies = ask(QUERY, timeout)?;
    let first = parse_replies(&replies);
    if first.sixel() {
        replies.extend(ask(SIXEL_QUERY, timeout)?);
    }
    Ok(parse_replies(&replies))
}

/// Writes `query` and reads replies until the status report (`CSI 0 n`) or the timeout.
fn ask(query: &str, timeout: Duration) -> io::Result<Vec<u8>> {
    let mut out = io::stdout();
    out.write_all(query.as_bytes())?;
    out.flush()?;
    let end = Instant::now() + timeout;
    let mut replies = Vec::new();
    let mut stdin = io::stdin();
    let fd = stdin.as_raw_fd();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(replies);
        }
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd, counted as 1.
        let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(replies);
        }
        let mut buf = [0u8; 512];
        let read = stdin.read(&mut buf)?;
        if read == 0 {
            return Ok(replies);
        }
        replies.extend_from_slice(&buf[..read]);
        if replies.windows(4).any(|w| w == b"\x1b[0n") {
            return Ok(replies);
        }
    }
}

/// Probes the terminal (unless the setting forces half-blocks) and chooses. Stdin and stdout
/// must be the terminal, in raw mode.
pub fn detect(forced: Option<Protocol>, timeout: Duration) -> Choice {
    let env = TermEnv::current();
    if forced == Some(Protocol::Halfblocks) {
        return choose(&TermReport::default(), &env, forced);
    }
    match probe(timeout) {
        Ok(report) => choose(&report, &env, forced),
        Err(err) => {
            let mut c = choose(&TermReport::default(), &env, forced);
            if forced.is_none() {
                c.why = format!("cannot probe the terminal ({err})");
            }
            c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from xterm 379 started as `xterm -ti vt340` under Xvfb (10×20 px cells);
    /// `CSI 16 t` and `CSI 14 t` get no answer there (window ops are off by default).
    const XTERM_379: &[u8] = b"\x1b[?63;1;2;4;6;9;15;16;22;28c\x1bP>|XTerm(379)\x1b\\\x1b[0n\
        \x1b[?2;0;1000;960S\x1b[?1;0;1024S\x1b[0n";
    /// Recorded from kitty 0.26.5 (Debian 12) under Xvfb.
    const KITTY_0265: &[u8] = b"\x1b_Gi=31;OK\x1b\\\x1bP>|kitty(0.26.5)\x1b\\\x1b[?62;c\
        \x1b[6;20;9t\x1b[4;800;1197t\x1b[0n";

    fn env(cols: u16, rows: u16, w: u16, h: u16) -> TermEnv {
        TermEnv { winsize: Some((cols, rows, w, h)), ..Default::default() }
    }

    #[test]
    fn xterm_vt340_gets_sixel_within_its_maximum_size() {
        let r = parse_replies(XTERM_379);
        assert!(r.sixel());
        assert_eq!(r.version.as_deref(), Some("XTerm(379)"));
        assert_eq!(r.sixel_max, Some((1000, 960)));
        assert_eq!(r.color_registers, Some(1024));
        assert_eq!(r.cell_px, None);
        let c = choose(&r, &env(160, 48, 1604, 964), None);
        assert_eq!(c.protocol, Protocol::Sixel);
        assert_eq!(c.cell, (10, 20));
        assert_eq!(c.max_px, Some((1000, 960)));
        assert_eq!(c.area_px(130, 46), (1000, 920));
        assert!(c.why.contains("TIOCGWINSZ"), "{}", c.why);
    }

    #[test]
    fn old_kitty_gets_direct_placement() {
        let r = parse_replies(KITTY_0265);
        assert!(r.kitty_graphics && !r.sixel());
        assert_eq!(r.cell_px, Some((9, 20)));
        assert_eq!(r.window_px, Some((1197, 800)));
        let c = choose(&r, &env(133, 40, 1197, 800), None);
        assert_eq!(c.protocol, Protocol::Kitty);
        assert_eq!(c.cell, (9, 20));
        assert_eq!(c.terminal, "kitty(0.26.5)");
    }

    #[test]
    fn no_answer_or_no_cell_size_means_half_blocks() {
        let c = choose(&TermReport::default(), &env(80, 24, 0, 0), None);
        assert_eq!(c.protocol, Protocol::Halfblocks);
        assert!(c.why.contains("did not answer"));
        let r = parse_replies(b"\x1b[?62;4c\x1b[0n");
        let c = choose(&r, &env(80, 24, 0, 0), None);
        assert_eq!(c.protocol, Protocol::Halfblocks);
        assert!(c.why.contains("no cell size"), "{}", c.why);
        // A terminal with no graphics at all.
        let r = parse_replies(b"\x1b[?62;22c\x1b[6;16;8t\x1b[0n");
        assert_eq!(choose(&r, &env(80, 24, 0, 0), None).protocol, Protocol::Halfblocks);
    }

    #[test]
    fn iterm2_from_the_environment_and_tmux_falls_back() {
        let r = parse_replies(b"\x1b[?62;4c\x1b[6;16;8t\x1b[0n");
        let e = TermEnv { term_program: Some("iTerm.app".into()), ..env(80, 24, 0, 0) };
        assert_eq!(choose(&r, &e, None).protocol, Protocol::Iterm2);
        let e = TermEnv { in_tmux: true, ..env(80, 24, 0, 0) };
        assert_eq!(choose(&r, &e, None).protocol, Protocol::Halfblocks);
        assert_eq!(choose(&r, &e, Some(Protocol::Sixel)).protocol, Protocol::Sixel);
    }

    /// Issue 30, item 5: inside tmux (which answers the probe itself) the choice follows what
    /// tmux says of the terminal behind it.
    #[test]
    fn inside_tmux_images_pass_through_where_tmux_and_the_terminal_allow() {
        let tmux_report = parse_replies(b"\x1b[?1;2c\x1bP>|tmux 3.3a\x1b\\\x1b[0n");
        let client = |line: &str| TermEnv {
            in_tmux: true,
            tmux: TmuxClient::parse(line),
            ..env(160, 47, 0, 0)
        };
        let kitty = client("3.3a\tkitty(0.26.5)\txterm-kitty\t1\t9\t18\t0\t0\toff\tbottom\t1");
        let c = choose(&tmux_report, &kitty, None);
        assert_eq!((c.protocol, c.cell, c.tmux_origin), (Protocol::Kitty, (9, 18), Some((0, 0))));
        // Passthrough off: half-blocks, and the line to add.
        let off = client("3.3a\tkitty(0.26.5)\txterm-kitty\t0\t9\t18\t0\t0\ton\tbottom\t0");
        let c = choose(&tmux_report, &off, None);
        assert_eq!(c.protocol, Protocol::Halfblocks);
        assert!(c.why.contains("set -g allow-passthrough on"), "{}", c.why);
        // xterm: tmux cannot tell whether it draws sixel; forced, it goes through.
        let xterm = client("3.3a\tXTerm(379)\txterm\t1\t8\t17\t0\t1\ton\ttop\t0");
        let c = choose(&tmux_report, &xterm, None);
        assert_eq!(c.protocol, Protocol::Halfblocks);
        assert!(c.why.contains("graphics = \"sixel\""), "{}", c.why);
        let c = choose(&tmux_report, &xterm, Some(Protocol::Sixel));
        assert_eq!(
            (c.protocol, c.tmux_origin, c.max_px),
            (Protocol::Sixel, Some((0, 2)), Some((1000, 1000)))
        );
        assert!(c.why.contains("focus-events on"), "{}", c.why);
    }

    #[test]
    fn forced_protocols_keep_a_cell_size() {
        let c = choose(&TermReport::default(), &env(80, 24, 0, 0), Some(Protocol::Kitty));
        assert_eq!((c.protocol, c.cell), (Protocol::Kitty, FALLBACK_CELL));
        let c = choose(&parse_replies(KITTY_0265), &env(133, 40, 0, 0), Some(Protocol::Sixel));
        assert_eq!((c.protocol, c.cell), (Protocol::Sixel, (9, 20)));
        assert_eq!(parse_setting("auto"), Ok(None));
        assert_eq!(parse_setting("sixel"), Ok(Some(Protocol::Sixel)));
        assert!(parse_setting("ascii").is_err());
    }

    #[test]
    fn garbage_between_replies_is_skipped() {
        let r = parse_replies(b"xx\x1b\x1bP>|foot(1.13.1)\x1b\\zz\x1b[?65;4;1c\x1b[6;17;8t");
        assert_eq!(r.version.as_deref(), Some("foot(1.13.1)"));
        assert!(r.sixel());
        assert_eq!(r.cell_px, Some((8, 17)));
    }
}
