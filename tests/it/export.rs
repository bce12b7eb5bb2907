//! `photosift export` on generated photos: byte-identical copies with EXIF and mtime kept,
//! never overwriting, resuming, picks.csv and contact sheet written, the print check.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use image::{Rgb, RgbImage};
use photosift::catalog::{DuplicateFile, Photo, PhotoState, Pick, Source};
use photosift::domain::{ModelId, PhotoId};
use photosift::export::{ExportOptions, ExportSummary, Outcome, export_list};
use photosift::print_check::PrintSpec;

/// A JPEG with an EXIF APP1 segment (Make = "photosift-test") spliced in after SOI.
fn jpeg_with_exif(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([shade, (x % 256) as u8, (y % 256) as u8]));
    let mut jpeg = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    let make = b"photosift-test\0";
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00\x08\x00\x00\x00"); // little-endian, IFD0 at 8
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry
    tiff.extend_from_slice(&0x010fu16.to_le_bytes()); // Make
    tiff.extend_from_slice(&2u16.to_le_bytes()); // ASCII
    tiff.extend_from_slice(&(make.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes()); // value offset: after this IFD
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    tiff.extend_from_slice(make);
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    dest: PathBuf,
    picks: Vec<Pick>,
}

/// Three picks: a big photo, a small one (too small for 8x10in), and one in another folder
/// with the same file name as the first. Thumbnails live under the "library" folder.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let library = root.join("library");
    fs::create_dir_all(library.join("thumbs")).unwrap();
    let mut picks = Vec::new();
    let specs = [
        ("phone/2023/IMG_0001.jpg", 96, 64, (4032, 3024), Some(0.97)),
        ("phone/2023/IMG_0002.jpg", 48, 32, (640, 480), Some(0.81)),
        ("camera/IMG_0001.jpg", 64, 96, (3000, 4000), None),
    ];
    for (i, (rel, w, h, (dw, dh), p)) in specs.into_iter().enumerate() {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, jpeg_with_exif(w, h, 40 * i as u8)).unwrap();
        let thumb = PathBuf::from(format!("thumbs/{i}.jpg"));
        RgbImage::from_pixel(w, h, Rgb([200, 40 * i as u8, 0])).save(library.join(&thumb)).unwrap();
        picks.push(Pick {
            photo: Photo {
                id: PhotoId(i as i64 + 1),
                path,
                content_hash: String::new(),
                byte_size: 0,
                mtime_ns: 0,
                width: Some(dw),
                height: Some(dh),
                taken_at: Some(1_700_000_000 + i as i64),
                thumb_path: Some(thumb),
                source: Source::Camera,
                state: PhotoState::Ok,
                error: None,
                prompt: None,
                seed_label: None,
                taken_source: None,
                taken_offset: None,
                live_video: None,
                screenshot: false,
            },
            p,
            model: p.map(|_| ModelId(3)),
            picked_at_ms: 0,
            duplicates: Vec::new(),
        });
    }
    let dest = root.join("prints");
    let mut f = Fixture { _dir: dir, root, dest, picks };
    rescan(&mut f);
    f
}

/// Size, mtime and content hash of a file, as a scan records them.
fn facts(path: &Path) -> (u64, i64, String) {
    let meta = fs::metadata(path).unwrap();
    let mtime = meta.modified().unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    let hash = blake3::hash(&fs::read(path).unwrap()).to_hex().to_string();
    (meta.len(), mtime.as_nanos() as i64, hash)
}

/// What a scan would now record for the picks' originals.
fn rescan(f: &mut Fixture) {
    for pick in &mut f.picks {
        if pick.photo.path.exists() {
            let (size, mtime, hash) = facts(&pick.photo.path);
            (pick.photo.byte_size, pick.photo.mtime_ns, pick.photo.content_hash) =
                (size, mtime, hash);
        }
    }
}

fn options(dest: &Path) -> ExportOptions {
    ExportOptions {
        dest: dest.to_path_buf(),
        print: Some(PrintSpec::from_config("8x10in", 300).unwrap().unwrap()),
        contact_sheet: true,
        into_photo_folder: false,
    }
}

fn run(f: &Fixture) -> ExportSummary {
    export_list(f.picks.clone(), &f.root.join("library"), &options(&f.dest), &mut |_| {}).unwrap()
}

fn photo_files(dest: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jpg"))
        .collect();
    names.sort();
    names
}

#[test]
fn export_copies_originals_byte_identical_with_exif_and_mtime() {
    let f = fixture();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let original = &f.picks[0].photo.path;
    fs::File::options().write(true).open(original).unwrap().set_modified(old).unwrap();
    let mut f = f;
    rescan(&mut f);
    let before: Vec<Vec<u8>> = f.picks.iter().map(|p| fs::read(&p.photo.path).unwrap()).collect();

    let summary = run(&f);
    assert_eq!(summary.copied(), 3);
    assert_eq!(photo_files(&f.dest), ["IMG_0001-2.jpg", "IMG_0001.jpg", "IMG_0002.jpg"]);
    let copy = f.dest.join("IMG_0001.jpg");
    assert_eq!(fs::read(&copy).unwrap(), before[0]);
    assert_eq!(fs::read(f.dest.join("IMG_0001-2.jpg")).unwrap(), before[2]);
    assert_eq!(fs::metadata(&copy).unwrap().modified().unwrap(), old);
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::BufReader::new(fs::File::open(&copy).unwrap()))
        .unwrap();
    let make = exif.get_field(exif::Tag::Make, exif::In::PRIMARY).unwrap();
    assert_eq!(make.display_value().to_string(), "\"photosift-test\"");
    // The originals were not touched.
    for (p, bytes) in f.picks.iter().zip(&before) {
        assert_eq!(&fs::read(&p.photo.path).unwrap(), bytes);
    }
}

#[test]
fn export_never_overwrites_a_different_file() {
    let f = fixture();
    fs::create_dir_all(&f.dest).unwrap();
    fs::write(f.dest.join("IMG_0002.jpg"), b"someone else's photo").unwrap();
    let summary = run(&f);
    assert_eq!(fs::read(f.dest.join("IMG_0002.jpg")).unwrap(), b"someone else's photo");
    assert_eq!(summary.picks[1].exported_name().as_deref(), Some("IMG_0002-2.jpg"));
    assert_eq!(
        fs::read(f.dest.join("IMG_0002-2.jpg")).unwrap(),
        fs::read(&f.picks[1].photo.path).unwrap()
    );
}

#[test]
fn export_resumes_without_copying_twice() {
    let f = fixture();
    run(&f);
    let again = run(&f);
    assert_eq!((again.copied(), again.already_there()), (0, 3));
    assert_eq!(photo_files(&f.dest).len(), 3);
    // An interrupted export: one copy missing and a staging file left behind. A file named
    // like the staging files of earlier versions is not photosift's to remove.
    fs::remove_file(f.dest.join("IMG_0002.jpg")).unwrap();
    fs::write(f.dest.join(".photosift-partial-Kx7q2Lp9"), b"half").unwrap();
    fs::write(f.dest.join(".IMG_0002.jpg.photosift-partial"), b"not ours").unwrap();
    let resumed = run(&f);
    assert_eq!((resumed.copied(), resumed.already_there()), (1, 2));
    assert!(
        matches!(&resumed.picks[1].outcome, Outcome::Copied { target, .. } if target.ends_with("IMG_0002.jpg"))
    );
    assert_eq!(photo_files(&f.dest), ["IMG_0001-2.jpg", "IMG_0001.jpg", "IMG_0002.jpg"]);
    assert!(!f.dest.join(".photosift-partial-Kx7q2Lp9").exists());
    assert_eq!(fs::read(f.dest.join(".IMG_0002.jpg.photosift-partial")).unwrap(), b"not ours");
}

#[test]
fn export_writes_picks_csv_and_a_contact_sheet() {
    let f = fixture();
    let summary = run(&f);
    let csv = fs::read_to_string(f.dest.join("picks.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(
        lines[0],
        "exported_file,original_path,date,p,model_version,width,height,print_check,status,\
         original_path_bytes"
    );
    // A plain path (letters, digits, `.`, `/`) is its own percent-encoding.
    let original = f.picks[0].photo.path.display();
    assert_eq!(
        lines[1],
        format!(
            "IMG_0001.jpg,{original},2023-11-14 22:13:20,0.9700,3,4032,3024,ok,copied,{original}"
        )
    );
    assert!(lines[3].starts_with("IMG_0001-2.jpg,"), "{}", lines[3]);
    assert!(
        lines[3].contains(",,,3000,4000,ok,copied,"),
        "unscored: empty p and model: {}",
        lines[3]
    );

    assert_eq!(summary.contact_sheets, vec![f.dest.join("picks-contact-sheet.png")]);
    let sheet = image::open(&summary.contact_sheets[0]).unwrap();
    assert!(sheet.width() > 600 && sheet.height() > 200);
    assert_eq!(photo_files(&f.dest).len(), 3, "the sheet is not mistaken for a photo");
}

#[test]
fn print_check_flags_the_small_photo() {
    let f = fixture();
    let summary = run(&f);
    let small: Vec<_> = summary.too_small().map(|e| e.pick.photo.id).collect();
    assert_eq!(small, vec![PhotoId(2)]);
    let csv = fs::read_to_string(f.dest.join("picks.csv")).unwrap();
    let row = csv.lines().find(|l| l.starts_with("IMG_0002.jpg")).unwrap();
    assert!(
        row.contains("\"too small: 640x480 px, needs 3000x2400 px; would print at 60 dpi\""),
        "{row}"
    );
    let report = summary.report();
    assert!(report.contains("1 pick has too few pixels for 8x10in at 300 dpi"), "{report}");
    assert!(report.contains("IMG_0002.jpg: too small"), "{report}");
}

#[test]
fn a_missing_original_is_skipped_and_the_rest_exported() {
    let mut f = fixture();
    fs::remove_file(&f.picks[1].photo.path).unwrap();
    let summary = run(&f);
    assert_eq!(summary.copied(), 2);
    assert_eq!(summary.picks[1].outcome, Outcome::Missing);
    let report = summary.report();
    assert!(report.contains("Skipped 1 pick"), "{report}");
    assert!(report.contains("IMG_0002.jpg: missing"), "{report}");
    let csv = fs::read_to_string(f.dest.join("picks.csv")).unwrap();
    assert!(csv.contains(",missing original"), "{csv}");

    // With a duplicate of the same bytes elsewhere, that copy is exported instead.
    let backup = f.root.join("backup/IMG_0002.jpg");
    fs::create_dir_all(backup.parent().unwrap()).unwrap();
    fs::write(&backup, jpeg_with_exif(48, 32, 40)).unwrap();
    let (byte_size, mtime_ns, hash) = facts(&backup);
    assert_eq!(hash, f.picks[1].photo.content_hash, "the same bytes");
    f.picks[1].duplicates = vec![DuplicateFile { path: backup.clone(), byte_size, mtime_ns }];
    let summary = run(&f);
    assert_eq!(summary.picks[1].source.as_deref(), Some(backup.as_path()));
    assert_eq!(fs::read(f.dest.join("IMG_0002.jpg")).unwrap(), fs::read(&backup).unwrap());
}

#[test]
fn no_picks_writes_nothing() {
    let f = fixture();
    let summary = export_list(Vec::new(), &f.root, &options(&f.dest), &mut |_| {}).unwrap();
    assert!(summary.picks.is_empty());
    assert!(!f.dest.exists());
    assert!(summary.report().contains("Nothing to export"));
}
