//! Faults through the real binary: a full disk (a small tmpfs where the container allows
//! mounting) during a scan and during embedding, a catalog from a newer photosift, a damaged
//! catalog, two scans at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;

use crate::hostile;
use crate::tools::Tmpfs;

struct Lib {
    dir: tempfile::TempDir,
    lib: PathBuf,
    photos: PathBuf,
    config: PathBuf,
}

impl Lib {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (lib, photos, config) =
            (dir.path().join("library"), dir.path().join("photos"), dir.path().join("c.toml"));
        std::fs::create_dir_all(&photos).unwrap();
        std::fs::write(&config, "").unwrap();
        Self { dir, lib, photos, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_photosift"))
            .arg("--library")
            .arg(&self.lib)
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap()
    }

    fn scan(&self) -> Output {
        let out = self.run(&["scan", "--no-embed", self.photos.to_str().unwrap()]);
        assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
        out
    }

    fn catalog(&self) -> PathBuf {
        self.lib.join("catalog.sqlite")
    }

    /// A "kind: yes" label on the first photo, written the way the label log stores it.
    fn label_first_photo(&self) {
        Connection::open(self.catalog())
            .unwrap()
            .execute(
                "INSERT INTO label_events (batch, photo_id, kind, value, mode, at_ms)
                 SELECT 1, id, 'kind', 1, 'cli', 1 FROM photos ORDER BY id LIMIT 1",
                [],
            )
            .unwrap();
    }

    fn add_photos(&self, from: usize, n: usize, size: (u32, u32)) {
        for i in from..from + n {
            let img = noise(size.0, size.1, i as u32);
            std::fs::write(self.photos.join(format!("IMG_{i:04}.jpg")), hostile::jpeg(&img))
                .unwrap();
        }
    }
}

/// Noisy pictures make large thumbnails (a disk fills fast).
fn noise(w: u32, h: u32, seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let v = (x.wrapping_mul(73_856_093)
            ^ y.wrapping_mul(19_349_663)
            ^ seed.wrapping_mul(83_492_791))
        .wrapping_mul(2_654_435_761);
        image::Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
    })
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn integrity(path: &Path) -> String {
    let conn = Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap()
}

fn count(path: &Path, sql: &str) -> i64 {
    Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn newer_schema_is_refused_by_every_command_and_left_untouched() {
    let l = Lib::new();
    l.add_photos(0, 2, (200, 150));
    assert!(l.scan().status.success());
    Connection::open(l.catalog()).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let before = std::fs::read(l.catalog()).unwrap();
    for args in
        [vec!["status"], vec!["scan", "--no-embed", l.photos.to_str().unwrap()], vec!["queue"]]
    {
        let out = l.run(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("schema version 99") && err.contains("upgrade photosift"), "{err}");
        assert!(err.contains("left untouched"), "{err}");
    }
    assert_eq!(std::fs::read(l.catalog()).unwrap(), before);
}

#[test]
fn damaged_catalogs_are_reported_and_never_overwritten() {
    let l = Lib::new();
    l.add_photos(0, 3, (200, 150));
    assert!(l.scan().status.success());
    // Checkpoint everything into the main file, so the damage below is the whole story.
    Connection::open(l.catalog())
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let good = std::fs::read(l.catalog()).unwrap();
    let mut garbage = vec![0u8; good.len()];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0];
    }
    let mut bad_header = good.clone();
    bad_header[..16].copy_from_slice(b"NOT SQLITE AT AL");
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", garbage),
        ("text file", b"my shopping list\n".to_vec()),
        ("bad header", bad_header),
        ("truncated to one page", good[..4096].to_vec()),
    ];
    for (what, bytes) in damaged {
        for ext in ["sqlite-wal", "sqlite-shm"] {
            let _ = std::fs::remove_file(l.catalog().with_extension(ext));
        }
        std::fs::write(l.catalog(), &bytes).unwrap();
        for args in [vec!["status"], vec!["scan", "--no-embed", l.photos.to_str().unwrap()]] {
            let out = l.run(&args);
            let err = stderr(&out);
            assert!(!out.status.success(), "{what} {args:?}: {}", stdout(&out));
            assert!(
                err.contains("damaged")
                    || err.contains("malformed")
                    || err.contains("not a database"),
                "{what}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            assert_eq!(std::fs::read(l.catalog()).unwrap(), bytes, "{what}: file changed");
        }
    }
}

#[test]
fn damage_inside_the_catalog_is_found_by_status_and_left_alone() {
    let l = Lib::new();
    l.add_photos(0, 3, (200, 150));
    assert!(l.scan().status.success());
    let ok = l.run(&["status"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("catalog checked: ok"), "{}", stdout(&ok));
    let conn = Connection::open(l.catalog()).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    // The schema's pages (page 1 and, for a schema that outgrew it, the others dbstat names)
    // intact, so the catalog opens; every table page is garbage.
    let schema_pages: Vec<usize> = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = 'sqlite_schema'")
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(0))
        .unwrap()
        .map(|p| p.unwrap() as usize)
        .collect();
    drop(conn);
    let mut bytes = std::fs::read(l.catalog()).unwrap();
    let page = 4096;
    assert!(bytes.len() > 2 * page, "a catalog of several pages");
    for (i, b) in bytes.iter_mut().enumerate() {
        if !schema_pages.contains(&(i / page + 1)) {
            *b = (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1];
        }
    }
    std::fs::write(l.catalog(), &bytes).unwrap();
    let out = l.run(&["status"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(err.contains("damaged inside") && err.contains(".recover"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(l.catalog()).unwrap(), bytes, "the damaged file was changed");
}

#[test]
fn two_scans_at_once_are_both_safe() {
    let l = Lib::new();
    l.add_photos(0, 40, (400, 300));
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_photosift"))
            .arg("--library")
            .arg(&l.lib)
            .arg("--config")
            .arg(&l.config)
            .args(["scan", "--no-embed"])
            .arg(&l.photos)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        let err = stderr(out);
        assert!(!err.contains("panicked"), "{err}");
        // Either it ran, or it was refused with a message saying why.
        assert!(out.status.success() || err.contains("another"), "{err}");
    }
    assert!(a.status.success() || b.status.success());
    eprintln!("two scans: {}\n{}\n{}\n{}", stdout(&a), stderr(&a), stdout(&b), stderr(&b));
    assert_eq!(integrity(&l.catalog()), "ok");
    let ok = count(&l.catalog(), "SELECT count(*) FROM photos WHERE state = 'ok'");
    let all = count(&l.catalog(), "SELECT count(*) FROM photos");
    assert_eq!((ok, all), (40, 40), "{}\n{}", stderr(&a), stderr(&b));
    // And a scan afterwards finds nothing to do.
    let out = l.scan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("new 0"), "{}", stdout(&out));
}

#[test]
fn a_full_disk_stops_the_scan_clearly_and_a_rerun_after_freeing_space_continues() {
    let l = Lib::new();
    let Some(disk) = Tmpfs::mount(&l.lib, "1500k", "disk-full test") else {
        return;
    };
    // A first batch fits, and a label on it must survive what follows.
    l.add_photos(0, 3, (1024, 768));
    let out = l.scan();
    assert!(out.status.success(), "{}", stderr(&out));
    l.label_first_photo();
    // 60 more noisy photos: their thumbnails (about 100 KB each) cannot all fit.
    l.add_photos(3, 60, (1024, 768));
    let out = l.scan();
    let err = stderr(&out);
    assert!(!out.status.success(), "scan did not notice the full disk: {}", stdout(&out));
    eprintln!("full disk, the scan says: {err}");
    assert!(err.contains("full"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // No photo was marked failed just because the disk was full.
    assert_eq!(integrity(&l.catalog()), "ok");
    let ok_before = count(&l.catalog(), "SELECT count(*) FROM photos WHERE state = 'ok'");
    assert!(ok_before >= 3);
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM label_events"), 1);

    disk.remount("size=64m");
    let out = l.scan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&l.catalog()), "ok");
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM photos WHERE state = 'ok'"), 63);
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM photos WHERE state <> 'ok'"), 0);
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM label_events"), 1);
    drop(disk);
    let _ = &l.dir;
}

/// Fills the file system of `dir` with one file until a write fails for space, then frees
/// `leave` bytes of it: the disk is left with about that much room.
pub(crate) fn fill_disk(dir: &Path, leave: u64) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x55u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = f.sync_all();
    f.set_len(written.saturating_sub(leave)).unwrap();
    path
}

#[test]
fn a_full_disk_stops_embedding_clearly_and_a_rerun_after_freeing_space_finishes() {
    let l = Lib::new();
    let Some(disk) = Tmpfs::mount(&l.lib, "16m", "disk-full test") else {
        return;
    };
    l.add_photos(0, 40, (320, 240));
    let out = l.scan();
    assert!(out.status.success(), "{}", stderr(&out));
    let total = count(&l.catalog(), "SELECT count(*) FROM photos");
    assert_eq!(total, 40);
    l.label_first_photo();
    // Room for a batch or two of embeddings (4.6 KB each) and the WAL, not for all 40.
    let filler = fill_disk(&l.lib, 48 * 1024);
    let out = l.run(&["embed"]);
    let err = stderr(&out);
    eprintln!("full disk, embed says: {err}");
    assert!(!out.status.success(), "embed did not notice the full disk: {}", stdout(&out));
    assert!(err.contains("full"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let embedded = count(&l.catalog(), "SELECT count(*) FROM embeddings");
    assert!(embedded < total, "all {embedded} embedded on a full disk?");

    std::fs::remove_file(filler).unwrap();
    let out = l.run(&["embed"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(integrity(&l.catalog()), "ok");
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM embeddings"), total);
    assert_eq!(count(&l.catalog(), "SELECT count(*) FROM label_events"), 1);
    drop(disk);
}

/// The binary under test; `PHOTOSIFT_BIN` runs these tests against another build (an older
/// one, to show a test fails there).
fn binary() -> PathBuf {
    std::env::var_os("PHOTOSIFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_photosift")))
}

/// Everything in the catalog written to the main file and the -wal/-shm files gone: a copy of
/// the file is then the whole catalog.
fn checkpoint(catalog: &Path) {
    Connection::open(catalog)
        .unwrap()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    for ext in ["sqlite-wal", "sqlite-shm"] {
        let _ = std::fs::remove_file(catalog.with_extension(ext));
    }
}

/// Issue 31, item 1: `: > catalog.sqlite` in a used library. Before: `status` said "catalog
/// checked: ok", photos 0, and wrote a new schema over it; the next scan re-added every
/// photo without its labels.
#[test]
fn an_empty_catalog_in_a_used_library_is_refused_with_the_newest_backup_named() {
    let l = Lib::new();
    l.add_photos(0, 3, (200, 150));
    assert!(l.scan().status.success());
    l.label_first_photo();
    checkpoint(&l.catalog());
    // The backups a schema upgrade leaves (v1 older than v3): the newest must be named.
    let v3 = l.lib.join("catalog.sqlite.bak-v3");
    std::fs::copy(l.catalog(), &v3).unwrap();
    std::fs::copy(l.catalog(), l.lib.join("catalog.sqlite.bak-v1")).unwrap();
    std::fs::write(l.catalog(), b"").unwrap();
    let photos = l.photos.to_str().unwrap().to_owned();
    for args in [vec!["status"], vec!["queue"], vec!["scan", "--no-embed", &photos]] {
        let out = Command::new(binary())
            .arg("--library")
            .arg(&l.lib)
            .arg("--config")
            .arg(&l.config)
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} accepted an empty catalog: {}", stdout(&out));
        assert!(err.contains("is empty") && err.contains("thumbnails"), "{args:?}: {err}");
        assert!(err.contains(&format!("cp {}", v3.display())), "{args:?}: {err}");
        assert_eq!(std::fs::metadata(l.catalog()).unwrap().len(), 0, "{args:?} wrote to it");
    }
    // The advice works: the backup restored, the label is there.
    std::fs::copy(&v3, l.catalog()).unwrap();
    let out = l.run(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("labels: 1 wanted"), "{}", stdout(&out));

    // A damaged catalog gets the same advice (the backup to restore), never "start anew".
    checkpoint(&l.catalog());
    std::fs::write(l.catalog(), b"my shopping list\n").unwrap();
    let err = stderr(&l.run(&["status"]));
    assert!(err.contains(&format!("cp {}", v3.display())), "{err}");

    // A library that holds nothing yet: `status` says so without writing; `scan` starts it.
    let fresh = Lib::new();
    fresh.add_photos(0, 1, (200, 150));
    std::fs::create_dir_all(&fresh.lib).unwrap();
    std::fs::write(fresh.catalog(), b"").unwrap();
    let out = fresh.run(&["status"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("nothing was scanned"), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(fresh.catalog()).unwrap().len(), 0, "status wrote to it");
    let out = fresh.scan();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Issue 31, item 11: a `catalog.sqlite` that is a folder. Before: "not a photosift library
/// (it has no catalog.sqlite)" for `status`, "not a photosift catalog or is damaged" for
/// `scan`.
#[test]
fn a_catalog_that_is_a_folder_is_called_a_folder() {
    let l = Lib::new();
    l.add_photos(0, 1, (200, 150));
    std::fs::create_dir_all(l.catalog()).unwrap();
    let photos = l.photos.to_str().unwrap().to_owned();
    for args in [vec!["status"], vec!["scan", "--no-embed", &photos]] {
        let out = Command::new(binary())
            .arg("--library")
            .arg(&l.lib)
            .arg("--config")
            .arg(&l.config)
            .args(&args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("is a folder") || err.contains("not a file"), "{args:?}: {err}");
        assert!(!err.contains("no catalog.sqlite") && !err.contains("damaged"), "{args:?}: {err}");
    }
}

/// Issue 31, item 2: as a user other than root, a `catalog.sqlite-wal` it may not read (what
/// one `sudo photosift` leaves behind). Before: "is not a photosift catalog or is damaged ...
/// move it aside to start a new catalog", which would have dropped the labels in that WAL.
/// Runs the binary as `nobody` (setpriv); needs root, so it is SKIPPED elsewhere and fails
/// under CI if it cannot run.
#[test]
fn an_unreadable_wal_is_a_permission_problem_named_with_its_file() {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let setpriv = crate::tools::runs("setpriv", &["--version"]);
    if !crate::tools::require(
        root && setpriv,
        "permission test",
        "needs root and setpriv (util-linux) to run photosift as nobody",
    ) {
        return;
    }
    let l = Lib::new();
    l.add_photos(0, 2, (200, 150));
    assert!(l.scan().status.success());
    // The state a killed process leaves: a label only in the WAL. A copy of the live files
    // while a connection holds that change uncheckpointed is that state.
    let crashed = l.dir.path().join("crashed");
    {
        let conn = Connection::open(l.catalog()).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute(
            "INSERT INTO label_events (batch, photo_id, kind, value, mode, at_ms)
             SELECT 1, id, 'kind', 1, 'cli', 1 FROM photos ORDER BY id LIMIT 1",
            [],
        )
        .unwrap();
        let cp = Command::new("cp").arg("-a").arg(&l.lib).arg(&crashed).status().unwrap();
        assert!(cp.success());
    }
    let wal = crashed.join("catalog.sqlite-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "the label is in the WAL");
    // Everything belongs to nobody, except the WAL: root's, mode 000.
    std::fs::set_permissions(l.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = l.dir.path().join("photosift");
    std::fs::copy(binary(), &exe).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(&crashed)
        .arg(&l.config)
        .status()
        .unwrap();
    assert!(chown.success());
    assert!(Command::new("chown").arg("root:root").arg(&wal).status().unwrap().success());
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o000)).unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&exe)
            .arg("--library")
            .arg(&crashed)
            .arg("--config")
            .arg(&l.config)
            .args(args)
            .env("HOME", l.dir.path())
            .output()
            .unwrap()
    };
    let photos = l.photos.to_str().unwrap().to_owned();
    for args in [vec!["status"], vec!["scan", "--no-embed", &photos]] {
        let out = as_nobody(&args);
        let err = stderr(&out);
        eprintln!("{args:?} as nobody with an unreadable WAL: {err}");
        assert!(!out.status.success(), "{args:?}: {}", stdout(&out));
        assert!(err.contains("catalog.sqlite-wal"), "{args:?}: {err}");
        assert!(err.contains("may not read"), "{args:?}: {err}");
        assert!(!err.contains("damaged") && !err.contains("move it aside"), "{args:?}: {err}");
    }
    // Given back to the user, nothing was lost: the label from the WAL is there.
    let chown = Command::new("chown").arg("nobody:nogroup").arg(&wal).status().unwrap();
    assert!(chown.success());
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = as_nobody(&["status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("labels: 1 wanted"), "{}", stdout(&out));
}
