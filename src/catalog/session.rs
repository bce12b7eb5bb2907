//! What the labeling session writes besides labels: marking a photo whose files are gone, and
//! hand-made photo rows (tests, benchmarks and demos that need a catalog without a scan).

use std::path::PathBuf;

use rusqlite::params;

use super::photos::path_to_blob;
use super::{Catalog, PhotoId, Result, now_secs};

/// A camera photo row made without a scan.
#[derive(Debug, Clone, Default)]
pub struct PhotoRecord {
    pub path: PathBuf,
    pub content_hash: String,
    pub byte_size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub taken_at: Option<i64>,
    /// Relative to the library folder.
    pub thumb_path: Option<PathBuf>,
}

impl Catalog {
    /// Marks a photo whose thumbnail and file are gone as missing.
    pub fn mark_photo_missing(&mut self, id: PhotoId) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET state = 'missing', updated_at = ?2 WHERE id = ?1",
            params![id.0, now_secs()],
        )?;
        Ok(())
    }

    /// Inserts camera photo rows in one transaction and returns their ids.
    pub fn insert_photo_records(&mut self, records: &[PhotoRecord]) -> Result<Vec<PhotoId>> {
        let tx = self.conn.transaction()?;
        let now = now_secs();
        let mut ids = Vec::with_capacity(records.len());
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO photos (path, content_hash, byte_size, mtime_ns, width, height,
                                     taken_at, thumb_path, added_at, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?8)",
            )?;
            for r in records {
                stmt.execute(params![
                    path_to_blob(&r.path),
                    r.content_hash,
                    r.byte_size as i64,
                    r.width,
                    r.height,
                    r.taken_at,
                    r.thumb_path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                    now
                ])?;
                ids.push(PhotoId(tx.last_insert_rowid()));
            }
        }
        tx.commit()?;
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::PhotoState;

    #[test]
    fn hand_made_rows_read_back_and_can_be_marked_missing() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let ids = cat
            .insert_photo_records(&[
                PhotoRecord {
                    path: "/p/a.jpg".into(),
                    content_hash: "a".into(),
                    taken_at: Some(5),
                    thumb_path: Some("thumbs/a.jpg".into()),
                    ..Default::default()
                },
                PhotoRecord {
                    path: "/p/b.jpg".into(),
                    content_hash: "b".into(),
                    ..Default::default()
                },
            ])
            .unwrap();
        let a = cat.photo(ids[0]).unwrap().unwrap();
        assert_eq!(a.thumb_path.as_deref(), Some(std::path::Path::new("thumbs/a.jpg")));
        assert_eq!(a.state, PhotoState::Ok);
        cat.mark_photo_missing(ids[0]).unwrap();
        assert_eq!(cat.photo(ids[0]).unwrap().unwrap().state, PhotoState::Missing);
        assert_eq!(cat.photo(ids[1]).unwrap().unwrap().state, PhotoState::Ok);
    }
}
