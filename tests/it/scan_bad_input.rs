//! Bad input: each bad file gets a clear message and is skipped; nothing else is lost.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::fixtures::*;
use photosift::catalog::PhotoState;
use photosift::ingest::{ScanError, ScanSummary};

fn failure<'a>(s: &'a ScanSummary, name: &str) -> &'a str {
    s.failures
        .iter()
        .find(|f| f.path.file_name() == Some(OsStr::new(name)))
        .map(|f| f.message.as_str())
        .unwrap_or_else(|| panic!("{name} not among failures: {:?}", s.failures))
}

#[test]
fn every_bad_file_is_reported_and_the_good_ones_still_land() {
    let mut env = Env::new();
    env.write("good1.jpg", &jpeg(&pattern(600, 400, 1)));
    env.write("zero.jpg", b"");
    let full = jpeg(&pattern(800, 600, 2));
    env.write("truncated.jpg", &full[..full.len() / 2]);
    let noise: Vec<u8> =
        (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    env.write("random.jpg", &noise);
    env.write("huge.png", &png_header_only(30_000, 30_000));
    env.write("good2.png", &png(&pattern(300, 300, 3)));
    let s = env.scan();

    assert_eq!(s.new, 2, "{s:?}");
    assert_eq!(s.failed, 4, "{:?}", s.failures);
    assert!(failure(&s, "zero.jpg").contains("empty file"));
    assert!(failure(&s, "truncated.jpg").contains("truncated"), "{}", failure(&s, "truncated.jpg"));
    assert!(failure(&s, "random.jpg").contains("not a JPEG, PNG"), "{}", failure(&s, "random.jpg"));
    let huge = failure(&s, "huge.png");
    assert!(huge.contains("30000x30000") && huge.contains("max_pixels"), "{huge}");

    // Failed files are rows in state error with their reason, listed by status --errors.
    let failed = env.catalog.failed_photos().unwrap();
    assert_eq!(failed.len(), 4);
    assert!(failed.iter().all(|p| p.state == PhotoState::Error && p.error.is_some()));
    let c = env.catalog.photo_counts().unwrap();
    assert_eq!((c.ok, c.error), (2, 4));

    // A later scan retries them (a fixed file is picked up) and keeps the good ones.
    env.write("truncated.jpg", &full);
    let s = env.scan();
    assert_eq!((s.changed, s.failed, s.unchanged), (1, 3, 2), "{s:?}");
}

#[test]
fn huge_png_is_refused_from_its_header_quickly() {
    let mut env = Env::new();
    env.cfg.max_pixels = 100_000_000;
    env.write("huge.png", &png_header_only(30_000, 30_000));
    let started = std::time::Instant::now();
    let s = env.scan();
    assert!(failure(&s, "huge.png").contains("above the limit of 100 MP"));
    // Allocating and inflating 2.7 GB would take far longer than this generous bound.
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn non_utf8_file_name_round_trips() {
    let mut env = Env::new();
    let name = OsStr::from_bytes(b"caf\xe9 \xff.jpg");
    let path = env.photos.join(name);
    std::fs::write(&path, jpeg(&pattern(300, 200, 4))).unwrap();
    let s = env.scan();
    assert_eq!((s.new, s.failed), (1, 0), "{s:?}");
    let stored = &env.catalog.photos().unwrap()[0].path;
    assert_eq!(stored.file_name().unwrap().as_bytes(), b"caf\xe9 \xff.jpg");
    assert!(stored.exists());
    assert_eq!(env.scan().unchanged, 1);
}

#[test]
fn symlink_loop_is_reported_not_followed() {
    let mut env = Env::new();
    env.write("sub/a.jpg", &jpeg(&pattern(300, 200, 5)));
    std::os::unix::fs::symlink("..", env.photos.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink("nowhere.jpg", env.photos.join("dangling.jpg")).unwrap();
    let s = env.scan();
    assert_eq!(s.new, 1, "{s:?}");
    assert!(s.walk_issues.iter().any(|i| i.message.contains("loop")), "{:?}", s.walk_issues);
}

#[test]
fn unreadable_file_is_a_failure_unless_running_as_root() {
    let mut env = Env::new();
    let path = env.write("locked.jpg", &jpeg(&pattern(300, 200, 6)));
    env.write("open.jpg", &jpeg(&pattern(300, 200, 7)));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    // root (as in CI containers) reads through chmod 000: then the file is simply read.
    let readable = std::fs::read(&path).is_ok();
    let s = env.scan();
    if readable {
        assert_eq!((s.new, s.failed), (2, 0), "{s:?}");
    } else {
        assert_eq!((s.new, s.failed), (1, 1), "{s:?}");
        assert!(failure(&s, "locked.jpg").contains("ermission denied"));
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn unsupported_formats_are_counted_and_broken_heic_and_raw_fail_with_a_reason() {
    let mut env = Env::new();
    env.write("a.HEIC", b"....ftypheic");
    env.write("b.nef", b"raw");
    env.write("c.cr3", b"raw");
    env.write("notes.txt", b"hello");
    env.write("d.jpg", &jpeg(&pattern(100, 100, 8)));
    let s = env.scan();
    assert_eq!((s.new, s.unsupported, s.failed), (1, 1, 2), "{s:?}");
    assert_eq!(s.unsupported_by_ext.get("cr3"), Some(&1));
    assert!(failure(&s, "a.HEIC").contains("not a JPEG, PNG, WebP, TIFF, HEIC/HEIF or RAW"));
    assert!(failure(&s, "b.nef").contains("not a JPEG"));
    let ok = env.catalog.photos().unwrap().into_iter().filter(|p| p.thumb_path.is_some());
    assert_eq!(ok.count(), 1);
}

#[test]
fn nonexistent_folder_is_an_error() {
    let mut env = Env::new();
    let roots = [env.dir.path().join("no-such-folder")];
    let err = photosift::ingest::scan(&mut env.catalog, &env.library, &roots, &env.cfg, &|_| {})
        .unwrap_err();
    assert!(matches!(err, ScanError::NoSuchFolder { .. }), "{err}");
}

#[test]
fn cli_exits_with_a_message_for_a_missing_folder_and_lists_errors() {
    let env = Env::new();
    env.write("ok.jpg", &jpeg(&pattern(300, 200, 9)));
    env.write("zero.jpg", b"");
    let bin = env!("CARGO_BIN_EXE_photosift");
    let lib = env.library.root();
    let out = Command::new(bin)
        .arg("--library")
        .arg(lib)
        .args(["scan", "/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error, before anything is created");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/definitely/not/here does not exist"), "{err}");

    let out =
        Command::new(bin).arg("--library").arg(lib).arg("scan").arg(&env.photos).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("new 1") && text.contains("failed 1"), "{text}");

    let out =
        Command::new(bin).arg("--library").arg(lib).args(["status", "--errors"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("zero.jpg: empty file"), "{text}");
    assert!(text.contains("2 (1 ok, 0 missing, 1 failed"), "{text}");
}
