//! Copying one original into the export folder, checked against the catalog: the file must
//! be the regular file the scan saw (same size and mtime), and the bytes copied must hash to
//! the catalog's content hash, else the copy is discarded. Byte-identical, mtime kept, never
//! overwriting anything, and a copy made by an earlier run is recognized so exports resume.

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::dest::{DestDir, MAX_NAME_TRIES, hash_regular_file, is_reserved, numbered_name};

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    /// Copied to `target` (a new file).
    Copied { target: PathBuf, bytes: u64 },
    /// `target` already holds the catalog's bytes: exported by an earlier run.
    AlreadyThere { target: PathBuf },
}

impl CopyOutcome {
    pub fn target(&self) -> &Path {
        match self {
            CopyOutcome::Copied { target, .. } | CopyOutcome::AlreadyThere { target } => target,
        }
    }
}

/// What the catalog knows about the file to copy.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub byte_size: u64,
    pub mtime_ns: i64,
    /// blake3, hex.
    pub content_hash: &'a str,
}

/// Which side failed: a source error skips one photo, a destination error stops the export
/// (a full disk or a read-only folder would fail every other photo the same way).
#[derive(Debug, Error)]
pub enum CopyError {
    #[error("cannot read {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    /// The file is not what the catalog identified: nothing was exported for it.
    #[error("{path}: {reason}; not exported (run `photosift scan` on its folder)")]
    Changed { path: PathBuf, reason: String },
    #[error(
        "no free name for {name} in the export folder: {MAX_NAME_TRIES} numbered names are \
         all taken"
    )]
    NoFreeName { name: String },
    #[error("cannot write {path}: {source}")]
    Destination { path: PathBuf, source: io::Error },
}

/// Copies `source` into the export folder under its own file name, or the first numbered
/// variant of it that is free or already holds the catalog's bytes. `source` is only read.
pub fn copy_into(
    source: &Path,
    expected: Expected<'_>,
    dest: &DestDir,
) -> Result<CopyOutcome, CopyError> {
    let src_err = |e| CopyError::Source { path: source.to_path_buf(), source: e };
    let name = source.file_name().ok_or_else(|| {
        src_err(io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))
    })?;
    let (mut input, meta) = open_checked(source, expected)?;
    let mut staged: Option<tempfile::NamedTempFile> = None;
    for n in 1..=MAX_NAME_TRIES {
        let candidate = numbered_name(name, n);
        if is_reserved(&candidate) {
            continue;
        }
        let target = dest.path().join(&candidate);
        match fs::symlink_metadata(&target) {
            // The original itself (an export into its own folder): its name is taken, it is
            // not a copy made earlier.
            Ok(existing) if same_file(&existing, &meta) => continue,
            Ok(existing) => {
                if existing.is_file() && existing.len() == expected.byte_size {
                    let dst_err = |e| CopyError::Destination { path: target.clone(), source: e };
                    let found =
                        hash_regular_file(&target, Some(expected.byte_size)).map_err(dst_err)?;
                    if found.is_some_and(|(hash, _)| hash == expected.content_hash) {
                        return Ok(CopyOutcome::AlreadyThere { target });
                    }
                }
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CopyError::Destination { path: target, source: e }),
        }
        // Stage the bytes once (hashing them as they are copied), then give the staged file
        // the first free name.
        let file = match staged.take() {
            Some(file) => file,
            None => stage_checked(&mut input, &meta, source, expected, dest)?,
        };
        let published = dest
            .publish_new(file, &candidate)
            .map_err(|e| CopyError::Destination { path: target.clone(), source: e })?;
        match published {
            Ok(target) => return Ok(CopyOutcome::Copied { target, bytes: expected.byte_size }),
            // Someone else took the name between the check and the rename: the next one.
            Err(file) => staged = Some(file),
        }
    }
    // Dropping `staged` removes the staging file.
    Err(CopyError::NoFreeName { name: Path::new(name).display().to_string() })
}

/// Whether two metadata are of one file (device and inode).
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Opens the original without blocking on a FIFO and checks the opened file: a regular file
/// with the size and mtime the scan recorded.
fn open_checked(source: &Path, expected: Expected<'_>) -> Result<(File, fs::Metadata), CopyError> {
    let changed = |reason: String| CopyError::Changed { path: source.to_path_buf(), reason };
    let input = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(source)
        .map_err(|e| CopyError::Source { path: source.to_path_buf(), source: e })?;
    let meta = input
        .metadata()
        .map_err(|e| CopyError::Source { path: source.to_path_buf(), source: e })?;
    if !meta.is_file() {
        return Err(changed(
            "not a regular file (a FIFO, device or folder) since the last scan".into(),
        ));
    }
    let mtime = crate::files::mtime_ns(&meta);
    if meta.len() != expected.byte_size || mtime != expected.mtime_ns {
        return Err(changed(format!(
            "changed since the last scan ({} bytes, the catalog has {})",
            meta.len(),
            expected.byte_size
        )));
    }
    Ok((input, meta))
}

/// Copies the opened original into a new staging file, hashing what it copies; a copy whose
/// bytes differ from the catalog's is discarded.
fn stage_checked(
    input: &mut File,
    meta: &fs::Metadata,
    source: &Path,
    expected: Expected<'_>,
    dest: &DestDir,
) -> Result<tempfile::NamedTempFile, CopyError> {
    let dst_err = |path: &Path, e| CopyError::Destination { path: path.to_path_buf(), source: e };
    let mut staged = dest.stage().map_err(|e| dst_err(dest.path(), e))?;
    let staged_path = staged.path().to_path_buf();
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    // One byte past the recorded size is enough to know the file grew.
    let mut limited = input.take(expected.byte_size.saturating_add(1));
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Source { path: source.to_path_buf(), source: e }),
        };
        hasher.update(&buf[..n]);
        staged.write_all(&buf[..n]).map_err(|e| dst_err(&staged_path, e))?;
        total += n as u64;
    }
    let hash = hasher.finalize().to_hex().to_string();
    if total != expected.byte_size || hash != expected.content_hash {
        // `staged` is dropped here, which removes the partial copy.
        return Err(CopyError::Changed {
            path: source.to_path_buf(),
            reason: format!(
                "changed since the last scan (its bytes differ from the photo the catalog \
                 holds: {total} bytes read, content hash {})",
                &hash[..12]
            ),
        });
    }
    let mut times = FileTimes::new();
    if let Ok(modified) = meta.modified() {
        times = times.set_modified(modified);
    }
    if let Ok(accessed) = meta.accessed() {
        times = times.set_accessed(accessed);
    }
    staged.as_file().set_times(times).map_err(|e| dst_err(&staged_path, e))?;
    staged.as_file().sync_all().map_err(|e| dst_err(&staged_path, e))?;
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Src {
        _dir: tempfile::TempDir,
        dst: PathBuf,
        root: PathBuf,
    }

    fn setup() -> Src {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let dst = root.join("dst");
        fs::create_dir_all(&dst).unwrap();
        Src { _dir: dir, dst, root }
    }

    /// Writes a file and returns what the catalog would know of it.
    fn original(path: &Path, bytes: &[u8]) -> (u64, i64, String) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
        let meta = fs::metadata(path).unwrap();
        (meta.len(), crate::files::mtime_ns(&meta), blake3::hash(bytes).to_hex().to_string())
    }

    fn copy(src: &Path, facts: &(u64, i64, String), dst: &Path) -> Result<CopyOutcome, CopyError> {
        let dest = DestDir::open(dst, &mut || {}).unwrap();
        let expected = Expected { byte_size: facts.0, mtime_ns: facts.1, content_hash: &facts.2 };
        copy_into(src, expected, &dest)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".photosift-export"))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn copy_is_identical_keeps_mtime_and_leaves_no_partial() {
        let s = setup();
        let src = s.root.join("src/IMG_0001.jpg");
        fs::create_dir_all(src.parent().unwrap()).unwrap();
        fs::write(&src, b"photo bytes").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
        File::options().write(true).open(&src).unwrap().set_modified(old).unwrap();
        let meta = fs::metadata(&src).unwrap();
        let facts =
            (11, crate::files::mtime_ns(&meta), blake3::hash(b"photo bytes").to_hex().to_string());
        let out = copy(&src, &facts, &s.dst).unwrap();
        assert_eq!(out, CopyOutcome::Copied { target: s.dst.join("IMG_0001.jpg"), bytes: 11 });
        assert_eq!(fs::read(s.dst.join("IMG_0001.jpg")).unwrap(), b"photo bytes");
        assert_eq!(fs::metadata(s.dst.join("IMG_0001.jpg")).unwrap().modified().unwrap(), old);
        assert_eq!(names(&s.dst), ["IMG_0001.jpg"]);
    }

    #[test]
    fn same_name_other_bytes_gets_a_number_and_same_bytes_is_skipped() {
        let s = setup();
        let (a, b) = (s.root.join("a/IMG.jpg"), s.root.join("b/IMG.jpg"));
        let fa = original(&a, b"aaaa");
        let fb = original(&b, b"bbbb");
        copy(&a, &fa, &s.dst).unwrap();
        let out = copy(&b, &fb, &s.dst).unwrap();
        assert_eq!(out.target(), s.dst.join("IMG-2.jpg"));
        assert_eq!(fs::read(s.dst.join("IMG.jpg")).unwrap(), b"aaaa");
        assert_eq!(
            copy(&b, &fb, &s.dst).unwrap(),
            CopyOutcome::AlreadyThere { target: s.dst.join("IMG-2.jpg") }
        );
        assert_eq!(
            copy(&a, &fa, &s.dst).unwrap(),
            CopyOutcome::AlreadyThere { target: s.dst.join("IMG.jpg") }
        );
        assert_eq!(names(&s.dst), ["IMG-2.jpg", "IMG.jpg"]);
    }

    #[test]
    fn bytes_that_differ_from_the_catalog_are_discarded() {
        let s = setup();
        let src = s.root.join("a/IMG.jpg");
        let mut facts = original(&src, b"what the scan saw");
        facts.2 = blake3::hash(b"something else").to_hex().to_string();
        let err = copy(&src, &facts, &s.dst).unwrap_err();
        assert!(matches!(err, CopyError::Changed { .. }), "{err}");
        assert!(names(&s.dst).is_empty(), "{:?}", names(&s.dst));
        facts.0 += 1;
        let err = copy(&src, &facts, &s.dst).unwrap_err();
        assert!(err.to_string().contains("changed since the last scan"), "{err}");
    }

    /// Issue 31, item 8: exported into the picks' own folder, every pick was "already there
    /// from an earlier export" (the original found itself).
    #[test]
    fn the_original_itself_is_not_an_earlier_copy() {
        let s = setup();
        let src = s.dst.join("IMG.jpg");
        let facts = original(&src, b"the photo");
        let out = copy(&src, &facts, &s.dst).unwrap();
        assert_eq!(out, CopyOutcome::Copied { target: s.dst.join("IMG-2.jpg"), bytes: 9 });
        assert_eq!(fs::read(s.dst.join("IMG-2.jpg")).unwrap(), b"the photo");
        // The copy, found by the next run, is one.
        let again = copy(&src, &facts, &s.dst).unwrap();
        assert_eq!(again, CopyOutcome::AlreadyThere { target: s.dst.join("IMG-2.jpg") });
    }

    #[test]
    fn a_missing_source_is_a_source_error() {
        let s = setup();
        let facts = (1, 1, String::new());
        let err = copy(&s.root.join("gone.jpg"), &facts, &s.dst).unwrap_err();
        assert!(matches!(err, CopyError::Source { .. }), "{err}");
    }
}
