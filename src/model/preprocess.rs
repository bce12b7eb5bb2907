//! From a thumbnail to the network's input: the whole frame resized (squashed) to 224×224 with
//! a bilinear (antialiased, Pillow-like) filter, RGB, `(v - 127) / 128`, CHW.
//!
//! Why the whole frame and not the usual 87.5 % center crop: photosift asks "is this the sort
//! of photo I want", and a person, pet or landmark at the edge of the frame must count. A
//! center crop of a 4:3 phone photo drops 34 % of its width (and 4:3 portrait frames lose the
//! top and bottom), exactly where people stand in group shots and travel photos. Squashing 4:3
//! to 1:1 distorts shapes by a third, which ImageNet CNNs tolerate well (the reference top-1
//! classes of the sample photos were computed this way and are reproduced by the tests).
//!
//! Measured with `cargo run --release --example preprocess_compare -- DIR`: the sample cat
//! pasted at the left edge of a 4:3 frame (30% of its width) keeps P(cat) 0.64 whole-frame but
//! falls to 0.31 center-cropped; on 64 COCO photos the crop is only slightly more confident
//! (mean top-1 probability 0.404 vs 0.388; same top-1 in 64%, embedding cosine 0.92) — it
//! favours centred subjects, which is not what a photo-sorting user needs.

use candle_core::{Device, Result, Tensor};
use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// Input side of EfficientNet-Lite0.
pub const INPUT_SIZE: u32 = 224;

/// Resizes `img` (any size) to `size`×`size`, whole frame, bilinear with antialiasing.
pub fn resize_whole(img: &RgbImage, size: u32) -> RgbImage {
    if img.width() == size && img.height() == size {
        return img.clone();
    }
    let (w, h) = (img.width().max(1), img.height().max(1));
    let fallback =
        || image::imageops::resize(img, size, size, image::imageops::FilterType::Triangle);
    let Ok(src) = Image::from_vec_u8(w, h, img.as_raw().clone(), PixelType::U8x3) else {
        return fallback();
    };
    let mut dst = Image::new(size, size, PixelType::U8x3);
    let opts = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    if Resizer::new().resize(&src, &mut dst, &opts).is_err() {
        return fallback();
    }
    RgbImage::from_raw(size, size, dst.into_vec()).unwrap_or_else(fallback)
}

/// Appends the normalized CHW values of an image of any size (resized to `INPUT_SIZE`).
pub fn push_normalized(img: &RgbImage, out: &mut Vec<f32>) {
    let img = resize_whole(img, INPUT_SIZE);
    let n = (INPUT_SIZE * INPUT_SIZE) as usize;
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
    let s = INPUT_SIZE as usize;
    let mut data = Vec::with_capacity(images.len() * 3 * s * s);
    for img in images {
        push_normalized(img, &mut data);
    }
    Tensor::from_vec(data, (images.len(), 3, s, s), device)
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
