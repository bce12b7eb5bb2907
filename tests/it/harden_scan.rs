//! Scans that must not label the wrong picture or import photosift's own files (issue 16,
//! items 6-7): a photo changed in place, the library folder (also through a link), export
//! folders and contact sheets.

use crate::fixtures::*;
use photosift::catalog::{NewModel, Photo, PhotoState};
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};

fn photo_at(env: &Env, rel: &str) -> Photo {
    let path = env.stored(rel);
    env.catalog.photos().unwrap().into_iter().find(|p| p.path == path).unwrap()
}

#[test]
fn a_photo_changed_in_place_is_a_new_picture_and_its_labels_stay_with_the_old_one() {
    let mut env = Env::new();
    let path = env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    let old_bytes = std::fs::read(&path).unwrap();
    env.scan();
    let old = photo_at(&env, "a.jpg");
    for kind in [LabelKind::Kind, LabelKind::Print] {
        let d = Decision::single(old.id, DecisionMode::Best, kind, LabelValue::Yes);
        env.catalog.record_decisions(std::slice::from_ref(&d)).unwrap();
    }
    env.catalog.put_embeddings("lite0", &[(old.id, vec![0.5; 8])]).unwrap();
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
    let model = env.catalog.insert_model(&model, &[(old.id, 0.9)]).unwrap();

    // Another picture written over the same file.
    std::fs::write(&path, jpeg(&pattern(200, 300, 2))).unwrap();
    let s = env.scan();
    assert_eq!((s.changed, s.decoded, s.failed), (1, 1, 0), "{s:?}");

    // The file's new content is a new photo: no labels, no embedding (to embed), no score.
    let new = photo_at(&env, "a.jpg");
    assert_ne!(new.id, old.id);
    assert_eq!((new.width, new.height, new.state), (Some(200), Some(300), PhotoState::Ok));
    let lacking = env.catalog.photos_missing_embedding("lite0").unwrap();
    assert!(lacking.iter().any(|(id, _)| *id == new.id), "{lacking:?}");
    assert!(!env.catalog.scores(model).unwrap().iter().any(|(id, _)| *id == new.id));
    for kind in [LabelKind::Kind, LabelKind::Print] {
        let labels = env.catalog.current_labels(kind).unwrap();
        assert_eq!(labels, vec![(old.id, LabelValue::Yes)], "{kind:?}");
    }
    assert!(env.catalog.picks().unwrap().iter().all(|p| p.photo.id != new.id));
    // The labels stay with the old picture, whose file is gone: missing, never exported.
    let gone = env.catalog.photo(old.id).unwrap().unwrap();
    assert_eq!(gone.state, PhotoState::Missing);
    assert_eq!(gone.content_hash, old.content_hash);

    // The old picture turns up again elsewhere: it is that photo, with its labels.
    env.write("restored/a.jpg", &old_bytes);
    let s = env.scan();
    assert_eq!(s.moved, 1, "{s:?}");
    let back = photo_at(&env, "restored/a.jpg");
    assert_eq!((back.id, back.state), (old.id, PhotoState::Ok));
    assert_eq!(env.catalog.picks().unwrap().len(), 1);
    // A third rescan changes nothing.
    let s = env.scan();
    assert_eq!((s.new, s.changed, s.moved, s.missing), (0, 0, 0, 0), "{s:?}");
}

#[test]
fn the_library_folder_is_never_scanned_not_even_through_a_link() {
    let mut env = Env::new();
    env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    env.write("b.jpg", &jpeg(&pattern(300, 200, 2)));
    env.scan();
    let link = env.photos.join("library-link");
    std::os::unix::fs::symlink(env.library.root(), &link).unwrap();
    for _ in 0..3 {
        let s = env.scan();
        assert_eq!((s.files, s.new, s.duplicates), (2, 0, 0), "{s:?}");
        let roots = [env.library.root().to_path_buf()];
        let s = photosift::ingest::scan(&mut env.catalog, &env.library, &roots, &env.cfg, &|_| {})
            .unwrap();
        assert_eq!((s.files, s.new), (0, 0), "{s:?}");
    }
    assert_eq!(env.catalog.photos().unwrap().len(), 2);
}

#[test]
fn contact_sheets_and_export_folders_are_not_scanned() {
    let mut env = Env::new();
    env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    env.write("sheets/picks-contact-sheet.png", &png(&pattern(300, 200, 3)));
    env.write("sheets/picks-contact-sheet-2.png", &png(&pattern(300, 200, 4)));
    // A folder photosift exported into holds its manifest.
    env.write("prints/.photosift-export", b"photosift export manifest v1\n");
    env.write("prints/IMG_9999.jpg", &jpeg(&pattern(300, 200, 5)));
    let s = env.scan();
    assert_eq!((s.files, s.new), (1, 1), "{s:?}");
}

/// Issue 31, item 8: a folder photosift exported into was skipped whole, so a photo the user
/// put there later was never found. Now only the files the manifest lists are skipped (a
/// version 1 manifest, which did not list the copies, still hides its folder: above).
#[test]
fn only_the_files_an_export_wrote_are_skipped_in_its_folder() {
    let mut env = Env::new();
    env.write("prints/IMG_0001.jpg", &jpeg(&pattern(300, 200, 5)));
    env.write("prints/a-2.jpg", &jpeg(&pattern(300, 200, 6)));
    let hex: String = b"a-2.jpg".iter().map(|b| format!("{b:02x}")).collect();
    env.write(
        "prints/.photosift-export",
        format!("photosift export manifest v2\ncopy {} {hex}\n", "0".repeat(64)).as_bytes(),
    );
    let s = env.scan();
    assert_eq!((s.files, s.new, s.duplicates), (1, 1, 0), "{s:?}");
    photo_at(&env, "prints/IMG_0001.jpg");
}

/// Issue 31, item 11: two copies of a broken file: the second was recorded as "its identical
/// copy was not ingested" instead of the reason (when it reached the writer after the first
/// had failed).
#[test]
fn every_copy_of_a_broken_file_fails_for_the_real_reason() {
    let mut env = Env::new();
    let broken = b"\xff\xd8\xff\xe0 not really a JPEG".repeat(40);
    for i in 0..12 {
        env.write(&format!("copy{i:02}.jpg"), &broken);
    }
    let s = env.scan();
    assert_eq!(s.failed, 12, "{s:?}");
    let reasons: std::collections::BTreeSet<_> = s.failures.iter().map(|f| &f.message).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(!reasons.iter().any(|r| r.contains("not ingested")), "{reasons:?}");
    for p in env.catalog.failed_photos().unwrap() {
        assert!(!p.error.unwrap().contains("not ingested"), "{}", p.path.display());
    }
}

/// Issue 31, item 11: an original overwritten in place with the bytes of another photo of the
/// library became a second photo with the same content (asked about twice). Now the path is a
/// duplicate of that photo; the overwritten picture keeps its labels and is missing.
#[test]
fn a_file_overwritten_with_another_photos_bytes_becomes_its_duplicate() {
    let mut env = Env::new();
    let a = env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    let b_bytes = jpeg(&pattern(300, 200, 2));
    env.write("b.jpg", &b_bytes);
    env.scan();
    let (old_a, b) = (photo_at(&env, "a.jpg"), photo_at(&env, "b.jpg"));
    let d = Decision::single(old_a.id, DecisionMode::Ambiguous, LabelKind::Kind, LabelValue::Yes);
    env.catalog.record_decisions(std::slice::from_ref(&d)).unwrap();

    std::fs::write(&a, &b_bytes).unwrap();
    let s = env.scan();
    assert_eq!((s.new, s.duplicates, s.decoded), (0, 1, 0), "{s:?}");
    let ok: Vec<Photo> =
        env.catalog.photos().unwrap().into_iter().filter(|p| p.state == PhotoState::Ok).collect();
    assert_eq!(ok.iter().map(|p| p.id).collect::<Vec<_>>(), vec![b.id], "one photo per picture");
    assert_eq!(env.catalog.duplicate_paths(b.id).unwrap(), vec![env.stored("a.jpg")]);
    let gone = env.catalog.photo(old_a.id).unwrap().unwrap();
    assert_eq!(gone.state, PhotoState::Missing);
    let labels = env.catalog.current_labels(LabelKind::Kind).unwrap();
    assert_eq!(labels, vec![(old_a.id, LabelValue::Yes)]);
    // A rescan changes nothing more.
    let s = env.scan();
    assert_eq!((s.new, s.duplicates, s.changed, s.missing), (0, 0, 0, 0), "{s:?}");
}
