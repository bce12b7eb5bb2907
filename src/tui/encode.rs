//! A decoded preview turned into what the terminal draws — half-block cells, or one escape
//! sequence (sixel, kitty direct placement, iTerm2) — and the widget that puts it on screen.

use std::fmt::Write as _;
use std::num::NonZeroU16;

use image::{DynamicImage, RgbImage};
use ratatui::buffer::{Buffer, CellDiffOption};
use ratatui::layout::{Rect, Size};
use ratatui::widgets::Widget;
use ratatui_image::protocol::Protocol as CellProtocol;
use ratatui_image::protocol::iterm2::Iterm2;
use ratatui_image::protocol::sixel::Sixel;
use ratatui_image::{FilterType, Image, Resize};

use super::graphics::{Choice, Protocol};

/// A preview ready to draw.
pub enum Encoded {
    /// Drawn as cells by ratatui-image (half-blocks, kitty unicode placeholders).
    Cells(Box<CellProtocol>),
    /// One escape sequence written at the area's top-left cell; the terminal draws the pixels
    /// over `size` cells. `above_text`: the pixels cover whatever text is drawn on those
    /// cells later (kitty placements), rather than being replaced by it (sixel, iTerm2).
    /// `tmux`: wrapped for tmux's passthrough, so it is placed by a cursor move of its own.
    Escape { data: String, size: Size, above_text: bool, tmux: bool },
}

impl Encoded {
    /// The cells it covers.
    pub fn size(&self) -> Size {
        match self {
            Encoded::Cells(p) => p.size(),
            Encoded::Escape { size, .. } => *size,
        }
    }

    /// Whether text drawn over it (an overlay) would be hidden under its pixels.
    pub fn hides_text(&self) -> bool {
        matches!(self, Encoded::Escape { above_text: true, .. })
    }

    /// Bytes held (for the cache's memory bound).
    pub fn bytes(&self) -> usize {
        match self {
            // Half-block cells: a symbol and two colours each, about 40 bytes in a buffer.
            Encoded::Cells(p) => {
                usize::from(p.size().width) * usize::from(p.size().height) * 40 + 64
            }
            Encoded::Escape { data, .. } => data.len() + 64,
        }
    }
}

/// Escape sequences have a display width of their own; the one cell they occupy counts as 1.
const UNIT_WIDTH: CellDiffOption = CellDiffOption::ForcedWidth(NonZeroU16::MIN);

/// The widget: a preview at the top-left of the area it is given. Inside tmux, `.1` is the
/// pane's top-left cell in the outer terminal, where a passthrough image is placed from.
pub struct PreviewImage<'a>(pub &'a Encoded, pub Option<(u16, u16)>);

impl Widget for PreviewImage<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        match self.0 {
            Encoded::Cells(p) => Image::new(p).render(area, buf),
            Encoded::Escape { data, size, tmux, .. } => {
                // Never partly: a sixel cut by ratatui would be garbage.
                if size.width > area.width || size.height > area.height {
                    return;
                }
                let rect = Rect::new(area.x, area.y, size.width, size.height);
                for y in rect.top()..rect.bottom() {
                    for x in rect.left()..rect.right() {
                        if let Some(cell) = buf.cell_mut((x, y)) {
                            cell.set_diff_option(CellDiffOption::Skip);
                        }
                    }
                }
                let Some(cell) = buf.cell_mut((rect.x, rect.y)) else { return };
                match (tmux, self.1) {
                    // tmux does not move the outer terminal's cursor for a passthrough.
                    (true, Some(origin)) => {
                        let moved = super::tmux::move_to(origin, rect.x, rect.y) + data;
                        cell.set_symbol(&moved).set_diff_option(UNIT_WIDTH);
                    }
                    _ => {
                        cell.set_symbol(data).set_diff_option(UNIT_WIDTH);
                    }
                }
            }
        }
    }
}

/// Cells needed for `w`×`h` pixels at `cell` pixels per cell (rounded up).
pub fn cells_for(w: u32, h: u32, cell: (u16, u16)) -> Size {
    let c = |v: u32, s: u16| v.div_ceil(u32::from(s.max(1))).min(u32::from(u16::MAX)) as u16;
    Size::new(c(w, cell.0), c(h, cell.1))
}

/// Encodes `image` (already at its pixel size on screen, within `size` cells) for `choice`.
/// `owns_screen`: this is the main photo, so kitty images placed before it are removed.
pub fn encode(
    choice: &Choice,
    image: RgbImage,
    size: Size,
    owns_screen: bool,
) -> Result<Encoded, String> {
    let cells = cells_for(image.width(), image.height(), choice.cell);
    if choice.protocol.is_pixels() && (cells.width > size.width || cells.height > size.height) {
        return Err(format!(
            "a {}×{} px image does not fit {}×{} cells",
            image.width(),
            image.height(),
            size.width,
            size.height
        ));
    }
    match choice.protocol {
        Protocol::Halfblocks | Protocol::KittyPlaceholders => {
            let picker = choice.picker();
            let p = picker
                .new_protocol(
                    DynamicImage::ImageRgb8(image),
                    size,
                    Resize::Fit(Some(FilterType::Triangle)),
                )
                .map_err(|e| format!("cannot encode: {e}"))?;
            Ok(Encoded::Cells(Box::new(p)))
        }
        Protocol::Sixel => {
            let (data, cells) = sixel(image, choice, choice.tmux_origin.is_some())?;
            Ok(escape(choice, data, cells, false))
        }
        Protocol::Iterm2 => {
            let s = Iterm2::new(DynamicImage::ImageRgb8(image), cells, false)
                .map_err(|e| format!("cannot encode for iTerm2: {e}"))?;
            Ok(escape(choice, s.data, cells, false))
        }
        Protocol::Kitty => {
            let data = kitty_direct(&image, owns_screen);
            Ok(escape(choice, data, cells, true))
        }
    }
}

/// An escape-sequence preview, wrapped for tmux's passthrough where the choice says so.
fn escape(choice: &Choice, data: String, size: Size, above_text: bool) -> Encoded {
    match choice.tmux_origin {
        Some(_) => {
            Encoded::Escape { data: super::tmux::passthrough(&data), size, above_text, tmux: true }
        }
        None => Encoded::Escape { data, size, above_text, tmux: false },
    }
}

/// `image` in sixel. Through tmux (`limited`) one sequence must stay under tmux's passthrough
/// limit: a larger one is drawn smaller, in steps of a fifth, rather than dropped by tmux.
fn sixel(mut image: RgbImage, choice: &Choice, limited: bool) -> Result<(String, Size), String> {
    loop {
        let cells = cells_for(image.width(), image.height(), choice.cell);
        let s = Sixel::new(DynamicImage::ImageRgb8(image.clone()), cells, false)
            .map_err(|e| format!("cannot encode sixel: {e}"))?;
        if !limited || s.data.len() <= super::tmux::PASSTHROUGH_LIMIT || image.width() < 64 {
            return Ok((s.data, cells));
        }
        let (w, h) = (image.width() * 4 / 5, image.height() * 4 / 5);
        image = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
    }
}

/// kitty's graphics protocol, placed at the cursor (every kitty since 0.20, and the other
/// terminals that speak it), unlike unicode placeholders (kitty 0.28+ only):
/// <https://sw.kovidgoyal.net/kitty/graphics-protocol/>.
///
/// `a=T` transmits and displays in one go; `f=24` raw RGB (no PNG encoding to pay, and kitty
/// reads it fastest); `C=1` leaves the cursor where it is, so ratatui's bookkeeping holds;
/// `q=2` suppresses replies that would arrive as input. The image sits above the text
/// (the default `z=0`): with an image placed *under* the text (any negative `z`), kitty 0.26 on
/// Mesa's software GL draws a cell whose glyph changes over its old glyph, anywhere on screen,
/// so a changing status bar became unreadable; nothing is written in the photo's cells, and
/// the view leaves kitty images out while the help overlay is up (see `view::draw`).
/// The main photo first deletes every placement (`a=d,d=A` also frees their data): images
/// placed directly stay until deleted, whatever text is written over them.
pub fn kitty_direct(image: &RgbImage, owns_screen: bool) -> String {
    const CHUNK: usize = 3072; // 4096 base64 characters, the protocol's chunk limit
    let (w, h) = image.dimensions();
    let raw = image.as_raw();
    let mut out = String::with_capacity(raw.len() / 3 * 4 + raw.len() / CHUNK * 16 + 128);
    if owns_screen {
        out.push_str("\x1b_Ga=d,d=A,q=2\x1b\\");
    }
    let chunks = raw.chunks(CHUNK);
    let n = chunks.len();
    for (i, chunk) in chunks.enumerate() {
        let more = u8::from(i + 1 < n);
        if i == 0 {
            let _ = write!(out, "\x1b_Ga=T,f=24,t=d,s={w},v={h},C=1,q=2,m={more};");
        } else {
            let _ = write!(out, "\x1b_Gm={more};");
        }
        base64_simd::STANDARD.encode_append(chunk, &mut out);
        out.push_str("\x1b\\");
    }
    out
}

/// What to send when no image is on screen but kitty may still show one.
pub const KITTY_DELETE_ALL: &str = "\x1b_Ga=d,d=A,q=2\x1b\\";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kitty_direct_is_chunked_raw_rgb_placed_at_the_cursor() {
        let img = RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let s = kitty_direct(&img, true);
        assert!(s.starts_with("\x1b_Ga=d,d=A,q=2\x1b\\\x1b_Ga=T,f=24,t=d,s=40,v=30,C=1,"));
        assert!(!s.contains("U=1"), "no unicode placeholders (kitty < 0.28 rejects them)");
        // 3600 bytes: two chunks, the first says more follows, the last does not.
        let chunks: Vec<&str> = s.split("\x1b_G").filter(|c| c.contains(';')).collect();
        assert_eq!(chunks.len(), 2);
        assert!(chunks[0].contains("m=1;") && chunks[1].starts_with("m=0;"));
        let payload: String = chunks
            .iter()
            .map(|c| c.split_once(';').unwrap().1.trim_end_matches("\x1b\\"))
            .collect();
        let back = base64_simd::STANDARD.decode_to_vec(payload.as_bytes()).unwrap();
        assert_eq!(back, *img.as_raw());
        assert!(!kitty_direct(&img, false).contains("a=d"));
    }

    #[test]
    fn escape_images_fill_their_cells_and_refuse_to_be_cut() {
        let data = "\x1bPq-\x1b\\".into();
        let enc = Encoded::Escape { data, size: Size::new(3, 2), above_text: false, tmux: false };
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 4));
        PreviewImage(&enc, None).render(Rect::new(1, 1, 5, 3), &mut buf);
        assert_eq!(buf[(1, 1)].symbol(), "\x1bPq-\x1b\\");
        assert_eq!(buf[(3, 2)].diff_option, CellDiffOption::Skip);
        assert_eq!(buf[(4, 1)].diff_option, CellDiffOption::None);
        let mut small = Buffer::empty(Rect::new(0, 0, 2, 2));
        PreviewImage(&enc, None).render(Rect::new(0, 0, 2, 2), &mut small);
        assert_eq!(small[(0, 0)].symbol(), " ");
    }

    #[test]
    fn sizes_round_up_to_whole_cells() {
        assert_eq!(cells_for(1000, 920, (10, 20)), Size::new(100, 46));
        assert_eq!(cells_for(1001, 921, (10, 20)), Size::new(101, 47));
    }

    #[test]
    fn an_image_larger_than_its_cells_is_refused() {
        let c = Choice::fixed(Protocol::Sixel, (10, 20));
        let img = RgbImage::new(120, 40);
        assert!(encode(&c, img.clone(), Size::new(10, 2), true).is_err());
        let e = encode(&c, img, Size::new(12, 2), true).unwrap();
        assert_eq!(e.size(), Size::new(12, 2));
        assert!(matches!(&e, Encoded::Escape { data, .. } if data.contains("\x1bP")));
    }

    /// The form iTerm2's documentation gives (iterm2.com/documentation-images.html):
    /// `ESC ] 1337 ; File = key=value;... : base64 file contents BEL`, with `inline=1` to show
    /// it, `size` the file's byte count, and width and height in pixels (`Npx`).
    #[test]
    fn iterm2_images_follow_the_documented_file_sequence() {
        let c = Choice::fixed(Protocol::Iterm2, (10, 20));
        let img = RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 90]));
        let e = encode(&c, img.clone(), Size::new(4, 2), true).unwrap();
        assert_eq!(e.size(), Size::new(4, 2));
        let Encoded::Escape { data, .. } = &e else { panic!("an escape sequence") };
        // ratatui-image first blanks the cells (erase characters, cursor down) and returns to
        // the top row, so the image is written where the cursor started.
        let start = data.find("\x1b]1337;File=").expect("OSC 1337 File=");
        let mut rows = 0i32;
        for csi in data[..start].split("\x1b[").filter(|c| !c.is_empty()) {
            let (n, op) = csi.split_at(csi.len() - 1);
            let n: i32 = n.parse().expect("a count");
            match op {
                "X" => {}
                "B" => rows += n,
                "A" => rows -= n,
                other => panic!("unexpected {other:?} before the image"),
            }
        }
        assert_eq!(rows, 0, "the cursor is back on the top row");
        let body = &data[start + "\x1b]1337;File=".len()..];
        let (args, rest) = body.split_once(':').expect("arguments, then ':'");
        let (payload, tail) = rest.split_once('\x07').expect("ends with BEL");
        assert!(tail.is_empty(), "{tail:?}");
        let args: std::collections::HashMap<&str, &str> =
            args.split(';').filter_map(|kv| kv.split_once('=')).collect();
        assert_eq!(args.get("inline"), Some(&"1"));
        assert_eq!((args.get("width"), args.get("height")), (Some(&"40px"), Some(&"30px")));
        let file = base64_simd::STANDARD.decode_to_vec(payload).expect("base64");
        assert_eq!(args.get("size"), Some(&file.len().to_string().as_str()));
        let shown = image::load_from_memory(&file).expect("an image file").to_rgb8();
        assert_eq!(shown.dimensions(), (40, 30));
        assert_eq!(shown, img, "lossless: the pixels sent are the preview's");
    }
}
