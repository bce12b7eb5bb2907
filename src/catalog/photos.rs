//! Photo rows: reading them back. (Scan-side writes live beside the scan's needs.)

use std::path::PathBuf;

use rusqlite::{OptionalExtension, Row};

use super::{Catalog, PhotoId, Result};

/// Where a photo came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Camera,
    Synthetic,
}

/// Where a photo's capture time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakenSource {
    /// EXIF DateTimeOriginal (JPEG, HEIC, ...), with OffsetTime when the file has it.
    Exif,
    /// Google Takeout's JSON sidecar (`photoTakenTime`).
    Sidecar,
    /// A date in the file name (`IMG_20190512_123456.jpg`).
    FileName,
    /// The file's modification time: a guess.
    FileTime,
}

impl TakenSource {
    /// The catalog's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TakenSource::Exif => "exif",
            TakenSource::Sidecar => "sidecar",
            TakenSource::FileName => "file_name",
            TakenSource::FileTime => "file_time",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "exif" => TakenSource::Exif,
            "sidecar" => TakenSource::Sidecar,
            "file_name" => TakenSource::FileName,
            "file_time" => TakenSource::FileTime,
            _ => return None,
        })
    }

    /// How the TUI says it.
    pub fn describe(self) -> &'static str {
        match self {
            TakenSource::Exif => "from EXIF",
            TakenSource::Sidecar => "from Takeout sidecar",
            TakenSource::FileName => "from file name",
            TakenSource::FileTime => "guess: file time",
        }
    }
}

/// A photo's health: `Missing` once its file is gone, `Error` when it could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PhotoState {
    #[default]
    Ok,
    Missing,
    Error,
}

/// One catalog photo.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub id: PhotoId,
    pub path: PathBuf,
    pub content_hash: String,
    pub byte_size: u64,
    /// The file's modification time when it was scanned (ns since 1970).
    pub mtime_ns: i64,
    /// Displayed size (after EXIF orientation), when decoded.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// EXIF DateTimeOriginal as seconds (the camera's clock read as UTC).
    pub taken_at: Option<i64>,
    /// Relative to the library folder.
    pub thumb_path: Option<PathBuf>,
    pub source: Source,
    pub state: PhotoState,
    pub error: Option<String>,
    /// Synthetic photos: the prompt and its list's label (true = wanted).
    pub prompt: Option<String>,
    pub seed_label: Option<bool>,
    /// Where `taken_at` came from; `None` for synthetic photos and rows not rescanned yet.
    pub taken_source: Option<TakenSource>,
    /// Minutes east of UTC of the clock `taken_at` was read from, when known.
    pub taken_offset: Option<i32>,
    /// The video half of a Live Photo.
    pub live_video: Option<PathBuf>,
    pub screenshot: bool,
}

/// How many columns [`PHOTO_COLUMNS`] names (a query may select more after them).
pub(crate) const PHOTO_COLUMN_COUNT: usize = 18;

/// Columns in the order [`photo_from_row`] reads them.
pub(crate) const PHOTO_COLUMNS: &str = "id, path, content_hash, byte_size, width, height, \
     taken_at, thumb_path, source, state, error, prompt, seed_label, taken_source, \
     taken_offset, live_video, screenshot, mtime_ns";

pub(crate) fn photo_from_row(r: &Row<'_>) -> rusqlite::Result<Photo> {
    Ok(Photo {
        id: PhotoId(r.get(0)?),
        path: path_from_blob(r.get(1)?),
        content_hash: r.get(2)?,
        byte_size: r.get::<_, i64>(3)? as u64,
        width: r.get(4)?,
        height: r.get(5)?,
        taken_at: r.get(6)?,
        thumb_path: r.get::<_, Option<String>>(7)?.map(PathBuf::from),
        source: match r.get::<_, String>(8)?.as_str() {
            "synthetic" => Source::Synthetic,
            _ => Source::Camera,
        },
        state: match r.get::<_, String>(9)?.as_str() {
            "missing" => PhotoState::Missing,
            "error" => PhotoState::Error,
            _ => PhotoState::Ok,
        },
        error: r.get(10)?,
        prompt: r.get(11)?,
        seed_label: r.get::<_, Option<i64>>(12)?.map(|v| v != 0),
        taken_source: r.get::<_, Option<String>>(13)?.as_deref().and_then(TakenSource::parse),
        taken_offset: r.get(14)?,
        live_video: r.get::<_, Option<Vec<u8>>>(15)?.map(path_from_blob),
        screenshot: r.get::<_, i64>(16)? != 0,
        mtime_ns: r.get(17)?,
    })
}

/// Paths are stored as their OS bytes so that non-UTF-8 names survive.
pub(crate) fn path_to_blob(path: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

pub(crate) fn path_from_blob(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

impl Catalog {
    pub fn photo(&self, id: PhotoId) -> Result<Option<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([id.0], photo_from_row).optional()?)
    }

    /// Every photo, in id order.
    pub fn photos(&self) -> Result<Vec<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], photo_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The folders holding scanned photo files (camera photos and their duplicate paths),
    /// each once: where an export must not mix its copies in unasked.
    pub fn photo_folders(&self) -> Result<Vec<PathBuf>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT path FROM photos WHERE source = 'camera' UNION SELECT path FROM duplicate_paths",
        )?;
        let paths = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
        let mut folders = std::collections::BTreeSet::new();
        for path in paths {
            if let Some(folder) = path_from_blob(path?).parent() {
                folders.insert(folder.to_path_buf());
            }
        }
        Ok(folders.into_iter().collect())
    }
}
