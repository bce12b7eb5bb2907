//! Finding and loading CLIP: a folder as `huggingface-cli download <repo> --local-dir DIR`
//! writes it (`config.json`, `model.safetensors`, `tokenizer.json` or `vocab.json` +
//! `merges.txt`), else the same files through [`crate::hub`] (the hf-hub cache, a download),
//! else a message naming every missing file and the ways to get it. Then [`Clip`]: the model and
//! its tokenizer, turning thumbnails and prompts into unit vectors of one space.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use image::RgbImage;
use thiserror::Error;

use super::tokenizer::{ClipTokenizer, TokenizerError};
use super::{ClipConfig, ClipModel, IMAGE_MEAN, IMAGE_STD, l2_normalize};
use crate::hub::{self, HubFile, WeightSources};
use crate::model::preprocess::resize_exact;

/// The files of a CLIP checkpoint, in the order [`locate`] returns them.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

#[derive(Debug, Error)]
pub enum ClipError {
    /// The weights are nowhere on this machine: the message says how to get them.
    #[error("{0}")]
    Missing(String),
    #[error("{path}: {why}")]
    Config { path: PathBuf, why: String },
    #[error("CLIP tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
    #[error("cannot load the CLIP weights {path}: {source}")]
    Weights { path: PathBuf, source: candle_core::Error },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Where CLIP comes from: `[embed]`'s `clip_repo`, `clip_revision`, `weights_dir`, `download`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSource {
    pub repo: String,
    /// Branch, tag, commit or `refs/pr/N`; empty: `main`.
    pub revision: String,
    /// A downloaded model folder (the files themselves, or `<dir>/<repo>/`); empty: none.
    pub weights_dir: PathBuf,
    pub download: bool,
}

impl ClipSource {
    fn hub_file(&self, file: &str) -> HubFile {
        HubFile::new(&self.repo, file).at_revision(&self.revision)
    }

    /// The folder holding the checkpoint's files, if `weights_dir` is one: `weights_dir`
    /// itself or `<weights_dir>/<repo>`.
    fn folder(&self) -> Option<PathBuf> {
        if self.weights_dir.as_os_str().is_empty() {
            return None;
        }
        [self.weights_dir.clone(), self.weights_dir.join(&self.repo)]
            .into_iter()
            .find(|d| d.join(WEIGHTS_FILE).is_file())
    }

    /// What to tell the user when the files are missing, for `command` (e.g. `photosift
    /// embed`).
    fn missing(&self, m: &hub::MissingFiles, command: &str) -> String {
        let revision = if self.revision.trim().is_empty() {
            String::new()
        } else {
            format!(" --revision {}", self.revision.trim())
        };
        format!(
            "{}With network access elsewhere: `huggingface-cli download {}{revision} \
             config.json model.safetensors tokenizer.json --local-dir DIR`, copy DIR here and \
             set [embed] weights_dir = \"DIR\". Or set [embed] backbone = \"lite0\" for the \
             bundled backbone, which needs no download.",
            m.message("the CLIP weights", command, "[embed]"),
            self.repo,
        )
    }
}

/// The three files of a checkpoint, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipFiles {
    pub config: PathBuf,
    pub weights: PathBuf,
    /// The folder with `tokenizer.json` (or `vocab.json` + `merges.txt`).
    pub tokenizer_dir: PathBuf,
}

/// Finds the checkpoint: the `weights_dir` folder, else `<weights_dir>/<repo>/<file>`, the
/// hf-hub cache and (when `download`) the hub. `on_download` hears about each file before its
/// download starts. `command` is named in the message when something is missing.
pub fn locate(
    source: &ClipSource,
    command: &str,
    on_download: &dyn Fn(&HubFile),
) -> Result<ClipFiles, ClipError> {
    if let Some(dir) = source.folder() {
        return Ok(ClipFiles {
            config: dir.join(CONFIG_FILE),
            weights: dir.join(WEIGHTS_FILE),
            tokenizer_dir: dir,
        });
    }
    let files = [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE].map(|f| source.hub_file(f));
    let sources =
        WeightSources { local_dir: source.weights_dir.clone(), download: source.download };
    let found = hub::resolve(&files.iter().collect::<Vec<_>>(), &sources, on_download)
        .map_err(|m| ClipError::Missing(source.missing(&m, command)))?;
    let [config, weights, tokenizer]: [PathBuf; 3] =
        found.try_into().map_err(|_| ClipError::Missing("a CLIP file went missing".to_string()))?;
    let tokenizer_dir = tokenizer.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(ClipFiles { config, weights, tokenizer_dir })
}

/// Whether the checkpoint is on this machine (no network): what `status` and `doctor` say.
pub fn present(source: &ClipSource) -> bool {
    source.folder().is_some()
        || [CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE]
            .iter()
            .all(|f| hub::locate(&source.hub_file(f), &source.weights_dir).is_some())
}

/// CLIP and its tokenizer: thumbnails and prompts to unit vectors of the shared space.
pub struct Clip {
    model: ClipModel,
    tokenizer: ClipTokenizer,
    device: Device,
}

impl Clip {
    /// Loads `files` on the CPU in f32.
    pub fn load(files: &ClipFiles) -> Result<Self, ClipError> {
        let text = std::fs::read_to_string(&files.config)
            .map_err(|e| ClipError::Config { path: files.config.clone(), why: e.to_string() })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ClipError::Config { path: files.config.clone(), why: e.to_string() })?;
        let config = ClipConfig::from_hf(&json)
            .map_err(|why| ClipError::Config { path: files.config.clone(), why })?;
        let device = Device::Cpu;
        let weights = |source| ClipError::Weights { path: files.weights.clone(), source };
        // SAFETY: the file is memory-mapped read-only; photosift never writes model files it
        // did not make, and a file changed under the map is the user's to keep still.
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(&[&files.weights], DType::F32, &device)
                .map_err(weights)?
        };
        let model = ClipModel::new(&config, vb).map_err(weights)?;
        let tokenizer =
            ClipTokenizer::from_folder(&files.tokenizer_dir, config.text.max_position_embeddings)?;
        Ok(Self { model, tokenizer, device })
    }

    pub fn model(&self) -> &ClipModel {
        &self.model
    }

    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Length of the vectors of both towers.
    pub fn dim(&self) -> usize {
        self.model.config().projection_dim
    }

    /// The unit-length text embedding of each prompt.
    pub fn embed_prompts(&self, prompts: &[String]) -> Result<Vec<Vec<f32>>, ClipError> {
        prompts
            .iter()
            .map(|p| {
                let ids = self.tokenizer.encode(p)?;
                let n = ids.len();
                let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
                let v = l2_normalize(&self.model.text_features(&ids, &[n - 1])?)?;
                Ok(v.squeeze(0)?.to_vec1()?)
            })
            .collect()
    }

    /// The unit-length image embeddings of `images` (any size: see [`pixels`]).
    pub fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>, ClipError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let xs = pixels(images, self.model.config().vision.image_size, &self.device)?;
        Ok(l2_normalize(&self.model.image_features(&xs)?)?.to_vec2()?)
    }
}

/// CLIP's input `(n, 3, size, size)`: each image resized so its short side is `size`, the
/// center `size`² cut out, then scaled to 0..1 and normalized with CLIP's mean and std, as
/// `CLIPImageProcessor` does (with photosift's antialiased bilinear resize where it uses
/// bicubic: the same crop, slightly softer pixels).
pub fn pixels(images: &[RgbImage], size: usize, device: &Device) -> candle_core::Result<Tensor> {
    let s = size as u32;
    let plane = size * size;
    let mut data = vec![0f32; images.len() * 3 * plane];
    for (img, out) in images.iter().zip(data.chunks_exact_mut(3 * plane)) {
        let (w, h) = (img.width().max(1), img.height().max(1));
        let scale = f64::from(s) / f64::from(w.min(h));
        let rw = ((f64::from(w) * scale).round() as u32).max(s);
        let rh = ((f64::from(h) * scale).round() as u32).max(s);
        let resized = resize_exact(img, rw, rh);
        let (x0, y0) = ((rw - s) / 2, (rh - s) / 2);
        for y in 0..s {
            for x in 0..s {
                let p = resized.get_pixel(x0 + x, y0 + y);
                let i = (y * s + x) as usize;
                for c in 0..3 {
                    out[c * plane + i] = (f32::from(p[c]) / 255.0 - IMAGE_MEAN[c]) / IMAGE_STD[c];
                }
            }
        }
    }
    Tensor::from_vec(data, (images.len(), 3, size, size), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(dir: &Path) -> ClipSource {
        ClipSource {
            repo: "example-org/not-a-real-clip-xyz".into(),
            revision: "refs/pr/15".into(),
            weights_dir: dir.to_path_buf(),
            download: false,
        }
    }

    #[test]
    fn missing_weights_say_how_to_get_them() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path());
        assert!(!present(&src));
        let Err(ClipError::Missing(msg)) = locate(&src, "photosift embed", &|_| {}) else {
            panic!("expected missing weights");
        };
        assert!(msg.starts_with("the CLIP weights are not on this machine"), "{msg}");
        for want in [
            "refs%2Fpr%2F15/model.safetensors",
            "photosift embed",
            "huggingface-cli download example-org/not-a-real-clip-xyz --revision refs/pr/15",
            "[embed] weights_dir",
            "backbone = \"lite0\"",
        ] {
            assert!(msg.contains(want), "{want:?} not in {msg}");
        }
    }

    #[test]
    fn a_downloaded_folder_is_found_as_weights_dir_or_under_the_repo_name() {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path());
        let nested = dir.path().join(&src.repo);
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(nested.join(WEIGHTS_FILE), b"x").unwrap();
        assert!(present(&src));
        let files = locate(&src, "photosift embed", &|_| panic!("no download")).unwrap();
        assert_eq!(files.weights, nested.join(WEIGHTS_FILE));
        assert_eq!(files.tokenizer_dir, nested);
    }

    #[test]
    fn pixels_are_the_center_crop_of_the_short_side() {
        // 128 x 64, left half black, right half white: the 64² center crop is half and half.
        let img = RgbImage::from_fn(128, 64, |x, _| {
            if x < 64 { image::Rgb([0, 0, 0]) } else { image::Rgb([255, 255, 255]) }
        });
        let t = pixels(&[img], 32, &Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 32, 32]);
        let row: Vec<f32> = t.get(0).unwrap().get(0).unwrap().get(16).unwrap().to_vec1().unwrap();
        let black = -IMAGE_MEAN[0] / IMAGE_STD[0];
        let white = (1.0 - IMAGE_MEAN[0]) / IMAGE_STD[0];
        assert!((row[2] - black).abs() < 1e-5 && (row[29] - white).abs() < 1e-5, "{row:?}");
    }
}
