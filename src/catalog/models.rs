//! Model versions and their scores, and the reads that training and the queues need:
//! embeddings as one flat matrix, the synthetic seed labels, and each model's ask-first order.

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::score_blobs::{self, ScoreTable};
use super::{Catalog, CatalogError, ModelId, ModelKind, PhotoId, Result, now_secs};

/// A trained model version to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewModel {
    /// The embeddings (backbone version) it reads.
    pub backbone: String,
    pub kind: ModelKind,
    pub n_positive: u64,
    pub n_negative: u64,
    pub n_synthetic: u64,
    /// Cross-validated AUC on the manual labels; `None` when there were too few.
    pub cv_auc: Option<f64>,
    /// The head's weights, safetensors bytes.
    pub params: Vec<u8>,
    /// JSON: training settings, calibration, timings.
    pub info: String,
}

/// A recorded model version (without its weights: see [`Catalog::model_params`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub id: ModelId,
    pub created_at: i64,
    pub backbone: String,
    pub kind: ModelKind,
    pub n_positive: u64,
    pub n_negative: u64,
    pub n_synthetic: u64,
    pub cv_auc: Option<f64>,
    pub info: String,
}

/// Every embedding of one backbone as a row-major matrix, rows in photo id order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbeddingTable {
    pub ids: Vec<PhotoId>,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl EmbeddingTable {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

fn model_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelInfo> {
    Ok(ModelInfo {
        id: ModelId(r.get(0)?),
        created_at: r.get(1)?,
        backbone: r.get(2)?,
        kind: {
            let text: String = r.get(3)?;
            ModelKind::parse(&text).ok_or_else(|| {
                rusqlite::Error::InvalidColumnType(
                    3,
                    format!("model kind {text:?}"),
                    rusqlite::types::Type::Text,
                )
            })?
        },
        n_positive: r.get::<_, i64>(4)? as u64,
        n_negative: r.get::<_, i64>(5)? as u64,
        n_synthetic: r.get::<_, i64>(6)? as u64,
        cv_auc: r.get(7)?,
        info: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
    })
}

const MODEL_COLUMNS: &str =
    "id, created_at, backbone, kind, n_positive, n_negative, n_synthetic, cv_auc, info";

fn f32s_from_le(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
}

impl Catalog {
    /// Records a model version together with its scores, in one transaction: a model is never
    /// visible without them.
    pub fn insert_model(&mut self, model: &NewModel, scores: &[(PhotoId, f32)]) -> Result<ModelId> {
        self.insert_model_as(None, model, scores, &[])
    }

    /// The id the next model version will get (a fine-tuned backbone is named after it before
    /// the model is recorded with [`Catalog::insert_model_as`]).
    pub fn next_model_id(&self) -> Result<ModelId> {
        let id: i64 =
            self.conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM models", [], |r| r.get(0))?;
        Ok(ModelId(id))
    }

    /// [`Catalog::insert_model`] under a chosen id (`None`: the next one). Fails when the id
    /// is taken (another training run recorded its model first).
    pub fn insert_model_as(
        &mut self,
        id: Option<ModelId>,
        model: &NewModel,
        scores: &[(PhotoId, f32)],
        ask_first: &[PhotoId],
    ) -> Result<ModelId> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO models (id, created_at, backbone, kind, n_positive, n_negative,
                                 n_synthetic, cv_auc, params, info)
             VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                now_secs(),
                model.backbone,
                model.kind.as_str(),
                model.n_positive as i64,
                model.n_negative as i64,
                model.n_synthetic as i64,
                model.cv_auc,
                model.params,
                model.info,
                id.map(|m| m.0)
            ],
        )?;
        let id = ModelId(tx.last_insert_rowid());
        score_blobs::write(&tx, id, &ScoreTable::from_scores(scores))?;
        write_ask_first(&tx, id, ask_first)?;
        prune_old_scores(&tx)?;
        tx.commit()?;
        Ok(id)
    }

    /// The photos model `model` says to ask first (`learn::lookahead`), in order; empty for a
    /// model with too few answers for the look-ahead.
    pub fn ask_first(&self, model: ModelId) -> Result<Vec<PhotoId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT photo_id FROM ask_first WHERE model_id = ?1 ORDER BY rank")?;
        let rows = stmt.query_map([model.0], |r| Ok(PhotoId(r.get(0)?)))?;
        rows.collect::<rusqlite::Result<_>>().map_err(CatalogError::from)
    }

    /// Adds or replaces scores of a model version (`photosift score` after new photos).
    pub fn put_scores(&mut self, model: ModelId, scores: &[(PhotoId, f32)]) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let table = score_blobs::read(&tx, model)?.merged(scores);
        score_blobs::write(&tx, model, &table)?;
        tx.commit()?;
        Ok(())
    }

    /// The newest model version, if any model was trained.
    pub fn latest_model(&self) -> Result<Option<ModelInfo>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY id DESC LIMIT 1");
        Ok(self.conn.prepare_cached(&sql)?.query_row([], model_from_row).optional()?)
    }

    /// Every model version, oldest first.
    pub fn models(&self) -> Result<Vec<ModelInfo>> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY id");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], model_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A model version's weights (safetensors bytes).
    pub fn model_params(&self, id: ModelId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached("SELECT params FROM models WHERE id = ?1")?
            .query_row([id.0], |r| r.get(0))
            .optional()?)
    }

    /// The scores of one model version, in photo id order.
    pub fn scores(&self, model: ModelId) -> Result<Vec<(PhotoId, f32)>> {
        Ok(score_blobs::read(&self.conn, model)?.rows().collect())
    }

    /// How many photos model `model` has scores for (0 when its scores were pruned): a cheap
    /// check of whether scores held in memory are still all of them.
    pub fn score_count(&self, model: ModelId) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT coalesce((SELECT length(photo_ids) / 8 FROM model_scores WHERE model_id = ?1), 0)",
            [model.0],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Every embedding of `backbone`, as one matrix (rows of a different length than the
    /// first are left out: they cannot come from the same backbone).
    pub fn embedding_table(&self, backbone: &str) -> Result<EmbeddingTable> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT photo_id, vector FROM embeddings WHERE backbone = ?1 ORDER BY photo_id",
        )?;
        let mut rows = stmt.query([backbone])?;
        let mut table = EmbeddingTable::default();
        while let Some(row) = rows.next()? {
            let id = PhotoId(row.get(0)?);
            let bytes = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            if table.ids.is_empty() {
                table.dim = bytes.len() / 4;
            }
            if bytes.len() != table.dim * 4 || table.dim == 0 {
                continue;
            }
            table.ids.push(id);
            f32s_from_le(bytes, &mut table.data);
        }
        Ok(table)
    }

    /// The backbones that have embeddings, most embedded photos first.
    pub fn embedding_backbones(&self) -> Result<Vec<(String, u64)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT backbone, count(*) AS n FROM embeddings GROUP BY backbone
             ORDER BY n DESC, backbone",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Synthetic seed images and their prompt list's label (true = wanted).
    pub fn synthetic_seed_labels(&self) -> Result<Vec<(PhotoId, bool)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, seed_label FROM photos
             WHERE source = 'synthetic' AND seed_label IS NOT NULL AND state = 'ok' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((PhotoId(r.get(0)?), r.get::<_, i64>(1)? != 0)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Test fixtures for other modules' tests: a photo row and its embedding, written directly.
#[cfg(test)]
impl Catalog {
    pub(crate) fn insert_test_photo(
        &self,
        id: i64,
        synthetic_label: Option<bool>,
        backbone: &str,
        vector: &[f32],
    ) {
        let source = if synthetic_label.is_some() { "synthetic" } else { "camera" };
        self.conn
            .execute(
                "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns, source,
                                     seed_label, added_at, updated_at)
                 VALUES (?1, ?2, ?3, 1, 1, ?4, ?5, 0, 0)",
                params![
                    id,
                    format!("/p/{id}.jpg").into_bytes(),
                    format!("h{id}"),
                    source,
                    synthetic_label.map(i64::from)
                ],
            )
            .expect("insert test photo");
        let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.conn
            .execute(
                "INSERT INTO embeddings (photo_id, backbone, vector) VALUES (?1, ?2, ?3)",
                params![id, backbone, bytes],
            )
            .expect("insert test embedding");
    }
}

/// Model versions whose scores are kept; older versions keep their row (counts, AUC,
/// parameters) but lose their per-photo scores.
pub const KEEP_SCORED_MODELS: usize = 3;

/// Model versions kept at all: a session retrains after every answer, so one afternoon makes
/// hundreds. Older head versions go (a fine-tuned version stays: its backbone is named after
/// it).
pub const KEEP_MODEL_VERSIONS: usize = 20;

/// Deletes the scores of all but the newest [`KEEP_SCORED_MODELS`] versions (one row each),
/// and the head versions older than the newest [`KEEP_MODEL_VERSIONS`]. The TUI retrains
/// after every answer: without pruning, a session of 300 answers would keep 300 copies of
/// every photo's score.
fn prune_old_scores(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let older_than = "(SELECT min(id) FROM (SELECT id FROM models ORDER BY id DESC LIMIT ?1))";
    for table in ["model_scores", "ask_first"] {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE model_id < {older_than}"))?
            .execute([KEEP_SCORED_MODELS as i64])?;
    }
    tx.prepare_cached(&format!("DELETE FROM models WHERE kind = 'head' AND id < {older_than}"))?
        .execute([KEEP_MODEL_VERSIONS as i64])?;
    Ok(())
}

fn write_ask_first(
    tx: &rusqlite::Transaction<'_>,
    model: ModelId,
    order: &[PhotoId],
) -> Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT INTO ask_first (model_id, rank, photo_id) VALUES (?1, ?2, ?3)")?;
    for (rank, photo) in order.iter().enumerate() {
        insert.execute(params![model.0, rank as i64, photo.0])?;
    }
    Ok(())
}

/// Migration 005: the look-ahead lists models recorded in their info JSON (`"ask_first":
/// [ids]`) become rows of `ask_first`. Ids of photos no longer in the catalog are dropped.
pub(super) fn migrate_ask_first(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    #[derive(serde::Deserialize, Default)]
    struct Info {
        #[serde(default)]
        ask_first: Vec<i64>,
    }
    let models: Vec<(i64, Option<String>)> = tx
        .prepare("SELECT id, info FROM models ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut insert = tx.prepare(
        "INSERT INTO ask_first (model_id, rank, photo_id)
         SELECT ?1, ?2, id FROM photos WHERE id = ?3",
    )?;
    for (model, info) in models {
        let info: Info = serde_json::from_str(info.as_deref().unwrap_or("{}")).unwrap_or_default();
        for (rank, photo) in info.ask_first.into_iter().enumerate() {
            insert.execute(params![model, rank as i64, photo])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::catalog::test_catalog_with_photos as catalog_with_photos;

    fn put_embedding(cat: &Catalog, photo: i64, backbone: &str, v: &[f32]) {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        cat.conn()
            .execute(
                "INSERT INTO embeddings (photo_id, backbone, vector) VALUES (?1, ?2, ?3)",
                params![photo, backbone, bytes],
            )
            .unwrap();
    }

    fn model(n_positive: u64) -> NewModel {
        NewModel {
            backbone: "lite0".into(),
            kind: ModelKind::Head,
            n_positive,
            n_negative: 2,
            n_synthetic: 0,
            cv_auc: Some(0.75),
            params: vec![1, 2, 3],
            info: "{}".into(),
        }
    }

    #[test]
    fn scores_are_kept_per_model_version() {
        let mut cat = catalog_with_photos(2);
        assert!(cat.latest_model().unwrap().is_none());
        let m1 = cat.insert_model(&model(1), &[(PhotoId(1), 0.2), (PhotoId(2), 0.9)]).unwrap();
        let m2 = cat.insert_model(&model(3), &[(PhotoId(1), 0.6), (PhotoId(2), 0.1)]).unwrap();
        assert_eq!(cat.scores(m1).unwrap(), vec![(PhotoId(1), 0.2), (PhotoId(2), 0.9)]);
        assert_eq!(cat.scores(m2).unwrap(), vec![(PhotoId(1), 0.6), (PhotoId(2), 0.1)]);
        let latest = cat.latest_model().unwrap().unwrap();
        assert_eq!((latest.id, latest.n_positive, latest.cv_auc), (m2, 3, Some(0.75)));
        assert_eq!(cat.model_params(m1).unwrap().unwrap(), vec![1, 2, 3]);
        assert_eq!(cat.models().unwrap().len(), 2);
    }

    #[test]
    fn old_models_score_rows_are_pruned_the_last_few_kept() {
        let mut cat = catalog_with_photos(2);
        let ids: Vec<ModelId> = (0..5)
            .map(|i| cat.insert_model(&model(i), &[(PhotoId(1), 0.5), (PhotoId(2), 0.1)]).unwrap())
            .collect();
        for (n, id) in ids.iter().enumerate() {
            let kept = n + KEEP_SCORED_MODELS >= ids.len();
            assert_eq!(cat.scores(*id).unwrap().len(), if kept { 2 } else { 0 }, "model {n}");
        }
        assert_eq!(cat.models().unwrap().len(), 5, "the versions themselves stay");
        // Issue 30: one session made 80 versions. Only the newest few are kept.
        for i in 0..KEEP_MODEL_VERSIONS as u64 {
            cat.insert_model(&model(i), &[(PhotoId(1), 0.5)]).unwrap();
        }
        let models = cat.models().unwrap();
        assert_eq!(models.len(), KEEP_MODEL_VERSIONS);
        assert!(models.iter().all(|m| m.id > ids[4]), "the oldest went first");
    }

    #[test]
    fn a_models_scores_are_one_row_and_old_ones_are_pruned() {
        let mut cat = catalog_with_photos(4321);
        let scores: Vec<(PhotoId, f32)> =
            (1..=4321).rev().map(|i| (PhotoId(i), (i % 97) as f32 / 97.0)).collect();
        let ids: Vec<ModelId> = (0..=KEEP_SCORED_MODELS as u64)
            .map(|i| cat.insert_model(&model(i), &scores).unwrap())
            .collect();
        let rows: i64 =
            cat.conn().query_row("SELECT count(*) FROM model_scores", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, KEEP_SCORED_MODELS as i64, "one row per kept model");
        assert!(cat.scores(ids[0]).unwrap().is_empty(), "the oldest model's scores are gone");
        let mut sorted = scores.clone();
        sorted.reverse();
        for id in &ids[1..] {
            assert_eq!(cat.scores(*id).unwrap(), sorted, "in photo id order");
        }
        // Later scores replace a photo's, never add a second one; new photos are added.
        let changed: Vec<(PhotoId, f32)> = scores[..700].iter().map(|(id, _)| (*id, 0.5)).collect();
        cat.put_scores(ids[1], &changed).unwrap();
        let after = cat.scores(ids[1]).unwrap();
        assert_eq!(after.len(), 4321);
        assert_eq!(after.iter().filter(|(_, p)| *p == 0.5).count(), 700);
    }

    #[test]
    fn a_catalog_with_score_rows_gets_them_as_one_row_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            // A catalog as photosift 3 schemas ago wrote it, with rows in `scores`.
            let old = Catalog::open_with(
                &path,
                &super::super::MIGRATIONS[..3],
                super::super::WhenEmpty::Initialize,
            )
            .unwrap();
            for (id, photo) in [(1, "/a.jpg"), (2, "/b.jpg"), (3, "/c.jpg")] {
                old.conn()
                    .execute(
                        "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns,
                                             added_at, updated_at)
                         VALUES (?1, ?2, 'h', 1, 1, 1, 1)",
                        params![id, photo.as_bytes()],
                    )
                    .unwrap();
            }
            for model in [1, 2] {
                old.conn()
                    .execute(
                        "INSERT INTO models (id, created_at, backbone, kind, n_positive,
                                             n_negative, n_synthetic, params)
                         VALUES (?1, 0, 'lite0', 'head', 1, 1, 0, x'00')",
                        [model],
                    )
                    .unwrap();
            }
            for (model, photo, p) in [(1, 2, 0.25), (1, 1, 0.5), (2, 3, 0.75)] {
                old.conn()
                    .execute(
                        "INSERT INTO scores (model_id, photo_id, p) VALUES (?1, ?2, ?3)",
                        params![model, photo, p],
                    )
                    .unwrap();
            }
        }
        let cat = Catalog::open(&path).unwrap();
        assert_eq!(cat.scores(ModelId(1)).unwrap(), [(PhotoId(1), 0.5), (PhotoId(2), 0.25)]);
        assert_eq!(cat.scores(ModelId(2)).unwrap(), [(PhotoId(3), 0.75)]);
        let old_table: i64 = cat
            .conn()
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'scores'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old_table, 0, "the row-per-photo table is dropped");
    }

    #[test]
    fn ask_first_lists_in_the_info_json_become_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            // A catalog of schema 004, where the order lived in the model's info JSON.
            let old = Catalog::open_with(
                &path,
                &super::super::MIGRATIONS[..4],
                super::super::WhenEmpty::Initialize,
            )
            .unwrap();
            for id in 1..=3 {
                old.conn()
                    .execute(
                        "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns,
                                             added_at, updated_at)
                         VALUES (?1, ?2, ?3, 1, 1, 1, 1)",
                        params![id, format!("/{id}.jpg").into_bytes(), format!("h{id}")],
                    )
                    .unwrap();
            }
            for (model, info) in
                [(1, None), (2, Some(r#"{"l2":1.0,"ask_first":[3,1,77]}"#)), (3, Some("{}"))]
            {
                old.conn()
                    .execute(
                        "INSERT INTO models (id, created_at, backbone, kind, n_positive,
                                             n_negative, n_synthetic, params, info)
                         VALUES (?1, 0, 'lite0', 'head', 1, 1, 0, x'00', ?2)",
                        params![model, info],
                    )
                    .unwrap();
            }
        }
        let cat = Catalog::open(&path).unwrap();
        // Photo 77 is no longer in the catalog: left out.
        assert_eq!(cat.ask_first(ModelId(2)).unwrap(), [PhotoId(3), PhotoId(1)]);
        assert!(cat.ask_first(ModelId(1)).unwrap().is_empty());
        assert!(cat.ask_first(ModelId(3)).unwrap().is_empty());
    }

    #[test]
    fn embedding_table_is_flat_and_in_photo_order() {
        let cat = catalog_with_photos(3);
        put_embedding(&cat, 2, "lite0", &[3.0, 4.0]);
        put_embedding(&cat, 1, "lite0", &[1.0, 2.0]);
        put_embedding(&cat, 3, "other", &[9.0, 9.0]);
        let t = cat.embedding_table("lite0").unwrap();
        assert_eq!(t.ids, vec![PhotoId(1), PhotoId(2)]);
        assert_eq!((t.dim, t.row(1)), (2, &[3.0f32, 4.0][..]));
        let backbones = cat.embedding_backbones().unwrap();
        assert_eq!(backbones, vec![("lite0".to_owned(), 2), ("other".to_owned(), 1)]);
    }
}
