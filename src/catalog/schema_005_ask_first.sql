-- 005: the photos a model version says to ask first (learn::lookahead), in order. Before,
-- a JSON list inside models.info that every queue rebuild parsed back out of the info text.
-- The lists already there are copied in by models::migrate_ask_first.
CREATE TABLE ask_first (
    model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    rank          INTEGER NOT NULL,
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    PRIMARY KEY (model_id, rank)
) WITHOUT ROWID;
