-- 004: a model version's scores as one row (catalog/score_blobs.rs): the photo ids (i64,
-- little-endian, ascending) and their p (f32, little-endian, same order). A retrain after
-- every answer wrote 25,000 rows of `scores` while holding the write lock the next label
-- waits for. The old rows are moved here by score_blobs::migrate_rows_to_blobs, which then
-- drops `scores`.
CREATE TABLE model_scores (
    model_id      INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    photo_ids     BLOB NOT NULL,
    p             BLOB NOT NULL
);
