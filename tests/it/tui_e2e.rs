//! End to end: the real binary in tmux on a generated library; label with single keys, kill it
//! with SIGKILL, and check that the catalog holds every label the screen acknowledged.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use photosift::catalog::Catalog;

use photosift::domain::{LabelKind, LabelValue};

use crate::common;
use crate::process::sigkill_and_wait;
use crate::tmux::{Tmux, shell_quote};
use crate::tools::require_tmux;

fn kind_label(cat: &Catalog, photo: photosift::domain::PhotoId) -> Option<LabelValue> {
    cat.current_labels(LabelKind::Kind).unwrap().into_iter().find(|(p, _)| *p == photo).map(|x| x.1)
}

#[test]
fn labels_survive_sigkill_and_a_second_session_is_refused() {
    if !require_tmux("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 12, 6, (160, 120));
    let bin = env!("CARGO_BIN_EXE_photosift");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let command =
        format!("{bin} --library {} --config {}", shell_quote(dir.path()), shell_quote(&config));
    let tmux = Tmux::new("e2e");
    let s = "label";
    tmux.start(s, 110, 32, &command);

    tmux.wait_for(s, &["AMBIGUOUS", "0/12 answered", "IMG_0001.jpg"]);

    // While it runs, a second session on the same library is refused with a clear message.
    let second = Command::new(bin)
        .args(["--library", dir.path().to_str().unwrap(), "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("already has the library"), "{err}");

    // Each key is acknowledged by the next photo on screen.
    tmux.keys(s, "w");
    tmux.wait_for(s, &["1/12 answered", "IMG_0002.jpg", "yes 1 no 0"]);
    tmux.keys(s, "s");
    tmux.wait_for(s, &["2/12 answered", "IMG_0003.jpg", "yes 1 no 1"]);
    tmux.keys(s, "d");
    tmux.wait_for(s, &["2/12 answered", "IMG_0004.jpg", "skip 1"]);
    tmux.keys(s, "a"); // undo the skip: photo 3 again
    tmux.wait_for(s, &["2/12 answered", "IMG_0003.jpg", "skip 0"]);
    tmux.keys(s, "Up"); // arrows mirror WASD: yes
    tmux.wait_for(s, &["3/12 answered", "IMG_0004.jpg", "yes 2 no 1"]);
    tmux.keys(s, "Tab");
    tmux.wait_for(s, &["BEST", "No model yet"]);
    tmux.keys(s, "Tab");
    tmux.wait_for(s, &["AMBIGUOUS", "3/12 answered", "IMG_0004.jpg"]);
    tmux.keys(s, "?");
    tmux.wait_for(s, &["pick it for print", "not_kind"]);
    tmux.keys(s, "Escape");
    // Esc and the next arrow's escape sequence must not arrive glued together (that reads as
    // Alt-arrow), as they never do from a person.
    let end = Instant::now() + Duration::from_secs(20);
    while tmux.capture(s).contains("pick it for print") {
        assert!(Instant::now() < end, "Esc did not close the help");
        std::thread::sleep(Duration::from_millis(20));
    }
    tmux.keys(s, "Down");
    let screen = tmux.wait_for(s, &["4/12 answered", "IMG_0005.jpg", "yes 2 no 2"]);

    sigkill_and_wait(tmux.pane_pid(s));

    let cat = library.open_catalog().unwrap();
    assert_eq!(kind_label(&cat, ids[0]), Some(LabelValue::Yes), "{screen}");
    assert_eq!(kind_label(&cat, ids[1]), Some(LabelValue::No));
    assert_eq!(kind_label(&cat, ids[2]), Some(LabelValue::Yes), "undone skip, then yes");
    assert_eq!(kind_label(&cat, ids[3]), Some(LabelValue::No));
    assert_eq!(kind_label(&cat, ids[4]), None);
    let counts = cat.label_counts().unwrap();
    assert_eq!((counts.kind_yes, counts.kind_no, counts.kind_skip), (2, 2, 0));
    drop(cat);

    // The lock died with the process: a new session can start and resumes after the labels.
    let again = "again";
    tmux.start(again, 110, 32, &command);
    tmux.wait_for(again, &["AMBIGUOUS", "4/12 answered", "IMG_0005.jpg", "yes 2 no 2"]);
    tmux.keys(again, "q");
    tmux.wait_gone(again, Duration::from_secs(10));
}

/// `photosift label DIR` on a new folder: the TUI opens at once, the first photo shows while
/// the background scan still runs, labels given meanwhile count and survive SIGKILL, and the
/// scan resumes afterwards.
#[test]
fn label_dir_shows_the_first_photo_while_the_scan_runs() {
    if !require_tmux("tui_e2e") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("Phone");
    std::fs::create_dir_all(&photos).unwrap();
    let n = 400;
    for i in 0..n {
        let path = photos.join(format!("IMG_{:04}.jpg", i + 1));
        common::picture(i, 800, 600).save(&path).unwrap();
    }
    let library = dir.path().join("library");
    let bin = env!("CARGO_BIN_EXE_photosift");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let command = format!(
        "{bin} --library {} --config {} label {}",
        shell_quote(&library),
        shell_quote(&config),
        shell_quote(&photos)
    );
    let tmux = Tmux::new("e2e-scan");
    let s = "scan";
    let started = Instant::now();
    tmux.start(s, 120, 36, &command);

    // A photo on screen (its name in the status bar) while the scan job still shows.
    let screen = tmux.wait_for(s, &["AMBIGUOUS", "IMG_", "⟳ scan"]);
    eprintln!("first photo after {:.1} s:\n{screen}", started.elapsed().as_secs_f64());
    tmux.keys(s, "w");
    tmux.wait_for(s, &["yes 1 no 0"]);
    tmux.keys(s, "s");
    let screen = tmux.wait_for(s, &["yes 1 no 1"]);
    assert!(screen.contains("⟳ scan"), "the scan was still running:\n{screen}");

    sigkill_and_wait(tmux.pane_pid(s));
    let cat = Catalog::open(&library.join("catalog.sqlite")).unwrap();
    let counts = cat.label_counts().unwrap();
    assert_eq!((counts.kind_yes, counts.kind_no), (1, 1), "labels given during the scan");
    let scanned = cat.photo_counts().unwrap().ok;
    // (The job may have been reading or already embedding when it was killed.)
    eprintln!("killed with {scanned} of {n} photos in the catalog");
    drop(cat);

    // The scan picks up where it stopped.
    let out = Command::new(bin)
        .args(["--library", library.to_str().unwrap(), "--config", config.to_str().unwrap()])
        .arg("scan")
        .arg(&photos)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cat = Catalog::open(&library.join("catalog.sqlite")).unwrap();
    assert_eq!(cat.photo_counts().unwrap().ok, n as u64);
    assert_eq!(cat.label_counts().unwrap().kind_yes, 1);
}

/// Not a test: `FIXTURE_DIR=/tmp/x cargo test --release --test it tui_e2e::make_fixture -- --ignored`
/// leaves a generated library there, to try the TUI by hand.
#[test]
#[ignore]
fn make_fixture() {
    let dir = std::env::var("FIXTURE_DIR").expect("FIXTURE_DIR");
    let n = std::env::var("FIXTURE_N").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
    common::library_with_photos(Path::new(&dir), n, 12, (512, 384));
}
