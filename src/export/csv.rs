//! `picks.csv`: one row per pick (RFC 4180 quoting), for a spreadsheet or a print shop's form.

use std::fmt::Write as _;

use super::{ExportedPick, Outcome};

pub const HEADER: &str =
    "exported_file,original_path,date,p,model_version,width,height,print_check,status";

/// The whole file, header first, rows in export order.
pub fn render(picks: &[ExportedPick]) -> String {
    let mut out = String::with_capacity(64 + picks.len() * 160);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for e in picks {
        let photo = &e.pick.photo;
        let fields = [
            e.exported_name().unwrap_or_default(),
            e.source.as_deref().unwrap_or(&photo.path).to_string_lossy().into_owned(),
            photo.taken_at.map(format_timestamp).unwrap_or_default(),
            e.pick.p.map(|p| format!("{p:.4}")).unwrap_or_default(),
            e.pick.model.map(|m| m.0.to_string()).unwrap_or_default(),
            photo.width.map(|w| w.to_string()).unwrap_or_default(),
            photo.height.map(|h| h.to_string()).unwrap_or_default(),
            e.print.map(|c| c.to_string()).unwrap_or_default(),
            status(&e.outcome),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_field(&mut out, field);
        }
        out.push_str("\r\n");
    }
    out
}

fn status(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Copied { .. } => "copied".into(),
        Outcome::AlreadyThere { .. } => "already exported".into(),
        Outcome::Missing => "missing original".into(),
        Outcome::Failed { error } => format!("failed: {error}"),
    }
}

fn push_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

/// `YYYY-MM-DD HH:MM:SS` for seconds since 1970 read as UTC (the catalog stores the camera's
/// wall clock that way, so this prints the time the camera showed).
pub fn format_timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = String::with_capacity(19);
    let _ =
        write!(s, "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    s
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
    fn timestamps_format_as_calendar_dates() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(format_timestamp(1_700_000_000), "2023-11-14 22:13:20");
        assert_eq!(format_timestamp(-1), "1969-12-31 23:59:59");
    }

    #[test]
    fn fields_with_commas_and_quotes_are_quoted() {
        let mut s = String::new();
        push_field(&mut s, "a, \"b\"");
        assert_eq!(s, "\"a, \"\"b\"\"\"");
        let mut s = String::new();
        push_field(&mut s, "plain");
        assert_eq!(s, "plain");
    }
}
