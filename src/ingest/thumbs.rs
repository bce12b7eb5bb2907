//! The library's `thumbs/` folder: where the thumbnail of a content hash lives, and writing
//! one there atomically (a temporary file renamed into place).

use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;

use crate::config::ScanConfig;
use crate::imaging::ThumbError;
use crate::imaging::resize::resize_long_side;
use crate::imaging::thumbnail::encode_jpeg;
use crate::library::Library;

/// A thumbnail written under the library's `thumbs/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredThumb {
    /// Relative to the library folder, e.g. `thumbs/3f/3f9a…c1.jpg`.
    pub rel_path: PathBuf,
    /// blake3 hex of the content the thumbnail was keyed by.
    pub content_hash: String,
    pub width: u32,
    pub height: u32,
}

/// Encodes `image` under `thumbs/`, keyed by the blake3 hash of its pixels, and returns where.
/// For images made in memory (Stable Diffusion seeds, demos): scanned photos are keyed by the
/// hash of their file instead, through [`store_thumbnail_keyed`].
pub fn store_thumbnail(
    library: &Library,
    image: &RgbImage,
    cfg: &ScanConfig,
) -> Result<StoredThumb, ThumbError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&image.width().to_le_bytes());
    hasher.update(&image.height().to_le_bytes());
    hasher.update(image.as_raw());
    let hash = hasher.finalize().to_hex().to_string();
    store_resized_thumbnail(library.root(), &hash, image, cfg.thumb_size, cfg.thumb_quality)
}

/// Shrinks `image` to `thumb_size` px on the long side (never enlarging) and stores it under
/// `content_hash`, for images made in memory whose file hash the caller already knows.
pub fn store_resized_thumbnail(
    library_root: &Path,
    content_hash: &str,
    image: &RgbImage,
    thumb_size: u32,
    quality: u8,
) -> Result<StoredThumb, ThumbError> {
    let small = resize_long_side(image.clone(), thumb_size.max(1))?;
    store_thumbnail_keyed(library_root, content_hash, &small, quality)
}

/// Writes `image` as a JPEG at `thumbs/<hash[..2]>/<hash>.jpg` under `library_root`
/// (atomically: a temporary file renamed into place) and returns the relative path.
pub fn store_thumbnail_keyed(
    library_root: &Path,
    content_hash: &str,
    image: &RgbImage,
    quality: u8,
) -> Result<StoredThumb, ThumbError> {
    let jpeg = encode_jpeg(image, quality)?;
    let rel_path = thumb_rel_path(content_hash);
    let path = library_root.join(&rel_path);
    write_atomically(&path, &jpeg).map_err(|source| ThumbError::Write { path, source })?;
    Ok(StoredThumb {
        rel_path,
        content_hash: content_hash.to_owned(),
        width: image.width(),
        height: image.height(),
    })
}

/// Where the thumbnail of content `hash` lives, relative to the library folder.
pub fn thumb_rel_path(content_hash: &str) -> PathBuf {
    let fan = content_hash.get(..2).unwrap_or("00");
    PathBuf::from("thumbs").join(fan).join(format!("{content_hash}.jpg"))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile_in(dir, path)?;
    tmp.1.write_all(bytes)?;
    drop(tmp.1);
    std::fs::rename(&tmp.0, path)
}

/// A uniquely named temporary file beside `path` (pid + thread id make it unique per writer).
fn tempfile_in(dir: &Path, path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("thumb");
    let tmp =
        dir.join(format!(".{name}.{}.{:?}.tmp", std::process::id(), std::thread::current().id()));
    let file = std::fs::File::create(&tmp)?;
    Ok((tmp, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ScanConfig {
        crate::config::Config::default().scan
    }

    #[test]
    fn thumb_path_fans_out_by_hash_prefix() {
        assert_eq!(thumb_rel_path("abcdef"), PathBuf::from("thumbs/ab/abcdef.jpg"));
    }

    #[test]
    fn in_memory_image_is_stored_by_pixel_hash() {
        let dir = tempfile::tempdir().unwrap();
        let lib = Library::create(dir.path()).unwrap();
        let img = RgbImage::from_pixel(1024, 768, image::Rgb([10, 200, 30]));
        let a = store_thumbnail(&lib, &img, &cfg()).unwrap();
        let b = store_thumbnail(&lib, &img, &cfg()).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.width, a.height), (512, 384));
        let back = image::open(dir.path().join(&a.rel_path)).unwrap();
        assert_eq!((back.width(), back.height()), (512, 384));
    }
}
