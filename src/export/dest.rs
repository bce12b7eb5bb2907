//! The export folder as photosift touches it: a lock held for the whole export, the manifest
//! of the files photosift wrote there (only those are ever replaced or removed), staging
//! files created exclusively under unpredictable names, and publishing that never follows a
//! link or replaces a name photosift cannot prove it wrote.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The manifest: which files of this folder photosift wrote, with their content hashes (see
/// `export_manifest`); scans skip exactly those files.
pub use crate::export_manifest::FILE_NAME as MANIFEST_NAME;
use crate::export_manifest::Manifest;
pub use crate::export_manifest::open_regular;
/// Held (flock) for the whole export, so two exports to one folder take turns.
const LOCK_NAME: &str = ".photosift-export.lock";
/// Staging files: `.photosift-partial-` and random characters, created with O_EXCL.
const STAGING_PREFIX: &str = ".photosift-partial-";
/// Numbered names (`IMG-2.jpg`, ...) tried before a file is reported as having no free name.
pub const MAX_NAME_TRIES: u32 = 10_000;

/// Whether a photo may take `name`: never photosift's bookkeeping names.
pub fn is_reserved(name: &OsStr) -> bool {
    name == MANIFEST_NAME
        || name == LOCK_NAME
        || name.as_bytes().starts_with(STAGING_PREFIX.as_bytes())
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

/// An export folder, locked while this value lives.
#[derive(Debug)]
pub struct DestDir {
    path: PathBuf,
    _lock: File,
    /// What photosift wrote here: its own files (blake3 hashes per name, two while one is
    /// replaced) and the photos it copied.
    manifest: Manifest,
}

impl DestDir {
    /// Locks `path` (an existing folder), waiting for another export to it to finish
    /// (`on_wait` is called first), loads the manifest and removes staging files that a
    /// killed export left behind.
    pub fn open(path: &Path, on_wait: &mut dyn FnMut()) -> io::Result<Self> {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path.join(LOCK_NAME))
            .map_err(|e| context(e, &path.join(LOCK_NAME), "cannot open the export lock"))?;
        if !lock.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file: move it aside",
                path.join(LOCK_NAME).display()
            )));
        }
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            on_wait();
            loop {
                // SAFETY: as above; blocks until the other export releases the lock.
                if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } == 0 {
                    break;
                }
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
        // A file by that name that is not a manifest proves nothing: nothing is replaced.
        let manifest = Manifest::read(path)?.unwrap_or_default();
        let dest = Self { path: path.to_path_buf(), _lock: lock, manifest };
        dest.remove_stale_staging();
        Ok(dest)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Staging files are only ever made under the lock, so any found now are a killed
    /// export's. Regular files only: a link with that name is left alone.
    fn remove_stale_staging(&self) {
        let Ok(entries) = fs::read_dir(&self.path) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let ours = name.as_bytes().starts_with(STAGING_PREFIX.as_bytes());
            if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
                // Best effort: a leftover only costs space.
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// A new, empty staging file in the folder: created exclusively (never an existing file
    /// or link) under a random name, readable like a normal file.
    pub fn stage(&self) -> io::Result<NamedTempFile> {
        tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .rand_bytes(16)
            .permissions(fs::Permissions::from_mode(0o644))
            .tempfile_in(&self.path)
    }

    /// Gives `staged` the name `name` unless something (a file, a link, anything) has it;
    /// `Ok(Err(staged))` hands the file back when the name is taken.
    pub fn publish_new(
        &self,
        staged: NamedTempFile,
        name: &OsStr,
    ) -> io::Result<Result<PathBuf, NamedTempFile>> {
        let target = self.path.join(name);
        staged.as_file().sync_all()?;
        match staged.persist_noclobber(&target) {
            Ok(_) => {
                self.sync()?;
                Ok(Ok(target))
            }
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Err(e.file)),
            Err(e) => Err(e.error),
        }
    }

    /// Flushes the folder's entries (a new name survives a power cut once this returns).
    pub fn sync(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }

    /// Whether `name` holds a file photosift wrote and nobody changed since.
    fn is_ours(&self, name: &OsStr) -> bool {
        let Some(hashes) = self.manifest.own.get(name) else { return false };
        match hash_regular_file(&self.path.join(name), None) {
            Ok(Some((hash, _))) => hashes.contains(&hash),
            _ => false,
        }
    }

    /// Writes one of photosift's own files (the CSV, a contact sheet) under `base` or the
    /// first numbered variant that is free or photosift's own, never one in `taken`. A file
    /// of photosift's is replaced atomically; anything else keeps its name and contents.
    pub fn write_own(
        &mut self,
        base: &OsStr,
        bytes: &[u8],
        taken: &[OsString],
    ) -> io::Result<PathBuf> {
        let hash = blake3::hash(bytes).to_hex().to_string();
        for n in 1..=MAX_NAME_TRIES {
            let name = numbered_name(base, n);
            if is_reserved(&name) || taken.contains(&name) {
                continue;
            }
            let ours = self.is_ours(&name);
            if !ours && fs::symlink_metadata(self.path.join(&name)).is_ok() {
                continue;
            }
            let mut staged = self.stage()?;
            staged.write_all(bytes)?;
            staged.as_file().sync_all()?;
            // Recorded before it is published: a kill in between leaves a name whose file
            // matches one of the recorded hashes, so the next run still knows it.
            self.manifest.own.entry(name.clone()).or_default().push(hash.clone());
            self.save_manifest()?;
            let target = self.path.join(&name);
            if ours {
                // rename(2) replaces the name itself, never what a link points to.
                staged.persist(&target).map_err(|e| e.error)?;
                self.sync()?;
            } else if let Err(_staged) = self.publish_new(staged, &name)? {
                // Taken since the check (by someone else): forget it, try the next name.
                self.manifest.own.remove(&name);
                continue;
            }
            self.manifest.own.insert(name, vec![hash]);
            self.save_manifest()?;
            return Ok(target);
        }
        Err(no_free_name(base, &self.path))
    }

    /// Removes photosift's own files that this export did not write again (the sheets of an
    /// earlier export with more pages, a list now written under its first name); a file
    /// changed since photosift wrote it is left alone and forgotten.
    pub fn remove_stale_own(&mut self, keep: &[OsString]) -> io::Result<()> {
        let stale: Vec<OsString> =
            self.manifest.own.keys().filter(|n| !keep.contains(n)).cloned().collect();
        for name in stale {
            if self.is_ours(&name) {
                fs::remove_file(self.path.join(&name))?;
            }
            self.manifest.own.remove(&name);
        }
        self.save_manifest()?;
        self.sync()
    }

    /// Records that `name` holds the copy of a photo with content `hash` (saved with the next
    /// manifest write): scans skip it; it is never replaced or removed.
    pub fn record_copy(&mut self, name: &OsStr, hash: &str) {
        self.manifest.copies.insert(name.to_owned(), hash.to_owned());
    }

    fn save_manifest(&self) -> io::Result<()> {
        let text = self.manifest.render();
        let target = self.path.join(MANIFEST_NAME);
        if let Ok(meta) = fs::symlink_metadata(&target)
            && !meta.is_file()
        {
            return Err(io::Error::other(format!(
                "{} is not photosift's manifest (not a regular file): move it aside",
                target.display()
            )));
        }
        let mut staged = self.stage()?;
        staged.write_all(text.as_bytes())?;
        staged.as_file().sync_all()?;
        staged.persist(&target).map_err(|e| e.error)?;
        self.sync()
    }
}

fn no_free_name(base: &OsStr, dir: &Path) -> io::Error {
    io::Error::other(format!(
        "no free name for {} in {}: {MAX_NAME_TRIES} numbered names are all taken",
        Path::new(base).display(),
        dir.display()
    ))
}

fn context(e: io::Error, path: &Path, what: &str) -> io::Error {
    let why = if e.raw_os_error() == Some(libc::ELOOP) {
        "it is a symbolic link; photosift never follows links in the export folder".to_owned()
    } else {
        e.to_string()
    };
    io::Error::new(e.kind(), format!("{what} {}: {why}", path.display()))
}

/// blake3 and length of a regular file (never through a link); `None` for anything else.
/// With `limit`, reading stops one byte past it.
pub fn hash_regular_file(path: &Path, limit: Option<u64>) -> io::Result<Option<(String, u64)>> {
    let Some(f) = open_regular(path)? else { return Ok(None) };
    let mut hasher = blake3::Hasher::new();
    let n = match limit {
        Some(limit) => io::copy(&mut f.take(limit.saturating_add(1)), &mut hasher)?,
        None => io::copy(&mut { f }, &mut hasher)?,
    };
    Ok(Some((hasher.finalize().to_hex().to_string(), n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension() {
        assert_eq!(numbered_name(OsStr::new("IMG_0001.jpg"), 1), "IMG_0001.jpg");
        assert_eq!(numbered_name(OsStr::new("IMG_0001.jpg"), 2), "IMG_0001-2.jpg");
        assert_eq!(numbered_name(OsStr::new("a.b.tar"), 3), "a.b-3.tar");
        assert_eq!(numbered_name(OsStr::new("README"), 2), "README-2");
    }

    #[test]
    fn names_round_trip_through_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let name = OsStr::from_bytes(b"odd \xff name\n.csv");
        {
            let mut d = DestDir::open(dir.path(), &mut || {}).unwrap();
            d.write_own(name, b"one", &[]).unwrap();
        }
        let mut d = DestDir::open(dir.path(), &mut || {}).unwrap();
        assert!(d.is_ours(name));
        // Ours: replaced in place, not a new name.
        assert_eq!(d.write_own(name, b"two", &[]).unwrap(), dir.path().join(name));
        assert_eq!(fs::read(dir.path().join(name)).unwrap(), b"two");
    }

    #[test]
    fn a_file_changed_by_the_user_is_no_longer_ours() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DestDir::open(dir.path(), &mut || {}).unwrap();
        let first = d.write_own(OsStr::new("picks.csv"), b"ours", &[]).unwrap();
        fs::write(&first, b"edited by the user").unwrap();
        let second = d.write_own(OsStr::new("picks.csv"), b"ours again", &[]).unwrap();
        assert_eq!(second, dir.path().join("picks-2.csv"));
        assert_eq!(fs::read(&first).unwrap(), b"edited by the user");
        d.remove_stale_own(&[OsString::from("picks-2.csv")]).unwrap();
        assert_eq!(fs::read(&first).unwrap(), b"edited by the user");
    }

    #[test]
    fn a_name_search_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DestDir::open(dir.path(), &mut || {}).unwrap();
        let taken: Vec<OsString> =
            (1..=MAX_NAME_TRIES).map(|n| numbered_name(OsStr::new("x.png"), n)).collect();
        let err = d.write_own(OsStr::new("x.png"), b"x", &taken).unwrap_err();
        assert!(err.to_string().contains("no free name for x.png"), "{err}");
    }
}
