//! The print check: does a photo have enough pixels for a print size at a given dpi?
//!
//! Pure functions, shared by `photosift export` (picks.csv, summary, contact sheet) and the
//! TUI's best mode. Orientation does not matter: a 3000x2400 landscape and a 2400x3000
//! portrait both make an 8x10in print at 300 dpi; the long side is compared with the long side.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

const MM_PER_INCH: f64 = 25.4;

/// ISO 216 A sizes in millimetres (short, long), and US Letter.
const NAMED_SIZES_MM: &[(&str, f64, f64)] = &[
    ("a0", 841.0, 1189.0),
    ("a1", 594.0, 841.0),
    ("a2", 420.0, 594.0),
    ("a3", 297.0, 420.0),
    ("a4", 210.0, 297.0),
    ("a5", 148.0, 210.0),
    ("a6", 105.0, 148.0),
    ("letter", 215.9, 279.4),
];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrintSizeError {
    #[error(
        "print size {0:?} is not understood: write WIDTHxHEIGHT with a unit (\"8x10in\", \
         \"20x30cm\", \"130x180mm\") or a paper name (A0-A6, Letter)"
    )]
    Unparsable(String),
    #[error(
        "print size {0:?} has no unit: write \"{0}in\" or \"{0}cm\" (\"10x15\" is inches to \
         some and centimetres to others)"
    )]
    NoUnit(String),
    #[error("print size {0:?} must have two sides larger than zero")]
    Empty(String),
    #[error("print dpi must be larger than zero")]
    ZeroDpi,
    #[error(
        "print size {size} at {dpi} dpi needs {pixels} px on its long side, more than any \
         camera makes (at most {MAX_PRINT_PIXELS}): check print_size and dpi"
    )]
    TooLarge { size: String, dpi: u32, pixels: u64 },
}

/// The most pixels a print check may ask for on a side (a 100-megapixel back has ~12,000).
pub const MAX_PRINT_PIXELS: u32 = 1_000_000;

/// A print's physical size, kept as the user wrote it for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintSize {
    /// The sides in inches, short side first.
    short_in: f64,
    long_in: f64,
    text: String,
}

impl PrintSize {
    /// The short and long side in inches.
    pub fn inches(&self) -> (f64, f64) {
        (self.short_in, self.long_in)
    }
}

impl fmt::Display for PrintSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for PrintSize {
    type Err = PrintSizeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_owned();
        let norm: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == '×' || c == '*' { 'x' } else { c.to_ascii_lowercase() })
            .collect();
        if let Some(&(_, short_mm, long_mm)) = NAMED_SIZES_MM.iter().find(|(n, ..)| *n == norm) {
            return Ok(Self {
                short_in: short_mm / MM_PER_INCH,
                long_in: long_mm / MM_PER_INCH,
                text,
            });
        }
        let unparsable = || PrintSizeError::Unparsable(text.clone());
        let (number_part, per_inch) = split_unit(&norm).ok_or_else(|| {
            if norm.chars().all(|c| c.is_ascii_digit() || c == '.' || c == 'x')
                && norm.contains('x')
            {
                PrintSizeError::NoUnit(text.clone())
            } else {
                unparsable()
            }
        })?;
        let (a, b) = number_part.split_once('x').ok_or_else(unparsable)?;
        // A unit may follow each number ("8inx10in"); strip a repeat of the same unit.
        let a = split_unit(a).map_or(a, |(n, _)| n);
        let a: f64 = a.parse().map_err(|_| unparsable())?;
        let b: f64 = b.parse().map_err(|_| unparsable())?;
        if !(a.is_finite() && b.is_finite()) || a <= 0.0 || b <= 0.0 {
            return Err(PrintSizeError::Empty(text));
        }
        let (a, b) = (a / per_inch, b / per_inch);
        Ok(Self { short_in: a.min(b), long_in: a.max(b), text })
    }
}

/// Splits a trailing unit off, returning the rest and the unit's count per inch.
fn split_unit(s: &str) -> Option<(&str, f64)> {
    const UNITS: &[(&str, f64)] = &[
        ("inches", 1.0),
        ("inch", 1.0),
        ("in", 1.0),
        ("\"", 1.0),
        ("mm", MM_PER_INCH),
        ("cm", MM_PER_INCH / 10.0),
    ];
    UNITS.iter().find_map(|&(unit, per_inch)| s.strip_suffix(unit).map(|rest| (rest, per_inch)))
}

/// A print size and the dpi it must be printed at: what `[export]` in config.toml says.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintSpec {
    pub size: PrintSize,
    pub dpi: u32,
}

impl PrintSpec {
    pub fn new(size: PrintSize, dpi: u32) -> Result<Self, PrintSizeError> {
        if dpi == 0 {
            return Err(PrintSizeError::ZeroDpi);
        }
        let pixels = size.long_in * f64::from(dpi);
        // NaN (from an absurd size) is too large as well.
        if pixels.is_nan() || pixels > f64::from(MAX_PRINT_PIXELS) {
            return Err(PrintSizeError::TooLarge {
                size: size.text,
                dpi,
                pixels: pixels.round() as u64,
            });
        }
        Ok(Self { size, dpi })
    }

    /// From config values; an empty `print_size` turns the check off (`None`).
    pub fn from_config(print_size: &str, dpi: u32) -> Result<Option<Self>, PrintSizeError> {
        if print_size.trim().is_empty() {
            return Ok(None);
        }
        Self::new(print_size.parse()?, dpi).map(Some)
    }

    /// Pixels needed on the (short, long) side. A side needs its exact product, rounded to
    /// the nearest pixel so that 20 cm at 300 dpi (2362.2 px) asks for 2362.
    pub fn required_pixels(&self) -> (u32, u32) {
        let px = |inches: f64| (inches * f64::from(self.dpi)).round() as u32;
        (px(self.size.short_in), px(self.size.long_in))
    }

    /// Checks a photo's displayed size; `None` when its size is not known (not decoded).
    pub fn check(&self, width: Option<u32>, height: Option<u32>) -> PrintCheck {
        let (Some(w), Some(h)) = (width, height) else { return PrintCheck::UnknownSize };
        let (short, long) = (w.min(h), w.max(h));
        let (need_short, need_long) = self.required_pixels();
        if short >= need_short && long >= need_long {
            return PrintCheck::Enough;
        }
        // The dpi this photo reaches at this size: the weaker of its two sides.
        let dpi = (f64::from(short) / self.size.short_in).min(f64::from(long) / self.size.long_in);
        // Said in the photo's own orientation: a landscape photo needs a landscape print.
        let needed = if w >= h { (need_long, need_short) } else { (need_short, need_long) };
        PrintCheck::TooSmall { pixels: (w, h), needed, dpi: dpi as u32 }
    }
}

impl fmt::Display for PrintSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} dpi", self.size, self.dpi)
    }
}

/// The answer of [`PrintSpec::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintCheck {
    Enough,
    /// Too few pixels: the photo's (width, height), the (width, height) it needs in its own
    /// orientation, and the dpi the photo would be printed at.
    TooSmall {
        pixels: (u32, u32),
        needed: (u32, u32),
        dpi: u32,
    },
    UnknownSize,
}

impl PrintCheck {
    pub fn is_too_small(&self) -> bool {
        matches!(self, PrintCheck::TooSmall { .. })
    }

    /// A short badge for narrow places (a TUI status line, a contact sheet).
    pub fn badge(&self) -> &'static str {
        match self {
            PrintCheck::Enough => "print ok",
            PrintCheck::TooSmall { .. } => "too small",
            PrintCheck::UnknownSize => "size unknown",
        }
    }
}

impl fmt::Display for PrintCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrintCheck::Enough => f.write_str("ok"),
            PrintCheck::TooSmall { pixels: (w, h), needed: (nw, nh), dpi } => {
                write!(f, "too small: {w}x{h} px, needs {nw}x{nh} px; would print at {dpi} dpi")
            }
            PrintCheck::UnknownSize => f.write_str("size unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: &str, dpi: u32) -> PrintSpec {
        PrintSpec::new(size.parse().unwrap(), dpi).unwrap()
    }

    #[test]
    fn inches_centimetres_millimetres_and_paper_names_parse() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let s: PrintSize = "8x10in".parse().unwrap();
        assert_eq!(s.inches(), (8.0, 10.0));
        let s: PrintSize = "10 x 8 inch".parse().unwrap();
        assert_eq!(s.inches(), (8.0, 10.0));
        let s: PrintSize = "8.5×11\"".parse().unwrap();
        assert_eq!(s.inches(), (8.5, 11.0));
        let (a, b) = "20x30cm".parse::<PrintSize>().unwrap().inches();
        assert!(close(a, 20.0 / 2.54) && close(b, 30.0 / 2.54));
        let (a, b) = "130X180MM".parse::<PrintSize>().unwrap().inches();
        assert!(close(a, 130.0 / 25.4) && close(b, 180.0 / 25.4));
        let (a, b) = "A4".parse::<PrintSize>().unwrap().inches();
        assert!(close(a, 210.0 / 25.4) && close(b, 297.0 / 25.4));
        assert_eq!("8inx10in".parse::<PrintSize>().unwrap().inches(), (8.0, 10.0));
        assert_eq!("A4".parse::<PrintSize>().unwrap().to_string(), "A4");
    }

    #[test]
    fn bad_sizes_say_what_to_write() {
        assert!(matches!("10x15".parse::<PrintSize>(), Err(PrintSizeError::NoUnit(_))));
        assert!(matches!("big".parse::<PrintSize>(), Err(PrintSizeError::Unparsable(_))));
        assert!(matches!("8in".parse::<PrintSize>(), Err(PrintSizeError::Unparsable(_))));
        assert!(matches!("0x10in".parse::<PrintSize>(), Err(PrintSizeError::Empty(_))));
        assert!(matches!("AA4".parse::<PrintSize>(), Err(PrintSizeError::Unparsable(_))));
        assert_eq!(PrintSpec::from_config("8x10in", 0), Err(PrintSizeError::ZeroDpi));
        assert_eq!(PrintSpec::from_config("  ", 300), Ok(None));
    }

    #[test]
    fn required_pixels_round_to_the_nearest_pixel() {
        assert_eq!(spec("8x10in", 300).required_pixels(), (2400, 3000));
        assert_eq!(spec("20x30cm", 300).required_pixels(), (2362, 3543));
        assert_eq!(spec("A4", 300).required_pixels(), (2480, 3508));
    }

    #[test]
    fn check_is_orientation_agnostic() {
        let s = spec("8x10in", 300);
        assert_eq!(s.check(Some(3000), Some(2400)), PrintCheck::Enough);
        assert_eq!(s.check(Some(2400), Some(3000)), PrintCheck::Enough);
        assert_eq!(s.check(Some(4032), Some(3024)), PrintCheck::Enough);
    }

    #[test]
    fn small_photo_is_flagged_with_the_dpi_it_reaches() {
        let s = spec("8x10in", 300);
        let check = s.check(Some(1600), Some(1000));
        assert_eq!(
            check,
            PrintCheck::TooSmall { pixels: (1600, 1000), needed: (3000, 2400), dpi: 125 }
        );
        assert!(check.is_too_small());
        assert_eq!(
            check.to_string(),
            "too small: 1600x1000 px, needs 3000x2400 px; would print at 125 dpi"
        );
        // One pixel short on one side is too small.
        assert!(s.check(Some(2399), Some(3000)).is_too_small());
        assert!(s.check(Some(2400), Some(2999)).is_too_small());
        // A long thin panorama: long side plenty, short side not.
        assert!(s.check(Some(9000), Some(2000)).is_too_small());
    }

    #[test]
    fn unknown_size_is_not_flagged() {
        let check = spec("8x10in", 300).check(None, Some(100));
        assert_eq!(check, PrintCheck::UnknownSize);
        assert!(!check.is_too_small());
    }
}
