//! The export manifest, `.photosift-export` in a folder photosift exported into: the files it
//! wrote there with their content hashes — its own lists and contact sheets (the only files it
//! ever replaces or removes) and the photos it copied (never replaced or removed). Export
//! reads and writes it (`export::dest`); a scan reads it to skip exactly the files listed, so
//! the copies never come back as duplicates and the folder's other photos are still found.
//!
//! Format, one entry a line after the header: `HASH HEXNAME` for photosift's own files,
//! `copy HASH HEXNAME` for a copied photo (HEXNAME: the file name's bytes in hex). Version 1
//! listed only the own files, so a folder with a v1 manifest cannot tell copies from photos:
//! scans skip it whole, as they did, until an export rewrites it as v2.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The manifest's file name in an export folder.
pub const FILE_NAME: &str = ".photosift-export";
const HEADER_V1: &str = "photosift export manifest v1";
const HEADER_V2: &str = "photosift export manifest v2";
/// A manifest is a few lines per exported file; 16 MB is far beyond any real one.
const MAX_BYTES: u64 = 16 << 20;

/// What photosift wrote into one export folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// photosift's own files (`picks.csv`, contact sheets): name -> the hashes it wrote under
    /// it (two while one replaces the other).
    pub own: BTreeMap<OsString, Vec<String>>,
    /// Photos copied into the folder: name -> content hash.
    pub copies: BTreeMap<OsString, String>,
    /// Read from a version 1 manifest, which did not list the copies.
    pub legacy: bool,
}

impl Manifest {
    /// Parses a manifest; `None` when `text` is not one (then it proves nothing).
    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let legacy = match lines.next()? {
            HEADER_V1 => true,
            HEADER_V2 => false,
            _ => return None,
        };
        let mut m = Manifest { legacy, ..Manifest::default() };
        for line in lines {
            let (copy, line) = match line.strip_prefix("copy ") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            // A torn last line (a power cut while appending) is skipped.
            let Some((hash, hex)) = line.split_once(' ') else { continue };
            let Some(name) = unhex(hex) else { continue };
            let name = OsString::from_vec(name);
            if copy {
                m.copies.insert(name, hash.to_owned());
            } else {
                m.own.entry(name).or_default().push(hash.to_owned());
            }
        }
        Some(m)
    }

    /// The manifest as written (always the current version).
    pub fn render(&self) -> String {
        let mut text = String::from(HEADER_V2);
        text.push('\n');
        for (name, hashes) in &self.own {
            for hash in hashes {
                text.push_str(&format!("{hash} {}\n", hex(name.as_bytes())));
            }
        }
        for (name, hash) in &self.copies {
            text.push_str(&format!("copy {hash} {}\n", hex(name.as_bytes())));
        }
        text
    }

    /// Whether `name` is a file photosift wrote into the folder (a scan skips it).
    pub fn lists(&self, name: &OsStr) -> bool {
        self.own.contains_key(name) || self.copies.contains_key(name)
    }

    /// The manifest of `folder`: `None` when it has none (or a file by that name that is not
    /// one, or not a regular file: never followed through a link).
    pub fn read(folder: &Path) -> io::Result<Option<Manifest>> {
        let mut f = match open_regular(&folder.join(FILE_NAME)) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        (&mut f).take(MAX_BYTES).read_to_string(&mut text)?;
        Ok(Manifest::parse(&text))
    }
}

/// Opens `path` for reading without following a link or blocking on a FIFO; `None` when it
/// is not a regular file.
pub fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let f = match f {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(if f.metadata()?.is_file() { Some(f) } else { None })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_own_files_round_trip_and_v1_is_legacy() {
        let mut m = Manifest::default();
        m.own.insert("picks.csv".into(), vec!["aa".into(), "bb".into()]);
        m.copies.insert(OsStr::from_bytes(b"odd \xff\n.jpg").to_owned(), "cc".into());
        let back = Manifest::parse(&m.render()).unwrap();
        assert_eq!(back, m);
        assert!(
            back.lists(OsStr::from_bytes(b"odd \xff\n.jpg")) && back.lists("picks.csv".as_ref())
        );
        assert!(!back.lists("IMG_0001.jpg".as_ref()));
        let v1 = Manifest::parse("photosift export manifest v1\naa 7069636b732e637376\n").unwrap();
        assert!(v1.legacy && v1.lists("picks.csv".as_ref()));
        assert!(Manifest::parse("my shopping list\n").is_none());
    }
}
