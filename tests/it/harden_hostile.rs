//! The hostile input corpus through a real scan (library and CLI): each bad file gets a clear
//! message and is skipped, no panic, nothing else lost, memory bounded, no FIFO blocks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use photosift::catalog::PhotoState;
use photosift::config::Config;
use photosift::imaging::ThumbError;
use photosift::imaging::thumbnail::read_photo_file;
use photosift::ingest::{self, ScanSummary};
use photosift::library::Library;

use crate::hostile;
use crate::hostile::{Case, Expect};

fn reported(s: &ScanSummary, path: &Path) -> Option<String> {
    let f = s.failures.iter().find(|f| f.path == path).map(|f| f.message.clone());
    f.or_else(|| {
        s.walk_issues.iter().find(|i| path.starts_with(&i.path)).map(|i| i.message.clone())
    })
}

fn check(s: &ScanSummary, root: &Path, cases: &[Case], ok_paths: &[PathBuf]) {
    for case in cases {
        let path = root.join(&case.rel);
        let is_ok = ok_paths.contains(&path);
        let msg = reported(s, &path);
        match &case.expect {
            Expect::Ok => assert!(is_ok, "{:?} not ingested ({msg:?})", case.rel),
            Expect::Fails(text) => {
                let m = s.failures.iter().find(|f| f.path == path).map(|f| &f.message);
                let m = m.unwrap_or_else(|| panic!("{:?} not a failure; {s:?}", case.rel));
                assert!(m.contains(text) && m.len() > 10, "{:?}: {m}", case.rel);
                assert!(!is_ok);
            }
            Expect::WalkIssue(text) => {
                let m = msg.unwrap_or_else(|| panic!("{:?} not reported", case.rel));
                assert!(m.contains(text), "{:?}: {m}", case.rel);
                assert!(!is_ok);
            }
            Expect::OkOrReported => assert!(is_ok || msg.is_some(), "{:?} lost silently", case.rel),
        }
    }
}

#[test]
fn hostile_corpus_is_skipped_with_messages_and_the_good_photos_land() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    let cases = hostile::generate(&root);
    let root = std::fs::canonicalize(&root).unwrap();
    let library = Library::create(dir.path().join("library")).unwrap();
    let mut catalog = library.open_catalog().unwrap();
    let cfg = Config::default().scan;
    let started = Instant::now();
    let s =
        ingest::scan(&mut catalog, &library, std::slice::from_ref(&root), &cfg, &|_| {}).unwrap();
    assert!(started.elapsed() < Duration::from_secs(120), "scan took {:?}", started.elapsed());
    let ok: Vec<PathBuf> = catalog
        .photos()
        .unwrap()
        .into_iter()
        .filter(|p| p.state == PhotoState::Ok)
        .map(|p| p.path)
        .collect();
    check(&s, &root, &cases, &ok);
    // Every ingested photo has a readable thumbnail.
    for p in catalog.photos().unwrap().iter().filter(|p| p.state == PhotoState::Ok) {
        let thumb = library.root().join(p.thumb_path.as_ref().unwrap());
        let img = image::open(&thumb).unwrap();
        assert!(img.width().max(img.height()) <= 512);
    }

    // A second scan changes nothing and still does not block on the FIFO.
    let again = ingest::scan(&mut catalog, &library, &[root], &cfg, &|_| {}).unwrap();
    assert_eq!(again.new, 0, "{again:?}");
    assert_eq!(again.unchanged, ok.len() as u64);
}

#[test]
fn cli_scan_of_the_corpus_succeeds_lists_errors_and_stays_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    let cases = hostile::generate(&root);
    let bin = env!("CARGO_BIN_EXE_photosift");
    let lib = dir.path().join("library");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let out = Command::new(bin)
        .arg("--library")
        .arg(&lib)
        .arg("--config")
        .arg(&config)
        .args(["scan", "--no-embed"])
        .arg(&root)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let failing = cases.iter().filter(|c| matches!(c.expect, Expect::Fails(_))).count();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("failed {failing}")), "{text}");

    // Peak memory of the scan (largest child so far; the other CLI tests' children are
    // scans and sessions too, far below this bound).
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let peak_mb = usage.ru_maxrss / 1024;
    assert!(peak_mb < 1024, "peak RSS {peak_mb} MB");
    eprintln!("hostile corpus CLI scan: peak RSS of child processes {peak_mb} MB");

    let out = Command::new(bin)
        .arg("--library")
        .arg(&lib)
        .arg("--config")
        .arg(&config)
        .args(["status", "--errors"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("status --errors on the hostile corpus:\n{text}");
    assert!(text.contains("empty file") && text.contains("max_pixels"), "{text}");
}

#[test]
fn a_fifo_is_refused_on_open_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("swapped.jpg");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let cfg = Config::default().scan;
    // As if the walk had seen a regular file there that was swapped for a FIFO since.
    let err = read_photo_file(&fifo, Some(1000), &cfg).unwrap_err();
    assert!(matches!(err, ThumbError::NotRegularFile), "{err}");
    let err = read_photo_file(Path::new("/dev/zero"), None, &cfg).unwrap_err();
    assert!(matches!(err, ThumbError::NotRegularFile), "{err}");
}

#[test]
fn a_file_that_changes_size_is_reported_and_read_boundedly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.jpg");
    std::fs::write(&path, vec![7u8; 10_000]).unwrap();
    let cfg = Config::default().scan;
    let err = read_photo_file(&path, Some(4_000), &cfg).unwrap_err();
    match err {
        // Read one byte past what the walk saw, no more.
        ThumbError::ChangedWhileRead { expected: 4_000, found: 4_001 } => {}
        other => panic!("{other}"),
    }
    assert!(err_text(read_photo_file(&path, Some(20_000), &cfg)).contains("changed while"));
    assert_eq!(read_photo_file(&path, Some(10_000), &cfg).unwrap().len(), 10_000);
}

fn err_text<T>(r: Result<T, ThumbError>) -> String {
    r.err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn a_file_growing_during_the_scan_neither_hangs_it_nor_costs_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("photos");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..6u8 {
        std::fs::write(
            root.join(format!("p{i}.jpg")),
            hostile::jpeg(&hostile::picture(400, 300, i)),
        )
        .unwrap();
    }
    let growing = root.join("a-growing.jpg");
    std::fs::write(&growing, hostile::jpeg(&hostile::picture(400, 300, 99))).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, growing) = (stop.clone(), growing.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&growing).unwrap();
            let chunk = vec![0u8; 64 << 10];
            // At most 128 MB, written as fast as it goes, while the scan runs.
            for _ in 0..2048 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                f.write_all(&chunk).unwrap();
            }
        })
    };
    let library = Library::create(dir.path().join("library")).unwrap();
    let mut catalog = library.open_catalog().unwrap();
    let cfg = Config::default().scan;
    let s = ingest::scan(&mut catalog, &library, &[root], &cfg, &|_| {}).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let ok = catalog.photos().unwrap().iter().filter(|p| p.state == PhotoState::Ok).count();
    assert!(ok >= 6, "{s:?}");
    // The growing file: read whole at some instant (ingested), or caught changing.
    if let Some(f) = s.failures.iter().find(|f| f.path.ends_with("a-growing.jpg")) {
        assert!(f.message.contains("changed while") || f.message.contains("JPEG"), "{}", f.message);
    }
}
