//! What a scan reports: its progress, the files it could not ingest and why, its summary,
//! and the errors that stop it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::walk::WalkIssue;
use crate::catalog::CatalogError;

#[derive(Debug, Error)]
pub enum ScanError {
    // `error`, not `source`: the message already says it, and a source would repeat it in
    // the printed chain ("(No such file...): No such file...").
    #[error("{path}: no such folder ({error})")]
    NoSuchFolder { path: PathBuf, error: std::io::Error },
    #[error(
        "cannot write the thumbnail {path}: {error}. The disk holding the library is full; \
         everything scanned so far is saved: free some space and run the scan again"
    )]
    DiskFull { path: PathBuf, error: std::io::Error },
    #[error("cannot start the scan's writer thread: {0}")]
    Thread(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPhase {
    /// Listing folders; `done` counts entries seen, `total` is unknown (0).
    Walking,
    /// Reading, hashing and thumbnailing new or changed files.
    Reading,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    pub phase: ScanPhase,
    pub done: u64,
    pub total: u64,
}

/// A file that could not be ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub path: PathBuf,
    pub message: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    /// Photo files found by the walk.
    pub files: u64,
    pub new: u64,
    /// Path, size and mtime as in the catalog (not read), or read and found identical.
    pub unchanged: u64,
    /// Same bytes at a new path: the photo keeps its id and labels.
    pub moved: u64,
    /// Further paths holding the bytes of a photo already in the catalog.
    pub duplicates: u64,
    /// Files whose content changed at the same path: the new content is a new photo; the old
    /// photo keeps its labels and is missing until its bytes turn up again.
    pub changed: u64,
    /// Missing photos whose file is back.
    pub restored: u64,
    /// Photos newly marked missing (their file is gone).
    pub missing: u64,
    pub failed: u64,
    /// Photo files of formats photosift does not read (some RAW formats).
    pub unsupported: u64,
    pub unsupported_by_ext: BTreeMap<String, u64>,
    /// Video files (not counting the videos of Live Photos).
    pub videos: u64,
    /// Photos with a Live Photo video beside them.
    pub live_photos: u64,
    /// Photos with a Takeout JSON sidecar beside them.
    pub sidecars: u64,
    /// Newly read photos that are screenshots.
    pub screenshots: u64,
    /// Newly read photos whose capture time is only the file's modification time.
    pub time_guessed: u64,
    /// Files the scan opened and read.
    pub files_read: u64,
    /// Files the scan decoded and thumbnailed (new or changed content).
    pub decoded: u64,
    pub failures: Vec<ScanFailure>,
    pub walk_issues: Vec<WalkIssue>,
    pub elapsed: Duration,
}

impl ScanSummary {
    /// Photos thumbnailed per second of the whole scan.
    pub fn decoded_per_second(&self) -> f64 {
        self.decoded as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}
