//! Key → photo drawn in each image protocol at 1600×1000 px (issue 14's goal: p95 < 30 ms
//! with prefetch, memory bounded). The real app loop and preview worker, drawing through
//! ratatui's crossterm backend into a sink that counts the bytes a terminal would receive;
//! the previews are decoded from 12-MP JPEG originals at the photo area's pixel size.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use photosift::config::Config;
use photosift::tui::graphics::{Choice, Protocol};
use photosift::tui::{App, AppEvent, Mode, Services};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

use super::{common, env, ms, percentile, proc_status_kb};

/// Counts what would go to the terminal.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// ratatui's crossterm backend (the bytes a real session writes) at a fixed size.
struct Sink {
    inner: CrosstermBackend<Counter>,
    size: Size,
}

impl Backend for Sink {
    type Error = io::Error;
    fn draw<'a, I>(&mut self, content: I) -> io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        Ok(Position::ORIGIN)
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> io::Result<Size> {
        Ok(self.size)
    }
    fn window_size(&mut self) -> io::Result<WindowSize> {
        let pixels = Size::new(self.size.width * 10, self.size.height * 20);
        Ok(WindowSize { columns_rows: self.size, pixels })
    }
    fn flush(&mut self) -> io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

/// 12-MP originals (a few distinct ones, linked under every photo's path).
fn originals(dir: &std::path::Path, n: usize, distinct: usize) {
    let src = dir.join("originals");
    std::fs::create_dir_all(&src).expect("originals dir");
    std::fs::create_dir_all(dir.join("camera")).expect("camera dir");
    for i in 0..distinct {
        let img = common::picture(i, 4032, 3024);
        let jpeg = photosift::imaging::thumbnail::encode_jpeg(&img, 90).expect("encode");
        std::fs::write(src.join(format!("o{i}.jpg")), jpeg).expect("write original");
    }
    for i in 0..n {
        let link = dir.join(format!("camera/IMG_{:04}.jpg", i + 1));
        let target = src.join(format!("o{}.jpg", i % distinct));
        // The fixture library has small stand-in originals there; these replace them.
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, link).expect("link original");
    }
}

pub fn run(pace: Duration) {
    let n = env("BENCH_GFX_PHOTOS", 2000) as usize;
    let keys = env("BENCH_GFX_KEYS", 60) as usize;
    // The photo area: 160×50 cells of 10×20 px = 1600×1000 px, beside the 30-column panel
    // and above the 2-line status bar.
    let (cols, rows) = (190u16, 52u16);
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Instant::now();
    let (library, _ids) = common::library_with_photos(dir.path(), n, 50, (512, 384));
    originals(dir.path(), n, 24);
    println!(
        "\ngraphics fixture: {n} photos, 24 distinct 4032x3024 JPEG originals, {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "photo area 160x50 cells x 10x20 px = 1600x1000 px; {keys} keys every {} ms",
        pace.as_millis()
    );
    println!(
        "| protocol | first photo | key -> photo drawn p50 | p95 | max | over 30 ms | bytes per key (median) | preview cache |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    zoom_times(dir.path());
    for protocol in [Protocol::Halfblocks, Protocol::Sixel, Protocol::Kitty, Protocol::Iterm2] {
        one(&library, protocol, cols, rows, keys, pace);
    }
    let me = std::process::id().to_string();
    println!(
        "process memory after all protocols: VmRSS {} MB, VmHWM {} MB",
        proc_status_kb(&me, "VmRSS").unwrap_or(0) / 1024,
        proc_status_kb(&me, "VmHWM").unwrap_or(0) / 1024
    );
}

fn one(
    library: &photosift::library::Library,
    protocol: Protocol,
    cols: u16,
    rows: u16,
    keys: usize,
    pace: Duration,
) {
    let counter = Counter::default();
    let backend =
        Sink { inner: CrosstermBackend::new(counter.clone()), size: Size::new(cols, rows) };
    let terminal = Terminal::new(backend).expect("terminal");
    let choice = Choice::fixed(protocol, (10, 20));
    let t = Instant::now();
    let mut app =
        App::new(terminal, library.clone(), Config::default(), choice, Services::default())
            .expect("app");
    let ok = app.pump_until(Duration::from_secs(60), |a| a.photo_ready()).expect("pump");
    assert!(ok, "{protocol:?}: first photo never showed");
    let first = t.elapsed();
    let _ = app.pump_until(Duration::from_secs(60), |a| a.state().complete);
    let tx = app.sender();
    let mut lat = Vec::with_capacity(keys);
    let mut bytes = Vec::with_capacity(keys);
    let mut cache_max = (0usize, 0usize);
    for i in 0..keys {
        // Prefetch runs meanwhile, as while a person looks at the photo.
        let _ = app.pump_until(pace, |_| false);
        let code = [KeyCode::Char('w'), KeyCode::Char('s'), KeyCode::Char('d')][i % 3];
        let want = app.state().queue(Mode::Ambiguous).done + 1;
        let frames = app.frames();
        let before = counter.0.load(Ordering::Relaxed);
        let t = Instant::now();
        tx.send(AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
            .expect("send");
        let ok = app
            .pump_until(Duration::from_secs(20), |a| {
                a.state().queue(Mode::Ambiguous).done == want
                    && a.photo_ready()
                    && a.frames() > frames
            })
            .expect("pump");
        assert!(ok, "{protocol:?}: key {i} never showed the next photo");
        lat.push(t.elapsed());
        bytes.push(counter.0.load(Ordering::Relaxed) - before);
        let mem = app.preview_memory();
        cache_max = (cache_max.0.max(mem.0), cache_max.1.max(mem.1));
    }
    lat.sort();
    bytes.sort();
    let over = lat.iter().filter(|d| **d > Duration::from_millis(30)).count();
    println!(
        "| {} | {:.0} ms | {:.1} ms | {:.1} ms | {:.1} ms | {over} of {keys} | {:.2} MB | max {:.1} MB in {} previews |",
        protocol.name(),
        ms(first),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(*lat.last().expect("latencies")),
        bytes[bytes.len() / 2] as f64 / 1e6,
        cache_max.0 as f64 / 1e6,
        cache_max.1
    );
}

/// Z on a 12-MP original: decode at full size, crop the centre, encode (one preview thread).
fn zoom_times(dir: &std::path::Path) {
    use photosift::tui::preview::{PreviewMsg, PreviewRequest, PreviewSettings, make_preview};
    // BENCH_ZOOM_ORIGINAL: a real phone JPEG instead of the generated one.
    let original = std::env::var_os("BENCH_ZOOM_ORIGINAL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.join("originals/o0.jpg"));
    let dims = image::image_dimensions(&original).expect("the zoom original's size");
    for protocol in [Protocol::Sixel, Protocol::Kitty] {
        let req = PreviewRequest {
            photo: photosift::domain::PhotoId(1),
            size: Size::new(160, 50),
            loupe: Some((500, 500)),
            thumb: None,
            original: original.clone(),
            dims: Some(dims),
            main: true,
        };
        // Z: the original decoded at full size (a fresh cache each run), cropped, encoded.
        let mut times = Vec::new();
        for _ in 0..5 {
            let settings =
                PreviewSettings::new(Choice::fixed(protocol, (10, 20)), Config::default().scan);
            let t = Instant::now();
            let msg = make_preview(&settings, &req);
            times.push(t.elapsed());
            assert!(matches!(msg, PreviewMsg::Ready { .. }), "zoom preview failed");
        }
        times.sort();
        println!(
            "zoom to 100% of a {}x{} original ({}), {}: median {:.0} ms, max {:.0} ms (5 runs)",
            dims.0,
            dims.1,
            original.display(),
            protocol.name(),
            ms(times[2]),
            ms(times[4])
        );
        // A pan step in the loupe: the decoded original is kept, so a step crops and encodes.
        let settings =
            PreviewSettings::new(Choice::fixed(protocol, (10, 20)), Config::default().scan);
        let _ = make_preview(&settings, &req);
        let mut steps = Vec::new();
        for i in 0..12u16 {
            let centre = (100 + 70 * i, 300 + 30 * (i % 5));
            let t = Instant::now();
            let msg =
                make_preview(&settings, &PreviewRequest { loupe: Some(centre), ..req.clone() });
            steps.push(t.elapsed());
            assert!(matches!(msg, PreviewMsg::Ready { .. }), "pan preview failed");
        }
        steps.sort();
        println!(
            "loupe pan step (crop + encode, 1600x1000 px), {}: median {:.0} ms, p95 {:.0} ms, max \
             {:.0} ms (12 steps)",
            protocol.name(),
            ms(steps[6]),
            ms(steps[11]),
            ms(steps[11])
        );
    }
}

/// Issue 30: compare view at 1600×1000 px. Best mode with C on over the bursts of `library`
/// (its originals replaced by 12-MP JPEGs): key (a pass of the left shot) → both shots drawn,
/// and the loupe's pan steps with both shots zoomed. Sixel and kitty.
pub fn compare(
    dir: &std::path::Path,
    library: &photosift::library::Library,
    n: usize,
    pace: Duration,
) {
    let keys = env("BENCH_CMP_KEYS", 90) as usize;
    originals(dir, n, 24);
    println!(
        "\ncompare view (issue 30): {n} photos, 12-MP originals, photo area 1600x1000 px, best mode with C on, S every {} ms",
        pace.as_millis()
    );
    println!(
        "| protocol | key -> frame, compare screens: p50 | p95 | max | over 30 ms | other screens p95 | pan step (both zoomed) p50 | p95 | max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for protocol in [Protocol::Sixel, Protocol::Kitty] {
        compare_one(library, protocol, keys, pace);
    }
}

fn compare_one(
    library: &photosift::library::Library,
    protocol: Protocol,
    keys: usize,
    pace: Duration,
) {
    let (cols, rows) = (190u16, 52u16);
    let backend =
        Sink { inner: CrosstermBackend::new(Counter::default()), size: Size::new(cols, rows) };
    let terminal = Terminal::new(backend).expect("terminal");
    let choice = Choice::fixed(protocol, (10, 20));
    let mut app =
        App::new(terminal, library.clone(), Config::default(), choice, Services::default())
            .expect("app");
    let wait = Duration::from_secs(60);
    assert!(app.pump_until(wait, |a| a.photo_ready() && a.state().complete).expect("pump"));
    let tx = app.sender();
    let send = |code: KeyCode| {
        tx.send(AppEvent::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))).expect("send")
    };
    if app.state().mode != Mode::Best {
        send(KeyCode::Tab);
        assert!(
            app.pump_until(wait, |a| a.state().mode == Mode::Best && a.photo_ready())
                .expect("pump")
        );
    }
    send(KeyCode::Char('c'));
    assert!(
        app.pump_until(wait, |a| a.state().compare.is_some() && a.photo_ready()).expect("pump")
    );
    // Passes, one at a time at a person's pace: on a burst both shots are on screen.
    let (mut compared, mut single) = (Vec::new(), Vec::new());
    for i in 0..keys {
        let _ = app.pump_until(pace, |_| false);
        let want = app.state().queue(Mode::Best).done + 1;
        let frames = app.frames();
        let t = Instant::now();
        send(KeyCode::Char('s'));
        let ok = app
            .pump_until(Duration::from_secs(20), |a| {
                a.state().queue(Mode::Best).done == want && a.photo_ready() && a.frames() > frames
            })
            .expect("pump");
        assert!(ok, "{protocol:?}: pass {i} never showed the next shots");
        let d = t.elapsed();
        if app.state().compare_pair().is_some() { compared.push(d) } else { single.push(d) }
    }
    // The loupe in compare view: pan steps with both shots zoomed.
    for _ in 0..20 {
        if app.state().compare_pair().is_some() {
            break;
        }
        let want = app.state().queue(Mode::Best).done + 1;
        send(KeyCode::Char('s'));
        let _ =
            app.pump_until(wait, |a| a.state().queue(Mode::Best).done == want && a.photo_ready());
    }
    assert!(app.state().compare_pair().is_some(), "{protocol:?}: no burst to compare");
    send(KeyCode::Char('z'));
    assert!(app.pump_until(wait, |a| a.state().loupe.is_some() && a.photo_ready()).expect("pump"));
    let mut steps = Vec::new();
    for code in [
        KeyCode::Char('l'),
        KeyCode::Char('l'),
        KeyCode::Char('j'),
        KeyCode::Char('h'),
        KeyCode::Char('h'),
        KeyCode::Char('k'),
    ]
    .into_iter()
    .cycle()
    .take(12)
    {
        let _ = app.pump_until(pace, |_| false);
        let frames = app.frames();
        let t = Instant::now();
        send(code);
        let ok = app
            .pump_until(Duration::from_secs(20), |a| a.photo_ready() && a.frames() > frames)
            .expect("pump");
        assert!(ok, "{protocol:?}: a pan step never drew");
        steps.push(t.elapsed());
    }
    for v in [&mut compared, &mut single, &mut steps] {
        v.sort();
    }
    let over = compared.iter().filter(|d| **d > Duration::from_millis(30)).count();
    let p95 = |v: &[Duration]| {
        if v.is_empty() { "–".to_owned() } else { format!("{:.1} ms", ms(percentile(v, 0.95))) }
    };
    println!(
        "| {} | {:.1} ms | {} | {:.1} ms | {over} of {} | {} ({} keys) | {:.1} ms | {} | {:.1} ms |",
        protocol.name(),
        ms(percentile(&compared, 0.5)),
        p95(&compared),
        ms(*compared.last().expect("no compare screens")),
        compared.len(),
        p95(&single),
        single.len(),
        ms(percentile(&steps, 0.5)),
        p95(&steps),
        ms(*steps.last().expect("steps")),
    );
}
