//! Generated photos with a known rule for the learning tests: desirable = a checkerboard (fine
//! texture), the rest = smooth gradients. Colours vary with `seed`, so colour alone does not
//! give the answer away.

use image::{Rgb, RgbImage};

pub fn picture(desirable: bool, seed: u32, width: u32, height: u32) -> RgbImage {
    let (r, g, b) =
        ((seed * 67 % 200) as u8 + 30, (seed * 131 % 200) as u8 + 30, (seed * 29 % 200) as u8 + 30);
    let cell = 8 + seed % 5 * 3;
    RgbImage::from_fn(width, height, |x, y| {
        if desirable {
            if (x / cell + y / cell).is_multiple_of(2) {
                Rgb([r, g, b])
            } else {
                Rgb([255 - r, 255 - g, 255 - b])
            }
        } else {
            let t = (x + y) as f32 / (width + height) as f32;
            let mix = |c: u8| (f32::from(c) * (1.0 - t) + f32::from(255 - c) * t) as u8;
            Rgb([mix(r), mix(g), mix(b)])
        }
    })
}
