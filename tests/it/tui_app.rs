//! The whole app loop on `TestBackend`: real catalog, real preview worker (half-blocks), real
//! job runner; keys in, labels and screens out.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use photosift::catalog::PhotoState;
use photosift::config::Config;
use photosift::domain::{LabelKind, LabelValue};
use photosift::tui::graphics::Choice;
use photosift::tui::state::JobKind;
use photosift::tui::{App, AppEvent, Mode, Services};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::common;

const WAIT: Duration = Duration::from_secs(60);

fn screen(app: &App<TestBackend>) -> String {
    let buf = app.terminal().backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn press(app: &App<TestBackend>, code: KeyCode) {
    let ev = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
    app.sender().send(AppEvent::Input(ev)).unwrap();
}

fn open(dir: &std::path::Path, n: usize, services: Services) -> App<TestBackend> {
    let (library, _) = common::library_with_photos(dir, n, 4, (200, 150));
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app =
        App::new(terminal, library, Config::default(), Choice::halfblocks("test"), services)
            .unwrap();
    let ready = |a: &App<TestBackend>| a.state().complete && a.photo_ready();
    assert!(app.pump_until(WAIT, ready).unwrap(), "first photo never showed");
    app
}

#[test]
fn keys_label_photos_and_the_next_one_is_ready() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path(), 10, Services::default());
    assert!(screen(&app).contains("IMG_0001.jpg"));
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).done == 1).unwrap());
    assert!(app.pump_until(WAIT, |a| a.photo_ready()).unwrap());
    press(&app, KeyCode::Down);
    press(&app, KeyCode::Char('d'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).done == 3).unwrap());
    assert!(app.pump_until(WAIT, |a| a.photo_ready()).unwrap());
    let s = screen(&app);
    assert!(s.contains("IMG_0004.jpg") && s.contains("yes 1 no 1 skip 1"), "{s}");

    let cat = photosift::library::Library::create(dir.path()).unwrap().open_catalog().unwrap();
    let kinds = cat.current_labels(LabelKind::Kind).unwrap();
    let values: Vec<LabelValue> = kinds.iter().map(|(_, v)| *v).collect();
    assert_eq!(values, vec![LabelValue::Yes, LabelValue::No, LabelValue::Skip]);

    press(&app, KeyCode::Char('a'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).done == 2).unwrap());
    assert_eq!(cat.label_counts().unwrap().kind_skip, 0);
    press(&app, KeyCode::Char('q'));
    assert!(app.pump_until(WAIT, |a| a.state().quit).unwrap());
}

#[test]
fn resize_reencodes_and_too_small_is_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = open(dir.path(), 3, Services::default());
    app.terminal_mut().backend_mut().resize(30, 8);
    app.sender().send(AppEvent::Input(Event::Resize(30, 8))).unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("too small")).unwrap());
    app.terminal_mut().backend_mut().resize(70, 24);
    app.sender().send(AppEvent::Input(Event::Resize(70, 24))).unwrap();
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("▀")).unwrap());
}

#[test]
fn a_photo_gone_from_disk_shows_a_placeholder_and_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 2, 2, (200, 150));
    // Photo 1's thumbnail is gone, and its original too.
    std::fs::remove_file(dir.path().join("thumbs/t0000.jpg")).unwrap();
    std::fs::remove_file(dir.path().join("camera/IMG_0001.jpg")).unwrap();
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(
        terminal,
        library.clone(),
        Config::default(),
        Choice::halfblocks("test"),
        Services::default(),
    )
    .unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("[photo missing]")).unwrap());
    let cat = library.open_catalog().unwrap();
    assert_eq!(cat.photo(ids[0]).unwrap().unwrap().state, PhotoState::Missing);
    // It can still be labeled (or skipped) and the session goes on.
    press(&app, KeyCode::Char('d'));
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("IMG_0002")).unwrap());
}

#[test]
fn retrain_and_seed_keys_run_jobs_and_rebuild_the_queues() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let services = Services {
        retrain: Some(Box::new(move || {
            let rx = rx.clone();
            Box::new(move |ctx| {
                ctx.progress(0.5, "training");
                rx.lock().unwrap().recv().ok();
                Ok(common::trained(7, Some(0.88)))
            })
        })),
        ..Default::default()
    };
    let mut app = open(dir.path(), 5, services);
    // Nothing to learn from yet: R says what to do instead of training.
    press(&app, KeyCode::Char('r'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("nothing to learn")).unwrap());
    // A seed photo to learn from (the queue rebuild after a catalog change brings its count).
    let mut catalog = photosift::library::Library::at(dir.path()).open_catalog().unwrap();
    let seed = photosift::catalog::NewPhoto {
        path: dir.path().join("seed.jpg"),
        content_hash: "seed".into(),
        source: photosift::catalog::Source::Synthetic,
        seed_label: Some(true),
        ..Default::default()
    };
    catalog.insert_photos(&[seed]).unwrap();
    assert!(app.pump_until(WAIT, |a| a.state().can_learn()).unwrap());
    press(&app, KeyCode::Char('r'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("retrain 50% training")).unwrap());
    // Labeling goes on while it trains.
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).done == 1).unwrap());
    tx.send(()).unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("model v7: 10 yes, 10 no")).unwrap());
    // The answer given while it trained is taken by one more, automatic, retrain.
    tx.send(()).unwrap();
    // The rebuilt queues keep the photo on screen (IMG_0002) first.
    assert!(app.pump_until(WAIT, |a| !a.state().job_running(JobKind::Retrain)).unwrap());
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).pos == 0).unwrap());
    assert!(screen(&app).contains("IMG_0002.jpg"), "{}", screen(&app));
    press(&app, KeyCode::Char('g'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("not available")).unwrap());
}

#[test]
fn best_mode_picks_passes_and_not_the_kind_go_to_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 6, 3, (200, 150));
    common::score_all(&library, &ids, |i| 0.9 - 0.1 * i as f32);
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(
        terminal,
        library.clone(),
        Config::default(),
        Choice::halfblocks("test"),
        Services::default(),
    )
    .unwrap();
    assert!(app.pump_until(WAIT, |a| a.state().complete && a.photo_ready()).unwrap());
    press(&app, KeyCode::Tab);
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("BEST")).unwrap());
    let s = screen(&app);
    assert!(
        s.contains("model v1 AUC 0.83") && s.contains("p 0.90") && s.contains("IMG_0001"),
        "{s}"
    );
    press(&app, KeyCode::Char('w'));
    press(&app, KeyCode::Char('n'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Best).done == 2).unwrap());
    let cat = library.open_catalog().unwrap();
    let print = cat.current_labels(LabelKind::Print).unwrap();
    assert_eq!(print, vec![(ids[0], LabelValue::Yes), (ids[1], LabelValue::No)]);
    // The pick is also a "yes, this kind" for training.
    assert_eq!(
        cat.current_labels(LabelKind::Kind).unwrap(),
        vec![(ids[0], LabelValue::Yes), (ids[1], LabelValue::No)]
    );
    // A undoes X as one decision: both labels go.
    press(&app, KeyCode::Left);
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Best).done == 1).unwrap());
    assert_eq!(cat.current_labels(LabelKind::Kind).unwrap(), vec![(ids[0], LabelValue::Yes)]);
    assert_eq!(cat.current_labels(LabelKind::Print).unwrap(), vec![(ids[0], LabelValue::Yes)]);
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("IMG_0002")).unwrap());
}

#[test]
fn a_broken_thumbnail_gets_a_placeholder_but_is_not_marked_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 2, 2, (200, 150));
    std::fs::write(dir.path().join("thumbs/t0000.jpg"), b"not a jpeg").unwrap();
    std::fs::write(dir.path().join("camera/IMG_0001.jpg"), b"not a jpeg either").unwrap();
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut app = App::new(
        terminal,
        library.clone(),
        Config::default(),
        Choice::halfblocks("test"),
        Services::default(),
    )
    .unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("[photo cannot be shown]")).unwrap());
    let cat = library.open_catalog().unwrap();
    assert_eq!(cat.photo(ids[0]).unwrap().unwrap().state, PhotoState::Ok);
}

fn app_on(library: &photosift::library::Library, services: Services) -> App<TestBackend> {
    let terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    App::new(terminal, library.clone(), Config::default(), Choice::halfblocks("test"), services)
        .unwrap()
}

#[test]
fn the_next_session_opens_in_the_mode_left_and_counts_answers_across_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 6, 3, (200, 150));
    common::score_all(&library, &ids, |i| 0.9 - 0.1 * i as f32);
    let mut app = app_on(&library, Services::default());
    assert!(app.pump_until(WAIT, |a| a.state().complete && a.photo_ready()).unwrap());
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("1/6 answered")).unwrap());
    press(&app, KeyCode::Tab);
    assert!(app.pump_until(WAIT, |a| screen(a).contains("BEST")).unwrap());
    drop(app);

    let mut app = app_on(&library, Services::default());
    assert!(app.pump_until(WAIT, |a| a.state().complete && a.photo_ready()).unwrap());
    assert_eq!(app.state().mode, Mode::Best, "{}", screen(&app));
    press(&app, KeyCode::Tab);
    assert!(app.pump_until(WAIT, |a| screen(a).contains("AMBIGUOUS")).unwrap());
    assert!(screen(&app).contains("1/6 answered"), "{}", screen(&app));
}

#[test]
fn keys_do_nothing_while_the_terminal_is_too_small() {
    let dir = tempfile::tempdir().unwrap();
    let (library, _) = common::library_with_photos(dir.path(), 3, 3, (200, 150));
    let mut app = app_on(&library, Services::default());
    assert!(app.pump_until(WAIT, |a| a.state().complete && a.photo_ready()).unwrap());
    app.terminal_mut().backend_mut().resize(39, 12);
    app.sender().send(AppEvent::Input(Event::Resize(39, 12))).unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("too small")).unwrap());
    for c in ['w', 's', 'd'] {
        press(&app, KeyCode::Char(c));
    }
    app.pump_until(Duration::from_millis(300), |_| false).unwrap();
    let cat = library.open_catalog().unwrap();
    assert_eq!(cat.label_counts().unwrap(), Default::default(), "no label on a hidden photo");
    press(&app, KeyCode::Char('q'));
    assert!(app.pump_until(WAIT, |a| a.state().quit).unwrap());
}

#[test]
fn a_model_and_photos_added_by_another_process_show_up_and_the_photo_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 4, 4, (200, 150));
    let mut app = app_on(&library, Services::default());
    assert!(app.pump_until(WAIT, |a| a.state().complete && a.photo_ready()).unwrap());
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("IMG_0002")).unwrap());
    assert!(app.state().model.is_none());

    // `photosift train` in another terminal: a model scoring photo 2 lowest.
    common::score_all(&library, &ids, |i| if i == 1 { 0.01 } else { 0.5 });
    assert!(
        app.pump_until(WAIT, |a| a.state().model.is_some_and(|m| m.version == 1)).unwrap(),
        "the new model never showed"
    );
    assert!(app.pump_until(WAIT, |a| a.photo_ready()).unwrap());
    assert!(screen(&app).contains("IMG_0002"), "the photo on screen stays:\n{}", screen(&app));
    assert!(screen(&app).contains("model v1"), "{}", screen(&app));

    // `photosift scan` in another terminal: two more photos.
    let mut cat = library.open_catalog().unwrap();
    let more: Vec<photosift::catalog::NewPhoto> = (0..2)
        .map(|i| photosift::catalog::NewPhoto {
            path: dir.path().join(format!("camera/NEW_{i}.jpg")),
            content_hash: format!("new{i}"),
            thumb_path: Some("thumbs/t0000.jpg".into()),
            ..Default::default()
        })
        .collect();
    cat.insert_photos(&more).unwrap();
    assert!(app.pump_until(WAIT, |a| a.state().total_photos == 6).unwrap());
    assert!(screen(&app).contains("IMG_0002"));
}

#[test]
fn a_deleted_original_is_noticed_while_its_thumbnail_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 3, 3, (200, 150));
    std::fs::remove_file(dir.path().join("camera/IMG_0001.jpg")).unwrap();
    let mut app = app_on(&library, Services::default());
    assert!(app.pump_until(WAIT, |a| screen(a).contains("original missing")).unwrap());
    assert!(screen(&app).contains("▀"), "the thumbnail still shows");
    let cat = library.open_catalog().unwrap();
    assert_eq!(cat.photo(ids[0]).unwrap().unwrap().state, PhotoState::Missing);
    drop(cat);
    drop(app);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_photosift"))
        .args(["--library", dir.path().to_str().unwrap(), "status", "--missing"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert!(out.contains("missing: ") && out.contains("IMG_0001.jpg"), "{out}");
    assert!(!out.contains("IMG_0002.jpg"), "{out}");
}

#[test]
fn photos_a_background_scan_adds_show_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (library, _) = common::library_with_photos(dir.path(), 0, 2, (200, 150));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let lib = library.clone();
    let services = Services {
        scan: Some(Box::new(move || {
            let (rx, lib) = (rx.clone(), lib.clone());
            Box::new(move |ctx| {
                let mut cat = lib.open_catalog()?;
                let photos: Vec<photosift::catalog::NewPhoto> = (0..3)
                    .map(|i| photosift::catalog::NewPhoto {
                        path: lib.root().join(format!("camera/SCAN_{i}.jpg")),
                        content_hash: format!("scan{i}"),
                        thumb_path: Some("thumbs/t0000.jpg".into()),
                        ..Default::default()
                    })
                    .collect();
                for p in &photos {
                    std::fs::copy(lib.root().join("thumbs/t0000.jpg"), &p.path)?;
                }
                cat.insert_photos(&photos)?;
                ctx.progress(0.3, "reading 3/10 photos");
                rx.lock().unwrap().recv().ok();
                Ok(common::scanned(3))
            })
        })),
        ..Default::default()
    };
    let mut app = app_on(&library, services);
    let shown = |a: &App<TestBackend>| a.photo_ready() && screen(a).contains("SCAN_0.jpg");
    assert!(app.pump_until(WAIT, shown).unwrap(), "{}", screen(&app));
    assert!(screen(&app).contains("scan 30% reading 3/10"), "{}", screen(&app));
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("yes 1 no 0")).unwrap());
    tx.send(()).unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("scan done: 3 new")).unwrap());
}
