//! What the labeling session writes besides labels: marking a photo whose files are gone.

use rusqlite::params;

use super::{Catalog, PhotoId, Result, now_secs};

impl Catalog {
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
}
