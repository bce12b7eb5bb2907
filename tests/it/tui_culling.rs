//! Issue 30: the culling session a photographer trusts. The question on screen, keys they
//! know, counts that hold still, undo that retrains, skips that stay at the end, a summary on
//! the way out, and a typo that creates nothing. Pure `update` and `TestBackend` screens, then
//! the real binary in tmux.

use std::process::Command;

use photosift::catalog::LabelCounts;
use photosift::domain::{Decision, DecisionMode, LabelKind, LabelValue, PhotoId};
use photosift::queue::BestEntry;
use photosift::tui::state::{Effect, JobKind, JobOutput, Msg, update};
use photosift::tui::{Action, Keymap, Mode, State};

use crate::common;
use crate::tmux::{Tmux, shell_quote};
use crate::tools::require_tmux;
use crate::tui_session::{BEST, data, done, key, render, state_with};

/// The app's answer to a `Record` effect: every decision written.
fn recorded(s: &mut State, effects: &[Effect], counts: LabelCounts) -> Vec<Effect> {
    let Some(Effect::Record { mode, decisions }) = effects.first() else {
        panic!("no record: {effects:?}")
    };
    let advanced = decisions.len();
    update(s, Msg::Recorded { mode: *mode, advanced, counts: Some(counts), error: None })
}

fn queues(s: &mut State, d: photosift::pipeline::queues::QueueData) -> Vec<Effect> {
    update(s, done(JobKind::Queues, Ok(JobOutput::Queues(Box::new(d)))))
}

#[test]
fn the_question_is_the_panels_title_in_both_modes_and_p_is_explained() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    s.question = "animals in the garden".into();
    for mode in [Mode::Ambiguous, Mode::Best] {
        s.mode = mode;
        let screen = render(&s, 120, 32);
        assert!(screen.contains(" animals in the garden "), "{mode:?}:\n{screen}");
        assert!(screen.contains("Wanted: animals in the garden"), "{mode:?}:\n{screen}");
    }
    key(&mut s, Action::Help);
    let help = render(&s, 120, 32);
    assert!(
        help.contains("p 0.00–1.00") && help.contains("chance wanted; ~0.5 asked first"),
        "{help}"
    );
}

/// A fresh library: no automatic retrain (so no error) before a yes and a no; the screen says
/// what to do instead, and R says it too.
#[test]
fn nothing_is_retrained_before_there_is_something_to_learn_from() {
    let mut s = State::new(Keymap::defaults(), 1);
    let mut d = data(&[1, 2, 3, 4], &[]);
    d.model = None;
    queues(&mut s, d);
    let screen = render(&s, 120, 32);
    assert!(screen.contains("nothing to learn"), "{screen}");
    assert!(!screen.contains("error"), "{screen}");
    // A yes alone: saved, no retrain.
    let e = key(&mut s, Action::Yes);
    let after = recorded(&mut s, &e, LabelCounts { kind_yes: 1, ..Default::default() });
    assert!(!after.contains(&Effect::AutoRetrain), "{after:?}");
    // A scan adding photos starts none either.
    let scanned = update(&mut s, done(JobKind::Scan, Ok(crate::common::scanned(5))));
    assert!(!scanned.contains(&Effect::AutoRetrain), "{scanned:?}");
    // R explains instead of failing.
    assert!(key(&mut s, Action::Retrain).is_empty());
    assert!(
        s.notice.as_deref().unwrap().contains("nothing to learn from yet: W/S"),
        "{:?}",
        s.notice
    );
    // The first no: now there is something to learn.
    let e = key(&mut s, Action::No);
    let counts = LabelCounts { kind_yes: 1, kind_no: 1, ..Default::default() };
    assert_eq!(recorded(&mut s, &e, counts), vec![Effect::AutoRetrain]);
    assert!(!render(&s, 120, 32).contains("nothing to learn"));
}

/// Best mode's count jumped with every rebuilt queue (14/43 → 15/38 → 16/69): the total holds
/// from the moment the mode is entered, and photos that rose above the threshold since are
/// "+N new".
#[test]
fn best_modes_total_holds_still_and_new_photos_are_counted_apart() {
    let mut s = state_with(&[1, 2], &BEST);
    key(&mut s, Action::SwitchMode);
    let p = s.progress();
    assert_eq!((p.answered, p.total, p.left, p.new), (0, 5, 5, 0));
    let e = key(&mut s, Action::Yes);
    recorded(&mut s, &e, LabelCounts { kind_yes: 1, picked: 1, ..Default::default() });
    // A retrain moved photo 14 below the threshold and 15 and 16 above it.
    let mut d = data(&[1, 2], &[(11, 1), (12, 1), (13, 1), (15, 3), (16, 4)]);
    d.counts = LabelCounts { kind_yes: 1, picked: 1, ..Default::default() };
    queues(&mut s, d);
    let p = s.progress();
    assert_eq!((p.answered, p.total, p.new), (1, 5, 2), "{p:?}");
    let screen = render(&s, 120, 32);
    assert!(screen.contains(" 1/5 answered ") && screen.contains("+2 new"), "{screen}");
}

/// Ambiguous mode said "9/23 answered (0 left)" beside "Every photo has a label" after passes
/// in best mode: a photo the queue no longer holds is answered.
#[test]
fn ambiguous_counts_agree_with_an_empty_queue() {
    let mut s = State::new(Keymap::defaults(), 0);
    let mut d = data(&[], &BEST);
    d.total_photos = 23;
    d.counts = LabelCounts { kind_yes: 5, kind_no: 4, passed: 14, ..Default::default() };
    queues(&mut s, d);
    let p = s.progress();
    assert_eq!((p.answered, p.total, p.left), (23, 23, 0));
    assert!(render(&s, 120, 32).contains(" 23/23 answered "));
}

/// After X then A the photo showed the model trained with the undone answer until R: an
/// undone yes/no retrains like an answer; a pass (print only) makes no new model version.
#[test]
fn undo_of_an_answer_retrains_and_a_pass_does_not() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    s.retrain_every = 1;
    let e = key(&mut s, Action::Yes);
    assert_eq!(recorded(&mut s, &e, LabelCounts::default()), vec![Effect::AutoRetrain]);
    update(&mut s, done(JobKind::Retrain, Ok(common::trained(2, Some(0.8)))));
    let undo = update(
        &mut s,
        Msg::Undone {
            mode: Mode::Ambiguous,
            result: Ok(vec![Decision::single(
                PhotoId(1),
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                LabelValue::Yes,
            )]),
            counts: None,
        },
    );
    assert_eq!(undo, vec![Effect::AutoRetrain], "an undone answer retrains");
    update(&mut s, done(JobKind::Retrain, Ok(common::trained(3, Some(0.8)))));
    key(&mut s, Action::SwitchMode);
    let e = key(&mut s, Action::No);
    assert!(recorded(&mut s, &e, LabelCounts::default()).is_empty(), "a pass trains nothing");
    let e = key(&mut s, Action::Skip);
    assert!(recorded(&mut s, &e, LabelCounts::default()).is_empty(), "nor does a skip");
}

/// Under fast typing a photo answered D came back within three answers: a queue rebuilt from
/// a read made before the skip landed put it back by its score. It stays at the end.
#[test]
fn a_skipped_photo_stays_at_the_end_whenever_the_rebuild_lands() {
    let mut s = state_with(&[1, 2, 3, 4, 5], &BEST);
    let e = key(&mut s, Action::Skip);
    recorded(&mut s, &e, LabelCounts::default());
    let e = key(&mut s, Action::Skip);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.current(), Some(PhotoId(3)));
    // The rebuild puts 2 and 1 (closest to 0.5) first again.
    queues(&mut s, data(&[2, 1, 3, 4, 5], &BEST));
    let order: Vec<PhotoId> =
        s.queue(Mode::Ambiguous).entries.iter().map(|e: &BestEntry| e.photo).collect();
    assert_eq!(order, [3, 4, 5, 1, 2].map(PhotoId), "kept on screen, then the skips last");
    // Answered later, it is no longer held back.
    for _ in 0..3 {
        let e = key(&mut s, Action::Yes);
        recorded(&mut s, &e, LabelCounts::default());
    }
    assert_eq!(s.current(), Some(PhotoId(1)));
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    queues(&mut s, data(&[2, 1, 3], &BEST));
    assert_eq!(s.current(), Some(PhotoId(2)));
}

#[test]
fn a_message_clears_on_the_next_action_and_an_unbound_key_says_what_does_it() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    update(&mut s, Msg::Undone { mode: Mode::Ambiguous, result: Ok(Vec::new()), counts: None });
    assert!(s.notice.is_some());
    key(&mut s, Action::Zoom);
    assert_eq!(s.notice, None, "Z clears the last message");
    let hint = s
        .keymap
        .unbound_hint(&crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Char('p'),
            crossterm::event::KeyModifiers::NONE,
        ))
        .unwrap();
    update(&mut s, Msg::KeyNotBound(hint));
    let screen = render(&s, 120, 32);
    assert!(screen.contains("P is not bound: W picks"), "{screen}");
}

#[test]
fn the_summary_counts_this_sessions_answers_and_all_picks() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    let e = key(&mut s, Action::Yes);
    recorded(&mut s, &e, LabelCounts::default());
    key(&mut s, Action::SwitchMode);
    let e = key(&mut s, Action::Yes);
    recorded(&mut s, &e, LabelCounts { kind_yes: 2, picked: 4, ..Default::default() });
    let summary = s.summary();
    assert_eq!((summary.answers, summary.picked), (2, 4));
}

/// End to end: `label --want` puts the question on screen, a fresh library shows no error, and
/// Q leaves a summary on the normal screen.
#[test]
fn label_want_shows_the_question_and_quit_prints_a_summary() {
    if !require_tmux("tui_culling") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_library, _ids) = common::library_with_photos(dir.path(), 8, 4, (160, 120));
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let command = format!(
        "{} --library {} --config {} label --want 'animals in the garden'; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_photosift"),
        shell_quote(dir.path()),
        shell_quote(&config)
    );
    let tmux = Tmux::new("want");
    tmux.start("w", 120, 32, &command);
    let screen = tmux.wait_loaded("w");
    assert!(screen.contains("animals in the garden"), "{screen}");
    tmux.keys("w", "w");
    let screen = tmux.wait_for("w", &["yes 1 no 0 "]);
    assert!(screen.contains("nothing to learn"), "{screen}");
    assert!(!screen.contains("error"), "no retrain, so no error:\n{screen}");
    tmux.keys("w", "q");
    let screen = tmux.wait_for("w", &["EXIT=0"]);
    assert!(screen.contains("1 answer this session (all saved)"), "{screen}");
    assert!(screen.contains("next: `photosift --library"), "{screen}");
    // The library remembers the question for the next session.
    let cat = photosift::library::Library::at(dir.path()).open_catalog().unwrap();
    assert_eq!(cat.question().unwrap().as_deref(), Some("animals in the garden"));
}

/// `label /tmp/photoz` (a typo) opened the TUI and exited 0; `scan` exited 1 but left an empty
/// library behind. Both exit 2, create nothing and suggest the folder meant.
#[test]
fn a_typo_in_a_folder_exits_2_creates_nothing_and_suggests_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    let library = dir.path().join("lib");
    for sub in ["label", "scan"] {
        let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
            .arg("--library")
            .arg(&library)
            .args([sub])
            .arg(dir.path().join("photoz"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub}: {err}");
        assert!(err.contains("photoz does not exist; did you mean"), "{sub}: {err}");
        assert!(err.contains(&format!("{}?", dir.path().join("photos").display())), "{err}");
        assert!(!library.exists(), "{sub} created the library");
    }
}

/// `queue --mode best` with an empty queue printed nothing at all: it says why on stderr.
#[test]
fn an_empty_best_queue_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (library, ids) = common::library_with_photos(dir.path(), 4, 2, (64, 48));
    common::score_all(&library, &ids, |_| 0.01);
    let out = Command::new(env!("CARGO_BIN_EXE_photosift"))
        .arg("--library")
        .arg(dir.path())
        .args(["queue", "--mode", "best"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the best-first queue is empty") && err.contains("best_threshold"),
        "{err}"
    );
}

/// Yellow on xterm's white background could not be read: messages, jobs and hints use the
/// terminal's own colour with bold or underline.
#[test]
fn no_text_is_yellow() {
    use ratatui::style::Color;
    let mut s = state_with(&[1, 2, 3], &BEST);
    s.notice = Some("undone: showing that photo again".into());
    s.jobs.push(photosift::tui::state::JobStatus {
        job: JobKind::Retrain,
        fraction: 0.5,
        note: "training".into(),
        eta: None,
    });
    for mode in [Mode::Ambiguous, Mode::Best] {
        s.mode = mode;
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 32)).unwrap();
        terminal
            .draw(|f| {
                photosift::tui::view::draw(f, &s, &photosift::tui::preview::PreviewCache::default())
            })
            .unwrap();
        let buf = terminal.backend().buffer();
        let yellow = buf
            .content()
            .iter()
            .filter(|c| matches!(c.fg, Color::Yellow | Color::LightYellow))
            .count();
        assert_eq!(yellow, 0, "{mode:?}: {yellow} yellow cells");
    }
}

/// Issue 30, item 4: Z showed the centre only and could not pan. The loupe pans half a view
/// per step, stays inside the photo, shows where it is, and says when the photo is smaller
/// than the view.
#[test]
fn the_loupe_pans_within_the_photo_and_shows_where_it_is() {
    let mut s = state_with(&[1, 2, 3], &BEST);
    key(&mut s, Action::Zoom);
    assert_eq!(s.loupe_on(PhotoId(1)), Some((500, 500)));
    let pan = |s: &mut State, dx, dy| update(s, Msg::Pan { dx, dy, half: (150, 250) });
    pan(&mut s, 1, 0);
    assert_eq!(s.loupe_on(PhotoId(1)), Some((650, 500)));
    for _ in 0..5 {
        pan(&mut s, 1, -1);
    }
    assert_eq!(s.loupe_on(PhotoId(1)), Some((850, 250)), "clamped: the view stays inside");
    let screen = render(&s, 120, 40);
    assert!(screen.contains("loupe 100%: x 85% y 25%"), "{screen}");
    assert!(screen.contains("········████") && screen.contains("pan"), "{screen}");
    // Labeling keys still act; the next photo shows fitted, and Z again fits.
    key(&mut s, Action::Zoom);
    assert_eq!(s.loupe, None);
    key(&mut s, Action::Zoom);
    update(&mut s, Msg::Pan { dx: 1, dy: 1, half: (500, 500) });
    assert_eq!(s.loupe_on(PhotoId(1)), Some((500, 500)), "nothing to pan over");
    let screen = render(&s, 120, 40);
    assert!(screen.contains("the photo is smaller than"), "{screen}");
}

/// Issue 30, item 4: the strip said "now next next next" in the queue's order (by p) and
/// renumbered after each pass. Shots are shown and numbered in capture order, and keep their
/// numbers as the burst is decided.
#[test]
fn burst_shots_are_numbered_in_capture_order_and_keep_their_numbers() {
    // The burst 11, 12, 13 was taken in the order 13, 11, 12; the queue asks 11 first.
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::SwitchMode);
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.current(), Some(PhotoId(11)));
    let screen = render(&s, 120, 40);
    assert!(screen.contains("burst: shot 2 of 3"), "{screen}");
    let strip: Vec<&str> = screen.lines().filter(|l| l.contains("/3")).collect();
    let strip = strip.join("\n");
    let (first, now, last) =
        (strip.find("1/3").unwrap(), strip.find("▲ 2/3 ▲").unwrap(), strip.find("3/3").unwrap());
    assert!(first < now && now < last, "capture order, the current one marked:\n{strip}");
    // Passing 11 leaves the numbers as they were: 12 is still shot 3 of 3.
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    let screen = render(&s, 120, 40);
    assert!(screen.contains("burst: shot 3 of 3") && screen.contains("2/3 done"), "{screen}");
}

/// Issue 30, item 4: ←/→ step within the burst in best mode (capture order), so the best shot
/// can be found before picking; outside a burst the arrows keep their keymap meaning.
#[test]
fn arrows_step_through_a_burst_in_capture_order() {
    // The burst 11, 12, 13 was taken 13, 11, 12; the queue asks 11 first.
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::SwitchMode);
    assert!(!s.in_burst(), "photo 10 is alone");
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    assert!(s.in_burst());
    assert_eq!(s.current(), Some(PhotoId(11)));
    update(&mut s, Msg::StepBurst(1));
    assert_eq!(s.current(), Some(PhotoId(12)), "the next shot taken");
    update(&mut s, Msg::StepBurst(1));
    assert_eq!(s.current(), Some(PhotoId(12)), "the last shot: nothing further");
    update(&mut s, Msg::StepBurst(-1));
    update(&mut s, Msg::StepBurst(-1));
    assert_eq!(s.current(), Some(PhotoId(13)), "the first shot taken");
    assert!(render(&s, 120, 40).contains("burst: shot 1 of 3"));
    // Picking it decides that shot; the others are still to decide.
    let e = key(&mut s, Action::Yes);
    assert!(
        matches!(&e[..], [Effect::Record { decisions, .. }] if decisions[0].photo == PhotoId(13))
    );
    recorded(&mut s, &e, LabelCounts::default());
    let q = s.queue(Mode::Best);
    let mut rest: Vec<PhotoId> = q.entries[q.pos..].iter().map(|e| e.photo).take(2).collect();
    rest.sort();
    assert_eq!(rest, [PhotoId(11), PhotoId(12)], "the burst's other shots come next");
}

/// The photos a decision effect is about.
fn decided(effects: &[Effect]) -> Vec<PhotoId> {
    match effects {
        [Effect::Record { decisions, .. }] => decisions.iter().map(|d| d.photo).collect(),
        other => panic!("no record: {other:?}"),
    }
}

/// Best mode at the burst 11, 12, 13 (taken 13, 11, 12), compare view on.
fn comparing() -> State {
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::SwitchMode);
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.current(), Some(PhotoId(11)));
    key(&mut s, Action::Compare);
    s
}

/// Issue 30, item 4: C compare shows the shot on screen beside the next one taken, the same
/// size, each framed with its number; ←/→ choose the side the keys act on, → again brings the
/// next shot; a decision on either side keeps the other shot where it is.
#[test]
fn compare_shows_two_shots_and_the_keys_act_on_the_chosen_side() {
    let mut s = comparing();
    assert_eq!(s.compare_pair(), Some((PhotoId(11), PhotoId(12))), "11 beside the next taken");
    let screen = render(&s, 160, 45);
    assert_eq!(screen.matches("keys act here").count(), 1, "{screen}");
    assert!(screen.contains("shot 2/3") && screen.contains("shot 3/3"), "{screen}");
    // Two frames of the same width side by side.
    let top = screen.lines().find(|l| l.contains("keys act here")).unwrap();
    let corners: Vec<usize> =
        top.char_indices().filter(|(_, c)| "┏┓┌┐".contains(*c)).map(|(i, _)| i).collect();
    assert_eq!(corners.len(), 4, "{top}");
    let widths =
        (top[corners[0]..corners[1]].chars().count(), top[corners[2]..corners[3]].chars().count());
    assert_eq!(widths.0, widths.1, "the two panes are the same size: {top}");

    // The left side first: a pass decides 11; 12 stays on the right, 13 comes in on the left.
    let e = key(&mut s, Action::No);
    assert_eq!(decided(&e), [PhotoId(11)]);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.compare_pair(), Some((PhotoId(13), PhotoId(12))));

    // → chooses the right side; a pick decides 12 and 13 stays on the left.
    let mut s = comparing();
    update(&mut s, Msg::StepBurst(1));
    assert_eq!(s.current(), Some(PhotoId(11)), "choosing a side moves no photo");
    let screen = render(&s, 160, 45);
    assert!(screen.contains("burst: shot 3 of 3"), "the panel describes the chosen shot");
    // → again: the next shot taken (13) comes to the right.
    update(&mut s, Msg::StepBurst(1));
    assert_eq!(s.compare_pair(), Some((PhotoId(11), PhotoId(13))));
    let e = key(&mut s, Action::Yes);
    assert_eq!(decided(&e), [PhotoId(13)], "the pick is for the right-hand shot");
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.compare_pair(), Some((PhotoId(11), PhotoId(12))), "11 stays on the left");
    // ← back to the left; passing 11 leaves one shot: it shows alone.
    update(&mut s, Msg::StepBurst(-1));
    let e = key(&mut s, Action::No);
    assert_eq!(decided(&e), [PhotoId(11)]);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.current(), Some(PhotoId(12)));
    assert_eq!(s.compare_pair(), None, "one shot left: no comparison");
    assert!(!render(&s, 160, 45).contains("keys act here"));
}

/// Compare view's loupe: Z zooms both shots at the same point and a pan moves both.
#[test]
fn compare_zooms_and_pans_both_shots_together() {
    let mut s = comparing();
    key(&mut s, Action::Zoom);
    update(&mut s, Msg::Pan { dx: 1, dy: -1, half: (200, 200) });
    assert_eq!(s.loupe_on(PhotoId(11)), Some((700, 300)));
    assert_eq!(s.loupe_on(PhotoId(12)), s.loupe_on(PhotoId(11)), "the pan is linked");
    // The next shot brought to the right is zoomed at the same place.
    update(&mut s, Msg::StepBurst(1));
    update(&mut s, Msg::StepBurst(1));
    assert_eq!(s.loupe_on(PhotoId(13)), Some((700, 300)));
    key(&mut s, Action::Zoom);
    assert_eq!(s.loupe_on(PhotoId(11)), None, "Z again fits both");
    assert_eq!(s.loupe_on(PhotoId(13)), None);
}

/// C in ambiguous mode says where it works; on a photo that is not in a burst it stays on for
/// the next burst; C again shows one shot.
#[test]
fn compare_is_for_bursts_in_best_mode_and_stays_on_until_c() {
    let mut s = state_with(&[1], &BEST);
    key(&mut s, Action::Compare);
    assert!(s.compare.is_none());
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("best mode")), "{:?}", s.notice);
    key(&mut s, Action::SwitchMode);
    key(&mut s, Action::Compare);
    assert!(s.compare.is_some() && s.compare_pair().is_none(), "photo 10 is alone");
    assert!(s.notice.as_deref().is_some_and(|n| n.contains("no other undecided shot")));
    let e = key(&mut s, Action::No);
    recorded(&mut s, &e, LabelCounts::default());
    assert_eq!(s.compare_pair(), Some((PhotoId(11), PhotoId(12))), "on at the next burst");
    key(&mut s, Action::Compare);
    assert_eq!(s.compare_pair(), None);
    assert!(!render(&s, 160, 45).contains("keys act here"));
}
