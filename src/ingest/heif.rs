//! HEIC/HEIF (and AVIF) photos through libheif: the primary image (never a depth map or an
//! auxiliary item), upright (libheif applies the `irot`/`imir` transforms, which is where HEIF
//! keeps orientation), at reduced size when the file carries a thumbnail item big enough, and
//! the EXIF block of the primary image.
//!
//! [`decode_heif`] is the one entry point: the scan's thumbnailer calls it, and so can a
//! preview loader that wants a HEIC original at screen size.

use image::RgbImage;
use libheif_rs::{ColorSpace, HeifContext, ImageHandle, ItemId, LibHeif, RgbChroma};

use super::exif_meta::{ExifFacts, read_exif_tiff};
use super::thumbnail::ThumbError;

/// A decoded HEIF picture, upright.
#[derive(Debug, Clone)]
pub struct HeifPicture {
    /// Upright pixels: the primary image, or its thumbnail item when that is at least the
    /// requested size on its long side.
    pub image: RgbImage,
    /// Full size of the primary image as displayed (after its transforms).
    pub width: u32,
    pub height: u32,
    /// EXIF facts of the primary image. Its Orientation is informative only: the pixels are
    /// already upright (HEIF orientation lives in `irot`/`imir`, which libheif applies).
    pub exif: ExifFacts,
}

/// Whether `bytes` look like an ISO-BMFF HEIF file (HEIC, HEIF, AVIF): an `ftyp` box whose
/// major or compatible brands name a HEIF image brand. MP4/MOV videos have other brands.
pub fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: [&[u8; 4]; 10] =
        [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"];
    if bytes.len() < 16 || &bytes[4..8] != b"ftyp" {
        return false;
    }
    let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = size.clamp(16, 256).min(bytes.len());
    // major brand at 8..12, minor version 12..16, compatible brands after.
    std::iter::once(&bytes[8..12])
        .chain(bytes[16..end].chunks_exact(4))
        .any(|brand| BRANDS.iter().any(|b| brand == *b))
}

/// Decodes the primary image of a HEIF file, upright. `target` is the long side the caller
/// will shrink to: a thumbnail item at least that big is decoded instead of the full image.
/// `max_pixels` refuses a picture larger than the scan allows before decoding anything.
/// `threads` caps libheif's own tile threads (0: libheif decodes grid tiles on the calling
/// thread; a scan already runs one file per core).
pub fn decode_heif(
    bytes: &[u8],
    target: u32,
    max_pixels: u64,
    threads: u32,
) -> Result<HeifPicture, ThumbError> {
    let heif = |e: libheif_rs::HeifError| ThumbError::Heif(e.to_string());
    let mut ctx = HeifContext::read_from_bytes(bytes).map_err(heif)?;
    ctx.set_max_decoding_threads(threads);
    let primary = ctx.primary_image_handle().map_err(heif)?;
    let (width, height) = (primary.width(), primary.height());
    if width == 0 || height == 0 {
        return Err(ThumbError::Heif("the primary image has no size".into()));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ThumbError::TooLarge { width, height, limit: max_pixels });
    }
    let exif = exif_of(&primary);
    let source = usable_thumbnail(&primary, target).unwrap_or(primary);
    let lib = LibHeif::new();
    let decoded = lib.decode(&source, ColorSpace::Rgb(RgbChroma::Rgb), None).map_err(heif)?;
    let image = interleaved_rgb(&decoded)?;
    Ok(HeifPicture { image, width, height, exif })
}

/// The largest thumbnail item whose long side reaches `target`, if any. Phones store 320 px
/// ones (too small for a 512 px thumbnail), but some cameras and converters store bigger.
fn usable_thumbnail(primary: &ImageHandle, target: u32) -> Option<ImageHandle> {
    let n = primary.number_of_thumbnails();
    if n == 0 {
        return None;
    }
    let mut ids: Vec<ItemId> = vec![0; n.min(16)];
    let n = primary.thumbnail_ids(&mut ids);
    ids.truncate(n);
    ids.into_iter()
        .filter_map(|id| primary.thumbnail(id).ok())
        .filter(|t| t.width().max(t.height()) >= target)
        .min_by_key(|t| u64::from(t.width()) * u64::from(t.height()))
}

/// The primary image's EXIF block. HEIF stores it with a 4-byte prefix: the offset of the
/// TIFF header within the rest.
fn exif_of(handle: &ImageHandle) -> ExifFacts {
    let mut ids: Vec<ItemId> = vec![0; 4];
    let n = handle.metadata_block_ids(&mut ids, b"Exif");
    ids.truncate(n);
    ids.into_iter()
        .filter_map(|id| handle.metadata(id).ok())
        .filter(|block| block.len() > 4)
        .map(|block| {
            let skip = u32::from_be_bytes([block[0], block[1], block[2], block[3]]) as usize;
            let tiff = block.get(4 + skip..).unwrap_or_default();
            read_exif_tiff(tiff)
        })
        .find(|facts| *facts != ExifFacts::default())
        .unwrap_or_default()
}

/// Copies libheif's interleaved RGB plane (rows padded to its stride) into an `RgbImage`.
fn interleaved_rgb(decoded: &libheif_rs::Image) -> Result<RgbImage, ThumbError> {
    let planes = decoded.planes();
    let plane = planes
        .interleaved
        .ok_or_else(|| ThumbError::Heif("libheif returned no RGB plane".into()))?;
    let (w, h) = (plane.width as usize, plane.height as usize);
    let row = w * 3;
    if plane.stride < row || plane.data.len() < plane.stride * h.saturating_sub(1) + row {
        return Err(ThumbError::Heif("libheif returned a short RGB plane".into()));
    }
    let mut pixels = Vec::with_capacity(row * h);
    for y in 0..h {
        pixels.extend_from_slice(&plane.data[y * plane.stride..y * plane.stride + row]);
    }
    RgbImage::from_raw(plane.width, plane.height, pixels)
        .ok_or_else(|| ThumbError::Heif("decoded buffer has the wrong size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heif_brands_are_recognized_and_videos_are_not() {
        let ftyp = |major: &[u8; 4], compat: &[u8; 4]| {
            let mut b = vec![0, 0, 0, 20];
            b.extend_from_slice(b"ftyp");
            b.extend_from_slice(major);
            b.extend_from_slice(&[0, 0, 0, 0]);
            b.extend_from_slice(compat);
            b.extend_from_slice(&[0; 16]);
            b
        };
        assert!(is_heif(&ftyp(b"heic", b"mif1")));
        assert!(is_heif(&ftyp(b"mif1", b"heic")));
        assert!(is_heif(&ftyp(b"avif", b"mif1")));
        assert!(!is_heif(&ftyp(b"qt  ", b"qt  ")));
        assert!(!is_heif(&ftyp(b"isom", b"mp42")));
        assert!(!is_heif(b"\xFF\xD8\xFF\xE0 not a heif"));
    }

    #[test]
    fn garbage_in_a_heif_box_is_an_error_not_a_crash() {
        let mut b = vec![0, 0, 0, 24];
        b.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
        b.extend_from_slice(&[0x5a; 200]);
        assert!(matches!(decode_heif(&b, 512, 1 << 30, 0), Err(ThumbError::Heif(_))));
    }
}
