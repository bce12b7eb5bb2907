//! RAW files read through their embedded JPEG preview: DNG (phones' "pro" modes) and the
//! TIFF-structured camera RAWs (CR2, NEF, ARW, PEF, SRW, ORF, RW2), and Fuji's RAF. The sensor
//! data itself is never developed: the camera's own full-size rendering is what a thumbnail,
//! an embedding and a preview need. A RAW without a large enough preview stays unsupported,
//! with that reason.

use std::collections::HashSet;

/// A preview smaller than this on its long side is a thumbnail, not a rendering of the photo.
pub const MIN_PREVIEW_LONG_SIDE: usize = 1024;

const TAG_COMPRESSION: u16 = 0x0103;
const TAG_PHOTOMETRIC: u16 = 0x0106;
const TAG_STRIP_OFFSETS: u16 = 0x0111;
const TAG_STRIP_BYTE_COUNTS: u16 = 0x0117;
const TAG_SUB_IFDS: u16 = 0x014A;
const TAG_JPEG_OFFSET: u16 = 0x0201;
const TAG_JPEG_LENGTH: u16 = 0x0202;
const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_DNG_VERSION: u16 = 0xC612;
/// Photometric interpretations of sensor data (colour filter array, linear raw).
const PHOTOMETRIC_RAW: [u32; 2] = [32803, 34892];

/// Whether `bytes` are a RAW file this module reads (not a plain TIFF picture).
pub fn is_raw_container(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"FUJIFILMCCD-RAW") {
        return true;
    }
    let Some(tiff) = Tiff::new(bytes) else { return false };
    if tiff.vendor_magic {
        return true;
    }
    // Canon CR2 marks itself after the header; DNG and the others carry a DNG version or
    // sub-IFDs (the raw data beside the preview), which plain TIFF pictures do not.
    if bytes.get(8..10) == Some(b"CR") {
        return true;
    }
    tiff.ifd_entries(tiff.first_ifd()).is_some_and(|entries| {
        entries.iter().any(|e| matches!(e.tag, TAG_DNG_VERSION | TAG_SUB_IFDS))
    })
}

/// The largest embedded JPEG (by bytes) that is a rendering of the photo, not sensor data.
/// `Err` says why there is none, for the scan's error list.
pub fn largest_jpeg_preview(bytes: &[u8]) -> Result<&[u8], String> {
    let best = if bytes.starts_with(b"FUJIFILMCCD-RAW") {
        raf_preview(bytes)
    } else {
        let tiff = Tiff::new(bytes).ok_or_else(|| "damaged RAW header".to_owned())?;
        tiff.previews().into_iter().max_by_key(|p| p.len())
    };
    let jpeg = best
        .ok_or_else(|| "no embedded JPEG preview (the sensor data is not developed)".to_owned())?;
    match jpeg_size(jpeg) {
        Some((w, h)) if w.max(h) >= MIN_PREVIEW_LONG_SIDE => Ok(jpeg),
        Some((w, h)) => {
            Err(format!("its embedded preview is only {w}x{h} (the sensor data is not developed)"))
        }
        None => Err("its embedded preview is not a readable JPEG".to_owned()),
    }
}

/// Fuji RAF: a big-endian header with the JPEG's offset and length at bytes 84 and 88.
fn raf_preview(bytes: &[u8]) -> Option<&[u8]> {
    let at = |i: usize| bytes.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let (off, len) = (at(84)? as usize, at(88)? as usize);
    let jpeg = bytes.get(off..off.checked_add(len)?)?;
    jpeg.starts_with(&[0xFF, 0xD8]).then_some(jpeg)
}

/// Width and height from a JPEG's first SOF marker (baseline, extended or progressive only:
/// a lossless SOF3 is raw sensor data stored as JPEG).
fn jpeg_size(jpeg: &[u8]) -> Option<(usize, usize)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let h = usize::from(u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]));
            let w = usize::from(u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]));
            return Some((w, h));
        }
        if matches!(marker, 0xC3 | 0xDA | 0xD9) {
            return None;
        }
        i += 2 + len;
    }
    None
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    /// The value field's offset in the file (values of 4 bytes or fewer live there).
    at: usize,
}

/// A bounds-checked reader over a TIFF-structured file.
struct Tiff<'a> {
    bytes: &'a [u8],
    little: bool,
    /// Panasonic RW2 / Olympus ORF: TIFF layout under their own magic number.
    vendor_magic: bool,
}

impl<'a> Tiff<'a> {
    fn new(bytes: &'a [u8]) -> Option<Self> {
        let head = bytes.get(..4)?;
        let (little, vendor_magic) = match head {
            b"II*\0" => (true, false),
            b"MM\0*" => (false, false),
            b"IIU\0" | b"IIRO" | b"IIRS" => (true, true),
            b"MMOR" => (false, true),
            _ => return None,
        };
        Some(Self { bytes, little, vendor_magic })
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at + 2)?;
        Some(if self.little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let b = self.bytes.get(at..at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn first_ifd(&self) -> usize {
        self.u32_at(4).unwrap_or(0) as usize
    }

    /// The entries of the IFD at `at` (at most 1000; none when it is out of the file).
    fn ifd_entries(&self, at: usize) -> Option<Vec<Entry>> {
        let n = usize::from(self.u16_at(at)?);
        if n == 0 || n > 1000 {
            return None;
        }
        (0..n)
            .map(|i| {
                let e = at + 2 + i * 12;
                Some(Entry {
                    tag: self.u16_at(e)?,
                    kind: self.u16_at(e + 2)?,
                    count: self.u32_at(e + 4)?,
                    at: e + 8,
                })
            })
            .collect()
    }

    fn next_ifd(&self, at: usize, entries: usize) -> usize {
        self.u32_at(at + 2 + entries * 12).unwrap_or(0) as usize
    }

    /// Value `i` of an entry as an integer (BYTE, SHORT, LONG or IFD types).
    fn value(&self, e: &Entry, i: u32) -> Option<u32> {
        if i >= e.count {
            return None;
        }
        let size = match e.kind {
            1 | 7 => 1,
            3 => 2,
            4 | 13 => 4,
            _ => return None,
        };
        let total = size * e.count as usize;
        let base = if total <= 4 { e.at } else { self.u32_at(e.at)? as usize };
        let at = base.checked_add(i as usize * size)?;
        match size {
            1 => self.bytes.get(at).map(|&b| u32::from(b)),
            2 => self.u16_at(at).map(u32::from),
            _ => self.u32_at(at),
        }
    }

    /// Every embedded JPEG rendering in IFD0's chain, the sub-IFDs and the EXIF IFD.
    fn previews(&self) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut queue = vec![self.first_ifd()];
        let mut seen = HashSet::new();
        while let Some(at) = queue.pop() {
            if at == 0 || !seen.insert(at) || seen.len() > 64 {
                continue;
            }
            let Some(entries) = self.ifd_entries(at) else { continue };
            queue.push(self.next_ifd(at, entries.len()));
            let get = |tag: u16| entries.iter().find(|e| e.tag == tag);
            for e in entries.iter().filter(|e| matches!(e.tag, TAG_SUB_IFDS | TAG_EXIF_IFD)) {
                queue.extend(
                    (0..e.count.min(16)).filter_map(|i| self.value(e, i)).map(|v| v as usize),
                );
            }
            let photometric = get(TAG_PHOTOMETRIC).and_then(|e| self.value(e, 0));
            if photometric.is_some_and(|p| PHOTOMETRIC_RAW.contains(&p)) {
                continue;
            }
            let span = |off: Option<u32>, len: Option<u32>| -> Option<&'a [u8]> {
                let (off, len) = (off? as usize, len? as usize);
                let jpeg = self.bytes.get(off..off.checked_add(len)?)?;
                jpeg.starts_with(&[0xFF, 0xD8]).then_some(jpeg)
            };
            let interchange = span(
                get(TAG_JPEG_OFFSET).and_then(|e| self.value(e, 0)),
                get(TAG_JPEG_LENGTH).and_then(|e| self.value(e, 0)),
            );
            out.extend(interchange);
            let compression = get(TAG_COMPRESSION).and_then(|e| self.value(e, 0));
            let single_strip = get(TAG_STRIP_OFFSETS).is_some_and(|e| e.count == 1);
            if matches!(compression, Some(6 | 7)) && single_strip {
                out.extend(span(
                    get(TAG_STRIP_OFFSETS).and_then(|e| self.value(e, 0)),
                    get(TAG_STRIP_BYTE_COUNTS).and_then(|e| self.value(e, 0)),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_tiff_pictures_are_not_raw() {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]));
        let mut tiff = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut tiff), image::ImageFormat::Tiff).unwrap();
        assert!(!is_raw_container(&tiff));
        assert!(!is_raw_container(b"\xFF\xD8\xFF"));
        assert!(is_raw_container(b"FUJIFILMCCD-RAW 0201"));
    }

    #[test]
    fn damaged_raw_headers_are_errors_with_a_reason() {
        for bytes in [
            &b"II*\0\xFF\xFF\xFF\xFF"[..],
            b"MM\0*\0\0\0\x08\xFF\xFF",
            b"IIU\0",
            b"FUJIFILMCCD-RAW",
        ] {
            let err = largest_jpeg_preview(bytes).expect_err("no preview in a damaged header");
            eprintln!("{:?}: {err}", String::from_utf8_lossy(bytes));
        }
    }
}
