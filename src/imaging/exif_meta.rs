//! EXIF facts a scan records: orientation and when the photo was taken.

use std::io::Cursor;

use exif::{In, Reader, Tag, Value};

/// What the EXIF block says about a photo (all optional: many files have none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExifFacts {
    /// EXIF Orientation 1..=8 as stored in the file.
    pub orientation: Option<u8>,
    /// DateTimeOriginal (else DateTimeDigitized), the camera's clock read as UTC seconds.
    pub taken_at: Option<i64>,
    /// OffsetTimeOriginal (else OffsetTime) in minutes east of UTC: the camera clock's zone,
    /// so `taken_at - offset * 60` is the true UTC moment.
    pub offset_minutes: Option<i32>,
    /// The file names the camera that made it (EXIF Make or Model): not a screenshot.
    pub camera: bool,
}

/// Reads orientation and capture time from a file's bytes (JPEG, PNG, WebP, TIFF).
/// A missing or damaged EXIF block is not an error: the facts are simply absent.
pub fn read_exif(bytes: &[u8]) -> ExifFacts {
    match Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => facts(&exif),
        Err(_) => ExifFacts::default(),
    }
}

/// Reads the facts from a bare TIFF-structured EXIF block (as HEIF stores it).
pub fn read_exif_tiff(tiff: &[u8]) -> ExifFacts {
    match Reader::new().read_raw(tiff.to_vec()) {
        Ok(exif) => facts(&exif),
        Err(_) => ExifFacts::default(),
    }
}

fn facts(exif: &exif::Exif) -> ExifFacts {
    let orientation = exif
        .get_field(Tag::Orientation, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v));
    let taken_at = [Tag::DateTimeOriginal, Tag::DateTimeDigitized].into_iter().find_map(|tag| {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(parts) => parts.first().and_then(|s| parse_exif_datetime(s)),
            _ => None,
        }
    });
    let offset_minutes = [Tag::OffsetTimeOriginal, Tag::OffsetTime].into_iter().find_map(|tag| {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(parts) => parts.first().and_then(|s| parse_exif_offset(s)),
            _ => None,
        }
    });
    let camera = [Tag::Make, Tag::Model].into_iter().any(|tag| {
        matches!(&exif.get_field(tag, In::PRIMARY).map(|f| &f.value),
            Some(Value::Ascii(parts)) if parts.first().is_some_and(|s| s.iter().any(|c| c.is_ascii_alphanumeric())))
    });
    ExifFacts { orientation, taken_at, offset_minutes, camera }
}

/// "+02:00" / "-05:30" as minutes east of UTC.
pub fn parse_exif_offset(ascii: &[u8]) -> Option<i32> {
    let s = std::str::from_utf8(ascii).ok()?.trim_end_matches('\0').trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// "YYYY:MM:DD HH:MM:SS" as seconds since 1970, reading the clock as UTC (EXIF has no zone
/// unless OffsetTimeOriginal is present; ordering and burst gaps only need consistency).
pub fn parse_exif_datetime(ascii: &[u8]) -> Option<i64> {
    let dt = exif::DateTime::from_ascii(ascii).ok()?;
    if !(1..=12).contains(&dt.month) || !(1..=31).contains(&dt.day) || dt.year < 1800 {
        return None;
    }
    let days = days_from_civil(i64::from(dt.year), i64::from(dt.month), i64::from(dt.day));
    Some(
        days * 86_400
            + i64::from(dt.hour) * 3600
            + i64::from(dt.minute) * 60
            + i64::from(dt.second),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_datetime_reads_as_utc_seconds() {
        assert_eq!(parse_exif_datetime(b"1970:01:01 00:00:00"), Some(0));
        assert_eq!(parse_exif_datetime(b"2023:06:03 09:12:00"), Some(1_685_783_520));
        assert_eq!(parse_exif_datetime(b"2000:02:29 23:59:59"), Some(951_868_799));
    }

    #[test]
    fn blank_exif_datetime_is_absent() {
        assert_eq!(parse_exif_datetime(b"0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime(b"    :  :     :  :  "), None);
    }

    #[test]
    fn exif_offsets_read_as_minutes_east() {
        assert_eq!(parse_exif_offset(b"+02:00"), Some(120));
        assert_eq!(parse_exif_offset(b"-05:30"), Some(-330));
        assert_eq!(parse_exif_offset(b"+00:00"), Some(0));
        assert_eq!(parse_exif_offset(b"   :  "), None);
    }

    #[test]
    fn bytes_without_exif_give_no_facts() {
        assert_eq!(read_exif(b"not an image"), ExifFacts::default());
    }
}
