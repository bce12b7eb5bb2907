//! Hostile export folders and originals (issue 16, items 1-5), through the real binary: links
//! planted in DEST, a pick named like photosift's own files, originals changed or swapped for
//! links after the scan, the user's own files in DEST, two exports at once. Nothing in DEST or
//! outside it that photosift did not write is modified; no exported byte differs from what the
//! catalog identified.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use photosift::catalog::Catalog;

use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue};

use crate::hostile;

struct Env {
    dir: tempfile::TempDir,
    photos: PathBuf,
    library: PathBuf,
    config: PathBuf,
}

impl Env {
    /// `names` are written as distinct JPEGs (PNG for `.png` names), scanned, and all picked.
    fn with_picks(names: &[&str]) -> Env {
        let names: Vec<&OsStr> = names.iter().map(OsStr::new).collect();
        Env::with_pick_names(&names)
    }

    /// [`Env::with_picks`] for any file names (bytes that are not UTF-8 included).
    fn with_pick_names(names: &[&OsStr]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let photos = dir.path().join("photos");
        fs::create_dir_all(&photos).unwrap();
        for (i, name) in names.iter().enumerate() {
            let img = hostile::picture(160 + 8 * i as u32, 120, i as u8 * 40);
            if name.as_bytes().ends_with(b".png") {
                img.save(photos.join(name)).unwrap();
            } else {
                fs::write(photos.join(name), hostile::jpeg(&img)).unwrap();
            }
        }
        let config = dir.path().join("config.toml");
        fs::write(&config, "[scan]\nembed = false\n").unwrap();
        let env = Env { library: dir.path().join("library"), photos, config, dir };
        env.ok(&["scan", env.photos.to_str().unwrap()]);
        let mut catalog = Catalog::open(&env.library.join("catalog.sqlite")).unwrap();
        for p in catalog.photos().unwrap() {
            let d = Decision::single(p.id, DecisionMode::Best, LabelKind::Print, LabelValue::Yes);
            catalog.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
        env
    }

    fn dest(&self) -> PathBuf {
        self.dir.path().join("prints")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.arg("--library").arg(&self.library).arg("--config").arg(&self.config).args(args);
        c
    }

    /// Runs photosift, killing it after `limit`; `None` if it had to be killed.
    fn run_limited(&self, args: &[&str], limit: Duration) -> Option<Output> {
        let mut child =
            self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > limit {
                child.kill().unwrap();
                child.wait().unwrap();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(child.wait_with_output().unwrap())
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run_limited(args, Duration::from_secs(120)).expect("photosift hung");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "photosift {args:?} failed:\n{stdout}\n{stderr}");
        stdout
    }

    fn export(&self) -> String {
        self.ok(&["export", self.dest().to_str().unwrap()])
    }
}

/// A file's bytes and mtime: what "not modified" compares.
fn snapshot(path: &Path) -> (Vec<u8>, SystemTime) {
    let meta = fs::symlink_metadata(path).unwrap();
    let bytes = if meta.file_type().is_symlink() {
        fs::read_link(path).unwrap().into_os_string().into_encoded_bytes()
    } else {
        fs::read(path).unwrap()
    };
    (bytes, meta.modified().unwrap())
}

#[test]
fn links_planted_in_dest_are_never_written_through() {
    let env = Env::with_picks(&["IMG.jpg", "OTHER.jpg"]);
    let outside = env.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    let dest = env.dest();
    fs::create_dir_all(&dest).unwrap();
    let mut victims = Vec::new();
    // The staging names of earlier versions, and the final names themselves.
    let planted = [
        ".IMG.jpg.photosift-partial",
        ".OTHER.jpg.photosift-partial",
        "picks.csv.photosift-partial",
        "picks-contact-sheet.png.photosift-partial",
        ".photosift-export.photosift-partial",
        "OTHER.jpg",
        "picks.csv",
        "picks-contact-sheet.png",
    ];
    for (i, name) in planted.iter().enumerate() {
        let victim = outside.join(format!("victim{i}"));
        fs::write(&victim, format!("victim {i}, not photosift's")).unwrap();
        symlink(&victim, dest.join(name)).unwrap();
        victims.push(victim);
    }
    let before: Vec<_> = victims.iter().map(|v| snapshot(v)).collect();
    let links: Vec<_> = planted.iter().map(|n| snapshot(&dest.join(n))).collect();

    env.export();
    env.export();

    for (v, b) in victims.iter().zip(&before) {
        assert_eq!(&snapshot(v), b, "{} was written through a link", v.display());
    }
    for (n, l) in planted.iter().zip(&links) {
        assert_eq!(&snapshot(&dest.join(n)), l, "the link {n} was replaced or removed");
    }
    // The photos landed as regular files with the original bytes.
    let img = dest.join("IMG.jpg");
    assert!(fs::symlink_metadata(&img).unwrap().is_file());
    assert_eq!(fs::read(&img).unwrap(), fs::read(env.photos.join("IMG.jpg")).unwrap());
    let other = dest.join("OTHER-2.jpg");
    assert!(fs::symlink_metadata(&other).unwrap().is_file());
    assert_eq!(fs::read(&other).unwrap(), fs::read(env.photos.join("OTHER.jpg")).unwrap());
}

#[test]
fn a_pick_named_like_a_contact_sheet_is_exported_without_hanging() {
    let env = Env::with_picks(&["one.png", "two.png", "a.jpg"]);
    // Scans skip files named like contact sheets now; a catalog from before has them.
    let conn = rusqlite::Connection::open(env.library.join("catalog.sqlite")).unwrap();
    for (from, to) in
        [("one.png", "picks-contact-sheet.png"), ("two.png", "picks-contact-sheet-2.png")]
    {
        let (from, to) = (env.photos.join(from), env.photos.join(to));
        fs::rename(&from, &to).unwrap();
        let blob = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
        let n = conn
            .execute("UPDATE photos SET path = ?2 WHERE path = ?1", (blob(&from), blob(&to)))
            .unwrap();
        assert_eq!(n, 1);
    }
    drop(conn);
    let dest = env.dest();
    let out = env.run_limited(&["export", dest.to_str().unwrap()], Duration::from_secs(60));
    let out = out.expect("export hung on a pick named picks-contact-sheet*.png");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Exported 3 of 3 picks"), "{stdout}");
    // Every original is in DEST under some name, byte for byte, and a contact sheet too.
    let exported: Vec<Vec<u8>> =
        fs::read_dir(&dest).unwrap().map(|e| fs::read(e.unwrap().path()).unwrap()).collect();
    for name in ["picks-contact-sheet.png", "picks-contact-sheet-2.png", "a.jpg"] {
        let bytes = fs::read(env.photos.join(name)).unwrap();
        assert!(exported.contains(&bytes), "{name} not exported");
    }
    assert!(
        exported.len() >= 5,
        "3 photos, picks.csv, a sheet: {:?}",
        fs::read_dir(&dest).unwrap().count()
    );
}

#[test]
fn an_original_changed_or_swapped_for_a_link_after_the_scan_is_not_exported() {
    let env = Env::with_picks(&["same-size.jpg", "bigger.jpg", "linked.jpg", "good.jpg"]);
    let secret = env.dir.path().join("secret.txt");
    fs::write(&secret, "a file outside the scanned folder").unwrap();
    // Same size and mtime, other bytes: only the content hash can tell.
    let path = env.photos.join("same-size.jpg");
    let meta = fs::metadata(&path).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    // Another photo written over it.
    fs::write(env.photos.join("bigger.jpg"), hostile::jpeg(&hostile::picture(300, 200, 9)))
        .unwrap();
    // A link to a file outside the scanned folder.
    fs::remove_file(env.photos.join("linked.jpg")).unwrap();
    symlink(&secret, env.photos.join("linked.jpg")).unwrap();

    let report = env.export();
    let dest = env.dest();
    assert!(report.contains("Exported 1 of 4 picks"), "{report}");
    for name in ["same-size.jpg", "bigger.jpg", "linked.jpg"] {
        assert!(!dest.join(name).exists(), "{name} was exported");
        assert!(report.contains(name), "{name} not reported: {report}");
    }
    assert!(report.contains("changed since"), "{report}");
    assert_eq!(
        fs::read(dest.join("good.jpg")).unwrap(),
        fs::read(env.photos.join("good.jpg")).unwrap()
    );
    let csv = fs::read_to_string(dest.join("picks.csv")).unwrap();
    assert_eq!(csv.matches("changed since").count(), 3, "{csv}");
    // No leftover staging file either.
    let names: Vec<String> = fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    // After a rescan marks the link's photo failed, it is still not exported.
    env.ok(&["scan", env.photos.to_str().unwrap()]);
    env.export();
    assert!(!dest.join("linked.jpg").exists());
    let all: Vec<Vec<u8>> =
        fs::read_dir(&dest).unwrap().map(|e| fs::read(e.unwrap().path()).unwrap()).collect();
    assert!(!all.contains(&fs::read(&secret).unwrap()), "the outside file was copied");
}

#[test]
fn the_users_own_files_in_dest_are_never_replaced_or_removed() {
    let env = Env::with_picks(&["a.jpg", "b.jpg"]);
    let dest = env.dest();
    fs::create_dir_all(&dest).unwrap();
    let mine = ["picks.csv", "picks-contact-sheet.png", "picks-contact-sheet-holiday.png"];
    for name in mine {
        fs::write(dest.join(name), format!("the user's own {name}")).unwrap();
    }
    let before: Vec<_> = mine.iter().map(|n| snapshot(&dest.join(n))).collect();
    env.export();
    let second = env.export();
    for (n, b) in mine.iter().zip(&before) {
        assert_eq!(&snapshot(&dest.join(n)), b, "{n} was replaced or removed");
    }
    // photosift's own list and sheet went to new names, and the second run replaced them
    // rather than adding more.
    assert!(second.contains("picks-2.csv"), "{second}");
    let csv = fs::read_to_string(dest.join("picks-2.csv")).unwrap();
    assert!(csv.starts_with("exported_file,"), "{csv}");
    assert!(!dest.join("picks-3.csv").exists());
    let sheets = fs::read_dir(&dest)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name().into_string().unwrap();
            n.starts_with("picks-contact-sheet") && !mine.contains(&n.as_str())
        })
        .count();
    assert_eq!(sheets, 1, "one contact sheet of photosift's own");
}

#[test]
fn two_exports_to_one_folder_at_once_both_succeed() {
    let names: Vec<String> = (0..12).map(|i| format!("IMG_{i:04}.jpg")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let env = Env::with_picks(&refs);
    for round in 0..3 {
        let dest = env.dir.path().join(format!("together-{round}"));
        let d = dest.to_str().unwrap();
        let spawn = || {
            env.command(&["export", d])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for name in &names {
            assert_eq!(
                fs::read(dest.join(name)).unwrap(),
                fs::read(env.photos.join(name)).unwrap()
            );
        }
        let jpgs = fs::read_dir(&dest)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".jpg"))
            .count();
        assert_eq!(jpgs, names.len(), "round {round}: each photo once");
    }
}

/// The binary under test; `PHOTOSIFT_BIN` runs these tests against another build (an older
/// photosift, to see each case fail there).
fn binary() -> PathBuf {
    std::env::var_os("PHOTOSIFT_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_photosift")), PathBuf::from)
}

/// A failing run: its stderr.
fn refused(env: &Env, args: &[&str]) -> String {
    let out = env.run_limited(args, Duration::from_secs(120)).expect("photosift hung");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "photosift {args:?} was not refused:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Splits one CSV record (RFC 4180: quoted fields, doubled quotes) into its fields.
fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Issue 31, item 6: picks named `=HYPERLINK("http://x","y").jpg` and `+cmd.jpg` went into
/// picks.csv as they were (a spreadsheet runs them as formulas), an ESC byte went in raw, and
/// a name that is not UTF-8 became U+FFFD, so `original_path` no longer found the file.
#[test]
fn picks_csv_neutralises_formulas_escapes_controls_and_keeps_the_exact_path() {
    let names: [&OsStr; 5] = [
        OsStr::new("=HYPERLINK(\"evil.example\",\"y\").jpg"),
        OsStr::new("+cmd.jpg"),
        OsStr::new("@SUM(A1).jpg"),
        OsStr::new("esc\u{1b}]52;c;aGk=\u{7}\u{202e}.jpg"),
        OsStr::from_bytes(b"caf\xe9 -1.jpg"),
    ];
    let env = Env::with_pick_names(&names);
    env.export();
    let bytes = fs::read(env.dest().join("picks.csv")).unwrap();
    assert!(!bytes.contains(&0x1b) && !bytes.contains(&0x07), "control bytes in picks.csv");
    let text = String::from_utf8(bytes).expect("picks.csv is UTF-8");
    assert!(!text.contains('\u{202e}'), "a bidi override in picks.csv");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let header = csv_fields(lines.next().unwrap());
    let col = |name: &str| header.iter().position(|h| h == name).expect(name);
    let (exported, original, exact) =
        (col("exported_file"), col("original_path"), col("original_path_bytes"));
    let mut found = Vec::new();
    for line in lines {
        let fields = csv_fields(line);
        for f in &fields {
            assert!(!f.starts_with(['=', '+', '-', '@', '\t', '\r']), "a formula cell: {f:?}");
        }
        // The exact path: percent-decoded, it is the original, byte for byte.
        let path = PathBuf::from(OsStr::from_bytes(&percent_decode(&fields[exact])));
        assert!(path.is_file(), "{path:?} does not find the original");
        assert_eq!(path.parent().unwrap(), env.photos);
        found.push(path.file_name().unwrap().to_owned());
        assert!(fields[original].contains("/photos/"), "{:?}", fields[original]);
        assert!(!fields[exported].is_empty());
    }
    found.sort();
    let mut want: Vec<_> = names.iter().map(|n| n.to_os_string()).collect();
    want.sort();
    assert_eq!(found, want);
    assert!(text.contains("'=HYPERLINK("), "{text}");
    assert!(text.contains(r"caf\xe9 -1.jpg"), "{text}");
}

/// Issue 31, item 8 (and 11: exporting into the library): exporting into a scanned photo
/// folder marked it "not photos" for later scans (a new photo there was never found), and
/// exporting into the picks' own folder reported "already there from an earlier export" for
/// every pick. Now such a DEST (inside or above a scanned folder, or inside the library) is
/// refused unless asked for with `--into-photo-folder`, and the manifest lists the copies, so
/// scans skip exactly them.
#[test]
fn export_into_a_photo_folder_or_the_library_is_refused_unless_asked_and_hides_nothing() {
    let env = Env::with_picks(&["a.jpg", "b.jpg"]);
    let photos = env.photos.to_str().unwrap().to_owned();
    let inside = env.photos.join("prints");
    let above = env.dir.path().to_path_buf();
    let in_library = env.library.join("prints");
    for (dest, says) in [
        (env.photos.clone(), "inside the scanned photo folder"),
        (inside.clone(), "inside the scanned photo folder"),
        (above.clone(), "above the scanned photo folder"),
        (in_library.clone(), "inside the library folder"),
    ] {
        let err = refused(&env, &["export", dest.to_str().unwrap()]);
        assert!(err.contains(says) && err.contains("--into-photo-folder"), "{dest:?}: {err}");
    }
    assert!(!env.photos.join(".photosift-export").exists() && !inside.exists());
    assert!(!env.photos.join("picks.csv").exists());
    let thumbs = env.library.join("thumbs");
    let err = refused(&env, &["export", "--into-photo-folder", thumbs.to_str().unwrap()]);
    assert!(err.contains("photosift's own"), "{err}");

    // Asked for: the picks' own folder. Copies, not "already there" (the originals are not
    // earlier copies of themselves).
    let out = env.ok(&["export", "--into-photo-folder", &photos]);
    assert!(out.contains("2 copied") && !out.contains("already there"), "{out}");
    assert!(env.photos.join("a-2.jpg").is_file() && env.photos.join("b-2.jpg").is_file());
    // A new photo copied there later is found; the copies are not taken for duplicates.
    fs::write(env.photos.join("c.jpg"), hostile::jpeg(&hostile::picture(200, 150, 99))).unwrap();
    let out = env.ok(&["scan", &photos]);
    assert!(out.contains("new 1 ") && out.contains("duplicates 0"), "{out}");
    // Exported into the library and the library scanned: the copies are not added either.
    env.ok(&["export", "--into-photo-folder", in_library.to_str().unwrap()]);
    let out = env.ok(&["scan", env.library.to_str().unwrap()]);
    assert!(out.contains("new 0 ") && out.contains("duplicates 0"), "{out}");
}

/// Issue 31, item 7: a photo replaced by a folder, a FIFO or a link to /dev/null stayed "ok":
/// `status` counted it, `export` refused it with "run `photosift scan` on its folder", and
/// the scan changed nothing. Now the next scan marks such a path missing.
#[test]
fn a_photo_replaced_by_a_folder_a_fifo_or_a_dev_null_link_becomes_missing() {
    let env = Env::with_picks(&["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
    let (a, b, c) = (env.photos.join("a.jpg"), env.photos.join("b.jpg"), env.photos.join("c.jpg"));
    fs::remove_file(&a).unwrap();
    fs::create_dir(&a).unwrap();
    fs::remove_file(&b).unwrap();
    let fifo = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) on a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    fs::remove_file(&c).unwrap();
    symlink("/dev/null", &c).unwrap();
    let out = env.ok(&["scan", env.photos.to_str().unwrap()]);
    assert!(out.contains("missing 3 "), "{out}");
    let status = env.ok(&["status"]);
    assert!(status.contains("(1 ok, 3 missing, 0 failed"), "{status}");
    let out = env.export();
    assert!(out.contains("Exported 1 of 4"), "{out}");
    assert!(!out.contains("run `photosift scan`"), "advice in a circle: {out}");
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        assert!(out.contains(&format!("{name}: missing")), "{name}: {out}");
    }
}

/// Issue 31, item 11: a full disk while the contact sheet was written printed the error twice
/// ("No space left on device (os error 28): No space left on device (os error 28)") and did
/// not say that a rerun resumes.
#[test]
fn a_full_disk_while_drawing_the_contact_sheet_is_said_once_with_how_to_resume() {
    let env = Env::with_picks(&["a.jpg", "b.jpg", "c.jpg"]);
    let Some(_disk) = crate::tools::Tmpfs::mount(&env.dest(), "4m", "contact sheet disk-full test")
    else {
        return;
    };
    let dest = env.dest().to_str().unwrap().to_owned();
    env.ok(&["export", "--no-contact-sheet", &dest]);
    let filler = crate::harden_faults::fill_disk(&env.dest(), 24 * 1024);
    let err = refused(&env, &["export", &dest]);
    eprintln!("full disk while drawing the contact sheet: {err}");
    assert_eq!(err.matches("No space left on device").count(), 1, "{err}");
    assert!(err.contains("run the export again to resume"), "{err}");
    fs::remove_file(filler).unwrap();
    let out = env.export();
    assert!(out.contains("3 already there"), "{out}");
}
