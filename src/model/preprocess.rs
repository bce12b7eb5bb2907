//! From a thumbnail to the network's input: the whole frame resized with a bilinear
//! (antialiased, Pillow-like) filter, RGB, `(v - 127) / 128`, CHW. Two sizes:
//! - [`batch`]: squashed to 224×224, the ImageNet classifier's input (parity tests, the 1280-d
//!   embedding of fine-tuned backbones);
//! - [`feature_size`]: the aspect ratio kept, short side 224 and long side at most 448 (both
//!   multiples of 32), the input of the photo features ([`super::EfficientNetLite::features`]).
//!
//! Why the whole frame (no center crop) and why the aspect is kept: docs/preprocess.md, with
//! the measurements behind both choices.

use candle_core::{Device, Result, Tensor};
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Input side of EfficientNet-Lite0.
pub const INPUT_SIZE: u32 = 224;

/// Short side of the features' input ([`feature_size`]).
pub const FEATURE_SHORT_SIDE: u32 = 224;
/// Cap on the long side of the features' input (panoramas are squashed to 2:1 beyond it).
pub const FEATURE_MAX_SIDE: u32 = 448;
/// Total stride of the network: input sides are multiples of it.
const STRIDE: u32 = 32;

/// The input size `(width, height)` of [`super::EfficientNetLite::features`] for a `w`×`h`
/// image: aspect ratio kept, short side [`FEATURE_SHORT_SIDE`], long side at most
/// [`FEATURE_MAX_SIDE`], both rounded to multiples of 32.
pub fn feature_size(w: u32, h: u32) -> (u32, u32) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let scale = f64::from(FEATURE_SHORT_SIDE) / w.min(h);
    let side = |v: f64| {
        let v = (v * scale).min(f64::from(FEATURE_MAX_SIDE));
        ((v / f64::from(STRIDE)).round() as u32).max(1) * STRIDE
    };
    (side(w), side(h))
}

/// Resizes `img` (any size) to `size`×`size`, whole frame, bilinear with antialiasing.
pub fn resize_whole(img: &RgbImage, size: u32) -> RgbImage {
    resize_exact(img, size, size)
}

/// Resizes `img` (any size) to exactly `width`×`height`, bilinear with antialiasing.
pub fn resize_exact(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    if img.width() == width && img.height() == height {
        return img.clone();
    }
    let (w, h) = (img.width().max(1), img.height().max(1));
    let fallback =
        || image::imageops::resize(img, width, height, image::imageops::FilterType::Triangle);
    let Ok(src) = Image::from_vec_u8(w, h, img.as_raw().clone(), PixelType::U8x3) else {
        return fallback();
    };
    let mut dst = Image::new(width, height, PixelType::U8x3);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    if Resizer::new().resize(&src, &mut dst, &opts).is_err() {
        return fallback();
    }
    RgbImage::from_raw(width, height, dst.into_vec()).unwrap_or_else(fallback)
}

/// Appends the normalized CHW values of an image of any size (resized to `INPUT_SIZE`).
pub fn push_normalized(img: &RgbImage, out: &mut Vec<f32>) {
    push_normalized_sized(img, (INPUT_SIZE, INPUT_SIZE), out);
}

/// Appends the normalized CHW values of an image of any size resized to `(width, height)`.
pub fn push_normalized_sized(img: &RgbImage, (width, height): (u32, u32), out: &mut Vec<f32>) {
    let img = resize_exact(img, width, height);
    let n = (width * height) as usize;
    let start = out.len();
    out.resize(start + 3 * n, 0.0);
    let (r, rest) = out[start..].split_at_mut(n);
    let (g, b) = rest.split_at_mut(n);
    for (i, p) in img.pixels().enumerate() {
        r[i] = (f32::from(p[0]) - 127.0) / 128.0;
        g[i] = (f32::from(p[1]) - 127.0) / 128.0;
        b[i] = (f32::from(p[2]) - 127.0) / 128.0;
    }
}

/// A normalized (N, 3, 224, 224) batch.
pub fn batch(images: &[RgbImage], device: &Device) -> Result<Tensor> {
    batch_sized(images, (INPUT_SIZE, INPUT_SIZE), device)
}

/// A normalized (N, 3, height, width) batch, every image resized to `(width, height)`.
pub fn batch_sized<'a>(
    images: impl IntoIterator<Item = &'a RgbImage>,
    size: (u32, u32),
    device: &Device,
) -> Result<Tensor> {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let mut data = Vec::new();
    for img in images {
        push_normalized_sized(img, size, &mut data);
    }
    let n = data.len() / (3 * w * h).max(1);
    Tensor::from_vec(data, (n, 3, h, w), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_frame_keeps_edge_content() {
        // A red stripe along the left edge of a wide frame must survive preprocessing.
        let mut img = RgbImage::from_pixel(512, 384, image::Rgb([0, 0, 0]));
        for y in 0..384 {
            for x in 0..40 {
                img.put_pixel(x, y, image::Rgb([255, 0, 0]));
            }
        }
        let out = resize_whole(&img, INPUT_SIZE);
        assert!(out.get_pixel(2, 112)[0] > 250);
        assert!(out.get_pixel(200, 112)[0] < 5);
    }

    #[test]
    fn feature_size_keeps_the_aspect_ratio() {
        // A 4:3 phone thumbnail, landscape and portrait: short side 224, long side 298 → 288.
        assert_eq!(feature_size(512, 384), (288, 224));
        assert_eq!(feature_size(384, 512), (224, 288));
        assert_eq!(feature_size(512, 512), (224, 224));
        // 16:9 → 398 → 384; a panorama is capped at 448.
        assert_eq!(feature_size(512, 288), (384, 224));
        assert_eq!(feature_size(2000, 300), (448, 224));
        // Tiny and degenerate images still get a valid input.
        assert_eq!(feature_size(1, 1), (224, 224));
        assert_eq!(feature_size(0, 0), (224, 224));
    }

    #[test]
    fn normalization_maps_0_and_255() {
        let img = RgbImage::from_fn(INPUT_SIZE, INPUT_SIZE, |x, _| {
            if x < 112 { image::Rgb([0, 127, 255]) } else { image::Rgb([255, 127, 0]) }
        });
        let mut v = Vec::new();
        push_normalized(&img, &mut v);
        let n = (INPUT_SIZE * INPUT_SIZE) as usize;
        assert_eq!(v.len(), 3 * n);
        assert_eq!(v[0], -127.0 / 128.0);
        assert_eq!(v[n], 0.0);
        assert_eq!(v[2 * n], 1.0);
    }
}
