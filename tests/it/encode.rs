//! The image encoders of the test fixtures, and the one generated test pattern they share.

use image::{ImageEncoder, Rgb, RgbImage};

/// A smooth pattern that differs with `seed` (distinct bytes for distinct seeds).
pub fn pattern(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x as u8).wrapping_add(seed), (y as u8).wrapping_mul(3), seed.wrapping_mul(37)])
    })
}

/// A baseline JPEG at quality 90.
pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// `img` in any format the `image` crate writes (PNG, GIF, BMP, TIFF, lossless WebP, ...).
pub fn encode(img: &RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub fn png(img: &RgbImage) -> Vec<u8> {
    encode(img, image::ImageFormat::Png)
}
