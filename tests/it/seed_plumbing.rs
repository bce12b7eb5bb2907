//! Plumbing tests of `photosift seed`: the whole path from a `[seed]` prompt to a labeled
//! synthetic photo in the catalog, with TEST-SIZED networks and RANDOM weights (no download).
//! The pictures are noise; these tests check wiring, files, catalog rows, resume and cancel —
//! not image quality.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};

use photosift::catalog::{Catalog, Source};
use photosift::config::{Config, SeedConfig};
use photosift::library::Library;
use photosift::pipeline::seed::{
    SeedPhase, SeedProgress, SeedSummary, generate_seeds, generate_seeds_with,
};
use photosift::synth::tiny::tiny_pipeline;
use photosift::synth::{DecoderKind, GenerateParams, SdModel, Stage};

fn seed_cfg(n: usize) -> SeedConfig {
    let mut c = Config::default().seed;
    c.want = vec!["two friends on a mountain".into(), "hummingbird on a flower".into()];
    c.dont_want = vec!["blurry screenshot of a receipt".into()];
    c.images_per_prompt = n;
    c.size = 64;
    c
}

struct Run {
    loads: usize,
    events: Vec<SeedProgress>,
}

fn run(
    catalog: &mut Catalog,
    lib: &Library,
    cfg: &SeedConfig,
    decoder: DecoderKind,
    cancel: &AtomicBool,
    cancel_after_saves: Option<usize>,
) -> (SeedSummary, Run) {
    let loads = Cell::new(0);
    let events = RefCell::new(Vec::new());
    let saves = Cell::new(0);
    let mut load = |_: &dyn Fn(String)| {
        loads.set(loads.get() + 1);
        tiny_pipeline(decoder)
    };
    let progress = |p: SeedProgress| {
        if matches!(p.phase, SeedPhase::Saved { .. }) {
            saves.set(saves.get() + 1);
            if Some(saves.get()) == cancel_after_saves {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        events.borrow_mut().push(p);
    };
    let summary =
        generate_seeds_with(catalog, lib, cfg, SdModel::SdTurbo, &mut load, &progress, &|| {
            cancel.load(Ordering::Relaxed)
        })
        .unwrap();
    (summary, Run { loads: loads.get(), events: events.into_inner() })
}

#[test]
fn plumbing_prompt_to_labeled_synthetic_photo_with_random_weights() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let mut catalog = lib.open_catalog().unwrap();
    let cfg = seed_cfg(2);
    let (summary, r) =
        run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    assert_eq!((summary.planned, summary.generated, summary.existing), (6, 6, 0));
    assert!(!summary.cancelled);
    assert_eq!(r.loads, 1);

    let photos = catalog.synthetic_photos().unwrap();
    assert_eq!(photos.len(), 6);
    for p in &photos {
        assert_eq!(p.source, Source::Synthetic);
        assert!(p.path.starts_with(lib.synthetic_dir()), "{}", p.path.display());
        let img = image::open(&p.path).unwrap();
        assert_eq!((img.width(), img.height()), (64, 64));
        assert_eq!((p.width, p.height), (Some(64), Some(64)));
        let bytes = std::fs::read(&p.path).unwrap();
        assert_eq!(p.content_hash, blake3::hash(&bytes).to_hex().to_string());
        let thumb = lib.root().join(p.thumb_path.as_ref().unwrap());
        assert!(thumb.is_file(), "{}", thumb.display());
        assert_eq!(thumb.file_name().unwrap().to_string_lossy(), format!("{}.jpg", p.content_hash));
    }
    let wanted = photos.iter().filter(|p| p.seed_label == Some(true)).count();
    assert_eq!(wanted, 4);
    let receipt: Vec<_> = photos
        .iter()
        .filter(|p| p.prompt.as_deref() == Some("blurry screenshot of a receipt"))
        .collect();
    assert_eq!(receipt.len(), 2);
    assert!(receipt.iter().all(|p| p.seed_label == Some(false)));

    // Progress: every stage of every image, counts rising to the total, an ETA after the first.
    let stages: Vec<Stage> = r
        .events
        .iter()
        .filter_map(|e| match &e.phase {
            SeedPhase::Generating { stage, .. } => Some(*stage),
            _ => None,
        })
        .collect();
    assert_eq!(stages.iter().filter(|s| **s == Stage::TextEncoder).count(), 6);
    assert_eq!(stages.iter().filter(|s| **s == Stage::Decode).count(), 6);
    assert!(stages.contains(&Stage::Denoise { step: 0, steps: 1 }));
    let last = r.events.last().unwrap();
    assert_eq!((last.done, last.total), (6, 6));
    assert!(last.eta.is_some());
}

#[test]
fn plumbing_rerun_generates_nothing_and_loads_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let mut catalog = lib.open_catalog().unwrap();
    let cfg = seed_cfg(1);
    run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    let (again, r) =
        run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    assert_eq!((again.generated, again.existing), (0, 3));
    assert_eq!(r.loads, 0, "nothing to do must not load (or download) the model");
    assert_eq!(catalog.synthetic_photos().unwrap().len(), 3);

    // More images per prompt later: only the new ones are made.
    let more = seed_cfg(2);
    let (s, _) = run(&mut catalog, &lib, &more, DecoderKind::Taesd, &AtomicBool::new(false), None);
    assert_eq!((s.generated, s.existing), (3, 3));
}

#[test]
fn plumbing_cancel_keeps_finished_images_and_resume_completes() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let mut catalog = lib.open_catalog().unwrap();
    let cfg = seed_cfg(2);
    let cancel = AtomicBool::new(false);
    let (s, _) = run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &cancel, Some(2));
    assert!(s.cancelled);
    assert_eq!(s.generated, 2);
    assert_eq!(catalog.synthetic_photos().unwrap().len(), 2);
    let leftovers: Vec<_> = std::fs::read_dir(lib.synthetic_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "part"))
        .collect();
    assert!(leftovers.is_empty());

    let (s, _) = run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    assert_eq!((s.generated, s.existing), (4, 2));
    assert_eq!(catalog.synthetic_photos().unwrap().len(), 6);
}

#[test]
fn plumbing_image_left_by_a_killed_run_is_cataloged_not_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let cfg = seed_cfg(1);
    // A first run into a catalog that is then thrown away: the files stay, the rows are lost,
    // as when a run is killed between writing an image and cataloging it.
    {
        let mut scratch = Catalog::open_in_memory().unwrap();
        run(&mut scratch, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    }
    let mut catalog = lib.open_catalog().unwrap();
    let (s, r) = run(&mut catalog, &lib, &cfg, DecoderKind::Taesd, &AtomicBool::new(false), None);
    assert_eq!((s.generated, s.recovered), (0, 3));
    assert_eq!(r.loads, 0);
    assert_eq!(catalog.synthetic_photos().unwrap().len(), 3);
}

#[test]
fn plumbing_full_vae_decoder_and_guidance_path() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let mut catalog = lib.open_catalog().unwrap();
    let mut cfg = seed_cfg(1);
    cfg.dont_want.clear();
    cfg.want.truncate(1);
    cfg.steps = 2;
    cfg.guidance = 3.0;
    let (s, _) = run(&mut catalog, &lib, &cfg, DecoderKind::Vae, &AtomicBool::new(false), None);
    assert_eq!(s.generated, 1);
    let p = &catalog.synthetic_photos().unwrap()[0];
    let img = image::open(&p.path).unwrap();
    assert_eq!((img.width(), img.height()), (64, 64));
}

#[test]
fn plumbing_same_seed_same_image() {
    let pipe = tiny_pipeline(DecoderKind::Taesd).unwrap();
    let params = GenerateParams { width: 64, height: 48, steps: 1, guidance: 0.0, seed: 9 };
    let a = pipe.generate("a dog", &params, &mut |_| {}, &|| false).unwrap().unwrap();
    let b = pipe.generate("a dog", &params, &mut |_| {}, &|| false).unwrap().unwrap();
    assert_eq!((a.width(), a.height()), (64, 48));
    assert_eq!(a, b);
    let other = GenerateParams { seed: 10, ..params };
    let c = pipe.generate("a dog", &other, &mut |_| {}, &|| false).unwrap().unwrap();
    assert_ne!(a, c);
}

#[test]
fn missing_weights_offline_say_what_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Library::create(dir.path().join("lib")).unwrap();
    let mut catalog = lib.open_catalog().unwrap();
    let mut cfg = seed_cfg(1);
    cfg.download = false;
    // An empty hub cache, so that a developer's real one does not answer.
    crate::empty_hf_home();
    let err = generate_seeds(&mut catalog, &lib, &cfg, &|_| {}, &|| false).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("stabilityai/sd-turbo/resolve/main/unet/"), "{msg}");
    assert!(msg.contains("madebyollin/taesd"), "{msg}");
    assert!(msg.contains(&lib.models_dir().join("hub").display().to_string()), "{msg}");
    assert!(catalog.synthetic_photos().unwrap().is_empty());
}
