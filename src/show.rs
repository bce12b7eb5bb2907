//! How values are written for people: the one escaping path for text that comes from outside
//! (file and folder names, EXIF fields, the config, the environment) on its way to a
//! terminal or a log — control characters and the invisible characters that reorder or hide
//! text (bidi overrides and isolates, zero-width marks) are shown escaped, so a name can
//! neither drive the terminal (`ESC ] 52` writes the clipboard) nor disguise itself
//! (`U+202E` shows `gpj.exe` as `exe.jpg`) — and capture times as calendar dates.
//!
//! Two forms: [`text`], [`path`] and [`name`] put one value on one line (a newline in a name
//! is `\n`); [`layout`] keeps the newlines and tabs of a whole message and escapes the rest,
//! for the command line's single door to the terminal (`src/cli/out.rs`) and its log.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Whether `c` must not reach a terminal raw: C0/C1 controls and DEL, the bidirectional
/// formatting characters (embeddings, overrides, isolates and marks), and the invisible
/// separators and marks that hide or break text. Joiners (U+200C/U+200D) are left alone:
/// emoji and several scripts need them.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'               // ARABIC LETTER MARK
            | '\u{200B}'             // ZERO WIDTH SPACE
            | '\u{200E}' | '\u{200F}' // LEFT-TO-RIGHT / RIGHT-TO-LEFT MARK
            | '\u{2028}' | '\u{2029}' // LINE / PARAGRAPH SEPARATOR
            | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
            | '\u{2060}'..='\u{2064}' // WORD JOINER, invisible operators
            | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
            | '\u{206A}'..='\u{206F}' // deprecated format characters
            | '\u{FEFF}'             // ZERO WIDTH NO-BREAK SPACE (BOM)
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        )
}

/// `path` on one line without terminal control: unsafe characters (see [`is_unsafe`]) are
/// written as Rust escapes (`\n`, `\u{1b}`, `\u{202e}`), bytes that are not UTF-8 as `\xff`.
pub fn path(path: &Path) -> String {
    name(path.as_os_str())
}

/// [`path`] for any OS string (a file name).
pub fn name(name: &OsStr) -> String {
    match name.to_str() {
        Some(s) => text(s),
        None => {
            // Valid stretches are escaped like text; each invalid byte as \xNN.
            let mut out = String::new();
            for chunk in name.as_bytes().utf8_chunks() {
                out.push_str(&text(chunk.valid()));
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out
        }
    }
}

/// `s` on one line with its unsafe characters escaped (see [`is_unsafe`]).
pub fn text(s: &str) -> String {
    escape(s, |_| false)
}

/// A whole message, possibly over several lines: like [`text`], except that its newlines and
/// tabs stay (they are the message's own layout).
pub fn layout(s: &str) -> String {
    escape(s, |c| c == '\n' || c == '\t')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> String {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` for seconds since 1970 read as UTC. The catalog stores the camera's
/// wall clock that way, so this prints the time the camera showed.
pub fn capture_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// [`capture_time`] with the clock's zone when known: "2019-05-12 12:34:56 +02:00", and
/// "... UTC" for the instants of sidecars and file times.
pub fn capture_time_with_offset(secs: i64, offset_minutes: Option<i32>) -> String {
    match offset_minutes {
        None => capture_time(secs),
        Some(0) => format!("{} UTC", capture_time(secs)),
        Some(m) => {
            let sign = if m < 0 { '-' } else { '+' };
            format!("{} {sign}{:02}:{:02}", capture_time(secs), m.abs() / 60, m.abs() % 60)
        }
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
        assert_eq!(path(bytes), "/photos/\\xff\\u{1b}.jpg");
    }

    #[test]
    fn bidi_overrides_isolates_and_invisible_marks_are_escaped() {
        for c in ['\u{202e}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}']
        {
            let shown = text(&format!("photo{c}gpj.exe"));
            assert!(!shown.contains(c), "{c:?} reached the output: {shown}");
            assert!(shown.contains(&format!("\\u{{{:x}}}", c as u32)), "{shown}");
        }
        // A name that is not UTF-8 still has its bidi characters escaped.
        let mixed = OsStr::from_bytes(b"\xff\xe2\x80\xae.jpg");
        assert_eq!(name(mixed), "\\xff\\u{202e}.jpg");
        // Emoji and scripts that need joiners are left as they are.
        assert_eq!(text("👩\u{200d}👩\u{200d}👧 été"), "👩\u{200d}👩\u{200d}👧 été");
    }

    #[test]
    fn a_layout_keeps_newlines_and_tabs_and_escapes_the_rest() {
        assert_eq!(layout("a\tb\nc\u{1b}[2J\r\u{202e}"), "a\tb\nc\\u{1b}[2J\\r\\u{202e}");
        assert_eq!(text("a\tb\nc"), "a\\tb\\nc");
    }

    #[test]
    fn capture_times_are_calendar_dates() {
        assert_eq!(capture_time(0), "1970-01-01 00:00:00");
        assert_eq!(capture_time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(capture_time(1_686_756_120), "2023-06-14 15:22:00");
        assert_eq!(capture_time(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(capture_time(-1), "1969-12-31 23:59:59");
        assert_eq!(capture_time_with_offset(0, Some(120)), "1970-01-01 00:00:00 +02:00");
        assert_eq!(capture_time_with_offset(0, Some(-330)), "1970-01-01 00:00:00 -05:30");
        assert_eq!(capture_time_with_offset(0, Some(0)), "1970-01-01 00:00:00 UTC");
    }
}
