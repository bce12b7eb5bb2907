//! The `photosift export` command end to end: generated photos are scanned by the real
//! binary, two are picked through the catalog's label log and scored by a recorded model
//! version, then `photosift export DEST` copies them out, twice (the second run resumes).

use std::fs;
use std::path::Path;
use std::process::Command;

use image::{Rgb, RgbImage};
use photosift::catalog::{Catalog, NewModel};
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};

fn photosift(library: &Path, config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(library)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "photosift {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn export_command_copies_scanned_picks_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let (photos, library, dest) =
        (dir.path().join("photos"), dir.path().join("library"), dir.path().join("prints"));
    fs::create_dir_all(&photos).unwrap();
    let config = dir.path().join("config.toml");
    fs::write(&config, "[scan]\nembed = false\n").unwrap();
    let sizes = [("big.jpg", 320, 240), ("small.jpg", 160, 120), ("other.jpg", 320, 240)];
    for (i, (name, w, h)) in sizes.iter().enumerate() {
        let img = RgbImage::from_fn(*w, *h, |x, y| Rgb([(i * 90) as u8, x as u8, y as u8]));
        img.save(photos.join(name)).unwrap();
    }
    photosift(&library, &config, &["scan", photos.to_str().unwrap()]);

    {
        let mut catalog = Catalog::open(&library.join("catalog.sqlite")).unwrap();
        let all = catalog.photos().unwrap();
        assert_eq!(all.len(), 3);
        let id = |name: &str| all.iter().find(|p| p.path.ends_with(name)).unwrap().id;
        for name in ["big.jpg", "small.jpg"] {
            let d =
                Decision::single(id(name), DecisionMode::Best, LabelKind::Print, LabelValue::Yes);
            catalog.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
        let model = NewModel {
            backbone: "lite0".into(),
            kind: photosift::domain::ModelKind::Head,
            n_positive: 1,
            n_negative: 1,
            n_synthetic: 0,
            cv_auc: None,
            params: vec![0],
            info: "{}".into(),
        };
        let scores = [(id("big.jpg"), 0.6), (id("small.jpg"), 0.9), (id("other.jpg"), 0.95)];
        catalog.insert_model(&model, &scores).unwrap();
    }

    let args = ["export", dest.to_str().unwrap(), "--print-size", "2x3in", "--dpi", "100"];
    let report = photosift(&library, &config, &args);
    assert!(report.contains("Exported 2 of 2 picks"), "{report}");
    assert!(report.contains("1 pick has too few pixels for 2x3in at 100 dpi"), "{report}");
    assert!(report.contains("small.jpg: too small: 160x120 px, needs 300x200 px"), "{report}");
    for name in ["big.jpg", "small.jpg"] {
        assert_eq!(fs::read(dest.join(name)).unwrap(), fs::read(photos.join(name)).unwrap());
    }
    assert!(!dest.join("other.jpg").exists(), "only picks are exported");

    let csv = fs::read_to_string(dest.join("picks.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("small.jpg,") && rows[0].contains(",0.9000,1,160,120,"), "{csv}");
    assert!(rows[1].starts_with("big.jpg,") && rows[1].contains(",0.6000,1,320,240,ok,"), "{csv}");

    // The sheet shows the scanned thumbnails: the first cell's middle is not the empty box.
    let sheet = image::open(dest.join("picks-contact-sheet.png")).unwrap().to_rgb8();
    let middle = sheet.get_pixel(16 + 120, 40 + 16 + 120).0;
    assert_ne!(middle, [236, 236, 236], "the first cell has its thumbnail");

    let again = photosift(&library, &config, &args);
    assert!(again.contains("0 copied, 2 already there"), "{again}");
    let mut files: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // Two photos, picks.csv, the contact sheet, photosift's manifest of them and its lock.
    assert_eq!(
        files,
        [
            ".photosift-export",
            ".photosift-export.lock",
            "big.jpg",
            "picks-contact-sheet.png",
            "picks.csv",
            "small.jpg"
        ]
    );
}
