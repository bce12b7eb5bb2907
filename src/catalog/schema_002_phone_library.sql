-- 002: a phone library. Where each capture time came from, the video half of Live Photos,
-- screenshots, and the videos a scan found (counted, not read).

-- exif | sidecar (Google Takeout JSON) | file_name | file_time (the mtime: a guess).
-- NULL: not known yet (a catalog from before 002; the next scan fills it in).
ALTER TABLE photos ADD COLUMN taken_source TEXT
    CHECK (taken_source IN ('exif', 'sidecar', 'file_name', 'file_time'));
-- Minutes east of UTC of the clock taken_at was read from (EXIF OffsetTimeOriginal; 0 for
-- the UTC instants of sidecars and file times); NULL when unknown.
ALTER TABLE photos ADD COLUMN taken_offset INTEGER;
-- The video of a Live Photo (same stem, same folder), path as OS bytes.
ALTER TABLE photos ADD COLUMN live_video BLOB;
-- 1 for a screenshot (named so, or a PNG with a phone screen's size and no camera EXIF).
ALTER TABLE photos ADD COLUMN screenshot INTEGER NOT NULL DEFAULT 0;
UPDATE photos SET taken_source = 'exif' WHERE taken_at IS NOT NULL AND source = 'camera';

-- Video files under the scanned folders (not Live Photo halves): counted by `status`.
CREATE TABLE videos (
    path          BLOB PRIMARY KEY,
    byte_size     INTEGER NOT NULL,
    mtime_ns      INTEGER NOT NULL
);
