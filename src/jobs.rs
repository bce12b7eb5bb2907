//! Background jobs on tokio's blocking pool (`spawn_blocking`): one running and one "next" per
//! key (a newer request replaces a waiting one), cancellable through a `CancellationToken`,
//! reporting throttled progress and their result (a panic included) as messages.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The work of a job; it returns its result or an error message for the status bar.
pub type JobFn<T> = Box<dyn FnOnce(&JobContext) -> anyhow::Result<T> + Send>;

/// What a job tells the UI; `K` says which job (the app's `JobKind`).
#[derive(Debug)]
pub enum JobMsg<K, T> {
    Progress(JobProgress<K>),
    Done { job: K, result: Result<T, String>, elapsed: Duration },
}

/// A job's progress, sent only when it changed enough to be worth a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress<K> {
    pub job: K,
    /// 0..1.
    pub fraction: f32,
    pub note: String,
    /// Estimated time left, once the job is far enough along to tell.
    pub eta: Option<Duration>,
}

impl<K> JobProgress<K> {
    /// A job that starts now, before it has said anything of itself.
    pub fn starting(job: K) -> Self {
        Self { job, fraction: 0.0, note: "starting".into(), eta: None }
    }
}

/// Whether [`Jobs::start`] started the job or queued it behind the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Now,
    /// Runs after the current one; a job that was already waiting was replaced.
    Next,
}

type Notify<K, T> = Arc<dyn Fn(JobMsg<K, T>) + Send + Sync>;

/// Handed to a running job: progress reports and cancellation.
pub struct JobContext {
    name: String,
    started: Instant,
    cancel: CancellationToken,
    throttle: Mutex<Throttle>,
    send: Box<dyn Fn(f32, String, Option<Duration>) + Send + Sync>,
}

struct Throttle {
    last_sent: Option<Instant>,
    fraction: f32,
    note: String,
}

/// Progress closer together than this is merged (except a new note or the end).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

impl JobContext {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Reports progress (`fraction` in 0..1). Cheap to call often: a message goes out only when
    /// the note changed, or the fraction moved and the last message is old enough.
    pub fn progress(&self, fraction: f32, note: &str) {
        let fraction = fraction.clamp(0.0, 1.0);
        let now = Instant::now();
        {
            let Ok(mut t) = self.throttle.lock() else { return };
            let note_changed = t.note != note;
            let moved = fraction != t.fraction;
            let due = t.last_sent.is_none_or(|at| now - at >= PROGRESS_INTERVAL);
            if !(note_changed || (moved && (due || fraction >= 1.0))) {
                return;
            }
            t.last_sent = Some(now);
            t.fraction = fraction;
            t.note = note.to_owned();
        }
        let elapsed = now - self.started;
        let eta =
            (0.02..1.0).contains(&fraction).then(|| elapsed.mul_f32((1.0 - fraction) / fraction));
        (self.send)(fraction, note.to_owned(), eta);
    }
}

struct Slot<T> {
    running: bool,
    cancel: CancellationToken,
    next: Option<JobFn<T>>,
}

/// The job runner, on a tokio runtime. Cloning shares it.
pub struct Jobs<K, T> {
    slots: Arc<Mutex<HashMap<K, Slot<T>>>>,
    notify: Notify<K, T>,
    runtime: Handle,
}

impl<K, T> Clone for Jobs<K, T> {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            notify: self.notify.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<K, T> Jobs<K, T>
where
    K: Eq + Hash + Copy + Display + Send + Sync + 'static,
    T: Send + 'static,
{
    /// Jobs run on `runtime`'s blocking pool. `notify` receives every message, from there.
    pub fn new(runtime: Handle, notify: impl Fn(JobMsg<K, T>) + Send + Sync + 'static) -> Self {
        Self { slots: Arc::new(Mutex::new(HashMap::new())), notify: Arc::new(notify), runtime }
    }

    /// Runs `work` as job `job` now, or after the running job of that key.
    pub fn start(&self, job: K, work: JobFn<T>) -> Started {
        let cancel = {
            let mut slots = self.lock();
            let slot = slots.entry(job).or_insert_with(|| Slot {
                running: false,
                cancel: CancellationToken::new(),
                next: None,
            });
            if slot.running {
                slot.next = Some(work);
                return Started::Next;
            }
            slot.running = true;
            slot.cancel = CancellationToken::new();
            slot.cancel.clone()
        };
        let this = self.clone();
        // One blocking task runs the job and then whatever waits next, on one pooled thread:
        // nothing on the runtime's workers has to wait for it, and the next one starts as
        // soon as this one reported.
        self.runtime.spawn_blocking(move || {
            // The blocking pool runs only background work (jobs, the tick's stat of the photo
            // on screen), so a lowered priority staying with a pooled thread after its job is
            // what its next task wants too (raising it back would need CAP_SYS_NICE).
            lower_thread_priority();
            this.run_loop(job, work, cancel)
        });
        Started::Now
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<T>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The task of key `job`: runs `work`, then whatever waits next, until nothing does.
    fn run_loop(&self, job: K, mut work: JobFn<T>, mut cancel: CancellationToken) {
        loop {
            let notify = self.notify.clone();
            let ctx = JobContext {
                name: job.to_string(),
                started: Instant::now(),
                cancel: cancel.clone(),
                throttle: Mutex::new(Throttle {
                    last_sent: None,
                    fraction: -1.0,
                    note: String::new(),
                }),
                send: Box::new(move |fraction, note, eta| {
                    notify(JobMsg::Progress(JobProgress { job, fraction, note, eta }))
                }),
            };
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&ctx)))
            {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(err)) => Err(format!("{err:#}")),
                Err(payload) => Err(format!("the {job} job crashed: {}", panic_message(&*payload))),
            };
            // The slot is settled before `Done` goes out: a UI that answers `Done` by starting
            // this kind again (an automatic retrain after the answers given meanwhile) gets
            // `Started::Now`, never a queued start behind a job that has already ended.
            let next = match self.lock().get_mut(&job) {
                Some(slot) => {
                    let next = slot.next.take();
                    match &next {
                        Some(_) => {
                            slot.cancel = CancellationToken::new();
                            cancel = slot.cancel.clone();
                        }
                        None => slot.running = false,
                    }
                    next
                }
                None => None,
            };
            (self.notify)(JobMsg::Done { job, result, elapsed: ctx.started.elapsed() });
            release_free_memory();
            let Some(next) = next else { return };
            // The queued job shows as running from the moment the previous one is done.
            (self.notify)(JobMsg::Progress(JobProgress::starting(job)));
            work = next;
        }
    }

    pub fn is_running(&self, job: K) -> bool {
        self.lock().get(&job).is_some_and(|s| s.running)
    }

    /// Asks the running job of `job` to stop and drops its waiting successor.
    pub fn cancel(&self, job: K) {
        if let Some(slot) = self.lock().get_mut(&job) {
            slot.next = None;
            slot.cancel.cancel();
        }
    }

    pub fn cancel_all(&self) {
        for slot in self.lock().values_mut() {
            slot.next = None;
            slot.cancel.cancel();
        }
    }
}

/// The message of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Gives the memory a finished job freed back to the operating system. A retrain or a queue
/// rebuild at 25,000 photos reads every embedding (128 MB) on a pooled thread, and glibc
/// keeps what a thread freed in that thread's own arena, where the next job, on another
/// thread, cannot reuse it: with a retrain after every answer a session's peak grew to
/// 460 MB (VmHWM; 180 MB without the retrains), 310 MB with this trim after each job
/// (`cargo bench --bench tui`). Best effort: glibc only, a few ms, off the UI thread.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; no pointer is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Makes the calling thread yield to the UI thread: decoding previews, ordering queues and
/// training must never make a keystroke wait for a CPU. Best effort (Linux thread nice 10).
pub fn lower_thread_priority() {
    set_thread_nice(10);
}

/// The lowest CPU priority for the calling thread, for work that keeps every core busy for
/// minutes (the scan): below the session's own short jobs too. Best effort (nice 19).
pub fn lowest_thread_priority() {
    set_thread_nice(19);
}

/// A rayon pool of its own, its threads named `name-i`: `threads` of them (rayon's default, one
/// per CPU, when `None`), at the lowest CPU priority when `lowest` ([`lowest_thread_priority`]).
/// Work that must not wait behind whatever keeps the global pool busy runs on one.
pub fn rayon_pool(
    name: &'static str,
    threads: Option<usize>,
    lowest: bool,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let mut builder = rayon::ThreadPoolBuilder::new().thread_name(move |i| format!("{name}-{i}"));
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    if lowest {
        builder = builder.start_handler(|_| lowest_thread_priority());
    }
    builder.build()
}

/// Writes the thread count rayon picks by default (the CPUs this process may use) into
/// `RAYON_NUM_THREADS` when it is not set. candle asks for a thread count on every matrix
/// product and, without that variable, works it out from `/proc/cpuinfo`: a file read per
/// product. A retrain on 25,000 photos at 50 labels spent about 80 of its 230 ms there
/// (training with cross-validation: 136 -> 54 ms, `cargo run --release --example
/// bench_learn`). rayon's own pool is unchanged.
///
/// # Safety
/// Changes the environment: call it before any other thread exists (first thing in `main`).
pub unsafe fn settle_compute_threads() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let n = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    // SAFETY: the caller guarantees no other thread reads or writes the environment.
    unsafe { std::env::set_var("RAYON_NUM_THREADS", n.to_string()) };
}

/// Sets the calling thread's nice value (Linux only; elsewhere nothing). A thread starts with
/// its creator's, and without CAP_SYS_NICE it can only go down.
fn set_thread_nice(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: two system calls about the calling thread; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    type Msg = JobMsg<&'static str, u32>;

    fn runner() -> (tokio::runtime::Runtime, Jobs<&'static str, u32>, mpsc::Receiver<Msg>) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let jobs = Jobs::new(rt.handle().clone(), move |m| {
            let _ = tx.lock().unwrap().send(m);
        });
        (rt, jobs, rx)
    }

    fn wait_done(rx: &mpsc::Receiver<Msg>) -> (&'static str, Result<u32, String>) {
        loop {
            match rx.recv_timeout(Duration::from_secs(10)).expect("job message") {
                JobMsg::Done { job, result, .. } => return (job, result),
                JobMsg::Progress(_) => {}
            }
        }
    }

    #[test]
    fn one_runs_and_the_latest_waiting_one_runs_next() {
        let (_rt, jobs, rx) = runner();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let started = jobs.start(
            "train",
            Box::new(move |_| {
                gate_rx.recv().unwrap();
                Ok(1)
            }),
        );
        assert_eq!(started, Started::Now);
        assert!(jobs.is_running("train"));
        assert_eq!(jobs.start("train", Box::new(|_| Ok(2))), Started::Next);
        assert_eq!(jobs.start("train", Box::new(|_| Ok(3))), Started::Next);
        gate_tx.send(()).unwrap();
        assert_eq!(wait_done(&rx), ("train", Ok(1)));
        assert_eq!(wait_done(&rx), ("train", Ok(3)), "the replaced request never runs");
        for _ in 0..100 {
            if !jobs.is_running("train") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!jobs.is_running("train"));
    }

    #[test]
    fn a_job_started_on_done_starts_at_once_and_a_queued_one_shows_as_starting() {
        let (_rt, jobs, rx) = runner();
        for round in 0..50 {
            assert_eq!(jobs.start("train", Box::new(move |_| Ok(round))), Started::Now);
            assert_eq!(wait_done(&rx), ("train", Ok(round)));
            // The UI answers `Done` by starting the same kind: nothing is left running.
        }
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        jobs.start(
            "train",
            Box::new(move |_| {
                gate_rx.recv().unwrap();
                Ok(1)
            }),
        );
        assert_eq!(jobs.start("train", Box::new(|_| Ok(2))), Started::Next);
        gate_tx.send(()).unwrap();
        assert_eq!(wait_done(&rx), ("train", Ok(1)));
        match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            JobMsg::Progress(p) => assert_eq!((p.job, p.note.as_str()), ("train", "starting")),
            JobMsg::Done { .. } => panic!("the queued job ran without showing it started"),
        }
        assert_eq!(wait_done(&rx), ("train", Ok(2)));
    }

    #[test]
    fn errors_panics_and_cancel_are_reported() {
        let (_rt, jobs, rx) = runner();
        jobs.start("a", Box::new(|_| anyhow::bail!("no labels yet")));
        assert_eq!(wait_done(&rx).1, Err("no labels yet".into()));
        jobs.start("b", Box::new(|_| panic!("boom")));
        let err = wait_done(&rx).1.unwrap_err();
        assert!(err.contains("crashed") && err.contains("boom"), "{err}");
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        jobs.start(
            "c",
            Box::new(move |ctx| {
                gate_rx.recv().unwrap();
                if ctx.is_cancelled() { anyhow::bail!("cancelled") } else { Ok(0) }
            }),
        );
        jobs.cancel("c");
        gate_tx.send(()).unwrap();
        assert_eq!(wait_done(&rx).1, Err("cancelled".into()));
    }

    #[test]
    fn progress_is_throttled() {
        let (_rt, jobs, rx) = runner();
        jobs.start(
            "p",
            Box::new(|ctx| {
                for i in 0..=10_000 {
                    ctx.progress(i as f32 / 10_000.0, "scoring");
                }
                Ok(0)
            }),
        );
        let mut progress = Vec::new();
        while let JobMsg::Progress(p) = rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            progress.push(p);
        }
        assert!(!progress.is_empty() && progress.len() < 100, "{} messages", progress.len());
        assert_eq!(progress.last().unwrap().fraction, 1.0);
    }
}
