//! Arbitrary bytes as a photo file: decode (libjpeg-turbo or the image crate), EXIF, orient,
//! resize, and encode the thumbnail. Any panic, abort, leak past the RSS limit or hang is a bug.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use photosift_fuzz::config::{Config, ScanConfig};
use photosift_fuzz::thumbnail::{encode_jpeg, thumbnail_from_bytes};

fn cfg() -> &'static ScanConfig {
    static CFG: OnceLock<ScanConfig> = OnceLock::new();
    // The shipped defaults (thumb_size 512, max_pixels 150 MP): what a scan really runs with.
    CFG.get_or_init(|| Config::default().scan)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(thumb) = thumbnail_from_bytes(data, cfg()) {
        let (w, h) = thumb.image.dimensions();
        assert!(w.max(h) <= cfg().thumb_size, "thumbnail {w}x{h} exceeds the long side");
        assert!(w > 0 && h > 0);
        let _ = encode_jpeg(&thumb.image, 85);
    }
});
