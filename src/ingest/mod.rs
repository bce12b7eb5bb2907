//! Ingest: scanning folders of photos into the catalog with 512 px thumbnails.
//!
//! [`scan`] walks the folders ([`walk`]), pairs Live Photo videos and Takeout sidecars with
//! their photos ([`companions`]), skips files whose path, size and mtime the catalog
//! already holds, and sends the rest through rayon workers that read each file once, hash it
//! (blake3), and, for content not seen before, decode it DCT-scaled, orient, resize and store
//! the thumbnail ([`thumbnail`]). One writer (the calling thread) turns the results into
//! catalog rows in batched transactions: new photos, moves (same bytes, new path, same id),
//! duplicates, errors; files that vanished are marked missing, never dropped.

pub mod capture_time;
pub mod companions;
pub mod examples;
pub mod exif_meta;
pub mod heif;
pub mod hevc_decoder;
pub mod photo_facts;
pub mod raw_preview;
pub mod resize;
mod scan;
mod scan_writer;
pub mod thumbnail;
pub mod walk;
mod ycbcr;

pub use heif::{HeifDecode, HeifPicture, decode_heif, is_heif};
pub use scan::{ScanError, ScanFailure, ScanPhase, ScanProgress, ScanSummary, scan};
pub use thumbnail::{
    PhotoFormat, StoredThumb, ThumbError, Thumbnail, make_thumbnail, store_thumbnail,
    thumb_rel_path,
};
