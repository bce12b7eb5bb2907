//! The app loop over any ratatui `Backend`, on tokio: one `select!` over the terminal's keys,
//! the channel of job and preview results, and a tick; `update`, the effects run (labels
//! written before the next photo is shown), previews requested, and after everything queued
//! is handled, one draw when something changed. Tests drive it with `TestBackend`.

use std::future::poll_fn;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{Event, KeyEventKind};
use futures_core::Stream;
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Cell;
use ratatui::layout::{Rect, Size};
use tokio::runtime::Handle;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::{Interval, MissedTickBehavior};

use crate::catalog::Catalog;

use crate::config::Config;
use crate::domain::PhotoId;
use crate::jobs::{JobFn, JobMsg, JobProgress, Jobs, Started, rayon_pool};
use crate::library::Library;
use crate::pipeline::SessionData;
use crate::pipeline::queues::{Build, load_queues};
use crate::print_check::PrintSpec;

use super::encode::KITTY_DELETE_ALL;
use super::fresh::Freshness;
use super::graphics::{Choice, Protocol};
use super::keymap::{Action, Keymap};
use super::pacing::RetrainPacing;
use super::preview::{
    DEFAULT_BUDGET, PreviewCache, PreviewKey, PreviewMsg, PreviewRequest, PreviewSettings,
    PreviewWorker,
};
use super::state::{Effect, JobEvent, JobKind, JobOutput, Mode, Msg, State, update};
use super::terminal::{Ending, Signals};
use super::view;

/// Everything the loop reacts to.
pub enum AppEvent {
    Input(Event),
    Preview(PreviewMsg),
    Job(JobEvent),
    /// Twice a second: time to look whether another process changed the catalog, and whether
    /// the original of the photo on screen is still there.
    Tick,
    /// The original file of this photo is gone.
    OriginalGone(PhotoId),
    /// Inside tmux: whether this pane is on screen (another window or a zoomed pane hides
    /// it), and the tty of the client, as tmux said on a tick.
    TmuxShown(bool, String),
    /// SIGTERM, SIGHUP or SIGINT arrived: the session ends (labels are already saved).
    Signal(i32),
    /// The terminal closed (end of input, repeated read errors, a hang-up): the session ends.
    TerminalGone,
}

/// The terminal's events, as crossterm's `EventStream` gives them.
pub type InputStream = dyn Stream<Item = std::io::Result<Event>> + Unpin;

/// How often the loop ticks (catalog changes, the original on screen).
const TICK: Duration = Duration::from_millis(500);

/// Consecutive input errors taken for a closed terminal (the session ends): a stray reply
/// the parser does not know is not the end of input.
const INPUT_ERRORS: u32 = 20;

/// The tokio runtime a session runs on: threads besides the caller's, which runs the loop
/// itself (`block_on`): one worker for the timer and the jobs' waiting tasks, and the
/// blocking pool for the jobs' work. Dropping it (a panic unwinding included) does not wait
/// for jobs still running: like the process exiting, it leaves them where they are, so
/// quitting never waits for a seed step or a training run.
pub struct SessionRuntime {
    handle: Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl SessionRuntime {
    pub fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("photosift-rt")
            .enable_time()
            // The signal driver (`terminal::Signals`) runs on the I/O driver.
            .enable_io()
            .build()?;
        Ok(Self { handle: runtime.handle().clone(), runtime: Some(runtime) })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for SessionRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The session setting that holds the mode the user left in.
const MODE_SETTING: &str = "mode";

/// Makes a fresh job each time its key is pressed.
pub type JobFactory = Box<dyn Fn() -> JobFn<JobOutput>>;

/// The background work the session can start; `None` where this build has no such feature
/// (the status line says so).
#[derive(Default)]
pub struct Services {
    pub retrain: Option<JobFactory>,
    pub seed: Option<JobFactory>,
    /// Scanning and embedding new folders, started with the session (`photosift label DIR`):
    /// the queues fill while it runs.
    pub scan: Option<JobFactory>,
    /// How the user calls photosift on this library (`photosift --library DIR`), for hints.
    pub command: Option<String>,
    /// The session's memory (embeddings, the newest scores), shared by the retrains and the
    /// queue builds after them.
    pub data: Arc<Mutex<SessionData>>,
}

pub struct App<B: Backend> {
    terminal: Terminal<B>,
    state: State,
    previews: PreviewCache,
    worker: PreviewWorker,
    catalog: Catalog,
    library: Library,
    config: Config,
    jobs: Jobs<JobKind, JobOutput>,
    services: Services,
    tx: UnboundedSender<AppEvent>,
    rx: UnboundedReceiver<AppEvent>,
    tick: Interval,
    runtime: Runtime,
    dirty: bool,
    frames: u64,
    /// Queue orders built and applied so far.
    queue_builds: u64,
    fresh: Freshness,
    pacing: RetrainPacing,
    /// The photo on screen and its original, checked on each tick.
    watched: Option<(PhotoId, PathBuf)>,
    /// A check of the original is running (a stat can hang on a network share: one at a
    /// time, never on the loop's thread).
    checking: Arc<AtomicBool>,
    /// Inside tmux: a question to tmux is running, and whether the pane was on screen.
    asking_tmux: Arc<AtomicBool>,
    tmux_shown: bool,
    graphics: Protocol,
    /// The protocol's cell size in pixels, for the loupe's steps.
    choice: Choice,
    /// What the photo area showed in the last frame (see [`App::screen_signature`]).
    last_signature: Option<ScreenSignature>,
    /// Set when a signal or a closed terminal ends the session.
    ending: Option<Ending>,
    /// The signals that end the session (given by [`App::run`]).
    signals: Option<Signals>,
}

/// What decides the pixels a graphics protocol has put on screen: when it changes, the
/// screen is cleared and redrawn in full, because images drawn by escape sequences are not
/// cells — ratatui's diff would neither remove a previous photo nor repaint text a popup
/// left over one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScreenSignature {
    /// The photo on screen, or compare view's two, and whether each preview is drawn.
    photos: [Option<(PreviewKey, bool)>; 2],
    strip: usize,
    help: bool,
    size: (u16, u16),
}

impl<B> App<B>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
{
    /// Opens the session on `library`; call [`App::run`] or drive it with [`App::pump_until`].
    /// Inside a tokio runtime (a multi-thread one) it runs on that; elsewhere it makes its
    /// own, for [`App::pump_until`].
    pub fn new(
        terminal: Terminal<B>,
        library: Library,
        config: Config,
        graphics: Choice,
        services: Services,
    ) -> Result<Self> {
        let keymap = Keymap::from_config(&config.keys).context("bad [keys] in the config")?;
        let catalog = library.open_catalog()?;
        catalog.leave_checkpoints_to_others()?;
        let runtime = Runtime::current_or_own().context("cannot start the async runtime")?;
        let (tx, rx) = unbounded_channel();
        let preview_tx = tx.clone();
        let protocol = graphics.protocol;
        let mut previews = PreviewCache::with_budget(DEFAULT_BUDGET, graphics.short());
        previews.set_tmux_origin(graphics.tmux_origin);
        let choice = graphics.clone();
        let settings = PreviewSettings::new(graphics, config.scan.clone());
        let worker = PreviewWorker::new(
            settings,
            2,
            Arc::new(move |m| {
                let _ = preview_tx.send(AppEvent::Preview(m));
            }),
        )
        .context("cannot start the preview threads")?;
        let job_tx = tx.clone();
        let jobs = Jobs::new(runtime.handle.clone(), move |m| {
            let _ = job_tx.send(AppEvent::Job(m));
        });
        let tick = {
            let _in_runtime = runtime.handle.enter();
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
            // After a long frame or a test not pumping: one tick, not a burst of them.
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            tick
        };
        let mut state = State::new(keymap, config.train.retrain_every);
        match PrintSpec::from_config(&config.export.print_size, config.export.dpi) {
            Ok(spec) => state.print = spec,
            Err(e) => state.last_error = Some(format!("[export] print_size: {e}")),
        }
        // Back in the mode the user left in (each mode finds its own place again).
        match catalog.session_setting(MODE_SETTING) {
            Ok(saved) => state.mode = saved.as_deref().and_then(Mode::parse).unwrap_or(state.mode),
            Err(e) => tracing::warn!("cannot read the saved mode: {e}"),
        }
        if let Some(command) = &services.command {
            state.command = command.clone();
        }
        match catalog.question() {
            Ok(question) => state.question = question.unwrap_or_default(),
            Err(e) => tracing::warn!("cannot read the question: {e}"),
        }
        let mut app = Self {
            terminal,
            state,
            previews,
            worker,
            catalog,
            library,
            config,
            jobs,
            services,
            tx,
            rx,
            tick,
            runtime,
            dirty: true,
            frames: 0,
            queue_builds: 0,
            fresh: Freshness::default(),
            pacing: RetrainPacing::default(),
            watched: None,
            checking: Arc::new(AtomicBool::new(false)),
            asking_tmux: Arc::new(AtomicBool::new(false)),
            tmux_shown: true,
            graphics: protocol,
            choice,
            last_signature: None,
            ending: None,
            signals: None,
        };
        if let Ok(version) = app.catalog.data_version() {
            app.fresh.observe(version);
        }
        if let Ok(size) = app.terminal.size() {
            app.state.too_small = view::too_small(Rect::new(0, 0, size.width, size.height));
        }
        // A quick order by score first, so the first photo shows at once; the full order
        // (embeddings: diversity, bursts) runs after it on the same job, so the two do not
        // compete for the CPU, and keeps that photo on screen.
        let (library, config) = (app.library.clone(), app.config.clone());
        let quick: JobFn<JobOutput> = Box::new(move |_| {
            own_pool(|| load_queues(&library, &config, Build::Quick))
                .map(|d| JobOutput::Queues(Box::new(d)))
        });
        if let Some(msg) = app.start_job(JobKind::Queues, quick, false) {
            app.apply(msg);
        }
        app.run_effects(vec![Effect::RebuildQueues]);
        // A folder given on the command line is scanned while the user labels.
        if let Some(make) = &app.services.scan {
            let work = make();
            if let Some(msg) = app.start_job(JobKind::Scan, work, true) {
                app.apply(msg);
            }
        }
        Ok(app)
    }

    /// A sender for events from outside (tests; the terminal's come through [`App::run`]).
    pub fn sender(&self) -> UnboundedSender<AppEvent> {
        self.tx.clone()
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn terminal(&self) -> &Terminal<B> {
        &self.terminal
    }

    pub fn terminal_mut(&mut self) -> &mut Terminal<B> {
        &mut self.terminal
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Queue orders built and applied so far (the first ones at start, one after each retrain,
    /// others after catalog changes).
    pub fn queue_builds(&self) -> u64 {
        self.queue_builds
    }

    /// Encoded previews held, in bytes, and how many.
    pub fn preview_memory(&self) -> (usize, usize) {
        (self.previews.bytes(), self.previews.len())
    }

    /// The photo on screen (compare view: both) has its preview (or its missing-file
    /// placeholder) ready.
    pub fn photo_ready(&self) -> bool {
        let Ok(size) = self.terminal.size() else { return false };
        let area = Rect::new(0, 0, size.width, size.height);
        if view::too_small(area) {
            return true;
        }
        let slots = view::photo_slots(area, &self.state);
        if slots.is_empty() {
            return self.state.loaded;
        }
        slots.iter().all(|(p, rect)| {
            self.previews.contains_key(&PreviewKey::new(
                *p,
                rect.as_size(),
                self.state.loupe_on(*p),
            ))
        })
    }

    /// Runs until the user quits, a signal comes or the terminal closes, on the terminal's
    /// events (`input`: crossterm's `EventStream`; `tty`: the descriptor it reads, watched
    /// for a hang-up on each tick). Runs on the caller's thread (`block_on`), which the panic
    /// hook knows as the UI thread.
    pub async fn run(
        &mut self,
        input: &mut InputStream,
        signals: Signals,
        tty: i32,
    ) -> Result<Ending> {
        self.signals = Some(signals);
        let mut input = Input { stream: Some(input), errors: 0, tty: Some(tty) };
        self.draw_if_dirty()?;
        while !self.done() {
            let Some(ev) = self.next_event(&mut input, true).await else { break };
            self.handle(ev)?;
            self.handle_queued(&mut input).await?;
            if self.ending.is_none() {
                self.draw_if_dirty()?;
            }
        }
        self.jobs.cancel_all();
        Ok(self.ending.unwrap_or(Ending::Quit))
    }

    /// The user quit, or a signal or a closed terminal ended the session.
    fn done(&self) -> bool {
        self.state.quit || self.ending.is_some()
    }

    /// Handles events (drawing after each batch) until `done` holds or `timeout` passes;
    /// returns whether `done` held. For callers outside the runtime (tests, benchmarks): it
    /// blocks on it.
    pub fn pump_until(&mut self, timeout: Duration, done: impl Fn(&Self) -> bool) -> Result<bool> {
        let runtime = self.runtime.handle.clone();
        runtime.block_on(self.pump(timeout, done))
    }

    async fn pump(&mut self, timeout: Duration, done: impl Fn(&Self) -> bool) -> Result<bool> {
        let end = tokio::time::Instant::now() + timeout;
        let mut input = Input { stream: None, errors: 0, tty: None };
        loop {
            self.draw_if_dirty()?;
            if done(self) {
                return Ok(true);
            }
            match tokio::time::timeout_at(end, self.next_event(&mut input, true)).await {
                Ok(Some(ev)) => self.handle(ev)?,
                Ok(None) | Err(_) => return Ok(false),
            }
            self.handle_queued(&mut input).await?;
        }
    }

    /// Handles whatever else is ready now, so that a burst of events costs one draw.
    async fn handle_queued(&mut self, input: &mut Input<'_>) -> Result<()> {
        while !self.done() {
            let Some(ev) = self.next_event(input, false).await else { break };
            self.handle(ev)?;
        }
        Ok(())
    }

    /// The next event: a job's or a preview's message, a key, or the tick. Without `wait`,
    /// `None` when none is ready now. Messages already queued go before a key, as in arrival
    /// order: a key taken first could label the photo on screen before a queue rebuild read
    /// from the catalog before that label was applied, which would bring the photo back.
    async fn next_event(&mut self, input: &mut Input<'_>, wait: bool) -> Option<AppEvent> {
        loop {
            tokio::select! {
                biased;
                sig = next_signal(&mut self.signals) => return Some(AppEvent::Signal(sig)),
                // Never `None`: the app holds a sender.
                ev = self.rx.recv() => return ev,
                ev = input.next() => match ev {
                    Some(Ok(ev)) => {
                        input.errors = 0;
                        return Some(AppEvent::Input(ev));
                    }
                    Some(Err(err)) => {
                        tracing::debug!("terminal input: {err}");
                        input.errors += 1;
                        if input.errors > INPUT_ERRORS {
                            return Some(AppEvent::TerminalGone);
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    None => return Some(AppEvent::TerminalGone),
                },
                _ = self.tick.tick() => {
                    // crossterm's input thread reads a closed terminal in a loop without
                    // reporting it: look at the terminal itself.
                    if input.tty.is_some_and(super::terminal::hung_up) {
                        return Some(AppEvent::TerminalGone);
                    }
                    return Some(AppEvent::Tick);
                }
                () = std::future::ready(()), if !wait => return None,
            }
        }
    }

    /// Applies one event: update, effects, preview requests.
    pub fn handle(&mut self, ev: AppEvent) -> Result<()> {
        match ev {
            AppEvent::Input(Event::Key(key)) => {
                // In the loupe the arrows and h/j/k/l pan (the other keys act as always).
                if let Some(pan) = self.pan(&key) {
                    self.apply(pan);
                    return Ok(());
                }
                // In best mode within a burst, ← and → step through its shots.
                if let Some(d) = super::keymap::burst_step(&key)
                    && self.state.in_burst()
                {
                    self.apply(Msg::StepBurst(d));
                    return Ok(());
                }
                let action = self.state.keymap.action(&key);
                match action {
                    Some(action) => self.apply(Msg::Action(action)),
                    // Any key closes the help, Esc included.
                    None if self.state.help && key.kind == KeyEventKind::Press => {
                        self.apply(Msg::Action(Action::Help));
                    }
                    None => {
                        if let Some(hint) = self.state.keymap.unbound_hint(&key) {
                            self.apply(Msg::KeyNotBound(hint));
                        }
                    }
                }
                // A new loupe learns how much of the photo the view holds.
                if action == Some(Action::Zoom) && self.state.loupe.is_some() {
                    let room = self.loupe_room();
                    self.apply(Msg::Pan { dx: 0, dy: 0, half: room });
                }
            }
            AppEvent::Input(Event::Resize(..)) => {
                self.terminal.autoresize().context("terminal resize")?;
                self.dirty = true;
                // Inside tmux the pane may have moved in the outer terminal.
                if self.previews.tmux_origin().is_some()
                    && let Some(client) = super::tmux::TmuxClient::query()
                {
                    self.previews.set_tmux_origin(Some(client.origin));
                    self.last_signature = None;
                }
                let size = self.terminal.size().context("terminal size")?;
                let too_small = view::too_small(Rect::new(0, 0, size.width, size.height));
                if too_small != self.state.too_small {
                    self.apply(Msg::Screen { too_small });
                }
                self.request_previews();
            }
            // Focus left this tmux pane or came back (`focus-events on`).
            AppEvent::Input(Event::FocusLost) if self.previews.tmux_origin().is_some() => {
                self.tmux_pane_switched(false)?;
            }
            AppEvent::Input(Event::FocusGained) if self.previews.tmux_origin().is_some() => {
                self.tmux_pane_switched(true)?;
            }
            AppEvent::Input(_) => {}
            AppEvent::Preview(msg) => {
                let (photo, size, gone) = match &msg {
                    PreviewMsg::Ready { photo, size, .. } => (*photo, *size, false),
                    PreviewMsg::Missing { photo, size, gone, .. } => (*photo, *size, *gone),
                };
                let gone = gone && msg.key().loupe.is_none();
                self.previews.insert(msg);
                let compared = self.state.compare_pair().is_some_and(|(_, r)| r == photo);
                if self.state.current() == Some(photo) || compared || size == view::strip_cell() {
                    self.dirty = true;
                }
                // Files that are there but do not decode get the placeholder, not the mark.
                if gone {
                    self.apply(Msg::PhotoMissing(photo));
                }
            }
            AppEvent::Job(mut msg) => {
                match &mut msg {
                    JobMsg::Done { job: JobKind::Queues, elapsed, result } => {
                        self.fresh.built(Instant::now(), *elapsed);
                        self.pacing.finished(*elapsed);
                        self.queue_builds += 1;
                        // The build read the counts before the labels written since; this
                        // connection has them all (a count on screen never goes back).
                        if let Ok(JobOutput::Queues(data)) = result
                            && let Ok(counts) = self.catalog.label_counts()
                        {
                            data.counts = counts;
                        }
                    }
                    JobMsg::Done { job: JobKind::Retrain, elapsed, .. } => {
                        self.pacing.finished(*elapsed);
                    }
                    _ => {}
                }
                self.apply(Msg::Job(msg));
            }
            AppEvent::Tick => {
                // Our own writes do not move it; another process's or a job's commits do.
                if let Ok(version) = self.catalog.data_version() {
                    self.fresh.observe(version);
                }
                let waiting = self.state.current().is_none();
                let (rebuilding, scanning) =
                    (self.jobs.is_running(JobKind::Queues), self.jobs.is_running(JobKind::Scan));
                if self.fresh.due(Instant::now(), rebuilding, waiting, scanning) {
                    self.apply(Msg::CatalogChanged);
                }
                self.check_original();
                self.ask_tmux_shown();
                if self.pacing.due(Instant::now(), self.jobs.is_running(JobKind::Scan))
                    && let Some(msg) = self.start_auto_retrain()
                {
                    let more = update(&mut self.state, msg);
                    self.run_effects(more);
                    self.dirty = true;
                }
            }
            AppEvent::OriginalGone(photo) => self.apply(Msg::PhotoMissing(photo)),
            AppEvent::TmuxShown(shown, tty) if shown != self.tmux_shown => {
                self.tmux_shown = shown;
                if !shown && self.graphics == Protocol::Kitty {
                    // Hidden already: tmux passes nothing through now.
                    if let Err(err) = super::tmux::write_to_client(&tty, KITTY_DELETE_ALL) {
                        tracing::debug!("cannot take the photo off {tty}: {err}");
                    }
                }
                self.tmux_pane_switched(shown)?;
            }
            AppEvent::TmuxShown(..) => {}
            AppEvent::Signal(sig) => {
                tracing::info!("signal {sig}: ending the session");
                self.ending = Some(Ending::Signal(sig));
            }
            AppEvent::TerminalGone => {
                tracing::info!("the terminal closed: ending the session");
                self.ending = Some(Ending::TerminalGone);
            }
        }
        Ok(())
    }

    /// `update` and the effects it asks for, whose results are fed back in turn.
    fn apply(&mut self, msg: Msg) {
        let effects = update(&mut self.state, msg);
        self.dirty = true;
        self.run_effects(effects);
        self.request_previews();
    }

    fn run_effects(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            if let Some(msg) = self.run_effect(effect) {
                let more = update(&mut self.state, msg);
                self.run_effects(more);
            }
        }
    }

    fn run_effect(&mut self, effect: Effect) -> Option<Msg> {
        match effect {
            Effect::Record { mode, decisions } => {
                // One transaction: a burst passed with one key is saved (and undone) whole.
                let (advanced, error) = match self.catalog.record_decisions(&decisions) {
                    Ok(_) => (decisions.len(), None),
                    Err(err) => (0, Some(err.to_string())),
                };
                let counts = self.catalog.label_counts().ok();
                Some(Msg::Recorded { mode, advanced, counts, error })
            }
            Effect::SaveMode(mode) => {
                match self.catalog.set_session_setting(MODE_SETTING, mode.as_str()) {
                    Ok(()) => None,
                    Err(err) => Some(Msg::Unavailable(format!("cannot save the mode: {err}"))),
                }
            }
            Effect::Undo { mode } => {
                let result = self
                    .catalog
                    .undo_last_batch(Some(mode.decision_mode()))
                    .map_err(|e| e.to_string());
                let counts = self.catalog.label_counts().ok();
                Some(Msg::Undone { mode, result, counts })
            }
            Effect::RebuildQueues => {
                let (library, config) = (self.library.clone(), self.config.clone());
                let data = self.services.data.clone();
                let work: JobFn<JobOutput> = Box::new(move |_| {
                    own_pool(|| load_queues(&library, &config, Build::Complete(&data)))
                        .map(|d| JobOutput::Queues(Box::new(d)))
                });
                self.start_job(JobKind::Queues, work, false)
            }
            Effect::StartJob(job) => {
                if job == JobKind::Retrain {
                    self.pacing.started(Instant::now());
                }
                let (factory, what) = match job {
                    JobKind::Retrain => (&self.services.retrain, "retraining"),
                    JobKind::Seed => (&self.services.seed, "seed generation"),
                    JobKind::Scan => (&self.services.scan, "scanning"),
                    // The app's own job, not a service.
                    JobKind::Queues => return self.run_effect(Effect::RebuildQueues),
                };
                match factory {
                    Some(make) => {
                        let work = make();
                        self.start_job(job, work, true)
                    }
                    None => {
                        Some(Msg::Unavailable(format!("{what} is not available in this build yet")))
                    }
                }
            }
            Effect::AutoRetrain => {
                // While a scan runs, it may have to wait (pacing.rs); a tick starts it then.
                let scanning = self.jobs.is_running(JobKind::Scan);
                if !self.pacing.request(Instant::now(), scanning) {
                    return None;
                }
                self.start_auto_retrain()
            }
            Effect::MarkMissing(photo) => match self.catalog.mark_photo_missing(photo) {
                Ok(()) => None,
                Err(err) => Some(Msg::Unavailable(format!("cannot mark the photo missing: {err}"))),
            },
            Effect::Quit => {
                self.jobs.cancel_all();
                None
            }
        }
    }

    fn start_auto_retrain(&mut self) -> Option<Msg> {
        let work = self.services.retrain.as_ref()?();
        self.start_job(JobKind::Retrain, work, true)
    }

    fn start_job(&mut self, job: JobKind, work: JobFn<JobOutput>, show: bool) -> Option<Msg> {
        match self.jobs.start(job, work) {
            Started::Now if show => Some(Msg::Job(JobMsg::Progress(JobProgress::starting(job)))),
            Started::Now | Started::Next => None,
        }
    }

    /// Checks, off the loop's thread, that the original of the photo on screen is still
    /// there; a gone one comes back as [`AppEvent::OriginalGone`].
    fn check_original(&self) {
        let Some((photo, path)) = self.watched.clone() else { return };
        if self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let (checking, tx) = (self.checking.clone(), self.tx.clone());
        self.runtime.handle.spawn_blocking(move || {
            // Gone, or no longer a file (a folder, a FIFO, a link to /dev/null).
            if std::fs::metadata(&path).is_ok_and(|m| !m.is_file())
                || std::fs::symlink_metadata(&path).is_err()
            {
                let _ = tx.send(AppEvent::OriginalGone(photo));
            }
            checking.store(false, Ordering::Release);
        });
    }

    /// Inside tmux, asks off the loop's thread whether this pane is on screen; the answer
    /// comes back as [`AppEvent::TmuxShown`]. (tmux 3.3 sends no focus event when another
    /// window is selected, so the tick asks.)
    fn ask_tmux_shown(&self) {
        if self.previews.tmux_origin().is_none() || self.asking_tmux.swap(true, Ordering::AcqRel) {
            return;
        }
        let (asking, tx) = (self.asking_tmux.clone(), self.tx.clone());
        self.runtime.handle.spawn_blocking(move || {
            if let Some((shown, tty)) = super::tmux::pane_shown() {
                let _ = tx.send(AppEvent::TmuxShown(shown, tty));
            }
            asking.store(false, Ordering::Release);
        });
    }

    /// tmux hid this pane or showed it again. A photo passed through tmux is not part of
    /// tmux's screen: a kitty placement would stay over the other window, so it is taken away;
    /// a sixel is painted over by tmux. Either way it is drawn again on return.
    fn tmux_pane_switched(&mut self, shown: bool) -> Result<()> {
        if !shown && self.graphics == Protocol::Kitty {
            self.delete_kitty_images()?;
        }
        self.last_signature = None;
        self.dirty = true;
        Ok(())
    }

    /// The pan a key makes while the loupe shows the photo on screen.
    fn pan(&self, key: &crossterm::event::KeyEvent) -> Option<Msg> {
        let cur = self.state.current()?;
        if self.state.help || self.state.too_small || self.state.loupe_on(cur).is_none() {
            return None;
        }
        let (dx, dy) = super::keymap::pan_direction(key)?;
        Some(Msg::Pan { dx, dy, half: self.loupe_room() })
    }

    /// Half the photo area's size in thousandths of the original's (see `state::Loupe`).
    fn loupe_room(&self) -> (u16, u16) {
        let Some(info) = self.state.current().and_then(|p| self.state.photos.get(&p)) else {
            return (500, 500);
        };
        let Ok(size) = self.terminal.size() else { return (500, 500) };
        let slots = view::photo_slots(Rect::new(0, 0, size.width, size.height), &self.state);
        let Some((_, view)) = slots.first() else { return (500, 500) };
        let (bw, bh) = self.choice.area_px(view.width, view.height);
        let half = |view: u32, photo: Option<u32>| match photo {
            Some(p) if p > 0 => (u64::from(view) * 500 / u64::from(p)).min(500) as u16,
            _ => 500,
        };
        (half(bw, info.width), half(bh, info.height))
    }

    /// Asks the worker for what the screen needs now and next; drops what it no longer needs.
    fn request_previews(&mut self) {
        let Ok(size) = self.terminal.size() else { return };
        let area = Rect::new(0, 0, size.width, size.height);
        self.watched = self.state.current().and_then(|p| {
            let info = self.state.photos.get(&p)?;
            (!info.missing).then(|| (p, info.path.clone()))
        });
        let wanted = view::wanted_previews(area, &self.state, self.config.tui.prefetch);
        let mut keys: Vec<PreviewKey> =
            wanted.iter().map(|(p, s)| PreviewKey::new(*p, *s, None)).collect();
        // The loupe's views first (compare view's two); the fitted previews stay wanted for
        // going back.
        let on_screen = view::photo_slots(area, &self.state);
        // Only a photo filling the photo area clears the images before it (kitty): compare
        // view's two panes are placed side by side.
        let full = view::areas(area, &self.state).photo.as_size();
        for (at, (photo, rect)) in on_screen.iter().enumerate() {
            if let Some(centre) = self.state.loupe_on(*photo) {
                keys.insert(at, PreviewKey::new(*photo, rect.as_size(), Some(centre)));
            }
        }
        self.previews.prune(&keys);
        let requests: Vec<PreviewRequest> = keys
            .iter()
            .filter(|k| !self.previews.contains_key(k))
            .filter_map(|k| self.request_for(*k, full))
            .collect();
        self.worker.request(requests);
    }

    /// The worker's request for `key`; `full` is the photo area's size (see `main`).
    fn request_for(&self, key: PreviewKey, full: Size) -> Option<PreviewRequest> {
        let info = self.state.photos.get(&key.photo)?;
        let size = Size::new(key.size.0, key.size.1);
        Some(PreviewRequest {
            photo: key.photo,
            size,
            loupe: key.loupe,
            thumb: info.thumb.clone(),
            original: info.path.clone(),
            dims: info.width.zip(info.height),
            main: size == full,
        })
    }

    /// The photo on screen, whether its preview is drawn, the strip's drawn previews, the
    /// help overlay and the size.
    fn screen_signature(&self) -> Option<ScreenSignature> {
        let size = self.terminal.size().ok()?;
        let area = Rect::new(0, 0, size.width, size.height);
        let a = view::areas(area, &self.state);
        let mut photos = [None; 2];
        for (slot, (p, rect)) in photos.iter_mut().zip(view::photo_slots(area, &self.state)) {
            let key = PreviewKey::new(p, rect.as_size(), self.state.loupe_on(p));
            *slot = Some((key, self.previews.contains_key(&key)));
        }
        let strip = self
            .state
            .queue(self.state.mode)
            .burst()
            .iter()
            .filter(|(_, e)| self.previews.contains(e.photo, view::strip_cell()))
            .count();
        Some(ScreenSignature {
            photos,
            strip: if a.strip.is_some() { strip } else { 0 },
            help: self.state.help,
            size: (size.width, size.height),
        })
    }

    /// Draws once if anything changed since the last frame. No I/O but the terminal's.
    pub fn draw_if_dirty(&mut self) -> Result<bool> {
        // A hidden tmux pane is drawn when it is shown again: an image passed through tmux
        // now would land on whatever tmux shows instead.
        if !self.dirty || !self.tmux_shown {
            return Ok(false);
        }
        self.dirty = false;
        if self.graphics.is_pixels() {
            let signature = self.screen_signature();
            if signature != self.last_signature {
                self.last_signature = signature;
                self.terminal.clear().context("clearing the screen")?;
                if self.graphics == Protocol::Kitty {
                    // Placed images outlive a cleared screen; the next photo places its own.
                    self.delete_kitty_images()?;
                }
            }
        }
        let (state, previews) = (&self.state, &self.previews);
        self.terminal.draw(|f| view::draw(f, state, previews)).context("drawing")?;
        self.frames += 1;
        Ok(true)
    }

    /// Takes every kitty image off the screen (through tmux when inside it).
    fn delete_kitty_images(&mut self) -> Result<()> {
        let delete = match self.previews.tmux_origin() {
            Some(_) => super::tmux::passthrough(KITTY_DELETE_ALL),
            None => KITTY_DELETE_ALL.to_owned(),
        };
        let mut cell = Cell::default();
        cell.set_symbol(&format!("{delete} "));
        self.terminal.backend_mut().draw(std::iter::once((0, 0, &cell)))?;
        Backend::flush(self.terminal.backend_mut())?;
        Ok(())
    }
}

/// Runs `f` (a queue rebuild) on a rayon pool of its own: whatever keeps the global pool's
/// threads busy, the queue code's parallel loops would wait for it (seen when the scan still
/// read on the global pool: the first photos of `label DIR` showed only once it had read
/// every file).
fn own_pool<T>(f: impl FnOnce() -> Result<T> + Send) -> Result<T>
where
    T: Send,
{
    match rayon_pool("queues", Some(2), false) {
        Ok(pool) => pool.install(f),
        Err(err) => {
            tracing::debug!("no pool of its own for the queues ({err}); using the global one");
            f()
        }
    }
}

/// The next signal that ends the session; never without [`Signals`] (tests).
async fn next_signal(signals: &mut Option<Signals>) -> i32 {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

/// The terminal's events, or none (tests), with how many errors came in a row, and the
/// terminal's descriptor, watched for a hang-up.
struct Input<'a> {
    stream: Option<&'a mut InputStream>,
    errors: u32,
    tty: Option<i32>,
}

impl Input<'_> {
    /// The next event; never ready once the terminal is closed.
    async fn next(&mut self) -> Option<std::io::Result<Event>> {
        match &mut self.stream {
            Some(stream) => poll_fn(|cx| Pin::new(&mut **stream).poll_next(cx)).await,
            None => std::future::pending().await,
        }
    }
}

/// The runtime the app runs on: the caller's, or (outside any, e.g. in a test) its own,
/// shut down with the app.
struct Runtime {
    handle: Handle,
    _own: Option<SessionRuntime>,
}

impl Runtime {
    fn current_or_own() -> std::io::Result<Self> {
        if let Ok(handle) = Handle::try_current() {
            return Ok(Self { handle, _own: None });
        }
        let own = SessionRuntime::new()?;
        Ok(Self { handle: own.handle().clone(), _own: Some(own) })
    }
}
