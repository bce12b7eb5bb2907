//! Snapshot tests of each screen on ratatui's `TestBackend` with the half-block protocol.
//! Snapshots live in tests/snapshots/*.txt; `UPDATE_SNAPSHOTS=1` rewrites them. Image cells
//! are written as `#` so a snapshot checks where the photo is, not its JPEG decoder's pixels.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use photosift::catalog::LabelCounts;

use photosift::domain::PhotoId;
use photosift::jobs::{JobMsg, JobProgress};
use photosift::pipeline::queues::{ModelSummary, PhotoInfo, QueueData};
use photosift::queue::BestEntry;
use photosift::tui::graphics::{Choice, Protocol};
use photosift::tui::preview::{PreviewCache, PreviewRequest, PreviewSettings, make_preview};
use photosift::tui::state::{JobKind, JobOutput, Msg, update};
use photosift::tui::view;
use photosift::tui::{Action, Keymap, Mode, State};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::{Rect, Size};
use ratatui::style::Color;

use crate::common;

struct Fixture {
    _dir: tempfile::TempDir,
    thumbs: Vec<PathBuf>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let thumbs = (0..6)
        .map(|i| {
            let p = dir.path().join(format!("t{i}.png"));
            common::picture(i, 160, 120).save(&p).unwrap();
            p
        })
        .collect();
    Fixture { _dir: dir, thumbs }
}

fn info(f: &Fixture, i: usize, thumb: bool) -> PhotoInfo {
    PhotoInfo {
        path: PathBuf::from(format!("/photos/2023/IMG_{:04}.jpg", i + 1)),
        thumb: thumb.then(|| f.thumbs[i % f.thumbs.len()].clone()),
        taken_at: Some(common::T0 + 2 * i as i64),
        width: Some(4032),
        height: Some(3024),
        p: Some(0.25 + 0.1 * i as f32),
        missing: false,
        ..Default::default()
    }
}

fn loaded(f: &Fixture, amb: usize, best: &[usize], model: bool) -> State {
    let mut s = State::new(Keymap::defaults(), 0);
    let photos: HashMap<PhotoId, PhotoInfo> =
        (0..6).map(|i| (PhotoId(i as i64 + 1), info(f, i, i != 5))).collect();
    let data = QueueData {
        ambiguous: (1..=amb as i64).map(PhotoId).collect(),
        best: best
            .iter()
            .enumerate()
            .map(|(i, g)| BestEntry { photo: PhotoId(6 - i as i64 - 1), group: *g })
            .collect(),
        photos,
        model: model.then_some(ModelSummary { version: 3, auc: Some(0.91) }),
        counts: LabelCounts { kind_yes: 12, kind_no: 30, kind_skip: 3, picked: 4, passed: 9 },
        seeds: 0,
        // The library holds more photos than these six (42 of them answered).
        total_photos: 64,
        complete: true,
    };
    update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Queues,
            result: Ok(JobOutput::Queues(Box::new(data))),
            elapsed: Duration::ZERO,
        }),
    );
    s
}

/// Makes every preview the screen wants, as the worker would, in half-blocks.
fn previews_for(state: &State, area: Rect) -> PreviewCache {
    previews_in(Choice::halfblocks("test"), state, area)
}

fn previews_in(graphics: Choice, state: &State, area: Rect) -> PreviewCache {
    let settings = PreviewSettings::new(graphics, photosift::config::Config::default().scan);
    let mut cache = PreviewCache::default();
    for (photo, size) in view::wanted_previews(area, state, 2) {
        let info = &state.photos[&photo];
        let req = PreviewRequest {
            photo,
            size,
            loupe: None,
            thumb: info.thumb.clone(),
            original: info.path.clone(),
            dims: info.width.zip(info.height),
            main: size != view::strip_cell(),
        };
        cache.insert(make_preview(&settings, &req));
    }
    cache
}

fn render(state: &State, width: u16, height: u16) -> String {
    let area = Rect::new(0, 0, width, height);
    let previews = previews_for(state, area);
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, state, &previews)).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            let cell = &buf[(x, y)];
            // Image cells carry the photo's colours; any half-block symbol is one too.
            let image = matches!(cell.bg, Color::Rgb(..)) || matches!(cell.symbol(), "▀" | "▄");
            line.push_str(if image { "#" } else { cell.symbol() });
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn check(name: &str, screen: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/{name}.txt"));
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let expected = std::fs::read_to_string(&path);
    // Under CI a missing snapshot is a failure: writing it would make the test pass on a
    // screen nobody looked at.
    assert!(
        expected.is_ok() || update || !crate::tools::under_ci(),
        "no snapshot {} (run the test once with UPDATE_SNAPSHOTS=1, look at it, commit it)",
        path.display()
    );
    match expected {
        Ok(expected) if !update => {
            assert!(
                expected == screen,
                "screen {name} changed; got:\n{screen}\nexpected:\n{expected}\n(UPDATE_SNAPSHOTS=1 to accept)"
            );
        }
        _ => {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, screen).unwrap();
            eprintln!("wrote snapshot {}", path.display());
        }
    }
}

#[test]
fn ambiguous_screen() {
    let f = fixture();
    let s = loaded(&f, 4, &[0, 1, 1], true);
    let screen = render(&s, 100, 30);
    assert!(screen.contains("AMBIGUOUS"));
    assert!(screen.contains("IMG_0001.jpg"));
    assert!(screen.contains("#####"), "the photo is drawn");
    check("ambiguous", &screen);
}

#[test]
fn best_screen_with_burst_strip_after_a_pick() {
    let f = fixture();
    let mut s = loaded(&f, 4, &[0, 1, 1, 1], true);
    update(&mut s, Msg::Action(Action::SwitchMode));
    update(&mut s, Msg::Action(Action::Yes));
    update(&mut s, Msg::Recorded { mode: Mode::Best, advanced: 1, counts: None, error: None });
    update(&mut s, Msg::Action(Action::Yes));
    update(&mut s, Msg::Recorded { mode: Mode::Best, advanced: 1, counts: None, error: None });
    let screen = render(&s, 100, 34);
    assert!(screen.contains("BEST"));
    assert!(screen.contains("▲ 2/3 ▲") && screen.contains("3/3 done"), "{screen}");
    assert!(screen.contains("passes the 2 left"), "{screen}");
    check("best_burst", &screen);
}

#[test]
fn help_overlay() {
    let f = fixture();
    let mut s = loaded(&f, 4, &[], true);
    update(&mut s, Msg::Action(Action::Help));
    let screen = render(&s, 100, 30);
    for needle in ["W/↑", "pick it for print", "not_kind", "switch_mode", "Ctrl-C"] {
        assert!(screen.contains(needle), "{needle} missing:\n{screen}");
    }
    check("help", &screen);
}

/// A kitty placement sits above the text, so the help overlay must not be drawn under one;
/// sixel pixels are replaced by the text drawn over them and stay.
#[test]
fn the_help_overlay_leaves_kitty_images_out() {
    let f = fixture();
    let mut s = loaded(&f, 4, &[], true);
    let area = Rect::new(0, 0, 100, 30);
    let escapes = |s: &State, protocol| {
        let previews = previews_in(Choice::fixed(protocol, (8, 16)), s, area);
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal.draw(|f| view::draw(f, s, &previews)).unwrap();
        let buf = terminal.backend().buffer();
        buf.content().iter().filter(|c| c.symbol().starts_with('\x1b')).count()
    };
    assert_eq!(escapes(&s, Protocol::Kitty), 1, "the photo, placed");
    assert_eq!(escapes(&s, Protocol::Sixel), 1);
    update(&mut s, Msg::Action(Action::Help));
    assert_eq!(escapes(&s, Protocol::Kitty), 0, "a kitty image would hide the help");
    assert_eq!(escapes(&s, Protocol::Sixel), 1, "the help is drawn over the sixel's cells");
}

#[test]
fn too_small_terminal() {
    let f = fixture();
    let s = loaded(&f, 4, &[], true);
    let screen = render(&s, 30, 8);
    assert!(screen.contains("too small"));
    check("too_small", &screen);
}

#[test]
fn empty_library_says_to_scan() {
    let mut s = State::new(Keymap::defaults(), 0);
    update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Queues,
            result: Ok(JobOutput::Queues(Box::default())),
            elapsed: Duration::ZERO,
        }),
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains("photosift label ~/Pictures"), "{screen}");
    check("empty_library", &screen);
}

#[test]
fn empty_queues_say_what_to_do_next() {
    let f = fixture();
    let mut s = loaded(&f, 0, &[], false);
    let screen = render(&s, 100, 30);
    assert!(screen.contains("Every photo has a label"), "{screen}");
    check("all_labeled", &screen);
    update(&mut s, Msg::Action(Action::SwitchMode));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("No model yet"), "{screen}");
    check("best_no_model", &screen);
}

#[test]
fn missing_photo_shows_a_placeholder() {
    let f = fixture();
    let mut s = loaded(&f, 6, &[], true);
    for _ in 0..5 {
        update(&mut s, Msg::Action(Action::Skip));
        update(
            &mut s,
            Msg::Recorded { mode: Mode::Ambiguous, advanced: 1, counts: None, error: None },
        );
    }
    assert_eq!(s.current(), Some(PhotoId(6)));
    update(&mut s, Msg::PhotoMissing(PhotoId(6)));
    let screen = render(&s, 100, 30);
    assert!(screen.contains("[photo missing]") && screen.contains("MISSING"), "{screen}");
    check("missing_photo", &screen);
}

#[test]
fn status_bar_shows_jobs_and_the_last_error() {
    let f = fixture();
    let mut s = loaded(&f, 4, &[], true);
    update(
        &mut s,
        Msg::Job(JobMsg::Progress(JobProgress {
            job: JobKind::Retrain,
            fraction: 0.4,
            note: "scoring".into(),
            eta: Some(Duration::from_millis(2500)),
        })),
    );
    update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Seed,
            result: Err("no prompts in config".into()),
            elapsed: Duration::ZERO,
        }),
    );
    let screen = render(&s, 120, 30);
    assert!(screen.contains("retrain 40% scoring ~3s left"), "{screen}");
    assert!(screen.contains("error: seed: no prompts in config"), "{screen}");
    assert!(screen.contains("model v3 AUC 0.91"), "{screen}");
    check("jobs_status", &screen);
}

#[test]
fn loading_screen() {
    let s = State::new(Keymap::defaults(), 0);
    let screen = render(&s, 100, 30);
    assert!(screen.contains("Loading the queues"));
    check("loading", &screen);
}

#[test]
fn previews_fit_the_photo_area() {
    let f = fixture();
    let s = loaded(&f, 4, &[], true);
    let area = Rect::new(0, 0, 100, 30);
    let photo = view::areas(area, &s).photo;
    let cache = previews_for(&s, area);
    assert!(cache.contains(PhotoId(1), photo.as_size()));
    assert!(!cache.contains(PhotoId(1), Size::new(10, 10)));
}

#[test]
fn best_mode_flags_a_photo_too_small_to_print() {
    let f = fixture();
    let mut s = loaded(&f, 4, &[0, 1], true);
    s.print = photosift::print_check::PrintSpec::from_config("20x30cm", 300).unwrap();
    update(&mut s, Msg::Action(Action::SwitchMode));
    // 4032 x 3024 px is enough for 20x30 cm at 300 dpi (2362 x 3543 px)...
    let screen = render(&s, 100, 30);
    assert!(screen.contains("20x30cm at 300 dpi: ok"), "{screen}");
    // ...a 1600 x 1200 px photo is not.
    let current = s.current().unwrap();
    let info = s.photos.get_mut(&current).unwrap();
    (info.width, info.height) = (Some(1600), Some(1200));
    let screen = render(&s, 100, 30);
    // (The side panel wraps the line.)
    assert!(screen.contains("too small for 20x30cm") && screen.contains("135 dpi"), "{screen}");
    // Ambiguous mode asks another question: no print check there.
    update(&mut s, Msg::Action(Action::SwitchMode));
    assert!(!render(&s, 100, 30).contains("dpi"));
}
