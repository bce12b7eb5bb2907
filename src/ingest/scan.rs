//! The scan driver: walk, incremental check, parallel read/hash/thumbnail, one batching writer.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use rayon::prelude::*;

use super::companions::{Companions, pair};
use super::photo_facts::{capture_time, photo_facts};
use super::scan_report::{ScanError, ScanPhase, ScanProgress, ScanSummary};
use super::scan_writer::{Job, NewPixels, Outcome, Writer, mark_missing};
use super::thumbs::store_thumbnail_keyed;
use super::walk::{FoundFile, walk};
use crate::catalog::{Catalog, KnownFile, PhotoState, ScanIndex, ScanOp, TakenSource, VideoFile};
use crate::config::ScanConfig;
use crate::imaging::ThumbError;
use crate::imaging::thumbnail::{read_photo_file, thumbnail_from_bytes};
use crate::library::Library;

/// Scans `roots` into `catalog`, writing thumbnails under `library`. One bad file never
/// stops a scan; rows are committed in batches, so an interrupted scan keeps its work.
///
/// Files are read, hashed and thumbnailed on the caller's rayon pool (the global one unless
/// called inside `ThreadPool::install`: a session's background scan runs on a pool of its
/// own at the lowest priority); one thread of the scan's own writes the catalog and calls
/// `progress`.
pub fn scan(
    catalog: &mut Catalog,
    library: &Library,
    roots: &[PathBuf],
    cfg: &ScanConfig,
    progress: &(dyn Fn(&ScanProgress) + Sync),
) -> Result<ScanSummary, ScanError> {
    scan_with(catalog, library, roots, cfg, progress, None)
}

/// [`scan`], handing every newly thumbnailed photo's pixels to `new_pixels` once the photo is
/// committed (on the scan's writer thread: a listener that blocks slows the scan down to it).
pub fn scan_with(
    catalog: &mut Catalog,
    library: &Library,
    roots: &[PathBuf],
    cfg: &ScanConfig,
    progress: &(dyn Fn(&ScanProgress) + Sync),
    new_pixels: Option<NewPixels<'_>>,
) -> Result<ScanSummary, ScanError> {
    let started = Instant::now();
    let roots = roots
        .iter()
        .map(|r| {
            std::fs::canonicalize(r)
                .map_err(|error| ScanError::NoSuchFolder { path: r.clone(), error })
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
    let Companions { mut live_video, mut sidecar, videos } =
        pair(&walked.photos, walked.videos, &walked.sidecars);
    let mut s = ScanSummary {
        files: walked.photos.len() as u64,
        unsupported: walked.unsupported.values().sum(),
        unsupported_by_ext: walked.unsupported,
        walk_issues: walked.issues,
        videos: videos.len() as u64,
        live_photos: live_video.len() as u64,
        sidecars: sidecar.len() as u64,
        ..ScanSummary::default()
    };
    let videos: Vec<VideoFile> = videos
        .into_iter()
        .map(|v| VideoFile { path: v.path, byte_size: v.byte_size, mtime_ns: v.mtime_ns })
        .collect();
    catalog.record_videos(&roots, &videos)?;

    // The incremental check: same path, size and mtime means same photo, not even opened.
    let mut seen: HashSet<PathBuf> = HashSet::with_capacity(walked.photos.len());
    let mut jobs = Vec::new();
    let mut ops = Vec::new();
    for file in walked.photos {
        seen.insert(file.path.clone());
        let live = live_video.remove(&file.path);
        let side = sidecar.remove(&file.path);
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
                ops.extend(companion_updates(&file, k, live, side.as_deref()));
            }
            known => {
                jobs.push(Job { file, known: known.cloned(), live_video: live, sidecar: side })
            }
        }
    }

    let mut writer = Writer::new(catalog, ops, new_pixels);
    let total = jobs.len() as u64;
    progress(&ScanProgress { phase: ScanPhase::Reading, done: 0, total });
    let files_read = AtomicU64::new(0);
    let decoded = AtomicU64::new(0);
    let claimed = Mutex::new(HashSet::<String>::new());
    let (tx, rx) = sync_channel::<Outcome>(64);
    let ctx = WorkerCtx {
        index: &index,
        claimed: &claimed,
        cfg,
        library_root: library.root(),
        files_read: &files_read,
        decoded: &decoded,
    };
    std::thread::scope(|scope| -> Result<(), ScanError> {
        let writing = std::thread::Builder::new()
            .name("scan-writer".into())
            .spawn_scoped(scope, || -> Result<(), ScanError> {
                for (i, outcome) in rx.into_iter().enumerate() {
                    writer.handle(outcome, &mut primary, &seen, &index.duplicates, &mut s)?;
                    let done = i as u64 + 1;
                    progress(&ScanProgress { phase: ScanPhase::Reading, done, total });
                }
                Ok(())
            })
            .map_err(|e| ScanError::Thread(e.to_string()))?;
        // The reading, on the caller's pool. A send fails only when the writer stopped on an
        // error: then stop reading too.
        let _ = jobs
            .into_par_iter()
            .try_for_each_with(tx, |tx, job| tx.send(ctx.process(job)).map_err(|_| ()));
        match writing.join() {
            Ok(written) => written,
            Err(panic) => std::panic::resume_unwind(panic),
        }
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
        // Bytes the catalog knows are that photo: at a new path, or at another photo's own
        // path (overwritten with a copy of it: a duplicate, not a second photo asked about
        // twice). A file changed into content the catalog does not know is decoded below.
        let own_path = job.known.as_ref().is_some_and(|k| !k.duplicate);
        if let Some(&id) = self.index.by_hash.get(&hash)
            && job.known.as_ref().is_none_or(|k| k.duplicate || k.photo_id != id)
        {
            return Outcome::KnownContent { job, id };
        }
        let first = self.claimed.lock().map(|mut set| set.insert(hash.clone())).unwrap_or(true);
        if !first && !own_path {
            return Outcome::CopyInThisRun { job, hash };
        }
        let made = catch_unwind(AssertUnwindSafe(|| {
            let thumb = thumbnail_from_bytes(&bytes, self.cfg)?;
            drop(bytes);
            let facts =
                photo_facts(&job.file.path, &thumb, job.sidecar.as_deref(), job.file.mtime_ns);
            let stored = store_thumbnail_keyed(
                self.library_root,
                &hash,
                &thumb.image,
                self.cfg.thumb_quality,
            )?;
            Ok::<_, ThumbError>((thumb, stored.rel_path, facts))
        }));
        match made {
            Ok(Ok((thumb, thumb_path, facts))) => {
                // Counted once thumbnailed: 10,000 empty files are not "1 thumbnailed".
                self.decoded.fetch_add(1, Ordering::Relaxed);
                Outcome::Decoded { job, hash, thumb, thumb_path, facts }
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

/// Catalog updates for a photo whose file is unchanged (so not read again): a capture time
/// never resolved (a catalog from before the time sources were recorded: no EXIF time, so
/// the sidecar, the name or the file time) or a sidecar that appeared since a guess, and a
/// Live Photo video that appeared or went away.
fn companion_updates(
    file: &FoundFile,
    known: &KnownFile,
    live: Option<PathBuf>,
    sidecar: Option<&Path>,
) -> Vec<ScanOp> {
    let mut ops = Vec::new();
    if known.duplicate || known.state == PhotoState::Error {
        return ops;
    }
    let id = known.photo_id;
    let weak =
        matches!(known.taken_source, None | Some(TakenSource::FileName | TakenSource::FileTime));
    if known.taken_source.is_none() || (weak && sidecar.is_some()) {
        let t = capture_time(&file.path, &Default::default(), sidecar, file.mtime_ns);
        if known.taken_source != Some(t.source) {
            ops.push(ScanOp::SetTaken { id, at: t.at, offset: t.offset_minutes, source: t.source });
        }
    }
    if known.live_video != live {
        ops.push(ScanOp::SetLiveVideo { id, path: live });
    }
    ops
}

/// A photo whose thumbnail file was deleted (by hand, or a library copied without thumbs/) is
/// re-read and re-thumbnailed even when the original is unchanged: one `stat` per photo.
pub(super) fn thumbnail_gone(library_root: &Path, known: &KnownFile) -> bool {
    // An empty file counts as gone: a thumbnail renamed into place just before a power cut
    // can be left empty by the file system.
    known.thumb_path.as_ref().is_some_and(|rel| {
        std::fs::metadata(library_root.join(rel)).map_or(true, |m| !m.is_file() || m.len() == 0)
    })
}
