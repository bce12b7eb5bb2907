//! The command line's one door to the terminal: every line photosift prints (results on
//! stdout, notes and errors on stderr, the log) goes through here, escaped by
//! `photosift::show::layout`, so outside text (names, EXIF, the config, the environment) can
//! neither drive the terminal nor reorder what is shown, whichever message carries it.
//!
//! `println!`/`eprintln!` are refused by clippy in this crate (`clippy::print_stdout`,
//! `clippy::print_stderr` in main.rs) and `std::io::stdout`/`stderr` by clippy.toml's
//! `disallowed-methods`, so printing around this door takes a visible `#[allow]`. The one
//! such place on purpose: `queue --null` writes paths raw for `xargs -0`.

use std::io::{self, Write};

/// Prints a formatted line on stdout, escaped (`println!` through the door).
macro_rules! say {
    () => {
        $crate::cli::out::stdout_text("\n")
    };
    ($($arg:tt)*) => {
        $crate::cli::out::stdout_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a formatted line on stderr, escaped (`eprintln!` through the door).
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr_text(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {note, say};

/// Writes `text` (whole lines, or a table) on stdout, escaped. A write error other than a
/// closed pipe (which SIGPIPE ends quietly) ends the process with a message: output that
/// cannot be written is not a result.
pub fn stdout_text(text: &str) {
    #[allow(clippy::disallowed_methods, reason = "the door itself")]
    let mut out = io::stdout().lock();
    let escaped = photosift::show::layout(text);
    if let Err(err) = out.write_all(escaped.as_bytes()).and_then(|()| out.flush()) {
        stderr_text(&format!("photosift: cannot write the output: {err}\n"));
        std::process::exit(1);
    }
}

/// Writes `text` on stderr, escaped. Errors are dropped: the terminal may be gone (a closed
/// SSH session), and there is nowhere else to say it.
pub fn stderr_text(text: &str) {
    #[allow(clippy::disallowed_methods, reason = "the door itself")]
    let mut err = io::stderr().lock();
    let _ = err.write_all(photosift::show::layout(text).as_bytes());
    let _ = err.flush();
}

/// The log's writer (tracing): each event through the door, like any other line.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // tracing formats an event into one buffer and writes it whole.
        stderr_text(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
