//! photosift never writes to, moves or deletes an original photo: a scan (with embedding), a
//! labeling session in tmux and an export leave the source tree byte-identical.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use photosift::catalog::{Catalog, PhotoState};

use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};

use crate::hostile;
use crate::tmux::{Tmux, shell_quote};
use crate::tools::require_tmux;

/// Every entry under `root`: its kind, bytes hash, size, mtime and permissions.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let what = if meta.is_file() {
            let hash = blake3::hash(&std::fs::read(entry.path()).unwrap());
            format!(
                "file {hash} {} {} {:o}",
                meta.len(),
                meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                meta.mode()
            )
        } else if meta.is_symlink() {
            format!("link {:?}", std::fs::read_link(entry.path()).unwrap())
        } else {
            format!("dir {:o}", meta.mode())
        };
        out.insert(entry.path().strip_prefix(root).unwrap().to_path_buf(), what);
    }
    out
}

fn run(lib: &Path, config: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(lib)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn scan_labeling_and_export_leave_the_originals_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(photos.join("2019/trip")).unwrap();
    for i in 0..8u8 {
        let sub = if i % 2 == 0 { "2019/trip" } else { "" };
        let img = hostile::picture(640 + u32::from(i) * 8, 480, i);
        std::fs::write(photos.join(sub).join(format!("IMG_{i}.jpg")), hostile::jpeg(&img)).unwrap();
    }
    // A copy, a read-only photo, a broken file, a non-photo and a link: all left alone.
    std::fs::copy(photos.join("IMG_1.jpg"), photos.join("IMG_1 copy.jpg")).unwrap();
    let ro = photos.join("IMG_3.jpg");
    let mut perm = std::fs::metadata(&ro).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&ro, perm).unwrap();
    std::fs::write(photos.join("broken.jpg"), b"\xFF\xD8\xFFnot really").unwrap();
    std::fs::write(photos.join("notes.txt"), b"printing list").unwrap();
    std::os::unix::fs::symlink("IMG_5.jpg", photos.join("link.jpg")).unwrap();
    let before = snapshot(&photos);

    let lib = dir.path().join("library");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    run(&lib, &config, &["scan", photos.to_str().unwrap()]);
    assert_eq!(snapshot(&photos), before, "scan changed the source tree");

    // A labeling session (the real TUI in tmux).
    if require_tmux("harden_originals, labeling part") {
        let tmux = Tmux::new("orig");
        let command = format!(
            "exec {} --library {} --config {}",
            env!("CARGO_BIN_EXE_photosift"),
            shell_quote(&lib),
            shell_quote(&config)
        );
        tmux.start("l", 110, 32, &command);
        tmux.wait_loaded("l");
        for (key, shown) in [("w", "yes 1 no 0"), ("s", "yes 1 no 1"), ("w", "yes 2 no 1")] {
            tmux.keys("l", key);
            tmux.wait_for("l", &[shown]);
        }
        tmux.keys("l", "q");
        tmux.wait_gone("l", Duration::from_secs(10));
        assert_eq!(snapshot(&photos), before, "the labeling session changed the source tree");
    }

    // Picks for print, then an export (twice: the second resumes).
    let mut cat = Catalog::open(&lib.join("catalog.sqlite")).unwrap();
    let ok: Vec<_> =
        cat.photos().unwrap().into_iter().filter(|p| p.state == PhotoState::Ok).collect();
    assert!(ok.len() >= 8);
    for p in ok.iter().take(5) {
        cat.record_decisions(&[Decision::single(
            p.id,
            DecisionMode::Best,
            LabelKind::Print,
            LabelValue::Yes,
        )])
        .unwrap();
    }
    drop(cat);
    let dest = dir.path().join("prints");
    run(&lib, &config, &["export", dest.to_str().unwrap()]);
    run(&lib, &config, &["export", dest.to_str().unwrap()]);
    assert_eq!(snapshot(&photos), before, "export changed the source tree");
    let copies = std::fs::read_dir(&dest)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "jpg"))
        .count();
    assert!(copies >= 5, "{copies} copies exported");
}
