//! `photosift doctor`: what this terminal is, which image protocol the TUI uses in it, and why.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use photosift::config::Config;
use photosift::show;
use photosift::tui::graphics::{self, TermEnv, TermReport};
use photosift::tui::tmux::{Outer, TmuxClient};

use super::out::say;

/// Probes the terminal as the labeling TUI does and prints what it found.
pub fn run(config: &Config) -> Result<()> {
    let forced = graphics::parse_setting(&config.tui.graphics).map_err(anyhow::Error::msg)?;
    let env = TermEnv::current();
    #[allow(clippy::disallowed_methods, reason = "asks whether stdout is a terminal")]
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let (report, took) = if terminal {
        crossterm::terminal::enable_raw_mode().context("cannot switch the terminal to raw mode")?;
        let t = Instant::now();
        let report = graphics::probe(Duration::from_millis(500));
        let took = t.elapsed();
        crossterm::terminal::disable_raw_mode().context("cannot restore the terminal")?;
        (report.context("cannot probe the terminal")?, took)
    } else {
        (TermReport::default(), Duration::ZERO)
    };
    let choice = graphics::choose(&report, &env, forced);
    // Values from the environment and the terminal's replies: outside text, one line each.
    let or_none = |v: Option<String>| v.map_or_else(|| "–".into(), |v| show::text(&v));
    say!("photosift {} doctor", env!("CARGO_PKG_VERSION"));
    say!();
    if !terminal {
        say!("stdin/stdout are not both a terminal: nothing to ask (the TUI needs one).");
    }
    say!("terminal            {}", show::text(&choice.terminal));
    say!("TERM                {}", or_none(env.term.clone()));
    say!("TERM_PROGRAM        {}", or_none(env.term_program.clone()));
    say!("inside tmux/screen  {}", if env.in_tmux { "yes" } else { "no" });
    if env.in_tmux {
        tmux_advice(env.tmux.as_ref(), &choice);
    }
    if let Some((c, r, w, h)) = env.winsize {
        say!("window              {c}×{r} cells, {w}×{h} px (TIOCGWINSZ; 0 = not reported)");
    }
    say!();
    say!("probe replies ({} ms):", took.as_millis());
    say!("  kitty graphics    {}", if report.kitty_graphics { "OK" } else { "no reply" });
    say!(
        "  device attributes {}",
        if report.device_attrs.is_empty() {
            "no reply".into()
        } else {
            let attrs: Vec<String> = report.device_attrs.iter().map(u16::to_string).collect();
            format!("{} (sixel: {})", attrs.join(";"), if report.sixel() { "yes" } else { "no" })
        }
    );
    say!("  XTVERSION         {}", or_none(report.version.clone()));
    let px = |v: Option<(u32, u32)>| v.map(|(w, h)| format!("{w}×{h} px"));
    say!("  cell size         {}", or_none(report.cell_px.map(|(w, h)| format!("{w}×{h} px"))));
    say!("  text area         {}", or_none(px(report.window_px)));
    say!("  sixel max size    {}", or_none(px(report.sixel_max)));
    say!("  colour registers  {}", or_none(report.color_registers.map(|n| n.to_string())));
    say!();
    say!("[tui] graphics      \"{}\"", show::text(&config.tui.graphics));
    say!("protocol            {}", choice.protocol.name());
    say!("cell size used      {}×{} px", choice.cell.0, choice.cell.1);
    if let Some((w, h)) = choice.max_px {
        say!("largest image       {w}×{h} px (the terminal's limit)");
    }
    say!("why                 {}", show::text(&choice.why));
    say!();
    let (present, place) = photosift::pipeline::configured_weights(config);
    say!("[embed] backbone    {}", config.embed.backbone.name());
    say!(
        "backbone weights    {} ({})",
        if present {
            "present"
        } else {
            "MISSING: `photosift embed` with network access downloads them"
        },
        show::text(&place)
    );
    Ok(())
}

/// Inside tmux: what tmux says about the terminal behind it, and exactly what to set for the
/// photo to pass through.
fn tmux_advice(tmux: Option<&TmuxClient>, choice: &graphics::Choice) {
    let Some(t) = tmux else {
        say!("  tmux did not answer `tmux display-message` (screen, or tmux before 3.3): photos");
        say!("  pass through tmux 3.3 and newer only, with `set -g allow-passthrough on`");
        return;
    };
    let on = |b: bool| if b { "on" } else { "off" };
    say!("  tmux              {}", show::text(&t.version));
    let or_dash = |v: &str| if v.is_empty() { "–".to_owned() } else { show::text(v) };
    say!("  outer terminal    {} (TERM {})", or_dash(&t.terminal), or_dash(&t.term));
    say!("  allow-passthrough {}", on(t.passthrough));
    say!("  focus-events      {}", on(t.focus_events));
    let mut lines = Vec::new();
    if !t.has_passthrough_option() {
        say!("  tmux {} has no passthrough: photos need tmux 3.3 or newer", show::text(&t.version));
    } else if !t.passthrough {
        lines.push("set -g allow-passthrough on");
    }
    if !t.focus_events {
        lines.push("set -g focus-events on");
    }
    if !lines.is_empty() {
        say!("  add to ~/.tmux.conf, then `tmux source ~/.tmux.conf`:");
        for l in lines {
            say!("    {l}");
        }
    }
    if t.outer() == Outer::Xterm && choice.protocol == graphics::Protocol::Halfblocks {
        say!("  xterm: tmux cannot tell whether it draws sixel; if it runs as `xterm -ti vt340`,");
        say!("  set [tui] graphics = \"sixel\" in config.toml");
    }
}
