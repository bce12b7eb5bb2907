//! ratatui's crossterm backend for the session, except that it never asks the terminal
//! where the cursor is: the input thread owns stdin, so such a query times out (ratatui's
//! `Terminal::clear`, which the graphics protocols need, asks), and the session hides the
//! cursor anyway. It remembers where it last put the cursor instead.

#![allow(
    clippy::disallowed_methods,
    reason = "the session draws the terminal; outside text reaches it only in ratatui cells"
)]

use std::io::{self, Stdout};

use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};

pub struct TuiBackend {
    inner: CrosstermBackend<Stdout>,
    cursor: Position,
}

impl TuiBackend {
    pub fn new() -> Self {
        Self { inner: CrosstermBackend::new(io::stdout()), cursor: Position::ORIGIN }
    }
}

impl Default for TuiBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for TuiBackend {
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
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.cursor = position.into();
        self.inner.set_cursor_position(self.cursor)
    }

    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }

    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
