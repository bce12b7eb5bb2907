//! `photosift eval` end to end on generated images with a known rule: scan, embed with the
//! bundled EfficientNet-Lite0, simulate, print the table, write the plot.

use std::process::Command;

mod rule_images;

fn picture(desirable: bool, seed: u32) -> image::RgbImage {
    rule_images::picture(desirable, seed, 256, 192)
}

#[test]
fn eval_learns_a_known_rule_from_generated_images() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut truth = String::from("file,checkered\n");
    for i in 0..24u32 {
        let desirable = i % 3 == 0;
        let name = format!("img{i:02}.jpg");
        picture(desirable, i).save(photos.join(&name)).unwrap();
        truth.push_str(&format!("{name},{}\n", u8::from(desirable)));
    }
    let truth_path = dir.path().join("truth.csv");
    std::fs::write(&truth_path, truth).unwrap();
    let plot = dir.path().join("eval.png");
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(dir.path().join("lib"))
        .args(["eval", "--every", "2", "--max-labels", "12", "--random-runs", "2", "--truth"])
        .arg(&truth_path)
        .arg(&photos)
        .arg("--plot")
        .arg(&plot)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("24 photos (8 desirable)"), "{stdout}");
    // The last table row: labels | ambiguous AUC P@K | random ... | best-first ...
    let last = stdout.lines().find(|l| l.trim_start().starts_with("12 |")).expect(&stdout);
    let auc: f64 =
        last.split('|').nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(auc >= 0.9, "ambiguous AUC after 12 labels {auc}\n{stdout}");
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
}
