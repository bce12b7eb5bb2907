//! The scan driver: walk, incremental check, parallel read/hash/thumbnail, one batching writer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use thiserror::Error;

use super::thumbnail::{
    ThumbError, Thumbnail, read_photo_file, store_thumbnail_keyed, thumbnail_from_bytes,
};
use super::walk::{FoundFile, WalkIssue, walk};
use crate::catalog::{
    Catalog, CatalogError, KnownFile, NewPhoto, PhotoId, PhotoState, ScanIndex, ScanOp, Source,
};
use crate::config::ScanConfig;
use crate::library::Library;

/// Rows per transaction, and the longest a row waits before its batch is written.
const BATCH_ROWS: usize = 256;
const BATCH_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, Error)]
pub enum ScanError {
    #[error("{path}: no such folder ({source})")]
    NoSuchFolder { path: PathBuf, source: std::io::Error },
    #[error(
        "cannot write the thumbnail {path}: {error}. The disk holding the library is full; \
         everything scanned so far is saved: free some space and run the scan again"
    )]
    DiskFull { path: PathBuf, error: std::io::Error },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanPhase {
    /// Listing folders; `done` counts entries seen, `total` is unknown (0).
    Walking,
    /// Reading, hashing and thumbnailing new or changed files.
    Reading,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanProgress {
    pub phase: ScanPhase,
    pub done: u64,
    pub total: u64,
}

/// A file that could not be ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFailure {
    pub path: PathBuf,
    pub message: String,
}

/// What a scan did.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    /// Photo files found by the walk.
    pub files: u64,
    pub new: u64,
    /// Path, size and mtime as in the catalog (not read), or read and found identical.
    pub unchanged: u64,
    /// Same bytes at a new path: the photo keeps its id and labels.
    pub moved: u64,
    /// Further paths holding the bytes of a photo already in the catalog.
    pub duplicates: u64,
    /// Files whose content changed at the same path: the new content is a new photo; the old
    /// photo keeps its labels and is missing until its bytes turn up again.
    pub changed: u64,
    /// Missing photos whose file is back.
    pub restored: u64,
    /// Photos newly marked missing (their file is gone).
    pub missing: u64,
    pub failed: u64,
    /// HEIC/HEIF/RAW files, not read.
    pub unsupported: u64,
    pub unsupported_by_ext: BTreeMap<String, u64>,
    /// Files the scan opened and read.
    pub files_read: u64,
    /// Files the scan decoded and thumbnailed (new or changed content).
    pub decoded: u64,
    /// Photos that got a new thumbnail in this scan (new ones and changed ones): the ones
    /// to embed next.
    pub new_ids: Vec<PhotoId>,
    pub failures: Vec<ScanFailure>,
    pub walk_issues: Vec<WalkIssue>,
    pub elapsed: Duration,
}

impl ScanSummary {
    /// Photos thumbnailed per second of the whole scan.
    pub fn decoded_per_second(&self) -> f64 {
        self.decoded as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A file the workers must read.
struct Job {
    file: FoundFile,
    known: Option<KnownFile>,
}

/// What a worker found out about one file.
enum Outcome {
    /// Decoded and thumbnailed: content not in the catalog.
    Decoded {
        job: Job,
        hash: String,
        thumb: Thumbnail,
        thumb_path: PathBuf,
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

/// Scans `roots` into `catalog`, writing thumbnails under `library`. One bad file never
/// stops a scan; rows are committed in batches, so an interrupted scan keeps its work.
pub fn scan(
    catalog: &mut Catalog,
    library: &Library,
    roots: &[PathBuf],
    cfg: &ScanConfig,
    progress: &dyn Fn(&ScanProgress),
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let roots = roots
        .iter()
        .map(|r| {
            std::fs::canonicalize(r)
                .map_err(|source| ScanError::NoSuchFolder { path: r.clone(), source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The library's own folders (its thumbnails, seed images, models) by real path; its
    // other folders may hold photos (the demo's are in `demo-photos/`).
    let skip: Vec<PathBuf> = [library.thumbs_dir(), library.synthetic_dir(), library.models_dir()]
        .iter()
        .filter_map(|d| std::fs::canonicalize(d).ok())
        .collect();
    let mut index = catalog.scan_index()?;
    // Each photo's current path: the writer updates it as it records moves, while the
    // workers read the rest of the index.
    let mut primary = std::mem::take(&mut index.primary);

    let walked = walk(&roots, cfg.include_hidden, &skip, &mut |n| {
        progress(&ScanProgress { phase: ScanPhase::Walking, done: n, total: 0 })
    });
    let mut s = ScanSummary {
        files: walked.photos.len() as u64,
        unsupported: walked.unsupported.values().sum(),
        unsupported_by_ext: walked.unsupported,
        walk_issues: walked.issues,
        ..ScanSummary::default()
    };

    // The incremental check: same path, size and mtime means same photo, not even opened.
    let mut seen: HashSet<PathBuf> = HashSet::with_capacity(walked.photos.len());
    let mut jobs = Vec::new();
    let mut ops = Vec::new();
    for file in walked.photos {
        seen.insert(file.path.clone());
        match index.by_path.get(&file.path) {
            Some(k)
                if k.byte_size == file.byte_size
                    && k.mtime_ns == file.mtime_ns
                    && k.state != PhotoState::Error
                    && !thumbnail_gone(library.root(), k) =>
            {
                if k.state == PhotoState::Missing && !k.duplicate {
                    ops.push(ScanOp::Restore { id: k.photo_id });
                    s.restored += 1;
                }
                s.unchanged += 1;
            }
            known => jobs.push(Job { file, known: known.cloned() }),
        }
    }

    let mut writer = Writer::new(catalog, ops);
    let total = jobs.len() as u64;
    progress(&ScanProgress { phase: ScanPhase::Reading, done: 0, total });
    let files_read = AtomicU64::new(0);
    let decoded = AtomicU64::new(0);
    let claimed = Mutex::new(HashSet::<String>::new());
    let (tx, rx) = sync_channel::<Outcome>(64);
    std::thread::scope(|scope| -> Result<(), ScanError> {
        let ctx = WorkerCtx {
            index: &index,
            claimed: &claimed,
            cfg,
            library_root: library.root(),
            files_read: &files_read,
            decoded: &decoded,
        };
        scope.spawn(move || {
            // A send fails only when the writer stopped on an error: then stop reading too.
            let _ = jobs
                .into_par_iter()
                .try_for_each_with(tx, |tx, job| tx.send(ctx.process(job)).map_err(|_| ()));
        });
        for (i, outcome) in rx.into_iter().enumerate() {
            writer.handle(outcome, &mut primary, &seen, &index.duplicates, &mut s)?;
            let done = i as u64 + 1;
            progress(&ScanProgress { phase: ScanPhase::Reading, done, total });
        }
        Ok(())
    })?;
    writer.flush(&mut s)?;
    writer.finish_pending(&mut s)?;

    mark_missing(&mut writer, &index, &primary, &roots, &seen, &mut s);
    writer.flush(&mut s)?;
    s.files_read = files_read.into_inner();
    s.decoded = decoded.into_inner();
    s.elapsed = started.elapsed();
    Ok(s)
}

/// What the workers share (all read-only but the claim set and counters).
#[derive(Clone, Copy)]
struct WorkerCtx<'a> {
    index: &'a ScanIndex,
    claimed: &'a Mutex<HashSet<String>>,
    cfg: &'a ScanConfig,
    library_root: &'a Path,
    files_read: &'a AtomicU64,
    decoded: &'a AtomicU64,
}

impl WorkerCtx<'_> {
    fn process(&self, job: Job) -> Outcome {
        let bytes = match read_photo_file(&job.file.path, Some(job.file.byte_size), self.cfg) {
            Ok(bytes) => bytes,
            Err(e) => {
                return Outcome::Failed { job, hash: String::new(), message: e.to_string() };
            }
        };
        self.files_read.fetch_add(1, Ordering::Relaxed);
        let hash = blake3::hash(&bytes).to_hex().to_string();
        if let Some(k) = &job.known
            && k.content_hash == hash
            && k.state != PhotoState::Error
            && !thumbnail_gone(self.library_root, k)
        {
            return Outcome::Same { job };
        }
        // A changed file at a photo's own path is re-thumbnailed in place (same id); bytes
        // anywhere else that the catalog knows are that photo.
        let own_path = job.known.as_ref().is_some_and(|k| !k.duplicate);
        if !own_path && let Some(&id) = self.index.by_hash.get(&hash) {
            return Outcome::KnownContent { job, id };
        }
        let first = self.claimed.lock().map(|mut set| set.insert(hash.clone())).unwrap_or(true);
        if !first && !own_path {
            return Outcome::CopyInThisRun { job, hash };
        }
        let made = catch_unwind(AssertUnwindSafe(|| {
            let thumb = thumbnail_from_bytes(&bytes, self.cfg)?;
            drop(bytes);
            let stored = store_thumbnail_keyed(
                self.library_root,
                &hash,
                &thumb.image,
                self.cfg.thumb_quality,
            )?;
            Ok::<_, ThumbError>((thumb, stored.rel_path))
        }));
        match made {
            Ok(Ok((thumb, thumb_path))) => {
                // Counted once thumbnailed: 10,000 empty files are not "1 thumbnailed".
                self.decoded.fetch_add(1, Ordering::Relaxed);
                Outcome::Decoded { job, hash, thumb, thumb_path }
            }
            Ok(Err(ThumbError::Write { path, source })) if is_disk_full(&source) => {
                Outcome::DiskFull { path, source }
            }
            Ok(Err(e)) => Outcome::Failed { job, hash, message: e.to_string() },
            Err(_) => {
                Outcome::Failed { job, hash, message: "the decoder crashed on this file".into() }
            }
        }
    }
}

/// No space left, over quota, or over the file size limit: nothing further can be stored.
fn is_disk_full(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}

/// The single writer: turns outcomes into catalog ops and commits them in batches.
struct Writer<'c> {
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
    last_flush: Instant,
}

impl<'c> Writer<'c> {
    fn new(catalog: &'c mut Catalog, ops: Vec<ScanOp>) -> Self {
        let inserted_hash = vec![None; ops.len()];
        Self {
            catalog,
            ops,
            inserted_hash,
            this_run: HashMap::new(),
            pending: HashMap::new(),
            added_duplicates: HashMap::new(),
            last_flush: Instant::now(),
        }
    }

    fn push(&mut self, op: ScanOp, inserted: Option<String>) {
        self.ops.push(op);
        self.inserted_hash.push(inserted);
    }

    fn handle(
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
            Outcome::Decoded { job, hash, thumb, thumb_path } => {
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
                let photo = NewPhoto {
                    path: job.file.path,
                    content_hash: hash.clone(),
                    byte_size: job.file.byte_size,
                    mtime_ns: job.file.mtime_ns,
                    width: Some(thumb.width),
                    height: Some(thumb.height),
                    taken_at: thumb.exif.taken_at,
                    orientation: thumb.exif.orientation,
                    thumb_path: Some(thumb_path),
                    source: Source::Camera,
                    state: PhotoState::Ok,
                    error: None,
                    prompt: None,
                    seed_label: None,
                };
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
                self.place_known_content(job, id, primary, seen, s)
            }
            Outcome::CopyInThisRun { job, hash } => match self.this_run.get(&hash) {
                Some(&id) => self.add_duplicate(job, id, s),
                None => self.pending.entry(hash).or_default().push(job),
            },
            Outcome::Failed { job, hash, message } => {
                let copies = self.pending.remove(&hash).unwrap_or_default();
                for j in std::iter::once(job).chain(copies) {
                    self.fail(j, &hash, &message, s);
                }
            }
        }
        if self.ops.len() >= BATCH_ROWS || self.last_flush.elapsed() >= BATCH_WAIT {
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
                let mtime_ns = meta.as_ref().map_or(0, super::walk::mtime_ns);
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
    /// duplicate.
    fn place_known_content(
        &mut self,
        job: Job,
        id: PhotoId,
        primary: &mut HashMap<PhotoId, PathBuf>,
        seen: &HashSet<PathBuf>,
        s: &mut ScanSummary,
    ) {
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
                prompt: None,
                seed_label: None,
            }),
        };
        self.push(op, None);
    }

    /// Commits the buffered ops; then copies waiting for a photo just written become its
    /// duplicates (committed by the next flush).
    fn flush(&mut self, s: &mut ScanSummary) -> Result<(), ScanError> {
        while !self.ops.is_empty() {
            let ops = std::mem::take(&mut self.ops);
            let hashes = std::mem::take(&mut self.inserted_hash);
            let ids = self.catalog.apply_scan_ops(&ops)?;
            for ((op, hash), id) in ops.iter().zip(hashes).zip(ids) {
                if let (ScanOp::Upsert(p), Some(hash), Some(id)) = (op, hash, id) {
                    if p.state == PhotoState::Ok {
                        s.new_ids.push(id);
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
    fn finish_pending(&mut self, s: &mut ScanSummary) -> Result<(), ScanError> {
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
fn mark_missing(
    writer: &mut Writer<'_>,
    index: &ScanIndex,
    primary: &HashMap<PhotoId, PathBuf>,
    roots: &[PathBuf],
    seen: &HashSet<PathBuf>,
    s: &mut ScanSummary,
) {
    let under_roots = |p: &Path| roots.iter().any(|r| p.starts_with(r));
    // Only a file that is certainly gone is missing: one behind an unreadable folder is not.
    let gone = |p: &Path| {
        !seen.contains(p)
            && under_roots(p)
            && matches!(std::fs::metadata(p), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
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

/// A photo whose thumbnail file was deleted (by hand, or a library copied without thumbs/) is
/// re-read and re-thumbnailed even when the original is unchanged: one `stat` per photo.
fn thumbnail_gone(library_root: &Path, known: &KnownFile) -> bool {
    // An empty file counts as gone: a thumbnail renamed into place just before a power cut
    // can be left empty by the file system.
    known.thumb_path.as_ref().is_some_and(|rel| {
        std::fs::metadata(library_root.join(rel)).map_or(true, |m| !m.is_file() || m.len() == 0)
    })
}
