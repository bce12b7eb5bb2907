//! Copying one original into the export folder: byte-identical, mtime kept, never overwriting
//! anything, and recognizing a copy made by an earlier run so that exports resume.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyOutcome {
    /// Copied to `target` (a new file).
    Copied { target: PathBuf, bytes: u64 },
    /// `target` already holds the same bytes: exported by an earlier run.
    AlreadyThere { target: PathBuf },
}

impl CopyOutcome {
    pub fn target(&self) -> &Path {
        match self {
            CopyOutcome::Copied { target, .. } | CopyOutcome::AlreadyThere { target } => target,
        }
    }
}

/// Which side failed: a source error skips one photo, a destination error stops the export
/// (a full disk or a read-only folder would fail every other photo the same way).
#[derive(Debug, Error)]
pub enum CopyError {
    #[error("cannot read {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Destination { path: PathBuf, source: io::Error },
}

/// The name `name` gets when taken: `IMG_0001.jpg` -> `IMG_0001-2.jpg`, `-3`, ...
pub fn numbered_name(name: &OsStr, n: u32) -> OsString {
    if n <= 1 {
        return name.to_owned();
    }
    let path = Path::new(name);
    let mut out = path.file_stem().unwrap_or(name).to_owned();
    out.push(format!("-{n}"));
    if let Some(ext) = path.extension() {
        out.push(".");
        out.push(ext);
    }
    out
}

/// Copies `source` into `dest_dir` under its own file name, or the first numbered variant of
/// it that is free or already holds the same bytes. Names for which `reserved` is true are
/// never used (photosift's own files in the folder). `source` is only ever read.
pub fn copy_into(
    source: &Path,
    dest_dir: &Path,
    reserved: &dyn Fn(&OsStr) -> bool,
) -> Result<CopyOutcome, CopyError> {
    let src_err = |source_err| CopyError::Source { path: source.to_path_buf(), source: source_err };
    let name = source.file_name().ok_or_else(|| {
        src_err(io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"))
    })?;
    let meta = fs::metadata(source).map_err(src_err)?;
    if !meta.is_file() {
        return Err(src_err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    let mut staged: Option<PathBuf> = None;
    let result = (|| {
        let mut n = 0;
        loop {
            n += 1;
            let candidate = numbered_name(name, n);
            if reserved(&candidate) {
                continue;
            }
            let target = dest_dir.join(&candidate);
            match fs::symlink_metadata(&target) {
                Ok(existing) => {
                    if existing.is_file()
                        && existing.len() == meta.len()
                        && same_bytes(source, &target)?
                    {
                        return Ok(CopyOutcome::AlreadyThere { target });
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(CopyError::Destination { path: target, source: e }),
            }
            // Stage the bytes once, then give the staged file the first free name.
            let partial = match &staged {
                Some(p) => p.clone(),
                None => {
                    let p = stage_copy(source, dest_dir, name, &meta)?;
                    staged = Some(p.clone());
                    p
                }
            };
            if publish_no_clobber(&partial, &target)
                .map_err(|e| CopyError::Destination { path: target.clone(), source: e })?
            {
                staged = None;
                return Ok(CopyOutcome::Copied { target, bytes: meta.len() });
            }
            // Someone else took the name between the check and the link: try the next one.
        }
    })();
    if let Some(partial) = staged {
        // Best effort: a leftover partial file is cleaned up by the next run's stage_copy.
        let _ = fs::remove_file(partial);
    }
    result
}

/// Copies the bytes to a hidden partial file in `dest_dir`, flushed to disk, with the
/// source's modification and access times.
fn stage_copy(
    source: &Path,
    dest_dir: &Path,
    name: &OsStr,
    meta: &fs::Metadata,
) -> Result<PathBuf, CopyError> {
    let src_err = |e| CopyError::Source { path: source.to_path_buf(), source: e };
    let mut partial_name = OsString::from(".");
    partial_name.push(name);
    partial_name.push(".photosift-partial");
    let partial = dest_dir.join(partial_name);
    let dst_err = |e| CopyError::Destination { path: partial.clone(), source: e };
    let mut input = File::open(source).map_err(src_err)?;
    let mut output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&partial)
        .map_err(dst_err)?;
    let copied = copy_reporting_side(&mut input, &mut output, source, &partial)?;
    if copied != meta.len() {
        let _ = fs::remove_file(&partial);
        return Err(src_err(io::Error::other(format!(
            "the file changed while it was copied ({copied} bytes read, {} expected)",
            meta.len()
        ))));
    }
    let mut times = FileTimes::new();
    if let Ok(modified) = meta.modified() {
        times = times.set_modified(modified);
    }
    if let Ok(accessed) = meta.accessed() {
        times = times.set_accessed(accessed);
    }
    output.set_times(times).map_err(dst_err)?;
    output.sync_all().map_err(dst_err)?;
    Ok(partial)
}

/// `io::copy`, telling a read failure (source) from a write failure (destination).
fn copy_reporting_side(
    input: &mut File,
    output: &mut File,
    source: &Path,
    dest: &Path,
) -> Result<u64, CopyError> {
    use std::io::Write;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Source { path: source.to_path_buf(), source: e }),
        };
        output
            .write_all(&buf[..n])
            .map_err(|e| CopyError::Destination { path: dest.to_path_buf(), source: e })?;
        total += n as u64;
    }
}

/// Gives `partial` the name `target` unless `target` exists; `Ok(false)` when it does.
/// A hard link is atomic and never replaces; file systems without links (FAT on a USB stick,
/// common for a print shop) fall back to check-then-rename.
fn publish_no_clobber(partial: &Path, target: &Path) -> io::Result<bool> {
    match fs::hard_link(partial, target) {
        Ok(()) => {
            fs::remove_file(partial)?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(_) => {
            if fs::symlink_metadata(target).is_ok() {
                return Ok(false);
            }
            fs::rename(partial, target)?;
            Ok(true)
        }
    }
}

/// Compares two files' contents; reading errors on `a` are the source's, on `b` the
/// destination's.
fn same_bytes(a: &Path, b: &Path) -> Result<bool, CopyError> {
    let src_err = |e| CopyError::Source { path: a.to_path_buf(), source: e };
    let dst_err = |e| CopyError::Destination { path: b.to_path_buf(), source: e };
    let mut fa = File::open(a).map_err(src_err)?;
    let mut fb = File::open(b).map_err(dst_err)?;
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let na = read_full(&mut fa, &mut ba).map_err(src_err)?;
        let nb = read_full(&mut fb, &mut bb).map_err(dst_err)?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &OsStr) -> bool {
        false
    }

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered_name(OsStr::new("IMG_0001.jpg"), 1), "IMG_0001.jpg");
        assert_eq!(numbered_name(OsStr::new("IMG_0001.jpg"), 2), "IMG_0001-2.jpg");
        assert_eq!(numbered_name(OsStr::new("a.b.tar"), 3), "a.b-3.tar");
        assert_eq!(numbered_name(OsStr::new("README"), 2), "README-2");
    }

    #[test]
    fn copy_is_identical_keeps_mtime_and_leaves_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let (src_dir, dst) = (dir.path().join("src"), dir.path().join("dst"));
        fs::create_dir_all(&src_dir).unwrap();
        fs::create_dir_all(&dst).unwrap();
        let src = src_dir.join("IMG_0001.jpg");
        fs::write(&src, b"photo bytes").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
        File::options().write(true).open(&src).unwrap().set_modified(old).unwrap();
        let out = copy_into(&src, &dst, &none).unwrap();
        assert_eq!(out, CopyOutcome::Copied { target: dst.join("IMG_0001.jpg"), bytes: 11 });
        assert_eq!(fs::read(dst.join("IMG_0001.jpg")).unwrap(), b"photo bytes");
        assert_eq!(fs::metadata(dst.join("IMG_0001.jpg")).unwrap().modified().unwrap(), old);
        assert_eq!(fs::read_dir(&dst).unwrap().count(), 1);
    }

    #[test]
    fn same_name_other_bytes_gets_a_number_and_same_bytes_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        fs::create_dir_all(&dst).unwrap();
        for sub in ["a", "b"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let (a, b) = (dir.path().join("a/IMG.jpg"), dir.path().join("b/IMG.jpg"));
        fs::write(&a, b"aaaa").unwrap();
        fs::write(&b, b"bbbb").unwrap();
        copy_into(&a, &dst, &none).unwrap();
        let out = copy_into(&b, &dst, &none).unwrap();
        assert_eq!(out.target(), dst.join("IMG-2.jpg"));
        assert_eq!(fs::read(dst.join("IMG.jpg")).unwrap(), b"aaaa");
        // Again, in the other order: both are recognized, nothing new is written.
        assert_eq!(
            copy_into(&b, &dst, &none).unwrap(),
            CopyOutcome::AlreadyThere { target: dst.join("IMG-2.jpg") }
        );
        assert_eq!(
            copy_into(&a, &dst, &none).unwrap(),
            CopyOutcome::AlreadyThere { target: dst.join("IMG.jpg") }
        );
        assert_eq!(fs::read_dir(&dst).unwrap().count(), 2);
    }

    #[test]
    fn reserved_names_are_skipped_and_a_stale_partial_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("dst");
        fs::create_dir_all(&dst).unwrap();
        let src = dir.path().join("picks.csv");
        fs::write(&src, b"not ours").unwrap();
        fs::write(dst.join(".picks.csv.photosift-partial"), b"stale junk, longer").unwrap();
        let reserved = |n: &OsStr| n == "picks.csv";
        let out = copy_into(&src, &dst, &reserved).unwrap();
        assert_eq!(out.target(), dst.join("picks-2.csv"));
        assert!(!dst.join(".picks.csv.photosift-partial").exists());
    }

    #[test]
    fn a_missing_source_is_a_source_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = copy_into(&dir.path().join("gone.jpg"), dir.path(), &none).unwrap_err();
        assert!(matches!(err, CopyError::Source { .. }), "{err}");
    }
}
