//! The contact sheet: pages of the picks' thumbnails in a grid, each with its rank, score and
//! file name, too-small-for-print picks framed in red. Text is drawn with Noto Mono
//! (`crate::assets`), embedded so that the binary works anywhere.

use std::path::PathBuf;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage, imageops};
use rayon::prelude::*;
use thiserror::Error;

const FONT_BYTES: &[u8] = crate::assets::NOTO_MONO;

const COLS: u32 = 6;
const ROWS: u32 = 8;
/// Side of the square each thumbnail is fitted into.
const THUMB: u32 = 240;
const GAP: u32 = 16;
const CAPTION: u32 = 44;
const HEADING: u32 = 40;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BOX: Rgb<u8> = Rgb([236, 236, 236]);
const INK: [u8; 3] = [20, 20, 20];
const GREY: [u8; 3] = [100, 100, 100];
const RED: [u8; 3] = [200, 30, 30];

/// Photos per page.
pub const PER_PAGE: usize = (COLS * ROWS) as usize;

#[derive(Debug, Error)]
pub enum SheetError {
    #[error("the embedded font is unreadable: {0}")]
    Font(#[from] ab_glyph::InvalidFont),
}

/// One pick on the sheet.
#[derive(Debug, Clone)]
pub struct SheetCell {
    /// The thumbnail file; `None` or unreadable draws an empty box.
    pub thumb: Option<PathBuf>,
    /// Bold first caption line, e.g. "#3  p 0.93".
    pub title: String,
    /// Second line, e.g. the exported file name.
    pub name: String,
    pub too_small: bool,
}

/// Renders the cells on pages of [`PER_PAGE`]; `heading` tops every page.
pub fn render_pages(cells: &[SheetCell], heading: &str) -> Result<Vec<RgbImage>, SheetError> {
    let font = FontRef::try_from_slice(FONT_BYTES)?;
    let pages = cells.len().div_ceil(PER_PAGE);
    let thumbs: Vec<Option<RgbImage>> =
        cells.par_iter().map(|c| c.thumb.as_ref().and_then(|p| load_fitted(p))).collect();
    let mut out = Vec::with_capacity(pages);
    for (page, (chunk, thumbs)) in cells.chunks(PER_PAGE).zip(thumbs.chunks(PER_PAGE)).enumerate() {
        let rows = (chunk.len() as u32).div_ceil(COLS);
        let width = GAP + COLS * (THUMB + GAP);
        let height = HEADING + GAP + rows * (THUMB + CAPTION + GAP);
        let mut img = RgbImage::from_pixel(width, height, WHITE);
        let head = if pages > 1 {
            format!("{heading}  ·  page {} of {pages}", page + 1)
        } else {
            heading.to_owned()
        };
        draw_text(&mut img, &font, 22.0, GAP as i32, 10, &head, INK, width - 2 * GAP);
        for (i, (cell, thumb)) in chunk.iter().zip(thumbs).enumerate() {
            let (col, row) = (i as u32 % COLS, i as u32 / COLS);
            let x = GAP + col * (THUMB + GAP);
            let y = HEADING + GAP + row * (THUMB + CAPTION + GAP);
            draw_cell(&mut img, &font, x, y, cell, thumb.as_ref());
        }
        out.push(img);
    }
    Ok(out)
}

fn draw_cell(
    img: &mut RgbImage,
    font: &FontRef<'_>,
    x: u32,
    y: u32,
    cell: &SheetCell,
    thumb: Option<&RgbImage>,
) {
    fill(img, x, y, THUMB, THUMB, BOX);
    match thumb {
        Some(t) => {
            let (ox, oy) = (x + (THUMB - t.width()) / 2, y + (THUMB - t.height()) / 2);
            imageops::replace(img, t, i64::from(ox), i64::from(oy));
        }
        None => {
            let mid = (y + THUMB / 2 - 8) as i32;
            draw_text(img, font, 14.0, x as i32 + 8, mid, "no thumbnail", GREY, THUMB - 16);
        }
    }
    if cell.too_small {
        let red = Rgb(RED);
        for t in 0..4 {
            fill(img, x + t, y + t, THUMB - 2 * t, 1, red);
            fill(img, x + t, y + THUMB - 1 - t, THUMB - 2 * t, 1, red);
            fill(img, x + t, y + t, 1, THUMB - 2 * t, red);
            fill(img, x + THUMB - 1 - t, y + t, 1, THUMB - 2 * t, red);
        }
    }
    let ty = (y + THUMB + 4) as i32;
    let used = draw_text(img, font, 16.0, x as i32, ty, &cell.title, INK, THUMB);
    if cell.too_small {
        let bx = x as i32 + used as i32 + 8;
        let room = THUMB.saturating_sub(used + 8);
        draw_text(img, font, 13.0, bx, ty + 2, "too small", RED, room);
    }
    draw_text(img, font, 12.0, x as i32, ty + 22, &cell.name, GREY, THUMB);
}

/// Decodes a thumbnail and fits it into the THUMB square; `None` if it cannot be read.
fn load_fitted(path: &std::path::Path) -> Option<RgbImage> {
    let img = image::open(path).ok()?.to_rgb8();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let scale = f64::from(THUMB) / f64::from(w.max(h));
    if scale >= 1.0 {
        return Some(img);
    }
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as u32).clamp(1, THUMB),
        ((f64::from(h) * scale).round() as u32).clamp(1, THUMB),
    );
    Some(imageops::resize(&img, nw, nh, imageops::FilterType::Triangle))
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: Rgb<u8>) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, color);
        }
    }
}

/// Draws `text` with its top at `y`, cut with an ellipsis to `max_width` pixels; returns the
/// width drawn.
#[allow(clippy::too_many_arguments)]
fn draw_text(
    img: &mut RgbImage,
    font: &FontRef<'_>,
    size: f32,
    x: i32,
    y: i32,
    text: &str,
    color: [u8; 3],
    max_width: u32,
) -> u32 {
    let scaled = font.as_scaled(PxScale::from(size));
    let fitted = fit(&scaled, text, max_width as f32);
    let baseline = y as f32 + scaled.ascent();
    let mut caret = x as f32;
    let mut prev = None;
    for ch in fitted.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(size, point(caret, baseline));
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, coverage| {
                let px = b.min.x as i32 + gx as i32;
                let py = b.min.y as i32 + gy as i32;
                if px < 0 || py < 0 || px as u32 >= img.width() || py as u32 >= img.height() {
                    return;
                }
                let c = coverage.clamp(0.0, 1.0);
                let dst = img.get_pixel_mut(px as u32, py as u32);
                for (d, s) in dst.0.iter_mut().zip(color) {
                    *d = (f32::from(*d) * (1.0 - c) + f32::from(s) * c).round() as u8;
                }
            });
        }
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    (caret - x as f32).ceil().max(0.0) as u32
}

fn text_width<F: Font>(scaled: &ab_glyph::PxScaleFont<F>, text: &str) -> f32 {
    let mut w = 0.0;
    let mut prev = None;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            w += scaled.kern(p, id);
        }
        w += scaled.h_advance(id);
        prev = Some(id);
    }
    w
}

/// `text`, or its longest prefix plus "…" that fits in `max` pixels.
fn fit<F: Font>(scaled: &ab_glyph::PxScaleFont<F>, text: &str, max: f32) -> String {
    if text_width(scaled, text) <= max {
        return text.to_owned();
    }
    let mut cut: String = text.to_owned();
    while !cut.is_empty() {
        cut.pop();
        let candidate = format!("{cut}…");
        if text_width(scaled, &candidate) <= max {
            return candidate;
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_paged_and_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let thumb = dir.path().join("t.jpg");
        RgbImage::from_pixel(512, 384, Rgb([0, 0, 255])).save(&thumb).unwrap();
        let cell = |i: usize| SheetCell {
            thumb: i.is_multiple_of(2).then(|| thumb.clone()),
            title: format!("#{}  p 0.{i:02}", i + 1),
            name: format!("IMG_{i:04}-with-a-very-long-name-that-needs-cutting.jpg"),
            too_small: i == 1,
        };
        let cells: Vec<_> = (0..PER_PAGE + 1).map(cell).collect();
        let pages = render_pages(&cells, "photosift picks").unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1].height(), HEADING + GAP + THUMB + CAPTION + GAP);
        // The first cell's thumbnail is there (blue in the box's middle)...
        let (cx, cy) = (GAP + THUMB / 2, HEADING + GAP + THUMB / 2);
        let p = pages[0].get_pixel(cx, cy).0;
        assert!(p[2] > 200 && p[0] < 60, "{p:?}");
        // ...the second (too small) is framed in red, and captions put ink below the boxes.
        let frame = pages[0].get_pixel(GAP + THUMB + GAP + 1, HEADING + GAP + 50).0;
        assert_eq!(frame, RED);
        let caption_ink = (0..THUMB).any(|dx| {
            (0..CAPTION)
                .any(|dy| pages[0].get_pixel(GAP + dx, HEADING + GAP + THUMB + dy).0[0] < 128)
        });
        assert!(caption_ink);
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let font = FontRef::try_from_slice(FONT_BYTES).unwrap();
        let scaled = font.as_scaled(PxScale::from(12.0));
        let cut = fit(&scaled, &"x".repeat(200), 100.0);
        assert!(cut.ends_with('…') && cut.len() < 200);
        assert!(text_width(&scaled, &cut) <= 100.0);
        assert_eq!(fit(&scaled, "short", 100.0), "short");
    }
}
