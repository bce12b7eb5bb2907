//! Shrinking pixels with fast_image_resize (SIMD, Catmull-Rom): RGB images to a size or a long
//! side, and single 8-bit planes (a decoded picture's Y, Cb or Cr, rows padded to a stride).
//!
//! Catmull-Rom is bicubic, like Pillow's thumbnail: sharp enough for the 2x reduction left
//! after libjpeg-turbo's DCT scaling, and its weights need no sin() per call as Lanczos does.

use std::cell::RefCell;

use fast_image_resize::images::{CroppedImage, Image as FirImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;
use thiserror::Error;

/// fast_image_resize refused the sizes or buffers it was given.
#[derive(Debug, Error)]
#[error("cannot resize: {0}")]
pub struct ResizeError(String);

impl ResizeError {
    pub fn new(message: impl Into<String>) -> ResizeError {
        ResizeError(message.into())
    }
}

fn fir_error(e: impl std::fmt::Display) -> ResizeError {
    ResizeError(e.to_string())
}

thread_local! {
    /// One resizer per thread keeps its scratch buffers between pictures.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

fn catmull_rom() -> ResizeOptions {
    ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom))
}

/// The size of a `w`×`h` picture shrunk so its long side is `target` (rounded, at least 1 px);
/// `w`×`h` itself when it is no larger.
pub fn fit_long_side(w: u32, h: u32, target: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= target {
        return (w, h);
    }
    let scale = |s: u32| {
        ((u64::from(s) * u64::from(target) + u64::from(long) / 2) / u64::from(long)).max(1) as u32
    };
    if w >= h { (target, scale(h)) } else { (scale(w), target) }
}

/// Shrinks so the long side is `target` (never enlarges).
pub fn resize_long_side(image: RgbImage, target: u32) -> Result<RgbImage, ResizeError> {
    let (w, h) = fit_long_side(image.width(), image.height(), target);
    resize_rgb(image, w, h)
}

/// Resizes to exactly `w`×`h` (the image itself when it already is that size).
pub fn resize_rgb(image: RgbImage, w: u32, h: u32) -> Result<RgbImage, ResizeError> {
    if image.dimensions() == (w, h) {
        return Ok(image);
    }
    let (sw, sh) = image.dimensions();
    let src =
        FirImage::from_vec_u8(sw, sh, image.into_raw(), PixelType::U8x3).map_err(fir_error)?;
    let mut dst = FirImage::new(w, h, PixelType::U8x3);
    RESIZER.with(|r| r.borrow_mut().resize(&src, &mut dst, &catmull_rom())).map_err(fir_error)?;
    RgbImage::from_raw(w, h, dst.into_vec())
        .ok_or_else(|| ResizeError("resized buffer has the wrong size".into()))
}

/// One 8-bit plane of a decoded picture, borrowed: `height` rows of `width` samples, each row
/// starting `stride` bytes after the previous one.
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [u8],
    pub stride: usize,
    pub width: u32,
    pub height: u32,
}

/// Resamples `plane` to `w`×`h` samples. The padding at the end of its rows is never read.
pub fn resize_plane(plane: Plane<'_>, w: u32, h: u32) -> Result<Vec<u8>, ResizeError> {
    let stride = u32::try_from(plane.stride).map_err(fir_error)?;
    if stride < plane.width {
        return Err(ResizeError(format!("a plane's stride {stride} is below its width")));
    }
    // A stride-wide image, and the plane a view of its first `width` columns.
    let padded =
        ImageRef::new(stride, plane.height, plane.data, PixelType::U8).map_err(fir_error)?;
    let mut dst = FirImage::new(w, h, PixelType::U8);
    let resized = if stride == plane.width {
        RESIZER.with(|r| r.borrow_mut().resize(&padded, &mut dst, &catmull_rom()))
    } else {
        let src = CroppedImage::new(&padded, 0, 0, plane.width, plane.height).map_err(fir_error)?;
        RESIZER.with(|r| r.borrow_mut().resize(&src, &mut dst, &catmull_rom()))
    };
    resized.map_err(fir_error)?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_side_is_fitted_and_never_enlarged() {
        assert_eq!(fit_long_side(4032, 3024, 512), (512, 384));
        assert_eq!(fit_long_side(3024, 4032, 512), (384, 512));
        assert_eq!(fit_long_side(400, 300, 512), (400, 300));
        assert_eq!(fit_long_side(10_000, 3, 512), (512, 1));
    }

    #[test]
    fn a_padded_plane_resizes_without_its_padding() {
        // 6x4 samples in rows of 8: the 2 padding bytes are 255 and must not bleed in.
        let mut data = vec![255u8; 8 * 4];
        for row in data.chunks_mut(8) {
            row[..6].fill(40);
        }
        let plane = Plane { data: &data, stride: 8, width: 6, height: 4 };
        let out = resize_plane(plane, 3, 2).unwrap();
        assert_eq!(out, vec![40; 6]);
        let out = resize_plane(plane, 12, 8).unwrap();
        assert_eq!(out, vec![40; 96]);
    }
}
