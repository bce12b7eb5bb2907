//! `photosift export DEST`: copies the original of every pick into DEST (byte-identical,
//! checked against the catalog, never overwriting, resumable), checks each against the print
//! size, and writes `picks.csv` and a contact sheet. Originals are only ever read; in DEST
//! only files photosift wrote (its manifest lists them) are ever replaced or removed.

pub mod copy;
mod csv;
pub mod dest;
mod report;
mod sheet;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::catalog::{Catalog, CatalogError, Pick};
use crate::library::Library;
use crate::print_check::{PrintCheck, PrintSpec};
use crate::show;

pub use copy::{CopyError, CopyOutcome, Expected};
pub use dest::{DestDir, MANIFEST_NAME};
pub use report::human_bytes;
pub use sheet::{PER_PAGE as SHEET_PHOTOS_PER_PAGE, SheetCell, SheetError, render_pages};

/// The list of picks written beside the photos.
pub const CSV_NAME: &str = "picks.csv";
/// Contact sheets are `picks-contact-sheet.png`, or `picks-contact-sheet-N.png` when the
/// picks fill several pages (scans skip them).
pub use crate::files::CONTACT_SHEET_STEM as SHEET_STEM;

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{} exists and is not a folder", show::path(.0))]
    DestNotFolder(PathBuf),
    // `error`, not `source`: the message says it already, and a source would print it twice.
    #[error("cannot create the export folder {}: {error}", show::path(path))]
    CreateDest { path: PathBuf, error: io::Error },
    #[error("cannot use the export folder {}: {error}", show::path(path))]
    Dest { path: PathBuf, error: io::Error },
    #[error("export stopped: {0} (the photos copied so far are complete; run again to resume)")]
    Destination(CopyError),
    #[error(
        "cannot write {}: {error}. The photos copied so far are complete: fix that (free some \
         space?) and run the export again to resume",
        show::path(path)
    )]
    Write { path: PathBuf, error: io::Error },
    #[error(transparent)]
    Sheet(#[from] SheetError),
    #[error("cannot draw the contact sheet {}: {error}", show::path(path))]
    SheetImage { path: PathBuf, error: image::ImageError },
    /// DEST would mix the copies into the user's photos or photosift's own folders.
    #[error(
        "the export folder {} is {where_}: the copies would be mixed in with what is there. \
         Export to a folder of its own, or pass --into-photo-folder to export there anyway \
         (scans skip the copies: the export lists them in its manifest)",
        show::path(dest)
    )]
    DestInside { dest: PathBuf, where_: String },
    #[error(
        "the export folder {} is inside photosift's own {} folder: export elsewhere",
        show::path(dest),
        show::path(folder)
    )]
    DestInLibraryData { dest: PathBuf, folder: PathBuf },
}

/// What to export where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub dest: PathBuf,
    /// The print size to check picks against; `None`: no check.
    pub print: Option<PrintSpec>,
    pub contact_sheet: bool,
    /// Export even into a scanned photo folder or the library folder (refused otherwise).
    pub into_photo_folder: bool,
}

/// What happened to one pick.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Copied {
        target: PathBuf,
        bytes: u64,
    },
    /// An earlier run exported these bytes already.
    AlreadyThere {
        target: PathBuf,
    },
    /// The original (and every duplicate of it) is gone: skipped.
    Missing,
    /// The original could not be read, or is no longer what the catalog identified: skipped.
    Failed {
        error: String,
    },
}

/// One pick after the export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedPick {
    pub pick: Pick,
    /// The file copied from: the photo's path, or a duplicate of it when that is gone.
    pub source: Option<PathBuf>,
    pub outcome: Outcome,
    /// `None` when no print size is configured.
    pub print: Option<PrintCheck>,
}

impl ExportedPick {
    /// The file's name in the export folder, when it is there.
    pub fn exported_name(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Copied { target, .. } | Outcome::AlreadyThere { target } => {
                target.file_name().map(|n| n.to_string_lossy().into_owned())
            }
            Outcome::Missing | Outcome::Failed { .. } => None,
        }
    }

    /// [`ExportedPick::exported_name`] escaped for people (see `show::name`): no control or
    /// bidi character, bytes that are not UTF-8 as `\xff`.
    pub fn exported_name_escaped(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Copied { target, .. } | Outcome::AlreadyThere { target } => {
                target.file_name().map(crate::show::name)
            }
            Outcome::Missing | Outcome::Failed { .. } => None,
        }
    }

    pub fn too_small(&self) -> bool {
        self.print.is_some_and(|c| c.is_too_small())
    }
}

/// Progress, for a bar at the command line.
#[derive(Debug)]
pub enum ExportEvent<'a> {
    /// Another export to the same folder holds its lock: this one waits for it.
    Waiting,
    Started {
        total: usize,
    },
    Exported {
        index: usize,
        total: usize,
        pick: &'a ExportedPick,
    },
    ContactSheet {
        pages: usize,
    },
}

/// The result of an export, for the summary.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub dest: PathBuf,
    /// Every pick, best first, with its outcome.
    pub picks: Vec<ExportedPick>,
    pub csv: Option<PathBuf>,
    pub contact_sheets: Vec<PathBuf>,
    pub print: Option<PrintSpec>,
}

impl ExportSummary {
    fn count(&self, f: impl Fn(&ExportedPick) -> bool) -> usize {
        self.picks.iter().filter(|p| f(p)).count()
    }
    pub fn copied(&self) -> usize {
        self.count(|p| matches!(p.outcome, Outcome::Copied { .. }))
    }
    pub fn already_there(&self) -> usize {
        self.count(|p| matches!(p.outcome, Outcome::AlreadyThere { .. }))
    }
    pub fn bytes_copied(&self) -> u64 {
        self.picks
            .iter()
            .map(|p| if let Outcome::Copied { bytes, .. } = p.outcome { bytes } else { 0 })
            .sum()
    }
    /// Picks whose original could not be exported (missing or unreadable).
    pub fn skipped(&self) -> impl Iterator<Item = &ExportedPick> {
        self.picks.iter().filter(|p| matches!(p.outcome, Outcome::Missing | Outcome::Failed { .. }))
    }
    pub fn too_small(&self) -> impl Iterator<Item = &ExportedPick> {
        self.picks.iter().filter(|p| p.too_small())
    }
}

/// Exports every current pick of the catalog (see [`export_list`]), into a folder that is not
/// inside a scanned photo folder or the library, unless `options.into_photo_folder`.
pub fn export_picks(
    catalog: &Catalog,
    library: &Library,
    options: &ExportOptions,
    on_event: &mut dyn FnMut(ExportEvent<'_>),
) -> Result<ExportSummary, ExportError> {
    check_placement(catalog, library, &options.dest, options.into_photo_folder)?;
    export_list(catalog.picks()?, library.root(), options, on_event)
}

/// Refuses a DEST inside photosift's own folders (thumbnails, models, seed images), and,
/// unless `allowed`, one inside (or holding) a folder of scanned photos or inside the
/// library: copies there would be mixed in with the originals, and an export into the picks'
/// own folder looks like one done before.
fn check_placement(
    catalog: &Catalog,
    library: &Library,
    dest: &Path,
    allowed: bool,
) -> Result<(), ExportError> {
    let dest_forms = real_forms(dest);
    let inside = |folder: &Path| {
        real_forms(folder).iter().any(|f| dest_forms.iter().any(|d| d.starts_with(f)))
    };
    let holds = |folder: &Path| {
        real_forms(folder).iter().any(|f| dest_forms.iter().any(|d| f.starts_with(d)))
    };
    for folder in [library.thumbs_dir(), library.models_dir(), library.synthetic_dir()] {
        if inside(&folder) {
            return Err(ExportError::DestInLibraryData { dest: dest.to_path_buf(), folder });
        }
    }
    if allowed {
        return Ok(());
    }
    let refuse = |where_: String| Err(ExportError::DestInside { dest: dest.to_path_buf(), where_ });
    if inside(library.root()) {
        return refuse(format!("inside the library folder {}", show::path(library.root())));
    }
    for folder in catalog.photo_folders()? {
        if inside(&folder) {
            return refuse(format!("inside the scanned photo folder {}", show::path(&folder)));
        }
        if holds(&folder) {
            return refuse(format!("above the scanned photo folder {}", show::path(&folder)));
        }
    }
    Ok(())
}

/// `path` as written (made absolute) and with links resolved (its longest existing part), so
/// that a folder reached through a link is still recognized.
fn real_forms(path: &Path) -> Vec<PathBuf> {
    let Ok(absolute) = std::path::absolute(path) else { return Vec::new() };
    let mut real = None;
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(found) = fs::canonicalize(at) {
            real = Some(rest.iter().rev().fold(found, |p: PathBuf, c| p.join(c)));
            break;
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                at = parent;
            }
            _ => break,
        }
    }
    let mut forms = vec![absolute];
    forms.extend(real.filter(|r| *r != forms[0]));
    forms
}

/// Exports `picks` in their order; thumbnails are found under `library_root`. With no picks
/// nothing is written and the summary is empty.
pub fn export_list(
    picks: Vec<Pick>,
    library_root: &Path,
    options: &ExportOptions,
    on_event: &mut dyn FnMut(ExportEvent<'_>),
) -> Result<ExportSummary, ExportError> {
    let dest = options.dest.clone();
    let mut summary = ExportSummary {
        dest: dest.clone(),
        picks: Vec::with_capacity(picks.len()),
        csv: None,
        contact_sheets: Vec::new(),
        print: options.print.clone(),
    };
    if picks.is_empty() {
        return Ok(summary);
    }
    prepare_dest(&dest)?;
    let mut dir = DestDir::open(&dest, &mut || on_event(ExportEvent::Waiting))
        .map_err(|error| ExportError::Dest { path: dest.clone(), error })?;
    let total = picks.len();
    on_event(ExportEvent::Started { total });
    for (index, pick) in picks.into_iter().enumerate() {
        let exported = export_one(pick, &dir, options.print.as_ref())?;
        if let Outcome::Copied { target, .. } | Outcome::AlreadyThere { target } = &exported.outcome
        {
            // Saved with the list below: a scan skips the copies, never the folder's photos.
            dir.record_copy(&own_name(target), &exported.pick.photo.content_hash);
        }
        on_event(ExportEvent::Exported { index, total, pick: &exported });
        summary.picks.push(exported);
    }
    let csv_path = write_own(&mut dir, CSV_NAME, csv::render(&summary.picks).as_bytes(), &[])?;
    let mut written = vec![own_name(&csv_path)];
    summary.csv = Some(csv_path);
    if options.contact_sheet {
        summary.contact_sheets =
            write_contact_sheets(&mut dir, &summary, library_root, &mut written, on_event)?;
    }
    dir.remove_stale_own(&written)
        .map_err(|error| ExportError::Dest { path: dest.clone(), error })?;
    Ok(summary)
}

fn prepare_dest(dest: &Path) -> Result<(), ExportError> {
    if dest.exists() && !dest.is_dir() {
        return Err(ExportError::DestNotFolder(dest.to_path_buf()));
    }
    fs::create_dir_all(dest)
        .map_err(|error| ExportError::CreateDest { path: dest.to_path_buf(), error })
}

fn own_name(path: &Path) -> OsString {
    path.file_name().unwrap_or_default().to_owned()
}

fn write_own(
    dir: &mut DestDir,
    base: &str,
    bytes: &[u8],
    taken: &[OsString],
) -> Result<PathBuf, ExportError> {
    dir.write_own(base.as_ref(), bytes, taken)
        .map_err(|error| ExportError::Write { path: dir.path().join(base), error })
}

fn export_one(
    pick: Pick,
    dir: &DestDir,
    print: Option<&PrintSpec>,
) -> Result<ExportedPick, ExportError> {
    let print = print.map(|s| s.check(pick.photo.width, pick.photo.height));
    let photo = &pick.photo;
    let own = (photo.path.clone(), photo.byte_size, photo.mtime_ns);
    let dups = pick.duplicates.iter().map(|d| (d.path.clone(), d.byte_size, d.mtime_ns));
    // The photo's own file first, then its duplicates; a file that is there but not what the
    // catalog identified is skipped for the next one.
    let mut first_error: Option<(PathBuf, String)> = None;
    for (path, byte_size, mtime_ns) in std::iter::once(own).chain(dups) {
        // Gone (or a retired photo's path, which holds a NUL and names no file), or no longer
        // a file at all (a folder, a FIFO, a link to /dev/null: the next scan marks it
        // missing, so "scan again" would be advice in a circle).
        let absent = [io::ErrorKind::NotFound, io::ErrorKind::InvalidInput];
        match fs::metadata(&path) {
            Err(e) if absent.contains(&e.kind()) => continue,
            Ok(meta) if !meta.is_file() => continue,
            _ => {}
        }
        let expected = Expected { byte_size, mtime_ns, content_hash: &photo.content_hash };
        let error = match copy::copy_into(&path, expected, dir) {
            Ok(CopyOutcome::Copied { target, bytes }) => {
                let outcome = Outcome::Copied { target, bytes };
                return Ok(ExportedPick { pick, source: Some(path), outcome, print });
            }
            Ok(CopyOutcome::AlreadyThere { target }) => {
                let outcome = Outcome::AlreadyThere { target };
                return Ok(ExportedPick { pick, source: Some(path), outcome, print });
            }
            Err(e @ CopyError::Destination { .. }) => return Err(ExportError::Destination(e)),
            Err(CopyError::Changed { reason, .. }) => {
                format!("{reason}; not exported (run `photosift scan` on its folder)")
            }
            Err(e @ (CopyError::Source { .. } | CopyError::NoFreeName { .. })) => e.to_string(),
        };
        first_error.get_or_insert((path, error));
    }
    Ok(match first_error {
        Some((path, error)) => {
            ExportedPick { pick, source: Some(path), outcome: Outcome::Failed { error }, print }
        }
        None => ExportedPick { pick, source: None, outcome: Outcome::Missing, print },
    })
}

fn write_contact_sheets(
    dir: &mut DestDir,
    summary: &ExportSummary,
    library_root: &Path,
    written: &mut Vec<OsString>,
    on_event: &mut dyn FnMut(ExportEvent<'_>),
) -> Result<Vec<PathBuf>, ExportError> {
    let cells: Vec<SheetCell> = summary
        .picks
        .iter()
        .enumerate()
        .map(|(i, e)| SheetCell {
            thumb: e.pick.photo.thumb_path.as_ref().map(|t| library_root.join(t)),
            title: match e.pick.p {
                Some(p) => format!("#{}  p {p:.2}", i + 1),
                None => format!("#{}  not scored", i + 1),
            },
            name: e.exported_name().unwrap_or_else(|| "(original missing)".to_owned()),
            too_small: e.too_small(),
        })
        .collect();
    let heading = match &summary.print {
        Some(spec) => {
            format!("photosift picks: {}  ·  red frame: too few pixels for {spec}", cells.len())
        }
        None => format!("photosift picks: {}", cells.len()),
    };
    let pages = render_pages(&cells, &heading)?;
    on_event(ExportEvent::ContactSheet { pages: pages.len() });
    let name = |n: usize| {
        if pages.len() == 1 { format!("{SHEET_STEM}.png") } else { format!("{SHEET_STEM}-{n}.png") }
    };
    let mut paths = Vec::with_capacity(pages.len());
    for (i, page) in pages.iter().enumerate() {
        let base = name(i + 1);
        let mut png = Vec::new();
        page.write_to(&mut io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(|error| ExportError::SheetImage { path: summary.dest.join(&base), error })?;
        let path = write_own(dir, &base, &png, written)?;
        written.push(own_name(&path));
        paths.push(path);
    }
    Ok(paths)
}
