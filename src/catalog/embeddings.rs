//! Embedding rows: pooled backbone features per (photo, backbone id), stored as f32
//! little-endian blobs.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, TransactionBehavior};

use super::{Catalog, CatalogError, PhotoId, Result};

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

impl Catalog {
    /// Stores (or replaces) the embeddings of `backbone` in one transaction: after it returns
    /// they survive a kill, so an interrupted embedding run resumes where it stopped.
    pub fn put_embeddings(&mut self, backbone: &str, items: &[(PhotoId, Vec<f32>)]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO embeddings (photo_id, backbone, vector) VALUES (?1, ?2, ?3)",
            )?;
            for (id, v) in items {
                stmt.execute(rusqlite::params![id.0, backbone, to_blob(v)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every embedding of `backbone`, in photo id order.
    pub fn embeddings(&self, backbone: &str) -> Result<Vec<(PhotoId, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT photo_id, vector FROM embeddings WHERE backbone = ?1 ORDER BY photo_id",
        )?;
        let rows = stmt.query_map([backbone], |r| {
            Ok((PhotoId(r.get(0)?), from_blob(&r.get::<_, Vec<u8>>(1)?)))
        })?;
        rows.collect::<rusqlite::Result<_>>().map_err(CatalogError::from)
    }

    /// The photos with an embedding of `backbone`, in id order (no vector is read).
    pub fn embedded_ids(&self, backbone: &str) -> Result<Vec<PhotoId>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT photo_id FROM embeddings WHERE backbone = ?1 ORDER BY photo_id",
        )?;
        let rows = stmt.query_map([backbone], |r| Ok(PhotoId(r.get(0)?)))?;
        rows.collect::<rusqlite::Result<_>>().map_err(CatalogError::from)
    }

    /// The embeddings of `backbone` of the photos `ids` (those that have one), in `ids`' order.
    pub fn embeddings_of(
        &self,
        backbone: &str,
        ids: &[PhotoId],
    ) -> Result<Vec<(PhotoId, Vec<f32>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT vector FROM embeddings WHERE photo_id = ?1 AND backbone = ?2",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let vector: Option<Vec<u8>> =
                stmt.query_row(rusqlite::params![id.0, backbone], |r| r.get(0)).optional()?;
            if let Some(bytes) = vector {
                out.push((*id, from_blob(&bytes)));
            }
        }
        Ok(out)
    }

    /// How many photos have an embedding of `backbone`.
    pub fn embedding_count(&self, backbone: &str) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM embeddings WHERE backbone = ?1",
            [backbone],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Photos in state `ok` without an embedding of `backbone`, in id order, with their
    /// thumbnail path relative to the library folder (None when the scan made none).
    pub fn photos_missing_embedding(
        &self,
        backbone: &str,
    ) -> Result<Vec<(PhotoId, Option<PathBuf>)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, thumb_path FROM photos p WHERE state = 'ok' AND NOT EXISTS \
             (SELECT 1 FROM embeddings e WHERE e.photo_id = p.id AND e.backbone = ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map([backbone], |r| {
            Ok((PhotoId(r.get(0)?), r.get::<_, Option<String>>(1)?.map(PathBuf::from)))
        })?;
        rows.collect::<rusqlite::Result<_>>().map_err(CatalogError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_photo(cat: &Catalog, id: i64, thumb: Option<&str>, state: &str) {
        cat.conn()
            .execute(
                "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns, thumb_path, state, \
                 added_at, updated_at) VALUES (?1, ?2, 'h', 1, 0, ?3, ?4, 0, 0)",
                rusqlite::params![id, format!("/p/{id}.jpg").into_bytes(), thumb, state],
            )
            .unwrap();
    }

    #[test]
    fn embeddings_round_trip_bit_exact() {
        let mut cat = Catalog::open_in_memory().unwrap();
        add_photo(&cat, 1, Some("thumbs/a.jpg"), "ok");
        add_photo(&cat, 2, Some("thumbs/b.jpg"), "ok");
        let a = vec![0.0, -1.5, f32::MIN_POSITIVE, 3.25e7];
        let b = vec![1.0; 4];
        cat.put_embeddings("lite0-imagenet", &[(PhotoId(2), b.clone()), (PhotoId(1), a.clone())])
            .unwrap();
        assert_eq!(
            cat.embeddings("lite0-imagenet").unwrap(),
            vec![(PhotoId(1), a), (PhotoId(2), b)]
        );
        assert!(cat.embeddings("other").unwrap().is_empty());
        assert_eq!(cat.embedding_count("lite0-imagenet").unwrap(), 2);
    }

    #[test]
    fn missing_embeddings_are_per_backbone_and_skip_bad_photos() {
        let mut cat = Catalog::open_in_memory().unwrap();
        add_photo(&cat, 1, Some("thumbs/a.jpg"), "ok");
        add_photo(&cat, 2, None, "ok");
        add_photo(&cat, 3, Some("thumbs/c.jpg"), "missing");
        add_photo(&cat, 4, Some("thumbs/d.jpg"), "ok");
        cat.put_embeddings("lite0-imagenet", &[(PhotoId(4), vec![1.0])]).unwrap();
        assert_eq!(
            cat.photos_missing_embedding("lite0-imagenet").unwrap(),
            vec![(PhotoId(1), Some(PathBuf::from("thumbs/a.jpg"))), (PhotoId(2), None)]
        );
        assert_eq!(cat.photos_missing_embedding("b0").unwrap().len(), 3);
    }

    #[test]
    fn replacing_an_embedding_keeps_one_row() {
        let mut cat = Catalog::open_in_memory().unwrap();
        add_photo(&cat, 1, Some("thumbs/a.jpg"), "ok");
        cat.put_embeddings("x", &[(PhotoId(1), vec![1.0])]).unwrap();
        cat.put_embeddings("x", &[(PhotoId(1), vec![2.0])]).unwrap();
        assert_eq!(cat.embeddings("x").unwrap(), vec![(PhotoId(1), vec![2.0])]);
    }
}
