//! The app loop over any ratatui `Backend`: events in (keys, previews, jobs), `update`, the
//! effects run (labels written before the next photo is shown), previews requested, and one
//! draw when something changed. Tests drive it with `TestBackend`.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::{Event, KeyEventKind};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::buffer::Cell;
use ratatui::layout::{Rect, Size};

use crate::catalog::{Catalog, PhotoId};
use crate::config::Config;
use crate::jobs::{JobFn, JobMsg, JobProgress, Jobs, Started};
use crate::library::Library;
use crate::pipeline::queues::load_queues;
use crate::print_check::PrintSpec;

use super::encode::KITTY_DELETE_ALL;
use super::fresh::Freshness;
use super::graphics::{Choice, Protocol};
use super::keymap::{Action, Keymap};
use super::preview::{
    DEFAULT_BUDGET, PreviewCache, PreviewKey, PreviewMsg, PreviewRequest, PreviewSettings,
    PreviewWorker,
};
use super::state::{
    Effect, JOB_QUEUES, JOB_RETRAIN, JOB_SCAN, JOB_SEED, JobOutput, Mode, Msg, State, update,
};
use super::view;

/// Everything the loop reacts to.
pub enum AppEvent {
    Input(Event),
    Preview(PreviewMsg),
    Job(JobMsg<JobOutput>),
    /// Twice a second: time to look whether another process changed the catalog.
    Tick,
    /// The watcher found the original file of this photo gone.
    OriginalGone(PhotoId),
}

/// How often the watcher ticks (catalog changes, the original on screen).
const TICK: Duration = Duration::from_millis(500);

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
}

pub struct App<B: Backend> {
    terminal: Terminal<B>,
    state: State,
    previews: PreviewCache,
    worker: PreviewWorker,
    catalog: Catalog,
    library: Library,
    config: Config,
    jobs: Jobs<JobOutput>,
    services: Services,
    tx: Sender<AppEvent>,
    rx: Receiver<AppEvent>,
    dirty: bool,
    frames: u64,
    fresh: Freshness,
    /// The photo on screen and its original, for the watcher thread to check.
    watched: Arc<Mutex<Option<(PhotoId, PathBuf)>>>,
    graphics: Protocol,
    /// What the photo area showed in the last frame (see [`App::screen_signature`]).
    last_signature: Option<ScreenSignature>,
}

/// What decides the pixels a graphics protocol has put on screen: when it changes, the
/// screen is cleared and redrawn in full, because images drawn by escape sequences are not
/// cells — ratatui's diff would neither remove a previous photo nor repaint text a popup
/// left over one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScreenSignature {
    photo: Option<(PreviewKey, bool)>,
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
    pub fn new(
        terminal: Terminal<B>,
        library: Library,
        config: Config,
        graphics: Choice,
        services: Services,
    ) -> Result<Self> {
        let keymap = Keymap::from_config(&config.keys).context("bad [keys] in the config")?;
        let catalog = library.open_catalog()?;
        let (tx, rx) = channel();
        let preview_tx = Mutex::new(tx.clone());
        let protocol = graphics.protocol;
        let previews = PreviewCache::with_budget(DEFAULT_BUDGET, graphics.short());
        let settings = PreviewSettings { graphics, scan: config.scan.clone() };
        let worker = PreviewWorker::new(
            settings,
            2,
            Arc::new(move |m| {
                if let Ok(tx) = preview_tx.lock() {
                    let _ = tx.send(AppEvent::Preview(m));
                }
            }),
        )
        .context("cannot start the preview threads")?;
        let job_tx = Mutex::new(tx.clone());
        let jobs = Jobs::new(move |m| {
            if let Ok(tx) = job_tx.lock() {
                let _ = tx.send(AppEvent::Job(m));
            }
        });
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
        let watched = Arc::new(Mutex::new(None));
        spawn_watcher(tx.clone(), watched.clone())?;
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
            dirty: true,
            frames: 0,
            fresh: Freshness::default(),
            watched,
            graphics: protocol,
            last_signature: None,
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
            own_pool(|| load_queues(&library, &config, false))
                .map(|d| JobOutput::Queues(Box::new(d)))
        });
        if let Some(msg) = app.start_job(JOB_QUEUES, quick, false) {
            app.apply(msg);
        }
        app.run_effects(vec![Effect::RebuildQueues]);
        // A folder given on the command line is scanned while the user labels.
        if let Some(make) = &app.services.scan {
            let work = make();
            if let Some(msg) = app.start_job(JOB_SCAN, work, true) {
                app.apply(msg);
            }
        }
        Ok(app)
    }

    /// A sender for events from outside (the terminal's input thread, tests).
    pub fn sender(&self) -> Sender<AppEvent> {
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

    /// Encoded previews held, in bytes, and how many.
    pub fn preview_memory(&self) -> (usize, usize) {
        (self.previews.bytes(), self.previews.len())
    }

    /// The photo on screen has its preview (or its missing-file placeholder) ready.
    pub fn photo_ready(&self) -> bool {
        let Ok(size) = self.terminal.size() else { return false };
        let area = Rect::new(0, 0, size.width, size.height);
        if view::too_small(area) {
            return true;
        }
        match self.state.current() {
            Some(p) => self.previews.contains_key(&PreviewKey::new(
                p,
                view::areas(area, &self.state).photo.as_size(),
                self.state.zoomed == Some(p),
            )),
            None => self.state.loaded,
        }
    }

    /// Runs until the user quits.
    pub fn run(&mut self) -> Result<()> {
        self.draw_if_dirty()?;
        while !self.state.quit {
            let Ok(ev) = self.rx.recv() else { break };
            self.handle(ev)?;
            while !self.state.quit {
                match self.rx.try_recv() {
                    Ok(ev) => self.handle(ev)?,
                    Err(_) => break,
                }
            }
            self.draw_if_dirty()?;
        }
        self.jobs.cancel_all();
        Ok(())
    }

    /// Handles events (drawing after each batch) until `done` holds or `timeout` passes;
    /// returns whether `done` held.
    pub fn pump_until(&mut self, timeout: Duration, done: impl Fn(&Self) -> bool) -> Result<bool> {
        let end = Instant::now() + timeout;
        loop {
            self.draw_if_dirty()?;
            if done(self) {
                return Ok(true);
            }
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => self.handle(ev)?,
                Err(RecvTimeoutError::Timeout) => return Ok(false),
                Err(RecvTimeoutError::Disconnected) => return Ok(false),
            }
            while let Ok(ev) = self.rx.try_recv() {
                self.handle(ev)?;
            }
        }
    }

    /// Applies one event: update, effects, preview requests.
    pub fn handle(&mut self, ev: AppEvent) -> Result<()> {
        match ev {
            AppEvent::Input(Event::Key(key)) => {
                match self.state.keymap.action(&key) {
                    Some(action) => self.apply(Msg::Action(action)),
                    // Any key closes the help, Esc included.
                    None if self.state.help && key.kind == KeyEventKind::Press => {
                        self.apply(Msg::Action(Action::Help));
                    }
                    None => {}
                }
            }
            AppEvent::Input(Event::Resize(..)) => {
                self.terminal.autoresize().context("terminal resize")?;
                self.dirty = true;
                let size = self.terminal.size().context("terminal size")?;
                let too_small = view::too_small(Rect::new(0, 0, size.width, size.height));
                if too_small != self.state.too_small {
                    self.apply(Msg::Screen { too_small });
                }
                self.request_previews();
            }
            AppEvent::Input(_) => {}
            AppEvent::Preview(msg) => {
                let (photo, size, gone) = match &msg {
                    PreviewMsg::Ready { photo, size, .. } => (*photo, *size, false),
                    PreviewMsg::Missing { photo, size, gone, .. } => (*photo, *size, *gone),
                };
                let gone = gone && !msg.key().zoom;
                self.previews.insert(msg);
                if self.state.current() == Some(photo) || size == view::strip_cell() {
                    self.dirty = true;
                }
                // Files that are there but do not decode get the placeholder, not the mark.
                if gone {
                    self.apply(Msg::PhotoMissing(photo));
                }
            }
            AppEvent::Job(msg) => {
                if let JobMsg::Done { name, elapsed, .. } = &msg
                    && name == JOB_QUEUES
                {
                    self.fresh.built(Instant::now(), *elapsed);
                }
                self.apply(Msg::Job(msg));
            }
            AppEvent::Tick => {
                // Our own writes do not move it; another process's or a job's commits do.
                if let Ok(version) = self.catalog.data_version() {
                    self.fresh.observe(version);
                }
                let waiting = self.state.current().is_none();
                if self.fresh.due(Instant::now(), self.jobs.is_running(JOB_QUEUES), waiting) {
                    self.apply(Msg::CatalogChanged);
                }
            }
            AppEvent::OriginalGone(photo) => self.apply(Msg::PhotoMissing(photo)),
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
                let work: JobFn<JobOutput> = Box::new(move |_| {
                    own_pool(|| load_queues(&library, &config, true))
                        .map(|d| JobOutput::Queues(Box::new(d)))
                });
                self.start_job(JOB_QUEUES, work, false)
            }
            Effect::StartJob(name) => {
                let factory =
                    if name == JOB_SEED { &self.services.seed } else { &self.services.retrain };
                match factory {
                    Some(make) => {
                        let work = make();
                        self.start_job(name, work, true)
                    }
                    None if name == JOB_SEED => Some(Msg::Unavailable(
                        "seed generation is not available in this build yet".into(),
                    )),
                    None => Some(Msg::Unavailable(
                        "retraining is not available in this build yet".into(),
                    )),
                }
            }
            Effect::AutoRetrain => {
                let work = self.services.retrain.as_ref()?();
                self.start_job(JOB_RETRAIN, work, true)
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

    fn start_job(&mut self, name: &str, work: JobFn<JobOutput>, show: bool) -> Option<Msg> {
        match self.jobs.start(name, work) {
            Ok(Started::Now) if show => Some(Msg::Job(JobMsg::Progress(JobProgress {
                name: name.to_owned(),
                fraction: 0.0,
                note: "starting".into(),
                eta: None,
            }))),
            Ok(_) => None,
            Err(err) => Some(Msg::Unavailable(format!("cannot start {name}: {err}"))),
        }
    }

    /// Asks the worker for what the screen needs now and next; drops what it no longer needs.
    fn request_previews(&mut self) {
        let Ok(size) = self.terminal.size() else { return };
        let area = Rect::new(0, 0, size.width, size.height);
        if let Ok(mut watched) = self.watched.lock() {
            let now = self.state.current().and_then(|p| {
                let info = self.state.photos.get(&p)?;
                (!info.missing).then(|| (p, info.path.clone()))
            });
            if *watched != now {
                *watched = now;
            }
        }
        let wanted = view::wanted_previews(area, &self.state, self.config.tui.prefetch);
        let mut keys: Vec<PreviewKey> =
            wanted.iter().map(|(p, s)| PreviewKey::new(*p, *s, false)).collect();
        // The zoomed photo first; its fitted preview stays wanted for zooming out.
        if let (Some(cur), Some(first)) = (self.state.current(), wanted.first())
            && self.state.zoomed == Some(cur)
        {
            keys.insert(0, PreviewKey::new(cur, first.1, true));
        }
        self.previews.prune(&keys);
        let requests: Vec<PreviewRequest> = keys
            .iter()
            .filter(|k| !self.previews.contains_key(k))
            .filter_map(|k| self.request_for(*k))
            .collect();
        self.worker.request(requests);
    }

    fn request_for(&self, key: PreviewKey) -> Option<PreviewRequest> {
        let info = self.state.photos.get(&key.photo)?;
        let size = Size::new(key.size.0, key.size.1);
        Some(PreviewRequest {
            photo: key.photo,
            size,
            zoom: key.zoom,
            thumb: info.thumb.clone(),
            original: info.path.clone(),
            dims: info.width.zip(info.height),
            main: size != view::strip_cell(),
        })
    }

    /// The photo on screen, whether its preview is drawn, the strip's drawn previews, the
    /// help overlay and the size.
    fn screen_signature(&self) -> Option<ScreenSignature> {
        let size = self.terminal.size().ok()?;
        let area = Rect::new(0, 0, size.width, size.height);
        let a = view::areas(area, &self.state);
        let photo = self.state.current().map(|p| {
            let key = PreviewKey::new(p, a.photo.as_size(), self.state.zoomed == Some(p));
            (key, self.previews.contains_key(&key))
        });
        let strip = self
            .state
            .queue(self.state.mode)
            .burst()
            .iter()
            .filter(|(_, e)| self.previews.contains(e.photo, view::strip_cell()))
            .count();
        Some(ScreenSignature {
            photo,
            strip: if a.strip.is_some() { strip } else { 0 },
            help: self.state.help,
            size: (size.width, size.height),
        })
    }

    /// Draws once if anything changed since the last frame. No I/O but the terminal's.
    pub fn draw_if_dirty(&mut self) -> Result<bool> {
        if !self.dirty {
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
                    let mut cell = Cell::default();
                    cell.set_symbol(&format!("{KITTY_DELETE_ALL} "));
                    self.terminal.backend_mut().draw(std::iter::once((0, 0, &cell)))?;
                }
            }
        }
        let (state, previews) = (&self.state, &self.previews);
        self.terminal.draw(|f| view::draw(f, state, previews)).context("drawing")?;
        self.frames += 1;
        Ok(true)
    }
}

/// The watcher thread: ticks for the catalog poll, and checks that the original of the photo
/// on screen is still there (a stat can hang on a network share: never on the UI thread).
fn spawn_watcher(
    tx: Sender<AppEvent>,
    watched: Arc<Mutex<Option<(PhotoId, PathBuf)>>>,
) -> Result<()> {
    std::thread::Builder::new()
        .name("watcher".into())
        .spawn(move || {
            let mut reported = None;
            loop {
                std::thread::sleep(TICK);
                if tx.send(AppEvent::Tick).is_err() {
                    return;
                }
                let current = watched.lock().ok().and_then(|w| w.clone());
                if let Some((photo, path)) = current
                    && reported != Some(photo)
                    && std::fs::symlink_metadata(&path).is_err()
                {
                    reported = Some(photo);
                    if tx.send(AppEvent::OriginalGone(photo)).is_err() {
                        return;
                    }
                }
            }
        })
        .context("cannot start the watcher thread")?;
    Ok(())
}

/// Runs `f` (a queue rebuild) on a rayon pool of its own: a background scan keeps the global
/// pool's threads busy for minutes, and the queue code's parallel loops would wait for it
/// (seen: the first photos of `label DIR` showed only when the scan had read every file).
fn own_pool<T>(f: impl FnOnce() -> Result<T> + Send) -> Result<T>
where
    T: Send,
{
    match rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .thread_name(|i| format!("queues-{i}"))
        .build()
    {
        Ok(pool) => pool.install(f),
        Err(err) => {
            tracing::debug!("no pool of its own for the queues ({err}); using the global one");
            f()
        }
    }
}
