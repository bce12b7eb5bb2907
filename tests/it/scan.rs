//! Scanning generated photo folders: orientation, thumbnail size, EXIF date, incremental
//! re-scan, moves, duplicates, missing files.

use crate::fixtures::*;
use photosift::catalog::{Photo, PhotoState, TakenSource};
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};

fn photo_at(env: &Env, rel: &str) -> Photo {
    let path = env.stored(rel);
    env.catalog.photos().unwrap().into_iter().find(|p| p.path == path).unwrap()
}

#[test]
fn exif_orientation_is_applied_and_long_side_is_thumb_size() {
    let mut env = Env::new();
    // Stored sideways (landscape pixels, Orientation 6 = rotate 90 degrees clockwise to view).
    env.write("rot6.jpg", &with_exif(&jpeg(&halves(1200, 600)), 6, "2023:06:03 09:12:00"));
    env.write("plain.jpg", &jpeg(&halves(1200, 600)));
    let s = env.scan();
    assert_eq!((s.new, s.failed), (2, 0), "{s:?}");

    let rot = photo_at(&env, "rot6.jpg");
    assert_eq!((rot.width, rot.height), (Some(600), Some(1200)), "displayed size");
    let t = thumb(&env, rot.thumb_path.as_ref().unwrap());
    assert_eq!(t.dimensions(), (256, 512));
    // The stored left half (red) is on top once rotated clockwise.
    let top = t.get_pixel(128, 20).0;
    let bottom = t.get_pixel(128, 490).0;
    assert!(top[0] > 150 && top[2] < 100, "top should be red: {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "bottom should be blue: {bottom:?}");

    let plain = photo_at(&env, "plain.jpg");
    let t = thumb(&env, plain.thumb_path.as_ref().unwrap());
    assert_eq!(t.dimensions(), (512, 256));
    assert!(t.get_pixel(20, 128).0[0] > 150, "left stays red");
}

#[test]
fn date_time_original_and_orientation_are_stored() {
    let mut env = Env::new();
    env.write("a.jpg", &with_exif(&jpeg(&pattern(64, 48, 1)), 1, "2023:06:03 09:12:00"));
    env.write("b.jpg", &jpeg(&pattern(64, 48, 2)));
    env.scan();
    let a = photo_at(&env, "a.jpg");
    assert_eq!(a.taken_at, Some(1_685_783_520));
    assert_eq!(a.taken_source, Some(TakenSource::Exif));
    // No EXIF, no sidecar, no date in the name: the file time, marked as a guess.
    let b = photo_at(&env, "b.jpg");
    let mtime = std::fs::metadata(env.stored("b.jpg")).unwrap().modified().unwrap();
    let mtime = mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert_eq!((b.taken_at, b.taken_source), (Some(mtime), Some(TakenSource::FileTime)));
    assert_eq!((a.width, a.height), (Some(64), Some(48)));
}

#[test]
fn png_webp_and_tiff_are_read_like_jpegs() {
    let mut env = Env::new();
    env.write("a.png", &png(&pattern(1000, 800, 3)));
    env.write("b.webp", &webp(&pattern(800, 1000, 4)));
    env.write("c.tif", &tiff(&pattern(1024, 256, 5)));
    let s = env.scan();
    assert_eq!((s.new, s.failed), (3, 0), "{:?}", s.failures);
    let c = photo_at(&env, "c.tif");
    assert_eq!(thumb(&env, c.thumb_path.as_ref().unwrap()).dimensions(), (512, 128));
    let a = photo_at(&env, "a.png");
    assert_eq!(thumb(&env, a.thumb_path.as_ref().unwrap()).dimensions(), (512, 410));
    let b = photo_at(&env, "b.webp");
    assert_eq!(thumb(&env, b.thumb_path.as_ref().unwrap()).dimensions(), (410, 512));
}

#[test]
fn rescan_of_unchanged_tree_opens_no_file() {
    let mut env = Env::new();
    for i in 0..12u8 {
        env.write(&format!("d{}/p{i}.jpg", i % 3), &jpeg(&pattern(300, 200, i)));
    }
    let first = env.scan();
    assert_eq!((first.new, first.decoded, first.files_read), (12, 12, 12));
    let again = env.scan();
    assert_eq!(again.unchanged, 12);
    assert_eq!((again.new, again.files_read, again.decoded), (0, 0, 0), "{again:?}");
}

#[test]
fn touched_file_is_read_but_not_decoded() {
    let mut env = Env::new();
    let path = env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    env.scan();
    let id = photo_at(&env, "a.jpg").id;
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60)).unwrap();
    let s = env.scan();
    assert_eq!((s.files_read, s.decoded, s.unchanged), (1, 0, 1), "{s:?}");
    assert_eq!(photo_at(&env, "a.jpg").id, id);
}

#[test]
fn moved_file_keeps_its_id_and_labels() {
    let mut env = Env::new();
    let old = env.write("2023/a.jpg", &jpeg(&pattern(300, 200, 7)));
    env.scan();
    let id = photo_at(&env, "2023/a.jpg").id;
    env.catalog
        .record_decisions(&[Decision::single(
            id,
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Yes,
        )])
        .unwrap();

    std::fs::create_dir_all(env.photos.join("sorted")).unwrap();
    std::fs::rename(&old, env.photos.join("sorted/renamed.jpg")).unwrap();
    let s = env.scan();
    assert_eq!((s.moved, s.new, s.missing, s.decoded), (1, 0, 0, 0), "{s:?}");
    let moved = photo_at(&env, "sorted/renamed.jpg");
    assert_eq!(moved.id, id);
    assert_eq!(moved.state, PhotoState::Ok);
    assert_eq!(env.catalog.photos().unwrap().len(), 1);
    assert_eq!(env.catalog.current_labels(LabelKind::Kind).unwrap(), vec![(id, LabelValue::Yes)]);
}

#[test]
fn identical_files_are_one_photo() {
    let mut env = Env::new();
    let bytes = jpeg(&pattern(300, 200, 9));
    env.write("a.jpg", &bytes);
    env.write("backup/a copy.jpg", &bytes);
    env.write("backup/again.jpg", &bytes);
    let s = env.scan();
    assert_eq!((s.new, s.duplicates, s.decoded), (1, 2, 1), "{s:?}");
    let photos = env.catalog.photos().unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(env.catalog.duplicate_paths(photos[0].id).unwrap().len(), 2);

    // A later copy is recognized by its hash without decoding.
    env.write("third.jpg", &bytes);
    let s = env.scan();
    assert_eq!((s.new, s.duplicates, s.decoded, s.unchanged), (0, 1, 0, 3), "{s:?}");
}

#[test]
fn deleted_file_is_marked_missing_and_comes_back() {
    let mut env = Env::new();
    let keep = env.write("keep.jpg", &jpeg(&pattern(300, 200, 1)));
    let gone = env.write("gone.jpg", &jpeg(&pattern(300, 200, 2)));
    env.scan();
    let id = photo_at(&env, "gone.jpg").id;
    let saved = std::fs::read(&gone).unwrap();
    let mtime = std::fs::metadata(&gone).unwrap().modified().unwrap();
    std::fs::remove_file(&gone).unwrap();

    let s = env.scan();
    assert_eq!((s.missing, s.unchanged), (1, 1), "{s:?}");
    let row = env.catalog.photo(id).unwrap().unwrap();
    assert_eq!(row.state, PhotoState::Missing, "kept, not dropped");
    // Scanning again does not count it twice.
    assert_eq!(env.scan().missing, 0);

    std::fs::write(&gone, &saved).unwrap();
    std::fs::File::options().write(true).open(&gone).unwrap().set_modified(mtime).unwrap();
    let s = env.scan();
    assert_eq!((s.restored, s.decoded), (1, 0), "{s:?}");
    assert_eq!(env.catalog.photo(id).unwrap().unwrap().state, PhotoState::Ok);
    assert!(keep.exists());
}

#[test]
fn original_deleted_but_copy_kept_moves_the_photo_to_the_copy() {
    let mut env = Env::new();
    let bytes = jpeg(&pattern(300, 200, 5));
    env.write("a.jpg", &bytes);
    env.write("b.jpg", &bytes);
    env.scan();
    let photos = env.catalog.photos().unwrap();
    assert_eq!(photos.len(), 1);
    let (id, original) = (photos[0].id, photos[0].path.clone());
    let copy = env.catalog.duplicate_paths(id).unwrap().remove(0);
    std::fs::remove_file(&original).unwrap();
    let s = env.scan();
    assert_eq!((s.missing, s.moved), (0, 1), "{s:?}");
    assert_eq!(env.catalog.photo(id).unwrap().unwrap().path, copy);
    assert!(env.catalog.duplicate_paths(id).unwrap().is_empty());
}

#[test]
fn changed_content_is_a_new_photo_with_a_new_thumbnail() {
    let mut env = Env::new();
    let path = env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    env.scan();
    let before = photo_at(&env, "a.jpg");
    std::fs::write(&path, jpeg(&pattern(200, 300, 2))).unwrap();
    let s = env.scan();
    assert_eq!((s.changed, s.new, s.decoded), (1, 0, 1), "{s:?}");
    let after = photo_at(&env, "a.jpg");
    // The labels went to the old picture: see tests/it/harden_scan.rs.
    assert_ne!(after.id, before.id);
    assert_ne!(after.content_hash, before.content_hash);
    assert_eq!((after.width, after.height), (Some(200), Some(300)));
}

#[test]
fn deleted_thumbnail_is_remade_by_the_next_scan() {
    let mut env = Env::new();
    env.write("a.jpg", &jpeg(&pattern(300, 200, 1)));
    env.write("b.jpg", &jpeg(&pattern(300, 200, 2)));
    env.scan();
    let before = photo_at(&env, "a.jpg");
    let thumb = env.library.root().join(before.thumb_path.as_ref().unwrap());
    std::fs::remove_file(&thumb).unwrap();
    let s = env.scan();
    // Only the photo whose thumbnail is gone is read again; it is not "changed".
    assert_eq!((s.unchanged, s.files_read, s.decoded, s.new, s.changed), (2, 1, 1, 0, 0), "{s:?}");
    assert!(thumb.is_file(), "the thumbnail is back");
    let after = photo_at(&env, "a.jpg");
    assert_eq!((after.id, after.thumb_path), (before.id, before.thumb_path));
}

#[test]
fn scanning_one_folder_leaves_other_folders_alone() {
    let mut env = Env::new();
    env.write("a/1.jpg", &jpeg(&pattern(100, 100, 1)));
    env.write("b/2.jpg", &jpeg(&pattern(100, 100, 2)));
    env.scan();
    let roots = [env.photos.join("a")];
    let s =
        photosift::ingest::scan(&mut env.catalog, &env.library, &roots, &env.cfg, &|_| {}).unwrap();
    assert_eq!((s.unchanged, s.missing), (1, 0), "{s:?}");
    assert_eq!(env.catalog.photo_counts().unwrap().ok, 2);
}

#[test]
fn thumbnails_of_the_library_itself_are_not_scanned() {
    let mut env = Env::new();
    env.write("a.jpg", &jpeg(&pattern(100, 100, 1)));
    env.scan();
    // Scan a folder that contains the library (and so its thumbs/).
    let roots = [env.dir.path().to_path_buf()];
    let s =
        photosift::ingest::scan(&mut env.catalog, &env.library, &roots, &env.cfg, &|_| {}).unwrap();
    assert_eq!((s.files, s.new), (1, 0), "{s:?}");
}
