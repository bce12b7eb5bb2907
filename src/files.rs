//! Facts about files that the scan and the export share: a file's modification time as the
//! catalog stores it, and the name of the contact sheets an export leaves in its folder, which a
//! scan never takes for photos (the export's manifest, which lists the rest, is
//! `export_manifest`).

use std::time::UNIX_EPOCH;

/// The contact sheets an export draws are `picks-contact-sheet*.png`; scans skip them.
pub const CONTACT_SHEET_STEM: &str = "picks-contact-sheet";

/// Modification time in nanoseconds since 1970 (0 when the file system has none).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
