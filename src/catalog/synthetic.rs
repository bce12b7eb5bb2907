//! Synthetic seed images: listing what exists so a seed run can resume. (They are added like
//! any photo, with [`Catalog::insert_photos`]: a [`super::NewPhoto`] with `source: Synthetic`,
//! the prompt and the prompt list's label.)

use std::path::Path;

use super::photos::{PHOTO_COLUMNS, path_to_blob, photo_from_row};
use super::{Catalog, Photo, Result};

impl Catalog {
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
    use std::path::PathBuf;

    use super::*;
    use crate::catalog::{NewPhoto, Source};
    use crate::domain::PhotoId;

    fn sample(path: &str, wanted: bool) -> NewPhoto {
        NewPhoto {
            path: PathBuf::from(path),
            content_hash: "ab".repeat(32),
            byte_size: 1234,
            mtime_ns: 5,
            width: Some(512),
            height: Some(512),
            thumb_path: Some(PathBuf::from("thumbs/abab.jpg")),
            source: Source::Synthetic,
            prompt: Some("two friends on a mountain".into()),
            seed_label: Some(wanted),
            ..Default::default()
        }
    }

    fn add(cat: &mut Catalog, p: NewPhoto) -> PhotoId {
        cat.insert_photos(&[p]).unwrap()[0]
    }

    #[test]
    fn synthetic_photos_carry_prompt_and_label() {
        let mut cat = Catalog::open_in_memory().unwrap();
        let id = add(&mut cat, sample("/lib/synthetic/a.png", true));
        add(&mut cat, sample("/lib/synthetic/b.png", false));
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
        let a = add(&mut cat, sample("/lib/synthetic/a.png", true));
        let mut again = sample("/lib/synthetic/a.png", true);
        again.content_hash = "cd".repeat(32);
        let b = add(&mut cat, again);
        assert_eq!(a, b);
        let p = cat.synthetic_at(Path::new("/lib/synthetic/a.png")).unwrap().unwrap();
        assert_eq!(p.content_hash, "cd".repeat(32));
        assert!(cat.synthetic_at(Path::new("/lib/synthetic/zz.png")).unwrap().is_none());
    }
}
