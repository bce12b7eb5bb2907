//! HEIC/HEIF (and AVIF) photos through libheif: the primary image (never a depth map or an
//! auxiliary item), upright (libheif applies the `irot`/`imir` transforms, which is where HEIF
//! keeps orientation), at reduced size when the file carries a thumbnail item big enough, and
//! the EXIF block of the primary image. The picture comes back shrunk to the size asked for:
//! 8-bit pictures through photosift's fast decode (its own HEVC decoder plugin hands libheif
//! planar RGB, each plane is shrunk on its own, and HEVC's in-loop filters are skipped when
//! the picture shrinks 4x or more: see [`super::hevc_decoder`]), others through libheif's.
//!
//! [`decode_heif`] is the one entry point: the scan's thumbnailer calls it, and so can a
//! preview loader that wants a HEIC original at screen size.

use image::RgbImage;
use libheif_rs::{ColorSpace, HeifContext, ImageHandle, ItemId, LibHeif, RgbChroma};

use super::error::ThumbError;
use super::exif_meta::{ExifFacts, read_exif_tiff};
use super::hevc_decoder::{self, DecodeMode, RgbMatrix};
use super::resize::{Plane, fit_long_side, resize_plane, resize_rgb};
use super::ycbcr::Matrix;

/// The reduction from the decoded picture's long side to `target` from which the decode skips
/// HEVC's deblocking and SAO filters: each thumbnail pixel then averages 16 or more decoded
/// pixels, and the filters' effect is below one level (docs/bench-ingest.md). A 12 MP phone
/// HEIC is shrunk about 8x to 512 px.
pub const FILTERLESS_MIN_SHRINK: u32 = 4;

/// A decoded HEIF picture, upright.
#[derive(Debug, Clone)]
pub struct HeifPicture {
    /// Upright pixels, shrunk to fit the requested size (never enlarged): the primary image,
    /// or its thumbnail item when that is at least the requested size on its long side.
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

/// How [`decode_heif`] decodes.
#[derive(Debug, Clone, Copy)]
pub struct HeifDecode {
    /// The long side the picture is shrunk to (a thumbnail item at least that big is decoded
    /// instead of the full image).
    pub target: u32,
    /// A picture larger than this is refused before anything is decoded.
    pub max_pixels: u64,
    /// Caps libheif's own tile threads (0: libheif decodes grid tiles on the calling thread;
    /// a scan already runs one file per core).
    pub threads: u32,
    /// photosift's fast decode (`[scan] heic_fast_decode`): HEVC's in-loop filters skipped
    /// when the decoded picture is at least [`FILTERLESS_MIN_SHRINK`] times `target`, and
    /// 8-bit colour converted to RGB by photosift. False: libheif's own decode. Applies to
    /// the tiles decoded on the calling thread.
    pub fast: bool,
}

/// Decodes the primary image of a HEIF file, upright, shrunk to fit `how.target`.
pub fn decode_heif(bytes: &[u8], how: HeifDecode) -> Result<HeifPicture, ThumbError> {
    let HeifDecode { target, max_pixels, threads, fast } = how;
    let mut ctx = HeifContext::read_from_bytes(bytes).map_err(heif_error)?;
    ctx.set_max_decoding_threads(threads);
    let primary = ctx.primary_image_handle().map_err(heif_error)?;
    let (width, height) = (primary.width(), primary.height());
    if width == 0 || height == 0 {
        return Err(ThumbError::Heif("the primary image has no size".into()));
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(ThumbError::TooLarge { width, height, limit: max_pixels });
    }
    let exif = exif_of(&primary);
    let source = usable_thumbnail(&primary, target).unwrap_or(primary);
    let (tw, th) = fit_long_side(source.width(), source.height(), target);
    // The fast decode (see hevc_decoder): shrunk this much, HEVC's in-loop filters are
    // invisible, and 8-bit colour comes out of the decoder as planar RGB, shrunk plane by
    // plane. Otherwise, libheif's own decode to interleaved RGB.
    let eight_bit = source.luma_bits_per_pixel() == 8 && source.chroma_bits_per_pixel() <= 8;
    let planar = fast && eight_bit;
    let long = u64::from(source.width().max(source.height()));
    let mode = DecodeMode {
        skip_filters: fast && long >= u64::from(FILTERLESS_MIN_SHRINK) * u64::from(target),
        to_rgb: if planar { rgb_matrix(&source) } else { None },
    };
    hevc_decoder::ensure_registered();
    let lib = LibHeif::new();
    let decode = |space| {
        hevc_decoder::with_mode(mode, || lib.decode(&source, space, None)).map_err(heif_error)
    };
    let shrunk = if planar {
        shrink_planar_rgb(&decode(ColorSpace::Rgb(RgbChroma::C444))?, tw, th)?
    } else {
        None
    };
    let image = match shrunk {
        Some(image) => image,
        None => resize_rgb(interleaved_rgb(&decode(ColorSpace::Rgb(RgbChroma::Rgb))?)?, tw, th)?,
    };
    Ok(HeifPicture { image, width, height, exif })
}

/// The matrix the decoder converts to RGB with: the file's colour description when it has one
/// (None when that is not a matrix [`Matrix`] knows: libheif converts), else the bitstream's.
fn rgb_matrix(source: &ImageHandle) -> Option<RgbMatrix> {
    match source.color_profile_nclx() {
        Some(nclx) => {
            let full_range = nclx.full_range_flag() != 0;
            Matrix::from_nclx(nclx.matrix_coefficients() as u16, full_range).map(RgbMatrix::File)
        }
        None => Some(RgbMatrix::Bitstream),
    }
}

fn heif_error(e: libheif_rs::HeifError) -> ThumbError {
    ThumbError::Heif(e.to_string())
}

/// The decoded planar RGB picture shrunk to `w`×`h`, interleaved; None when its planes are not
/// 8-bit.
fn shrink_planar_rgb(
    decoded: &libheif_rs::Image,
    w: u32,
    h: u32,
) -> Result<Option<RgbImage>, ThumbError> {
    let planes = decoded.planes();
    let (Some(r), Some(g), Some(b)) = (planes.r, planes.g, planes.b) else { return Ok(None) };
    if [&r, &g, &b].iter().any(|p| p.storage_bits_per_pixel != 8) {
        return Ok(None);
    }
    let shrink = |p| resize_plane(plane(p), w, h);
    let (r, g, b) = (shrink(r)?, shrink(g)?, shrink(b)?);
    let pixels = r.iter().zip(&g).zip(&b).flat_map(|((&r, &g), &b)| [r, g, b]).collect();
    RgbImage::from_raw(w, h, pixels)
        .map(Some)
        .ok_or_else(|| ThumbError::Heif("shrunk planes have the wrong size".into()))
}

fn plane(p: libheif_rs::Plane<&[u8]>) -> Plane<'_> {
    Plane { data: p.data, stride: p.stride, width: p.width, height: p.height }
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
        assert!(matches!(
            decode_heif(
                &b,
                HeifDecode { target: 512, max_pixels: 1 << 30, threads: 0, fast: true }
            ),
            Err(ThumbError::Heif(_))
        ));
    }
}
