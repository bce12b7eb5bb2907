//! Embedding catalog photos: stored per photo and backbone, resumable, failures reported.
//! Photo rows are inserted with SQL here because the scan that normally writes them lives in
//! another module; thumbnails are generated JPEGs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;

use image::{Rgb, RgbImage};
use photosift::config::Config;
use photosift::domain::PhotoId;
use photosift::library::Library;
use photosift::model::{BACKBONE_ID, Embedder, Features, WeightsSource};
use photosift::pipeline::embed_missing;

fn thumb(seed: u32) -> RgbImage {
    RgbImage::from_fn(512, 384, |x, y| {
        Rgb([
            (x * seed % 256) as u8,
            (y * (seed + 3) % 256) as u8,
            ((x + y) * seed / 7 % 256) as u8,
        ])
    })
}

/// A library with `n` photos having thumbnails, one whose thumbnail file is gone and one
/// without a thumbnail.
fn library(dir: &Path, n: u32) -> Library {
    let lib = Library::create(dir).unwrap();
    drop(lib.open_catalog().unwrap());
    let conn = rusqlite::Connection::open(lib.catalog_path()).unwrap();
    let insert = |id: u32, thumb: Option<String>| {
        conn.execute(
            "INSERT INTO photos (id, path, content_hash, byte_size, mtime_ns, thumb_path, \
             added_at, updated_at) VALUES (?1, ?2, ?3, 1, 0, ?4, 0, 0)",
            rusqlite::params![
                id,
                format!("/photos/{id}.jpg").into_bytes(),
                format!("h{id}"),
                thumb
            ],
        )
        .unwrap();
    };
    for id in 1..=n {
        let rel = format!("thumbs/{id}.jpg");
        thumb(id).save(lib.root().join(&rel)).unwrap();
        insert(id, Some(rel));
    }
    insert(n + 1, Some("thumbs/gone.jpg".into()));
    insert(n + 2, None);
    lib
}

fn config(batch_size: usize) -> photosift::config::ModelConfig {
    let mut cfg = Config::default().model;
    cfg.batch_size = batch_size;
    cfg
}

#[test]
fn embeds_every_photo_once_and_reports_missing_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 5);
    let mut cat = lib.open_catalog().unwrap();
    let calls = Mutex::new(Vec::new());
    let summary =
        embed_missing(&mut cat, &lib, &config(2), &|d, t| calls.lock().unwrap().push((d, t)))
            .unwrap();
    assert_eq!((summary.total, summary.embedded), (7, 5));
    let failed: Vec<_> = summary.failed.iter().map(|(id, _)| *id).collect();
    assert_eq!(failed, vec![PhotoId(6), PhotoId(7)]);
    assert!(summary.failed[0].1.contains("gone.jpg"), "{}", summary.failed[0].1);
    assert_eq!(calls.lock().unwrap().last(), Some(&(7, 7)));

    let stored = cat.embeddings(BACKBONE_ID).unwrap();
    assert_eq!(stored.len(), 5);
    assert!(stored.iter().all(|(_, v)| v.len() == 1152 && v.iter().all(|x| x.is_finite())));
    // The stored vector is the photo features of the thumbnail as read from disk: unit length.
    let img = image::open(lib.root().join("thumbs/3.jpg")).unwrap().to_rgb8();
    let embedder = Embedder::with_features(&WeightsSource::Bundled, Features::Photo).unwrap();
    let direct = embedder.embed_images(&[img]).unwrap();
    let norm = direct[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "features of norm {norm}");
    let diff = stored[2].1.iter().zip(&direct[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(diff < 1e-4, "stored embedding differs by {diff}");

    // A second pass only retries the two failures.
    let again = embed_missing(&mut cat, &lib, &config(2), &|_, _| {}).unwrap();
    assert_eq!((again.total, again.embedded, again.failed.len()), (2, 0, 2));
}

#[test]
fn an_interrupted_pass_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 6);
    let mut cat = lib.open_catalog().unwrap();
    // Kill the pass (a panic here) right after the second batch was stored.
    let result = catch_unwind(AssertUnwindSafe(|| {
        embed_missing(&mut cat, &lib, &config(2), &|done, _| {
            if done == 4 {
                panic!("interrupted");
            }
        })
    }));
    assert!(result.is_err());
    let mut cat = lib.open_catalog().unwrap();
    assert_eq!(cat.embedding_count(BACKBONE_ID).unwrap(), 4);
    let rest = embed_missing(&mut cat, &lib, &config(2), &|_, _| {}).unwrap();
    assert_eq!((rest.total, rest.embedded), (4, 2));
    assert_eq!(cat.embedding_count(BACKBONE_ID).unwrap(), 6);
}

#[test]
fn unknown_backbone_is_a_clear_error_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 1);
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[model]\nbackbone = \"resnet\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(lib.root())
        .arg("--config")
        .arg(&config)
        .arg("embed")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("resnet") && stderr.contains("lite0"), "{stderr}");
    assert_eq!(lib.open_catalog().unwrap().embedding_count(BACKBONE_ID).unwrap(), 0);
}

#[test]
fn cli_embed_fills_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 3);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(lib.root())
        .arg("embed")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("embedded 3 of 5"), "{stdout}");
    assert!(stderr.contains("gone.jpg"), "{stderr}");
    assert_eq!(lib.open_catalog().unwrap().embedding_count(BACKBONE_ID).unwrap(), 3);
}
