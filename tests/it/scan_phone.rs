//! Scanning a generated phone library (`tests/phone_library`): HEIC through libheif, Live
//! Photos, videos, Takeout sidecars, messenger names, screenshots, RAW previews. Every photo's
//! thumbnail orientation, capture time and its source, the pairs and the summary counts.

use photosift::catalog::{Photo, PhotoState, TakenSource};
use photosift::config::Config;
use photosift::imaging;
use photosift::imaging::exif_meta::parse_exif_datetime;
use photosift::ingest::{self, ScanSummary};
use photosift::library::Library;

use crate::phone_library::*;

struct Scanned {
    _dir: tempfile::TempDir,
    lib: PhoneLibrary,
    library: Library,
    catalog: photosift::catalog::Catalog,
}

impl Scanned {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lib = write_library(&dir.path().join("phone"));
        let library = Library::create(dir.path().join("library")).unwrap();
        let catalog = library.open_catalog().unwrap();
        Self { _dir: dir, lib, library, catalog }
    }

    fn scan(&mut self) -> ScanSummary {
        let cfg = Config::default().scan;
        let roots = [self.lib.root.clone()];
        ingest::scan(&mut self.catalog, &self.library, &roots, &cfg, &|_| {}).unwrap()
    }

    fn photo(&self, rel: &str) -> Photo {
        let path = std::fs::canonicalize(&self.lib.root).unwrap().join(rel);
        let all = self.catalog.photos().unwrap();
        all.into_iter().find(|p| p.path == path).unwrap_or_else(|| panic!("{rel} not in catalog"))
    }
}

#[test]
fn every_photo_of_a_phone_library_is_read_upright_with_its_capture_time_and_source() {
    let mut env = Scanned::new();
    let s = env.scan();
    let failed: Vec<String> =
        s.failures.iter().map(|f| format!("{}: {}", f.path.display(), f.message)).collect();
    assert_eq!(s.new as usize, env.lib.photos.len(), "{failed:?}");
    assert_eq!(failed.len(), env.lib.raw_without_preview.len(), "{failed:?}");
    assert!(
        failed[0]
            .contains("DSC_0002.NEF: unsupported RAW file: its embedded preview is only 160x120"),
        "{failed:?}"
    );
    assert_eq!(
        s.unsupported as usize, env.lib.unsupported,
        "only the CR3: {:?}",
        s.unsupported_by_ext
    );
    assert_eq!(s.unsupported_by_ext.get("cr3"), Some(&1));
    assert_eq!(s.videos as usize, env.lib.videos);
    assert_eq!(s.live_photos as usize, env.lib.live_photos);
    assert_eq!(s.sidecars, 3);
    assert_eq!(s.screenshots, 2);
    assert_eq!(s.time_guessed, 2);

    for want in &env.lib.photos {
        let p = env.photo(want.rel);
        assert_eq!(p.state, PhotoState::Ok, "{}", want.rel);
        assert_eq!((p.width, p.height), (Some(want.size.0), Some(want.size.1)), "{}", want.rel);
        let thumb = image::open(env.library.root().join(p.thumb_path.as_ref().unwrap()))
            .unwrap()
            .into_rgb8();
        let (tw, th) = thumb.dimensions();
        assert!(tw.max(th) <= 512, "{}: {tw}x{th}", want.rel);
        assert_eq!(tw > th, want.size.0 > want.size.1, "{}: thumbnail {tw}x{th}", want.rel);
        assert!(is_upright(&thumb), "{}: thumbnail not upright", want.rel);
        let taken = parse_exif_datetime(want.taken.as_bytes()).unwrap();
        assert_eq!(p.taken_at, Some(taken), "{}: taken {}", want.rel, want.taken);
        assert_eq!(p.taken_source, TakenSource::parse(want.source), "{}", want.rel);
        assert_eq!(p.taken_offset, want.offset, "{}", want.rel);
        let live = want.live_video.map(|v| std::fs::canonicalize(&env.lib.root).unwrap().join(v));
        assert_eq!(p.live_video, live, "{}", want.rel);
        assert_eq!(p.screenshot, want.screenshot, "{}", want.rel);
    }

    let counts = env.catalog.photo_counts().unwrap();
    assert_eq!((counts.videos, counts.live_photos, counts.screenshots), (2, 2, 2));
    assert_eq!(env.catalog.photos().unwrap().iter().filter(|p| p.screenshot).count(), 2);
}

#[test]
fn a_rescan_keeps_everything_and_follows_live_photo_videos_and_new_sidecars() {
    let mut env = Scanned::new();
    env.scan();
    let s = env.scan();
    // Only the failed NEF is read again (failures are retried on every scan); it is read,
    // not thumbnailed.
    assert_eq!((s.new, s.decoded, s.files_read, s.failed), (0, 0, 1, 1), "{s:?}");
    assert_eq!((s.videos, s.live_photos), (2, 2));

    // The Live Photo's video goes away: the photo stays, its note is cleared.
    std::fs::remove_file(env.lib.root.join("iPhone/IMG_1001.MOV")).unwrap();
    // A guessed time gets its Takeout sidecar later: the sidecar wins, without a re-read.
    let guessed = "DCIM/IMG_0002.JPG";
    assert_eq!(env.photo(guessed).taken_source, Some(TakenSource::FileTime));
    std::fs::write(
        env.lib.root.join("DCIM/IMG_0002.JPG.json"),
        br#"{"photoTakenTime":{"timestamp":"1262304000"}}"#,
    )
    .unwrap();
    let s = env.scan();
    assert_eq!((s.new, s.decoded, s.live_photos, s.videos), (0, 0, 1, 2), "{s:?}");
    assert_eq!(env.photo("iPhone/IMG_1001.HEIC").live_video, None);
    let p = env.photo(guessed);
    assert_eq!((p.taken_at, p.taken_source), (Some(1_262_304_000), Some(TakenSource::Sidecar)));
    assert_eq!(env.catalog.photo_counts().unwrap().live_photos, 1);
}

fn heif_decode(max_pixels: u64, threads: u32) -> imaging::HeifDecode {
    imaging::HeifDecode { target: 512, max_pixels, threads, fast: true }
}

#[test]
fn heic_decoding_is_a_reusable_function_giving_the_primary_image_upright() {
    let stored = stored_for_orientation_6(&scene(480, 640));
    let exif = camera_exif(6, "2021:07:04 18:31:00", Some("+09:00"));
    let bytes = heic(&stored, libheif_rs::ImageOrientation::Rotate90Cw, Some(&exif));
    assert!(imaging::is_heif(&bytes));
    let pic = imaging::decode_heif(&bytes, heif_decode(1 << 30, 2)).unwrap();
    assert_eq!((pic.width, pic.height), (480, 640));
    assert_eq!(pic.image.dimensions(), (384, 512));
    assert!(is_upright(&pic.image));
    assert_eq!(pic.exif.taken_at, parse_exif_datetime(b"2021:07:04 18:31:00"));
    assert_eq!(pic.exif.offset_minutes, Some(540));
    // Over the pixel limit: refused before decoding.
    let err = imaging::decode_heif(&bytes, heif_decode(1000, 0)).unwrap_err();
    assert!(err.to_string().contains("scan.max_pixels"), "{err}");
    // Truncated: an error, never a crash.
    assert!(imaging::decode_heif(&bytes[..bytes.len() / 2], heif_decode(1 << 30, 0)).is_err());
}

/// Mean absolute difference of two images' channel values, and the largest.
fn difference(a: &image::RgbImage, b: &image::RgbImage) -> (f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions());
    let d = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y));
    let (sum, max) = d.fold((0u64, 0u8), |(s, m), d| (s + u64::from(d), m.max(d)));
    (sum as f64 / a.as_raw().len() as f64, max)
}

#[test]
fn the_fast_heic_decode_converts_colour_like_libheif_and_skips_filters_from_4x() {
    let bytes = heic(&textured(2048, 1536), libheif_rs::ImageOrientation::Normal, None);
    let decode = |target, fast| {
        let how = imaging::HeifDecode { target, max_pixels: 1 << 30, threads: 0, fast };
        imaging::decode_heif(&bytes, how).unwrap().image
    };
    // Not shrunk: the filters stay on, and photosift's RGB conversion differs from libheif's
    // own by rounding.
    let before = imaging::hevc_decoder::decode_counts();
    let (full_mean, full_max) = difference(&decode(2048, true), &decode(2048, false));
    assert!(full_mean < 0.1 && full_max <= 1, "full size: mean {full_mean:.3}, max {full_max}");
    let between = imaging::hevc_decoder::decode_counts();
    assert!(between.rgb > before.rgb);
    // 2048 px to 512: 4x, so the deblocking and SAO filters are skipped too; the thumbnails
    // differ by a fraction of a level.
    let (mean, max) = difference(&decode(512, true), &decode(512, false));
    assert!(imaging::hevc_decoder::decode_counts().filterless > between.filterless);
    eprintln!("full size: mean {full_mean:.3}, max {full_max}; 512 px: mean {mean:.3}, max {max}");
    assert!(mean < 0.5 && max < 16, "512 px: mean {mean:.3}, max {max}");
    // The scan's thumbnails are these.
    let cfg = photosift::config::ScanConfig { heic_fast_decode: true, ..Config::default().scan };
    let thumb = imaging::thumbnail::thumbnail_from_bytes(&bytes, &cfg).unwrap().image;
    assert_eq!(thumb, decode(512, true));
}

/// iPhones store a photo as a grid of 512 px HEVC tiles: the fast decode converts each tile
/// and libheif places them as it does its own.
#[test]
fn a_grid_heic_decodes_tile_by_tile_like_libheif() {
    // scripts/make-grid-heic.py: 1200x800, 3x2 tiles of 512 px (pillow-heif, libheif 1.23).
    let bytes =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/grid-tiles.heic")).unwrap();
    let decode = |target, fast| {
        let how = imaging::HeifDecode { target, max_pixels: 1 << 30, threads: 0, fast };
        imaging::decode_heif(&bytes, how).unwrap()
    };
    let before = imaging::hevc_decoder::decode_counts();
    let fast = decode(2048, true);
    assert_eq!((fast.width, fast.height), (1200, 800));
    assert_eq!(fast.image.dimensions(), (1200, 800));
    assert!(imaging::hevc_decoder::decode_counts().rgb >= before.rgb + 6, "six tiles as RGB");
    let (mean, max) = difference(&fast.image, &decode(2048, false).image);
    assert!(mean < 0.1 && max <= 2, "full size: mean {mean:.3}, max {max}");
    // Shrunk 4x or more, without the filters: still within a level or two.
    let (mean, max) = difference(&decode(256, true).image, &decode(256, false).image);
    assert!(mean < 0.5 && max < 16, "256 px: mean {mean:.3}, max {max}");
}
