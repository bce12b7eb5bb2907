//! Picks: the photos whose current print decision is Yes, with their latest score.

use std::path::PathBuf;

use super::photos::{PHOTO_COLUMN_COUNT, PHOTO_COLUMNS, Photo, path_from_blob, photo_from_row};
use super::score_blobs;
use super::{Catalog, ModelId, Result};

/// One photo picked for print.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub photo: Photo,
    /// p(desirable) from the newest model that scored this photo; `None` if never scored.
    pub p: Option<f32>,
    /// That model's version.
    pub model: Option<ModelId>,
    /// When it was picked (unix milliseconds).
    pub picked_at_ms: i64,
    /// Other files that held the same bytes when scanned, to fall back on when `photo.path`
    /// is gone.
    pub duplicates: Vec<DuplicateFile>,
}

/// A further path holding a photo's bytes, with the size and mtime the scan saw there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateFile {
    pub path: PathBuf,
    pub byte_size: u64,
    pub mtime_ns: i64,
}

impl Catalog {
    /// Every pick, best first (descending p, unscored last), then in id order.
    pub fn picks(&self) -> Result<Vec<Pick>> {
        // The current print label is the newest event not undone (ids grow with time).
        let sql = format!(
            "WITH current AS (
                 SELECT e.photo_id, e.value, e.at_ms FROM label_events e
                 JOIN (SELECT photo_id, MAX(id) AS newest FROM label_events
                       WHERE kind = 'print' AND undone = 0 GROUP BY photo_id) n
                   ON n.newest = e.id
             )
             SELECT {PHOTO_COLUMNS}, current.at_ms
             FROM photos
             JOIN current ON current.photo_id = photos.id AND current.value = 1
             ORDER BY photos.id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok(Pick {
                photo: photo_from_row(r)?,
                p: None,
                model: None,
                picked_at_ms: r.get(PHOTO_COLUMN_COUNT)?,
                duplicates: Vec::new(),
            })
        })?;
        let mut picks: Vec<Pick> = rows.collect::<rusqlite::Result<_>>()?;
        // The latest score: from the newest model version that scored the photo.
        let scored = score_blobs::read_all(&self.conn)?;
        for pick in &mut picks {
            if let Some((model, p)) =
                scored.iter().find_map(|(m, t)| t.get(pick.photo.id).map(|p| (*m, p)))
            {
                (pick.model, pick.p) = (Some(model), Some(p));
            }
        }
        // Best first, unscored last, then in id order (the sort is stable).
        picks.sort_by(|a, b| match (a.p, b.p) {
            (Some(a), Some(b)) => b.total_cmp(&a),
            (a, b) => b.is_some().cmp(&a.is_some()),
        });
        let mut dups = self.conn.prepare_cached(
            "SELECT path, byte_size, mtime_ns FROM duplicate_paths WHERE photo_id = ?1 \
             ORDER BY path",
        )?;
        for pick in &mut picks {
            let rows = dups.query_map([pick.photo.id.0], |r| {
                Ok(DuplicateFile {
                    path: path_from_blob(r.get(0)?),
                    byte_size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                })
            })?;
            pick.duplicates = rows.collect::<rusqlite::Result<_>>()?;
        }
        Ok(picks)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::domain::{Decision, DecisionMode, LabelEvent, LabelKind, LabelValue, PhotoId};

    use crate::catalog::test_catalog_with_photos as catalog_with_photos;

    fn add_model(cat: &mut Catalog, id: i64, scores: &[(i64, f64)]) {
        cat.conn()
            .execute(
                "INSERT INTO models (id, created_at, backbone, kind, n_positive, n_negative,
                                     n_synthetic, params)
                 VALUES (?1, 0, 'lite0', 'head', 1, 1, 0, x'00')",
                [id],
            )
            .unwrap();
        let scores: Vec<(PhotoId, f32)> =
            scores.iter().map(|&(photo, p)| (PhotoId(photo), p as f32)).collect();
        cat.put_scores(ModelId(id), &scores).unwrap();
    }

    fn pick(cat: &mut Catalog, photo: i64, value: LabelValue) {
        cat.record_decisions(&[Decision::single(
            PhotoId(photo),
            DecisionMode::Best,
            LabelKind::Print,
            value,
        )])
        .unwrap();
    }

    #[test]
    fn picks_are_current_print_yes_only() {
        let mut cat = catalog_with_photos(4);
        pick(&mut cat, 1, LabelValue::Yes);
        pick(&mut cat, 2, LabelValue::No);
        pick(&mut cat, 3, LabelValue::Yes);
        pick(&mut cat, 3, LabelValue::No); // changed their mind
        pick(&mut cat, 4, LabelValue::Yes);
        cat.undo_last_batch(None).unwrap(); // 4 undone
        // A "kind" yes is not a pick.
        cat.record_decisions(&[Decision {
            photo: PhotoId(2),
            mode: DecisionMode::Ambiguous,
            events: vec![LabelEvent { kind: LabelKind::Kind, value: LabelValue::Yes }],
        }])
        .unwrap();
        let ids: Vec<_> = cat.picks().unwrap().iter().map(|p| p.photo.id).collect();
        assert_eq!(ids, vec![PhotoId(1)]);
    }

    #[test]
    fn picks_carry_the_newest_models_score_best_first() {
        let mut cat = catalog_with_photos(3);
        for i in 1..=3 {
            pick(&mut cat, i, LabelValue::Yes);
        }
        add_model(&mut cat, 1, &[(1, 0.9), (2, 0.2), (3, 0.5)]);
        add_model(&mut cat, 2, &[(1, 0.4), (2, 0.8)]); // photo 3 not rescored
        let picks = cat.picks().unwrap();
        let got: Vec<_> = picks.iter().map(|p| (p.photo.id.0, p.p, p.model)).collect();
        assert_eq!(
            got,
            vec![
                (2, Some(0.8), Some(ModelId(2))),
                (3, Some(0.5), Some(ModelId(1))),
                (1, Some(0.4), Some(ModelId(2))),
            ]
        );
        assert_eq!(picks[0].photo.width, Some(4000));
    }

    #[test]
    fn unscored_picks_come_last_with_their_duplicate_paths() {
        let mut cat = catalog_with_photos(2);
        pick(&mut cat, 1, LabelValue::Yes);
        pick(&mut cat, 2, LabelValue::Yes);
        add_model(&mut cat, 1, &[(2, 0.1)]);
        cat.conn()
            .execute(
                "INSERT INTO duplicate_paths (path, photo_id, byte_size, mtime_ns)
                 VALUES (?1, 1, 1, 1)",
                [b"/backup/1.jpg".to_vec()],
            )
            .unwrap();
        let picks = cat.picks().unwrap();
        assert_eq!(picks[0].photo.id, PhotoId(2));
        assert_eq!(picks[1].photo.id, PhotoId(1));
        assert_eq!(picks[1].p, None);
        assert_eq!(picks[1].duplicates[0].path, PathBuf::from("/backup/1.jpg"));
    }
}
