//! `picks.csv`: one row per pick (RFC 4180 quoting), for a spreadsheet or a print shop's form.
//!
//! Columns: `exported_file` (the copy's name in the export folder), `original_path`, `date`
//! (capture time), `p` (the model's p(desirable)), `model_version`, `width`, `height`,
//! `print_check`, `status`, and `original_path_bytes`: the original's path exactly, its bytes
//! percent-encoded (RFC 3986: anything but letters, digits, `-._~/` is `%XX`), so a name that
//! is not UTF-8 or holds control characters still finds its file.
//!
//! Names are outside text, and a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`
//! (or a tab or carriage return before one) as a formula: such a field gets a leading `'`
//! (OWASP's rule for CSV injection), and control and bidi characters in text fields are
//! escaped (`\u{1b}`, as `photosift::show` writes them).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{ExportedPick, Outcome};
use crate::show;

pub const HEADER: &str = "exported_file,original_path,date,p,model_version,width,height,\
                          print_check,status,original_path_bytes";

/// The whole file, header first, rows in export order.
pub fn render(picks: &[ExportedPick]) -> String {
    let mut out = String::with_capacity(64 + picks.len() * 200);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for e in picks {
        let photo = &e.pick.photo;
        let original = e.source.as_deref().unwrap_or(&photo.path);
        let fields = [
            text(&e.exported_name_escaped().unwrap_or_default()),
            text(&show::path(original)),
            photo.taken_at.map(show::capture_time).unwrap_or_default(),
            e.pick.p.map(|p| format!("{p:.4}")).unwrap_or_default(),
            e.pick.model.map(|m| m.0.to_string()).unwrap_or_default(),
            photo.width.map(|w| w.to_string()).unwrap_or_default(),
            photo.height.map(|h| h.to_string()).unwrap_or_default(),
            e.print.map(|c| c.to_string()).unwrap_or_default(),
            text(&show::text(&status(&e.outcome))),
            percent_encoded(original),
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

/// A text field a spreadsheet must show as text: one that would start a formula gets a
/// leading `'` (the escaping of control characters happened before, in `show`).
fn text(field: &str) -> String {
    // `\t` and `\r` are escaped by `show` already; checked anyway, as OWASP lists them.
    if field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{field}")
    } else {
        field.to_owned()
    }
}

/// The path's bytes, percent-encoded (RFC 3986 unreserved characters and `/` stay).
fn percent_encoded(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn status(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Copied { .. } => "copied".into(),
        Outcome::AlreadyThere { .. } => "already there".into(),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 31, item 6: names such as `=HYPERLINK("http://x","y").jpg` and `+cmd.jpg` went
    /// into picks.csv as they were (a spreadsheet runs them), with raw ESC bytes, and a name
    /// that is not UTF-8 became U+FFFD, so the path no longer found the file.
    #[test]
    fn formulas_are_neutralised_controls_escaped_and_the_exact_path_kept() {
        for (name, shown) in [
            ("=HYPERLINK(\"http://x\",\"y\").jpg", "'=HYPERLINK(\"http://x\",\"y\").jpg"),
            ("+cmd.jpg", "'+cmd.jpg"),
            ("-2+3.jpg", "'-2+3.jpg"),
            ("@SUM(1).jpg", "'@SUM(1).jpg"),
            ("\tx.jpg", "\\tx.jpg"),
            ("a=b.jpg", "a=b.jpg"),
        ] {
            assert_eq!(text(&show::text(name)), shown);
        }
        assert_eq!(text(&show::text("\u{1b}]52;c;x\u{7}.jpg")), "\\u{1b}]52;c;x\\u{7}.jpg");
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/p/\xff ok,\n=x.jpg"));
        assert_eq!(percent_encoded(odd), "/p/%FF%20ok%2C%0A%3Dx.jpg");
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
