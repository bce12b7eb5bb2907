//! The pure `update`: every key in both modes, undo across mode switches, jobs and rebuilt
//! queues. Effects are checked as data; where labels matter they are run against an in-memory
//! catalog the way the app loop runs them.

use std::collections::HashMap;
use std::time::Duration;

use photosift::catalog::{Catalog, NewPhoto};

use photosift::domain::{Decision, DecisionMode, LabelEvent, LabelKind, LabelValue, PhotoId};
use photosift::jobs::{JobMsg, JobProgress};
use photosift::pipeline::queues::{ModelSummary, PhotoInfo, QueueData};
use photosift::queue::BestEntry;
use photosift::tui::state::{Effect, JobKind, JobOutput, Msg, update};
use photosift::tui::{Action, Keymap, Mode, State};

use crate::common;

const AMB: [i64; 4] = [1, 2, 3, 4];
/// Best queue: photo 10 alone, then a burst of 11, 12, 13, then 14.
const BEST: [(i64, usize); 5] = [(10, 0), (11, 1), (12, 1), (13, 1), (14, 2)];

fn data(amb: &[i64], best: &[(i64, usize)]) -> QueueData {
    let mut photos = HashMap::new();
    for id in amb.iter().chain(best.iter().map(|(p, _)| p)) {
        photos.insert(
            PhotoId(*id),
            PhotoInfo { path: format!("/p/IMG_{id}.jpg").into(), ..Default::default() },
        );
    }
    QueueData {
        ambiguous: amb.iter().map(|p| PhotoId(*p)).collect(),
        best: best.iter().map(|(p, g)| BestEntry { photo: PhotoId(*p), group: *g }).collect(),
        photos,
        model: Some(ModelSummary { version: 1, auc: Some(0.8) }),
        total_photos: amb.len() + best.len(),
        ..Default::default()
    }
}

fn queues_done(d: QueueData) -> Msg {
    Msg::Job(JobMsg::Done {
        job: JobKind::Queues,
        result: Ok(JobOutput::Queues(Box::new(d))),
        elapsed: Duration::ZERO,
    })
}

fn state() -> State {
    let mut s = State::new(Keymap::defaults(), 0);
    assert!(update(&mut s, queues_done(data(&AMB, &BEST))).is_empty());
    s
}

fn key(s: &mut State, a: Action) -> Vec<Effect> {
    update(s, Msg::Action(a))
}

/// What the app does with a `Record`: all decisions saved.
fn ack(s: &mut State, effects: &[Effect]) {
    for e in effects {
        if let Effect::Record { mode, decisions } = e {
            let more = update(
                s,
                Msg::Recorded { mode: *mode, advanced: decisions.len(), counts: None, error: None },
            );
            assert!(more.is_empty(), "{more:?}");
        }
    }
}

fn one(photo: i64, mode: &str, kind: LabelKind, value: LabelValue) -> Decision {
    Decision::single(PhotoId(photo), DecisionMode::parse(mode).expect("a mode"), kind, value)
}

/// A pick in best mode: a "yes, this kind" and a "yes, print it".
fn pick(photo: i64) -> Decision {
    Decision {
        photo: PhotoId(photo),
        mode: DecisionMode::Best,
        events: vec![
            LabelEvent { kind: LabelKind::Kind, value: LabelValue::Yes },
            LabelEvent { kind: LabelKind::Print, value: LabelValue::Yes },
        ],
    }
}

fn record(mode: Mode, decisions: Vec<Decision>) -> Vec<Effect> {
    vec![Effect::Record { mode, decisions }]
}

#[test]
fn ambiguous_keys_record_kind_labels_and_advance_once_saved() {
    let mut s = state();
    assert_eq!(s.current(), Some(PhotoId(1)));
    for (action, photo, value) in [
        (Action::Yes, 1, LabelValue::Yes),
        (Action::No, 2, LabelValue::No),
        (Action::Skip, 3, LabelValue::Skip),
    ] {
        let fx = key(&mut s, action);
        assert_eq!(
            fx,
            record(Mode::Ambiguous, vec![one(photo, "ambiguous", LabelKind::Kind, value)])
        );
        assert_eq!(s.current(), Some(PhotoId(photo)), "not shown before it is saved");
        ack(&mut s, &fx);
        assert_eq!(s.current(), Some(PhotoId(photo + 1)));
    }
    assert_eq!(s.queue(Mode::Ambiguous).done, 3);
    assert_eq!(s.queue(Mode::Ambiguous).remaining(), 2, "photo 4, then the skipped 3 again");
}

#[test]
fn a_failed_write_does_not_advance_and_says_why() {
    let mut s = state();
    key(&mut s, Action::Yes);
    update(
        &mut s,
        Msg::Recorded {
            mode: Mode::Ambiguous,
            advanced: 0,
            counts: None,
            error: Some("disk full".into()),
        },
    );
    assert_eq!(s.current(), Some(PhotoId(1)));
    assert!(s.last_error.as_deref().unwrap().contains("disk full"));
}

#[test]
fn ambiguous_back_undoes_this_modes_decision_and_shows_it_again() {
    let mut s = state();
    let fx = key(&mut s, Action::No);
    ack(&mut s, &fx);
    assert_eq!(key(&mut s, Action::Back), vec![Effect::Undo { mode: Mode::Ambiguous }]);
    let undone = one(1, "ambiguous", LabelKind::Kind, LabelValue::No);
    update(&mut s, Msg::Undone { mode: Mode::Ambiguous, result: Ok(vec![undone]), counts: None });
    assert_eq!(s.current(), Some(PhotoId(1)));
    assert_eq!(s.queue(Mode::Ambiguous).done, 0);
    update(&mut s, Msg::Undone { mode: Mode::Ambiguous, result: Ok(vec![]), counts: None });
    assert!(s.notice.as_deref().unwrap().contains("nothing to undo"));
}

#[test]
fn best_mode_keys_pick_pass_skip_and_not_the_kind() {
    let mut s = state();
    assert_eq!(key(&mut s, Action::SwitchMode), vec![Effect::SaveMode(Mode::Best)]);
    assert_eq!(s.mode, Mode::Best);
    assert_eq!(s.current(), Some(PhotoId(10)));
    let fx = key(&mut s, Action::Yes);
    // A pick is a "yes, this kind" for training too; a pass is only a print decision.
    let pick = pick(10);
    assert_eq!(fx, record(Mode::Best, vec![pick]));
    ack(&mut s, &fx);
    let fx = key(&mut s, Action::No);
    assert_eq!(fx, record(Mode::Best, vec![one(11, "best", LabelKind::Print, LabelValue::No)]));
    ack(&mut s, &fx);
    let fx = key(&mut s, Action::Skip);
    assert_eq!(fx, record(Mode::Best, vec![one(12, "best", LabelKind::Print, LabelValue::Skip)]));
    ack(&mut s, &fx);
    let fx = key(&mut s, Action::NotKind);
    let both = Decision {
        photo: PhotoId(13),
        mode: DecisionMode::Best,
        events: vec![
            LabelEvent { kind: LabelKind::Kind, value: LabelValue::No },
            LabelEvent { kind: LabelKind::Print, value: LabelValue::No },
        ],
    };
    assert_eq!(fx, record(Mode::Best, vec![both]), "one decision, undone as one");
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(14)));
    assert_eq!(key(&mut s, Action::Back), vec![Effect::Undo { mode: Mode::Best }]);
}

#[test]
fn after_a_pick_one_key_passes_the_rest_of_the_burst() {
    let mut s = state();
    key(&mut s, Action::SwitchMode);
    let fx = key(&mut s, Action::No); // photo 10: its own group
    ack(&mut s, &fx);
    assert_eq!(s.burst_rest(), 0);
    let fx = key(&mut s, Action::Yes); // pick 11, the burst's best
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(12)));
    assert_eq!(s.burst_rest(), 2, "12 and 13 are left of the burst");
    assert_eq!(s.queue(Mode::Best).burst().len(), 3);
    let fx = key(&mut s, Action::PassBurst);
    assert_eq!(
        fx,
        record(
            Mode::Best,
            vec![
                one(12, "best", LabelKind::Print, LabelValue::No),
                one(13, "best", LabelKind::Print, LabelValue::No)
            ]
        )
    );
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(14)));
    assert_eq!(s.burst_rest(), 0);
}

#[test]
fn best_only_keys_explain_themselves_in_ambiguous_mode() {
    let mut s = state();
    assert!(key(&mut s, Action::NotKind).is_empty());
    assert!(s.notice.as_deref().unwrap().contains("best mode"));
    assert!(key(&mut s, Action::PassBurst).is_empty());
    assert!(s.notice.as_deref().unwrap().contains("best mode"));
    assert_eq!(s.current(), Some(PhotoId(1)));
}

#[test]
fn tab_switches_modes_and_each_keeps_its_place() {
    let mut s = state();
    let fx = key(&mut s, Action::Yes);
    ack(&mut s, &fx);
    key(&mut s, Action::SwitchMode);
    let fx = key(&mut s, Action::Yes);
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(11)));
    key(&mut s, Action::SwitchMode);
    assert_eq!((s.mode, s.current()), (Mode::Ambiguous, Some(PhotoId(2))));
    key(&mut s, Action::SwitchMode);
    assert_eq!((s.mode, s.current()), (Mode::Best, Some(PhotoId(11))));
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
            other => panic!("unexpected {other:?}"),
        };
        let more = update(s, msg);
        run(s, cat, more);
    }
}

#[test]
fn undo_across_mode_switches_undoes_each_modes_own_decisions() {
    let mut cat = Catalog::open_in_memory().unwrap();
    let records: Vec<NewPhoto> = (1..=14)
        .map(|i| NewPhoto {
            path: format!("/p/{i}.jpg").into(),
            content_hash: format!("h{i}"),
            ..Default::default()
        })
        .collect();
    cat.insert_photos(&records).unwrap();
    let mut s = state();
    for a in [Action::Yes, Action::No] {
        let fx = key(&mut s, a);
        run(&mut s, &mut cat, fx);
    }
    key(&mut s, Action::SwitchMode);
    let fx = key(&mut s, Action::Yes); // pick 10
    run(&mut s, &mut cat, fx);
    key(&mut s, Action::SwitchMode);
    assert_eq!(s.current(), Some(PhotoId(3)));

    let fx = key(&mut s, Action::Back);
    run(&mut s, &mut cat, fx);
    assert_eq!(s.current(), Some(PhotoId(2)), "ambiguous undoes its own last decision");
    assert_eq!(s.counts.picked, 1, "the best-mode pick stays");
    assert_eq!(s.counts.kind_no, 0);
    let fx = key(&mut s, Action::Back);
    run(&mut s, &mut cat, fx);
    assert_eq!(s.current(), Some(PhotoId(1)));
    assert_eq!(s.counts.kind_yes, 1, "only the best-mode pick's \"yes, this kind\" is left");

    key(&mut s, Action::SwitchMode);
    assert_eq!(s.current(), Some(PhotoId(11)));
    let fx = key(&mut s, Action::Back);
    run(&mut s, &mut cat, fx);
    assert_eq!(s.current(), Some(PhotoId(10)));
    assert_eq!(s.counts.picked, 0);
    assert_eq!(s.counts.kind_yes, 0, "undoing the pick undoes its kind label too");
    assert!(cat.current_labels(LabelKind::Print).unwrap().is_empty());
    assert!(cat.current_labels(LabelKind::Kind).unwrap().is_empty());
}

#[test]
fn undo_after_a_restart_puts_the_photo_back_in_front() {
    // A fresh session's queue no longer holds the labeled photo: it is put back at the front.
    let mut s = state();
    let undone = one(99, "ambiguous", LabelKind::Kind, LabelValue::Yes);
    update(&mut s, Msg::Undone { mode: Mode::Ambiguous, result: Ok(vec![undone]), counts: None });
    assert_eq!(s.current(), Some(PhotoId(99)));
    assert_eq!(s.queue(Mode::Ambiguous).entries.len(), 5);
}

#[test]
fn retrain_runs_in_the_background_and_new_queues_keep_the_photo_on_screen() {
    let mut s = state();
    let fx = key(&mut s, Action::Yes);
    ack(&mut s, &fx);
    assert_eq!(key(&mut s, Action::Retrain), vec![Effect::StartJob(JobKind::Retrain)]);
    let progress = JobProgress {
        job: JobKind::Retrain,
        fraction: 0.5,
        note: "scoring".into(),
        eta: Some(Duration::from_secs(2)),
    };
    update(&mut s, Msg::Job(JobMsg::Progress(progress)));
    assert!(s.job_running(JobKind::Retrain));
    // Labeling goes on while it trains.
    let fx = key(&mut s, Action::No);
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(3)));
    let fx = update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Retrain,
            result: Ok(common::trained(2, Some(0.9))),
            elapsed: Duration::from_secs(1),
        }),
    );
    assert_eq!(fx, vec![Effect::RebuildQueues]);
    assert!(!s.job_running(JobKind::Retrain));
    // The new order puts photo 3 last: it stays on screen, the rest follow the new order.
    update(&mut s, queues_done(data(&[4, 7, 3], &[(14, 0), (11, 1)])));
    assert_eq!(s.current(), Some(PhotoId(3)));
    assert_eq!(s.upcoming(5), vec![PhotoId(4), PhotoId(7)]);
    assert_eq!(s.queue(Mode::Best).current().unwrap().photo, PhotoId(10), "best keeps its photo");
    assert_eq!(s.model.unwrap().version, 1, "queue data's model wins: it is the newest read");
}

#[test]
fn retrain_every_n_labels_starts_a_job() {
    let mut s = State::new(Keymap::defaults(), 2);
    update(&mut s, queues_done(data(&AMB, &BEST)));
    let fx = key(&mut s, Action::Yes);
    let more = update(
        &mut s,
        Msg::Recorded { mode: Mode::Ambiguous, advanced: 1, counts: None, error: None },
    );
    assert!(more.is_empty(), "{fx:?}");
    key(&mut s, Action::Yes);
    let more = update(
        &mut s,
        Msg::Recorded { mode: Mode::Ambiguous, advanced: 1, counts: None, error: None },
    );
    assert_eq!(more, vec![Effect::AutoRetrain]);
}

fn recorded(s: &mut State) -> Vec<Effect> {
    update(s, Msg::Recorded { mode: Mode::Ambiguous, advanced: 1, counts: None, error: None })
}

fn retrain_done(s: &mut State) -> Vec<Effect> {
    update(
        s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Retrain,
            result: Ok(common::trained(2, Some(0.9))),
            elapsed: Duration::from_millis(300),
        }),
    )
}

#[test]
fn answers_retrain_automatically_one_running_and_one_waiting() {
    // The default loop: retrain after every answer, in the background.
    let mut s = State::new(Keymap::defaults(), 1);
    update(&mut s, queues_done(data(&AMB, &BEST)));
    key(&mut s, Action::Yes);
    assert_eq!(recorded(&mut s), vec![Effect::AutoRetrain]);
    assert_eq!(s.current(), Some(PhotoId(2)));
    // Answers while it runs do not start more: they wait for one retrain after it.
    for photo in [2, 3] {
        assert_eq!(s.current(), Some(PhotoId(photo)));
        key(&mut s, Action::No);
        assert!(recorded(&mut s).is_empty());
    }
    assert_eq!(s.current(), Some(PhotoId(4)));
    // Done: the queues are rebuilt and the waiting retrain starts, once.
    assert_eq!(retrain_done(&mut s), vec![Effect::RebuildQueues, Effect::AutoRetrain]);
    assert_eq!(retrain_done(&mut s), vec![Effect::RebuildQueues], "nothing was waiting");
    // The rebuilt order never changes the photo on screen.
    update(&mut s, queues_done(data(&[9, 4, 8], &BEST)));
    assert_eq!(s.current(), Some(PhotoId(4)));
    assert_eq!(s.upcoming(3), vec![PhotoId(9), PhotoId(8)]);
    // R still forces one, even right after an automatic one started.
    key(&mut s, Action::No);
    assert_eq!(recorded(&mut s), vec![Effect::AutoRetrain]);
    assert_eq!(key(&mut s, Action::Retrain), vec![Effect::StartJob(JobKind::Retrain)]);
}

#[test]
fn a_failed_automatic_retrain_does_not_stop_the_next_one() {
    let mut s = State::new(Keymap::defaults(), 1);
    update(&mut s, queues_done(data(&AMB, &BEST)));
    key(&mut s, Action::Yes);
    assert_eq!(recorded(&mut s), vec![Effect::AutoRetrain]);
    let fx = update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Retrain,
            result: Err("no photo is embedded yet".into()),
            elapsed: Duration::ZERO,
        }),
    );
    assert!(fx.is_empty());
    assert!(s.last_error.as_deref().unwrap().contains("embedded"));
    key(&mut s, Action::Yes);
    assert_eq!(recorded(&mut s), vec![Effect::AutoRetrain]);
}

#[test]
fn failed_jobs_show_their_error() {
    let mut s = state();
    update(
        &mut s,
        Msg::Job(JobMsg::Done {
            job: JobKind::Retrain,
            result: Err("need labels of both kinds".into()),
            elapsed: Duration::ZERO,
        }),
    );
    assert!(s.last_error.as_deref().unwrap().contains("both kinds"));
}

#[test]
fn seed_key_starts_the_seed_job_or_says_it_is_missing() {
    let mut s = state();
    assert_eq!(key(&mut s, Action::Seed), vec![Effect::StartJob(JobKind::Seed)]);
    update(&mut s, Msg::Unavailable("seed generation is not available in this build yet".into()));
    assert!(s.notice.as_deref().unwrap().contains("not available"));
}

#[test]
fn help_opens_closes_and_never_labels_behind_it() {
    let mut s = state();
    assert!(key(&mut s, Action::Help).is_empty());
    assert!(s.help);
    assert!(key(&mut s, Action::Yes).is_empty(), "the key only closes the help");
    assert!(!s.help);
    assert_eq!(s.current(), Some(PhotoId(1)));
    key(&mut s, Action::Help);
    key(&mut s, Action::Help);
    assert!(!s.help);
}

#[test]
fn quit_quits() {
    let mut s = state();
    assert_eq!(key(&mut s, Action::Quit), vec![Effect::Quit]);
    assert!(s.quit);
}

#[test]
fn a_missing_photo_is_marked_once() {
    let mut s = state();
    assert_eq!(
        update(&mut s, Msg::PhotoMissing(PhotoId(1))),
        vec![Effect::MarkMissing(PhotoId(1))]
    );
    assert!(update(&mut s, Msg::PhotoMissing(PhotoId(1))).is_empty());
    assert!(s.photos[&PhotoId(1)].missing);
}

#[test]
fn keys_on_an_empty_queue_do_nothing() {
    let mut s = State::new(Keymap::defaults(), 0);
    update(&mut s, queues_done(data(&[], &[])));
    for a in [Action::Yes, Action::No, Action::Skip] {
        assert!(key(&mut s, a).is_empty());
    }
    assert_eq!(s.current(), None);
}

#[test]
fn a_quick_order_never_replaces_the_complete_one() {
    let mut s = State::new(Keymap::defaults(), 0);
    update(&mut s, queues_done(data(&[3, 2, 1], &[])));
    assert_eq!(s.current(), Some(PhotoId(3)));
    update(&mut s, queues_done(QueueData { complete: true, ..data(&[1, 2, 3], &[]) }));
    assert_eq!(s.current(), Some(PhotoId(3)), "the photo on screen stays");
    assert_eq!(s.upcoming(2), vec![PhotoId(1), PhotoId(2)]);
    update(&mut s, queues_done(data(&[2, 1], &[])));
    assert_eq!(s.upcoming(2), vec![PhotoId(1), PhotoId(2)], "late quick order ignored");
}

/// A rebuild that read the catalog just before a label was written can land just after it:
/// the photo answered meanwhile must not come back (it would be labeled twice).
#[test]
fn a_queue_read_before_an_answer_landed_does_not_ask_it_again() {
    let mut s = state();
    let fx = key(&mut s, Action::Yes);
    ack(&mut s, &fx);
    let fx = key(&mut s, Action::Skip);
    ack(&mut s, &fx);
    assert_eq!(s.current(), Some(PhotoId(3)));
    // Stale: photos 1 (answered) and 2 (skipped: ask later) are still in it.
    update(&mut s, queues_done(data(&[1, 2, 3, 4], &BEST)));
    let order: Vec<_> = s.queue(Mode::Ambiguous).entries.iter().map(|e| e.photo.0).collect();
    assert_eq!(order, vec![3, 4, 2], "the photo on screen first; 1 is gone; 2 is asked last");
    // In best mode, a pick is settled there too; undo brings a photo back into play.
    key(&mut s, Action::SwitchMode);
    let fx = key(&mut s, Action::Yes);
    ack(&mut s, &fx);
    update(&mut s, queues_done(data(&[3, 4], &BEST)));
    assert!(!s.queue(Mode::Best).entries.iter().any(|e| e.photo == PhotoId(10)));
    assert_eq!(key(&mut s, Action::Back), vec![Effect::Undo { mode: Mode::Best }]);
    let pick = pick(10);
    update(&mut s, Msg::Undone { mode: Mode::Best, result: Ok(vec![pick]), counts: None });
    update(&mut s, queues_done(data(&[3, 4], &BEST)));
    assert_eq!(s.current(), Some(PhotoId(10)), "undone, so asked again");
}
