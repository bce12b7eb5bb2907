//! Drawing: the layout (a pure function of the terminal size and the state) and the widgets
//! (photo, burst strip, side panel, status bar, help overlay). Reads state and previews only.

use std::path::Path;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect, Size};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table, Wrap};

use crate::catalog::PhotoId;
use crate::print_check::PrintCheck;

use super::encode::PreviewImage;
use super::keymap::Action;
use super::preview::{Preview, PreviewCache};
use super::state::{Mode, PhotoInfo, State};

/// Below this the screen shows a message instead of a squeezed UI.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;
const SIDE_WIDTH: u16 = 30;
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
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(area);
    let (main, side) = if main.width >= 80 {
        let [m, s] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(SIDE_WIDTH)]).areas(main);
        (m, Some(s))
    } else {
        (main, None)
    };
    let burst = state.mode == Mode::Best && state.queue(Mode::Best).burst().len() > 1;
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

/// The previews the current screen shows or will show next: the photo, the next `prefetch`
/// photos at the same size, and the burst strip. Most urgent first.
pub fn wanted_previews(area: Rect, state: &State, prefetch: usize) -> Vec<(PhotoId, Size)> {
    if too_small(area) || !state.loaded {
        return Vec::new();
    }
    let a = areas(area, state);
    let size = a.photo.as_size();
    let mut wanted = Vec::new();
    if let Some(p) = state.current() {
        wanted.push((p, size));
    }
    if let Some(strip) = a.strip {
        let n = usize::from(strip.width / STRIP_CELL_WIDTH);
        for (_, e) in strip_entries(state, n) {
            wanted.push((e, strip_cell()));
        }
    }
    for p in state.upcoming(prefetch) {
        wanted.push((p, size));
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
    let burst = q.burst();
    let at = burst.iter().position(|(i, _)| *i == q.pos).unwrap_or(0);
    let start = at.saturating_sub(n / 2).min(burst.len().saturating_sub(n));
    burst.iter().skip(start).take(n).map(|(i, e)| (*i, e.photo)).collect()
}

pub fn draw(frame: &mut Frame<'_>, state: &State, previews: &PreviewCache) {
    let area = frame.area();
    if too_small(area) {
        let msg = format!(
            "Terminal too small ({}x{}): photosift needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n\
             Enlarge the window (or press {} to quit).",
            area.width,
            area.height,
            state.keymap.short(Action::Quit)
        );
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
    draw_status(frame, a.status, state);
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
    match previews.get_view(photo, area.as_size(), state.zoomed == Some(photo)) {
        Some(Preview::Ready(protocol)) => {
            let size = protocol.size();
            // Centre the image in its area.
            let x = area.x + area.width.saturating_sub(size.width) / 2;
            let y = area.y + area.height.saturating_sub(size.height) / 2;
            let rect = Rect::new(x, y, size.width.min(area.width), size.height.min(area.height));
            frame.render_widget(PreviewImage(protocol), rect);
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
        return "No photos in this library yet.\n\nScan a folder first:\n  photosift scan ~/Pictures\n\
                then run photosift again."
            .into();
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
    for (slot, (index, photo)) in strip_entries(state, n).into_iter().enumerate() {
        let x = area.x + slot as u16 * STRIP_CELL_WIDTH;
        let cell = Rect::new(x, area.y, STRIP_CELL_WIDTH - 1, area.height);
        let [img, caption] =
            Layout::vertical([Constraint::Length(STRIP_HEIGHT - 1), Constraint::Length(1)])
                .areas(cell);
        if let Some(Preview::Ready(p)) = previews.get(photo, strip_cell()) {
            frame.render_widget(PreviewImage(p), img);
        }
        let (mark, style) = match index.cmp(&q.pos) {
            std::cmp::Ordering::Less => ("decided", Style::new().dark_gray()),
            std::cmp::Ordering::Equal => ("▲ now", Style::new().yellow().bold()),
            std::cmp::Ordering::Greater => ("next", Style::new()),
        };
        frame.render_widget(Paragraph::new(mark).style(style).centered(), caption);
    }
}

fn draw_side(frame: &mut Frame<'_>, area: Rect, state: &State, graphics: &str) {
    let km = &state.keymap;
    let question = match state.mode {
        Mode::Ambiguous => "Is this the sort of image I want?",
        Mode::Best => "Is this an image I want to print?",
    };
    let mut lines = vec![Line::from(question.bold()), Line::default()];
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
            Span::styled(format!("{:>5} ", km.short(*action)), Style::new().cyan().bold()),
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
    if let Some(info) = state.current().and_then(|p| state.photos.get(&p)) {
        photo_lines(info, &mut lines);
        if let (Mode::Best, Some(spec)) = (state.mode, &state.print) {
            lines.push(match spec.check(info.width, info.height) {
                PrintCheck::TooSmall { dpi, .. } => Line::from(
                    format!("too small for {} (prints at {dpi} dpi)", spec.size).red().bold(),
                ),
                check => Line::from(format!("{spec}: {check}")),
            });
        }
    }
    if state.current().is_some_and(|p| state.zoomed == Some(p)) {
        lines.push(Line::from(
            format!("100% (centre); {} for the whole photo", km.short(Action::Zoom)).yellow(),
        ));
    }
    lines.push(Line::from(format!("images: {graphics}").dark_gray()));
    let rest = state.burst_rest();
    if rest > 0 {
        lines.push(Line::default());
        lines.push(Line::from(
            format!("{} passes the {rest} left of this burst", km.short(Action::PassBurst))
                .yellow(),
        ));
    }
    let block = Block::new().borders(Borders::LEFT).title(" photosift ");
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block), area);
}

fn photo_lines(info: &PhotoInfo, lines: &mut Vec<Line<'static>>) {
    let dir = info.path.parent().map(Path::display).map(|d| d.to_string()).unwrap_or_default();
    lines.push(Line::from(file_name(&info.path).bold()));
    lines.push(Line::from(dir.dark_gray()));
    if let (Some(w), Some(h)) = (info.width, info.height) {
        lines.push(Line::from(format!("{w} × {h} px ({:.1} MP)", f64::from(w * h) / 1e6)));
    }
    if let Some(t) = info.taken_at {
        lines.push(Line::from(format_time(t)));
    }
    if info.missing {
        lines.push(Line::from("file missing".red().bold()));
    }
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, state: &State) {
    let q = state.queue(state.mode);
    let mode = match state.mode {
        Mode::Ambiguous => " AMBIGUOUS ",
        Mode::Best => " BEST ",
    };
    let sep = Span::styled(" │ ", Style::new().dark_gray());
    let mut first = vec![
        Span::styled(mode, Style::new().black().on_cyan().bold()),
        // Counted over this session's decisions, so a rebuilt queue does not reset it.
        Span::raw(format!(
            " {}/{} ",
            q.done + usize::from(q.current().is_some()),
            q.done + q.remaining()
        )),
        Span::styled(format!("({} left)", q.remaining()), Style::new().dark_gray()),
    ];
    if let Some(info) = state.current().and_then(|p| state.photos.get(&p)) {
        first.push(sep.clone());
        if let Some(t) = info.taken_at {
            first.push(Span::raw(format!("{} ", format_time(t))));
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
            format!("⟳ {} {:.0}% {}{eta}", j.name, j.fraction * 100.0, j.note),
            Style::new().yellow(),
        ));
        second.push(sep.clone());
    }
    if let Some(err) = &state.last_error {
        second.push(Span::styled(format!("error: {err}"), Style::new().red()));
        second.push(sep.clone());
    }
    if let Some(n) = &state.notice {
        second.push(Span::raw(n.clone()));
        second.push(sep.clone());
    }
    second.push(Span::styled(
        format!("{} help", state.keymap.short(Action::Help)),
        Style::new().dark_gray(),
    ));
    let text = vec![Line::from(first), Line::from(second)];
    frame.render_widget(Paragraph::new(text).style(Style::new().bg(Color::Reset)), area);
}

fn p_style(p: f32) -> Style {
    if p >= 0.5 { Style::new().green() } else { Style::new().magenta() }
}

fn draw_help(frame: &mut Frame<'_>, area: Rect, state: &State) {
    let km = &state.keymap;
    let always = Row::new(["Ctrl-C", "", "always quits", "always quits"]);
    let rows = Action::ALL
        .iter()
        .map(|a| {
            let (amb, best) = a.description();
            Row::new(vec![km.label(*a), a.name().to_owned(), amb.to_owned(), best.to_owned()])
        })
        .chain([always]);
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
            .title(" keys (rebind in config.toml [keys]) — any key closes ")
            .style(Style::new().bg(Color::Black).fg(Color::White)),
    );
    let popup = centered(area, area.width.saturating_sub(4).min(120), 16);
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Seconds (the camera's clock read as UTC) as "YYYY-MM-DD HH:MM:SS" (bursts are seconds
/// apart).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_capture_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(1_686_756_120), "2023-06-14 15:22:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00");
    }
}
