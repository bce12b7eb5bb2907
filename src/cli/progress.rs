//! One look for the progress bars of long commands (scan, embed): the same layout, rate and
//! ETA, drawn on stderr only when it is a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar for `what` (e.g. "embedding") counting `unit`s (e.g. "photos"); its message shows
/// what the count cannot (the rate, a phase).
pub fn bar(what: &str, unit: &str) -> ProgressBar {
    #[allow(clippy::disallowed_methods, reason = "asks whether stderr is a terminal")]
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10))
    } else {
        ProgressBar::hidden()
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar.set_style(style(what, unit));
    bar
}

/// The bars' look, for a bar that changes what it counts (the scan going on to embedding).
pub fn style(what: &str, unit: &str) -> ProgressStyle {
    let template =
        format!("{{spinner}} {what:<12} [{{bar:30}}] {{pos}}/{{len}} {unit}  {{msg}}  ETA {{eta}}");
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
