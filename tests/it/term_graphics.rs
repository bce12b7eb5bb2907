//! The real binary in real terminal emulators on a private X server (Xvfb): xterm started as
//! a VT340 (sixel graphics) and kitty (kitty graphics), with no graphics configuration. A
//! screenshot of the whole screen (`import -window root`) must hold the photo's own pixels in
//! the photo area: its layout (quadrant colours, compared downscaled) *and* its fine detail (a
//! checkerboard finer than a character cell, which half-blocks, blank cells or boxes cannot
//! show). Plain xterm (no graphics) is the control: there the same measure must find
//! half-blocks, so the test can tell them apart. In xterm, Z must then show the original at
//! 100%: its 12-px checker squares 12 px on screen instead of about 7.5 (needs xdotool).
//!
//! Needs `xvfb xterm kitty imagemagick xdotool libgl1-mesa-dri` (kitty runs on Mesa's
//! software GL); where one is missing it prints SKIPPED, and fails under CI (`tools::require`). Screenshots are kept under
//! `target/tmp/term-graphics/` to look at.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use image::{Rgb, RgbImage};

use crate::common;

fn installed(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The test photo: four saturated quadrants, each a checkerboard of two shades in 12-px
/// squares (7-8 px on screen: finer than a half-block cell), 1600×1200 px.
fn photo() -> RgbImage {
    let base =
        [[220.0, 40.0, 30.0], [40.0, 200.0, 50.0], [40.0, 70.0, 225.0], [230.0, 200.0, 20.0]];
    RgbImage::from_fn(1600, 1200, |x, y| {
        let q = usize::from(x >= 800) + 2 * usize::from(y >= 600);
        let shade = if (x / 12 + y / 12) % 2 == 0 { 1.0 } else { 0.5 };
        let c = base[q];
        Rgb([(c[0] * shade) as u8, (c[1] * shade) as u8, (c[2] * shade) as u8])
    })
}

struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    fn start() -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut out = child.stdout.take().expect("Xvfb stdout");
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while std::io::Read::read(&mut out, &mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        assert!(!number.trim().is_empty(), "Xvfb did not say its display number");
        Xvfb { child, display: format!(":{}", number.trim()) }
    }

    fn screenshot(&self, path: &Path) -> Option<RgbImage> {
        let ok = Command::new("import")
            .args(["-display", &self.display, "-window", "root"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        image::open(path).ok().map(|i| i.into_rgb8())
    }
}

impl Xvfb {
    /// Presses `key` in the window of class `class`. No window manager on Xvfb: focus the
    /// window, then type with XTEST (xterm ignores synthetic events sent to a window).
    fn press(&self, class: &str, key: &str) -> bool {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--class", class, "windowfocus", "--sync"])
            .args(["key", key])
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts `cmd` (a terminal) on this display.
    fn spawn(&self, cmd: &mut Command) -> Child {
        cmd.env("DISPLAY", &self.display)
            .env_remove("TMUX")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the terminal")
    }
}

/// xterm at 160×48 cells running `tui`; `sixel`: as a VT340 (`-ti vt340`), which draws sixel.
fn xterm(sixel: bool, tui: &[&str]) -> Command {
    let mut c = Command::new("xterm");
    if sixel {
        c.args(["-ti", "vt340"]);
    }
    c.args(["-geometry", "160x48", "-fa", "Monospace", "-fs", "10", "-e"]).args(tui);
    c
}

/// kitty at 1200×800 px on Mesa's software GL, with no user configuration, running `tui`.
fn kitty(tui: &[&str]) -> Command {
    let mut c = Command::new("kitty");
    c.env("LIBGL_ALWAYS_SOFTWARE", "1")
        .args(["--config", "NONE", "-o", "initial_window_width=1200"])
        .args(["-o", "initial_window_height=800", "-o", "remember_window_size=no"])
        .args(tui);
    c
}

/// Where the screenshots are kept to look at.
fn shots_dir() -> PathBuf {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("term-graphics");
    std::fs::create_dir_all(&shots).unwrap();
    shots
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A library holding the test photo, made by the real `photosift scan`.
fn library(dir: &Path, bin: &str) -> (PathBuf, PathBuf) {
    library_with(dir, bin, "")
}

/// The same with `config` as its config file.
fn library_with(dir: &Path, bin: &str, config_text: &str) -> (PathBuf, PathBuf) {
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let file = photos.join("IMG_0001.jpg");
    photo().save(&file).unwrap();
    // One file time (the capture time shown) for every library, so their screens compare.
    let when = std::time::UNIX_EPOCH + Duration::from_secs(1_577_880_000);
    std::fs::File::options().write(true).open(&file).unwrap().set_modified(when).unwrap();
    let lib = dir.join("library");
    let config = dir.join("config.toml");
    std::fs::write(&config, config_text).unwrap();
    let out = Command::new(bin)
        .args(["--library"])
        .arg(&lib)
        .arg("--config")
        .arg(&config)
        .args(["scan", "--no-embed"])
        .arg(&photos)
        .output()
        .unwrap();
    assert!(out.status.success(), "scan: {}", String::from_utf8_lossy(&out.stderr));
    (lib, config)
}

/// How the screen's photo area compares with the photo.
#[derive(Debug, Clone, Copy)]
struct Measure {
    /// Where the photo's saturated pixels are: x, y, width, height.
    bbox: (u32, u32, u32, u32),
    /// Correlation with the photo at 32×24 (layout, colours).
    coarse: f64,
    /// Correlation of the fine detail (image minus its 9-px box blur), best over ±3 px shifts.
    detail: f64,
}

fn saturated(p: &Rgb<u8>) -> bool {
    let (mx, mn) = (p.0.iter().max().unwrap(), p.0.iter().min().unwrap());
    mx - mn > 50
}

/// Columns (or rows) where at least `min` pixels are saturated: the first and last.
fn span(counts: &[u32], min: u32) -> Option<(u32, u32)> {
    let first = counts.iter().position(|&c| c >= min)?;
    let last = counts.iter().rposition(|&c| c >= min)?;
    Some((first as u32, last as u32))
}

fn measure(shot: &RgbImage) -> Option<Measure> {
    let (w, h) = shot.dimensions();
    let mut cols = vec![0u32; w as usize];
    for (x, _, p) in shot.enumerate_pixels() {
        if saturated(p) {
            cols[x as usize] += 1;
        }
    }
    let (x0, x1) = span(&cols, 150)?;
    let mut rows = vec![0u32; h as usize];
    for (x, y, p) in shot.enumerate_pixels() {
        if x >= x0 && x <= x1 && saturated(p) {
            rows[y as usize] += 1;
        }
    }
    let (y0, y1) = span(&rows, (x1 - x0) / 2)?;
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    if bw < 100 || bh < 75 {
        return None;
    }
    let crop = image::imageops::crop_imm(shot, x0, y0, bw, bh).to_image();
    let expected = photo();
    let small =
        |i: &RgbImage| image::imageops::resize(i, 32, 24, image::imageops::FilterType::Triangle);
    let coarse = correlation(&small(&crop), &small(&expected), (0, 0));
    let want = image::imageops::resize(&expected, bw, bh, image::imageops::FilterType::Triangle);
    let (dc, dw) = (detail(&crop), detail(&want));
    let mut best = f64::MIN;
    for dy in -3i32..=3 {
        for dx in -3i32..=3 {
            best = best.max(correlation_f(&dc, &dw, bw, bh, (dx, dy)));
        }
    }
    Some(Measure { bbox: (x0, y0, bw, bh), coarse, detail: best })
}

fn correlation(a: &RgbImage, b: &RgbImage, shift: (i32, i32)) -> f64 {
    let fa: Vec<f64> = a.pixels().flat_map(|p| p.0.map(f64::from)).collect();
    let fb: Vec<f64> = b.pixels().flat_map(|p| p.0.map(f64::from)).collect();
    correlation_f(&fa, &fb, a.width(), a.height(), shift)
}

/// Pearson correlation of two w×h×3 images, `a` shifted by `shift` against `b`.
fn correlation_f(a: &[f64], b: &[f64], w: u32, h: u32, (dx, dy): (i32, i32)) -> f64 {
    let (mut sa, mut sb, mut saa, mut sbb, mut sab, mut n) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for y in 4..h as i32 - 4 {
        for x in 4..w as i32 - 4 {
            let (xa, ya) = (x + dx, y + dy);
            for c in 0..3 {
                let va = a[((ya as u32 * w + xa as u32) * 3) as usize + c];
                let vb = b[((y as u32 * w + x as u32) * 3) as usize + c];
                sa += va;
                sb += vb;
                saa += va * va;
                sbb += vb * vb;
                sab += va * vb;
                n += 1.0;
            }
        }
    }
    let cov = sab / n - sa / n * sb / n;
    let va = saa / n - (sa / n).powi(2);
    let vb = sbb / n - (sb / n).powi(2);
    if va <= 0.0 || vb <= 0.0 { 0.0 } else { cov / (va * vb).sqrt() }
}

/// The image minus its 9×9 box blur: the detail finer than a character cell.
fn detail(img: &RgbImage) -> Vec<f64> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let v: Vec<f64> = img.pixels().flat_map(|p| p.0.map(f64::from)).collect();
    let r = 4usize;
    let mut out = vec![0.0; v.len()];
    // Summed-area table per channel.
    for c in 0..3 {
        let mut sat = vec![0.0; (w + 1) * (h + 1)];
        for y in 0..h {
            let mut row = 0.0;
            for x in 0..w {
                row += v[(y * w + x) * 3 + c];
                sat[(y + 1) * (w + 1) + x + 1] = sat[y * (w + 1) + x + 1] + row;
            }
        }
        for y in 0..h {
            for x in 0..w {
                let (xa, xb) = (x.saturating_sub(r), (x + r + 1).min(w));
                let (ya, yb) = (y.saturating_sub(r), (y + r + 1).min(h));
                let sum = sat[yb * (w + 1) + xb] - sat[ya * (w + 1) + xb] - sat[yb * (w + 1) + xa]
                    + sat[ya * (w + 1) + xa];
                let mean = sum / ((xb - xa) * (yb - ya)) as f64;
                out[(y * w + x) * 3 + c] = v[(y * w + x) * 3 + c] - mean;
            }
        }
    }
    out
}

/// Starts `terminal` running the TUI, takes screenshots until one shows the photo with its
/// detail (or 45 s pass), closes the terminal; returns the best measure and the last shot.
/// Two measures: before and after a key (checker square sizes; the right half's share).
type Pair = Option<(f64, f64)>;

fn run_in(
    terminal: &str,
    x: &Xvfb,
    dir: &Path,
    bin: &str,
    want_pixels: bool,
) -> (Option<Measure>, Pair, Pair) {
    let (lib, config) = library(&dir.join(terminal), bin);
    let tui = [bin, "--library", lib.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let mut cmd = match terminal {
        "xterm-sixel" => xterm(true, &tui),
        "xterm" => xterm(false, &tui),
        "kitty" => kitty(&tui),
        other => panic!("unknown terminal {other}"),
    };
    let mut child = x.spawn(&mut cmd);
    let shots = shots_dir();
    let path = shots.join(format!("{terminal}.png"));
    let start = Instant::now();
    let mut best: Option<Measure> = None;
    while start.elapsed() < Duration::from_secs(45) {
        std::thread::sleep(Duration::from_millis(1500));
        let Some(shot) = x.screenshot(&path) else { continue };
        if let Some(m) = measure(&shot) {
            if best.is_none_or(|b| m.coarse + m.detail > b.coarse + b.detail) {
                best = Some(m);
            }
            let done = if want_pixels { m.coarse > 0.9 && m.detail > 0.5 } else { m.coarse > 0.9 };
            if done {
                // One more second for a stable picture, then the last screenshot is the record.
                std::thread::sleep(Duration::from_secs(1));
                if let Some(m) = x.screenshot(&path).as_ref().and_then(measure) {
                    best = Some(m);
                }
                break;
            }
        }
    }
    // Z: the original at 100% around its centre. The checker squares are 12 px in the
    // original, so on screen they grow from about 7.5 px (fitted) to 12.
    let mut zoomed = None;
    let mut panned = None;
    let fitted = x.screenshot(&path).zip(best).and_then(|(shot, m)| checker_run(&shot, m.bbox));
    if let Some(fitted) = fitted
        && want_pixels
        && terminal == "xterm-sixel"
    {
        let zoom_path = shots.join(format!("{terminal}-zoom.png"));
        let pressed = x.press("xterm", "z");
        let start = Instant::now();
        while pressed && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1000));
            let Some(shot) = x.screenshot(&zoom_path) else { continue };
            let run = best.and_then(|m| checker_run(&shot, m.bbox));
            zoomed = run.map(|r| (fitted, r));
            if run.is_some_and(|r| r > 10.0) {
                break;
            }
        }
        eprintln!("{terminal}: checker squares fitted, after Z: {zoomed:?} px");
        // Issue 30, item 4: the loupe pans. Two steps right and the view, which showed the
        // photo's middle (its four quadrants alike), shows mostly its right half.
        if zoomed.is_some() {
            let before = x.screenshot(&zoom_path).map(|s| right_share(&s));
            let pan_path = shots.join(format!("{terminal}-zoom-pan.png"));
            let pressed = x.press("xterm", "l") && x.press("xterm", "l");
            let start = Instant::now();
            let mut after = None;
            while pressed && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(1000));
                after = x.screenshot(&pan_path).map(|s| right_share(&s));
                if after.is_some_and(|a| a > 0.7) {
                    break;
                }
            }
            panned = before.zip(after);
            eprintln!("{terminal}: share of the photo's right half, Z then l l: {panned:?}");
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "{terminal}: {best:?} after {:.1} s; screenshot {}",
        start.elapsed().as_secs_f64(),
        path.display()
    );
    (best, zoomed, panned)
}

/// Of the screen's pixels in the photo's four colours, the share from its right half (green
/// and yellow; the left half is red and blue).
fn right_share(shot: &RgbImage) -> f64 {
    let (mut left, mut right) = (0u64, 0u64);
    for p in shot.pixels() {
        let [r, g, b] = p.0.map(u32::from);
        if r > 2 * g && r > 2 * b || b > 2 * r && b > 2 * g {
            left += 1;
        } else if g > 2 * r && g > 2 * b || r > 3 * b && g > 3 * b && r > 60 {
            right += 1;
        }
    }
    right as f64 / (left + right).max(1) as f64
}

/// kitty with `graphics` forced: once the photo is on screen, presses `key` (the status text
/// changes, the photo stays), waits, and returns the screenshot.
fn kitty_status_bar_after(x: &Xvfb, dir: &Path, bin: &str, graphics: &str, key: &str) -> RgbImage {
    let dir = dir.join(format!("kitty-{graphics}"));
    let (lib, config) = library_with(&dir, bin, &format!("[tui]\ngraphics = \"{graphics}\"\n"));
    let tui = [bin, "--library", lib.to_str().unwrap(), "--config", config.to_str().unwrap()];
    let mut child = x.spawn(&mut kitty(&tui));
    let shots = shots_dir();
    let path = shots.join(format!("kitty-{graphics}-after-{key}.png"));
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(45) {
        std::thread::sleep(Duration::from_millis(1500));
        if x.screenshot(&path).as_ref().and_then(measure).is_some_and(|m| m.coarse > 0.8) {
            break;
        }
    }
    assert!(x.press("kitty", key), "xdotool could not press {key} in kitty");
    std::thread::sleep(Duration::from_secs(4));
    let shot = x.screenshot(&path).expect("screenshot");
    let _ = child.kill();
    let _ = child.wait();
    shot
}

/// The bottom 32 px of text on `shot`: the status bar's second line and the foot of its first,
/// whatever the font's cell height (the photo above ends higher).
fn status_bar_rows(shot: &RgbImage) -> (u32, u32) {
    let lit = |y: u32| (0..shot.width()).any(|x| shot.get_pixel(x, y).0.iter().any(|&c| c > 100));
    let bottom = (0..shot.height()).rev().find(|&y| lit(y)).unwrap_or(shot.height() - 1);
    (bottom.saturating_sub(31), 32)
}

/// The mean length of the checkerboard's runs along the rows of the top-left quadrant of the
/// photo area `bbox`: the on-screen size of the photo's 12-px squares. The row with the most
/// transitions is taken (a row on a squares' border is blended flat by the downscale).
fn checker_run(shot: &RgbImage, (x0, y0, w, h): (u32, u32, u32, u32)) -> Option<f64> {
    let (from, to) = (x0 + 8, x0 + w / 2 - 8);
    if y0 + h / 2 >= shot.height() || to >= shot.width() || to <= from + 50 {
        return None;
    }
    let luma = |x: u32, y: u32| shot.get_pixel(x, y).0.iter().map(|&c| f64::from(c)).sum::<f64>();
    // Transitions: crossings of the row's mean brightness (a blended edge pixel is one).
    let crossings = |y: u32| {
        let row: Vec<f64> = (from..=to).map(|x| luma(x, y)).collect();
        let mean = row.iter().sum::<f64>() / row.len() as f64;
        let low: Vec<bool> = row.iter().map(|&v| v < mean).collect();
        low.windows(2).filter(|p| p[0] != p[1]).count()
    };
    let edges = (y0 + 8..y0 + h / 2 - 8).map(crossings).max()?;
    (edges > 0).then(|| f64::from(to - from) / edges as f64)
}

/// Whether the tools a real-terminal test needs are here (under CI they must be: see
/// `tools::require`); `what` names the test in the skip message.
fn terminals_available(what: &str, extra: &[&str]) -> bool {
    let missing: Vec<&str> = ["Xvfb", "xterm", "kitty", "import", "xdotool"]
        .iter()
        .chain(extra)
        .copied()
        .filter(|c| !installed(c))
        .collect();
    let why = format!(
        "{} not installed (apt-get install xvfb xterm kitty imagemagick xdotool tmux \
         libgl1-mesa-dri fonts-dejavu-core; .ci/run does)",
        missing.join(", ")
    );
    crate::tools::require(missing.is_empty(), what, &why)
}

#[test]
fn real_terminals_show_the_photos_pixels() {
    if !terminals_available("term_graphics", &[]) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_photosift");
    let dir = tempfile::tempdir().unwrap();
    let x = Xvfb::start();

    let (sixel, zoomed, panned) = run_in("xterm-sixel", &x, dir.path(), bin, true);
    let (kitty, _, _) = run_in("kitty", &x, dir.path(), bin, true);
    let (control, _, _) = run_in("xterm", &x, dir.path(), bin, false);

    let sixel = sixel.expect("xterm -ti vt340: no photo on screen (blank photo area)");
    assert!(sixel.coarse > 0.9, "xterm sixel: the photo area is not the photo: {sixel:?}");
    assert!(sixel.detail > 0.5, "xterm sixel: no real pixels (half-blocks?): {sixel:?}");
    // xterm draws sixel up to 1000×960 px: the photo fills that, not a thumbnail's 512 px.
    assert!(sixel.bbox.2 >= 990, "xterm sixel: the photo is not at the screen's size: {sixel:?}");
    // Z shows the original at 100%: its 12-px checker squares are 12 px on screen.
    let (fitted, run) = zoomed.expect("xterm sixel: no photo after Z");
    assert!((6.0..9.0).contains(&fitted), "xterm sixel fitted: squares of {fitted:.1} px");
    assert!((10.5..13.5).contains(&run), "xterm sixel after Z: squares of {run:.1} px");
    let (before, after) = panned.expect("xterm sixel: no screenshot of the loupe's pan");
    assert!((0.35..0.65).contains(&before), "the loupe's middle: right share {before:.2}");
    assert!(after > 0.7, "after panning right: right share {after:.2} (before {before:.2})");
    let kitty = kitty.expect("kitty: no photo on screen (blank, or boxes)");
    assert!(kitty.coarse > 0.9, "kitty: the photo area is not the photo: {kitty:?}");
    assert!(kitty.detail > 0.5, "kitty: no real pixels (half-blocks?): {kitty:?}");
    // 103 columns of 9 px beside the side panel: the photo is drawn 920-927 px wide.
    assert!(kitty.bbox.2 >= 900, "kitty: the photo is not at the window's size: {kitty:?}");
    // The control: half-blocks show the layout but not the detail, so the measure above
    // really tells pixels from half-blocks.
    let control = control.expect("plain xterm: no half-block photo on screen");
    assert!(control.coarse > 0.8, "plain xterm: half-blocks should show the layout: {control:?}");
    assert!(control.detail < 0.3, "plain xterm: half-blocks cannot show the detail: {control:?}");

    // Text that changes while a kitty image stays on screen is drawn cleanly: kitty 0.26 on
    // software GL drew the new glyphs over the old ones while an image sat under the text.
    // R (nothing to train on yet) changes the status bar; it must come out pixel for pixel as
    // it does with half-blocks, where no image is placed.
    let placed = kitty_status_bar_after(&x, dir.path(), bin, "kitty", "r");
    let cells = kitty_status_bar_after(&x, dir.path(), bin, "halfblocks", "r");
    let (top, height) = status_bar_rows(&cells);
    let crop = |img: &RgbImage| image::imageops::crop_imm(img, 0, top, 1200, height).to_image();
    let (placed, cells) = (crop(&placed), crop(&cells));
    let ink = |img: &RgbImage| img.pixels().filter(|p| p.0.iter().any(|&c| c > 100)).count();
    let differ = placed
        .pixels()
        .zip(cells.pixels())
        .filter(|(a, b)| a.0.iter().zip(b.0).any(|(&u, v)| u.abs_diff(v) > 60))
        .count();
    eprintln!(
        "kitty status bar after R: {} / {} lit pixels (kitty / half-blocks), {differ} differ",
        ink(&placed),
        ink(&cells)
    );
    assert!(ink(&cells) > 500, "no status bar text where expected");
    assert!(differ < 40, "kitty: the status bar differs from the half-block run ({differ} px)");
}

/// A library whose best-first queue is one burst of three shots taken a second apart: the test
/// photo (red and blue on the left), the same mirrored (red and blue on the right), and the
/// photo again; alike in the embedding, scored 0.9, 0.8 and 0.7, the session in best mode.
/// Two unlike photos scored 0.01 (not in the best-first queue) give the embeddings a mean to
/// be centred on.
fn burst_library(dir: &Path) -> (PathBuf, PathBuf) {
    use photosift::catalog::NewPhoto;
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    let shots = [photo(), image::imageops::flip_horizontal(&photo()), photo(), photo(), photo()];
    let lib = dir.join("library");
    let library = photosift::library::Library::create(&lib).unwrap();
    let records: Vec<NewPhoto> = shots
        .iter()
        .enumerate()
        .map(|(i, shot)| {
            let path = photos.join(format!("IMG_{}.jpg", i + 1));
            shot.save(&path).unwrap();
            NewPhoto {
                path,
                content_hash: format!("shot{i}"),
                width: Some(shot.width()),
                height: Some(shot.height()),
                taken_at: Some(1_577_880_000 + if i < 3 { i as i64 } else { 3600 * i as i64 }),
                ..Default::default()
            }
        })
        .collect();
    let mut catalog = library.open_catalog().unwrap();
    let ids = catalog.insert_photos(&records).unwrap();
    let vectors: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // The burst along one axis (a little noise each), the others along their own.
            let axis = i.saturating_sub(2);
            (
                *id,
                (0..64)
                    .map(|k| if k == axis { 1.0 } else { 0.01 * ((i * k) % 3) as f32 })
                    .collect(),
            )
        })
        .collect();
    catalog.put_embeddings("lite0", &vectors).unwrap();
    catalog.set_session_setting("mode", "best").unwrap();
    drop(catalog);
    common::score_all(&library, &ids, |i| [0.9, 0.8, 0.7, 0.01, 0.01][i]);
    let config = dir.join("config.toml");
    std::fs::write(&config, "").unwrap();
    (lib, config)
}

/// Where a colour's pixels are, left to right, in `x0..x1` of the screen: mean x of the
/// photo's left colours (red, blue) and of its right colours (green, yellow), and how many.
fn colour_sides(shot: &RgbImage, x0: u32, x1: u32) -> (f64, f64, u64) {
    let (mut left, mut right) = ((0.0, 0u64), (0.0, 0u64));
    for (x, _, p) in shot.enumerate_pixels().filter(|(x, _, _)| (x0..x1).contains(x)) {
        let [r, g, b] = p.0.map(u32::from);
        if r > 2 * g && r > 2 * b || b > 2 * r && b > 2 * g {
            left = (left.0 + f64::from(x), left.1 + 1);
        } else if g > 2 * r && g > 2 * b || r > 3 * b && g > 3 * b && r > 60 {
            right = (right.0 + f64::from(x), right.1 + 1);
        }
    }
    let mean = |(sum, n): (f64, u64)| sum / n.max(1) as f64;
    (mean(left), mean(right), left.1.min(right.1))
}

/// The share of the right-hand colours among the photo colours in `x0..x1`.
fn right_share_in(shot: &RgbImage, x0: u32, x1: u32) -> f64 {
    right_share(&image::imageops::crop_imm(shot, x0, 0, x1 - x0, shot.height()).to_image())
}

/// The saturated columns' extent: the photo area of the screenshot.
fn photo_columns(shot: &RgbImage) -> Option<(u32, u32)> {
    let mut cols = vec![0u32; shot.width() as usize];
    for (x, _, p) in shot.enumerate_pixels() {
        if saturated(p) {
            cols[x as usize] += 1;
        }
    }
    span(&cols, 40)
}

/// Issue 30, item 4: C compare in real terminals. The shot on screen and the next one of its
/// burst show side by side (the mirrored shot's colours the other way round), and in the
/// loupe a pan moves both views (xterm sixel): the left shot's view goes to its right half,
/// the mirrored shot's to its red and blue.
#[test]
fn compare_view_shows_two_shots_side_by_side_in_real_terminals() {
    if !terminals_available("term_graphics compare", &[]) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_photosift");
    let dir = tempfile::tempdir().unwrap();
    let x = Xvfb::start();
    let shots = shots_dir();
    for (terminal, class) in [("xterm-sixel", "xterm"), ("kitty", "kitty")] {
        let (lib, config) = burst_library(&dir.path().join(terminal));
        let tui = [bin, "--library", lib.to_str().unwrap(), "--config", config.to_str().unwrap()];
        let mut cmd = if terminal == "kitty" { kitty(&tui) } else { xterm(true, &tui) };
        let mut child = x.spawn(&mut cmd);
        let path = shots.join(format!("{terminal}-compare.png"));
        // The first photo alone, then C.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(45) {
            std::thread::sleep(Duration::from_millis(1000));
            if x.screenshot(&path).as_ref().and_then(photo_columns).is_some() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        assert!(x.press(class, "c"), "{terminal}: could not press C");
        let mut sides = None;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(1000));
            let Some(shot) = x.screenshot(&path) else { continue };
            let Some((x0, x1)) = photo_columns(&shot) else { continue };
            let mid = (x0 + x1) / 2;
            let (l, r) = (colour_sides(&shot, x0, mid), colour_sides(&shot, mid, x1));
            sides = Some((l, r));
            // The left pane: red and blue left of green and yellow; the right pane mirrored.
            if l.0 < l.1 && r.0 > r.1 && l.2 > 30_000 && r.2 > 30_000 {
                break;
            }
        }
        eprintln!(
            "{terminal} compare: (left, right, pixels) per pane {sides:?}; {}",
            path.display()
        );
        let (l, r) = sides.unwrap_or_else(|| panic!("{terminal}: no compare screenshot"));
        // Each pane's photo: well above the burst strip's thumbnails (about 10,000 px a side).
        assert!(l.2 > 30_000 && r.2 > 30_000, "{terminal}: two photos side by side: {sides:?}");
        assert!(l.0 < l.1, "{terminal}: the left pane is the shot on screen: {sides:?}");
        assert!(r.0 > r.1, "{terminal}: the right pane is the mirrored shot: {sides:?}");

        if terminal == "xterm-sixel" {
            let pan_path = shots.join(format!("{terminal}-compare-pan.png"));
            let pressed = x.press(class, "z") && {
                std::thread::sleep(Duration::from_millis(1500));
                x.press(class, "l") && x.press(class, "l")
            };
            let mut shares = None;
            let start = Instant::now();
            while pressed && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(1000));
                let Some(shot) = x.screenshot(&pan_path) else { continue };
                let Some((x0, x1)) = photo_columns(&shot) else { continue };
                let mid = (x0 + x1) / 2;
                let s = (right_share_in(&shot, x0, mid), right_share_in(&shot, mid, x1));
                shares = Some(s);
                if s.0 > 0.8 && s.1 < 0.2 {
                    break;
                }
            }
            eprintln!("{terminal} compare, Z then l l: right-colour share per pane {shares:?}");
            let (left, right) = shares.expect("xterm sixel: no screenshot of the compare pan");
            assert!(left > 0.8, "the left shot's view went right: {shares:?}");
            assert!(right < 0.2, "the mirrored shot's view went with it: {shares:?}");
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A tmux server of the test's own (`-L`), killed when dropped.
struct TmuxServer(String);

impl TmuxServer {
    fn run(&self, args: &[&str]) -> bool {
        Command::new("tmux")
            .args(["-L", &self.0])
            .args(args)
            .env_remove("TMUX")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for TmuxServer {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

/// Waits up to `secs` for a screenshot in which `ok` holds of the measure (None: no photo).
fn wait_for(
    x: &Xvfb,
    path: &Path,
    secs: u64,
    ok: impl Fn(Option<Measure>) -> bool,
) -> Option<Measure> {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(1000));
        let Some(shot) = x.screenshot(path) else { continue };
        last = measure(&shot);
        if ok(last) {
            break;
        }
    }
    last
}

/// Issue 30, item 5: real photos inside tmux (Debian's tmux 3.3a, `allow-passthrough on`,
/// `focus-events on`). In kitty the photo is kitty graphics through tmux's passthrough, chosen
/// without configuration (tmux says the terminal behind it is kitty); in `xterm -ti vt340` it
/// is sixel through the passthrough with `[tui] graphics = "sixel"` (tmux cannot tell whether
/// xterm draws sixel). Switching to another tmux window takes the photo away with its window,
/// and coming back draws it again.
#[test]
fn photos_pass_through_tmux_in_real_terminals() {
    if !terminals_available("term_graphics tmux", &["tmux"]) {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_photosift");
    let dir = tempfile::tempdir().unwrap();
    let x = Xvfb::start();
    let shots = shots_dir();
    for (terminal, graphics) in [("kitty", "auto"), ("xterm-sixel", "sixel")] {
        let here = dir.path().join(format!("tmux-{terminal}"));
        let (lib, config) =
            library_with(&here, bin, &format!("[tui]\ngraphics = \"{graphics}\"\n"));
        let conf = here.join("tmux.conf");
        // No status line: its green bar would count as photo pixels in the measure.
        let settings = "set -g allow-passthrough on\nset -g focus-events on\nset -g status off\n";
        std::fs::write(&conf, settings).unwrap();
        let server = TmuxServer(format!("photosift-test-{}-{terminal}", std::process::id()));
        let inner = [
            "tmux",
            "-L",
            &server.0,
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            bin,
            "--library",
            lib.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ];
        let mut cmd = if terminal == "kitty" { kitty(&inner) } else { xterm(true, &inner) };
        let mut child = x.spawn(&mut cmd);
        let path = shots.join(format!("{terminal}-tmux.png"));
        let pixels = |m: Option<Measure>| m.is_some_and(|m| m.coarse > 0.9 && m.detail > 0.5);
        let shown = wait_for(&x, &path, 45, pixels);
        eprintln!("{terminal} in tmux: {shown:?}; {}", path.display());
        assert!(
            pixels(shown),
            "{terminal} in tmux: the photo's pixels are not on screen: {shown:?}"
        );

        // Another tmux window: the photo goes with its window; back: it is drawn again.
        let away = shots.join(format!("{terminal}-tmux-other-window.png"));
        assert!(server.run(&["new-window", "sleep 60"]), "tmux new-window");
        let gone = wait_for(&x, &away, 10, |m| m.is_none_or(|m| m.coarse < 0.5));
        eprintln!("{terminal} in tmux, another window: {gone:?}");
        assert!(gone.is_none_or(|m| m.coarse < 0.5), "{terminal}: the photo stayed: {gone:?}");
        let back = shots.join(format!("{terminal}-tmux-back.png"));
        assert!(server.run(&["select-window", "-t", ":0"]), "tmux select-window");
        let again = wait_for(&x, &back, 20, pixels);
        eprintln!("{terminal} in tmux, back: {again:?}");
        assert!(pixels(again), "{terminal}: the photo did not come back: {again:?}");
        drop(server);
        let _ = child.kill();
        let _ = child.wait();
    }
}
