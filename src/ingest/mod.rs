//! Ingest: scanning folders of photos into the catalog with 512 px thumbnails.
//!
//! [`scan`] walks the folders ([`walk`]), pairs Live Photo videos and Takeout sidecars with
//! their photos ([`companions`]), skips files whose path, size and mtime the catalog
//! already holds, and sends the rest through rayon workers that read each file once, hash it
//! (blake3), and, for content not seen before, decode it DCT-scaled, orient, resize and store
//! the thumbnail (decoding in [`crate::imaging`], storage in [`thumbs`]). One writer (the calling thread) turns the results into
//! catalog rows in batched transactions: new photos, moves (same bytes, new path, same id),
//! duplicates, errors; files that vanished are marked missing, never dropped.

pub mod capture_time;
pub mod companions;
pub mod examples;
pub mod photo_facts;
mod scan;
mod scan_report;
mod scan_writer;
pub mod thumbs;
pub mod walk;

pub use scan::{scan, scan_with};
pub use scan_report::{ScanError, ScanFailure, ScanPhase, ScanProgress, ScanSummary};
pub use scan_writer::NewPixels;
pub use thumbs::{StoredThumb, store_thumbnail, thumb_rel_path};
