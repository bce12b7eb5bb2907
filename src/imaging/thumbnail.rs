//! Photo bytes to a thumbnail: header check against the pixel limit, DCT-scaled JPEG decoding
//! (libjpeg-turbo), EXIF orientation, SIMD resize, JPEG encoding. Where thumbnails are stored
//! is the library's business (`ingest::thumbs`).
//!
//! JPEGs are decoded by libjpeg-turbo at the smallest of its n/8 scales that still leaves the
//! long side at least `thumb_size`: the inverse DCT then produces a quarter-size image directly
//! for a 12 MP photo, and only the entropy decoding is paid in full. Everything else goes
//! through the `image` crate after the same header check.

use std::cell::RefCell;
use std::io::Cursor;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use turbojpeg::{Compressor, Decompressor, PixelFormat, ScalingFactor, Subsamp};

use super::error::ThumbError;
use super::exif_meta::{ExifFacts, read_exif};
use super::heif::{HeifDecode, decode_heif, is_heif};
use super::raw_preview::{is_raw_container, largest_jpeg_preview};
use super::resize::resize_long_side;
use crate::config::ScanConfig;

/// A decoded, oriented, downsized photo.
#[derive(Debug, Clone)]
pub struct Thumbnail {
    /// Upright (EXIF orientation applied), long side at most `thumb_size`.
    pub image: RgbImage,
    /// Full size of the photo as displayed (after orientation).
    pub width: u32,
    pub height: u32,
    pub exif: ExifFacts,
    /// What the pixels came from.
    pub format: PhotoFormat,
}

/// The kind of file a thumbnail was decoded from (by content, not by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoFormat {
    Jpeg,
    Png,
    Heif,
    /// A RAW file, read through its embedded JPEG preview.
    RawPreview,
    Other,
}

/// Reads `path` and makes its thumbnail (the whole decode → orient → resize path).
pub fn make_thumbnail(path: &Path, cfg: &ScanConfig) -> Result<Thumbnail, ThumbError> {
    let bytes = read_photo_file(path, None, cfg)?;
    thumbnail_from_bytes(&bytes, cfg)
}

/// The largest file a scan reads: an uncompressed 16-bit RGBA picture at `max_pixels`, plus
/// room for metadata. Anything bigger cannot be a picture the scan would decode.
pub fn max_file_bytes(cfg: &ScanConfig) -> u64 {
    cfg.max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

/// Reads a photo file into memory, defensively: only a regular file (a FIFO named `x.jpg`
/// would block the scan forever, a device would never end; the open is non-blocking and the
/// type is checked on the open handle, so a file swapped for a FIFO after the walk is caught
/// too), at most [`max_file_bytes`], and, when the walk saw `expected_len` bytes, at most one
/// byte more: a file still being written is reported instead of read without end.
pub fn read_photo_file(
    path: &Path,
    expected_len: Option<u64>,
    cfg: &ScanConfig,
) -> Result<Vec<u8>, ThumbError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ThumbError::Read)?;
    let meta = file.metadata().map_err(ThumbError::Read)?;
    if !meta.is_file() {
        return Err(ThumbError::NotRegularFile);
    }
    let limit = max_file_bytes(cfg);
    if meta.len() > limit {
        return Err(ThumbError::FileTooBig { size: meta.len() });
    }
    let cap = expected_len.unwrap_or(meta.len()).min(limit);
    let mut bytes = Vec::with_capacity(cap as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(ThumbError::Read)?;
    let found = bytes.len() as u64;
    match expected_len {
        Some(expected) if found != expected => {
            Err(ThumbError::ChangedWhileRead { expected, found })
        }
        None if found > cap => Err(ThumbError::FileTooBig { size: found }),
        _ => Ok(bytes),
    }
}

/// Makes the thumbnail of a photo file already in memory. The format is found from the
/// content: JPEG (DCT-scaled), HEIC/HEIF (libheif, see [`decode_heif`]), RAW with an embedded
/// JPEG preview, else whatever the `image` crate reads.
pub fn thumbnail_from_bytes(bytes: &[u8], cfg: &ScanConfig) -> Result<Thumbnail, ThumbError> {
    if bytes.is_empty() {
        return Err(ThumbError::Empty);
    }
    let target = cfg.thumb_size.max(1);
    if is_heif(bytes) {
        // One file per core already: libheif decodes the grid tiles on this thread.
        let how = HeifDecode {
            target,
            max_pixels: cfg.max_pixels,
            threads: 0,
            fast: cfg.heic_fast_decode,
        };
        let pic = decode_heif(bytes, how)?;
        let (image, width, height) = (pic.image, pic.width, pic.height);
        return Ok(Thumbnail { image, width, height, exif: pic.exif, format: PhotoFormat::Heif });
    }
    if is_raw_container(bytes) {
        // Orientation and capture time are in the RAW's own IFD0, not in the preview.
        let exif = read_exif(bytes);
        let preview = largest_jpeg_preview(bytes).map_err(ThumbError::Raw)?;
        let (image, fw, fh) = decode_jpeg_scaled(preview, target, cfg.max_pixels)?;
        return finish(image, fw, fh, exif, target, PhotoFormat::RawPreview);
    }
    let exif = read_exif(bytes);
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        let (image, fw, fh) = match decode_jpeg_scaled(bytes, target, cfg.max_pixels) {
            Ok(img) => img,
            // Colour spaces libjpeg-turbo will not convert to RGB (CMYK, YCCK) still decode
            // through the image crate. Any other failure is final: the image crate decodes at
            // full size, so a 50-KB broken file claiming 12000x12000 would cost 430 MB there.
            Err(ThumbError::Jpeg(msg)) if needs_generic_decoder(bytes) => {
                decode_generic(bytes, cfg.max_pixels).map_err(|_| ThumbError::Jpeg(msg))?
            }
            Err(e) => return Err(e),
        };
        return finish(image, fw, fh, exif, target, PhotoFormat::Jpeg);
    }
    let (image, fw, fh) = decode_generic(bytes, cfg.max_pixels)?;
    let format = if bytes.starts_with(b"\x89PNG") { PhotoFormat::Png } else { PhotoFormat::Other };
    finish(image, fw, fh, exif, target, format)
}

/// Resize, then the EXIF orientation; the displayed size swaps for the quarter turns.
fn finish(
    image: RgbImage,
    fw: u32,
    fh: u32,
    exif: ExifFacts,
    target: u32,
    format: PhotoFormat,
) -> Result<Thumbnail, ThumbError> {
    let image = resize_long_side(image, target)?;
    let orientation = exif.orientation.and_then(Orientation::from_exif);
    let image = apply_orientation(image, orientation);
    let (width, height) = match exif.orientation {
        Some(5..=8) => (fh, fw),
        _ => (fw, fh),
    };
    Ok(Thumbnail { image, width, height, exif, format })
}

/// Encodes RGB pixels as a baseline 4:2:0 JPEG with libjpeg-turbo.
pub fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, ThumbError> {
    thread_local! {
        static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
    }
    let enc = |e: turbojpeg::Error| ThumbError::Encode(e.to_string());
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Compressor::new().map_err(enc)?);
        }
        let Some(c) = slot.as_mut() else { return Err(ThumbError::Encode("no encoder".into())) };
        c.set_quality(i32::from(quality.clamp(1, 100))).map_err(enc)?;
        c.set_subsamp(Subsamp::Sub2x2).map_err(enc)?;
        let (w, h) = image.dimensions();
        let img = turbojpeg::Image {
            pixels: image.as_raw().as_slice(),
            width: w as usize,
            pitch: w as usize * 3,
            height: h as usize,
            format: PixelFormat::RGB,
        };
        c.compress_to_vec(img).map_err(enc)
    })
}

fn check_pixels(width: u32, height: u32, limit: u64) -> Result<(), ThumbError> {
    if u64::from(width) * u64::from(height) > limit {
        return Err(ThumbError::TooLarge { width, height, limit });
    }
    Ok(())
}

/// libjpeg-turbo's scales, smallest first.
const SCALES: [(usize, usize); 8] =
    [(1, 8), (1, 4), (3, 8), (1, 2), (5, 8), (3, 4), (7, 8), (1, 1)];

/// Decodes at the smallest DCT scale keeping the long side >= `target`; also returns the
/// full stored size from the header.
fn decode_jpeg_scaled(bytes: &[u8], target: u32, max_pixels: u64) -> Decoded {
    thread_local! {
        static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
    }
    let jpeg = |e: turbojpeg::Error| ThumbError::Jpeg(turbo_message(e));
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Decompressor::new().map_err(jpeg)?);
        }
        let Some(d) = slot.as_mut() else { return Err(ThumbError::Jpeg("no decoder".into())) };
        let decoded = decode_with(d, bytes, target, max_pixels);
        if decoded.is_err() {
            // A handle that failed can keep its error state (the next good file on this
            // thread then fails with the last file's message): start the next one afresh.
            *slot = None;
        }
        decoded
    })
}

fn decode_with(d: &mut Decompressor, bytes: &[u8], target: u32, max_pixels: u64) -> Decoded {
    let jpeg = |e: turbojpeg::Error| ThumbError::Jpeg(turbo_message(e));
    let header = d.read_header(bytes).map_err(jpeg)?;
    check_pixels(header.width as u32, header.height as u32, max_pixels)?;
    let long = header.width.max(header.height);
    let factor = SCALES
        .iter()
        .map(|&(n, m)| ScalingFactor::new(n, m))
        .find(|f| f.scale(long) >= target as usize)
        .unwrap_or(ScalingFactor::ONE);
    // Lossless JPEGs cannot be DCT-scaled.
    let factor = if header.is_lossless { ScalingFactor::ONE } else { factor };
    d.set_scaling_factor(factor).map_err(jpeg)?;
    let scaled = header.scaled(factor);
    let mut pixels = vec![0u8; scaled.width * scaled.height * 3];
    let out = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: PixelFormat::RGB,
    };
    match d.decompress(bytes, out) {
        Ok(()) => {}
        // libjpeg-turbo reports warnings as failures after decoding everything; stray
        // bytes between markers are common in camera files and harmless.
        Err(turbojpeg::Error::TurboJpegError(msg)) if is_harmless_warning(&msg) => {}
        Err(turbojpeg::Error::TurboJpegError(msg)) if msg.contains("Premature end") => {
            return Err(ThumbError::Truncated(msg));
        }
        Err(e) => return Err(jpeg(e)),
    }
    let img = RgbImage::from_raw(scaled.width as u32, scaled.height as u32, pixels)
        .ok_or_else(|| ThumbError::Jpeg("decoded buffer has the wrong size".into()))?;
    Ok((img, header.width as u32, header.height as u32))
}

/// A JPEG in a colour space libjpeg-turbo does not turn into RGB (CMYK and YCCK, from
/// print workflows and some scanners).
fn needs_generic_decoder(bytes: &[u8]) -> bool {
    turbojpeg::read_header(bytes).is_ok_and(|h| {
        matches!(h.colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK)
    })
}

fn turbo_message(e: turbojpeg::Error) -> String {
    match e {
        turbojpeg::Error::TurboJpegError(msg) => msg,
        other => other.to_string(),
    }
}

fn is_harmless_warning(msg: &str) -> bool {
    msg.contains("extraneous bytes before marker")
}

/// Pixels plus the full stored width and height.
type Decoded = Result<(RgbImage, u32, u32), ThumbError>;

fn decode_generic(bytes: &[u8], max_pixels: u64) -> Decoded {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ThumbError::Image(image::ImageError::IoError(e)))?;
    if reader.format().is_none() {
        return Err(ThumbError::UnknownFormat);
    }
    // Belt and braces: the decoder itself also refuses to allocate past the limit.
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(8).max(64 << 20));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(over_limit)?;
    let (w, h) = decoder.dimensions();
    check_pixels(w, h, max_pixels)?;
    // The decoded buffer, then its RGB copy: what this decode holds at its peak.
    let need = decoder.total_bytes().saturating_add(u64::from(w) * u64::from(h) * 3);
    let _budget = DecodeBudget::take(need);
    Ok((DynamicImage::from_decoder(decoder).map_err(over_limit)?.into_rgb8(), w, h))
}

/// Memory for full-size decodes (PNG, TIFF, WebP, CMYK JPEG) shared by every scan thread: a
/// huge picture waits for others to finish rather than each core decoding one at once (peak
/// memory would grow with the thread count). Small decodes never wait; one decode larger than
/// the whole budget runs alone.
struct DecodeBudget {
    bytes: u64,
}

/// Bytes of full-size decodes in flight at most (beside the first one, whatever its size).
const DECODE_BUDGET: u64 = 1 << 30;
/// Decodes below this size are not counted.
const SMALL_DECODE: u64 = 64 << 20;

static DECODES_IN_FLIGHT: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
static DECODE_FREED: std::sync::Condvar = std::sync::Condvar::new();

impl DecodeBudget {
    fn take(bytes: u64) -> Option<Self> {
        if bytes < SMALL_DECODE {
            return None;
        }
        let mut used = DECODES_IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        while *used > 0 && *used + bytes > DECODE_BUDGET {
            used = DECODE_FREED.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Some(Self { bytes })
    }
}

impl Drop for DecodeBudget {
    fn drop(&mut self) {
        let mut used = DECODES_IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.bytes);
        DECODE_FREED.notify_all();
    }
}

/// The decoder's own memory limit (a header forged to absurd sizes trips it before our pixel
/// check can run) said in the user's terms.
fn over_limit(err: image::ImageError) -> ThumbError {
    match err {
        image::ImageError::Limits(_) => ThumbError::HeaderTooLarge,
        other => ThumbError::Image(other),
    }
}

fn apply_orientation(image: RgbImage, orientation: Option<Orientation>) -> RgbImage {
    match orientation {
        None | Some(Orientation::NoTransforms) => image,
        Some(o) => {
            let mut dynamic = DynamicImage::ImageRgb8(image);
            dynamic.apply_orientation(o);
            dynamic.into_rgb8()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ScanConfig {
        crate::config::Config::default().scan
    }

    fn jpeg_bytes(w: u32, h: u32) -> Vec<u8> {
        let img =
            RgbImage::from_fn(w, h, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        encode_jpeg(&img, 90).unwrap()
    }

    #[test]
    fn a_small_jpeg_claiming_a_huge_size_is_refused_without_a_full_decode() {
        // 600x600 of noise (tens of KB) whose frame header claims 12000x12000: the image
        // crate would decode it at full size (430 MB); only libjpeg-turbo's scaled decode runs.
        let mut x = 1u32;
        let img = RgbImage::from_fn(600, 600, |_, _| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(x >> 24) as u8, (x >> 16) as u8, (x >> 8) as u8])
        });
        let mut bytes = encode_jpeg(&img, 90).unwrap();
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        bytes[sof + 5..sof + 9].copy_from_slice(&[0x2E, 0xE0, 0x2E, 0xE0]);
        assert!(!needs_generic_decoder(&bytes));
        assert!(thumbnail_from_bytes(&bytes, &cfg()).is_err());
    }

    #[test]
    fn big_decodes_take_turns_within_the_budget() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let (now, peak) = (AtomicU64::new(0), AtomicU64::new(0));
        let big = DECODE_BUDGET / 2 + 1;
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let _b = DecodeBudget::take(big);
                    let held = now.fetch_add(big, Ordering::SeqCst) + big;
                    peak.fetch_max(held, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    now.fetch_sub(big, Ordering::SeqCst);
                });
            }
        });
        // Two halves of the budget plus one byte never fit together.
        assert_eq!(peak.load(Ordering::SeqCst), big);
        assert!(DecodeBudget::take(SMALL_DECODE - 1).is_none());
    }

    #[test]
    fn big_jpeg_is_scaled_to_the_long_side() {
        let t = thumbnail_from_bytes(&jpeg_bytes(2000, 1000), &cfg()).unwrap();
        assert_eq!(t.image.dimensions(), (512, 256));
        assert_eq!((t.width, t.height), (2000, 1000));
    }

    #[test]
    fn small_image_is_never_enlarged() {
        let t = thumbnail_from_bytes(&jpeg_bytes(300, 200), &cfg()).unwrap();
        assert_eq!(t.image.dimensions(), (300, 200));
    }
}
