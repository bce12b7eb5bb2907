//! The hostile input corpus: every kind of bad file a decade-old photo folder can hold, and a
//! few a malicious one could, generated into a temporary folder with what each should give.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a scan must make of one corpus file.
#[derive(Debug, Clone)]
pub enum Expect {
    /// A real picture (whatever its metadata or name): ingested.
    Ok,
    /// Skipped, with a failure message containing this text.
    Fails(&'static str),
    /// Never opened; the walk reports it with this text.
    WalkIssue(&'static str),
    /// Either ingested or reported somehow (e.g. a path longer than the OS allows).
    OkOrReported,
}

#[derive(Debug, Clone)]
pub struct Case {
    /// Relative to the corpus root (raw bytes: names hold newlines).
    pub rel: PathBuf,
    pub expect: Expect,
}

pub use crate::encode::{encode, jpeg, pattern as picture};

/// A JPEG segment (marker + big-endian length + payload).
fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An Exif APP1 payload whose IFD0 holds the given 12-byte entries (little-endian TIFF).
fn exif_payload(entries: &[[u8; 12]], claimed_count: Option<u16>) -> Vec<u8> {
    let mut p = b"Exif\0\0II*\0".to_vec();
    p.extend_from_slice(&8u32.to_le_bytes());
    p.extend_from_slice(&claimed_count.unwrap_or(entries.len() as u16).to_le_bytes());
    for e in entries {
        p.extend_from_slice(e);
    }
    p.extend_from_slice(&0u32.to_le_bytes());
    p
}

fn ifd_entry(tag: u16, typ: u16, count: u32, value: u32) -> [u8; 12] {
    let mut e = [0u8; 12];
    e[..2].copy_from_slice(&tag.to_le_bytes());
    e[2..4].copy_from_slice(&typ.to_le_bytes());
    e[4..8].copy_from_slice(&count.to_le_bytes());
    e[8..].copy_from_slice(&value.to_le_bytes());
    e
}

/// `jpeg` with `segments` inserted right after SOI.
fn with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A PNG signature and IHDR claiming `w` x `h`, then an IDAT of a few bytes and IEND.
pub fn png_forged(w: u32, h: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = crc32(kind);
        crc = crc32_update(crc, data);
        out.extend_from_slice(&(!crc).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    crc32_update(0xFFFF_FFFF, data)
}

fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    crc
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

/// A folder `depth` levels of 200-byte names below `root`, made one relative step at a time
/// (the full path is longer than PATH_MAX, so no single absolute call can make it), with a
/// photo at the bottom. Returns the relative path of that photo.
fn deep_photo(root: &Path, depth: usize, bytes: &[u8]) -> PathBuf {
    let name = "d".repeat(200);
    let script = format!(
        "set -e; cd \"$1\"; for i in $(seq {depth}); do mkdir -p {name}; cd {name}; done; \
         cat > deep.jpg"
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &script, "deep", root.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    assert!(child.wait().unwrap().success());
    let mut rel = PathBuf::new();
    for _ in 0..depth {
        rel.push(&name);
    }
    rel.join("deep.jpg")
}

/// Writes the corpus under `root` and returns every case. Good photos come first.
pub fn generate(root: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut put = |rel: &str, bytes: &[u8], expect: Expect| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        cases.push(Case { rel: PathBuf::from(rel), expect });
    };
    let base = jpeg(&picture(640, 480, 1));
    put("good/plain.jpg", &base, Expect::Ok);
    put("good/plain.png", &encode(&picture(300, 200, 2), image::ImageFormat::Png), Expect::Ok);

    // The scan issue's bad input.
    put("bad/zero.jpg", b"", Expect::Fails("empty file"));
    let full = jpeg(&picture(800, 600, 3));
    put("bad/truncated.jpg", &full[..full.len() / 2], Expect::Fails("truncated"));
    let noise: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    put("bad/random.jpg", &noise, Expect::Fails("not a JPEG, PNG"));
    put("bad/only-soi.jpg", &[0xFF, 0xD8, 0xFF], Expect::Fails(""));
    put("bad/html.jpg", b"<html><body>404 Not Found</body></html>", Expect::Fails("not a JPEG"));

    // EXIF: a huge block (APP1 segments filling 8 MB), lying counts, bogus orientations.
    let lying = exif_payload(
        &[
            ifd_entry(0x0112, 3, 1, 6),
            ifd_entry(0x010F, 2, u32::MAX, 0xFFFF_FFF0), // Make: 4 G chars far past the end
            ifd_entry(0x8769, 4, 1, 0x7FFF_FFFF),        // Exif IFD pointer nowhere
        ],
        None,
    );
    let mut huge = vec![segment(0xE1, &lying)];
    let filler = vec![0xA5u8; 65_000];
    for _ in 0..128 {
        huge.push(segment(0xE1, &filler));
    }
    put("exif/huge-exif-block.jpg", &with_segments(&base, &huge), Expect::Ok);
    let claims = exif_payload(&[ifd_entry(0x0112, 3, 1, 3)], Some(0xFFFF));
    put(
        "exif/ifd-claims-65535-entries.jpg",
        &with_segments(&base, &[segment(0xE1, &claims)]),
        Expect::Ok,
    );
    for (name, o) in [("orientation-0", 0u32), ("orientation-9", 9), ("orientation-65535", 65535)] {
        let p = exif_payload(&[ifd_entry(0x0112, 3, 1, o)], None);
        put(&format!("exif/{name}.jpg"), &with_segments(&base, &[segment(0xE1, &p)]), Expect::Ok);
    }
    let looped = {
        // IFD0's next-IFD offset points back at IFD0.
        let mut p = b"Exif\0\0II*\0".to_vec();
        p.extend_from_slice(&8u32.to_le_bytes());
        p.extend_from_slice(&1u16.to_le_bytes());
        p.extend_from_slice(&ifd_entry(0x0112, 3, 1, 8));
        p.extend_from_slice(&8u32.to_le_bytes());
        p
    };
    put("exif/ifd-loop.jpg", &with_segments(&base, &[segment(0xE1, &looped)]), Expect::Ok);

    // Forged PNG headers: refused from the header, nothing allocated.
    put("png/forged-30000x30000.png", &png_forged(30_000, 30_000), Expect::Fails("max_pixels"));
    put(
        "png/forged-2e31x2e31.png",
        &png_forged(0x7FFF_FFFF, 0x7FFF_FFFF),
        Expect::Fails("max_pixels"),
    );
    put("png/forged-1x2e31.png", &png_forged(1, 0x7FFF_FFFF), Expect::Fails("max_pixels"));
    put("png/forged-0x0.png", &png_forged(0, 0), Expect::Fails(""));

    // Other formats under a .jpg name: real pictures, decoded by their content.
    let small = picture(200, 150, 4);
    put("renamed/gif.jpg", &encode(&small, image::ImageFormat::Gif), Expect::Ok);
    put("renamed/bmp.jpg", &encode(&small, image::ImageFormat::Bmp), Expect::Ok);
    put("renamed/tiff.jpg", &encode(&small, image::ImageFormat::Tiff), Expect::Ok);
    put("renamed/png.jpeg", &encode(&picture(200, 150, 5), image::ImageFormat::Png), Expect::Ok);

    // Names: the longest a file system allows, newlines, control characters.
    let long = format!("{}.jpg", "n".repeat(251));
    put(&format!("names/{long}"), &jpeg(&picture(120, 90, 6)), Expect::Ok);
    put("names/line\nbreak.jpg", &jpeg(&picture(120, 90, 7)), Expect::Ok);
    put("names/tab\tcr\r.jpg", &jpeg(&picture(120, 90, 8)), Expect::Ok);
    put("names/new\nline dir/inside.jpg", &jpeg(&picture(120, 90, 9)), Expect::Ok);

    // A file far larger than any picture within max_pixels (sparse: no disk used).
    let big = root.join("big/sparse-4GB.jpg");
    std::fs::create_dir_all(big.parent().unwrap()).unwrap();
    let f = std::fs::File::create(&big).unwrap();
    use std::io::Write;
    (&f).write_all(&base).unwrap();
    f.set_len(4 << 30).unwrap();
    cases.push(Case { rel: "big/sparse-4GB.jpg".into(), expect: Expect::Fails("larger than any") });

    // Special files named like photos: never opened, so never blocking.
    std::fs::create_dir_all(root.join("special")).unwrap();
    mkfifo(&root.join("special/fifo.jpg"));
    cases.push(Case { rel: "special/fifo.jpg".into(), expect: Expect::WalkIssue("not a regular") });
    std::os::unix::fs::symlink("/dev/zero", root.join("special/dev-zero.jpg")).unwrap();
    cases.push(Case {
        rel: "special/dev-zero.jpg".into(),
        expect: Expect::WalkIssue("not a regular"),
    });
    std::os::unix::fs::symlink("/dev/null", root.join("special/dev-null.png")).unwrap();
    cases.push(Case {
        rel: "special/dev-null.png".into(),
        expect: Expect::WalkIssue("not a regular"),
    });

    // A path longer than PATH_MAX (4096 bytes).
    let deep = deep_photo(root, 22, &jpeg(&picture(120, 90, 10)));
    cases.push(Case { rel: deep, expect: Expect::OkOrReported });
    cases
}
