//! TUI benchmark on a generated 25,000-photo catalog (issue 5's goals: keystroke → next frame
//! ready p95 < 10 ms with prefetch, startup to first photo < 500 ms, RSS < 400 MB).
//!
//! `cargo bench --bench tui` (env: BENCH_PHOTOS=25000, BENCH_KEYS=300, BENCH_PACE_MS=150,
//! BENCH_RETRAIN=0 (1: the real retrain job after every answer),
//! BENCH_COLS=160, BENCH_ROWS=48). Runs the real app loop, preview worker and catalog on
//! ratatui's TestBackend with the half-block protocol; then the real binary in tmux for its
//! startup time and resident memory when tmux is installed.
//!
//! Then (issue 14; BENCH_GRAPHICS=0 skips it) key → photo drawn in each image protocol with
//! the photo at 1600×1000 px (160×50 cells of 10×20 px), previews decoded from 12-MP
//! originals: half-blocks, sixel, kitty, iTerm2 side by side, through ratatui's crossterm
//! backend into a byte-counting sink (BENCH_GFX_KEYS=60, BENCH_GFX_PHOTOS=2000).
//!
//! Then (issue 30; BENCH_COMPARE=0 skips it) compare view on the same library, its originals
//! replaced by 12-MP JPEGs: best mode with C on, key → both shots drawn and the loupe's pan
//! steps, in sixel and kitty (BENCH_CMP_KEYS=90).

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/it/common.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use photosift::config::Config;
use photosift::tui::graphics::Choice;
use photosift::tui::{App, AppEvent, Mode, Services};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const DIM: usize = 1280;

/// EfficientNet-Lite0-sized embeddings (1280 f32) around 300 scenes, bursts of three shots
/// sharing a scene, and a model version scoring every photo, as `train` would leave them.
/// The embeddings go in with plain SQL: writing them is the model module's job, and the
/// benchmark only needs the table filled.
fn add_embeddings_and_scores(
    library: &photosift::library::Library,
    ids: &[photosift::domain::PhotoId],
) {
    let mut seed = 42u64;
    let mut rng = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 40) as f32) / (1u64 << 24) as f32
    };
    let scenes: Vec<Vec<f32>> =
        (0..300).map(|_| (0..DIM).map(|_| (rng() - 0.6).max(0.0)).collect()).collect();
    let mut conn = rusqlite::Connection::open(library.catalog_path()).expect("catalog");
    let tx = conn.transaction().expect("tx");
    {
        let mut stmt = tx
            .prepare("INSERT INTO embeddings (photo_id, backbone, vector) VALUES (?1, 'lite0', ?2)")
            .expect("prepare");
        for (i, id) in ids.iter().enumerate() {
            let scene = &scenes[(i / 3 * 7919) % scenes.len()];
            let v: Vec<u8> = scene
                .iter()
                .flat_map(|x| (x + 0.15 * (rng() - 0.5)).max(0.0).to_le_bytes())
                .collect();
            stmt.execute(rusqlite::params![id.0, v]).expect("insert");
        }
    }
    tx.commit().expect("commit");
    common::score_all(library, ids, |i| ((i * 7919) % 1000) as f32 / 1000.0);
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// This thread's time on a CPU and waiting for one (ns), from the scheduler's statistics:
/// on a loaded machine the wait is other processes' doing, the CPU time is ours.
fn thread_sched() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // As the binary does (jobs::settle_compute_threads): the product's retrain speed.
    // SAFETY: the first thing the benchmark does, before any thread exists.
    unsafe { photosift::jobs::settle_compute_threads() };
    let n = env("BENCH_PHOTOS", 25_000) as usize;
    let keys = env("BENCH_KEYS", 300) as usize;
    let pace = Duration::from_millis(env("BENCH_PACE_MS", 150));
    let (cols, rows) = (env("BENCH_COLS", 160) as u16, env("BENCH_ROWS", 48) as u16);

    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let (library, ids) = common::library_with_photos(dir.path(), n, 200, (512, 384));
    if env("BENCH_EMBED", 1) == 1 {
        add_embeddings_and_scores(&library, &ids);
    }
    println!(
        "fixture: {n} photos, 200 distinct 512x384 JPEG thumbnails, {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // BENCH_RETRAIN=1: the real jobs, so every answer starts a retrain (and a queue rebuild
    // after it), as in a session; by default the loop runs without them.
    let services = if env("BENCH_RETRAIN", 0) == 1 {
        println!("with the real jobs: a retrain after every answer");
        Services::for_library(&library, &Config::default(), "photosift")
    } else {
        Services::default()
    };

    // Startup: App::new (catalog open, queue job, preview worker) to the first photo drawn.
    let t = Instant::now();
    let terminal = Terminal::new(TestBackend::new(cols, rows)).expect("terminal");
    let mut app = App::new(
        terminal,
        library.clone(),
        Config::default(),
        Choice::halfblocks("test"),
        services,
    )
    .expect("app");
    let ok = app.pump_until(Duration::from_secs(30), |a| a.photo_ready()).expect("pump");
    let startup = t.elapsed();
    assert!(ok, "first photo never showed");
    println!("startup to first photo ({cols}x{rows}, half-blocks): {:.1} ms", ms(startup));

    let ok = app.pump_until(Duration::from_secs(60), |a| a.state().complete).expect("pump");
    assert!(ok, "the full order never came");
    println!(
        "full order (embeddings: diversity, bursts) in place after {:.1} ms (labeling works meanwhile)",
        ms(t.elapsed())
    );

    // Keystrokes at a labeling pace: key sent -> state advanced, next photo's preview in hand,
    // frame drawn.
    let mut lat = Vec::with_capacity(keys);
    let mut cpu = Vec::with_capacity(keys);
    let mut waited = Vec::with_capacity(keys);
    let mut missed = 0;
    let tx = app.sender();
    for i in 0..keys {
        // The loop runs meanwhile, as while a person looks at the photo (job results and
        // previews are handled as they come, not in a heap at the next key).
        let _ = app.pump_until(pace, |_| false);
        let code = [KeyCode::Char('w'), KeyCode::Char('s'), KeyCode::Char('d')][i % 3];
        let want = app.state().queue(Mode::Ambiguous).done + 1;
        let frames = app.frames();
        let sched = thread_sched();
        let t = Instant::now();
        tx.send(AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .expect("send");
        let ok = app
            .pump_until(Duration::from_secs(10), |a| {
                a.state().queue(Mode::Ambiguous).done == want
                    && a.photo_ready()
                    && a.frames() > frames
            })
            .expect("pump");
        let d = t.elapsed();
        if let (Some((c0, w0)), Some((c1, w1))) = (sched, thread_sched()) {
            cpu.push(Duration::from_nanos(c1 - c0));
            waited.push(Duration::from_nanos(w1 - w0));
        }
        assert!(ok, "key {i} never showed the next photo");
        if d > Duration::from_millis(10) {
            missed += 1;
        }
        lat.push(d);
    }
    lat.sort();
    println!(
        "keystroke -> next frame ready, {keys} keys every {} ms: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({missed} over 10 ms)",
        pace.as_millis(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().expect("latencies"))
    );
    cpu.sort();
    waited.sort();
    if !cpu.is_empty() {
        println!(
            "  of which the UI thread on a CPU: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; \
             waiting for a CPU (machine load): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
            ms(percentile(&cpu, 0.5)),
            ms(percentile(&cpu, 0.95)),
            ms(*cpu.last().expect("cpu")),
            ms(percentile(&waited, 0.5)),
            ms(percentile(&waited, 0.95)),
            ms(*waited.last().expect("waited"))
        );
    }
    if env("BENCH_RETRAIN", 0) == 1 {
        answer_to_rebuilt_queues(&mut app, env("BENCH_ANSWERS", 20) as usize);
    }
    let me = std::process::id().to_string();
    println!(
        "in-process memory: VmRSS {} MB, VmHWM {} MB (includes generating the fixture)",
        proc_status_kb(&me, "VmRSS").unwrap_or(0) / 1024,
        proc_status_kb(&me, "VmHWM").unwrap_or(0) / 1024
    );
    drop(app);

    real_binary_in_tmux(dir.path(), keys.min(60));
    if env("BENCH_GRAPHICS", 1) == 1 {
        graphics::run(pace);
    }
    if env("BENCH_COMPARE", 1) == 1 {
        graphics::compare(dir.path(), &library, n, pace);
    }
}

/// One answer at a time, each waited out: key -> the retrain it starts -> the queues rebuilt
/// from the new model, applied in the session. The cost of keeping the ambiguous queue fresh.
fn answer_to_rebuilt_queues(app: &mut App<TestBackend>, answers: usize) {
    // Let what the keystroke run started settle first.
    let _ = app.pump_until(Duration::from_secs(120), |a| a.state().jobs.is_empty());
    let tx = app.sender();
    let mut times = Vec::with_capacity(answers);
    for i in 0..answers {
        let version = app.state().model.map_or(0, |m| m.version);
        let t = Instant::now();
        let code = [KeyCode::Char('w'), KeyCode::Char('s')][i % 2];
        tx.send(AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .expect("send");
        let ok = app
            .pump_until(Duration::from_secs(60), |a| {
                a.state().model.is_some_and(|m| m.version > version)
            })
            .expect("pump");
        assert!(ok, "answer {i}: no new model");
        let builds = app.queue_builds();
        let ok = app
            .pump_until(Duration::from_secs(60), |a| {
                a.queue_builds() > builds && a.state().jobs.is_empty()
            })
            .expect("pump");
        assert!(ok, "answer {i}: the queues were not rebuilt");
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "answer -> retrained -> queues rebuilt and applied, {answers} answers: p50 {:.0} ms, \
         p95 {:.0} ms, max {:.0} ms",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(*times.last().expect("times"))
    );
}

#[path = "tui/graphics.rs"]
mod graphics;

/// The real binary in a detached tmux: time until the first photo's status line shows, and
/// its resident memory after labeling a few.
fn real_binary_in_tmux(dir: &std::path::Path, keys: usize) {
    if !Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()) {
        println!("tmux not installed: skipping the real-binary part");
        return;
    }
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/photosift");
    let bin = std::env::var("PHOTOSIFT_BIN").map(Into::into).unwrap_or(bin);
    if !bin.exists() {
        println!("{} missing (cargo build --release first): skipping", bin.display());
        return;
    }
    for graphics in ["halfblocks", "auto"] {
        let config = dir.join(format!("{graphics}.toml"));
        // BENCH_TMUX_CONFIG: more config for the real binary (e.g. "[train]\nretrain_every = 0").
        let extra = std::env::var("BENCH_TMUX_CONFIG").unwrap_or_default();
        std::fs::write(&config, format!("{extra}\n[tui]\ngraphics = \"{graphics}\"\n"))
            .expect("config");
        let socket = format!("photosift-bench-{}-{graphics}", std::process::id());
        let tmux = |args: &[&str]| Command::new("tmux").arg("-L").arg(&socket).args(args).output();
        let cmd = format!(
            "exec {} --library '{}' --config '{}'",
            bin.display(),
            dir.display(),
            config.display()
        );
        let t = Instant::now();
        let _ = tmux(&["new-session", "-d", "-s", "b", "-x", "160", "-y", "48", &cmd]);
        let mut shown = None;
        let mut last = String::new();
        while t.elapsed() < Duration::from_secs(30) {
            let out = tmux(&["capture-pane", "-p", "-t", "b"]).expect("capture");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("AMBIGUOUS") && text.contains("IMG_") {
                shown = Some(t.elapsed());
                break;
            }
            last = text;
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid_out = tmux(&["list-panes", "-t", "b", "-F", "#{pane_pid}"]).expect("pid");
        let pid = String::from_utf8_lossy(&pid_out.stdout).trim().to_owned();
        for i in 0..keys {
            let _ = tmux(&["send-keys", "-t", "b", ["w", "s", "d"][i % 3]]);
            std::thread::sleep(Duration::from_millis(30));
        }
        std::thread::sleep(Duration::from_millis(300));
        let rss = proc_status_kb(&pid, "VmRSS").unwrap_or(0) / 1024;
        let hwm = proc_status_kb(&pid, "VmHWM").unwrap_or(0) / 1024;
        let _ = tmux(&["kill-server"]);
        // The next run must not find this one still holding the library's lock.
        let end = Instant::now() + Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        match shown {
            Some(d) => println!(
                "real binary in tmux, graphics={graphics}: first photo on screen after {:.0} ms \
                 (spawn + capture polling included); after {keys} keys VmRSS {rss} MB, VmHWM {hwm} MB",
                ms(d)
            ),
            None => {
                println!(
                    "real binary, graphics={graphics}: no first photo in 30 s; screen:\n{last}"
                )
            }
        }
    }
}
