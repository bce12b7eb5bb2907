//! Files that belong to a photo: the video half of a Live Photo (`IMG_1234.HEIC` +
//! `IMG_1234.MOV`, same stem, same folder) and Google Takeout's JSON sidecars
//! (`IMG_1234.jpg.json`, `IMG_1234.jpg.supplemental-metadata.json`, truncated and numbered
//! variants). Pure matching on names: nothing is opened here.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::walk::FoundFile;

/// What the walk's photos, videos and JSON files pair up into.
#[derive(Debug, Default)]
pub struct Companions {
    /// Photo path → the video of its Live Photo.
    pub live_video: HashMap<PathBuf, PathBuf>,
    /// Photo path → its Takeout sidecar.
    pub sidecar: HashMap<PathBuf, PathBuf>,
    /// Videos that are not half of a Live Photo.
    pub videos: Vec<FoundFile>,
}

/// Pairs each video with the photo of the same stem in the same folder (case-insensitive: an
/// iPhone export has `IMG_1234.HEIC` + `IMG_1234.MOV`, a Takeout `IMG_1234.heic` +
/// `IMG_1234.MP4`), and each sidecar with the photo it describes.
pub fn pair(photos: &[FoundFile], videos: Vec<FoundFile>, sidecars: &[PathBuf]) -> Companions {
    let mut by_stem: HashMap<(PathBuf, String), &Path> = HashMap::new();
    let mut by_name: HashMap<(PathBuf, String), &Path> = HashMap::new();
    for p in photos {
        let dir = p.path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(stem) = p.path.file_stem().map(lower) {
            by_stem.entry((dir.clone(), stem)).or_insert(&p.path);
        }
        if let Some(name) = p.path.file_name().map(lower) {
            by_name.insert((dir, name), &p.path);
        }
    }
    let mut out = Companions::default();
    for v in videos {
        let dir = v.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let photo = v.path.file_stem().map(lower).and_then(|stem| by_stem.get(&(dir, stem)));
        match photo {
            Some(&photo) if !out.live_video.contains_key(photo) => {
                out.live_video.insert(photo.to_path_buf(), v.path);
            }
            _ => out.videos.push(v),
        }
    }
    for json in sidecars {
        let dir = json.parent().map(Path::to_path_buf).unwrap_or_default();
        let Some(name) = json.file_name().map(lower) else { continue };
        for candidate in sidecar_subjects(&name) {
            if let Some(&photo) = by_name.get(&(dir.clone(), candidate)) {
                out.sidecar.entry(photo.to_path_buf()).or_insert_with(|| json.clone());
                break;
            }
        }
    }
    // A sidecar named after the photo without its extension (older Takeouts: IMG_1.json).
    for p in photos {
        if out.sidecar.contains_key(&p.path) {
            continue;
        }
        let bare = p.path.with_extension("json");
        if sidecars.contains(&bare) {
            out.sidecar.insert(p.path.clone(), bare);
        }
    }
    out
}

fn lower(s: &OsStr) -> String {
    s.to_string_lossy().to_lowercase()
}

/// The photo file names (lower case) a Takeout JSON name can describe, most likely first.
/// `img_1.jpg.supplemental-metadata.json` → `img_1.jpg`; Takeout truncates long names to 51
/// characters (`img_1.jpg.supplemental-metad.json`) and numbers duplicates after the suffix
/// (`img_1.jpg.supplemental-metadata(1).json` and `img_1.jpg(1).json` → `img_1(1).jpg`).
pub fn sidecar_subjects(json_name: &str) -> Vec<String> {
    let Some(stem) = json_name.strip_suffix(".json") else { return Vec::new() };
    // A "(n)" duplicate counter moves from the end back before the photo's extension.
    let (stem, counter) = match stem.rfind('(') {
        Some(i)
            if stem.ends_with(')')
                && stem[i + 1..stem.len() - 1].chars().all(|c| c.is_ascii_digit()) =>
        {
            (&stem[..i], Some(&stem[i..]))
        }
        _ => (stem, None),
    };
    let mut base = stem;
    // Strip a (possibly truncated) ".supplemental-metadata" suffix.
    if let Some(dot) = stem.rfind('.') {
        let suffix = &stem[dot..];
        if suffix.len() > 2 && ".supplemental-metadata".starts_with(suffix) {
            base = &stem[..dot];
        }
    }
    let mut out = vec![base.to_owned()];
    if let Some(n) = counter {
        let numbered = match base.rfind('.') {
            Some(dot) => format!("{}{n}{}", &base[..dot], &base[dot..]),
            None => format!("{base}{n}"),
        };
        out.insert(0, numbered);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(p: &str) -> FoundFile {
        FoundFile { path: PathBuf::from(p), byte_size: 1, mtime_ns: 1 }
    }

    #[test]
    fn live_photo_video_pairs_with_the_same_stem_in_the_same_folder() {
        let photos = [found("/a/IMG_1.HEIC"), found("/a/IMG_2.JPG"), found("/b/IMG_3.heic")];
        let videos = vec![found("/a/IMG_1.MOV"), found("/a/IMG_2.mp4"), found("/a/IMG_3.MOV")];
        let c = pair(&photos, videos, &[]);
        assert_eq!(c.live_video[Path::new("/a/IMG_1.HEIC")], PathBuf::from("/a/IMG_1.MOV"));
        assert_eq!(c.live_video[Path::new("/a/IMG_2.JPG")], PathBuf::from("/a/IMG_2.mp4"));
        // Another folder's photo is not its pair: a plain video.
        assert_eq!(c.videos.len(), 1);
        assert_eq!(c.videos[0].path, PathBuf::from("/a/IMG_3.MOV"));
    }

    #[test]
    fn takeout_sidecar_names_map_to_their_photo() {
        assert_eq!(sidecar_subjects("img_1.jpg.json"), vec!["img_1.jpg"]);
        assert_eq!(sidecar_subjects("img_1.jpg.supplemental-metadata.json"), vec!["img_1.jpg"]);
        assert_eq!(sidecar_subjects("img_1.jpg.supplemental-metad.json"), vec!["img_1.jpg"]);
        assert_eq!(sidecar_subjects("img_1.jpg.suppl.json"), vec!["img_1.jpg"]);
        assert_eq!(
            sidecar_subjects("img_1.jpg.supplemental-metadata(1).json"),
            vec!["img_1(1).jpg", "img_1.jpg"]
        );
        assert_eq!(sidecar_subjects("img_1.jpg(2).json"), vec!["img_1(2).jpg", "img_1.jpg"]);
        assert!(sidecar_subjects("metadata.txt").is_empty());
    }

    #[test]
    fn sidecars_pair_with_photos_and_others_are_left_alone() {
        let photos = [found("/t/IMG_1.jpg"), found("/t/IMG_1(1).jpg"), found("/t/PXL_2.jpg")];
        let jsons = [
            PathBuf::from("/t/IMG_1.jpg.supplemental-metadata.json"),
            PathBuf::from("/t/IMG_1.jpg.supplemental-metadata(1).json"),
            PathBuf::from("/t/PXL_2.json"),
            PathBuf::from("/t/metadata.json"),
        ];
        let c = pair(&photos, Vec::new(), &jsons);
        assert_eq!(c.sidecar[Path::new("/t/IMG_1.jpg")], jsons[0]);
        assert_eq!(c.sidecar[Path::new("/t/IMG_1(1).jpg")], jsons[1]);
        assert_eq!(c.sidecar[Path::new("/t/PXL_2.jpg")], jsons[2]);
        assert_eq!(c.sidecar.len(), 3);
    }
}
