//! Background jobs: named work units run on their own blocking thread, one running and one
//! "next" per name (a newer request replaces a waiting one), cancellable, reporting throttled
//! progress and their result as messages.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The work of a job; it returns its result or an error message for the status bar.
pub type JobFn<T> = Box<dyn FnOnce(&JobContext) -> anyhow::Result<T> + Send>;

/// What a job tells the UI.
#[derive(Debug)]
pub enum JobMsg<T> {
    Progress(JobProgress),
    Done { name: String, result: Result<T, String>, elapsed: Duration },
}

/// A job's progress, sent only when it changed enough to be worth a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub name: String,
    /// 0..1.
    pub fraction: f32,
    pub note: String,
    /// Estimated time left, once the job is far enough along to tell.
    pub eta: Option<Duration>,
}

/// Whether [`Jobs::start`] started the job or queued it behind the running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    Now,
    /// Runs after the current one; a job that was already waiting was replaced.
    Next,
}

type Notify<T> = Arc<dyn Fn(JobMsg<T>) + Send + Sync>;

/// Handed to a running job: progress reports and the cancel flag.
pub struct JobContext {
    name: String,
    started: Instant,
    cancel: Arc<AtomicBool>,
    throttle: Mutex<Throttle>,
    send: Box<dyn Fn(JobProgress) + Send + Sync>,
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
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag itself, for work that polls an `AtomicBool`.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
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
        (self.send)(JobProgress { name: self.name.clone(), fraction, note: note.to_owned(), eta });
    }
}

struct Slot<T> {
    running: bool,
    cancel: Arc<AtomicBool>,
    next: Option<JobFn<T>>,
}

/// The job runner. Cloning shares it.
pub struct Jobs<T> {
    slots: Arc<Mutex<HashMap<String, Slot<T>>>>,
    notify: Notify<T>,
}

impl<T> Clone for Jobs<T> {
    fn clone(&self) -> Self {
        Self { slots: self.slots.clone(), notify: self.notify.clone() }
    }
}

impl<T: Send + 'static> Jobs<T> {
    /// `notify` receives every message; it is called from the job threads.
    pub fn new(notify: impl Fn(JobMsg<T>) + Send + Sync + 'static) -> Self {
        Self { slots: Arc::new(Mutex::new(HashMap::new())), notify: Arc::new(notify) }
    }

    /// Runs `work` as job `name` on a new thread, or after the running job of that name.
    pub fn start(&self, name: &str, work: JobFn<T>) -> std::io::Result<Started> {
        let cancel = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let slot = slots.entry(name.to_owned()).or_insert_with(|| Slot {
                running: false,
                cancel: Arc::new(AtomicBool::new(false)),
                next: None,
            });
            if slot.running {
                slot.next = Some(work);
                return Ok(Started::Next);
            }
            slot.running = true;
            slot.cancel = Arc::new(AtomicBool::new(false));
            slot.cancel.clone()
        };
        let this = self.clone();
        let owned = name.to_owned();
        let spawned = std::thread::Builder::new().name(format!("job-{name}")).spawn(move || {
            lower_thread_priority();
            this.run_loop(owned, work, cancel)
        });
        if let Err(err) = spawned {
            if let Some(slot) = self.lock().get_mut(name) {
                slot.running = false;
            }
            return Err(err);
        }
        Ok(Started::Now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot<T>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run_loop(&self, name: String, mut work: JobFn<T>, mut cancel: Arc<AtomicBool>) {
        loop {
            let notify = self.notify.clone();
            let ctx = JobContext {
                name: name.clone(),
                started: Instant::now(),
                cancel: cancel.clone(),
                throttle: Mutex::new(Throttle {
                    last_sent: None,
                    fraction: -1.0,
                    note: String::new(),
                }),
                send: Box::new(move |p| notify(JobMsg::Progress(p))),
            };
            let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&ctx)))
            {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(err)) => Err(format!("{err:#}")),
                Err(payload) => {
                    Err(format!("the {name} job crashed: {}", panic_message(&*payload)))
                }
            };
            let elapsed = ctx.started.elapsed();
            (self.notify)(JobMsg::Done { name: name.clone(), result, elapsed });
            let mut slots = self.lock();
            let Some(slot) = slots.get_mut(&name) else { return };
            match slot.next.take() {
                Some(next) => {
                    work = next;
                    slot.cancel = Arc::new(AtomicBool::new(false));
                    cancel = slot.cancel.clone();
                }
                None => {
                    slot.running = false;
                    return;
                }
            }
        }
    }

    pub fn is_running(&self, name: &str) -> bool {
        self.lock().get(name).is_some_and(|s| s.running)
    }

    /// Asks the running job of `name` to stop and drops its waiting successor.
    pub fn cancel(&self, name: &str) {
        if let Some(slot) = self.lock().get_mut(name) {
            slot.next = None;
            slot.cancel.store(true, Ordering::Relaxed);
        }
    }

    pub fn cancel_all(&self) {
        for slot in self.lock().values_mut() {
            slot.next = None;
            slot.cancel.store(true, Ordering::Relaxed);
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

/// Makes the calling thread yield to the UI thread: decoding previews, ordering queues and
/// training must never make a keystroke wait for a CPU. Best effort (Linux thread nice).
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: two system calls about the calling thread; no memory is passed.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn runner() -> (Jobs<u32>, mpsc::Receiver<JobMsg<u32>>) {
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let jobs = Jobs::new(move |m| {
            let _ = tx.lock().unwrap().send(m);
        });
        (jobs, rx)
    }

    fn wait_done(rx: &mpsc::Receiver<JobMsg<u32>>) -> (String, Result<u32, String>) {
        loop {
            match rx.recv_timeout(Duration::from_secs(10)).expect("job message") {
                JobMsg::Done { name, result, .. } => return (name, result),
                JobMsg::Progress(_) => {}
            }
        }
    }

    #[test]
    fn one_runs_and_the_latest_waiting_one_runs_next() {
        let (jobs, rx) = runner();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let started = jobs
            .start(
                "train",
                Box::new(move |_| {
                    gate_rx.recv().unwrap();
                    Ok(1)
                }),
            )
            .unwrap();
        assert_eq!(started, Started::Now);
        assert!(jobs.is_running("train"));
        assert_eq!(jobs.start("train", Box::new(|_| Ok(2))).unwrap(), Started::Next);
        assert_eq!(jobs.start("train", Box::new(|_| Ok(3))).unwrap(), Started::Next);
        gate_tx.send(()).unwrap();
        assert_eq!(wait_done(&rx), ("train".into(), Ok(1)));
        assert_eq!(wait_done(&rx), ("train".into(), Ok(3)), "the replaced request never runs");
        for _ in 0..100 {
            if !jobs.is_running("train") {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!jobs.is_running("train"));
    }

    #[test]
    fn errors_panics_and_cancel_are_reported() {
        let (jobs, rx) = runner();
        jobs.start("a", Box::new(|_| anyhow::bail!("no labels yet"))).unwrap();
        assert_eq!(wait_done(&rx).1, Err("no labels yet".into()));
        jobs.start("b", Box::new(|_| panic!("boom"))).unwrap();
        let err = wait_done(&rx).1.unwrap_err();
        assert!(err.contains("crashed") && err.contains("boom"), "{err}");
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        jobs.start(
            "c",
            Box::new(move |ctx| {
                gate_rx.recv().unwrap();
                if ctx.is_cancelled() { anyhow::bail!("cancelled") } else { Ok(0) }
            }),
        )
        .unwrap();
        jobs.cancel("c");
        gate_tx.send(()).unwrap();
        assert_eq!(wait_done(&rx).1, Err("cancelled".into()));
    }

    #[test]
    fn progress_is_throttled() {
        let (jobs, rx) = runner();
        jobs.start(
            "p",
            Box::new(|ctx| {
                for i in 0..=10_000 {
                    ctx.progress(i as f32 / 10_000.0, "scoring");
                }
                Ok(0)
            }),
        )
        .unwrap();
        let mut progress = Vec::new();
        while let JobMsg::Progress(p) = rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            progress.push(p);
        }
        assert!(!progress.is_empty() && progress.len() < 100, "{} messages", progress.len());
        assert_eq!(progress.last().unwrap().fraction, 1.0);
    }
}
