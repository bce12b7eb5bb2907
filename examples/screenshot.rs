//! Renders the labeling TUI on the demo library to a PNG, as a terminal with half-block graphics
//! would show it: builds the demo library in a temporary folder, opens the real `App` on
//! ratatui's `TestBackend`, switches to best-first mode, and rasterizes the screen buffer cell
//! by cell (half-block cells as two pixels' colours, text with the bundled font).
//!
//! `cargo run --release --example screenshot -- docs/screenshot.png [COLS ROWS]`

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use anyhow::{Context, Result, bail};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use image::{Rgb, RgbImage};
use photosift::config::Config;
use photosift::library::Library;
use photosift::tui::graphics::Choice;
use photosift::tui::{App, AppEvent, Mode, Services};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Cell;
use ratatui::style::Color;

/// Pixels per terminal cell.
const CELL_W: u32 = 9;
const CELL_H: u32 = 18;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().context("usage: screenshot OUT.png [COLS ROWS]")?;
    let cols: u16 = args.get(1).map_or(Ok(150), |s| s.parse())?;
    let rows: u16 = args.get(2).map_or(Ok(44), |s| s.parse())?;

    let dir = tempfile::tempdir()?;
    let config = Config::default();
    let library = Library::create(dir.path().join("library"))?;
    photosift::pipeline::demo::build(&library, &config, &|_| {})?;

    let terminal = Terminal::new(TestBackend::new(cols, rows))?;
    let mut app = App::new(
        terminal,
        library,
        config,
        Choice::halfblocks("rendered as cells"),
        Services::default(),
    )?;
    let wait = Duration::from_secs(60);
    if !app.pump_until(wait, |a| a.state().complete && a.photo_ready())? {
        bail!("the first photo never showed");
    }
    let tab = Event::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    app.sender().send(AppEvent::Input(tab))?;
    if !app.pump_until(wait, |a| a.state().mode == Mode::Best && a.photo_ready())? {
        bail!("best-first mode never showed a photo");
    }
    app.draw_if_dirty()?;

    let font = FontRef::try_from_slice(photosift::assets::NOTO_MONO)?;
    let buf = app.terminal().backend().buffer();
    let mut img = RgbImage::new(u32::from(cols) * CELL_W, u32::from(rows) * CELL_H);
    for y in 0..rows {
        for x in 0..cols {
            draw_cell(&mut img, &font, &buf[(x, y)], u32::from(x), u32::from(y));
        }
    }
    img.save(out).with_context(|| format!("cannot write {out}"))?;
    println!("wrote {out} ({}x{} px)", img.width(), img.height());
    Ok(())
}

fn draw_cell(img: &mut RgbImage, font: &FontRef<'_>, cell: &Cell, cx: u32, cy: u32) {
    let (x0, y0) = (cx * CELL_W, cy * CELL_H);
    let bg = rgb(cell.bg, Rgb([16, 16, 20]));
    let fg = rgb(cell.fg, Rgb([220, 220, 220]));
    let symbol = cell.symbol();
    // Half blocks are two pixels of the photo: the upper half in fg, the lower in bg.
    let (top, bottom) = match symbol {
        "▀" => (fg, bg),
        "▄" => (bg, fg),
        "█" => (fg, fg),
        _ => (bg, bg),
    };
    for dy in 0..CELL_H {
        let color = if dy < CELL_H / 2 { top } else { bottom };
        for dx in 0..CELL_W {
            img.put_pixel(x0 + dx, y0 + dy, color);
        }
    }
    let Some(ch) = symbol.chars().next() else { return };
    if matches!(symbol, "▀" | "▄" | "█" | " ") {
        return;
    }
    // Box-drawing lines are drawn, not taken from the font (it has none).
    let (mid_x, mid_y) = (x0 + CELL_W / 2, y0 + CELL_H / 2);
    match ch {
        '│' => (y0..y0 + CELL_H).for_each(|y| img.put_pixel(mid_x, y, fg)),
        '─' => (x0..x0 + CELL_W).for_each(|x| img.put_pixel(x, mid_y, fg)),
        _ => {}
    }
    if font.glyph_id(ch).0 == 0 {
        return;
    }
    let scaled = font.as_scaled(PxScale::from(CELL_H as f32 * 0.85));
    let glyph = scaled.scaled_glyph(ch);
    let mut glyph = glyph;
    glyph.position = ab_glyph::point(x0 as f32, y0 as f32 + scaled.ascent());
    if let Some(outlined) = font.outline_glyph(glyph) {
        let b = outlined.px_bounds();
        outlined.draw(|gx, gy, cov| {
            let (px, py) = (b.min.x as i64 + i64::from(gx), b.min.y as i64 + i64::from(gy));
            if px < 0 || py < 0 || px >= i64::from(img.width()) || py >= i64::from(img.height()) {
                return;
            }
            let p = img.get_pixel_mut(px as u32, py as u32);
            for c in 0..3 {
                let mixed = f32::from(p[c]) * (1.0 - cov) + f32::from(fg[c]) * cov;
                p[c] = mixed.round() as u8;
            }
        });
    }
}

/// A terminal colour as RGB (the xterm palette for the named colours).
fn rgb(color: Color, default: Rgb<u8>) -> Rgb<u8> {
    match color {
        Color::Reset => default,
        Color::Rgb(r, g, b) => Rgb([r, g, b]),
        Color::Black => Rgb([0, 0, 0]),
        Color::Red => Rgb([205, 49, 49]),
        Color::Green => Rgb([13, 188, 121]),
        Color::Yellow => Rgb([229, 229, 16]),
        Color::Blue => Rgb([36, 114, 200]),
        Color::Magenta => Rgb([188, 63, 188]),
        Color::Cyan => Rgb([17, 168, 205]),
        Color::Gray => Rgb([204, 204, 204]),
        Color::DarkGray => Rgb([118, 118, 118]),
        Color::LightRed => Rgb([241, 76, 76]),
        Color::LightGreen => Rgb([35, 209, 139]),
        Color::LightYellow => Rgb([245, 245, 67]),
        Color::LightBlue => Rgb([59, 142, 234]),
        Color::LightMagenta => Rgb([214, 112, 214]),
        Color::LightCyan => Rgb([41, 184, 219]),
        Color::White => Rgb([229, 229, 229]),
        Color::Indexed(i) => Rgb([i, i, i]),
    }
}
