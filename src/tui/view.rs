//! Drawing: the layout (a pure function of the terminal size and the state) and the widgets
//! (photo, burst strip, side panel, status bar, help overlay). Reads state and previews only.

use std::collections::HashMap;
use std::path::Path;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Row, Table, Wrap};

use crate::catalog::TakenSource;

use crate::domain::PhotoId;
use crate::print_check::PrintCheck;
use crate::show;

use super::encode::PreviewImage;
use super::keymap::Action;
use super::preview::{Preview, PreviewCache};
use super::state::{Mode, Side, State};
use crate::pipeline::queues::PhotoInfo;

/// Below this the screen shows a message instead of a squeezed UI.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
/// The side panel's width on a wide terminal; narrower ones get a narrower panel, down to
/// `SIDE_MIN_WIDTH`, and below `SIDE_FROM` columns none (the status bar says what it must).
const SIDE_WIDTH: u16 = 30;
const SIDE_MIN_WIDTH: u16 = 22;
const SIDE_FROM: u16 = 70;
/// At most this many status lines for messages that do not fit (no side panel to wrap into).
const MESSAGE_LINES: u16 = 3;
const STRIP_HEIGHT: u16 = 6;
const STRIP_CELL_WIDTH: u16 = 12;

/// Where things go on a screen of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub photo: Rect,
    pub side: Option<Rect>,
    pub strip: Option<Rect>,
    pub status: Rect,
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

/// The layout. The burst strip appears in best mode when the photo has burst siblings.
pub fn areas(area: Rect, state: &State) -> Areas {
    let burst = state.mode == Mode::Best && state.queue(Mode::Best).burst().len() > 1;
    layout(area, state, burst)
}

/// The layout with (`burst`) or without the burst strip.
fn layout(area: Rect, state: &State, burst: bool) -> Areas {
    let has_side = area.width >= SIDE_FROM;
    // Without a side panel, messages wrap onto extra status lines rather than being cut.
    let extra = if has_side {
        0
    } else {
        let text = message_text(state).chars().count() as u16;
        text.div_ceil(area.width.max(1)).min(MESSAGE_LINES)
    };
    let [main, status] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(2 + extra)]).areas(area);
    let (main, side) = if has_side {
        let width = area.width.saturating_sub(70).clamp(SIDE_MIN_WIDTH, SIDE_WIDTH);
        let [m, s] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(width)]).areas(main);
        (m, Some(s))
    } else {
        (main, None)
    };
    let (photo, strip) = if burst && main.height >= STRIP_HEIGHT + 6 {
        let [p, s] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(STRIP_HEIGHT)]).areas(main);
        (p, Some(s))
    } else {
        (main, None)
    };
    Areas { photo, side, strip, status }
}

/// The cell size of one burst-strip thumbnail.
pub fn strip_cell() -> Size {
    Size::new(STRIP_CELL_WIDTH - 1, STRIP_HEIGHT - 1)
}

/// One of compare view's two panes: the shot, its side, its frame, and inside the frame the
/// image's area and the caption line under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pane {
    pub photo: PhotoId,
    pub side: Side,
    pub frame: Rect,
    pub image: Rect,
    pub caption: Rect,
}

/// Compare view's two panes in the photo area, the same size side by side, when it shows two
/// shots.
pub fn compare_panes(photo_area: Rect, state: &State) -> Option<[Pane; 2]> {
    let (left, right) = state.compare_pair()?;
    let width = pane_width(photo_area);
    let pane = |photo, side, x| {
        let frame = Rect::new(x, photo_area.y, width, photo_area.height);
        let inner = Block::bordered().inner(frame);
        let [image, caption] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        Pane { photo, side, frame, image, caption }
    };
    Some([
        pane(left, Side::Left, photo_area.x),
        pane(right, Side::Right, photo_area.x + photo_area.width - width),
    ])
}

/// A compare pane's width in a photo area of `photo_area`'s (a column between the two).
fn pane_width(photo_area: Rect) -> u16 {
    photo_area.width.saturating_sub(1) / 2
}

/// The size a compare pane's image gets in a photo area of `photo_area`'s: inside the frame,
/// above the caption line.
fn pane_image_size(photo_area: Rect) -> Size {
    let frame = Rect::new(0, 0, pane_width(photo_area), photo_area.height);
    let inner = Block::bordered().inner(frame);
    Size::new(inner.width, inner.height.saturating_sub(1))
}

/// The photos on screen and the area each image is drawn in: the current one, or compare
/// view's two (the current one first).
pub fn photo_slots(area: Rect, state: &State) -> Vec<(PhotoId, Rect)> {
    let a = areas(area, state);
    match compare_panes(a.photo, state) {
        Some(panes) => panes.iter().map(|p| (p.photo, p.image)).collect(),
        None => state.current().map(|p| (p, a.photo)).into_iter().collect(),
    }
}

/// The previews the current screen shows or will show next: the photo (or compare view's
/// two), the next `prefetch` photos at the size they will show at, and the burst strip. Most
/// urgent first.
pub fn wanted_previews(area: Rect, state: &State, prefetch: usize) -> Vec<(PhotoId, Size)> {
    if too_small(area) || !state.loaded {
        return Vec::new();
    }
    let a = areas(area, state);
    let size = a.photo.as_size();
    let slots = photo_slots(area, state);
    let mut wanted: Vec<(PhotoId, Size)> = slots.iter().map(|(p, r)| (*p, r.as_size())).collect();
    if let Some(strip) = a.strip {
        let n = usize::from(strip.width / STRIP_CELL_WIDTH);
        for (_, e) in strip_entries(state, n) {
            wanted.push((e, strip_cell()));
        }
    }
    // The next photos at the size each will show at: alone, with the burst strip when it is
    // one of a burst, and in best mode with compare on, also in a pane while its burst has
    // two shots or more to decide (the last one shows alone).
    let alone = layout(area, state, false).photo.as_size();
    let with_strip = layout(area, state, true).photo;
    let q = state.queue(state.mode);
    for e in q.entries.iter().skip(q.pos + 1).take(prefetch) {
        let shots = |from: usize| q.entries[from..].iter().filter(|o| o.group == e.group).count();
        let bursting = state.mode == Mode::Best && shots(0) > 1;
        if bursting && state.compare.is_some() && shots(q.pos) >= 2 {
            wanted.push((e.photo, pane_image_size(with_strip)));
        }
        wanted.push((e.photo, if bursting { with_strip.as_size() } else { alone }));
    }
    // The other mode's photo, so Tab is instant too.
    if let Some(p) = state.queue(state.mode.other()).current() {
        wanted.push((p.photo, size));
    }
    wanted.dedup();
    wanted
}

/// The burst members the strip shows: a window of `n` around the current photo.
fn strip_entries(state: &State, n: usize) -> Vec<(usize, PhotoId)> {
    let q = state.queue(Mode::Best);
    let shots = burst_in_capture_order(state);
    let at = shots.iter().position(|(i, _)| *i == q.pos).unwrap_or(0);
    let start = at.saturating_sub(n / 2).min(shots.len().saturating_sub(n));
    shots.into_iter().skip(start).take(n).collect()
}

/// The current photo's burst in capture order (the order the camera took them, which is how
/// a photographer tells the shots apart), as (queue index, photo): the number of a shot is its
/// place here, the same however the queue asks them.
fn burst_in_capture_order(state: &State) -> Vec<(usize, PhotoId)> {
    let time = |p: PhotoId| state.photos.get(&p).and_then(|i| i.taken_at).unwrap_or(i64::MAX);
    let mut shots: Vec<(usize, PhotoId)> =
        state.queue(Mode::Best).burst().iter().map(|(i, e)| (*i, e.photo)).collect();
    shots.sort_by_key(|(_, p)| (time(*p), *p));
    shots
}

pub fn draw(frame: &mut Frame<'_>, state: &State, previews: &PreviewCache) {
    let area = frame.area();
    if too_small(area) {
        let quit = state.keymap.short(Action::Quit);
        let (w, h) = (area.width, area.height);
        // Short enough to fit a 20x6 window whole.
        let msg = if w >= 36 && h >= 6 {
            format!(
                "Terminal too small ({w}x{h}): photosift needs at least \
                 {MIN_WIDTH}x{MIN_HEIGHT}.\nEnlarge the window (or press {quit} to quit)."
            )
        } else {
            format!("Terminal too small ({w}x{h}): need {MIN_WIDTH}x{MIN_HEIGHT}. {quit} quits.")
        };
        frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let a = areas(area, state);
    draw_photo(frame, a.photo, state, previews);
    if let Some(strip) = a.strip {
        draw_strip(frame, strip, state, previews);
    }
    if let Some(side) = a.side {
        draw_side(frame, side, state, previews.graphics());
    }
    draw_status(frame, a.status, state, a.side.is_some());
    if state.help {
        draw_help(frame, area, state);
    }
}

fn draw_photo(frame: &mut Frame<'_>, area: Rect, state: &State, previews: &PreviewCache) {
    let Some(photo) = state.current() else {
        let text = empty_queue_text(state);
        let p = Paragraph::new(text).wrap(Wrap { trim: true }).block(Block::bordered());
        frame.render_widget(p, centered(area, 64, 9));
        return;
    };
    match compare_panes(area, state) {
        Some(panes) => {
            for pane in panes {
                draw_pane(frame, &pane, state, previews);
            }
        }
        None => draw_image(frame, area, photo, state, previews),
    }
}

/// One of compare view's shots: framed (the side the keys act on in bold, thick lines), with
/// its number in the burst, p and print check under it.
fn draw_pane(frame: &mut Frame<'_>, pane: &Pane, state: &State, previews: &PreviewCache) {
    let active = state.compare_side() == Some(pane.side);
    let block = if active {
        Block::bordered()
            .border_type(BorderType::Thick)
            .border_style(Style::new().bold())
            .title(Line::from(" keys act here ".bold().reversed()))
    } else {
        Block::bordered().border_style(Style::new().dark_gray())
    };
    frame.render_widget(block, pane.frame);
    draw_image(frame, pane.image, pane.photo, state, previews);
    let info = state.photos.get(&pane.photo);
    let mut caption = Vec::new();
    if let Some((shot, of)) = burst_shot_of(state, pane.photo) {
        caption.push(Span::styled(format!("shot {shot}/{of}"), Style::new().bold()));
    }
    if let Some(p) = info.and_then(|i| i.p) {
        caption.push(Span::raw(format!("  p {p:.2}")));
    }
    if let (Some(spec), Some(info)) = (&state.print, info) {
        caption.push(match spec.check(info.width, info.height) {
            PrintCheck::TooSmall { dpi, .. } => {
                Span::styled(format!("  too small: {dpi} dpi"), Style::new().red().bold())
            }
            check => Span::raw(format!("  {}: {check}", spec.size)),
        });
    }
    frame.render_widget(Paragraph::new(Line::from(caption)).centered(), pane.caption);
}

/// A photo's preview centred in `area`, or what stands in for it.
fn draw_image(
    frame: &mut Frame<'_>,
    area: Rect,
    photo: PhotoId,
    state: &State,
    previews: &PreviewCache,
) {
    match previews.get_view(photo, area.as_size(), state.loupe_on(photo)) {
        // The help overlay is drawn over the photo: a kitty placement would cover it.
        Some(Preview::Ready(protocol)) if state.help && protocol.hides_text() => {}
        Some(Preview::Ready(protocol)) => {
            let size = protocol.size();
            // Centre the image in its area.
            let x = area.x + area.width.saturating_sub(size.width) / 2;
            let y = area.y + area.height.saturating_sub(size.height) / 2;
            let rect = Rect::new(x, y, size.width.min(area.width), size.height.min(area.height));
            frame.render_widget(PreviewImage(protocol, previews.tmux_origin()), rect);
        }
        Some(Preview::Missing(reason)) => {
            let missing = state.photos.get(&photo).is_some_and(|i| i.missing);
            let text = if missing {
                format!("[photo missing]\n\n{reason}\n\nThe catalog marks it missing.")
            } else {
                format!("[photo cannot be shown]\n\n{reason}")
            };
            let p = Paragraph::new(text).wrap(Wrap { trim: true }).red();
            frame.render_widget(p.block(Block::bordered()), centered(area, 60, 8));
        }
        None => {
            let p = Paragraph::new("loading…").dark_gray();
            frame.render_widget(p, centered(area, 10, 1));
        }
    }
}

fn empty_queue_text(state: &State) -> String {
    if !state.loaded {
        return "Loading the queues…".into();
    }
    let retrain = state.keymap.short(Action::Retrain);
    let switch = state.keymap.short(Action::SwitchMode);
    if state.total_photos == 0 {
        if let Some(job) = state.jobs.iter().find(|j| j.job == super::state::JobKind::Scan) {
            return format!(
                "Scanning your photos ({}). The first ones show here as soon as they are \
                 read; answer them while the rest are scanned.",
                job.note
            );
        }
        return format!(
            "No photos in this library yet.\n\nPoint photosift at a folder; it scans in the \
             background and you can start labeling at once:\n  {} label ~/Pictures",
            state.command
        );
    }
    match state.mode {
        Mode::Ambiguous => format!(
            "Every photo has a label. Press {retrain} to retrain, {switch} to pick the best \
             for printing, or `photosift export` when done."
        ),
        Mode::Best if state.model.is_none() => format!(
            "No model yet, so no best-first order. Label some photos yes and no in ambiguous \
             mode ({switch}), then press {retrain} to train."
        ),
        Mode::Best => format!(
            "Nothing left to decide above the threshold. Label more in ambiguous mode ({switch}) \
             and press {retrain}, or export the picks: photosift export DIR"
        ),
    }
}

fn draw_strip(frame: &mut Frame<'_>, area: Rect, state: &State, previews: &PreviewCache) {
    let q = state.queue(Mode::Best);
    let n = usize::from(area.width / STRIP_CELL_WIDTH);
    let numbers: HashMap<PhotoId, usize> =
        burst_in_capture_order(state).iter().enumerate().map(|(k, (_, p))| (*p, k + 1)).collect();
    let total = numbers.len();
    for (slot, (index, photo)) in strip_entries(state, n).into_iter().enumerate() {
        let x = area.x + slot as u16 * STRIP_CELL_WIDTH;
        let cell = Rect::new(x, area.y, STRIP_CELL_WIDTH - 1, area.height);
        let [img, caption] =
            Layout::vertical([Constraint::Length(STRIP_HEIGHT - 1), Constraint::Length(1)])
                .areas(cell);
        if let Some(Preview::Ready(p)) = previews.get(photo, strip_cell())
            && !(state.help && p.hides_text())
        {
            frame.render_widget(PreviewImage(p, previews.tmux_origin()), img);
        }
        let number = numbers.get(&photo).copied().unwrap_or(0);
        // In compare view both shots shown are marked, the one the keys act on with ▲.
        let compared = state.compare_pair().is_some_and(|(_, right)| right == photo);
        let (mark, style) = match index.cmp(&q.pos) {
            std::cmp::Ordering::Less => {
                (format!("{number}/{total} done"), Style::new().dark_gray())
            }
            _ if Some(photo) == acted_on(state) => {
                (format!("▲ {number}/{total} ▲"), Style::new().bold().reversed())
            }
            std::cmp::Ordering::Equal => (format!("{number}/{total}"), Style::new().reversed()),
            _ if compared => (format!("{number}/{total}"), Style::new().reversed()),
            std::cmp::Ordering::Greater => (format!("{number}/{total}"), Style::new()),
        };
        frame.render_widget(Paragraph::new(mark).style(style).centered(), caption);
    }
}

fn draw_side(frame: &mut Frame<'_>, area: Rect, state: &State, graphics: &str) {
    let km = &state.keymap;
    let ask = match state.mode {
        Mode::Ambiguous => "Is this the sort of image I want?",
        Mode::Best => "Is this an image I want to print?",
    };
    let mut lines = Vec::new();
    if !state.question.is_empty() {
        lines.push(Line::from(format!("Wanted: {}", state.question).bold().underlined()));
    }
    lines.push(Line::from(ask.bold()));
    lines.push(Line::default());
    let keys: &[(Action, &str)] = match state.mode {
        Mode::Ambiguous => &[
            (Action::Yes, "yes"),
            (Action::No, "no"),
            (Action::Skip, "skip"),
            (Action::Back, "back"),
        ],
        Mode::Best => &[
            (Action::Yes, "pick"),
            (Action::No, "pass"),
            (Action::Skip, "skip"),
            (Action::Back, "back"),
            (Action::NotKind, "not the kind"),
            (Action::PassBurst, "pass burst"),
        ],
    };
    for (action, what) in keys {
        lines.push(Line::from(vec![
            Span::styled(format!("{:>5} ", km.short(*action)), Style::new().bold()),
            Span::raw(*what),
        ]));
    }
    lines.push(Line::from(format!(
        "{:>5} mode  {} retrain  {} help",
        km.short(Action::SwitchMode),
        km.short(Action::Retrain),
        km.short(Action::Help)
    )));
    lines.push(Line::default());
    if state.loaded && !state.can_learn() {
        lines.push(Line::from(super::state::nothing_to_learn_yet(km).italic()));
        lines.push(Line::default());
    }
    if let Some((photo, info)) = acted_on(state).and_then(|p| Some((p, state.photos.get(&p)?))) {
        photo_lines(info, area.width.saturating_sub(1), &mut lines);
        if let Some((shot, of)) = burst_shot_of(state, photo) {
            lines.push(Line::from(format!("burst: shot {shot} of {of}")));
            if state.compare_pair().is_some() {
                lines.push(Line::from(
                    "compare: ←/→ choose the side; → again brings the next shot".to_owned(),
                ));
                lines.push(Line::from(format!("{} shows one shot", km.short(Action::Compare))));
            } else if state.in_burst() {
                lines.push(Line::from(format!(
                    "←/→ steps through the burst; {} compares two",
                    km.short(Action::Compare)
                )));
            }
        }
        if let (Mode::Best, Some(spec)) = (state.mode, &state.print) {
            lines.push(match spec.check(info.width, info.height) {
                PrintCheck::TooSmall { dpi, .. } => Line::from(
                    format!("too small for {} (prints at {dpi} dpi)", spec.size).red().bold(),
                ),
                check => Line::from(format!("{spec}: {check}")),
            });
        }
    }
    if let Some(l) =
        state.loupe.filter(|_| state.current().and_then(|c| state.loupe_on(c)).is_some())
    {
        loupe_lines(&l, km, &mut lines);
    }
    lines.push(Line::from(format!("images: {graphics}").dark_gray()));
    let rest = state.burst_rest();
    if rest > 0 {
        lines.push(Line::default());
        lines.push(Line::from(
            format!("{} passes the {rest} left of this burst", km.short(Action::PassBurst)).bold(),
        ));
    }
    // Errors and notices in full: the status bar may have to cut them.
    if let Some(err) = &state.last_error {
        lines.push(Line::default());
        lines.push(Line::from(format!("error: {err}").red()));
    }
    if let Some(n) = &state.notice {
        lines.push(Line::default());
        lines.push(Line::from(n.clone().bold()));
    }
    // The question is the panel's title, in both modes.
    let title = if state.question.is_empty() {
        " photosift ".to_owned()
    } else {
        format!(" {} ", state.question)
    };
    let block = Block::new().borders(Borders::LEFT).title(Line::from(title.bold()));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

/// The loupe in the side panel: where it looks (a map of the photo with the view marked),
/// how to pan, and when the whole photo is smaller than the view.
fn loupe_lines(l: &super::state::Loupe, km: &super::keymap::Keymap, lines: &mut Vec<Line<'_>>) {
    let (rx, ry) = l.room;
    lines.push(Line::from(
        format!("loupe 100%: x {}% y {}%", l.centre.0 / 10, l.centre.1 / 10).bold(),
    ));
    if rx >= 500 && ry >= 500 {
        lines
            .push(Line::from("the photo is smaller than this view: all of it, at 100%".to_owned()));
    } else {
        // A 12×4 map of the photo; the view's part is filled.
        const W: u16 = 12;
        const H: u16 = 4;
        let span = |c: u16, room: u16, cells: u16| -> (u16, u16) {
            let lo = c.saturating_sub(room.min(500));
            let hi = (c + room.min(500)).min(1000);
            let a = (u32::from(lo) * u32::from(cells) / 1000) as u16;
            let b = (u32::from(hi) * u32::from(cells)).div_ceil(1000) as u16;
            (a.min(cells - 1), b.clamp(a + 1, cells))
        };
        let (x0, x1) = span(l.centre.0, rx, W);
        let (y0, y1) = span(l.centre.1, ry, H);
        for y in 0..H {
            let row: String = (0..W)
                .map(|x| if (x0..x1).contains(&x) && (y0..y1).contains(&y) { '█' } else { '·' })
                .collect();
            lines.push(Line::from(row));
        }
        lines.push(Line::from("←↑↓→ or h/j/k/l pan".to_owned()));
    }
    lines.push(Line::from(format!("{} fits the whole photo again", km.short(Action::Zoom))));
}

/// The photo the decision keys act on: the one on screen, or compare view's chosen side.
fn acted_on(state: &State) -> Option<PhotoId> {
    match (state.compare_pair(), state.compare_side()) {
        (Some((_, right)), Some(Side::Right)) => Some(right),
        _ => state.current(),
    }
}

/// Best mode: `photo`'s place in the current burst, in capture order.
fn burst_shot_of(state: &State, photo: PhotoId) -> Option<(usize, usize)> {
    if state.mode != Mode::Best {
        return None;
    }
    let shots = burst_in_capture_order(state);
    if shots.len() < 2 {
        return None;
    }
    let at = shots.iter().position(|(_, p)| *p == photo)?;
    Some((at + 1, shots.len()))
}

/// The error and the notice as one text, as the status bar shows them.
fn message_text(state: &State) -> String {
    let err = state.last_error.as_ref().map(|e| format!("error: {e}"));
    [err, state.notice.clone()].into_iter().flatten().collect::<Vec<_>>().join(" │ ")
}

/// A folder path cut into lines of at most `width` characters, at `/` where it can be.
fn wrap_path(path: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut lines = Vec::new();
    let mut line = String::new();
    for part in path.split_inclusive('/') {
        if !line.is_empty() && line.chars().count() + part.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        line.push_str(part);
        // A single name longer than the line is cut where it must be.
        while line.chars().count() > width {
            let cut: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(cut);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn photo_lines(info: &PhotoInfo, width: u16, lines: &mut Vec<Line<'static>>) {
    let dir = info.path.parent().map(Path::display).map(|d| d.to_string()).unwrap_or_default();
    lines.push(Line::from(file_name(&info.path).bold()));
    for part in wrap_path(&dir, usize::from(width)) {
        lines.push(Line::from(part.dark_gray()));
    }
    if let (Some(w), Some(h)) = (info.width, info.height) {
        lines.push(Line::from(format!("{w} × {h} px ({:.1} MP)", f64::from(w * h) / 1e6)));
    }
    if let Some(t) = info.taken_at {
        lines.push(Line::from(show::capture_time_with_offset(t, info.taken_offset)));
        match info.taken_source {
            Some(TakenSource::FileTime) => {
                lines.push(Line::from(TakenSource::FileTime.describe().underlined()))
            }
            Some(source) => lines.push(Line::from(source.describe().dark_gray())),
            None => {}
        }
    }
    if let Some(video) = &info.live_video {
        lines.push(Line::from(format!("Live Photo: {}", file_name(video))));
    }
    if info.screenshot {
        lines.push(Line::from("screenshot".magenta()));
    }
    if info.missing {
        lines.push(Line::from("original missing".red().bold()));
        lines.push(Line::from("(shown from its thumbnail; cannot be exported)".red()));
    }
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, state: &State, side: bool) {
    let q = state.queue(state.mode);
    let mode = match state.mode {
        Mode::Ambiguous => " AMBIGUOUS ",
        Mode::Best => " BEST ",
    };
    let sep = Span::styled(" │ ", Style::new().dark_gray());
    let mut first = vec![
        Span::styled(mode, Style::new().black().on_cyan().bold()),
        // Answered out of all, from the catalog: true across sessions and rebuilt queues.
        Span::raw({
            let p = state.progress();
            format!(" {}/{} answered ", p.answered, p.total)
        }),
        Span::styled(format!("({} left)", q.remaining()), Style::new().dark_gray()),
    ];
    let new = state.progress().new;
    if new > 0 {
        // Risen above the threshold since best mode was entered: not in the total.
        first.push(Span::styled(format!(" +{new} new"), Style::new().bold()));
    }
    // The photo the keys act on (compare view: the chosen side).
    if let Some(info) = acted_on(state).and_then(|p| state.photos.get(&p)) {
        first.push(sep.clone());
        if let Some(t) = info.taken_at {
            first.push(Span::raw(format!("{} ", show::capture_time(t))));
        }
        first.push(Span::raw(file_name(&info.path)));
        if info.missing {
            first.push(Span::styled(" MISSING", Style::new().red().bold()));
        }
        first.push(sep.clone());
        first.push(match info.p {
            Some(p) => Span::styled(format!("p {p:.2}"), p_style(p)),
            None => Span::styled("p –", Style::new().dark_gray()),
        });
    }
    first.push(sep.clone());
    first.push(Span::raw(match state.model {
        Some(m) => match m.auc {
            Some(auc) => format!("model v{} AUC {auc:.2}", m.version),
            None => format!("model v{}", m.version),
        },
        None => "no model".into(),
    }));

    let c = state.counts;
    let mut second = vec![
        Span::raw(format!(
            "yes {} no {} skip {} · picked {} passed {}",
            c.kind_yes, c.kind_no, c.kind_skip, c.picked, c.passed
        )),
        sep.clone(),
    ];
    for j in &state.jobs {
        let eta = j.eta.map(|d| format!(" ~{}s left", d.as_secs() + 1)).unwrap_or_default();
        second.push(Span::styled(
            format!("⟳ {} {:.0}% {}{eta}", j.job.name(), j.fraction * 100.0, j.note),
            Style::new().bold(),
        ));
        second.push(sep.clone());
    }
    let help = format!("{} help", state.keymap.short(Action::Help));
    let used: usize = second.iter().map(|s| s.content.chars().count()).sum();
    let messages = message_text(state);
    let style = if state.last_error.is_some() { Style::new().red() } else { Style::new() };
    let mut text = vec![Line::from(first)];
    if messages.is_empty() {
        second.push(Span::styled(help, Style::new().dark_gray()));
        text.push(Line::from(second));
    } else if side {
        // The side panel shows the whole text; here it is cut visibly, never silently.
        let room = usize::from(area.width).saturating_sub(used + help.len() + 3);
        let shown = if messages.chars().count() > room {
            let cut: String = messages.chars().take(room.saturating_sub(14)).collect();
            format!("{cut}… (see panel)")
        } else {
            messages
        };
        second.push(Span::styled(shown, style));
        second.push(sep.clone());
        second.push(Span::styled(help, Style::new().dark_gray()));
        text.push(Line::from(second));
    } else {
        // No panel: the status area grew to wrap the messages onto lines of their own.
        second.push(Span::styled(help, Style::new().dark_gray()));
        text.push(Line::from(second));
        let [bar, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
        let wrapped = Paragraph::new(Span::styled(messages, style)).wrap(Wrap { trim: false });
        frame.render_widget(Paragraph::new(text).style(Style::new().bg(Color::Reset)), bar);
        frame.render_widget(wrapped, rest);
        return;
    }
    frame.render_widget(Paragraph::new(text).style(Style::new().bg(Color::Reset)), area);
}

fn p_style(p: f32) -> Style {
    if p >= 0.5 { Style::new().green() } else { Style::new().magenta() }
}

fn draw_help(frame: &mut Frame<'_>, area: Rect, state: &State) {
    let km = &state.keymap;
    // The table: a frame, a header, the actions and two more rows.
    let height = Action::ALL.len() as u16 + 5;
    if area.width < 80 || area.height < height {
        draw_help_compact(frame, area, state);
        return;
    }
    let always = Row::new(["Ctrl-C", "", "always quits", "always quits"]);
    let rows = Action::ALL
        .iter()
        .map(|a| {
            let (amb, best) = a.description();
            Row::new(vec![km.label(*a), a.name().to_owned(), amb.to_owned(), best.to_owned()])
        })
        .chain([
            always,
            Row::new([
                "p 0.00–1.00",
                "",
                "chance wanted; ~0.5 asked first",
                "chance wanted; highest first",
            ]),
        ]);
    let widths = [
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Percentage(45),
        Constraint::Percentage(45),
    ];
    let header = Row::new(["keys", "action", "ambiguous mode", "best mode"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths).header(header).block(
        Block::bordered()
            .title(format!(
                " keys: preset {} (config.toml [keys]) — any key closes ",
                km.preset().name()
            ))
            .style(Style::new().bg(Color::Black).fg(Color::White)),
    );
    let popup = centered(area, area.width.saturating_sub(4).min(120), height);
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}

/// The help on a small terminal: this mode's keys only (help itself and the best-mode-only
/// keys in ambiguous mode left out), descriptions wrapped, no frame where it would not fit.
fn draw_help_compact(frame: &mut Frame<'_>, area: Rect, state: &State) {
    let km = &state.keymap;
    let entries: Vec<(String, &str)> = Action::ALL
        .iter()
        .filter(|a| **a != Action::Help)
        .filter(|a| {
            state.mode == Mode::Best
                || !matches!(a, Action::NotKind | Action::PassBurst | Action::Compare)
        })
        .map(|a| {
            let (amb, best) = a.description();
            (km.short(*a), if state.mode == Mode::Best { best } else { amb })
        })
        .collect();
    let key_width = entries.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(1) as u16;
    let lines_needed = |width: u16| -> usize {
        entries.iter().map(|(_, d)| wrap_words(d, usize::from(width)).len()).sum()
    };
    let framed =
        lines_needed(area.width.saturating_sub(key_width + 3)) + 2 <= usize::from(area.height);
    let inner = if framed { area.width.saturating_sub(2) } else { area.width };
    let desc_width = inner.saturating_sub(key_width + 1).max(8);
    let rows = entries.iter().map(|(k, d)| {
        let lines = wrap_words(d, usize::from(desc_width));
        let height = lines.len() as u16;
        Row::new(vec![Text::from(k.clone()), Text::from(lines.join("\n"))]).height(height)
    });
    let widths = [Constraint::Length(key_width), Constraint::Min(1)];
    let mut table = Table::new(rows, widths).style(Style::new().bg(Color::Black).fg(Color::White));
    if framed {
        table = table.block(Block::bordered().title(" keys — any key closes "));
    }
    frame.render_widget(Clear, area);
    frame.render_widget(table, area);
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_panel_says_where_the_capture_time_came_from() {
        let text = |info: &PhotoInfo| {
            let mut lines = Vec::new();
            photo_lines(info, 60, &mut lines);
            lines.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("\n")
        };
        let mut info = PhotoInfo {
            path: "/p/IMG_0001.HEIC".into(),
            taken_at: Some(0),
            taken_source: Some(TakenSource::FileTime),
            taken_offset: Some(0),
            live_video: Some("/p/IMG_0001.MOV".into()),
            ..Default::default()
        };
        let t = text(&info);
        assert!(t.contains("1970-01-01 00:00:00 UTC\nguess: file time"), "{t}");
        assert!(t.contains("Live Photo: IMG_0001.MOV"), "{t}");
        info.taken_source = Some(TakenSource::FileName);
        info.taken_offset = None;
        info.screenshot = true;
        let t = text(&info);
        assert!(t.contains("1970-01-01 00:00:00\nfrom file name"), "{t}");
        assert!(t.contains("screenshot"), "{t}");
    }
}
