//! The whole app loop on `TestBackend`: real catalog, real preview worker (half-blocks), real
//! job runner; keys in, labels and screens out.

mod common;

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use photosift::catalog::{LabelKind, LabelValue, PhotoState};
use photosift::config::Config;
use photosift::tui::graphics::Choice;
use photosift::tui::state::{JobOutput, ModelSummary};
use photosift::tui::{App, AppEvent, Mode, Services};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

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
    // Photo 1's thumbnail is gone, and its original never existed.
    std::fs::remove_file(dir.path().join("thumbs/t0000.jpg")).unwrap();
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
                Ok(JobOutput::Trained {
                    summary: "trained model v7".into(),
                    model: Some(ModelSummary { version: 7, auc: Some(0.88) }),
                })
            })
        })),
        seed: None,
    };
    let mut app = open(dir.path(), 5, services);
    press(&app, KeyCode::Char('r'));
    assert!(app.pump_until(WAIT, |a| screen(a).contains("retrain 50% training")).unwrap());
    // Labeling goes on while it trains.
    press(&app, KeyCode::Char('w'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Ambiguous).done == 1).unwrap());
    tx.send(()).unwrap();
    assert!(app.pump_until(WAIT, |a| screen(a).contains("trained model v7")).unwrap());
    // The rebuilt queues keep the photo on screen (IMG_0002) first.
    assert!(app.pump_until(WAIT, |a| !a.state().job_running("retrain")).unwrap());
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
    press(&app, KeyCode::Char('x'));
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Best).done == 2).unwrap());
    let cat = library.open_catalog().unwrap();
    let print = cat.current_labels(LabelKind::Print).unwrap();
    assert_eq!(print, vec![(ids[0], LabelValue::Yes), (ids[1], LabelValue::No)]);
    assert_eq!(cat.current_labels(LabelKind::Kind).unwrap(), vec![(ids[1], LabelValue::No)]);
    // A undoes X as one decision: both labels go.
    press(&app, KeyCode::Left);
    assert!(app.pump_until(WAIT, |a| a.state().queue(Mode::Best).done == 1).unwrap());
    assert!(cat.current_labels(LabelKind::Kind).unwrap().is_empty());
    assert_eq!(cat.current_labels(LabelKind::Print).unwrap(), vec![(ids[0], LabelValue::Yes)]);
    assert!(app.pump_until(WAIT, |a| a.photo_ready() && screen(a).contains("IMG_0002")).unwrap());
}

#[test]
fn a_broken_thumbnail_gets_a_placeholder_but_is_not_marked_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 2, 2, (200, 150));
    std::fs::write(dir.path().join("thumbs/t0000.jpg"), b"not a jpeg").unwrap();
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
