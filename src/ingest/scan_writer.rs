//! The scan's single writer: turns the workers' outcomes into catalog ops, commits them in
//! batched transactions, resolves copies found in the same run, and marks vanished photos
//! missing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;

use super::photo_facts::PhotoFacts;
use super::scan_report::{ScanError, ScanFailure, ScanSummary};
use super::walk::FoundFile;
use crate::catalog::{
    Catalog, KnownFile, NewPhoto, PhotoState, ScanIndex, ScanOp, Source, TakenSource,
};
use crate::domain::PhotoId;
use crate::imaging::thumbnail::Thumbnail;

/// Rows per transaction, and the longest a row waits before its batch is written.
const BATCH_ROWS: usize = 256;
const BATCH_WAIT: Duration = Duration::from_millis(500);
/// Thumbnail pixels held for [`NewPixels`] until their photos are committed: a batch is
/// written early rather than hold more (about 100 thumbnails of 512x384).
const PIXELS_BYTES: usize = 64 << 20;

/// Hears each newly thumbnailed photo once it is committed, with the thumbnail's pixels, so the
/// embedding can start from them instead of reading the thumbnail file back.
pub type NewPixels<'a> = &'a (dyn Fn(PhotoId, RgbImage) + Sync);

/// A file the workers must read.
pub(super) struct Job {
    pub(super) file: FoundFile,
    pub(super) known: Option<KnownFile>,
    pub(super) live_video: Option<PathBuf>,
    pub(super) sidecar: Option<PathBuf>,
}

/// What a worker found out about one file.
pub(super) enum Outcome {
    /// Decoded and thumbnailed: content not in the catalog.
    Decoded {
        job: Job,
        hash: String,
        thumb: Thumbnail,
        thumb_path: PathBuf,
        facts: PhotoFacts,
    },
    /// A known path whose bytes are what the catalog says (only the mtime changed).
    Same {
        job: Job,
    },
    /// Bytes of a photo already in the catalog, at a path it does not know as that photo.
    KnownContent {
        job: Job,
        id: PhotoId,
    },
    /// Bytes another file of this same scan is being decoded for.
    CopyInThisRun {
        job: Job,
        hash: String,
    },
    Failed {
        job: Job,
        hash: String,
        message: String,
    },
    /// The library's disk is full: no later file can be stored either, so the scan stops.
    DiskFull {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The single writer: turns outcomes into catalog ops and commits them in batches.
pub(super) struct Writer<'c> {
    catalog: &'c mut Catalog,
    ops: Vec<ScanOp>,
    /// For each op in `ops`: the content hash of a newly inserted photo (to resolve copies).
    inserted_hash: Vec<Option<String>>,
    /// Content decoded in this run → its photo id, once written.
    this_run: HashMap<String, PhotoId>,
    /// Copies whose original is not written yet.
    pending: HashMap<String, Vec<Job>>,
    /// Duplicate paths recorded in this run, per photo.
    added_duplicates: HashMap<PhotoId, Vec<PathBuf>>,
    /// Content that failed in this run → why: a copy arriving after its original failed
    /// fails for the same reason.
    failed: HashMap<String, String>,
    /// Pixels of thumbnails decoded in this run, by content hash, until their photo is written
    /// (only with a [`NewPixels`] listener).
    pixels: HashMap<String, RgbImage>,
    pixel_bytes: usize,
    new_pixels: Option<NewPixels<'c>>,
    last_flush: Instant,
}

impl<'c> Writer<'c> {
    pub(super) fn new(
        catalog: &'c mut Catalog,
        ops: Vec<ScanOp>,
        new_pixels: Option<NewPixels<'c>>,
    ) -> Self {
        let inserted_hash = vec![None; ops.len()];
        Self {
            catalog,
            ops,
            inserted_hash,
            this_run: HashMap::new(),
            pending: HashMap::new(),
            added_duplicates: HashMap::new(),
            failed: HashMap::new(),
            pixels: HashMap::new(),
            pixel_bytes: 0,
            new_pixels,
            last_flush: Instant::now(),
        }
    }

    pub(super) fn push(&mut self, op: ScanOp, inserted: Option<String>) {
        self.ops.push(op);
        self.inserted_hash.push(inserted);
    }

    pub(super) fn handle(
        &mut self,
        outcome: Outcome,
        primary: &mut HashMap<PhotoId, PathBuf>,
        seen: &HashSet<PathBuf>,
        duplicates: &HashMap<PhotoId, Vec<PathBuf>>,
        s: &mut ScanSummary,
    ) -> Result<(), ScanError> {
        match outcome {
            Outcome::DiskFull { path, source } => {
                // Keep what is done (the catalog may still have room), then stop.
                let _ = self.flush(s);
                return Err(ScanError::DiskFull { path, error: source });
            }
            Outcome::Decoded { job, hash, thumb, thumb_path, facts } => {
                match job.known.as_ref().filter(|k| !k.duplicate) {
                    // Same bytes, re-read because the thumbnail was gone or it had failed.
                    Some(k) if k.content_hash == hash => s.unchanged += 1,
                    Some(k) => {
                        s.changed += 1;
                        // Another picture at a photo's path: the labels were given to the old
                        // picture, so they stay with it; the new content is a new photo.
                        if k.thumb_path.is_some() {
                            self.retire(k.photo_id, &job.file.path, primary, seen, duplicates);
                        }
                    }
                    None => s.new += 1,
                }
                s.screenshots += u64::from(facts.screenshot);
                s.time_guessed += u64::from(facts.taken.source == TakenSource::FileTime);
                let photo = NewPhoto {
                    path: job.file.path,
                    content_hash: hash.clone(),
                    byte_size: job.file.byte_size,
                    mtime_ns: job.file.mtime_ns,
                    width: Some(thumb.width),
                    height: Some(thumb.height),
                    taken_at: Some(facts.taken.at),
                    orientation: thumb.exif.orientation,
                    thumb_path: Some(thumb_path),
                    source: Source::Camera,
                    state: PhotoState::Ok,
                    error: None,
                    prompt: None,
                    seed_label: None,
                    taken_source: Some(facts.taken.source),
                    taken_offset: facts.taken.offset_minutes,
                    live_video: job.live_video,
                    screenshot: facts.screenshot,
                };
                if self.new_pixels.is_some() {
                    self.pixel_bytes += thumb.image.as_raw().len();
                    self.pixels.insert(hash.clone(), thumb.image);
                }
                self.push(ScanOp::Upsert(photo), Some(hash));
            }
            Outcome::Same { job } => {
                s.unchanged += 1;
                let (f, k) = (job.file, job.known);
                match k {
                    Some(k) if k.duplicate => self.push(
                        ScanOp::TouchDuplicate {
                            path: f.path,
                            byte_size: f.byte_size,
                            mtime_ns: f.mtime_ns,
                        },
                        None,
                    ),
                    Some(k) => self.push(
                        ScanOp::Touch {
                            id: k.photo_id,
                            byte_size: f.byte_size,
                            mtime_ns: f.mtime_ns,
                        },
                        None,
                    ),
                    None => {}
                }
            }
            Outcome::KnownContent { job, id } => {
                self.place_known_content(job, id, primary, seen, duplicates, s)
            }
            Outcome::CopyInThisRun { job, hash } => {
                if let Some(&id) = self.this_run.get(&hash) {
                    self.add_duplicate(job, id, s);
                } else if let Some(message) = self.failed.get(&hash).cloned() {
                    self.fail(job, &hash, &message, s);
                } else {
                    self.pending.entry(hash).or_default().push(job);
                }
            }
            Outcome::Failed { job, hash, message } => {
                let copies = self.pending.remove(&hash).unwrap_or_default();
                for j in std::iter::once(job).chain(copies) {
                    self.fail(j, &hash, &message, s);
                }
                // An empty hash: the file could not even be read, so no copy can match it.
                if !hash.is_empty() {
                    self.failed.insert(hash, message);
                }
            }
        }
        if self.ops.len() >= BATCH_ROWS
            || self.last_flush.elapsed() >= BATCH_WAIT
            || self.pixel_bytes >= PIXELS_BYTES
        {
            self.flush(s)?;
        }
        Ok(())
    }

    /// Photo `id`'s own file at `path` holds other content now: the photo moves to a
    /// duplicate of its old bytes still present, else it is retired (missing, labels kept).
    fn retire(
        &mut self,
        id: PhotoId,
        path: &Path,
        primary: &mut HashMap<PhotoId, PathBuf>,
        seen: &HashSet<PathBuf>,
        duplicates: &HashMap<PhotoId, Vec<PathBuf>>,
    ) {
        let known = duplicates.get(&id).into_iter().flatten().filter(|d| seen.contains(*d));
        let added = self.added_duplicates.get(&id).into_iter().flatten();
        match known.chain(added).next().cloned() {
            Some(survivor) => {
                let meta = std::fs::metadata(&survivor).ok();
                let byte_size = meta.as_ref().map_or(0, |m| m.len());
                let mtime_ns = meta.as_ref().map_or(0, crate::files::mtime_ns);
                primary.insert(id, survivor.clone());
                self.push(ScanOp::Move { id, path: survivor, byte_size, mtime_ns }, None);
            }
            None => {
                primary.remove(&id);
                self.push(ScanOp::Retire { id, path: path.to_path_buf() }, None);
            }
        }
    }

    /// Bytes of photo `id` at a new path: a move when the photo's own file is gone, else a
    /// duplicate. When the path was another photo's own file, that photo's picture is gone
    /// from it: it is retired first (labels kept), as for any changed file.
    fn place_known_content(
        &mut self,
        job: Job,
        id: PhotoId,
        primary: &mut HashMap<PhotoId, PathBuf>,
        seen: &HashSet<PathBuf>,
        duplicates: &HashMap<PhotoId, Vec<PathBuf>>,
        s: &mut ScanSummary,
    ) {
        if let Some(k) = job.known.as_ref().filter(|k| !k.duplicate && k.photo_id != id) {
            s.changed += 1;
            self.retire(k.photo_id, &job.file.path, primary, seen, duplicates);
        }
        let old = primary.get(&id).cloned();
        let old_exists = old.as_ref().is_some_and(|p| seen.contains(p) || p.exists());
        if old_exists {
            self.add_duplicate(job, id, s);
            return;
        }
        s.moved += 1;
        let f = job.file;
        primary.insert(id, f.path.clone());
        self.push(
            ScanOp::Move { id, path: f.path, byte_size: f.byte_size, mtime_ns: f.mtime_ns },
            None,
        );
    }

    fn add_duplicate(&mut self, job: Job, id: PhotoId, s: &mut ScanSummary) {
        s.duplicates += 1;
        let f = job.file;
        self.added_duplicates.entry(id).or_default().push(f.path.clone());
        self.push(
            ScanOp::AddDuplicate { id, path: f.path, byte_size: f.byte_size, mtime_ns: f.mtime_ns },
            None,
        );
    }

    fn fail(&mut self, job: Job, hash: &str, message: &str, s: &mut ScanSummary) {
        s.failed += 1;
        s.failures.push(ScanFailure { path: job.file.path.clone(), message: message.to_owned() });
        let f = job.file;
        let op = match job.known {
            Some(k) if !k.duplicate => ScanOp::MarkError {
                id: k.photo_id,
                byte_size: f.byte_size,
                mtime_ns: f.mtime_ns,
                message: message.to_owned(),
            },
            _ => ScanOp::Upsert(NewPhoto {
                path: f.path,
                content_hash: hash.to_owned(),
                byte_size: f.byte_size,
                mtime_ns: f.mtime_ns,
                width: None,
                height: None,
                taken_at: None,
                orientation: None,
                thumb_path: None,
                source: Source::Camera,
                state: PhotoState::Error,
                error: Some(message.to_owned()),
                live_video: job.live_video,
                ..NewPhoto::default()
            }),
        };
        self.push(op, None);
    }

    /// Commits the buffered ops; then copies waiting for a photo just written become its
    /// duplicates (committed by the next flush).
    pub(super) fn flush(&mut self, s: &mut ScanSummary) -> Result<(), ScanError> {
        while !self.ops.is_empty() {
            let ops = std::mem::take(&mut self.ops);
            let hashes = std::mem::take(&mut self.inserted_hash);
            let ids = self.catalog.apply_scan_ops(&ops)?;
            for ((op, hash), id) in ops.iter().zip(hashes).zip(ids) {
                if let (ScanOp::Upsert(_), Some(hash), Some(id)) = (op, hash, id) {
                    if let (Some(image), Some(listener)) =
                        (self.pixels.remove(&hash), self.new_pixels)
                    {
                        self.pixel_bytes -= image.as_raw().len();
                        listener(id, image);
                    }
                    self.this_run.insert(hash, id);
                }
            }
            let ready: Vec<String> =
                self.pending.keys().filter(|h| self.this_run.contains_key(*h)).cloned().collect();
            for hash in ready {
                let id = self.this_run[&hash];
                for job in self.pending.remove(&hash).unwrap_or_default() {
                    self.add_duplicate(job, id, s);
                }
            }
        }
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Copies whose original never got written (it cannot happen: every decode reports).
    pub(super) fn finish_pending(&mut self, s: &mut ScanSummary) -> Result<(), ScanError> {
        let pending: Vec<(String, Vec<Job>)> = self.pending.drain().collect();
        for (hash, jobs) in pending {
            for job in jobs {
                self.fail(job, &hash, "its identical copy was not ingested", s);
            }
        }
        self.flush(s)
    }
}

/// Photos under the scanned folders whose file is gone are marked missing (a duplicate
/// path still present takes over as the photo's path); vanished duplicate paths are removed.
pub(super) fn mark_missing(
    writer: &mut Writer<'_>,
    index: &ScanIndex,
    primary: &HashMap<PhotoId, PathBuf>,
    roots: &[PathBuf],
    seen: &HashSet<PathBuf>,
    s: &mut ScanSummary,
) {
    let under_roots = |p: &Path| roots.iter().any(|r| p.starts_with(r));
    // Only a file that is certainly gone is missing: one behind an unreadable folder is not.
    // A path that now names a folder, a FIFO, a device (a link to /dev/null) holds no photo
    // either: left "ok", export would refuse it and send the user back to a scan that
    // changes nothing.
    let gone = |p: &Path| {
        !seen.contains(p)
            && under_roots(p)
            && match std::fs::metadata(p) {
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
                Ok(meta) => !meta.is_file(),
            }
    };
    let mut ids: Vec<_> = primary.iter().collect();
    ids.sort();
    for (&id, path) in ids {
        if !gone(path) {
            continue;
        }
        let survivor = index
            .duplicates
            .get(&id)
            .and_then(|dups| dups.iter().find(|d| seen.contains(*d)))
            .and_then(|d| index.by_path.get(d).map(|k| (d, k)));
        let was = index.by_path.get(path).map(|k| k.state);
        match survivor {
            Some((d, k)) => {
                s.moved += 1;
                writer.push(
                    ScanOp::Move {
                        id,
                        path: d.clone(),
                        byte_size: k.byte_size,
                        mtime_ns: k.mtime_ns,
                    },
                    None,
                );
            }
            None if was != Some(PhotoState::Missing) => {
                s.missing += 1;
                writer.push(ScanOp::MarkMissing { id }, None);
            }
            None => {}
        }
    }
    for (path, k) in &index.by_path {
        if k.duplicate && gone(path) {
            writer.push(ScanOp::RemoveDuplicate { path: path.clone() }, None);
        }
    }
}
