//! `picks.csv`: one row per pick (RFC 4180 quoting), for a spreadsheet or a print shop's form.

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
            photo.taken_at.map(crate::show::capture_time).unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
