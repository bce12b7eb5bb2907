//! Synthetic seed images: adding them as `source = 'synthetic'` photos with their prompt and
//! list label, and listing what exists so a seed run can resume.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::photos::{PHOTO_COLUMNS, path_to_blob, photo_from_row};
use super::{Catalog, Photo, PhotoId, Result, now_secs};

/// One generated image, ready to be cataloged.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSynthetic {
    pub path: PathBuf,
    /// blake3 of the file's bytes, hex.
    pub content_hash: String,
    pub byte_size: u64,
    pub mtime_ns: i64,
    pub width: u32,
    pub height: u32,
    /// Relative to the library folder.
    pub thumb_path: PathBuf,
    pub prompt: String,
    /// true: from the `want` list; false: from `dont_want`.
    pub wanted: bool,
}

impl Catalog {
    /// Adds a synthetic image, or refreshes the row already at its path (an image regenerated
    /// after its file went missing). Returns its id.
    pub fn upsert_synthetic(&mut self, s: &NewSynthetic) -> Result<PhotoId> {
        let now = now_secs();
        let id = self
            .conn
            .prepare_cached(
                "INSERT INTO photos (path, content_hash, byte_size, mtime_ns, width, height,
                 thumb_path, source, state, prompt, seed_label, added_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'synthetic', 'ok', ?8, ?9, ?10, ?10)
             ON CONFLICT (path) DO UPDATE SET
                 content_hash = excluded.content_hash, byte_size = excluded.byte_size,
                 mtime_ns = excluded.mtime_ns, width = excluded.width, height = excluded.height,
                 thumb_path = excluded.thumb_path, source = 'synthetic', state = 'ok',
                 error = NULL, prompt = excluded.prompt, seed_label = excluded.seed_label,
                 updated_at = excluded.updated_at
             RETURNING id",
            )?
            .query_row(
                params![
                    path_to_blob(&s.path),
                    s.content_hash,
                    s.byte_size as i64,
                    s.mtime_ns,
                    s.width,
                    s.height,
                    s.thumb_path.to_string_lossy(),
                    s.prompt,
                    s.wanted as i64,
                    now,
                ],
                |r| r.get(0),
            )?;
        Ok(PhotoId(id))
    }

    /// Every synthetic photo, in id order.
    pub fn synthetic_photos(&self) -> Result<Vec<Photo>> {
        let sql =
            format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE source = 'synthetic' ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], photo_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The synthetic photo stored at `path`, if any.
    pub fn synthetic_at(&self, path: &Path) -> Result<Option<Photo>> {
        use rusqlite::OptionalExtension;
        let sql =
            format!("SELECT {PHOTO_COLUMNS} FROM photos WHERE source = 'synthetic' AND path = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([path_to_blob(path)], photo_from_row)
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;

    fn sample(path: &str, wanted: bool) -> NewSynthetic {
        NewSynthetic {
            path: PathBuf::from(path),
            content_hash: "ab".repeat(32),
            byte_size: 1234,
            mtime_ns: 5,
            width: 512,
            height: 512,
            thumb_path: PathBuf::from("thumbs/abab.jpg"),
            prompt: "two friends on a mountain".into(),
            wanted,
        }
    }

    #[test]
    fn synthetic_photos_carry_prompt_and_label() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let id = cat.upsert_synthetic(&sample("/lib/synthetic/a.png", true)).unwrap();
        cat.upsert_synthetic(&sample("/lib/synthetic/b.png", false)).unwrap();
        let all = cat.synthetic_photos().unwrap();
        assert_eq!(all.len(), 2);
        let p = cat.photo(id).unwrap().unwrap();
        assert_eq!(p.source, Source::Synthetic);
        assert_eq!(p.prompt.as_deref(), Some("two friends on a mountain"));
        assert_eq!(p.seed_label, Some(true));
        assert_eq!(all[1].seed_label, Some(false));
        assert_eq!(p.thumb_path, Some(PathBuf::from("thumbs/abab.jpg")));
    }

    #[test]
    fn regenerating_at_the_same_path_updates_the_row() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let a = cat.upsert_synthetic(&sample("/lib/synthetic/a.png", true)).unwrap();
        let mut again = sample("/lib/synthetic/a.png", true);
        again.content_hash = "cd".repeat(32);
        let b = cat.upsert_synthetic(&again).unwrap();
        assert_eq!(a, b);
        let p = cat.synthetic_at(Path::new("/lib/synthetic/a.png")).unwrap().unwrap();
        assert_eq!(p.content_hash, "cd".repeat(32));
        assert!(cat.synthetic_at(Path::new("/lib/synthetic/zz.png")).unwrap().is_none());
    }
}
