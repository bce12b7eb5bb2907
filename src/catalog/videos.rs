//! Video files a scan found (not read, only counted; a Live Photo's video is on its photo).

use std::collections::HashSet;
use std::path::PathBuf;

use rusqlite::params;

use super::photos::{path_from_blob, path_to_blob};
use super::{Catalog, Result};

/// A video file as the walk saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFile {
    pub path: PathBuf,
    pub byte_size: u64,
    pub mtime_ns: i64,
}

impl Catalog {
    /// Records the videos found under `roots` in one transaction: these rows are written, and
    /// rows under `roots` that were not found (deleted, or now half of a Live Photo) removed.
    pub fn record_videos(&mut self, roots: &[PathBuf], found: &[VideoFile]) -> Result<()> {
        let tx = self.conn.transaction()?;
        let keep: HashSet<&PathBuf> = found.iter().map(|v| &v.path).collect();
        let stale: Vec<PathBuf> = {
            let mut stmt = tx.prepare("SELECT path FROM videos")?;
            let rows = stmt.query_map([], |r| Ok(path_from_blob(r.get(0)?)))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|p| roots.iter().any(|r| p.starts_with(r)) && !keep.contains(p))
                .collect()
        };
        for path in stale {
            tx.prepare_cached("DELETE FROM videos WHERE path = ?1")?
                .execute([path_to_blob(&path)])?;
        }
        for v in found {
            tx.prepare_cached(
                "INSERT INTO videos (path, byte_size, mtime_ns) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(path) DO UPDATE SET byte_size = excluded.byte_size, \
                 mtime_ns = excluded.mtime_ns",
            )?
            .execute(params![
                path_to_blob(&v.path),
                v.byte_size as i64,
                v.mtime_ns
            ])?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(p: &str) -> VideoFile {
        VideoFile { path: PathBuf::from(p), byte_size: 1, mtime_ns: 1 }
    }

    #[test]
    fn videos_under_rescanned_roots_are_replaced_and_others_kept() {
        let mut cat = Catalog::open_in_memory().unwrap();
        cat.record_videos(&[PathBuf::from("/a")], &[video("/a/1.mov"), video("/a/2.mp4")]).unwrap();
        cat.record_videos(&[PathBuf::from("/b")], &[video("/b/3.mov")]).unwrap();
        assert_eq!(cat.photo_counts().unwrap().videos, 3);
        cat.record_videos(&[PathBuf::from("/a")], &[video("/a/2.mp4")]).unwrap();
        assert_eq!(cat.photo_counts().unwrap().videos, 2);
    }
}
