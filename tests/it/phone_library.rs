//! A miniature phone library, generated: camera JPEGs with and without EXIF (one stored
//! sideways), HEICs made with libheif's encoder (one rotated through `irot`, with EXIF
//! Orientation 6 too, as iPhones write it), a Live Photo pair, videos, a Google Takeout folder
//! with JSON sidecars, messenger-named files without EXIF, screenshots (named, and by size),
//! a DNG with a full-size JPEG preview, a NEF with only a tiny preview, and a CR3.
//!
//! Every picture is the same upright scene at its own size: red top-left quadrant, green
//! top-right, blue bottom half, so a thumbnail shows whether it came out upright.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use libheif_rs::{
    Channel, ColorSpace, CompressionFormat, EncoderQuality, EncodingOptions, HeifContext,
    ImageOrientation, LibHeif, RgbChroma,
};

/// What the scan must find for one photo file.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Relative to the library root.
    pub rel: &'static str,
    /// Displayed size.
    pub size: (u32, u32),
    /// The capture time as "YYYY:MM:DD HH:MM:SS" clock reading, and its source name.
    pub taken: &'static str,
    pub source: &'static str,
    pub offset: Option<i32>,
    pub live_video: Option<&'static str>,
    pub screenshot: bool,
}

/// The files written and what the scan must make of them.
pub struct PhoneLibrary {
    pub root: PathBuf,
    pub photos: Vec<Expect>,
    /// Plain videos (not Live Photo halves).
    pub videos: usize,
    pub live_photos: usize,
    /// Photo files that must fail with an "unsupported RAW" reason.
    pub raw_without_preview: Vec<&'static str>,
    /// Files counted as unsupported by extension.
    pub unsupported: usize,
}

/// The upright scene at `w`x`h`.
pub fn scene(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        if y >= h / 2 {
            Rgb([20, 40, 220])
        } else if x < w / 2 {
            Rgb([220, 30, 30])
        } else {
            Rgb([30, 200, 40])
        }
    })
}

/// A photo-like picture with detail at every scale: gradients, stripes of several
/// frequencies and noise (a fixed generator), so an HEVC encoder leaves block edges for
/// its in-loop filters to smooth.
pub fn textured(w: u32, h: u32) -> RgbImage {
    let mut state = 0x2545_f491_u32;
    RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state % 24) as f32 - 12.0;
        let (fx, fy) = (x as f32, y as f32);
        let wave = 40.0 * (fx / 9.0 + fy / 23.0).sin() + 25.0 * (fx * fy / 40_000.0).cos();
        let base = [fx / w as f32 * 150.0 + 40.0, fy / h as f32 * 150.0 + 40.0, 110.0];
        let c = |v: f32, k: f32| (v + k * wave + noise).clamp(0.0, 255.0) as u8;
        Rgb([c(base[0], 1.0), c(base[1], -0.6), c(base[2], 0.3)])
    })
}

/// True when `img` shows the scene upright (at the quadrant centres).
pub fn is_upright(img: &RgbImage) -> bool {
    let (w, h) = img.dimensions();
    let at = |x: u32, y: u32| img.get_pixel(x, y).0;
    let red = |p: [u8; 3]| p[0] > 150 && p[1] < 100 && p[2] < 100;
    let green = |p: [u8; 3]| p[1] > 130 && p[0] < 100 && p[2] < 100;
    let blue = |p: [u8; 3]| p[2] > 150 && p[0] < 100;
    red(at(w / 4, h / 4)) && green(at(3 * w / 4, h / 4)) && blue(at(w / 2, 3 * h / 4))
}

/// A TIFF value for [`tiff`].
pub enum Val {
    Short(u16),
    Long(u32),
    Ascii(String),
    Bytes(Vec<u8>),
    /// The offset / length of the blob appended after the TIFF structure.
    TailOffset,
    TailLen,
}

/// A little-endian TIFF: IFD0 `ifd0` (+ a pointer to an Exif IFD holding `exif`), the values
/// that do not fit in 4 bytes after the IFDs, then `tail`. Entries must be in tag order.
pub fn tiff(ifd0: Vec<(u16, Val)>, exif: Vec<(u16, Val)>, tail: &[u8]) -> Vec<u8> {
    let mut ifd0 = ifd0;
    if !exif.is_empty() {
        ifd0.push((0x8769, Val::Long(0)));
        ifd0.sort_by_key(|e| e.0);
    }
    let ifd0_len = 2 + 12 * ifd0.len() + 4;
    let exif_at = 8 + ifd0_len;
    let exif_len = if exif.is_empty() { 0 } else { 2 + 12 * exif.len() + 4 };
    let mut data_at = exif_at + exif_len;
    let big = |v: &Val| match v {
        Val::Ascii(s) => s.len() + 1,
        Val::Bytes(b) => b.len(),
        _ => 0,
    };
    let data_len: usize = ifd0.iter().chain(&exif).map(|(_, v)| big(v)).filter(|&n| n > 4).sum();
    let tail_at = (data_at + data_len) as u32;
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    let mut data = Vec::new();
    let write_ifd = |out: &mut Vec<u8>, entries: &[(u16, Val)], data: &mut Vec<u8>| {
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, v) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            let (typ, count, value): (u16, u32, [u8; 4]) = match v {
                Val::Short(s) => (3, 1, [s.to_le_bytes()[0], s.to_le_bytes()[1], 0, 0]),
                Val::Long(_) if *tag == 0x8769 => (4, 1, (exif_at as u32).to_le_bytes()),
                Val::Long(l) => (4, 1, l.to_le_bytes()),
                Val::TailOffset => (4, 1, tail_at.to_le_bytes()),
                Val::TailLen => (4, 1, (tail.len() as u32).to_le_bytes()),
                Val::Ascii(_) | Val::Bytes(_) => {
                    let mut bytes = match v {
                        Val::Ascii(s) => s.as_bytes().to_vec(),
                        Val::Bytes(b) => b.clone(),
                        _ => unreachable!(),
                    };
                    let typ = if matches!(v, Val::Ascii(_)) {
                        bytes.push(0);
                        2
                    } else {
                        1
                    };
                    let count = bytes.len() as u32;
                    if bytes.len() <= 4 {
                        bytes.resize(4, 0);
                        (typ, count, [bytes[0], bytes[1], bytes[2], bytes[3]])
                    } else {
                        let at = (data_at + data.len()) as u32;
                        data.extend_from_slice(&bytes);
                        (typ, count, at.to_le_bytes())
                    }
                }
            };
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value);
        }
        out.extend_from_slice(&0u32.to_le_bytes());
    };
    write_ifd(&mut out, &ifd0, &mut data);
    if !exif.is_empty() {
        write_ifd(&mut out, &exif, &mut data);
    }
    data_at += data.len();
    assert_eq!(data_at as u32, tail_at);
    out.extend_from_slice(&data);
    out.extend_from_slice(tail);
    out
}

/// EXIF (TIFF) with a camera Make, Orientation, DateTimeOriginal and OffsetTimeOriginal.
pub fn camera_exif(orientation: u16, taken: &str, offset: Option<&str>) -> Vec<u8> {
    let ifd0 = vec![(0x010F, Val::Ascii("PhoneMaker".into())), (0x0112, Val::Short(orientation))];
    let mut exif = vec![(0x9003, Val::Ascii(taken.into()))];
    if let Some(o) = offset {
        exif.push((0x9011, Val::Ascii(o.into())));
    }
    tiff(ifd0, exif, &[])
}

/// A JPEG of `img`, with `exif` (TIFF bytes) as its APP1 segment when given.
pub fn jpeg(img: &RgbImage, exif: Option<&[u8]>) -> Vec<u8> {
    let plain = crate::encode::jpeg(img);
    let Some(tiff) = exif else { return plain };
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

pub use crate::encode::png;

/// A HEIC made with libheif's HEVC encoder (x265): `stored` pixels, an `irot` for the
/// EXIF-style `orientation` (Normal, or Rotate90Cw as a phone held upright writes it), and
/// `exif` as its EXIF block. libheif 1.15's encoder does not write the `irot` its
/// `image_orientation` option promises, so it is added to the file here (see [`with_irot`]).
pub fn heic(stored: &RgbImage, orientation: ImageOrientation, exif: Option<&[u8]>) -> Vec<u8> {
    let bytes = heic_plain(stored, exif);
    match orientation {
        ImageOrientation::Normal => bytes,
        // Shown by turning the stored pixels 90 degrees clockwise: 270 counter-clockwise.
        ImageOrientation::Rotate90Cw => with_irot(&bytes, 3),
        other => panic!("fixture orientation {other:?} not made"),
    }
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

fn put32(b: &mut [u8], at: usize, v: usize) {
    b[at..at + 4].copy_from_slice(&(v as u32).to_be_bytes());
}

/// Child boxes of the box body `b[start..end]`: (offset, size, type).
fn boxes(b: &[u8], start: usize, end: usize) -> Vec<(usize, usize, [u8; 4])> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let size = be32(b, at);
        out.push((at, size, [b[at + 4], b[at + 5], b[at + 6], b[at + 7]]));
        at += size.max(8);
    }
    out
}

/// Adds an `irot` property (`angle` x 90 degrees counter-clockwise) to the primary item (1)
/// of a libheif-written HEIC: appended to `ipco`, associated in `ipma`, the sizes of the
/// enclosing boxes and the `iloc` offsets of the data after `meta` moved accordingly.
pub fn with_irot(heic: &[u8], angle: u8) -> Vec<u8> {
    let mut b = heic.to_vec();
    let top = boxes(&b, 0, b.len());
    let &(meta, meta_size, _) = top.iter().find(|x| &x.2 == b"meta").unwrap();
    let inner = boxes(&b, meta + 12, meta + meta_size);
    let &(iprp, iprp_size, _) = inner.iter().find(|x| &x.2 == b"iprp").unwrap();
    let &(iloc, _, _) = inner.iter().find(|x| &x.2 == b"iloc").unwrap();
    let props = boxes(&b, iprp + 8, iprp + iprp_size);
    let &(ipco, ipco_size, _) = props.iter().find(|x| &x.2 == b"ipco").unwrap();
    let &(ipma, ipma_size, _) = props.iter().find(|x| &x.2 == b"ipma").unwrap();
    let index = boxes(&b, ipco + 8, ipco + ipco_size).len() + 1;
    // ipma (version 0, flags 0 as libheif writes it): entry_count, then per item a 16-bit
    // id, an 8-bit count and one byte per association.
    assert_eq!(be32(&b, ipma + 8), 0, "ipma version/flags");
    let mut at = ipma + 16;
    let mut assoc_at = None;
    for _ in 0..be32(&b, ipma + 12) {
        let id = u16::from_be_bytes([b[at], b[at + 1]]);
        let n = b[at + 2] as usize;
        if id == 1 {
            b[at + 2] += 1;
            assoc_at = Some(at + 3 + n);
        }
        at += 3 + n;
    }
    let assoc_at = assoc_at.expect("primary item in ipma");
    assert!(assoc_at > ipco + ipco_size, "ipma follows ipco");
    b.insert(assoc_at, 0x80 | index as u8);
    let irot = [0, 0, 0, 9, b'i', b'r', b'o', b't', angle & 3];
    let end = ipco + ipco_size;
    b.splice(end..end, irot);
    let delta = irot.len() + 1;
    put32(&mut b, ipco, ipco_size + irot.len());
    put32(&mut b, ipma + irot.len(), ipma_size + 1);
    put32(&mut b, iprp, iprp_size + delta);
    put32(&mut b, meta, meta_size + delta);
    // iloc: data lives after meta, so every base offset (or extent offset) moves by delta.
    let iloc = if iloc > iprp { iloc + delta } else { iloc };
    let version = b[iloc + 8];
    assert!(version < 2, "iloc version {version}");
    let (off_size, len_size) = ((b[iloc + 12] >> 4) as usize, (b[iloc + 12] & 15) as usize);
    let (base_size, idx_size) = ((b[iloc + 13] >> 4) as usize, (b[iloc + 13] & 15) as usize);
    let idx_size = if version == 1 { idx_size } else { 0 };
    let count = u16::from_be_bytes([b[iloc + 14], b[iloc + 15]]) as usize;
    let mut at = iloc + 16;
    let shift = |b: &mut Vec<u8>, at: usize, size: usize| {
        if size == 4 {
            let v = be32(b, at);
            put32(b, at, v + delta);
        } else {
            assert_eq!(size, 0, "offset size {size}");
        }
    };
    for _ in 0..count {
        at += 2; // item id
        if version == 1 {
            at += 2; // construction method
        }
        at += 2; // data reference index
        shift(&mut b, at, base_size);
        at += base_size;
        let extents = u16::from_be_bytes([b[at], b[at + 1]]) as usize;
        at += 2;
        for _ in 0..extents {
            at += idx_size;
            if base_size == 0 {
                shift(&mut b, at, off_size);
            }
            at += off_size + len_size;
        }
    }
    b
}

fn heic_plain(stored: &RgbImage, exif: Option<&[u8]>) -> Vec<u8> {
    let (w, h) = stored.dimensions();
    let mut image = libheif_rs::Image::new(w, h, ColorSpace::Rgb(RgbChroma::Rgb)).unwrap();
    image.create_plane(Channel::Interleaved, w, h, 8).unwrap();
    {
        let planes = image.planes_mut();
        let plane = planes.interleaved.unwrap();
        let row = w as usize * 3;
        for (y, src) in stored.as_raw().chunks_exact(row).enumerate() {
            plane.data[y * plane.stride..y * plane.stride + row].copy_from_slice(src);
        }
    }
    let lib = LibHeif::new();
    let mut ctx = HeifContext::new().unwrap();
    let mut encoder = lib.encoder_for_format(CompressionFormat::Hevc).unwrap();
    encoder.set_quality(EncoderQuality::Lossy(70)).unwrap();
    let options = EncodingOptions::new().unwrap();
    let handle = ctx.encode_image(&image, &mut encoder, Some(options)).unwrap();
    if let Some(exif) = exif {
        ctx.add_exif_metadata(&handle, exif).unwrap();
    }
    ctx.write_to_bytes().unwrap()
}

/// A DNG (little-endian TIFF, DNGVersion 1.4) whose IFD0 is a `preview` JPEG rendering
/// (NewSubfileType 1, JPEG compression, YCbCr), with Orientation and DateTimeOriginal.
pub fn dng(preview: &[u8], size: (u32, u32), orientation: u16, taken: &str) -> Vec<u8> {
    let ifd0 = vec![
        (0x00FE, Val::Long(1)),
        (0x0100, Val::Long(size.0)),
        (0x0101, Val::Long(size.1)),
        (0x0103, Val::Short(7)),
        (0x0106, Val::Short(6)),
        (0x010F, Val::Ascii("PhoneMaker".into())),
        (0x0111, Val::TailOffset),
        (0x0112, Val::Short(orientation)),
        (0x0117, Val::TailLen),
        (0xC612, Val::Bytes(vec![1, 4, 0, 0])),
    ];
    tiff(ifd0, vec![(0x9003, Val::Ascii(taken.into()))], preview)
}

/// A NEF-like RAW: TIFF with sub-IFDs, whose only JPEG is a 160x120 thumbnail.
pub fn raw_with_tiny_preview() -> Vec<u8> {
    let thumb = jpeg(&scene(160, 120), None);
    let ifd0 = vec![
        (0x00FE, Val::Long(1)),
        (0x010F, Val::Ascii("NIKON".into())),
        (0x014A, Val::Long(0)),
        (0x0201, Val::TailOffset),
        (0x0202, Val::TailLen),
    ];
    tiff(ifd0, Vec::new(), &thumb)
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Sets a file's modification time (seconds since 1970).
pub fn set_mtime(path: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

/// Quarter turn counter-clockwise: how a phone held upright stores a scene it shows with
/// EXIF Orientation 6 (rotate 90 degrees clockwise to view).
pub fn stored_for_orientation_6(upright: &RgbImage) -> RgbImage {
    image::imageops::rotate270(upright)
}

/// A minimal QuickTime file: an `ftyp` box of brand `qt  ` (never read, only counted).
fn mov() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 20];
    b.extend_from_slice(b"ftypqt  \0\0\0\0qt  ");
    b.extend_from_slice(&[0; 64]);
    b
}

/// Writes the library under `root` and returns what a scan must make of it.
/// `MTIME` is the modification time of the files whose capture time is a guess.
pub const MTIME: i64 = 1_600_000_000; // 2020-09-13 12:26:40 UTC
pub const MTIME_CLOCK: &str = "2020:09:13 12:26:40";

pub fn write_library(root: &Path) -> PhoneLibrary {
    let mut photos = Vec::new();
    let mut e = |rel, size, taken, source, offset, live_video, screenshot| {
        photos.push(Expect { rel, size, taken, source, offset, live_video, screenshot })
    };

    // Camera JPEGs: one stored sideways with EXIF Orientation 6 and a time zone, one without
    // EXIF (its capture time is the file time, a guess).
    let exif = camera_exif(6, "2019:05:12 08:00:00", Some("+02:00"));
    write(
        root,
        "DCIM/IMG_0001.JPG",
        &jpeg(&stored_for_orientation_6(&scene(600, 800)), Some(&exif)),
    );
    e("DCIM/IMG_0001.JPG", (600, 800), "2019:05:12 08:00:00", "exif", Some(120), None, false);
    let p = write(root, "DCIM/IMG_0002.JPG", &jpeg(&scene(800, 600), None));
    set_mtime(&p, MTIME);
    e("DCIM/IMG_0002.JPG", (800, 600), MTIME_CLOCK, "file_time", Some(0), None, false);

    // iPhone HEICs: a Live Photo (HEIC + MOV), and one rotated by irot whose EXIF also says 6.
    let exif = camera_exif(1, "2021:07:04 18:30:00", Some("-04:00"));
    write(
        root,
        "iPhone/IMG_1001.HEIC",
        &heic(&scene(640, 480), ImageOrientation::Normal, Some(&exif)),
    );
    write(root, "iPhone/IMG_1001.MOV", &mov());
    e(
        "iPhone/IMG_1001.HEIC",
        (640, 480),
        "2021:07:04 18:30:00",
        "exif",
        Some(-240),
        Some("iPhone/IMG_1001.MOV"),
        false,
    );
    let exif = camera_exif(6, "2021:07:04 18:31:00", None);
    let stored = stored_for_orientation_6(&scene(480, 640));
    write(root, "iPhone/IMG_1002.HEIC", &heic(&stored, ImageOrientation::Rotate90Cw, Some(&exif)));
    e("iPhone/IMG_1002.HEIC", (480, 640), "2021:07:04 18:31:00", "exif", None, None, false);
    // A JPEG Live Photo pair (older iPhones, "Most Compatible").
    let exif = camera_exif(1, "2018:01:02 03:04:05", None);
    write(root, "iPhone/IMG_0900.JPG", &jpeg(&scene(640, 480), Some(&exif)));
    write(root, "iPhone/IMG_0900.mov", &mov());
    e(
        "iPhone/IMG_0900.JPG",
        (640, 480),
        "2018:01:02 03:04:05",
        "exif",
        None,
        Some("iPhone/IMG_0900.mov"),
        false,
    );

    // Videos: counted, never failures.
    write(root, "iPhone/IMG_1003.MOV", &mov());
    write(root, "Camera/VID_20200101_101010.mp4", &mov());

    // Google Takeout: no EXIF, times in JSON sidecars (new and old naming, a numbered copy).
    let sidecar = |ts: i64| {
        format!(r#"{{"title":"x","photoTakenTime":{{"timestamp":"{ts}","formatted":"..."}}}}"#)
    };
    let p = write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2001.jpg",
        &jpeg(&scene(500, 400), None),
    );
    set_mtime(&p, MTIME);
    write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2001.jpg.supplemental-metadata.json",
        sidecar(1_500_000_000).as_bytes(),
    );
    e(
        "Takeout/Google Photos/Photos from 2017/IMG_2001.jpg",
        (500, 400),
        "2017:07:14 02:40:00",
        "sidecar",
        Some(0),
        None,
        false,
    );
    let p = write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2001(1).jpg",
        &jpeg(&scene(400, 500), None),
    );
    set_mtime(&p, MTIME);
    write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2001.jpg.supplemental-metadata(1).json",
        sidecar(1_500_000_060).as_bytes(),
    );
    e(
        "Takeout/Google Photos/Photos from 2017/IMG_2001(1).jpg",
        (400, 500),
        "2017:07:14 02:41:00",
        "sidecar",
        Some(0),
        None,
        false,
    );
    let p = write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2002.jpg",
        &jpeg(&scene(300, 200), None),
    );
    set_mtime(&p, MTIME);
    write(
        root,
        "Takeout/Google Photos/Photos from 2017/IMG_2002.jpg.json",
        sidecar(1_500_086_400).as_bytes(),
    );
    e(
        "Takeout/Google Photos/Photos from 2017/IMG_2002.jpg",
        (300, 200),
        "2017:07:15 02:40:00",
        "sidecar",
        Some(0),
        None,
        false,
    );
    write(
        root,
        "Takeout/Google Photos/Photos from 2017/metadata.json",
        br#"{"title":"Photos from 2017"}"#,
    );

    // Messengers strip EXIF: the date is in the name.
    for (rel, taken, size) in [
        (
            "WhatsApp/Media/WhatsApp Images/IMG-20190512-WA0003.jpg",
            "2019:05:12 12:00:00",
            (320, 240),
        ),
        ("Signal/signal-2020-01-01-101010.jpg", "2020:01:01 10:10:10", (240, 320)),
        ("Camera/PXL_20210101_101010123.jpg", "2021:01:01 10:10:10", (400, 300)),
        ("Camera/IMG_20190512_123456.jpg", "2019:05:12 12:34:56", (300, 400)),
    ] {
        let p = write(root, rel, &jpeg(&scene(size.0, size.1), None));
        set_mtime(&p, MTIME);
        e(rel, size, taken, "file_name", None, None, false);
    }

    // Screenshots: one named so (and dated by its name), one a PNG at an iPhone screen's size.
    let p = write(root, "Screenshots/Screenshot_2019-05-12-12-34-56.png", &png(&scene(720, 1280)));
    set_mtime(&p, MTIME);
    e(
        "Screenshots/Screenshot_2019-05-12-12-34-56.png",
        (720, 1280),
        "2019:05:12 12:34:56",
        "file_name",
        None,
        None,
        true,
    );
    let p = write(root, "iPhone/IMG_1004.PNG", &png(&scene(1170, 2532)));
    set_mtime(&p, MTIME);
    e("iPhone/IMG_1004.PNG", (1170, 2532), MTIME_CLOCK, "file_time", Some(0), None, true);

    // RAW: a DNG with a full-size preview (stored sideways, Orientation 6), a NEF with only a
    // thumbnail (unsupported, with the reason), a CR3 (not read at all).
    let preview = jpeg(&stored_for_orientation_6(&scene(1200, 1600)), None);
    write(root, "Pro/PXL_PRO_0001.dng", &dng(&preview, (1600, 1200), 6, "2022:02:02 22:22:22"));
    e("Pro/PXL_PRO_0001.dng", (1200, 1600), "2022:02:02 22:22:22", "exif", None, None, false);
    write(root, "Pro/DSC_0002.NEF", &raw_with_tiny_preview());
    write(root, "Pro/IMG_0003.CR3", b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom");

    PhoneLibrary {
        root: root.to_path_buf(),
        photos,
        videos: 2,
        live_photos: 2,
        raw_without_preview: vec!["Pro/DSC_0002.NEF"],
        unsupported: 1,
    }
}
