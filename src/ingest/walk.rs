//! Walking the folders of a scan: which files are photos, videos, sidecars, which are photos
//! we cannot read (some RAW formats), and what could not be walked (symlink loops, unreadable
//! folders).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::export_manifest::Manifest;
use crate::files::{CONTACT_SHEET_STEM, mtime_ns};

/// Extensions of the formats a scan decodes (RAW ones through their embedded JPEG preview).
pub const SUPPORTED_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "jfif", "png", "webp", "tif", "tiff", "heic", "heif", "hif", "avif",
    "dng", "cr2", "nef", "nrw", "arw", "srf", "sr2", "pef", "srw", "orf", "rw2", "raf",
];

/// Photo formats recognized but not read: counted and reported at the end of a scan.
pub const UNSUPPORTED_EXTENSIONS: &[&str] = &["cr3", "crw", "x3f", "3fr", "iiq", "mrw", "erf"];

/// Video files: counted as videos (a Live Photo's video is noted on its photo).
pub const VIDEO_EXTENSIONS: &[&str] =
    &["mov", "mp4", "m4v", "3gp", "3g2", "avi", "mkv", "webm", "mts", "m2ts", "mpg", "mpeg"];

/// What a file is to a scan, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    Photo,
    /// A photo format photosift does not read; the lower-case extension.
    Unsupported(String),
    Video,
    /// A JSON file (Google Takeout writes one beside each photo).
    Sidecar,
    /// Anything else (documents, thumbnails databases): ignored.
    Other,
}

pub fn classify(path: &Path) -> FileKind {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else { return FileKind::Other };
    let ext = ext.to_ascii_lowercase();
    if SUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
        FileKind::Photo
    } else if UNSUPPORTED_EXTENSIONS.contains(&ext.as_str()) {
        FileKind::Unsupported(ext)
    } else if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        FileKind::Video
    } else if ext == "json" {
        FileKind::Sidecar
    } else {
        FileKind::Other
    }
}

/// A photo file found by the walk, with the facts the incremental check compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    pub path: PathBuf,
    pub byte_size: u64,
    pub mtime_ns: i64,
}

/// Something the walk could not go into or look at; the scan goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkIssue {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub photos: Vec<FoundFile>,
    /// Unsupported photo files per extension.
    pub unsupported: BTreeMap<String, u64>,
    pub unsupported_files: Vec<PathBuf>,
    pub issues: Vec<WalkIssue>,
    pub videos: Vec<FoundFile>,
    /// JSON files (candidate Takeout sidecars).
    pub sidecars: Vec<PathBuf>,
    /// Files that are neither photos, videos nor sidecars.
    pub ignored: u64,
}

/// Walks `roots` recursively. Symbolic links are followed, except into a folder that
/// contains them (a loop), which is reported and skipped. Hidden entries (name starting with
/// a dot) are skipped unless `include_hidden`; so is photosift's own output (see
/// [`is_photosifts_own`]; `skip` holds the real paths of the library's thumbnail, seed image
/// and model folders, so thumbnails never become photos). `progress` gets the number of entries seen so far.
pub fn walk(
    roots: &[PathBuf],
    include_hidden: bool,
    skip: &[PathBuf],
    progress: &mut dyn FnMut(u64),
) -> WalkResult {
    let mut out = WalkResult::default();
    let mut seen = 0u64;
    // Each folder's export manifest, read once.
    let mut manifests: HashMap<PathBuf, Option<Manifest>> = HashMap::new();
    for root in roots {
        // The folder open at each depth: an error reading a folder's entries names no path
        // (a /proc link's `map_files`), so it is reported on the folder.
        let mut folders: Vec<PathBuf> = Vec::new();
        let entries =
            WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter().filter_entry(
                |e| {
                    (e.depth() == 0 || include_hidden || !is_hidden(e.file_name()))
                        && !is_photosifts_own(e, skip, &mut manifests)
                },
            );
        for entry in entries {
            seen += 1;
            if seen.is_multiple_of(1024) {
                progress(seen);
            }
            let entry = match entry {
                Ok(entry) => entry,
                Err(err) => {
                    let mut issue = walk_issue(&err);
                    if issue.path.as_os_str().is_empty() {
                        let folder = err.depth().checked_sub(1).and_then(|d| folders.get(d));
                        issue.path = folder.cloned().unwrap_or_else(|| root.clone());
                        issue.message = format!("some entries cannot be listed: {}", issue.message);
                    }
                    out.issues.push(issue);
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                folders.truncate(entry.depth());
                folders.push(entry.path().to_path_buf());
            }
            if !entry.file_type().is_file() {
                // A FIFO, socket or device named like a photo is never opened: say so.
                if !entry.file_type().is_dir() && classify(entry.path()) == FileKind::Photo {
                    out.issues.push(WalkIssue {
                        path: entry.path().to_path_buf(),
                        message: "not a regular file (a FIFO, socket or device named like a \
                                  photo): skipped"
                            .to_owned(),
                    });
                }
                continue;
            }
            let path = entry.path();
            match classify(path) {
                FileKind::Other => out.ignored += 1,
                FileKind::Unsupported(ext) => {
                    *out.unsupported.entry(ext).or_default() += 1;
                    out.unsupported_files.push(path.to_path_buf());
                }
                FileKind::Sidecar => out.sidecars.push(path.to_path_buf()),
                kind @ (FileKind::Photo | FileKind::Video) => match entry.metadata() {
                    Ok(meta) => {
                        let found = FoundFile {
                            path: path.to_path_buf(),
                            byte_size: meta.len(),
                            mtime_ns: mtime_ns(&meta),
                        };
                        match kind {
                            FileKind::Photo => out.photos.push(found),
                            _ => out.videos.push(found),
                        }
                    }
                    Err(err) => out.issues.push(walk_issue(&err)),
                },
            }
        }
    }
    progress(seen);
    out
}

/// What a walk never takes for photos: a folder inside `skip` by its real path (the library's
/// own folders, also reached through a link), the files an export wrote (its manifest lists
/// them; the folder's other files are photos like any others), and the contact sheets export
/// draws. A folder with a version 1 manifest, which does not list the copies, is skipped whole
/// (a scan root itself is still walked).
fn is_photosifts_own(
    entry: &walkdir::DirEntry,
    skip: &[PathBuf],
    manifests: &mut HashMap<PathBuf, Option<Manifest>>,
) -> bool {
    let mut manifest_of = |folder: &Path| -> Option<Manifest> {
        manifests
            .entry(folder.to_path_buf())
            .or_insert_with(|| Manifest::read(folder).ok().flatten())
            .clone()
    };
    if entry.file_type().is_dir() {
        if entry.depth() > 0 && manifest_of(entry.path()).is_some_and(|m| m.legacy) {
            return true;
        }
        return std::fs::canonicalize(entry.path())
            .is_ok_and(|real| skip.iter().any(|s| real.starts_with(s)));
    }
    let name = entry.file_name().to_string_lossy();
    if name.starts_with(CONTACT_SHEET_STEM) && name.ends_with(".png") {
        return true;
    }
    entry
        .path()
        .parent()
        .and_then(&mut manifest_of)
        .is_some_and(|m| !m.legacy && m.lists(entry.file_name()))
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().first() == Some(&b'.')
}

fn walk_issue(err: &walkdir::Error) -> WalkIssue {
    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
    let message = if let Some(ancestor) = err.loop_ancestor() {
        format!("symbolic link loop back to {}: not followed", crate::show::path(ancestor))
    } else if let Some(io) = err.io_error() {
        match io.kind() {
            std::io::ErrorKind::NotFound => "broken symbolic link or vanished file".to_owned(),
            std::io::ErrorKind::PermissionDenied => "permission denied: skipped".to_owned(),
            _ => io.to_string(),
        }
    } else {
        err.to_string()
    };
    WalkIssue { path, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_classify_case_insensitively() {
        assert_eq!(classify(Path::new("a/IMG_1.JPG")), FileKind::Photo);
        assert_eq!(classify(Path::new("a/b.webp")), FileKind::Photo);
        assert_eq!(classify(Path::new("a/b.HEIC")), FileKind::Photo);
        assert_eq!(classify(Path::new("a/b.dng")), FileKind::Photo);
        assert_eq!(classify(Path::new("a/b.cr3")), FileKind::Unsupported("cr3".into()));
        assert_eq!(classify(Path::new("a/b.mp4")), FileKind::Video);
        assert_eq!(classify(Path::new("a/IMG_1.MOV")), FileKind::Video);
        assert_eq!(classify(Path::new("a/b.jpg.json")), FileKind::Sidecar);
        assert_eq!(classify(Path::new("a/README")), FileKind::Other);
    }

    #[test]
    fn hidden_folders_are_skipped_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".cache")).unwrap();
        std::fs::write(dir.path().join(".cache/a.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("b.jpg"), b"x").unwrap();
        let roots = [dir.path().to_path_buf()];
        let found = walk(&roots, false, &[], &mut |_| {});
        assert_eq!(found.photos.len(), 1);
        let found = walk(&roots, true, &[], &mut |_| {});
        assert_eq!(found.photos.len(), 2);
    }
}
