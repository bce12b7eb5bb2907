//! Example photos (`[seed] examples_want` / `examples_dont_want`): folders of photos the user
//! already likes or dislikes, added to the catalog as seed photos. They are embedded like the
//! synthetic seed images and weighted the same way (`[train] synthetic_weight`), never shown
//! in the queues and never exported: a seed that works offline, without Stable Diffusion.

use std::path::{Path, PathBuf};

use crate::catalog::{Catalog, CatalogError, NewPhoto, Source};
use crate::config::{ScanConfig, SeedConfig};
use crate::library::Library;

use super::thumbs::store_thumbnail_keyed;
use super::walk::walk;
use crate::imaging::thumbnail::{read_photo_file, thumbnail_from_bytes};

/// What [`add_examples`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExampleSummary {
    /// Photos found in the example folders.
    pub found: usize,
    pub added: usize,
    /// Already in the catalog from an earlier run, left alone.
    pub existing: usize,
    /// Files that could not be read, and why; the others are still added.
    pub failed: Vec<(PathBuf, String)>,
    /// Example folders that do not exist.
    pub missing_folders: Vec<PathBuf>,
}

/// The example folders `cfg` names: (wanted, folder). `~` and `$HOME` were expanded when
/// the config was read, as in every path key (`config::expand_path`).
pub fn example_folders(cfg: &SeedConfig) -> Vec<(bool, PathBuf)> {
    let want = cfg.examples_want.iter().map(|f| (true, f.clone()));
    let dont = cfg.examples_dont_want.iter().map(|f| (false, f.clone()));
    want.chain(dont).collect()
}

/// Where an example is recorded: a key of its own under the library (`examples/<wanted|
/// dont_want>/<content hash>`), never its real path, so that a photo that is also in a
/// scanned folder stays a camera photo there, and the same photo can be an example once
/// per list.
fn example_key(library: &Library, wanted: bool, hash: &str) -> PathBuf {
    let list = if wanted { "want" } else { "dont_want" };
    library.root().join("examples").join(list).join(hash)
}

/// Adds every photo of the example folders not added yet: reads it, makes its thumbnail and
/// records it as a seed photo (label: its list). Unreadable files are listed, not fatal.
/// `progress(done, total)`.
pub fn add_examples(
    catalog: &mut Catalog,
    library: &Library,
    seed: &SeedConfig,
    scan: &ScanConfig,
    progress: &dyn Fn(usize, usize),
) -> Result<ExampleSummary, CatalogError> {
    let mut summary = ExampleSummary::default();
    let mut files = Vec::new();
    for (wanted, folder) in example_folders(seed) {
        if !folder.is_dir() {
            summary.missing_folders.push(folder);
            continue;
        }
        let found =
            walk(std::slice::from_ref(&folder), false, &[library.root().to_owned()], &mut |_| {});
        files.extend(found.photos.into_iter().map(|f| (wanted, f.path)));
    }
    summary.found = files.len();
    progress(0, files.len());
    for (done, (wanted, path)) in files.into_iter().enumerate() {
        match read_example(library, wanted, &path, scan) {
            Ok((key, photo)) => {
                if catalog.synthetic_at(&key)?.is_some() {
                    summary.existing += 1;
                } else {
                    catalog.insert_photos(&[photo])?;
                    summary.added += 1;
                }
            }
            Err(why) => summary.failed.push((path, why)),
        }
        progress(done + 1, summary.found);
    }
    Ok(summary)
}

fn read_example(
    library: &Library,
    wanted: bool,
    path: &Path,
    scan: &ScanConfig,
) -> Result<(PathBuf, NewPhoto), String> {
    let bytes = read_photo_file(path, None, scan).map_err(|e| e.to_string())?;
    let hash = blake3::hash(&bytes).to_hex().to_string();
    let key = example_key(library, wanted, &hash);
    let thumb = thumbnail_from_bytes(&bytes, scan).map_err(|e| e.to_string())?;
    let stored = store_thumbnail_keyed(library.root(), &hash, &thumb.image, scan.thumb_quality)
        .map_err(|e| e.to_string())?;
    let photo = NewPhoto {
        path: key.clone(),
        // Not the bare file hash: a scan treats a file whose hash is in the catalog as a copy
        // of that photo, and a photo both in a scanned folder and an example folder must
        // still become a camera photo.
        content_hash: format!("example-{hash}"),
        byte_size: bytes.len() as u64,
        width: Some(thumb.width),
        height: Some(thumb.height),
        thumb_path: Some(stored.rel_path),
        source: Source::Synthetic,
        prompt: Some(format!("example photo {}", path.display())),
        seed_label: Some(wanted),
        ..Default::default()
    };
    Ok((key, photo))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn picture(dir: &Path, name: &str, shade: u8) {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([shade, (x * 4) as u8, (y * 5) as u8])
        });
        img.save(dir.join(name)).unwrap();
    }

    #[test]
    fn example_folders_become_labeled_seed_photos_once() {
        let dir = tempfile::tempdir().unwrap();
        let library = Library::create(dir.path().join("lib")).unwrap();
        let (want, dont) = (dir.path().join("printed"), dir.path().join("meh"));
        std::fs::create_dir_all(want.join("sub")).unwrap();
        std::fs::create_dir_all(&dont).unwrap();
        picture(&want, "a.jpg", 10);
        picture(&want.join("sub"), "b.png", 90);
        picture(&dont, "c.jpg", 200);
        std::fs::write(want.join("notes.txt"), "not a photo").unwrap();
        std::fs::write(want.join("broken.jpg"), b"\xFF\xD8\xFFnot really").unwrap();
        let mut cfg = Config::default();
        cfg.seed.examples_want = vec![want.clone()];
        cfg.seed.examples_dont_want = vec![dont.clone(), dir.path().join("nowhere")];
        let mut catalog = library.open_catalog().unwrap();
        let s = add_examples(&mut catalog, &library, &cfg.seed, &cfg.scan, &|_, _| {}).unwrap();
        assert_eq!((s.found, s.added, s.existing), (4, 3, 0), "{s:?}");
        assert_eq!(s.failed.len(), 1, "the broken file is reported, the rest added");
        assert_eq!(s.missing_folders, vec![dir.path().join("nowhere")]);
        let mut labels = catalog.synthetic_seed_labels().unwrap();
        labels.sort_by_key(|(id, _)| *id);
        let wanted: Vec<bool> = labels.iter().map(|(_, w)| *w).collect();
        assert_eq!(wanted.iter().filter(|&&w| w).count(), 2);
        assert_eq!(wanted.iter().filter(|&&w| !w).count(), 1);
        for photo in catalog.synthetic_photos().unwrap() {
            assert!(library.root().join(photo.thumb_path.unwrap()).is_file());
            assert!(photo.prompt.unwrap().starts_with("example photo "));
        }
        // Nothing in the queues: examples are not camera photos.
        assert!(catalog.photos().unwrap().iter().all(|p| p.source != Source::Camera));
        // A second run adds nothing.
        let again = add_examples(&mut catalog, &library, &cfg.seed, &cfg.scan, &|_, _| {}).unwrap();
        assert_eq!((again.added, again.existing), (0, 3));
    }

    #[test]
    fn home_is_expanded_in_example_folders() {
        let cfg =
            Config::from_toml_over_defaults("[seed]\nexamples_want = [\"~/Pictures/printed\"]")
                .unwrap()
                .seed;
        let folders = example_folders(&cfg);
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(folders, vec![(true, PathBuf::from(home).join("Pictures/printed"))]);
        }
    }
}
