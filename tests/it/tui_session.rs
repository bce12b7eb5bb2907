//! The labeling session as a user lives it (issue 15): each rough edge found in a real session,
//! checked through the pure `update` and the screen it draws on `TestBackend`.

use std::collections::HashMap;
use std::time::Duration;

use photosift::catalog::{Catalog, LabelCounts, NewPhoto};

use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue, PhotoId};
use photosift::jobs::JobMsg;
use photosift::pipeline::queues::{ModelSummary, PhotoInfo, QueueData};
use photosift::queue::BestEntry;
use photosift::tui::preview::PreviewCache;
use photosift::tui::state::{Effect, JobKind, JobOutput, Msg, update};
use photosift::tui::view;
use photosift::tui::{Action, Keymap, Mode, State};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::common;

/// Best queue: photo 10 alone, then a burst of 11, 12, 13 (taken in the order 13, 11, 12),
/// then 14.
pub(crate) const BEST: [(i64, usize); 5] = [(10, 0), (11, 1), (12, 1), (13, 1), (14, 2)];

pub(crate) fn data(amb: &[i64], best: &[(i64, usize)]) -> QueueData {
    let mut photos = HashMap::new();
    for id in amb.iter().chain(best.iter().map(|(p, _)| p)) {
        let taken = if *id == 13 { 0 } else { *id };
        photos.insert(
            PhotoId(*id),
            PhotoInfo {
                path: format!("/photos/2023/holiday/IMG_{id}.jpg").into(),
                taken_at: Some(1_686_744_000 + taken),
                ..Default::default()
            },
        );
    }
    QueueData {
        ambiguous: amb.iter().map(|p| PhotoId(*p)).collect(),
        best: best.iter().map(|(p, g)| BestEntry { photo: PhotoId(*p), group: *g }).collect(),
        photos,
        model: Some(ModelSummary { version: 1, auc: Some(0.8) }),
        total_photos: amb.len() + best.len(),
        complete: true,
        ..Default::default()
    }
}

pub(crate) fn done(job: JobKind, result: Result<JobOutput, String>) -> Msg {
    Msg::Job(JobMsg::Done { job, result, elapsed: Duration::ZERO })
}

pub(crate) fn state_with(amb: &[i64], best: &[(i64, usize)]) -> State {
    let mut s = State::new(Keymap::defaults(), 0);
    update(&mut s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::new(data(amb, best))))));
    s
}

pub(crate) fn key(s: &mut State, a: Action) -> Vec<Effect> {
    update(s, Msg::Action(a))
}

/// Runs effects against a catalog the way the app loop does.
fn run(s: &mut State, cat: &mut Catalog, effects: Vec<Effect>) {
    for e in effects {
        let msg = match e {
            Effect::Record { mode, decisions } => {
                cat.record_decisions(&decisions).unwrap();
                Msg::Recorded {
                    mode,
                    advanced: decisions.len(),
                    counts: cat.label_counts().ok(),
                    error: None,
                }
            }
            Effect::Undo { mode } => Msg::Undone {
                mode,
                result: Ok(cat.undo_last_batch(Some(mode.decision_mode())).unwrap()),
                counts: cat.label_counts().ok(),
            },
            Effect::SaveMode(_) => continue,
            other => panic!("unexpected {other:?}"),
        };
        let more = update(s, msg);
        run(s, cat, more);
    }
}

fn catalog(n: i64) -> Catalog {
    let mut cat = Catalog::open_in_memory().unwrap();
    let records: Vec<NewPhoto> = (1..=n)
        .map(|i| NewPhoto {
            path: format!("/p/{i}.jpg").into(),
            content_hash: format!("h{i}"),
            ..Default::default()
        })
        .collect();
    cat.insert_photos(&records).unwrap();
    cat
}

fn press(s: &mut State, cat: &mut Catalog, a: Action) {
    let fx = key(s, a);
    run(s, cat, fx);
}

pub(crate) fn render(s: &State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, s, &PreviewCache::default())).unwrap();
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        for x in 0..width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The screen's text with the line breaks and the side panel's border taken out, so a
/// wrapped message reads as one.
fn joined(screen: &str, from_column: usize) -> String {
    let lines: Vec<String> = screen
        .lines()
        .map(|l| l.chars().skip(from_column).collect::<String>().trim().to_owned())
        .collect();
    lines.join(" ")
}

// Bug 1: an error in the status bar never cleared; long messages were cut silently.
#[test]
fn an_error_clears_on_the_next_key_and_on_a_successful_retrain() {
    let mut s = state_with(&[1, 2, 3], &[]);
    let mut cat = catalog(3);
    update(&mut s, done(JobKind::Retrain, Err("nothing to learn from yet".into())));
    assert!(s.last_error.is_some());
    press(&mut s, &mut cat, Action::Yes);
    assert_eq!(s.last_error, None, "the next key clears it");

    update(&mut s, done(JobKind::Retrain, Err("nothing to learn from yet".into())));
    let trained = common::trained(2, None);
    assert_eq!(update(&mut s, done(JobKind::Retrain, Ok(trained))), vec![Effect::RebuildQueues]);
    assert_eq!(s.last_error, None, "a success clears it");
    assert!(s.notice.as_deref().is_some_and(|n| n.starts_with("model v2: 10 yes, 10 no")));
    let screen = render(&s, 100, 30);
    assert!(!screen.contains("error"), "{screen}");
}

#[test]
fn a_long_message_is_shown_whole_in_the_side_panel_and_cut_visibly_in_the_bar() {
    let mut s = state_with(&[1, 2, 3], &[]);
    let long = "retrain: need labels of both kinds: answer at least one photo yes and one no \
                (W and S), then press R again; the seed images count too once generated (G)";
    update(&mut s, done(JobKind::Retrain, Err(long.trim_start_matches("retrain: ").into())));
    let screen = render(&s, 100, 30);
    let panel = joined(&screen.lines().take(28).collect::<Vec<_>>().join("\n"), 71);
    assert!(
        panel.contains("then press R again; the seed images count too once generated (G)"),
        "{screen}"
    );
    assert!(screen.contains("… (see panel)"), "the bar says it cut the text:\n{screen}");

    // No room for a panel: the status area grows and wraps the message instead.
    let screen = render(&s, 60, 24);
    assert!(joined(&screen, 0).contains("once generated (G)"), "{screen}");
}

// Bug 2: D ("ask again later") never asked again in the same session.
#[test]
fn a_skipped_photo_comes_back_at_the_end_of_the_queue() {
    let mut s = state_with(&[1, 2, 3], &[]);
    let mut cat = catalog(3);
    press(&mut s, &mut cat, Action::Skip);
    press(&mut s, &mut cat, Action::No);
    press(&mut s, &mut cat, Action::No);
    assert_eq!(s.current(), Some(PhotoId(1)), "asked again");
    assert_eq!(s.queue(Mode::Ambiguous).remaining(), 1);
    press(&mut s, &mut cat, Action::Yes);
    assert_eq!(s.current(), None);
    assert_eq!((s.counts.kind_yes, s.counts.kind_no, s.counts.kind_skip), (1, 2, 0));

    // Undoing a skip takes the copy at the end away: the photo is asked once, now.
    let mut s = state_with(&[1, 2, 3], &[]);
    let mut cat = catalog(3);
    press(&mut s, &mut cat, Action::Skip);
    press(&mut s, &mut cat, Action::Back);
    assert_eq!(s.current(), Some(PhotoId(1)));
    assert_eq!(s.upcoming(5), vec![PhotoId(2), PhotoId(3)]);
}

// Bug 3: keys acted while the "too small" screen hid the photo.
#[test]
fn only_quit_acts_while_the_terminal_is_too_small() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    update(&mut s, Msg::Screen { too_small: true });
    for a in
        [Action::Yes, Action::No, Action::Skip, Action::Back, Action::SwitchMode, Action::Retrain]
    {
        assert!(key(&mut s, a).is_empty(), "{a:?} acted on a hidden photo");
    }
    assert_eq!((s.mode, s.current()), (Mode::Ambiguous, Some(PhotoId(1))));
    let screen = render(&s, 39, 12);
    assert!(screen.contains("too small"), "{screen}");
    update(&mut s, Msg::Screen { too_small: false });
    assert_eq!(key(&mut s, Action::Yes).len(), 1);
    update(&mut s, Msg::Screen { too_small: true });
    assert_eq!(key(&mut s, Action::Quit), vec![Effect::Quit]);
}

#[test]
fn the_too_small_message_fits_a_tiny_window() {
    let s = state_with(&[1], &[]);
    let screen = render(&s, 20, 6);
    let text = joined(&screen, 0);
    assert!(text.contains("too small (20x6)") && text.contains("Q quits"), "{screen}");
}

// Bug 4: E was not one decision for undo, and acted as a plain pass outside a burst.
#[test]
fn passing_a_burst_is_one_decision_for_undo() {
    let mut s = state_with(&[1], &BEST);
    let mut cat = catalog(14);
    key(&mut s, Action::SwitchMode);
    press(&mut s, &mut cat, Action::No); // 10
    press(&mut s, &mut cat, Action::Yes); // pick 11
    let fx = key(&mut s, Action::PassBurst);
    let Effect::Record { decisions, .. } = &fx[0] else { panic!("{fx:?}") };
    assert_eq!(decisions.len(), 2, "12 and 13 in one Record (one transaction)");
    run(&mut s, &mut cat, fx);
    assert_eq!(s.current(), Some(PhotoId(14)));
    assert_eq!(s.counts.passed, 3);

    press(&mut s, &mut cat, Action::Back);
    assert_eq!(s.current(), Some(PhotoId(12)), "one undo brings the whole pass back");
    assert_eq!(s.upcoming(1), vec![PhotoId(13)]);
    assert_eq!((s.counts.picked, s.counts.passed), (1, 1));
    assert!(s.notice.as_deref().unwrap().contains("2 photos"), "{:?}", s.notice);
    press(&mut s, &mut cat, Action::Back);
    assert_eq!(s.current(), Some(PhotoId(11)), "the next undo takes the pick back");
}

#[test]
fn passing_a_burst_on_a_photo_outside_a_burst_says_so() {
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::SwitchMode);
    assert_eq!(s.current(), Some(PhotoId(10)));
    assert!(key(&mut s, Action::PassBurst).is_empty());
    assert!(s.notice.as_deref().unwrap().contains("not part of a burst"), "{:?}", s.notice);
    assert_eq!(s.current(), Some(PhotoId(10)));
}

#[test]
fn a_burst_says_which_shot_in_capture_order() {
    let mut s = state_with(&[1], &BEST);
    let mut cat = catalog(14);
    key(&mut s, Action::SwitchMode);
    press(&mut s, &mut cat, Action::No);
    // 11 is the second shot: 13 was taken first.
    assert!(render(&s, 100, 34).contains("burst: shot 2 of 3"));
}

// Bug 5: a deleted original showed from its thumbnail with no warning and could be picked.
#[test]
fn a_missing_original_is_said_and_cannot_be_picked() {
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::SwitchMode);
    assert_eq!(
        update(&mut s, Msg::PhotoMissing(PhotoId(10))),
        vec![Effect::MarkMissing(PhotoId(10))]
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains("original missing"), "{screen}");
    assert!(key(&mut s, Action::Yes).is_empty(), "no pick of a photo that cannot be exported");
    assert!(s.notice.as_deref().unwrap().contains("original file is missing"));
    assert_eq!(key(&mut s, Action::No).len(), 1, "passing it is fine");
}

// Bug 7: the mode was not restored; the counter restarted each session.
#[test]
fn switching_modes_saves_the_mode_and_the_counter_counts_answers_in_the_catalog() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    assert_eq!(key(&mut s, Action::SwitchMode), vec![Effect::SaveMode(Mode::Best)]);
    assert_eq!(key(&mut s, Action::SwitchMode), vec![Effect::SaveMode(Mode::Ambiguous)]);
    assert_eq!(Mode::parse("best"), Some(Mode::Best));
    assert_eq!(Mode::parse("nonsense"), None);

    // A second session on a library with 40 answers out of 64 photos: 24 left to ask.
    let mut s = State::new(Keymap::defaults(), 0);
    let open: Vec<i64> = (1..=24).collect();
    let mut d = data(&open, &BEST);
    d.total_photos = 64;
    d.counts = LabelCounts { kind_yes: 15, kind_no: 25, kind_skip: 2, picked: 3, passed: 4 };
    update(&mut s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::new(d)))));
    let p = s.progress();
    assert_eq!((p.answered, p.total, p.left), (40, 64, 24));
    assert!(render(&s, 100, 30).contains("40/64 answered"));
    key(&mut s, Action::SwitchMode);
    let p = s.progress();
    assert_eq!((p.answered, p.total, p.left), (7, 12, 5), "7 decided + 5 in the best queue");
}

// Stay fresh: another process changed the catalog.
#[test]
fn a_catalog_change_rebuilds_the_queues_and_keeps_the_photo_on_screen() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    assert_eq!(update(&mut s, Msg::CatalogChanged), vec![Effect::RebuildQueues]);
    let mut newer = data(&[3, 5, 1, 2], &BEST);
    newer.model = Some(ModelSummary { version: 2, auc: Some(0.9) });
    update(&mut s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::new(newer)))));
    assert_eq!(s.current(), Some(PhotoId(1)));
    assert_eq!(s.upcoming(3), vec![PhotoId(3), PhotoId(5), PhotoId(2)]);
    assert_eq!(s.model.unwrap().version, 2);
}

// Start at once: the empty library while the scan job runs, and when none runs.
#[test]
fn the_empty_library_screen_follows_the_background_scan() {
    let mut s = State::new(Keymap::defaults(), 0);
    s.command = "photosift --library /data/lib".into();
    update(&mut s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::default()))));
    let screen = joined(&render(&s, 100, 30), 0);
    assert!(screen.contains("photosift --library /data/lib label ~/Pictures"), "{screen}");
    update(
        &mut s,
        Msg::Job(JobMsg::Progress(photosift::jobs::JobProgress {
            job: JobKind::Scan,
            fraction: 0.1,
            note: "reading 120/1200 photos".into(),
            eta: Some(Duration::from_secs(95)),
        })),
    );
    let screen = render(&s, 100, 30);
    assert!(screen.contains("Scanning your photos"), "{screen}");
    assert!(screen.contains("scan 10% reading 120/1200 photos ~96s left"), "{screen}");
    let fx = update(&mut s, done(JobKind::Scan, Ok(common::scanned(1200))));
    assert_eq!(fx, vec![Effect::RebuildQueues]);
    assert!(!s.job_running(JobKind::Scan));
}

// Small terminals: help readable at 40x12, paths cut at '/'.
#[test]
fn the_help_is_readable_on_a_small_terminal() {
    let mut s = state_with(&[1], &[]);
    key(&mut s, Action::Help);
    let screen = render(&s, 40, 12);
    for needle in ["yes, the sort of image I want", "undo the last decision", "quit"] {
        assert!(screen.contains(needle), "{needle}:\n{screen}");
    }
}

#[test]
fn long_folders_wrap_at_slashes_in_the_side_panel() {
    let mut s = State::new(Keymap::defaults(), 0);
    let mut d = data(&[1], &[]);
    d.photos.get_mut(&PhotoId(1)).unwrap().path =
        "/home/someone/Pictures/Phone/2023/Holidays in the mountains/IMG_1.jpg".into();
    update(&mut s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::new(d)))));
    let screen = render(&s, 100, 30);
    // Cut after a '/', never inside a folder's name.
    assert!(screen.contains("│/home/someone/Pictures/Phone/\n"), "{screen}");
    assert!(screen.contains("│2023/ "), "{screen}");
    assert!(screen.contains("│Holidays in the mountains "), "{screen}");
}

#[test]
fn skip_decisions_in_best_mode_come_back_too() {
    let mut s = state_with(&[1], &[(10, 0), (14, 2)]);
    let mut cat = catalog(14);
    key(&mut s, Action::SwitchMode);
    press(&mut s, &mut cat, Action::Skip);
    press(&mut s, &mut cat, Action::No);
    assert_eq!(s.current(), Some(PhotoId(10)));
    let labels = cat.current_labels(LabelKind::Print).unwrap();
    assert_eq!(labels, vec![(PhotoId(10), LabelValue::Skip), (PhotoId(14), LabelValue::No)]);
    let _ = Decision::single(PhotoId(1), DecisionMode::Best, LabelKind::Kind, LabelValue::Yes);
}
