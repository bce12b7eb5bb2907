//! Why a photo file could not be turned into pixels (or its thumbnail written): the one error
//! of the imaging code, whose texts `photosift status --errors` shows the user.

use std::path::PathBuf;

use thiserror::Error;

use super::resize::ResizeError;

/// Why a photo could not be turned into a thumbnail. The texts are shown to the user by
/// `photosift status --errors`, so they say what is wrong with the file.
#[derive(Debug, Error)]
pub enum ThumbError {
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    #[error("not a regular file (a FIFO, socket or device named like a photo): skipped")]
    NotRegularFile,
    #[error(
        "file is {} MB, larger than any picture within scan.max_pixels could be; not read",
        size / 1_000_000
    )]
    FileTooBig { size: u64 },
    #[error(
        "the file changed while it was read ({expected} bytes when found, {found} when read); \
         skipped this time, the next scan reads it again"
    )]
    ChangedWhileRead { expected: u64, found: u64 },
    #[error("empty file (0 bytes)")]
    Empty,
    #[error(
        "not a JPEG, PNG, WebP, TIFF, HEIC/HEIF or RAW image (the content is not a \
         recognizable picture)"
    )]
    UnknownFormat,
    #[error("cannot decode HEIC/HEIF: {0}")]
    Heif(String),
    #[error("unsupported RAW file: {0}")]
    Raw(String),
    #[error(
        "image is {width}x{height} ({} MP), above the limit of {} MP (scan.max_pixels); \
         not decoded",
        (*width as u64 * *height as u64) / 1_000_000,
        limit / 1_000_000
    )]
    TooLarge { width: u32, height: u32, limit: u64 },
    #[error(
        "the image header claims a size that would need more memory than scan.max_pixels \
         allows; not decoded"
    )]
    HeaderTooLarge,
    #[error("truncated or damaged JPEG ({0})")]
    Truncated(String),
    #[error("cannot decode JPEG: {0}")]
    Jpeg(String),
    #[error("cannot decode image: {0}")]
    Image(#[from] image::ImageError),
    #[error(transparent)]
    Resize(#[from] ResizeError),
    #[error("cannot encode the thumbnail: {0}")]
    Encode(String),
    #[error("cannot write the thumbnail {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}
