//! Fine-tuning end to end on generated images with a known rule (checkered = wanted, smooth
//! gradient = not): scan, embed, label, `finetune_and_score`, then `photosift train` and
//! `photosift queue` on the command line read the new backbone version.

use std::process::Command;

use photosift::config::Config;
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};
use photosift::library::Library;
use photosift::pipeline;

use crate::rule_images;

fn picture(desirable: bool, seed: u32) -> image::RgbImage {
    rule_images::picture(desirable, seed, 160, 120)
}

#[test]
fn finetuning_writes_a_backbone_reembeds_and_scores_every_photo() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let n = 16u32;
    for i in 0..n {
        picture(i % 2 == 0, i).save(photos.join(format!("img{i:02}.jpg"))).unwrap();
    }
    let lib_dir = dir.path().join("lib");
    let library = Library::create(&lib_dir).unwrap();
    let mut cfg = Config::default();
    cfg.train.finetune_epochs = 4;
    cfg.train.finetune_views = 2;
    let mut catalog = library.open_catalog().unwrap();
    photosift::ingest::scan(
        &mut catalog,
        &library,
        std::slice::from_ref(&photos),
        &cfg.scan,
        &|_| {},
    )
    .unwrap();
    photosift::pipeline::embed_missing(&mut catalog, &library, &cfg.model, &|_, _| {}).unwrap();

    // Label 10 of the 16: checkered (file names with an even number) yes, smooth no.
    for p in catalog.photos().unwrap().into_iter().take(10) {
        let name = p.path.file_name().unwrap().to_string_lossy().to_string();
        let num: u32 = name[3..5].parse().unwrap();
        let v = if num.is_multiple_of(2) { LabelValue::Yes } else { LabelValue::No };
        catalog
            .record_decisions(&[Decision::single(
                p.id,
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                v,
            )])
            .unwrap();
    }

    let steps = std::cell::RefCell::new(Vec::new());
    let report = pipeline::finetune_and_score(
        &mut catalog,
        &library,
        &cfg,
        &mut Default::default(),
        &|f, _| {
            steps.borrow_mut().push(f);
        },
    )
    .unwrap();
    let model = report.train.model;
    assert_eq!(report.backbone, format!("lite0-ft-{}", model.0));
    assert!(report.weights.is_file(), "{}", report.weights.display());
    assert!(report.weights.starts_with(library.models_dir()));
    assert_eq!(report.n_images, 10);
    assert_eq!(report.epoch_loss.len(), 4);
    let (first, last) = (report.epoch_loss[0], report.epoch_loss[3]);
    assert!(last < first, "loss went {first} -> {last}");
    let steps = steps.into_inner();
    assert!(steps.windows(2).all(|w| w[0] <= w[1] + 1e-6), "progress goes forward: {steps:?}");

    // Every photo re-embedded under the new backbone id and scored by a "finetune" model.
    assert_eq!(report.embedded, n as usize);
    assert_eq!(catalog.embedding_count(&report.backbone).unwrap(), u64::from(n));
    let info = catalog.latest_model().unwrap().unwrap();
    assert_eq!((info.id, info.kind.as_str()), (model, "finetune"));
    assert_eq!(info.backbone, report.backbone);
    assert!(info.info.contains("\"epoch_loss\""), "{}", info.info);
    assert_eq!(catalog.scores(model).unwrap().len(), n as usize);
    // The fine-tuned backbone differs from ImageNet's.
    let base = catalog.embeddings(photosift::model::BACKBONE_ID).unwrap();
    let tuned = catalog.embeddings(&report.backbone).unwrap();
    assert_ne!(base[0].1, tuned[0].1);
    // The scores separate the six photos nobody labeled.
    let scores = catalog.scores(model).unwrap();
    let unlabeled: Vec<_> = catalog.photos().unwrap().into_iter().skip(10).collect();
    let p_of = |id| scores.iter().find(|(p, _)| *p == id).unwrap().1;
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for p in &unlabeled {
        let num: u32 = p.path.file_name().unwrap().to_string_lossy()[3..5].parse().unwrap();
        if num.is_multiple_of(2) { pos.push(p_of(p.id)) } else { neg.push(p_of(p.id)) }
    }
    let min_pos = pos.iter().copied().fold(f32::INFINITY, f32::min);
    let max_neg = neg.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!(min_pos > max_neg, "checkered {pos:?} vs smooth {neg:?}");
    drop(catalog);

    // The command line keeps using the fine-tuned backbone for a head-only retrain.
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(&lib_dir)
        .args(["train", "--frozen"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let catalog = library.open_catalog().unwrap();
    let latest = catalog.latest_model().unwrap().unwrap();
    assert_eq!(
        (latest.kind.as_str(), latest.backbone.as_str()),
        ("head", report.backbone.as_str())
    );
}

#[test]
fn eval_compares_finetuning_with_the_frozen_head() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let mut truth = String::from("file,checkered\n");
    for i in 0..12u32 {
        let name = format!("img{i:02}.jpg");
        picture(i % 2 == 0, i).save(photos.join(&name)).unwrap();
        truth.push_str(&format!("{name},{}\n", u8::from(i % 2 == 0)));
    }
    std::fs::write(dir.path().join("truth.csv"), truth).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[train]\nfinetune_epochs = 2\nfinetune_views = 2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--config")
        .arg(&config)
        .args(["eval", "--finetune-compare", "6,12", "--compare-runs", "1", "--truth"])
        .arg(dir.path().join("truth.csv"))
        .arg(&photos)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("12 photos (6 desirable)"), "{stdout}");
    assert!(stdout.contains("left out: [12]"), "{stdout}");
    let row = stdout.lines().find(|l| l.trim_start().starts_with("6 |")).expect(&stdout);
    let cols: Vec<&str> = row.split('|').map(str::trim).collect();
    let (frozen, tuned): (f64, f64) = (cols[2].parse().unwrap(), cols[3].parse().unwrap());
    assert!(frozen > 0.8 && tuned > 0.8, "{stdout}");
}
