-- 001: the first schema. Released migrations are never edited: add schema_NNN.sql instead.

-- One row per distinct photo (identical files are one photo: see duplicate_paths).
CREATE TABLE photos (
    id            INTEGER PRIMARY KEY,
    path          BLOB NOT NULL UNIQUE,   -- the file's path as OS bytes (names need not be UTF-8)
    content_hash  TEXT NOT NULL,          -- blake3 of the file's bytes, hex
    byte_size     INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL,
    width         INTEGER,                -- as displayed, after the EXIF orientation
    height        INTEGER,
    taken_at      INTEGER,                -- EXIF DateTimeOriginal, the camera's clock read as UTC seconds
    orientation   INTEGER,                -- EXIF orientation 1..8 as found in the file
    thumb_path    TEXT,                   -- relative to the library folder
    source        TEXT NOT NULL DEFAULT 'camera' CHECK (source IN ('camera', 'synthetic')),
    state         TEXT NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'missing', 'error')),
    error         TEXT,
    prompt        TEXT,                   -- synthetic: the prompt it was generated from
    seed_label    INTEGER,                -- synthetic: 1 from the `want` list, 0 from `dont_want`
    added_at      INTEGER NOT NULL,       -- unix seconds
    updated_at    INTEGER NOT NULL
);
CREATE INDEX photos_content_hash ON photos(content_hash);

-- Further paths holding the same bytes as a photo.
CREATE TABLE duplicate_paths (
    path          BLOB PRIMARY KEY,
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    byte_size     INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL
);
CREATE INDEX duplicate_paths_photo ON duplicate_paths(photo_id);

-- Labels are an append-only log: a decision appends events, undo marks them undone.
-- The current label of (photo, kind) is its newest event that is not undone.
CREATE TABLE label_events (
    id            INTEGER PRIMARY KEY,
    batch         INTEGER NOT NULL,       -- the events of one decision; undo works per batch
    photo_id      INTEGER NOT NULL REFERENCES photos(id),
    kind          TEXT NOT NULL CHECK (kind IN ('kind', 'print')),
    value         INTEGER NOT NULL CHECK (value IN (-1, 0, 1)),  -- 1 yes/pick, 0 no/pass, -1 skip
    mode          TEXT NOT NULL,          -- where it was made: ambiguous, best, cli, eval, demo
    at_ms         INTEGER NOT NULL,       -- unix milliseconds
    undone        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX label_events_photo_kind ON label_events(photo_id, kind);
CREATE INDEX label_events_batch ON label_events(batch);

-- Pooled backbone features per (photo, backbone version), f32 little-endian.
CREATE TABLE embeddings (
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    backbone      TEXT NOT NULL,
    vector        BLOB NOT NULL,
    PRIMARY KEY (photo_id, backbone)
) WITHOUT ROWID;

-- Each training run is a model version.
CREATE TABLE models (
    id            INTEGER PRIMARY KEY,
    created_at    INTEGER NOT NULL,
    backbone      TEXT NOT NULL,          -- the embeddings it reads
    kind          TEXT NOT NULL,          -- head | finetune
    n_positive    INTEGER NOT NULL,       -- manual "kind" labels used
    n_negative    INTEGER NOT NULL,
    n_synthetic   INTEGER NOT NULL,
    cv_auc        REAL,                   -- cross-validated on the manual labels; NULL if too few
    params        BLOB NOT NULL,          -- the head's weights (safetensors)
    info          TEXT                    -- JSON: training settings, temperature, timings
);

CREATE TABLE scores (
    model_id      INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    p             REAL NOT NULL,
    PRIMARY KEY (model_id, photo_id)
) WITHOUT ROWID;
