//! `photosift eval` end to end on generated images with a known rule: scan, embed with the
//! bundled EfficientNet-Lite0, simulate, print the table, write the plot.

use std::process::Command;

use crate::rule_images;

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
        .args(["eval", "--every", "2", "--max-labels", "12", "--runs", "2", "--truth"])
        .arg(&truth_path)
        .arg(&photos)
        .arg("--plot")
        .arg(&plot)
        .arg("--json")
        .arg(dir.path().join("eval.json"))
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
    assert!(stdout.contains("ceiling: "), "{stdout}");
    assert_eq!(&std::fs::read(&plot).unwrap()[1..4], b"PNG");
    // The JSON report: the documented keys, every strategy scored at every checkpoint.
    let text = std::fs::read_to_string(dir.path().join("eval.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["photos"].as_u64(), v["positives"].as_u64(), v["runs"].as_u64()),
        (Some(24), Some(8), Some(2))
    );
    assert!(v["ceiling_auc"].as_f64().unwrap() > 0.5, "{text}");
    for name in ["ambiguous", "random", "best-first"] {
        let s = &v["strategies"][name];
        let labels = s["labels"].as_array().unwrap();
        assert_eq!(
            labels.iter().map(|l| l.as_u64().unwrap()).collect::<Vec<_>>(),
            vec![0, 2, 4, 6, 8, 10, 12]
        );
        for key in ["auc_mean", "auc_min", "auc_max", "precision_at_k_mean"] {
            assert_eq!(s[key].as_array().unwrap().len(), labels.len(), "{name}.{key}");
        }
        assert!(s["labels_to_auc"]["0.9"].is_u64() || s["labels_to_auc"]["0.9"].is_null());
        assert!(s["labels_to_auc"].get("0.95").is_some());
    }
}

#[test]
fn eval_without_a_retrain_cadence_says_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut truth = String::new();
    for i in 0..6u32 {
        picture(i % 2 == 0, i).save(photos.join(format!("{i}.jpg"))).unwrap();
        truth.push_str(&format!("{i}.jpg,{}\n", i % 2));
    }
    std::fs::write(dir.path().join("truth.csv"), truth).unwrap();
    std::fs::write(dir.path().join("c.toml"), "[train]\nretrain_every = 0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(dir.path().join("lib"))
        .arg("--config")
        .arg(dir.path().join("c.toml"))
        .arg("eval")
        .arg("--truth")
        .arg(dir.path().join("truth.csv"))
        .arg(&photos)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--every"));
}
