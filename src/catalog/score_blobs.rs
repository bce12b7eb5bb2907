//! A model version's scores, stored as one row of `model_scores`: the photo ids (i64,
//! little-endian, ascending) and their p (f32, little-endian, same order).
//!
//! One row, not a row per photo: the TUI retrains after every answer, and writing 25,000
//! score rows (and deleting as many old ones) held SQLite's write lock for tens of
//! milliseconds, which the label of the next keystroke waited for. A blob of 300 KB is
//! written in about a millisecond.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{ModelId, PhotoId, Result};

/// One model version's scores, sorted by photo id.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ScoreTable {
    ids: Vec<i64>,
    p: Vec<f32>,
}

impl ScoreTable {
    /// From scores in any order; a photo listed twice keeps its last score.
    pub(super) fn from_scores(scores: &[(PhotoId, f32)]) -> Self {
        let mut rows: Vec<(i64, f32)> = scores.iter().map(|(id, p)| (id.0, *p)).collect();
        // Stable: equal ids stay in input order, so the last one wins below.
        rows.sort_by_key(|(id, _)| *id);
        let mut table = Self::default();
        for (id, p) in rows {
            if table.ids.last() == Some(&id) {
                *table.p.last_mut().expect("p is as long as ids") = p;
            } else {
                table.ids.push(id);
                table.p.push(p);
            }
        }
        table
    }

    /// `other`'s scores over these: a photo in both takes `other`'s.
    pub(super) fn merged(&self, other: &[(PhotoId, f32)]) -> Self {
        let mut all: Vec<(PhotoId, f32)> = self.rows().collect();
        all.extend_from_slice(other);
        Self::from_scores(&all)
    }

    pub(super) fn get(&self, photo: PhotoId) -> Option<f32> {
        self.ids.binary_search(&photo.0).ok().map(|i| self.p[i])
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = (PhotoId, f32)> + '_ {
        self.ids.iter().zip(&self.p).map(|(id, p)| (PhotoId(*id), *p))
    }

    fn encode(&self) -> (Vec<u8>, Vec<u8>) {
        let ids = self.ids.iter().flat_map(|id| id.to_le_bytes()).collect();
        let p = self.p.iter().flat_map(|p| p.to_le_bytes()).collect();
        (ids, p)
    }

    /// `None` when the two blobs do not describe the same number of photos.
    fn decode(ids: &[u8], p: &[u8]) -> Option<Self> {
        if !ids.len().is_multiple_of(8)
            || !p.len().is_multiple_of(4)
            || ids.len() / 8 != p.len() / 4
        {
            return None;
        }
        let ids = ids
            .chunks_exact(8)
            .map(|b| b.try_into().ok().map(i64::from_le_bytes))
            .collect::<Option<_>>()?;
        let p = p
            .chunks_exact(4)
            .map(|b| b.try_into().ok().map(f32::from_le_bytes))
            .collect::<Option<_>>()?;
        Some(Self { ids, p })
    }
}

/// Writes (or replaces) `model`'s scores.
pub(super) fn write(tx: &Transaction<'_>, model: ModelId, table: &ScoreTable) -> Result<()> {
    let (ids, p) = table.encode();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO model_scores (model_id, photo_ids, p) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![model.0, ids, p])?;
    Ok(())
}

/// `model`'s scores; empty when it has none (never scored, or pruned).
pub(super) fn read(conn: &rusqlite::Connection, model: ModelId) -> Result<ScoreTable> {
    let row = conn
        .prepare_cached("SELECT photo_ids, p FROM model_scores WHERE model_id = ?1")?
        .query_row([model.0], |r| table_from(r, 0))
        .optional()?;
    Ok(row.unwrap_or_default())
}

/// Every model version that has scores, newest first.
pub(super) fn read_all(conn: &rusqlite::Connection) -> Result<Vec<(ModelId, ScoreTable)>> {
    let mut stmt = conn
        .prepare_cached("SELECT model_id, photo_ids, p FROM model_scores ORDER BY model_id DESC")?;
    let rows = stmt.query_map([], |r| Ok((ModelId(r.get(0)?), table_from(r, 1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The table in columns `first` (photo ids) and `first + 1` (p); a row whose blobs disagree
/// is a damaged catalog, said as such.
fn table_from(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<ScoreTable> {
    let (ids, p) = (row.get::<_, Vec<u8>>(first)?, row.get::<_, Vec<u8>>(first + 1)?);
    ScoreTable::decode(&ids, &p).ok_or_else(|| {
        let why =
            format!("a model's scores hold {} bytes of photo ids and {} of p", ids.len(), p.len());
        rusqlite::Error::FromSqlConversionFailure(first, rusqlite::types::Type::Blob, why.into())
    })
}

/// Migration 004's second half: moves the row-per-photo `scores` of a catalog from before it
/// into `model_scores`, then drops the old table.
pub(super) fn migrate_rows_to_blobs(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let models: Vec<i64> = tx
        .prepare("SELECT DISTINCT model_id FROM scores ORDER BY model_id")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for model in models {
        let rows: Vec<(PhotoId, f32)> = tx
            .prepare_cached("SELECT photo_id, p FROM scores WHERE model_id = ?1")?
            .query_map([model], |r| Ok((PhotoId(r.get(0)?), r.get::<_, f64>(1)? as f32)))?
            .collect::<rusqlite::Result<_>>()?;
        let (ids, p) = ScoreTable::from_scores(&rows).encode();
        tx.execute(
            "INSERT INTO model_scores (model_id, photo_ids, p) VALUES (?1, ?2, ?3)",
            params![model, ids, p],
        )?;
    }
    tx.execute_batch("DROP TABLE scores")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_sort_keep_the_last_score_of_a_photo_and_merge() {
        let t = ScoreTable::from_scores(&[
            (PhotoId(9), 0.9),
            (PhotoId(2), 0.2),
            (PhotoId(9), 0.8),
            (PhotoId(5), 0.5),
        ]);
        assert_eq!(
            t.rows().collect::<Vec<_>>(),
            [(PhotoId(2), 0.2), (PhotoId(5), 0.5), (PhotoId(9), 0.8)]
        );
        assert_eq!(t.get(PhotoId(5)), Some(0.5));
        assert_eq!(t.get(PhotoId(6)), None);
        let m = t.merged(&[(PhotoId(5), 0.55), (PhotoId(1), 0.1)]);
        assert_eq!(m.rows().map(|(id, _)| id.0).collect::<Vec<_>>(), [1, 2, 5, 9]);
        assert_eq!(m.get(PhotoId(5)), Some(0.55));
        let (ids, p) = m.encode();
        assert_eq!(ScoreTable::decode(&ids, &p), Some(m));
        assert_eq!(ScoreTable::decode(&ids[..8], &p), None, "lengths disagree");
    }

    #[test]
    fn a_damaged_score_row_is_an_error_not_missing_scores() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            include_str!("schema_004_score_blobs.sql")
                .replace("REFERENCES models(id) ON DELETE CASCADE", "")
                .as_str(),
        )
        .unwrap();
        conn.execute(
            "INSERT INTO model_scores (model_id, photo_ids, p) VALUES (1, x'0100000000000000', x'')",
            [],
        )
        .unwrap();
        let err = read(&conn, ModelId(1)).unwrap_err().to_string();
        assert!(err.contains("8 bytes of photo ids and 0 of p"), "{err}");
        assert!(read_all(&conn).is_err());
        assert_eq!(read(&conn, ModelId(2)).unwrap(), ScoreTable::default(), "none: empty");
    }
}
