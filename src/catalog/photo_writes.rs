//! Photo rows, write side: the index a scan compares the disk against, and the batched
//! changes it makes (upsert by path, move by content hash, duplicate paths, missing, errors).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::photos::{PHOTO_COLUMNS, path_from_blob, path_to_blob, photo_from_row};
use super::{Catalog, Photo, PhotoId, PhotoState, Result, Source, TakenSource, now_secs};

/// What the catalog knows about one path (a photo's own path or a duplicate's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFile {
    pub photo_id: PhotoId,
    pub byte_size: u64,
    pub mtime_ns: i64,
    pub state: PhotoState,
    pub content_hash: String,
    /// True for a row of `duplicate_paths`, false for the photo's own path.
    pub duplicate: bool,
    /// The photo's thumbnail, relative to the library (on its own path's entry only).
    pub thumb_path: Option<PathBuf>,
    /// Where its capture time came from (`None`: not resolved yet, e.g. before schema 002).
    pub taken_source: Option<TakenSource>,
    /// Its Live Photo video, as last recorded.
    pub live_video: Option<PathBuf>,
}

/// Everything a scan compares against, loaded in two queries.
#[derive(Debug, Default)]
pub struct ScanIndex {
    pub by_path: HashMap<PathBuf, KnownFile>,
    /// Content hash → photo, for photos that have a thumbnail (a file with these bytes
    /// anywhere is that photo: moved, or a duplicate).
    pub by_hash: HashMap<String, PhotoId>,
    /// Each photo's own path.
    pub primary: HashMap<PhotoId, PathBuf>,
    /// Each photo's duplicate paths.
    pub duplicates: HashMap<PhotoId, Vec<PathBuf>>,
}

/// A photo row to insert (or to overwrite, when a row with the same path exists).
/// `Default` is an ok camera photo with nothing known but what the caller sets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewPhoto {
    pub path: PathBuf,
    pub content_hash: String,
    pub byte_size: u64,
    pub mtime_ns: i64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub taken_at: Option<i64>,
    pub orientation: Option<u8>,
    /// Relative to the library folder.
    pub thumb_path: Option<PathBuf>,
    pub source: Source,
    pub state: PhotoState,
    pub error: Option<String>,
    pub prompt: Option<String>,
    pub seed_label: Option<bool>,
    pub taken_source: Option<TakenSource>,
    /// Minutes east of UTC of the clock `taken_at` was read from, when known.
    pub taken_offset: Option<i32>,
    /// The video half of a Live Photo.
    pub live_video: Option<PathBuf>,
    pub screenshot: bool,
}

/// One change a scan makes; a batch of them is applied in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanOp {
    /// Insert, or overwrite the row with the same path (keeping its id and labels).
    Upsert(NewPhoto),
    /// The photo's file is now at `path` (recognized by content hash).
    Move {
        id: PhotoId,
        path: PathBuf,
        byte_size: u64,
        mtime_ns: i64,
    },
    AddDuplicate {
        id: PhotoId,
        path: PathBuf,
        byte_size: u64,
        mtime_ns: i64,
    },
    RemoveDuplicate {
        path: PathBuf,
    },
    /// Same content, new size/mtime facts; the photo is fine again.
    Touch {
        id: PhotoId,
        byte_size: u64,
        mtime_ns: i64,
    },
    TouchDuplicate {
        path: PathBuf,
        byte_size: u64,
        mtime_ns: i64,
    },
    /// The photo's file exists but cannot be read or decoded now.
    MarkError {
        id: PhotoId,
        byte_size: u64,
        mtime_ns: i64,
        message: String,
    },
    MarkMissing {
        id: PhotoId,
    },
    /// The photo's file (at `path`) now holds another picture: the photo, with its labels,
    /// embeddings and scores, stays with the old content, which is missing; the path is freed
    /// for the new content's row. Should the old bytes turn up again, the scan moves the
    /// photo there (it is known by its content hash).
    Retire {
        id: PhotoId,
        path: PathBuf,
    },
    /// A missing photo's file is back, unchanged.
    Restore {
        id: PhotoId,
    },
    /// A capture time found without reading the photo again (a catalog from before the
    /// time sources were recorded, or a sidecar that appeared).
    SetTaken {
        id: PhotoId,
        at: i64,
        offset: Option<i32>,
        source: TakenSource,
    },
    /// The Live Photo video beside an unchanged photo appeared or went away.
    SetLiveVideo {
        id: PhotoId,
        path: Option<PathBuf>,
    },
}

/// Photo counts for `photosift status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhotoCounts {
    pub total: u64,
    pub ok: u64,
    pub missing: u64,
    pub error: u64,
    pub camera: u64,
    pub synthetic: u64,
    pub duplicate_paths: u64,
    /// Photos with a Live Photo video.
    pub live_photos: u64,
    pub screenshots: u64,
    /// Video files (not Live Photo halves) the scans found.
    pub videos: u64,
}

fn state_str(state: PhotoState) -> &'static str {
    match state {
        PhotoState::Ok => "ok",
        PhotoState::Missing => "missing",
        PhotoState::Error => "error",
    }
}

fn source_str(source: Source) -> &'static str {
    match source {
        Source::Camera => "camera",
        Source::Synthetic => "synthetic",
    }
}

fn parse_state(s: &str) -> PhotoState {
    match s {
        "missing" => PhotoState::Missing,
        "error" => PhotoState::Error,
        _ => PhotoState::Ok,
    }
}

fn rel_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Catalog {
    /// Loads every photo path and duplicate path with the facts a scan compares.
    pub fn scan_index(&self) -> Result<ScanIndex> {
        let mut index = ScanIndex::default();
        let mut stmt = self.conn.prepare(
            "SELECT id, path, byte_size, mtime_ns, state, content_hash, thumb_path, \
             taken_source, live_video FROM photos ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id = PhotoId(r.get(0)?);
            let path = path_from_blob(r.get(1)?);
            let state = parse_state(&r.get::<_, String>(4)?);
            let hash: String = r.get(5)?;
            let thumb_path = r.get::<_, Option<String>>(6)?.map(PathBuf::from);
            if thumb_path.is_some() && !hash.is_empty() && state != PhotoState::Error {
                index.by_hash.entry(hash.clone()).or_insert(id);
            }
            index.primary.insert(id, path.clone());
            index.by_path.insert(
                path,
                KnownFile {
                    photo_id: id,
                    byte_size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    state,
                    content_hash: hash,
                    duplicate: false,
                    thumb_path,
                    taken_source: r
                        .get::<_, Option<String>>(7)?
                        .as_deref()
                        .and_then(TakenSource::parse),
                    live_video: r.get::<_, Option<Vec<u8>>>(8)?.map(path_from_blob),
                },
            );
        }
        let mut stmt = self.conn.prepare(
            "SELECT d.path, d.photo_id, d.byte_size, d.mtime_ns, p.content_hash, p.state \
             FROM duplicate_paths d JOIN photos p ON p.id = d.photo_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let path = path_from_blob(r.get(0)?);
            let id = PhotoId(r.get(1)?);
            index.duplicates.entry(id).or_default().push(path.clone());
            index.by_path.insert(
                path,
                KnownFile {
                    photo_id: id,
                    byte_size: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    state: parse_state(&r.get::<_, String>(5)?),
                    content_hash: r.get(4)?,
                    duplicate: true,
                    thumb_path: None,
                    taken_source: None,
                    live_video: None,
                },
            );
        }
        Ok(index)
    }

    /// Applies `ops` in one transaction; returns, per op, the photo id an `Upsert` wrote.
    pub fn apply_scan_ops(&mut self, ops: &[ScanOp]) -> Result<Vec<Option<PhotoId>>> {
        let now = now_secs();
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(ops.len());
        for op in ops {
            let mut id = None;
            match op {
                ScanOp::Upsert(p) => id = Some(upsert(&tx, p, now)?),
                ScanOp::Move { id, path, byte_size, mtime_ns } => {
                    let blob = path_to_blob(path);
                    tx.prepare_cached("DELETE FROM duplicate_paths WHERE path = ?1")?
                        .execute([&blob])?;
                    tx.prepare_cached(
                        "UPDATE photos SET path = ?2, byte_size = ?3, mtime_ns = ?4, \
                         state = 'ok', error = NULL, updated_at = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.0,
                        blob,
                        *byte_size as i64,
                        mtime_ns,
                        now
                    ])?;
                }
                ScanOp::AddDuplicate { id, path, byte_size, mtime_ns } => {
                    tx.prepare_cached(
                        "INSERT INTO duplicate_paths (path, photo_id, byte_size, mtime_ns) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT(path) DO UPDATE SET \
                         photo_id = excluded.photo_id, byte_size = excluded.byte_size, \
                         mtime_ns = excluded.mtime_ns",
                    )?
                    .execute(params![
                        path_to_blob(path),
                        id.0,
                        *byte_size as i64,
                        mtime_ns
                    ])?;
                }
                ScanOp::RemoveDuplicate { path } => {
                    tx.prepare_cached("DELETE FROM duplicate_paths WHERE path = ?1")?
                        .execute([path_to_blob(path)])?;
                }
                ScanOp::Touch { id, byte_size, mtime_ns } => {
                    tx.prepare_cached(
                        "UPDATE photos SET byte_size = ?2, mtime_ns = ?3, state = 'ok', \
                         error = NULL, updated_at = ?4 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.0,
                        *byte_size as i64,
                        mtime_ns,
                        now
                    ])?;
                }
                ScanOp::TouchDuplicate { path, byte_size, mtime_ns } => {
                    tx.prepare_cached(
                        "UPDATE duplicate_paths SET byte_size = ?2, mtime_ns = ?3 WHERE path = ?1",
                    )?
                    .execute(params![
                        path_to_blob(path),
                        *byte_size as i64,
                        mtime_ns
                    ])?;
                }
                ScanOp::MarkError { id, byte_size, mtime_ns, message } => {
                    tx.prepare_cached(
                        "UPDATE photos SET byte_size = ?2, mtime_ns = ?3, state = 'error', \
                         error = ?4, updated_at = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.0,
                        *byte_size as i64,
                        mtime_ns,
                        message,
                        now
                    ])?;
                }
                ScanOp::MarkMissing { id } => {
                    tx.prepare_cached(
                        "UPDATE photos SET state = 'missing', updated_at = ?2 WHERE id = ?1",
                    )?
                    .execute(params![id.0, now])?;
                }
                ScanOp::SetTaken { id, at, offset, source } => {
                    tx.prepare_cached(
                        "UPDATE photos SET taken_at = ?2, taken_offset = ?3, taken_source = ?4, \
                         updated_at = ?5 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.0,
                        at,
                        offset,
                        source.as_str(),
                        now
                    ])?;
                }
                ScanOp::SetLiveVideo { id, path } => {
                    tx.prepare_cached(
                        "UPDATE photos SET live_video = ?2, updated_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![
                        id.0,
                        path.as_deref().map(path_to_blob),
                        now
                    ])?;
                }
                ScanOp::Retire { id, path } => {
                    tx.prepare_cached(
                        "UPDATE photos SET path = ?2, state = 'missing', updated_at = ?3 \
                         WHERE id = ?1",
                    )?
                    .execute(params![id.0, retired_path(path, *id), now])?;
                }
                ScanOp::Restore { id } => {
                    tx.prepare_cached(
                        "UPDATE photos SET state = 'ok', error = NULL, updated_at = ?2 \
                         WHERE id = ?1 AND state = 'missing'",
                    )?
                    .execute(params![id.0, now])?;
                }
            }
            ids.push(id);
        }
        tx.commit()?;
        Ok(ids)
    }

    /// Inserts one photo (or overwrites the row with its path) and returns its id: the entry
    /// point for photos that do not come from a scan, e.g. synthetic seed images.
    pub fn insert_photo(&mut self, photo: &NewPhoto) -> Result<PhotoId> {
        Ok(self
            .insert_photos(std::slice::from_ref(photo))?
            .into_iter()
            .next()
            .unwrap_or(PhotoId(0)))
    }

    /// Inserts (or overwrites by path) photo rows in one transaction; their ids, in order.
    pub fn insert_photos(&mut self, photos: &[NewPhoto]) -> Result<Vec<PhotoId>> {
        let ops: Vec<ScanOp> = photos.iter().cloned().map(ScanOp::Upsert).collect();
        Ok(self.apply_scan_ops(&ops)?.into_iter().flatten().collect())
    }

    /// Counts by state and source, and the number of duplicate paths.
    pub fn photo_counts(&self) -> Result<PhotoCounts> {
        let mut counts = PhotoCounts::default();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, source, count(*) FROM photos GROUP BY state, source")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let n = r.get::<_, i64>(2)? as u64;
            counts.total += n;
            match parse_state(&r.get::<_, String>(0)?) {
                PhotoState::Ok => counts.ok += n,
                PhotoState::Missing => counts.missing += n,
                PhotoState::Error => counts.error += n,
            }
            if r.get::<_, String>(1)? == "synthetic" {
                counts.synthetic += n;
            } else {
                counts.camera += n;
            }
        }
        let count = |sql: &str| self.conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        counts.duplicate_paths = count("SELECT count(*) FROM duplicate_paths")? as u64;
        counts.live_photos = count(
            "SELECT count(*) FROM photos WHERE live_video IS NOT NULL AND state != 'missing'",
        )? as u64;
        counts.screenshots =
            count("SELECT count(*) FROM photos WHERE screenshot = 1 AND state != 'missing'")?
                as u64;
        counts.videos = count("SELECT count(*) FROM videos")? as u64;
        Ok(counts)
    }

    /// Photos whose file could not be read or decoded, by path.
    pub fn failed_photos(&self) -> Result<Vec<Photo>> {
        let sql = format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE state = 'error' ORDER BY path");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], photo_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The duplicate paths of a photo (other files with the same bytes).
    pub fn duplicate_paths(&self, id: PhotoId) -> Result<Vec<PathBuf>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM duplicate_paths WHERE photo_id = ?1 ORDER BY path")?;
        let rows = stmt.query_map([id.0], |r| Ok(path_from_blob(r.get(0)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The path a retired photo keeps: its old path, a NUL byte and its id. No file can have a
/// NUL in its path, so this never meets a real file (nor the unique path of another row).
fn retired_path(path: &Path, id: PhotoId) -> Vec<u8> {
    let mut blob = path_to_blob(path);
    blob.extend_from_slice(format!("\0replaced-{}", id.0).as_bytes());
    blob
}

fn upsert(tx: &rusqlite::Transaction<'_>, p: &NewPhoto, now: i64) -> Result<PhotoId> {
    let blob = path_to_blob(&p.path);
    tx.prepare_cached("DELETE FROM duplicate_paths WHERE path = ?1")?.execute([&blob])?;
    let id = tx
        .prepare_cached(
            "INSERT INTO photos (path, content_hash, byte_size, mtime_ns, width, height, \
             taken_at, orientation, thumb_path, source, state, error, prompt, seed_label, \
             added_at, updated_at, taken_source, taken_offset, live_video, screenshot) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, \
             ?16, ?17, ?18, ?19) \
             ON CONFLICT(path) DO UPDATE SET content_hash = excluded.content_hash, \
             byte_size = excluded.byte_size, mtime_ns = excluded.mtime_ns, \
             width = excluded.width, height = excluded.height, taken_at = excluded.taken_at, \
             orientation = excluded.orientation, \
             thumb_path = coalesce(excluded.thumb_path, thumb_path), \
             source = excluded.source, state = excluded.state, error = excluded.error, \
             prompt = excluded.prompt, seed_label = excluded.seed_label, \
             updated_at = excluded.updated_at, taken_source = excluded.taken_source, \
             taken_offset = excluded.taken_offset, live_video = excluded.live_video, \
             screenshot = excluded.screenshot \
             RETURNING id",
        )?
        .query_row(
            params![
                blob,
                p.content_hash,
                p.byte_size as i64,
                p.mtime_ns,
                p.width,
                p.height,
                p.taken_at,
                p.orientation,
                p.thumb_path.as_deref().map(rel_str),
                source_str(p.source),
                state_str(p.state),
                p.error,
                p.prompt,
                p.seed_label,
                now,
                p.taken_source.map(TakenSource::as_str),
                p.taken_offset,
                p.live_video.as_deref().map(path_to_blob),
                p.screenshot,
            ],
            |r| r.get(0),
        )?;
    Ok(PhotoId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, DecisionMode, LabelKind, LabelValue};

    fn photo(path: &str, hash: &str) -> NewPhoto {
        NewPhoto {
            path: PathBuf::from(path),
            content_hash: hash.into(),
            byte_size: 10,
            mtime_ns: 1,
            width: Some(4032),
            height: Some(3024),
            taken_at: Some(1_685_783_520),
            orientation: Some(1),
            thumb_path: Some(PathBuf::from(format!("thumbs/{hash}.jpg"))),
            source: Source::Camera,
            state: PhotoState::Ok,
            error: None,
            prompt: None,
            seed_label: None,
            taken_source: Some(TakenSource::Exif),
            taken_offset: None,
            live_video: None,
            screenshot: false,
        }
    }

    #[test]
    fn upsert_by_path_keeps_the_id() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let a = cat.insert_photo(&photo("/p/a.jpg", "h1")).unwrap();
        let mut changed = photo("/p/a.jpg", "h2");
        changed.byte_size = 99;
        assert_eq!(cat.insert_photo(&changed).unwrap(), a);
        let row = cat.photo(a).unwrap().unwrap();
        assert_eq!((row.content_hash.as_str(), row.byte_size), ("h2", 99));
    }

    #[test]
    fn moved_photo_keeps_id_and_labels() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let a = cat.insert_photo(&photo("/p/a.jpg", "h1")).unwrap();
        cat.record_decisions(&[Decision::single(
            a,
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Yes,
        )])
        .unwrap();
        let mv = ScanOp::Move { id: a, path: "/q/b.jpg".into(), byte_size: 10, mtime_ns: 2 };
        cat.apply_scan_ops(&[mv]).unwrap();
        assert_eq!(cat.photo(a).unwrap().unwrap().path, PathBuf::from("/q/b.jpg"));
        assert_eq!(cat.current_labels(LabelKind::Kind).unwrap().len(), 1);
    }

    #[test]
    fn index_knows_paths_hashes_and_duplicates() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let a = cat.insert_photo(&photo("/p/a.jpg", "h1")).unwrap();
        let dup =
            ScanOp::AddDuplicate { id: a, path: "/p/copy.jpg".into(), byte_size: 10, mtime_ns: 1 };
        cat.apply_scan_ops(&[dup]).unwrap();
        let idx = cat.scan_index().unwrap();
        assert_eq!(idx.by_hash.get("h1"), Some(&a));
        assert!(idx.by_path[Path::new("/p/copy.jpg")].duplicate);
        assert!(!idx.by_path[Path::new("/p/a.jpg")].duplicate);
        assert_eq!(cat.duplicate_paths(a).unwrap(), vec![PathBuf::from("/p/copy.jpg")]);
        assert_eq!(cat.photo_counts().unwrap().duplicate_paths, 1);
    }

    #[test]
    fn missing_then_restored_and_errors_listed() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let a = cat.insert_photo(&photo("/p/a.jpg", "h1")).unwrap();
        let mut bad = photo("/p/bad.jpg", "h2");
        bad.state = PhotoState::Error;
        bad.error = Some("empty file".into());
        bad.thumb_path = None;
        cat.insert_photo(&bad).unwrap();
        cat.apply_scan_ops(&[ScanOp::MarkMissing { id: a }]).unwrap();
        let c = cat.photo_counts().unwrap();
        assert_eq!((c.total, c.ok, c.missing, c.error), (2, 0, 1, 1));
        cat.apply_scan_ops(&[ScanOp::Restore { id: a }]).unwrap();
        assert_eq!(cat.photo_counts().unwrap().ok, 1);
        let failed = cat.failed_photos().unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error.as_deref(), Some("empty file"));
    }
}
