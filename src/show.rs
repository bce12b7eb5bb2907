//! Paths and file names made safe to print on a terminal: a newline, or an escape sequence
//! that would drive the terminal (move the cursor, retitle the window), is shown escaped.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path` on one line without terminal control: control characters are written as Rust
/// escapes (`\n`, `\u{1b}`), bytes that are not UTF-8 as `\xff`.
pub fn path(path: &Path) -> String {
    name(path.as_os_str())
}

/// [`path`] for any OS string (a file name).
pub fn name(name: &OsStr) -> String {
    match name.to_str() {
        Some(s) => text(s),
        None => name.as_bytes().escape_ascii().to_string(),
    }
}

/// `s` with its control characters escaped.
pub fn text(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_on_one_line_without_terminal_control() {
        assert_eq!(path(Path::new("/photos/été 2024.jpg")), "/photos/été 2024.jpg");
        assert_eq!(path(Path::new("/photos/a\nb.jpg")), "/photos/a\\nb.jpg");
        assert_eq!(path(Path::new("/photos/\u{1b}[3;3Hx.jpg")), "/photos/\\u{1b}[3;3Hx.jpg");
        let bytes = Path::new(OsStr::from_bytes(b"/photos/\xff\x1b.jpg"));
        assert_eq!(path(bytes), "/photos/\\xff\\x1b.jpg");
    }
}
