//! When a photo was taken, from wherever it is, in this order: EXIF DateTimeOriginal (with its
//! OffsetTime when present; HEIC's EXIF too), a Google Takeout JSON sidecar, a date in the
//! file name (`IMG_20190512_123456.jpg`, `PXL_20210101_101010123.jpg`,
//! `IMG-20190512-WA0003.jpg`, `Screenshot_2019-05-12-12-34-56.png`,
//! `signal-2020-01-01-101010.jpg`, ...), else the file's modification time, marked a guess.

use std::path::Path;

use crate::catalog::TakenSource;
use crate::imaging::exif_meta::{ExifFacts, days_from_civil};

/// A capture time: seconds on the clock where the photo was taken, read as UTC (the scale the
/// catalog has always used, so bursts and a day's order compare clock readings), with the
/// clock's offset east of UTC when known. Sidecar and file times are UTC instants (offset 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureTime {
    pub at: i64,
    pub offset_minutes: Option<i32>,
    pub source: TakenSource,
}

/// The best capture time for a photo. `sidecar_json` is the content of its Takeout sidecar,
/// if it has one; `mtime_ns` the file's modification time.
pub fn resolve(
    path: &Path,
    exif: &ExifFacts,
    sidecar_json: Option<&[u8]>,
    mtime_ns: i64,
) -> CaptureTime {
    if let Some(at) = exif.taken_at {
        return CaptureTime { at, offset_minutes: exif.offset_minutes, source: TakenSource::Exif };
    }
    if let Some(at) = sidecar_json.and_then(takeout_taken_time) {
        return CaptureTime { at, offset_minutes: Some(0), source: TakenSource::Sidecar };
    }
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    if let Some(at) = date_from_file_name(&name) {
        return CaptureTime { at, offset_minutes: None, source: TakenSource::FileName };
    }
    CaptureTime {
        at: mtime_ns.div_euclid(1_000_000_000),
        offset_minutes: Some(0),
        source: TakenSource::FileTime,
    }
}

/// `photoTakenTime.timestamp` of a Takeout sidecar (a string of seconds, or a number).
pub fn takeout_taken_time(json: &[u8]) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let ts = v.get("photoTakenTime")?.get("timestamp")?;
    let secs = match ts {
        serde_json::Value::String(s) => s.trim().parse::<i64>().ok()?,
        serde_json::Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (secs > 0).then_some(secs)
}

/// A date (and time, when there is one) in a phone's or messenger's file name, as clock
/// seconds read as UTC. A name with only a date (`IMG-20190512-WA0003.jpg`) gets noon, which
/// keeps it on its day whatever the time zone.
pub fn date_from_file_name(name: &str) -> Option<i64> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(7))
        .filter(|&i| i == 0 || !b[i - 1].is_ascii_digit())
        .find_map(|i| parse_at(b, i))
}

fn parse_at(b: &[u8], i: usize) -> Option<i64> {
    let year = num(b, i, 4)?;
    if !(1990..=2100).contains(&year) {
        return None;
    }
    // YYYYMMDD, or YYYY-MM-DD with one of - _ . between.
    let (month, day, mut j, compact) =
        if let (Some(m), Some(d)) = (num(b, i + 4, 2), num(b, i + 6, 2)) {
            (m, d, i + 8, true)
        } else {
            let sep = *b.get(i + 4)?;
            if !matches!(sep, b'-' | b'_' | b'.') || b.get(i + 7) != Some(&sep) {
                return None;
            }
            (num(b, i + 5, 2)?, num(b, i + 8, 2)?, i + 10, false)
        };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
    // 14 digits in a row (YYYYMMDDHHMMSS) run straight into the time.
    let contiguous = compact && b.get(j).is_some_and(u8::is_ascii_digit);
    if !contiguous {
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        if b[j.min(b.len())..].starts_with(b" at ") {
            j += 4;
        } else if b.get(j).is_some_and(|c| matches!(c, b'_' | b'-' | b' ' | b'T' | b'.')) {
            j += 1;
        }
    }
    let secs = time_at(b, j).unwrap_or(12 * 3600);
    Some(days * 86_400 + secs)
}

/// HHMMSS (more digits may follow: milliseconds) or HH-MM-SS with one of - _ . : between.
fn time_at(b: &[u8], j: usize) -> Option<i64> {
    let (h, m, s) =
        if let (Some(h), Some(m), Some(s)) = (num(b, j, 2), num(b, j + 2, 2), num(b, j + 4, 2)) {
            (h, m, s)
        } else {
            let sep = *b.get(j + 2)?;
            if !matches!(sep, b'-' | b'_' | b'.' | b':') || b.get(j + 5) != Some(&sep) {
                return None;
            }
            (num(b, j, 2)?, num(b, j + 3, 2)?, num(b, j + 6, 2)?)
        };
    (h < 24 && m < 60 && s < 61).then(|| i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s))
}

/// Exactly `n` ASCII digits at `at`, as a number.
fn num(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = b.get(at..at + n)?;
    digits
        .iter()
        .all(u8::is_ascii_digit)
        .then(|| digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::exif_meta::parse_exif_datetime;

    fn clock(s: &str) -> i64 {
        parse_exif_datetime(s.as_bytes()).unwrap()
    }

    #[test]
    fn phone_and_messenger_file_names_give_their_dates() {
        let cases = [
            ("IMG_20190512_123456.jpg", "2019:05:12 12:34:56"),
            ("PXL_20210101_101010123.jpg", "2021:01:01 10:10:10"),
            ("IMG-20190512-WA0003.jpg", "2019:05:12 12:00:00"),
            ("Screenshot_2019-05-12-12-34-56.png", "2019:05:12 12:34:56"),
            ("Screenshot_20190512-123456.png", "2019:05:12 12:34:56"),
            ("Screenshot 2019-05-12 at 12.34.56.png", "2019:05:12 12:34:56"),
            ("signal-2020-01-01-101010.jpg", "2020:01:01 10:10:10"),
            ("signal-2020-01-01-10-10-10-123.jpg", "2020:01:01 10:10:10"),
            ("photo_2020-03-04_05-06-07.jpg", "2020:03:04 05:06:07"),
            ("20190512_123456.jpg", "2019:05:12 12:34:56"),
            ("VID_20190512123456.mp4", "2019:05:12 12:34:56"),
        ];
        for (name, want) in cases {
            assert_eq!(date_from_file_name(name), Some(clock(want)), "{name}");
        }
    }

    #[test]
    fn names_without_a_date_give_none() {
        for name in [
            "IMG_1234.jpg",
            "DSC01234.JPG",
            "holiday 2019.jpg",
            "IMG_20191399_000000.jpg",
            "123456789.jpg",
        ] {
            assert_eq!(date_from_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn sources_are_tried_in_order() {
        let path = Path::new("/p/IMG_20190512_123456.jpg");
        let json =
            br#"{"title":"x","photoTakenTime":{"timestamp":"1557664496","formatted":"..."}}"#;
        let exif = ExifFacts {
            taken_at: Some(clock("2019:05:12 10:00:00")),
            offset_minutes: Some(120),
            ..Default::default()
        };
        let t = resolve(path, &exif, Some(json), 0);
        assert_eq!((t.source, t.offset_minutes), (TakenSource::Exif, Some(120)));
        let t = resolve(path, &ExifFacts::default(), Some(json), 0);
        assert_eq!((t.source, t.at), (TakenSource::Sidecar, 1_557_664_496));
        let t = resolve(path, &ExifFacts::default(), Some(b"{}"), 0);
        assert_eq!((t.source, t.at), (TakenSource::FileName, clock("2019:05:12 12:34:56")));
        let t =
            resolve(Path::new("/p/a.jpg"), &ExifFacts::default(), None, 1_600_000_000_123_000_000);
        assert_eq!((t.source, t.at), (TakenSource::FileTime, 1_600_000_000));
    }

    #[test]
    fn takeout_timestamps_read_as_strings_or_numbers() {
        assert_eq!(takeout_taken_time(br#"{"photoTakenTime":{"timestamp":"17"}}"#), Some(17));
        assert_eq!(takeout_taken_time(br#"{"photoTakenTime":{"timestamp":18}}"#), Some(18));
        assert_eq!(takeout_taken_time(br#"{"photoTakenTime":{"timestamp":"0"}}"#), None);
        assert_eq!(takeout_taken_time(b"not json"), None);
    }
}
