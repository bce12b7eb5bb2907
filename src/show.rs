//! How values are written for people: paths and file names made safe to print on a terminal
//! (a newline, or an escape sequence that would drive the terminal, is shown escaped), and
//! capture times as calendar dates.

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
        assert_eq!(path(bytes), "/photos/\\xff\\x1b.jpg");
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
