//! The export's closing summary as text, for the command line to print.

use std::fmt::Write as _;

use super::{ExportSummary, Outcome};
use crate::show;

/// Lists shown in full up to this many entries, then "and N more" (picks.csv has them all).
const LIST_LIMIT: usize = 10;

impl ExportSummary {
    /// A few lines saying what was copied, what was skipped and why, which picks are too small
    /// to print, and where the CSV and contact sheets are.
    pub fn report(&self) -> String {
        let mut out = String::new();
        if self.picks.is_empty() {
            out.push_str(
                "Nothing to export: no photo is picked for print yet. Pick photos with W in \
                 best-first mode (`photosift label`), then export again.\n",
            );
            return out;
        }
        let exported = self.copied() + self.already_there();
        let _ = write!(
            out,
            "Exported {exported} of {} picks to {}: {} copied",
            self.picks.len(),
            show::path(&self.dest),
            self.copied()
        );
        if self.copied() > 0 {
            let _ = write!(out, " ({})", human_bytes(self.bytes_copied()));
        }
        if self.already_there() > 0 {
            let _ = write!(out, ", {} already there (not copied again)", self.already_there());
        }
        out.push_str(".\n");

        let skipped: Vec<_> = self.skipped().collect();
        if !skipped.is_empty() {
            let _ = writeln!(
                out,
                "Skipped {} {} whose original could not be exported (the rest were):",
                skipped.len(),
                plural(skipped.len(), "pick", "picks")
            );
            for e in skipped.iter().take(LIST_LIMIT) {
                let path = show::path(e.source.as_deref().unwrap_or(&e.pick.photo.path));
                match &e.outcome {
                    Outcome::Missing => match replaced_at(&e.pick.photo.path) {
                        Some(file) => {
                            let _ = writeln!(
                                out,
                                "  {}: holds another picture since this one was picked (the \
                                 new one is a photo of its own: pick it if you want it)",
                                show::path(file)
                            );
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "  {path}: missing (moved or deleted? `photosift scan` its new \
                                 folder)"
                            );
                        }
                    },
                    Outcome::Failed { error } => {
                        let _ = writeln!(out, "  {path}: {}", show::text(error));
                    }
                    Outcome::Copied { .. } | Outcome::AlreadyThere { .. } => {}
                }
            }
            more(&mut out, skipped.len());
        }

        if let Some(spec) = &self.print {
            let small: Vec<_> = self.too_small().collect();
            if small.is_empty() {
                let _ = writeln!(out, "Print check: every pick has enough pixels for {spec}.");
            } else {
                let _ = writeln!(
                    out,
                    "Print check: {} {} too few pixels for {spec}:",
                    small.len(),
                    plural(small.len(), "pick has", "picks have")
                );
                for e in small.iter().take(LIST_LIMIT) {
                    let name = show::text(
                        &e.exported_name()
                            .unwrap_or_else(|| e.pick.photo.path.display().to_string()),
                    );
                    let check = e.print.map(|c| c.to_string()).unwrap_or_default();
                    let _ = writeln!(out, "  {name}: {check}");
                }
                more(&mut out, small.len());
            }
        }

        let mut written: Vec<String> = Vec::new();
        if let Some(csv) = &self.csv {
            written.push(show::path(csv));
        }
        written.extend(self.contact_sheets.iter().map(|p| show::path(p)));
        if !written.is_empty() {
            let _ = writeln!(out, "Wrote {}.", written.join(", "));
        }
        out
    }
}

/// The file a retired photo was at (its catalog path is that path, a NUL and its id: the
/// scan found other content there).
fn replaced_at(path: &std::path::Path) -> Option<&std::path::Path> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let nul = bytes.iter().position(|b| *b == 0)?;
    Some(std::path::Path::new(std::ffi::OsStr::from_bytes(&bytes[..nul])))
}

fn more(out: &mut String, n: usize) {
    if n > LIST_LIMIT {
        let _ = writeln!(out, "  ... and {} more (see picks.csv)", n - LIST_LIMIT);
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "512 B", "3.4 MB", "1.2 GB" (decimal units, as file managers show them).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_file_manager() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(3_400_000), "3.4 MB");
        assert_eq!(human_bytes(1_250_000_000), "1.2 GB");
    }

    #[test]
    fn empty_export_says_how_to_pick() {
        let s = ExportSummary {
            dest: "/out".into(),
            picks: Vec::new(),
            csv: None,
            contact_sheets: Vec::new(),
            print: None,
        };
        assert!(s.report().contains("Pick photos with W"), "{}", s.report());
    }
}
