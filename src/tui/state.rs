//! The labeling session's state and its pure `update(&mut State, Msg) -> Vec<Effect>`: no I/O
//! here; the app loop runs the effects and feeds their results back as messages.

use std::collections::HashMap;
use std::time::Duration;

use crate::catalog::LabelCounts;

use crate::domain::{Decision, DecisionMode, LabelEvent, LabelKind, LabelValue, PhotoId};
use crate::jobs::{JobMsg, JobProgress};
use crate::pipeline::Retrained;
use crate::pipeline::queues::{ModelSummary, PhotoInfo, QueueData};
use crate::pipeline::scan::ScanReport;
use crate::pipeline::seed::SeedReport;
use crate::queue::BestEntry;

use super::keymap::{Action, Keymap};
use super::notices;

/// The session's background jobs: each runs at most once at a time, with at most one more
/// waiting (see [`crate::jobs::Jobs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Retrain,
    Seed,
    /// Ordering both queues (after labels, a new model, other processes' changes).
    Queues,
    /// Scanning and embedding the folders given on the command line.
    Scan,
}

impl JobKind {
    /// The job's name, as the status bar and its error messages show it.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Retrain => "retrain",
            JobKind::Seed => "seed",
            JobKind::Queues => "queues",
            JobKind::Scan => "scan",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the session's jobs tell the loop.
pub type JobEvent = JobMsg<JobKind, JobOutput>;

/// The two questions the user answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// "Is this the sort of image I want?": the photos the model is least sure about.
    Ambiguous,
    /// "Is this an image I want?": best first, for printing.
    Best,
}

impl Mode {
    /// The name the session settings store.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ambiguous => "ambiguous",
            Mode::Best => "best",
        }
    }

    pub fn other(self) -> Mode {
        match self {
            Mode::Ambiguous => Mode::Best,
            Mode::Best => Mode::Ambiguous,
        }
    }

    /// The mode of [`Mode::as_str`]'s name.
    pub fn parse(name: &str) -> Option<Mode> {
        [Mode::Ambiguous, Mode::Best].into_iter().find(|m| m.as_str() == name)
    }

    /// How the label log records a decision made in this mode.
    pub fn decision_mode(self) -> DecisionMode {
        match self {
            Mode::Ambiguous => DecisionMode::Ambiguous,
            Mode::Best => DecisionMode::Best,
        }
    }

    fn index(self) -> usize {
        match self {
            Mode::Ambiguous => 0,
            Mode::Best => 1,
        }
    }
}

/// One mode's queue and the place in it. Entries before `pos` were decided this session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModeQueue {
    pub entries: Vec<BestEntry>,
    pub pos: usize,
    /// Decisions made in this mode this session (undo counts back).
    pub done: usize,
}

impl ModeQueue {
    pub fn current(&self) -> Option<BestEntry> {
        self.entries.get(self.pos).copied()
    }

    pub fn remaining(&self) -> usize {
        self.entries.len().saturating_sub(self.pos)
    }

    /// The current photo's burst: its group's entries, with their queue indices.
    pub fn burst(&self) -> Vec<(usize, BestEntry)> {
        let Some(cur) = self.current() else { return Vec::new() };
        let mut start = self.pos;
        while start > 0 && self.entries[start - 1].group == cur.group {
            start -= 1;
        }
        let mut end = self.pos;
        while end < self.entries.len() && self.entries[end].group == cur.group {
            end += 1;
        }
        (start..end).map(|i| (i, self.entries[i])).collect()
    }

    /// Puts `photo` back at the current place (after an undo), wherever it is now.
    fn restore(&mut self, photo: PhotoId) {
        // A skipped photo was also queued again at the end: that copy goes.
        if let Some(i) = self.entries.iter().rposition(|e| e.photo == photo)
            && i >= self.pos
            && self.entries[..i].iter().any(|e| e.photo == photo)
        {
            self.entries.remove(i);
        }
        if self.pos > 0 && self.entries[self.pos - 1].photo == photo {
            self.pos -= 1;
            return;
        }
        let entry = match self.entries.iter().position(|e| e.photo == photo) {
            Some(i) => {
                let e = self.entries.remove(i);
                if i < self.pos {
                    self.pos -= 1;
                }
                e
            }
            None => BestEntry { photo, group: usize::MAX - self.entries.len() },
        };
        self.entries.insert(self.pos, entry);
    }

    /// Queues `entry` again at the end, alone in its group ("ask again later").
    fn requeue(&mut self, photo: PhotoId) {
        let group = usize::MAX / 2 + self.entries.len();
        self.entries.push(BestEntry { photo, group });
    }

    /// Takes a rebuilt order, keeping `keep` (the photo on screen) first.
    fn replace(&mut self, entries: Vec<BestEntry>, keep: Option<BestEntry>) {
        self.entries = entries;
        self.pos = 0;
        if let Some(keep) = keep {
            match self.entries.iter().position(|e| e.photo == keep.photo) {
                Some(i) => {
                    let e = self.entries.remove(i);
                    self.entries.insert(0, e);
                }
                None => self.entries.insert(0, BestEntry { photo: keep.photo, group: usize::MAX }),
            }
        }
    }
}

/// The labels a photo got in this session, as the queues' rules read them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SessionLabels {
    kind: Option<LabelValue>,
    print: Option<LabelValue>,
}

impl SessionLabels {
    /// Whether `mode`'s queue leaves the photo out (the rules of `queue::ambiguous` and
    /// `queue::best_first`): an answer other than "ask later" to its question, a print
    /// decision, and for best-first a "not the kind I want".
    fn settles(self, mode: Mode) -> bool {
        let answered = |v: Option<LabelValue>| v.is_some_and(|v| v != LabelValue::Skip);
        match mode {
            Mode::Ambiguous => answered(self.kind) || answered(self.print),
            Mode::Best => answered(self.print) || self.kind == Some(LabelValue::No),
        }
    }
}

/// A running job as the status bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub job: JobKind,
    pub fraction: f32,
    pub note: String,
    pub eta: Option<Duration>,
}

/// What a finished job produced: the pipeline's own reports, worded for the status bar by
/// [`super::notices`] when they arrive.
#[derive(Debug)]
pub enum JobOutput {
    /// A retrain: the new model version and how it was trained.
    Trained(Box<Retrained>),
    /// The seed job: example photos added, seed images generated, all embedded.
    Seeded(Box<SeedReport>),
    /// A folder scanned, embedded and scored in the background.
    Scanned(Box<ScanReport>),
    Queues(Box<QueueData>),
}

/// Inputs to [`update`].
#[derive(Debug)]
pub enum Msg {
    Action(Action),
    /// The app wrote `advanced` decisions of `mode` (all of them unless `error`).
    Recorded {
        mode: Mode,
        advanced: usize,
        counts: Option<LabelCounts>,
        error: Option<String>,
    },
    /// The app undid `mode`'s newest decision: one photo's, or a whole burst's passed with one
    /// key (empty: there was none).
    Undone {
        mode: Mode,
        result: Result<Vec<Decision>, String>,
        counts: Option<LabelCounts>,
    },
    Job(JobEvent),
    /// The preview worker found neither the thumbnail nor the original.
    PhotoMissing(PhotoId),
    /// A job could not be started (e.g. a feature not in this build).
    Unavailable(String),
    /// A key that does nothing here was pressed: what to press instead.
    KeyNotBound(String),
    /// Best mode, in a burst: show the next (1) or previous (-1) undecided shot in capture
    /// order instead of the one on screen (Lightroom's arrows through a stack).
    StepBurst(i8),
    /// Pan the loupe one step (`dx`, `dy`: -1, 0 or 1). `half` is half the view's size in
    /// thousandths of the photo's (the app knows both sizes): a step moves half a view, and
    /// the centre stays where the view is inside the photo.
    Pan {
        dx: i8,
        dy: i8,
        half: (u16, u16),
    },
    /// The terminal's size changed: below the minimum only Quit acts (the photo is hidden).
    Screen {
        too_small: bool,
    },
    /// Another process (or a job) committed to the catalog: scan, train, score.
    CatalogChanged,
}

/// Work for the app loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write these decisions (all in one transaction: one undo step), then send `Msg::Recorded`.
    Record {
        mode: Mode,
        decisions: Vec<Decision>,
    },
    /// Undo `mode`'s newest decision, then send `Msg::Undone`.
    Undo {
        mode: Mode,
    },
    /// Rebuild both queues off the UI task (job `Queues`).
    RebuildQueues,
    /// Start job `Retrain` or `Seed`.
    StartJob(JobKind),
    /// Start job `retrain` because answers came in (`retrain_every`); where this build has
    /// no retraining, nothing happens (the R key says why).
    AutoRetrain,
    /// Record in the catalog that a photo's files are gone.
    MarkMissing(PhotoId),
    /// Remember the mode for the next session.
    SaveMode(Mode),
    Quit,
}

/// The whole session state. `draw` only reads it.
#[derive(Debug, Clone)]
pub struct State {
    pub mode: Mode,
    queues: [ModeQueue; 2],
    pub photos: HashMap<PhotoId, PhotoInfo>,
    pub model: Option<ModelSummary>,
    pub counts: LabelCounts,
    /// Labeled seed and example photos (the queue build counts them).
    pub seeds: u64,
    pub total_photos: usize,
    /// The first queues have arrived.
    pub loaded: bool,
    /// A complete (embedding-aware) order has arrived; a quick one no longer replaces it.
    pub complete: bool,
    pub help: bool,
    pub jobs: Vec<JobStatus>,
    /// Shown until the next key or the next job that succeeds.
    pub last_error: Option<String>,
    pub notice: Option<String>,
    /// The terminal is below the minimum size: keys other than Quit do nothing.
    pub too_small: bool,
    /// The decisions of the `Record` being written, to queue skipped photos again once saved.
    pending: Option<(Mode, Vec<Decision>)>,
    /// The labels this session wrote (and did not undo), newest per photo and kind: a queue
    /// rebuilt from a catalog read just before a label landed must not ask about it again.
    answered: HashMap<PhotoId, SessionLabels>,
    pub keymap: Keymap,
    /// Retrain automatically after this many new answers (0: only on the key).
    pub retrain_every: u32,
    labels_since_train: u32,
    /// An automatic or forced retrain was started and has not reported back.
    retraining: bool,
    /// Answers came in while it ran: one more retrain when it is done (at most one waits,
    /// the newest request replacing an older one).
    retrain_waiting: bool,
    /// Best mode: the burst group of the last pick, to offer passing the rest.
    pub last_pick_group: Option<usize>,
    /// The print size picks are checked against (`[export] print_size`), shown in best mode.
    pub print: Option<crate::print_check::PrintSpec>,
    /// How the user calls photosift on this library (with its `--library`), for the hints.
    pub command: String,
    /// The photo shown at 100% (zoom key) and where; any other photo shows fitted (in
    /// compare view the loupe shows both shots at the same place).
    pub loupe: Option<Loupe>,
    /// Compare view is on: best mode shows a burst's shots two side by side.
    pub compare: Option<Compare>,
    /// What the user is looking for (`label --want`, `[session] question`), the side panel's
    /// title; empty when none was given.
    pub question: String,
    /// Photos skipped ("ask again later") this session, per mode, in the order skipped: a
    /// rebuilt queue puts them back at its end, whenever the rebuild lands.
    skipped: [Vec<PhotoId>; 2],
    /// Best mode's total and the photos it counted, fixed when the mode is entered, so the
    /// count does not jump as retrains move photos across the threshold.
    best_frozen: Option<FrozenTotal>,
    pub quit: bool,
}

/// The loupe: a photo at 100%, and the point of it at the view's centre (thousandths of its
/// width and height; see `preview::Centre`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loupe {
    pub photo: PhotoId,
    pub centre: (u16, u16),
    /// Half the view's size in thousandths of the photo's, as the app last measured it
    /// (500 or more: the photo is smaller than the view along that side).
    pub room: (u16, u16),
}

/// Compare view (Lightroom's C): the shot on screen on the left, another undecided shot of its
/// burst on the right, at the same size and zoom. It stays on from burst to burst until the
/// compare key again; a photo that is not in a burst shows alone meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compare {
    /// The shot on the right, as last chosen; when it is decided (or not in this burst) the
    /// next undecided shot after the left one in capture order takes its place.
    pub other: Option<PhotoId>,
    /// The side the decision keys act on (← and → choose it).
    pub active: Side,
}

/// One of compare view's two panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    #[default]
    Left,
    Right,
}

/// Best mode's total as it was when the mode was entered.
#[derive(Debug, Clone, Default)]
struct FrozenTotal {
    total: u64,
    counted: std::collections::HashSet<PhotoId>,
}

/// The status bar's count: `answered` of `total`, `left` in the queue, of which `new` rose
/// above best mode's threshold since the mode was entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub answered: u64,
    pub total: u64,
    pub left: u64,
    pub new: u64,
}

/// What a session did, for the summary printed after it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Decisions made this session (undone ones not counted), both modes.
    pub answers: usize,
    /// Photos picked for print, in all sessions.
    pub picked: u64,
}

impl State {
    pub fn new(keymap: Keymap, retrain_every: u32) -> Self {
        Self {
            mode: Mode::Ambiguous,
            queues: Default::default(),
            photos: HashMap::new(),
            model: None,
            counts: LabelCounts::default(),
            seeds: 0,
            total_photos: 0,
            loaded: false,
            complete: false,
            help: false,
            jobs: Vec::new(),
            last_error: None,
            notice: None,
            too_small: false,
            pending: None,
            answered: HashMap::new(),
            keymap,
            retrain_every,
            labels_since_train: 0,
            retraining: false,
            retrain_waiting: false,
            last_pick_group: None,
            print: None,
            command: "photosift".to_owned(),
            loupe: None,
            compare: None,
            question: String::new(),
            skipped: Default::default(),
            best_frozen: None,
            quit: false,
        }
    }

    pub fn queue(&self, mode: Mode) -> &ModeQueue {
        &self.queues[mode.index()]
    }

    fn queue_mut(&mut self, mode: Mode) -> &mut ModeQueue {
        &mut self.queues[mode.index()]
    }

    /// Best mode, and the photo on screen is one of a burst still being decided (the arrows
    /// step through its shots instead of undoing or skipping).
    pub fn in_burst(&self) -> bool {
        self.mode == Mode::Best && !self.help && !self.too_small && self.open_shots().len() >= 2
    }

    /// The undecided shots of the current photo's burst (best mode's queue), in capture
    /// order, as (queue index, photo).
    fn open_shots(&self) -> Vec<(usize, PhotoId)> {
        let time = |p: PhotoId| self.photos.get(&p).and_then(|i| i.taken_at).unwrap_or(i64::MAX);
        let q = self.queue(Mode::Best);
        let mut open: Vec<(usize, PhotoId)> =
            q.burst().into_iter().filter(|(i, _)| *i >= q.pos).map(|(i, e)| (i, e.photo)).collect();
        open.sort_by_key(|(_, p)| (time(*p), *p));
        open
    }

    /// The two shots compare view shows, left (the one on screen) and right, when it is on
    /// and the photo on screen has another undecided shot in its burst.
    pub fn compare_pair(&self) -> Option<(PhotoId, PhotoId)> {
        let compare = self.compare?;
        if !self.in_burst() {
            return None;
        }
        let left = self.current()?;
        let open = self.open_shots();
        let right = compare
            .other
            .filter(|o| *o != left && open.iter().any(|(_, p)| p == o))
            .or_else(|| shot_after(&open, left, &[left]))?;
        Some((left, right))
    }

    /// The side compare view's keys act on, while it shows two shots.
    pub fn compare_side(&self) -> Option<Side> {
        self.compare_pair().and(self.compare.map(|c| c.active))
    }

    /// Where the loupe looks at `photo`, if it shows that photo (in compare view: both shots,
    /// at the same place, whichever of the burst the loupe was opened on).
    pub fn loupe_on(&self, photo: PhotoId) -> Option<(u16, u16)> {
        let l = self.loupe?;
        let compared = self.compare_pair().is_some_and(|(a, b)| photo == a || photo == b);
        (l.photo == photo || compared).then_some(l.centre)
    }

    /// The photo on screen.
    pub fn current(&self) -> Option<PhotoId> {
        self.queue(self.mode).current().map(|e| e.photo)
    }

    /// The photos to have ready after the current one, in order.
    pub fn upcoming(&self, n: usize) -> Vec<PhotoId> {
        let q = self.queue(self.mode);
        q.entries.iter().skip(q.pos + 1).take(n).map(|e| e.photo).collect()
    }

    /// Answered photos and the total they are out of, true across sessions. Ambiguous mode:
    /// every photo, of which those its queue no longer holds are answered (a yes or no, or a
    /// pick or pass in best mode), so "0 left" is "all answered". Best mode: picks and passes,
    /// out of the total when the mode was entered; photos that rose above the threshold since
    /// are `new`.
    pub fn progress(&self) -> Progress {
        let q = self.queue(self.mode);
        let left = q.remaining() as u64;
        match self.mode {
            Mode::Ambiguous => {
                let total = (self.total_photos as u64).max(left);
                Progress { answered: total - left, total, left, new: 0 }
            }
            Mode::Best => {
                let answered = self.counts.picked + self.counts.passed;
                let (total, new) = match &self.best_frozen {
                    Some(f) => {
                        let new = q.entries[q.pos..]
                            .iter()
                            .filter(|e| !f.counted.contains(&e.photo))
                            .count() as u64;
                        (f.total, new)
                    }
                    None => (answered + left, 0),
                };
                Progress { answered, total: total.max(answered), left, new }
            }
        }
    }

    /// What this session did, for the summary after it ends.
    pub fn summary(&self) -> Summary {
        Summary { answers: self.queues.iter().map(|q| q.done).sum(), picked: self.counts.picked }
    }

    /// Whether there is something to learn from: a model already, seed or example photos, or
    /// answers of both kinds. Before that no retrain starts by itself (it could only fail, or
    /// rank by one class).
    pub fn can_learn(&self) -> bool {
        let c = &self.counts;
        self.model.is_some() || self.seeds > 0 || (c.kind_yes > 0 && c.kind_no > 0)
    }

    /// Fixes best mode's total at what it is now (the mode was entered).
    fn freeze_best_total(&mut self) {
        let q = self.queue(Mode::Best);
        let answered = self.counts.picked + self.counts.passed;
        let counted = q.entries[q.pos..].iter().map(|e| e.photo).collect();
        let total = answered + q.remaining() as u64;
        self.best_frozen = Some(FrozenTotal { total, counted });
    }

    pub fn job_running(&self, job: JobKind) -> bool {
        self.jobs.iter().any(|j| j.job == job)
    }

    /// Best mode, after a pick: how many photos of that burst are still waiting.
    pub fn burst_rest(&self) -> usize {
        let q = self.queue(Mode::Best);
        match (self.mode, self.last_pick_group, q.current()) {
            (Mode::Best, Some(g), Some(cur)) if cur.group == g => {
                q.entries[q.pos..].iter().take_while(|e| e.group == g).count()
            }
            _ => 0,
        }
    }
}

/// The decision a labeling key makes on `photo` in `mode`; `None` for keys that make none.
pub fn decision_for(action: Action, mode: Mode, photo: PhotoId) -> Option<Decision> {
    let label = |kind, value| Some(Decision::single(photo, mode.decision_mode(), kind, value));
    match (mode, action) {
        (Mode::Ambiguous, Action::Yes) => label(LabelKind::Kind, LabelValue::Yes),
        (Mode::Ambiguous, Action::No) => label(LabelKind::Kind, LabelValue::No),
        (Mode::Ambiguous, Action::Skip) => label(LabelKind::Kind, LabelValue::Skip),
        // A pick is also a "yes, this kind" for training; a pass (No) is not a "no".
        (Mode::Best, Action::Yes) => Some(Decision {
            photo,
            mode: mode.decision_mode(),
            events: vec![
                LabelEvent { kind: LabelKind::Kind, value: LabelValue::Yes },
                LabelEvent { kind: LabelKind::Print, value: LabelValue::Yes },
            ],
        }),
        (Mode::Best, Action::No) => label(LabelKind::Print, LabelValue::No),
        (Mode::Best, Action::Skip) => label(LabelKind::Print, LabelValue::Skip),
        (Mode::Best, Action::NotKind) => Some(Decision {
            photo,
            mode: mode.decision_mode(),
            events: vec![
                LabelEvent { kind: LabelKind::Kind, value: LabelValue::No },
                LabelEvent { kind: LabelKind::Print, value: LabelValue::No },
            ],
        }),
        _ => None,
    }
}

/// Applies one message. Pure: the returned effects are the only way out.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Action(action) => on_action(state, action),
        Msg::Recorded { mode, advanced, counts, error } => {
            let written = match state.pending.take() {
                Some((m, decisions)) if m == mode => decisions,
                _ => Vec::new(),
            };
            let q = state.queue_mut(mode);
            q.pos = (q.pos + advanced).min(q.entries.len());
            q.done += advanced;
            for d in written.iter().take(advanced) {
                let labels = state.answered.entry(d.photo).or_default();
                for e in &d.events {
                    match e.kind {
                        LabelKind::Kind => labels.kind = Some(e.value),
                        LabelKind::Print => labels.print = Some(e.value),
                    }
                }
            }
            // "Ask again later": the skipped photo comes back at the end of this session's
            // queue, and stays at the end when a rebuilt queue lands (see `apply_queues`).
            for d in written.iter().take(advanced) {
                let skipped = &mut state.skipped[mode.index()];
                skipped.retain(|p| *p != d.photo);
                if d.events.iter().all(|e| e.value == LabelValue::Skip) {
                    skipped.push(d.photo);
                    state.queue_mut(mode).requeue(d.photo);
                }
            }
            if let Some(c) = counts {
                state.counts = c;
            }
            match error {
                Some(err) => state.last_error = Some(format!("label not saved: {err}")),
                None => state.last_error = None,
            }
            // Only a yes or no about the kind changes what the model learns from: a pick or a
            // pass alone makes no new model version.
            let teaching = written.iter().take(advanced).filter(|d| teaches(d)).count();
            kind_answers_changed(state, teaching)
        }
        Msg::Undone { mode, result, counts } => {
            if let Some(c) = counts {
                state.counts = c;
            }
            // An undone yes or no is a change in what the model learns from, like an answer.
            let teaching = result.as_ref().map_or(0, |d| d.iter().filter(|d| teaches(d)).count());
            match result {
                Ok(decisions) if decisions.is_empty() => {
                    state.notice = Some(format!("nothing to undo in {} mode", mode.as_str()));
                }
                Ok(decisions) => {
                    for d in &decisions {
                        state.answered.remove(&d.photo);
                        state.skipped[mode.index()].retain(|p| *p != d.photo);
                    }
                    let q = state.queue_mut(mode);
                    // Last first, so the batch's first photo ends up on screen.
                    for d in decisions.iter().rev() {
                        q.restore(d.photo);
                    }
                    q.done = q.done.saturating_sub(decisions.len());
                    state.last_pick_group = None;
                    state.notice = Some(match decisions.len() {
                        1 => "undone: showing that photo again".into(),
                        n => format!("undone: the {n} photos passed together are back"),
                    });
                }
                Err(err) => state.last_error = Some(format!("undo failed: {err}")),
            }
            kind_answers_changed(state, teaching)
        }
        Msg::Job(JobMsg::Progress(p)) => {
            on_progress(state, p);
            Vec::new()
        }
        Msg::Job(JobMsg::Done { job, result, .. }) => on_job_done(state, job, result),
        Msg::PhotoMissing(photo) => match state.photos.get_mut(&photo) {
            Some(info) if !info.missing => {
                info.missing = true;
                vec![Effect::MarkMissing(photo)]
            }
            _ => Vec::new(),
        },
        Msg::Unavailable(why) => {
            state.notice = Some(why);
            Vec::new()
        }
        Msg::Pan { dx, dy, half } => {
            let cur = state.current();
            if let Some(l) = state.loupe.as_mut().filter(|l| Some(l.photo) == cur) {
                let step = |c: u16, d: i8, half: u16| -> u16 {
                    let half = half.min(500);
                    let moved = i32::from(c) + i32::from(d) * i32::from(half.max(1));
                    moved.clamp(i32::from(half), i32::from(1000 - half)) as u16
                };
                l.centre = (step(l.centre.0, dx, half.0), step(l.centre.1, dy, half.1));
                l.room = half;
            }
            Vec::new()
        }
        Msg::StepBurst(d) => {
            step_burst(state, d);
            Vec::new()
        }
        Msg::KeyNotBound(hint) => {
            state.last_error = None;
            state.notice = Some(hint);
            Vec::new()
        }
        Msg::Screen { too_small } => {
            state.too_small = too_small;
            Vec::new()
        }
        Msg::CatalogChanged => vec![Effect::RebuildQueues],
    }
}

fn on_action(state: &mut State, action: Action) -> Vec<Effect> {
    if state.too_small && action != Action::Quit {
        // The photo is hidden behind the "too small" message: nothing may decide on it.
        return Vec::new();
    }
    if action != Action::Help {
        // An error or a notice stays until the user does something next.
        state.last_error = None;
        state.notice = None;
    }
    if state.help && !matches!(action, Action::Help | Action::Quit) {
        // Any key closes the help; it never labels the photo behind it.
        state.help = false;
        return Vec::new();
    }
    let mode = state.mode;
    match action {
        Action::Quit => {
            state.quit = true;
            vec![Effect::Quit]
        }
        Action::Help => {
            state.help = !state.help;
            Vec::new()
        }
        Action::SwitchMode => {
            state.mode = mode.other();
            if state.mode == Mode::Best {
                state.freeze_best_total();
            }
            vec![Effect::SaveMode(state.mode)]
        }
        Action::Back => vec![Effect::Undo { mode }],
        Action::Retrain => {
            if !state.can_learn() {
                state.notice = Some(nothing_to_learn_yet(&state.keymap));
                return Vec::new();
            }
            if state.job_running(JobKind::Retrain) {
                state.notice = Some("retraining is running; it will run again when done".into());
            }
            state.labels_since_train = 0;
            state.retraining = true;
            state.retrain_waiting = false;
            vec![Effect::StartJob(JobKind::Retrain)]
        }
        Action::Seed => vec![Effect::StartJob(JobKind::Seed)],
        Action::Zoom => {
            let cur = state.current();
            state.loupe = match (state.loupe, cur) {
                (Some(_), Some(c)) if state.loupe_on(c).is_some() => None,
                (_, Some(photo)) => Some(Loupe { photo, centre: (500, 500), room: (0, 0) }),
                (_, None) => None,
            };
            Vec::new()
        }
        Action::Compare => {
            if state.compare.take().is_some() {
                return Vec::new();
            }
            if mode != Mode::Best {
                state.notice = Some(format!(
                    "compare shows a burst's shots side by side in best mode ({} switches)",
                    state.keymap.short(Action::SwitchMode)
                ));
                return Vec::new();
            }
            state.compare = Some(Compare::default());
            if state.compare_pair().is_none() {
                state.notice = Some(
                    "compare is on: the shots of a burst will show side by side (this photo \
                     has no other undecided shot)"
                        .into(),
                );
            }
            Vec::new()
        }
        Action::PassBurst => {
            if mode != Mode::Best {
                state.notice = Some("passing a burst works in best mode (Tab)".into());
                return Vec::new();
            }
            let q = state.queue(mode);
            let Some(cur) = q.current() else { return Vec::new() };
            let in_burst = q.burst().len() >= 2;
            let decisions: Vec<Decision> = q.entries[q.pos..]
                .iter()
                .take_while(|e| e.group == cur.group)
                .filter_map(|e| decision_for(Action::No, mode, e.photo))
                .collect();
            if !in_burst {
                state.notice = Some(format!(
                    "this photo is not part of a burst: {} passes it alone",
                    state.keymap.short(Action::No)
                ));
                return Vec::new();
            }
            state.last_pick_group = None;
            state.notice = None;
            record(state, mode, decisions)
        }
        Action::Yes | Action::No | Action::Skip | Action::NotKind => {
            let Some(cur) = state.queue(mode).current() else {
                state.notice = Some("nothing to label here: see the hint above".into());
                return Vec::new();
            };
            // In compare view the keys act on the chosen side's shot.
            let compared = state.compare_pair().zip(state.compare_side());
            let target = match compared {
                Some(((_, right), Side::Right)) => right,
                _ => cur.photo,
            };
            let Some(decision) = decision_for(action, mode, target) else {
                state.notice = Some(format!(
                    "{} works in best mode ({} switches)",
                    state.keymap.short(action),
                    state.keymap.short(Action::SwitchMode)
                ));
                return Vec::new();
            };
            let missing = state.photos.get(&target).is_some_and(|i| i.missing);
            if mode == Mode::Best && action == Action::Yes && missing {
                state.notice = Some(format!(
                    "the original file is missing, so it cannot be printed: {} passes it",
                    state.keymap.short(Action::No)
                ));
                return Vec::new();
            }
            if let Some(((left, right), side)) = compared {
                arrange_compare(state, left, right, side);
            }
            state.last_pick_group =
                (mode == Mode::Best && action == Action::Yes).then_some(cur.group);
            state.notice = None;
            record(state, mode, vec![decision])
        }
    }
}

/// The `Record` effect, remembering what it writes for `Msg::Recorded`.
fn record(state: &mut State, mode: Mode, decisions: Vec<Decision>) -> Vec<Effect> {
    state.pending = Some((mode, decisions.clone()));
    vec![Effect::Record { mode, decisions }]
}

fn on_progress(state: &mut State, p: JobProgress<JobKind>) {
    let status = JobStatus { job: p.job, fraction: p.fraction, note: p.note, eta: p.eta };
    match state.jobs.iter_mut().find(|j| j.job == p.job) {
        Some(j) => *j = status,
        None => state.jobs.push(status),
    }
}

fn on_job_done(state: &mut State, job: JobKind, result: Result<JobOutput, String>) -> Vec<Effect> {
    state.jobs.retain(|j| j.job != job);
    let mut effects = on_job_result(state, job, result);
    if job == JobKind::Retrain {
        state.retraining = false;
        if std::mem::take(&mut state.retrain_waiting) {
            state.retraining = true;
            effects.push(Effect::AutoRetrain);
        }
    }
    effects
}

/// An automatic retrain: started now, or (debounced) one more after the running one.
fn request_retrain(state: &mut State) -> Option<Effect> {
    if state.retraining {
        state.retrain_waiting = true;
        return None;
    }
    state.retraining = true;
    Some(Effect::AutoRetrain)
}

fn on_job_result(
    state: &mut State,
    job: JobKind,
    result: Result<JobOutput, String>,
) -> Vec<Effect> {
    match result {
        Err(err) => {
            state.last_error = Some(format!("{job}: {err}"));
            if job == JobKind::Queues {
                state.loaded = true;
            }
            Vec::new()
        }
        Ok(JobOutput::Trained(report)) => {
            state.last_error = None;
            state.notice = Some(notices::trained(&report));
            let t = report.train();
            state.model = Some(ModelSummary { version: t.model.0, auc: t.cv_auc });
            vec![Effect::RebuildQueues]
        }
        Ok(JobOutput::Seeded(report)) => {
            // Seed photos to train on (the queue rebuild brings the exact count).
            state.seeds += report.embedded.embedded as u64;
            new_photos(state, notices::seeded(&report))
        }
        Ok(JobOutput::Scanned(report)) => new_photos(state, notices::scanned(&report)),
        Ok(JobOutput::Queues(data)) => {
            apply_queues(state, *data);
            Vec::new()
        }
    }
}

/// A job added photos (scanned, seed or example ones): the queues take them, and a retrain
/// takes them into the model without waiting for an answer.
fn new_photos(state: &mut State, notice: String) -> Vec<Effect> {
    state.last_error = None;
    state.notice = Some(notice);
    let mut effects = vec![Effect::RebuildQueues];
    if state.retrain_every > 0 && state.can_learn() {
        effects.extend(request_retrain(state));
    }
    effects
}

/// Makes the next or previous undecided shot of the burst (in capture order) the one on
/// screen, by swapping it with the current one in the queue; at either end nothing moves.
/// In compare view the arrows choose the side instead, and → on the right side brings the
/// next shot there.
fn step_burst(state: &mut State, d: i8) {
    if state.mode != Mode::Best {
        return;
    }
    if let Some((left, right)) = state.compare_pair() {
        let next = shot_after(&state.open_shots(), right, &[left]).unwrap_or(right);
        if let Some(compare) = state.compare.as_mut() {
            match (d < 0, compare.active) {
                (true, _) => compare.active = Side::Left,
                (false, Side::Left) => compare.active = Side::Right,
                (false, Side::Right) => compare.other = Some(next),
            }
        }
        return;
    }
    let open = state.open_shots();
    let pos = state.queue(Mode::Best).pos;
    if open.len() < 2 {
        return;
    }
    let Some(at) = open.iter().position(|(i, _)| *i == pos) else { return };
    let Some(target) = at.checked_add_signed(isize::from(d)).filter(|t| *t < open.len()) else {
        return;
    };
    let to = open[target].0;
    state.queue_mut(Mode::Best).entries.swap(pos, to);
    state.loupe = None;
}

/// The first shot after `from` in `open` (capture order, wrapping round) that is not one of
/// `except`.
fn shot_after(open: &[(usize, PhotoId)], from: PhotoId, except: &[PhotoId]) -> Option<PhotoId> {
    let at = open.iter().position(|(_, p)| *p == from).unwrap_or(0);
    (1..=open.len())
        .map(|k| open[(at + k) % open.len()].1)
        .find(|p| *p != from && !except.contains(p))
}

/// Compare view, before a decision: puts the shot it is about first in the queue (the right
/// one moves to the current place), and the shot that should come in next after the current
/// place, so that the undecided shot stays on its side and the next shot in capture order
/// takes the decided one's.
fn arrange_compare(state: &mut State, left: PhotoId, right: PhotoId, side: Side) {
    let open = state.open_shots();
    let (decided, stays) = match side {
        Side::Left => (left, right),
        Side::Right => (right, left),
    };
    let incoming = shot_after(&open, decided, &[left, right]);
    let q = state.queue_mut(Mode::Best);
    let pos = q.pos;
    let mut move_to = |photo: PhotoId, to: usize| {
        if let Some(i) = q.entries.iter().position(|e| e.photo == photo)
            && to < q.entries.len()
        {
            let e = q.entries.remove(i);
            q.entries.insert(to, e);
        }
    };
    move_to(decided, pos);
    // Left decided: the next shot takes the left; right decided: the left stays left.
    match side {
        Side::Left => {
            if let Some(next) = incoming {
                move_to(next, pos + 1);
            }
        }
        Side::Right => move_to(stays, pos + 1),
    }
    if let Some(c) = state.compare.as_mut() {
        c.other = match side {
            Side::Left => Some(right),
            Side::Right => incoming,
        };
    }
}

/// Whether a decision changes what the model learns from: a yes or no about the kind.
fn teaches(d: &Decision) -> bool {
    d.events.iter().any(|e| e.kind == LabelKind::Kind && e.value != LabelValue::Skip)
}

/// `n` yes/no answers were added or undone: a retrain once `retrain_every` of them came in,
/// and there is something to learn from.
fn kind_answers_changed(state: &mut State, n: usize) -> Vec<Effect> {
    state.labels_since_train += n as u32;
    if n == 0
        || state.retrain_every == 0
        || state.labels_since_train < state.retrain_every
        || !state.can_learn()
    {
        return Vec::new();
    }
    state.labels_since_train = 0;
    request_retrain(state).into_iter().collect()
}

/// What to do before there is anything to learn from.
pub fn nothing_to_learn_yet(km: &Keymap) -> String {
    format!(
        "nothing to learn from yet: {}/{} on a few photos; ranking starts after the first yes \
         and no",
        km.short(Action::Yes),
        km.short(Action::No)
    )
}

fn apply_queues(state: &mut State, data: QueueData) {
    let QueueData { ambiguous, best, photos, model, counts, seeds, total_photos, complete } = data;
    if state.complete && !complete {
        return;
    }
    state.complete = complete;
    let amb: Vec<BestEntry> =
        ambiguous.into_iter().enumerate().map(|(i, photo)| BestEntry { photo, group: i }).collect();
    for (mode, mut entries) in [(Mode::Ambiguous, amb), (Mode::Best, best)] {
        entries.retain(|e| state.answered.get(&e.photo).is_none_or(|l| !l.settles(mode)));
        // This session's skips go last, in the order skipped, wherever the new order put them.
        let skipped = &state.skipped[mode.index()];
        let held_back: std::collections::HashSet<PhotoId> = skipped.iter().copied().collect();
        let (later, mut entries): (Vec<BestEntry>, Vec<BestEntry>) =
            entries.into_iter().partition(|e| held_back.contains(&e.photo));
        let still_asked: std::collections::HashSet<PhotoId> =
            later.iter().map(|e| e.photo).collect();
        for photo in skipped.iter().filter(|p| still_asked.contains(p)) {
            entries.push(BestEntry { photo: *photo, group: usize::MAX / 2 + entries.len() });
        }
        let q = state.queue_mut(mode);
        let keep = q.current();
        q.replace(entries, keep);
    }
    let first_load = !state.loaded;
    // Keep what the preview worker learned about missing files.
    let missing: Vec<PhotoId> =
        state.photos.iter().filter(|(_, i)| i.missing).map(|(id, _)| *id).collect();
    state.photos = photos;
    for id in missing {
        if let Some(info) = state.photos.get_mut(&id) {
            info.missing = true;
        }
    }
    state.model = model.or(state.model);
    state.counts = counts;
    state.seeds = seeds;
    state.total_photos = total_photos;
    state.loaded = true;
    if first_load && state.mode == Mode::Best {
        state.freeze_best_total();
    }
}
