//! Photo files to pixels, with no library: decoding (libjpeg-turbo DCT-scaled, libheif with
//! photosift's own HEVC decoder plugin, RAW previews, the `image` crate for the rest), EXIF,
//! orientation, SIMD resizing and JPEG encoding. The scan, the TUI's previews, the seed images
//! and the fuzz targets all decode through here; where the results go is their business.

pub mod error;
pub mod exif_meta;
pub mod heif;
pub mod hevc_decoder;
pub mod raw_preview;
pub mod resize;
pub mod thumbnail;
mod ycbcr;

pub use error::ThumbError;
pub use heif::{HeifDecode, HeifPicture, decode_heif, is_heif};
pub use thumbnail::{PhotoFormat, Thumbnail, make_thumbnail};
