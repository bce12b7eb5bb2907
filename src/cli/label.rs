//! The labeling session's terminal side: the folders given to `label`/`scan` checked before
//! anything is created, the question stored for the session's title, and the summary printed
//! on the normal screen once the session ends.

use std::path::{Path, PathBuf};

use anyhow::Result;
use photosift::library::Library;
use photosift::show;
use photosift::tui::Summary;

use super::out::{note, say};

/// Every folder in `dirs` exists and is a folder; otherwise a message naming the first that is
/// not, with the nearest existing folder when one is close (a typo).
pub fn check_folders(dirs: &[PathBuf]) -> Result<(), String> {
    for dir in dirs {
        if dir.is_dir() {
            continue;
        }
        let what = if dir.exists() { "is not a folder" } else { "does not exist" };
        let mut msg = format!("{} {what}", show::path(dir));
        if let Some(near) = nearest_folder(dir) {
            msg.push_str(&format!("; did you mean {}?", show::path(&near)));
        }
        return Err(msg);
    }
    Ok(())
}

/// The existing folder beside `dir` whose name is closest to its name (at most a third of the
/// letters differ), when `dir`'s parent exists.
fn nearest_folder(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let limit = (name.chars().count() / 3).max(1);
    std::fs::read_dir(&parent)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let other = e.file_name().to_string_lossy().into_owned();
            (strsim::levenshtein(&name, &other), other)
        })
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, other)| dir.with_file_name(other))
}

/// Stores what the user is looking for (`--want`, else a non-empty `[session] question`) as
/// the session's title; without either the library keeps the last one given.
pub fn store_question(library: &Library, want: Option<&str>, configured: &str) -> Result<()> {
    let question = want.map(str::trim).filter(|q| !q.is_empty()).or_else(|| {
        let q = configured.trim();
        (!q.is_empty()).then_some(q)
    });
    if let Some(q) = question {
        library.open_catalog()?.set_question(q)?;
    }
    Ok(())
}

/// With CLIP and no answer yet, ranks the photos by the prompts (the question just stored
/// among them) before the session opens. Not fatal: the session can start without it.
pub fn start_from_prompts(library: &Library, config: &photosift::config::Config) {
    let ranked = library.open_catalog().and_then(|mut catalog| {
        let mut data = photosift::pipeline::SessionData::default();
        photosift::pipeline::start_from_prompts(&mut catalog, config, &mut data)
    });
    match ranked {
        Ok(Some(report)) => say!("no answers yet: {} photos ranked by the prompts", report.scored),
        Ok(None) => {}
        Err(err) => note!("could not rank the photos by the prompts: {err:#}"),
    }
}

/// What the session did and what to run next, on the normal screen after it ended.
pub fn print_summary(summary: &Summary, command: &str) {
    let answers = match summary.answers {
        1 => "1 answer".to_owned(),
        n => format!("{n} answers"),
    };
    say!("{answers} this session (all saved) · {} picked for print in total", summary.picked);
    if summary.picked > 0 {
        say!("next: `{command} export DIR` copies the picks' original files into DIR");
    } else {
        say!("next: `{command} label`, then Tab walks the best photos first to pick some");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_names_the_folder_and_the_nearest_existing_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("photos")).expect("mkdir");
        std::fs::create_dir(dir.path().join("other")).expect("mkdir");
        let typo = dir.path().join("photoz");
        let err = check_folders(&[dir.path().join("photos"), typo]).expect_err("typo");
        assert!(err.contains("photoz does not exist"), "{err}");
        assert!(err.ends_with(&format!("did you mean {}?", dir.path().join("photos").display())));
        let far = check_folders(&[dir.path().join("zzzzzzzz")]).expect_err("missing");
        assert!(!far.contains("did you mean"), "{far}");
        let file = dir.path().join("f.txt");
        std::fs::write(&file, "").expect("write");
        assert!(check_folders(&[file]).expect_err("file").contains("is not a folder"));
    }
}
