//! `photosift demo --no-tui` builds its library non-interactively from the shipped assets:
//! every sample photo scanned, embedded and scored, the built-in labels recorded once, and
//! neither assets/ nor the user's own library touched.

use std::fs;
use std::path::Path;
use std::process::Command;

use photosift::catalog::Catalog;

use photosift::domain::{LabelKind, LabelValue};
use photosift::pipeline::demo::{DEMO_PHOTOS, LABELED, PHOTOS_DIR};

fn demo(args: &[&str], home: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("demo")
        .arg("--no-tui")
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "photosift demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn assets_snapshot() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fs::read(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn check_library(root: &Path, models: usize) {
    let catalog = Catalog::open(&root.join("catalog.sqlite")).unwrap();
    let photos = catalog.photos().unwrap();
    assert_eq!(photos.len(), DEMO_PHOTOS.len());
    for p in &photos {
        assert!(p.path.starts_with(fs::canonicalize(root.join(PHOTOS_DIR)).unwrap()));
        let thumb = root.join(p.thumb_path.as_ref().expect("every demo photo has a thumbnail"));
        assert!(thumb.is_file(), "{}", thumb.display());
    }
    let labels = catalog.current_labels(LabelKind::Kind).unwrap();
    assert_eq!(labels.len(), LABELED.len(), "the built-in labels, recorded once");
    let yes = labels.iter().filter(|(_, v)| *v == LabelValue::Yes).count();
    assert_eq!((yes, labels.len() - yes), (3, 4));
    assert_eq!(catalog.models().unwrap().len(), models);
    let model = catalog.latest_model().unwrap().unwrap();
    let scores = catalog.scores(model.id).unwrap();
    assert_eq!(scores.len(), DEMO_PHOTOS.len(), "every demo photo is scored");
    assert!(scores.iter().all(|(_, p)| (0.0..=1.0).contains(p)));
}

#[test]
fn demo_builds_its_library_from_the_shipped_assets_without_the_tui() {
    let home = tempfile::tempdir().unwrap();
    let before = assets_snapshot();
    let root = home.path().join("demo-lib");

    let out = demo(&["--library", root.to_str().unwrap()], home.path());
    assert!(out.contains("23 sample photos"), "{out}");
    assert!(out.contains("3 yes, 4 no"), "{out}");
    check_library(&root, 1);

    // Again: nothing new written, scanned or labeled; one more model version.
    let again = demo(&["--library", root.to_str().unwrap()], home.path());
    assert!(again.contains("(0 new this run)"), "{again}");
    check_library(&root, 2);

    assert_eq!(assets_snapshot(), before, "assets/ is never modified");
}

#[test]
fn demo_defaults_to_its_own_library_beside_the_users() {
    let home = tempfile::tempdir().unwrap();
    demo(&[], home.path());
    let root = home.path().join("data/photosift-demo");
    check_library(&root, 1);
    assert!(!home.path().join("data/photosift").exists(), "the user's library is untouched");
}
