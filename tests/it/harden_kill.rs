//! kill -9 at random moments: the real binary scanning (and embedding), labeling in tmux,
//! training and exporting is killed with SIGKILL over and over; after each kill the catalog
//! passes `PRAGMA integrity_check`, every acknowledged label is there, committed photos have
//! their thumbnails, a model is never recorded without its scores, the export folder holds
//! only complete files (or photosift's staging files), and the next run resumes.
//!
//! The polite signals too (issue 31): SIGTERM, SIGHUP and SIGINT while labeling and while a
//! retrain runs must leave the terminal as it was (`stty -g` before and after, the main screen,
//! the cursor), exit with 128 + the signal and keep every label; a terminal that closes with
//! SIGHUP ignored must end the session and free the library.
//!
//! `cargo test --release --test it harden_kill` kills each 6 times; the full run:
//! `HARDEN_KILLS=100 cargo test --release --test it harden_kill -- --nocapture --test-threads 1`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use photosift::catalog::{Catalog, PhotoState};
use photosift::config::Backbone;

use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue, PhotoId};
use rusqlite::Connection;

use crate::process::sigkill_and_wait;
use crate::tmux::Tmux;
use crate::tools::require_tmux;
use crate::{common, hostile};

/// Most kills must land while the process runs: a window that shrank until every run
/// finished before its kill would test nothing. At least this share of them.
fn assert_landed(what: &str, landed: usize, runs: usize) {
    assert!(
        landed * 2 >= runs,
        "{what}: only {landed} of {runs} kills landed mid-run (the others finished first)"
    );
}

fn kills() -> usize {
    std::env::var("HARDEN_KILLS").ok().and_then(|n| n.parse().ok()).unwrap_or(6)
}

/// xorshift64*: reproducible from the seed the test prints.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed =
            std::env::var("HARDEN_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            }) | 1;
        eprintln!("HARDEN_SEED={seed}");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn integrity(path: &Path) {
    let conn = Connection::open(path).unwrap();
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    let fk: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(fk, 0, "foreign key violations");
}

fn sigkill(pid: u32) {
    crate::process::signal(pid as i32, libc::SIGKILL);
}

fn write_photo(dir: &Path, i: usize) {
    let img = hostile::picture(900 + (i % 7) as u32 * 16, 600, (i % 251) as u8);
    // A distinct mark so every photo has distinct bytes.
    let mut img = img;
    img.put_pixel((i / 251) as u32 % 900, 7, image::Rgb([255, 0, (i % 256) as u8]));
    std::fs::write(dir.join(format!("IMG_{i:04}.jpg")), hostile::jpeg(&img)).unwrap();
}

#[test]
fn scan_and_embed_survive_sigkill_at_random_moments() {
    let n_kills = kills();
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let (lib, photos, config) =
        (dir.path().join("library"), dir.path().join("photos"), dir.path().join("c.toml"));
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(&config, "").unwrap();
    let catalog_path = lib.join("catalog.sqlite");
    let mut next_photo = 0;
    for _ in 0..30 {
        write_photo(&photos, next_photo);
        next_photo += 1;
    }
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_photosift"))
            .arg("--library")
            .arg(&lib)
            .arg("--config")
            .arg(&config)
            .arg("scan")
            .arg(&photos)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut labels: Vec<(PhotoId, LabelValue)> = Vec::new();
    let (mut landed, mut finished, mut prev_ok) = (0, 0, 0i64);
    let mut window_ms = 4000u64;
    // Runs until `n_kills` kills landed mid-run (or three times as many runs).
    let mut round = 0;
    while landed < n_kills && round < 3 * n_kills {
        round += 1;
        // New work for every run: a few new photos, and now and then a moved one.
        for _ in 0..3 {
            write_photo(&photos, next_photo);
            next_photo += 1;
        }
        if round % 4 == 3 {
            let from = photos.join(format!("IMG_{:04}.jpg", round));
            let _ = std::fs::rename(&from, photos.join(format!("moved_{round:04}.jpg")));
        }
        let mut child = spawn();
        let delay = Duration::from_millis(rng.below(window_ms));
        let started = Instant::now();
        let mut exited = None;
        while started.elapsed() < delay {
            if let Some(status) = child.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        match exited {
            Some(status) => {
                finished += 1;
                let err = child.wait_with_output().unwrap();
                assert!(status.success(), "{}", String::from_utf8_lossy(&err.stderr));
                // Finished early: aim well inside such a run next time.
                window_ms = (started.elapsed().as_millis() as u64 * 8 / 10).max(200);
            }
            None => {
                sigkill(child.id());
                let out: Output = child.wait_with_output().unwrap();
                assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
                landed += 1;
            }
        }

        integrity(&catalog_path);
        let mut cat = Catalog::open(&catalog_path).unwrap();
        let photos_now = cat.photos().unwrap();
        let ok: Vec<_> = photos_now.iter().filter(|p| p.state == PhotoState::Ok).collect();
        // Committed work is never lost, and a committed photo has its thumbnail on disk.
        assert!(ok.len() as i64 >= prev_ok, "round {round}: {} ok < {prev_ok}", ok.len());
        prev_ok = ok.len() as i64;
        assert!(photos_now.iter().all(|p| p.state != PhotoState::Error), "round {round}");
        for p in &ok {
            let thumb = lib.join(p.thumb_path.as_ref().unwrap());
            image::open(&thumb).unwrap_or_else(|e| panic!("{}: {e}", thumb.display()));
        }
        // Every label acknowledged (committed) so far is still there.
        let current = cat.current_labels(LabelKind::Kind).unwrap();
        for (id, value) in &labels {
            assert!(current.iter().any(|(p, v)| p == id && v == value), "label of {id:?} lost");
        }
        if let Some(p) = ok.get(rng.below(ok.len() as u64) as usize) {
            let value = if rng.below(2) == 0 { LabelValue::Yes } else { LabelValue::No };
            cat.record_decisions(&[Decision::single(
                p.id,
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                value,
            )])
            .unwrap();
            labels.retain(|(id, _)| *id != p.id);
            labels.push((p.id, value));
        }
    }

    assert_eq!(landed, n_kills, "scan: only {landed} of {round} runs were killed mid-run");
    // The next run resumes and completes: every photo in, thumbnailed and embedded.
    let out = spawn().wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    integrity(&catalog_path);
    let conn = Connection::open(&catalog_path).unwrap();
    let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    let files = std::fs::read_dir(&photos).unwrap().count() as i64;
    assert_eq!(q("SELECT count(*) FROM photos WHERE state = 'ok'"), files);
    assert_eq!(q("SELECT count(*) FROM photos WHERE state <> 'ok'"), 0);
    assert_eq!(q("SELECT count(DISTINCT photo_id) FROM embeddings"), files);
    eprintln!(
        "scan kill test: {round} runs, {landed} killed mid-run by SIGKILL, {finished} \
         finished before their kill time; {files} photos, {} labels kept; all checks passed",
        labels.len()
    );
}

/// Runs `cmd` and SIGKILLs it after a random delay below `window_ms`; true if it was killed
/// (false: it finished first, successfully). The window shrinks when runs finish early.
fn run_and_kill(cmd: &mut Command, rng: &mut Rng, window_ms: &mut u64) -> bool {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let delay = Duration::from_millis(rng.below(*window_ms));
    let started = Instant::now();
    while started.elapsed() < delay {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            *window_ms = (started.elapsed().as_millis() as u64 * 8 / 10).max(100);
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    sigkill(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    true
}

#[test]
fn training_survives_sigkill_at_random_moments() {
    let n_kills = kills();
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 3000, 8, (64, 48));
    let catalog_path = library.catalog_path();
    {
        let mut cat = library.open_catalog().unwrap();
        let vectors: Vec<(PhotoId, Vec<f32>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let v = (0..1152).map(|k| ((i * 31 + k * 17) % 97) as f32 / 97.0).collect();
                (*id, v)
            })
            .collect();
        cat.put_embeddings(photosift::model::BACKBONE_ID, &vectors).unwrap();
        for (i, id) in ids.iter().take(40).enumerate() {
            let value = if i % 2 == 0 { LabelValue::Yes } else { LabelValue::No };
            cat.record_decisions(&[Decision::single(
                *id,
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                value,
            )])
            .unwrap();
        }
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let cmd = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_photosift"));
        c.arg("--library").arg(library.root()).arg("--config").arg(&config);
        c.args(["train", "--frozen"]);
        c
    };
    let (mut killed, mut window_ms, mut prev_models) = (0, 3000u64, 0i64);
    for round in 0..n_kills {
        killed += usize::from(run_and_kill(&mut cmd(), &mut rng, &mut window_ms));
        integrity(&catalog_path);
        let conn = Connection::open(&catalog_path).unwrap();
        let q = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        let models = q("SELECT count(*) FROM models");
        assert!(models >= prev_models, "round {round}: a model version vanished");
        prev_models = models;
        // A model is recorded together with every photo's score, or not at all (the newest
        // three keep their scores: one row each, 8 bytes of photo id per photo).
        let partial = q("SELECT count(*) FROM (SELECT id FROM models ORDER BY id DESC LIMIT 3) m \
                         WHERE coalesce((SELECT length(s.photo_ids) FROM model_scores s \
                                         WHERE s.model_id = m.id), 0) <> 3000 * 8");
        assert_eq!(partial, 0, "round {round}: a model without all its scores");
        assert_eq!(q("SELECT count(*) FROM label_events"), 40, "round {round}: labels changed");
    }
    assert_landed("train", killed, n_kills);
    let out = cmd().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    integrity(&catalog_path);
    assert!(Catalog::open(&catalog_path).unwrap().latest_model().unwrap().is_some());
    eprintln!(
        "train kill test: {n_kills} runs, {killed} killed mid-run by SIGKILL; {prev_models} \
         model versions in the catalog after the last kill, each with all 3000 scores; the \
         final run completed; all checks passed"
    );
}

/// What may be in an export folder after a kill: complete photos (each byte-identical to an
/// original), photosift's complete list and sheets, its manifest and lock, staging files.
fn check_export_folder(dest: &Path, originals: &[Vec<u8>], round: usize) -> usize {
    let mut staging = 0;
    let Ok(entries) = std::fs::read_dir(dest) else { return 0 };
    for entry in entries {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path()).unwrap();
        if name.starts_with(".photosift-partial-") {
            staging += 1;
        } else if name.starts_with(".photosift-export") {
        } else if name.ends_with(".jpg") {
            assert!(originals.contains(&bytes), "round {round}: {name} is not a complete photo");
        } else if name.ends_with(".csv") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.starts_with("exported_file,") && text.ends_with("\r\n"), "{name}");
        } else if name.ends_with(".png") {
            image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            panic!("round {round}: unexpected {name}");
        }
    }
    staging
}

#[test]
fn export_survives_sigkill_at_random_moments() {
    let n_kills = kills();
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let (lib, photos, dest) =
        (dir.path().join("library"), dir.path().join("photos"), dir.path().join("prints"));
    std::fs::create_dir_all(&photos).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[scan]\nembed = false\n").unwrap();
    for i in 0..60 {
        write_photo(&photos, i);
    }
    let run = |args: &[&std::ffi::OsStr]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_photosift"));
        c.arg("--library").arg(&lib).arg("--config").arg(&config).args(args);
        c
    };
    let out = run(&["scan".as_ref(), photos.as_os_str()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    {
        let mut cat = Catalog::open(&lib.join("catalog.sqlite")).unwrap();
        for p in cat.photos().unwrap() {
            let d = Decision::single(p.id, DecisionMode::Best, LabelKind::Print, LabelValue::Yes);
            cat.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
    }
    let originals: Vec<Vec<u8>> = std::fs::read_dir(&photos)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    let export = || run(&["export".as_ref(), dest.as_os_str()]);
    let (mut killed, mut window_ms, mut staging_seen) = (0, 3000u64, 0);
    for round in 0..n_kills {
        // Now and then a fresh folder, so kills land while photos are copied too.
        if round % 3 == 0 {
            let _ = std::fs::remove_dir_all(&dest);
        }
        killed += usize::from(run_and_kill(&mut export(), &mut rng, &mut window_ms));
        staging_seen += check_export_folder(&dest, &originals, round);
    }
    assert_landed("export", killed, n_kills);
    let out = export().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(check_export_folder(&dest, &originals, n_kills), 0, "staging files cleaned up");
    let jpgs = std::fs::read_dir(&dest)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".jpg"))
        .count();
    assert_eq!(jpgs, originals.len(), "every pick exactly once");
    let csvs = std::fs::read_dir(&dest)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".csv"))
        .count();
    assert_eq!(csvs, 1, "one picks.csv, replaced rather than renamed after kills");
    eprintln!(
        "export kill test: {n_kills} runs, {killed} killed mid-run by SIGKILL, {staging_seen} \
         staging files left by kills (removed by the next run); after every kill each file was \
         complete; the final run completed with every pick once; all checks passed"
    );
}

/// The "yes N no M" of the status bar.
fn shown_counts(screen: &str) -> Option<(i64, i64)> {
    let at = screen.find("yes ")?;
    let mut words = screen[at..].split_whitespace();
    let (_, yes, no_word, no) = (words.next()?, words.next()?, words.next()?, words.next()?);
    (no_word == "no").then_some(())?;
    Some((yes.parse().ok()?, no.parse().ok()?))
}

fn counts(path: &Path) -> (i64, i64) {
    let c = Catalog::open(path).unwrap().label_counts().unwrap();
    (c.kind_yes as i64, c.kind_no as i64)
}

#[test]
fn labeling_survives_sigkill_at_random_moments() {
    if !require_tmux("labeling kill test") {
        return;
    }
    let n_kills = kills();
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let (library, _ids) = common::library_with_photos(dir.path(), 800, 16, (96, 72));
    let catalog_path = library.catalog_path();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let command = format!(
        "exec {} --library '{}' --config '{}'",
        env!("CARGO_BIN_EXE_photosift"),
        dir.path().display(),
        config.display()
    );
    let tmux = Tmux::new("kill");
    let (mut sent, mut acked_total, mut beyond) = (0, 0, 0);
    for round in 0..n_kills {
        let session = format!("k{round}");
        tmux.start(&session, 110, 32, &command);
        let pid = tmux.pane_pid(&session);
        // Resumes: the session shows exactly the labels the catalog holds.
        let (y0, n0) = counts(&catalog_path);
        tmux.wait_loaded(&session);
        tmux.wait_for(&session, &["AMBIGUOUS", &format!("yes {y0} no {n0} ")]);

        let keys = 1 + rng.below(8);
        let (mut sy, mut sn) = (0, 0);
        let mut screen = String::new();
        for k in 0..keys {
            if k + 1 == keys {
                // What the screen acknowledged, then one more key and the kill right behind
                // it: the kill lands while that label is being written, or just after.
                std::thread::sleep(Duration::from_millis(rng.below(80)));
                screen = tmux.capture(&session);
            }
            if rng.below(2) == 0 {
                tmux.keys(&session, "w");
                sy += 1;
            } else {
                tmux.keys(&session, "s");
                sn += 1;
            }
            if k + 1 < keys {
                std::thread::sleep(Duration::from_millis(rng.below(60)));
            }
        }
        sent += keys;
        std::thread::sleep(Duration::from_micros(rng.below(8000)));
        sigkill_and_wait(pid);
        let _ = tmux.cmd(&["kill-session", "-t", &session]);

        integrity(&catalog_path);
        let (y, n) = counts(&catalog_path);
        let (ay, an) = shown_counts(&screen).unwrap_or((y0, n0));
        // Everything the screen acknowledged is in the catalog; nothing was invented.
        assert!(y >= ay && n >= an, "round {round}: catalog {y}/{n} < screen {ay}/{an}\n{screen}");
        assert!(y <= y0 + sy && n <= n0 + sn, "round {round}: more labels than keys");
        acked_total += (ay - y0) + (an - n0);
        // Keys not yet shown at the capture: written before the kill, or not at all.
        beyond += (y + n) - (ay + an);
    }
    let (y, n) = counts(&catalog_path);
    eprintln!(
        "labeling kill test: {n_kills} sessions killed by SIGKILL, {sent} keys sent, \
         {acked_total} labels acknowledged on screen, all of them in the catalog; {beyond} more \
         written between the last screen capture and the kill (the last key of each session \
         goes a few ms before the kill); {} labels in the catalog; all checks passed",
        y + n
    );
}

/// The binary under test; `PHOTOSIFT_BIN` runs these tests against another build (an older
/// one, to show a test fails there).
fn binary() -> std::path::PathBuf {
    std::env::var_os("PHOTOSIFT_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_photosift").into())
}

/// The photosift process under `pid` (a pane's shell, or the shell it started), once it runs.
fn photosift_under(pid: i32) -> i32 {
    let exe = std::fs::canonicalize(binary()).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let mut queue = vec![pid];
        while let Some(p) = queue.pop() {
            if std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == exe) {
                return p;
            }
            let children =
                std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
            queue.extend(children.split_whitespace().filter_map(|c| c.parse::<i32>().ok()));
        }
        assert!(Instant::now() < end, "no photosift process under {pid}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (up to 20 s) until `path` exists and returns its contents.
fn wait_for_file(path: &Path) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text;
        }
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A tmux format of the session's pane (`#{alternate_on}`, `#{cursor_flag}`).
fn pane_flag(tmux: &Tmux, session: &str, format: &str) -> String {
    let out = tmux.cmd(&["display-message", "-p", "-t", session, format]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Issue 31, item 3: SIGTERM, SIGHUP and SIGINT during labeling and during a retrain. The TUI
/// runs from a `sh` line in tmux that records `stty -g` before it starts and after it ends,
/// and its exit status. After each signal: the terminal modes are exactly those from before,
/// the alternate screen is left and the cursor shown, the status is 128 + the signal, the
/// catalog holds every acknowledged label and is intact, a model is never without its scores,
/// and the next session opens (the library's lock was released). Before: `stty` showed
/// `-icanon -echo -isig -opost`, the alternate screen stayed on and the cursor hidden.
#[test]
fn labeling_and_retraining_put_the_terminal_back_on_sigterm_sighup_and_sigint() {
    if !require_tmux("signal test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 3000, 8, (64, 48));
    let catalog_path = library.catalog_path();
    {
        // Embedded, with labels of both kinds: R retrains on 3000 photos (a second or more).
        let mut cat = library.open_catalog().unwrap();
        let vectors: Vec<(PhotoId, Vec<f32>)> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let v = (0..1152).map(|k| ((i * 31 + k * 17) % 97) as f32 / 97.0).collect();
                (*id, v)
            })
            .collect();
        cat.put_embeddings(photosift::model::BACKBONE_ID, &vectors).unwrap();
        for (i, id) in ids.iter().take(20).enumerate() {
            let value = if i % 2 == 0 { LabelValue::Yes } else { LabelValue::No };
            let d = Decision::single(*id, DecisionMode::Ambiguous, LabelKind::Kind, value);
            cat.record_decisions(std::slice::from_ref(&d)).unwrap();
        }
    }
    let config = dir.path().join("config.toml");
    // No automatic retrain: only R starts one, so the labeling rounds are labeling only.
    std::fs::write(&config, "[train]\nretrain_every = 0\n").unwrap();
    let tmux = Tmux::new("signals");
    let cases = [
        (libc::SIGTERM, false),
        (libc::SIGHUP, false),
        (libc::SIGINT, false),
        (libc::SIGTERM, true),
        (libc::SIGHUP, true),
        (libc::SIGINT, true),
    ];
    for (round, (sig, retrain)) in cases.into_iter().enumerate() {
        let (before, after, status) = (
            dir.path().join(format!("stty-before-{round}")),
            dir.path().join(format!("stty-after-{round}")),
            dir.path().join(format!("status-{round}")),
        );
        let script = dir.path().join(format!("run-{round}.sh"));
        std::fs::write(
            &script,
            format!(
                "stty -g > '{}'\n'{}' --library '{}' --config '{}'\necho $? > '{}'\n\
                 stty -g > '{}'\nexec sleep 60\n",
                before.display(),
                binary().display(),
                dir.path().display(),
                config.display(),
                status.display(),
                after.display()
            ),
        )
        .unwrap();
        let session = format!("s{round}");
        tmux.start(&session, 110, 32, &format!("sh '{}'", script.display()));
        let pid = photosift_under(tmux.pane_pid(&session));
        let (y0, n0) = counts(&catalog_path);
        tmux.wait_loaded(&session);
        tmux.wait_for(&session, &["AMBIGUOUS", &format!("yes {y0} no {n0} ")]);
        tmux.keys(&session, "w");
        tmux.keys(&session, "s");
        let screen = tmux.wait_for(&session, &[&format!("yes {} no {} ", y0 + 1, n0 + 1)]);
        if retrain {
            tmux.keys(&session, "r");
            tmux.wait_for_within(&session, &["⟳ retrain"], Duration::from_secs(20));
        }
        crate::process::signal(pid, sig);
        crate::process::wait_gone(pid);
        let code = wait_for_file(&status);
        let (b, a) = (wait_for_file(&before), wait_for_file(&after));
        let what = format!(
            "round {round}: signal {sig}{}",
            if retrain { " during a retrain" } else { "" }
        );
        assert_eq!(b, a, "{what}: the terminal modes changed (stty -g before/after)");
        assert_eq!(code.trim(), (128 + sig).to_string(), "{what}: exit status");
        assert_eq!(pane_flag(&tmux, &session, "#{alternate_on}"), "0", "{what}: alternate screen");
        assert_eq!(pane_flag(&tmux, &session, "#{cursor_flag}"), "1", "{what}: cursor hidden");
        let _ = tmux.cmd(&["kill-session", "-t", &session]);

        integrity(&catalog_path);
        let (y, n) = counts(&catalog_path);
        let (ay, an) = shown_counts(&screen).unwrap();
        assert!(y >= ay && n >= an, "{what}: catalog {y}/{n} < screen {ay}/{an}");
        let conn = Connection::open(&catalog_path).unwrap();
        let partial: i64 = conn
            .query_row(
                "SELECT count(*) FROM models m WHERE coalesce((SELECT length(s.photo_ids) \
                 FROM model_scores s WHERE s.model_id = m.id), 0) <> 3000 * 8",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(partial, 0, "{what}: a model without all its scores");
    }
    eprintln!(
        "signal test: SIGTERM, SIGHUP and SIGINT while labeling and while retraining: the \
         terminal modes, the main screen and the cursor were back each time, exit status 128 + \
         the signal, every acknowledged label kept"
    );
}

/// Issue 31, item 4: the terminal closes without a SIGHUP reaching the TUI (ignored, as under
/// `nohup`; `tmux kill-session`). Before: the TUI spun at ~90% CPU forever and kept the
/// library locked, so the next `photosift label` was refused.
#[test]
fn a_closed_terminal_ends_the_session_and_frees_the_library() {
    if !require_tmux("closed terminal test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (library, _ids) = common::library_with_photos(dir.path(), 50, 8, (96, 72));
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let log = dir.path().join("stderr.log");
    // `trap '' HUP` is what nohup does to the signal (nohup would also take stdout away).
    let command = format!(
        "trap '' HUP; exec '{}' --library '{}' --config '{}' label 2> '{}'",
        binary().display(),
        dir.path().display(),
        config.display(),
        log.display()
    );
    let tmux = Tmux::new("closed");
    tmux.start("c", 100, 30, &format!("sh -c \"{command}\""));
    let pid = photosift_under(tmux.pane_pid("c"));
    tmux.wait_loaded("c");
    tmux.keys("c", "w");
    tmux.wait_for("c", &["yes 1 no 0 "]);
    let _ = tmux.cmd(&["kill-session", "-t", "c"]);
    let end = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}/exe")).exists() {
        if Instant::now() > end {
            sigkill(pid as u32);
            panic!("the session kept running after its terminal closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!said.contains("panicked"), "{said}");
    assert_eq!(counts(&library.catalog_path()).0, 1, "the label is kept");
    // The lock is free: another session may open the library.
    let lock = std::fs::File::open(dir.path().join("lock")).unwrap();
    // SAFETY: flock on a file this test opened.
    let free = unsafe {
        libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX | libc::LOCK_NB)
    };
    assert_eq!(free, 0, "the library is still locked");
}

/// Issue 33: switching to CLIP re-embeds the library; `photosift embed` killed with SIGKILL
/// at random moments of that re-embedding loses no label, never a committed embedding, leaves
/// the bundled features alone (labeling goes on with them), and the next run resumes and
/// completes, after which the library works on CLIP. The tiny random-weight CLIP of
/// tests/data/clip-parity stands in for the real weights (`[embed] weights_dir`).
#[test]
fn a_clip_reembedding_survives_sigkill_and_resumes() {
    let n_kills = kills();
    let mut rng = Rng::new();
    let dir = tempfile::tempdir().unwrap();
    let (lib, photos) = (dir.path().join("library"), dir.path().join("photos"));
    // Lite0 (the defaults) for the scans that bring new photos, CLIP for the re-embedding.
    let (lite0_cfg, clip_cfg) = (dir.path().join("lite0.toml"), dir.path().join("clip.toml"));
    std::fs::create_dir_all(&photos).unwrap();
    let n_photos = 60;
    for i in 0..n_photos {
        write_photo(&photos, i);
    }
    let catalog_path = lib.join("catalog.sqlite");
    let run = |config: &Path, cmd: &str, arg: Option<&Path>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_photosift"));
        c.arg("--library").arg(&lib).arg("--config").arg(config).arg(cmd);
        if let Some(a) = arg {
            c.arg(a);
        }
        c
    };
    // The library as Lite0 made it, with answers.
    std::fs::write(&lite0_cfg, "").unwrap();
    let out = run(&lite0_cfg, "scan", Some(&photos)).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut cat = Catalog::open(&catalog_path).unwrap();
    let ids: Vec<PhotoId> = cat.photos().unwrap().iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), n_photos);
    let mut labels = Vec::new();
    for (k, id) in ids.iter().step_by(7).enumerate() {
        let value = if k % 2 == 0 { LabelValue::Yes } else { LabelValue::No };
        let d = Decision::single(*id, DecisionMode::Ambiguous, LabelKind::Kind, value);
        cat.record_decisions(&[d]).unwrap();
        labels.push((*id, value));
    }
    let lite0 = photosift::model::BACKBONE_ID;
    let clip = photosift::model::clip::CLIP_B32_BACKBONE_ID;
    assert_eq!(cat.embedding_count(lite0).unwrap() as usize, n_photos);
    drop(cat);

    // The switch: one photo per transaction, so a kill can land between any two.
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip-parity/model");
    std::fs::write(
        &clip_cfg,
        format!(
            "[model]\nbatch_size = 1\n[embed]\nbackbone = \"clip-b32\"\ndownload = false\n\
             weights_dir = {:?}\n",
            weights.display().to_string()
        ),
    )
    .unwrap();
    let (mut landed, mut rounds, mut prev, mut partial) = (0, 0, 0i64, 0);
    let mut window_ms = 3000u64;
    let mut n_now = n_photos;
    while landed < n_kills && rounds < 3 * n_kills {
        rounds += 1;
        // New photos for every run (scanned with Lite0), so there is always CLIP work left:
        // enough that an embedding run outlasts the kill window's 100 ms floor.
        for _ in 0..24 {
            write_photo(&photos, n_now);
            n_now += 1;
        }
        let out = run(&lite0_cfg, "scan", Some(&photos)).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if run_and_kill(&mut run(&clip_cfg, "embed", None), &mut rng, &mut window_ms) {
            landed += 1;
        }
        integrity(&catalog_path);
        let cat = Catalog::open(&catalog_path).unwrap();
        let now = cat.embedding_count(clip).unwrap() as i64;
        assert!(now >= prev, "round {rounds}: {now} CLIP embeddings < {prev}");
        if now > 0 && (now as usize) < n_now {
            partial += 1;
        }
        prev = now;
        assert_eq!(cat.embedding_count(lite0).unwrap() as usize, n_now, "round {rounds}");
        let current = cat.current_labels(LabelKind::Kind).unwrap();
        for (id, value) in &labels {
            assert!(current.iter().any(|(p, v)| p == id && v == value), "label of {id:?} lost");
        }
        // Until CLIP covers the library, the session keeps the features it had.
        let using = photosift::pipeline::current_backbone(&cat, Backbone::ClipB32).unwrap();
        let want = if now as usize == n_now { clip } else { lite0 };
        assert_eq!(using.unwrap().as_str(), want, "round {rounds}");
    }
    assert_eq!(landed, n_kills, "clip re-embedding: only {landed} of {rounds} runs were killed");
    let out = run(&clip_cfg, "embed", None).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    integrity(&catalog_path);
    let cat = Catalog::open(&catalog_path).unwrap();
    assert_eq!(cat.embedding_count(clip).unwrap() as usize, n_now);
    let current = cat.current_labels(LabelKind::Kind).unwrap();
    assert_eq!(current.len(), labels.len());
    let using = photosift::pipeline::current_backbone(&cat, Backbone::ClipB32).unwrap();
    assert_eq!(using.unwrap().as_str(), clip);
    // status names the backbone and its weights.
    let out = run(&clip_cfg, "status", None).output().unwrap();
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("backbone: clip-b32 ([embed]), weights present"), "{status}");
    eprintln!(
        "clip kill test: {rounds} runs, {landed} killed mid-run, {partial} left a partial \
         re-embedding; {n_now} photos, {} labels kept; all checks passed",
        labels.len()
    );
}
