//! What the labeling session writes besides labels: marking a photo whose files are gone,
//! the settings it restores next time (the mode it was left in), and the change counter it
//! polls to notice another process's writes.

use rusqlite::{OptionalExtension, params};

use super::photos::{PHOTO_COLUMNS, photo_from_row};
use super::{Catalog, Photo, PhotoId, Result, now_secs};

/// The session setting that holds [`Catalog::question`].
const QUESTION_SETTING: &str = "question";

impl Catalog {
    /// SQLite's `data_version`: changes whenever another connection (another process, or a
    /// job's connection in this one) commits. Cheap: no table is read.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    /// A session setting saved by [`Catalog::set_session_setting`].
    pub fn session_setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM session_settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_session_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO session_settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// What the user is looking for (`label --want`, `[session] question`), as last given.
    pub fn question(&self) -> Result<Option<String>> {
        Ok(self.session_setting(QUESTION_SETTING)?.filter(|q| !q.trim().is_empty()))
    }

    pub fn set_question(&mut self, question: &str) -> Result<()> {
        self.set_session_setting(QUESTION_SETTING, question.trim())
    }

    /// Camera photos whose original file is gone (as the last scan or session found), by path.
    pub fn missing_photos(&self) -> Result<Vec<Photo>> {
        let sql = format!(
            "SELECT {PHOTO_COLUMNS} FROM photos WHERE state = 'missing' AND source = 'camera' \
             ORDER BY path"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], photo_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks a photo whose thumbnail and file are gone as missing.
    pub fn mark_photo_missing(&mut self, id: PhotoId) -> Result<()> {
        self.conn.execute(
            "UPDATE photos SET state = 'missing', updated_at = ?2 WHERE id = ?1",
            params![id.0, now_secs()],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Catalog, NewPhoto, PhotoState};

    #[test]
    fn hand_made_rows_read_back_and_can_be_marked_missing() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let ids = cat
            .insert_photos(&[
                NewPhoto {
                    path: "/p/a.jpg".into(),
                    content_hash: "a".into(),
                    taken_at: Some(5),
                    thumb_path: Some("thumbs/a.jpg".into()),
                    ..Default::default()
                },
                NewPhoto {
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

    #[test]
    fn session_settings_are_kept_and_replaced() {
        let mut cat = Catalog::open_in_memory().unwrap();
        assert_eq!(cat.session_setting("mode").unwrap(), None);
        cat.set_session_setting("mode", "best").unwrap();
        cat.set_session_setting("mode", "ambiguous").unwrap();
        assert_eq!(cat.session_setting("mode").unwrap().as_deref(), Some("ambiguous"));
    }

    #[test]
    fn data_version_moves_when_another_connection_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        let mut a = Catalog::open(&path).unwrap();
        let mut b = Catalog::open(&path).unwrap();
        let before = a.data_version().unwrap();
        a.set_session_setting("mode", "best").unwrap();
        assert_eq!(a.data_version().unwrap(), before, "its own writes do not count");
        b.set_session_setting("mode", "ambiguous").unwrap();
        assert_ne!(a.data_version().unwrap(), before);
    }

    #[test]
    fn missing_photos_are_listed() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let ids = cat
            .insert_photos(&[
                NewPhoto {
                    path: "/p/a.jpg".into(),
                    content_hash: "a".into(),
                    ..Default::default()
                },
                NewPhoto {
                    path: "/p/b.jpg".into(),
                    content_hash: "b".into(),
                    ..Default::default()
                },
            ])
            .unwrap();
        assert!(cat.missing_photos().unwrap().is_empty());
        cat.mark_photo_missing(ids[1]).unwrap();
        let missing = cat.missing_photos().unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].path, std::path::PathBuf::from("/p/b.jpg"));
    }
}
