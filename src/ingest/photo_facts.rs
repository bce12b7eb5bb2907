//! What a scan records about a photo beyond its pixels: the capture time and where it came
//! from (see [`capture_time`](super::capture_time)), and whether it is a screenshot.

use std::path::Path;

use super::capture_time::{CaptureTime, resolve};
use crate::imaging::exif_meta::ExifFacts;
use crate::imaging::thumbnail::{PhotoFormat, Thumbnail};

/// A Takeout sidecar larger than this is not one (they are a few kB).
const MAX_SIDECAR_BYTES: u64 = 1 << 20;

/// Screen widths (short side, px) of common phones and tablets: a PNG of exactly such a
/// width, taller than 16:10 and without camera EXIF, is a screenshot.
const SCREEN_WIDTHS: &[u32] = &[
    480, 540, 640, 720, 750, 828, 1080, 1125, 1170, 1179, 1206, 1242, 1284, 1290, 1320, 1440, 1536,
    1620, 1640, 1668, 2048,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhotoFacts {
    pub taken: CaptureTime,
    pub screenshot: bool,
}

/// The facts of a freshly decoded photo. `sidecar` is its Takeout JSON, if it has one.
pub fn photo_facts(
    path: &Path,
    thumb: &Thumbnail,
    sidecar: Option<&Path>,
    mtime_ns: i64,
) -> PhotoFacts {
    PhotoFacts {
        taken: capture_time(path, &thumb.exif, sidecar, mtime_ns),
        screenshot: is_screenshot(path, thumb),
    }
}

/// The capture time of a photo whose EXIF facts are `exif`, reading its sidecar if any.
pub fn capture_time(
    path: &Path,
    exif: &ExifFacts,
    sidecar: Option<&Path>,
    mtime_ns: i64,
) -> CaptureTime {
    let json = sidecar.filter(|_| exif.taken_at.is_none()).and_then(read_sidecar);
    resolve(path, exif, json.as_deref(), mtime_ns)
}

fn read_sidecar(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_SIDECAR_BYTES).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Named so (`Screenshot_...`, `Screen Shot ...`, `Bildschirmfoto ...`), or a PNG the size
/// of a phone screen without a camera's EXIF.
pub fn is_screenshot(path: &Path, thumb: &Thumbnail) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let named = ["screenshot", "screen shot", "screen_shot", "bildschirmfoto", "capture d"]
        .iter()
        .any(|w| name.contains(w));
    if named {
        return true;
    }
    let (short, long) = (thumb.width.min(thumb.height), thumb.width.max(thumb.height));
    thumb.format == PhotoFormat::Png
        && !thumb.exif.camera
        && SCREEN_WIDTHS.contains(&short)
        && u64::from(long) * 10 > u64::from(short) * 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    fn thumb(w: u32, h: u32, format: PhotoFormat) -> Thumbnail {
        Thumbnail {
            image: RgbImage::new(1, 1),
            width: w,
            height: h,
            exif: ExifFacts::default(),
            format,
        }
    }

    #[test]
    fn screenshots_by_name_or_phone_screen_png() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert!(is_screenshot(
            &p("/a/Screenshot_20190512-123456.png"),
            &thumb(1, 1, PhotoFormat::Png)
        ));
        assert!(is_screenshot(
            &p("/a/Screen Shot 2019-05-12 at 1.png"),
            &thumb(9, 9, PhotoFormat::Jpeg)
        ));
        assert!(is_screenshot(&p("/a/IMG_0001.PNG"), &thumb(1170, 2532, PhotoFormat::Png)));
        assert!(is_screenshot(&p("/a/IMG_0002.PNG"), &thumb(2340, 1080, PhotoFormat::Png)));
        // A phone photo saved as PNG at camera size, a square PNG, a JPEG at screen size: no.
        assert!(!is_screenshot(&p("/a/IMG_0003.PNG"), &thumb(3024, 4032, PhotoFormat::Png)));
        assert!(!is_screenshot(&p("/a/logo.png"), &thumb(1080, 1080, PhotoFormat::Png)));
        assert!(!is_screenshot(&p("/a/IMG_0004.jpg"), &thumb(1170, 2532, PhotoFormat::Jpeg)));
        let mut camera = thumb(1080, 1920, PhotoFormat::Png);
        camera.exif.camera = true;
        assert!(!is_screenshot(&p("/a/IMG_0005.png"), &camera));
    }
}
