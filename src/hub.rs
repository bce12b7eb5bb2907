//! Weight files from the Hugging Face hub: a local folder first, then the hf-hub cache
//! (`HF_HOME`), then a download into that cache; when none works, [`MissingFiles`] lists every
//! file to fetch and where to put it. The one place photosift touches the network; the model
//! code that reads the files (Stable Diffusion, backbones) knows nothing of where they came from.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

/// One file of a hub model repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    pub repo: String,
    pub file: String,
    /// A branch, tag, commit or `refs/pr/N`; `None`: `main`.
    pub revision: Option<String>,
}

impl HubFile {
    pub fn new(repo: &str, file: &str) -> Self {
        Self { repo: repo.to_string(), file: file.to_string(), revision: None }
    }

    /// The file at `revision` (empty: `main`).
    pub fn at_revision(mut self, revision: &str) -> Self {
        let revision = revision.trim();
        self.revision = (!revision.is_empty() && revision != "main").then(|| revision.to_string());
        self
    }

    pub fn url(&self) -> String {
        let revision = self.revision.as_deref().unwrap_or("main").replace('/', "%2F");
        format!("https://huggingface.co/{}/resolve/{revision}/{}", self.repo, self.file)
    }

    fn hub_repo(&self) -> Repo {
        match &self.revision {
            Some(r) => Repo::with_revision(self.repo.clone(), RepoType::Model, r.clone()),
            None => Repo::model(self.repo.clone()),
        }
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
    Cache::from_env().repo(file.hub_repo()).get(&file.file)
}

/// Files found nowhere (not in the local folder, not in the cache, not downloaded), each with
/// why it could not be fetched.
#[derive(Debug, Clone)]
pub struct MissingFiles {
    pub files: Vec<(HubFile, String)>,
    /// The hf-hub cache that was looked in (and downloaded into).
    pub cache_dir: PathBuf,
    /// The local folder that was looked in first.
    pub local_dir: PathBuf,
}

impl MissingFiles {
    /// What to tell the user: every missing file with its URL and why it was not fetched, and
    /// the three ways to get it (`command` with network access, the files by hand into the local
    /// folder, or a whole downloaded model folder as `section`'s `weights_dir`). `what` names
    /// the weights ("the Stable Diffusion weights").
    pub fn message(&self, what: &str, command: &str, section: &str) -> String {
        let mut msg = format!(
            "{what} are not on this machine and could not be downloaded.\nMissing files:\n"
        );
        for (file, why) in &self.files {
            msg.push_str(&format!("  {}\n    ({why})\n", file.url()));
        }
        let example =
            self.files.first().map(|(f, _)| f.local_path(&self.local_dir)).unwrap_or_default();
        msg.push_str(&format!(
            "Either run `{command}` once with network access (files are cached under {}; set \
             HF_HOME to move it), or download the files above yourself and put each one at \
             {}/<repo>/<file>, for example\n  {}\n\
             or download the whole model folder (`huggingface-cli download <repo> --local-dir \
             DIR`) and set {section} weights_dir = \"DIR\".\n",
            self.cache_dir.display(),
            self.local_dir.display(),
            example.display(),
        ));
        msg
    }

    /// The repositories the missing files are from, each once, in order.
    pub fn repos(&self) -> Vec<&str> {
        let mut repos: Vec<&str> = self.files.iter().map(|(f, _)| f.repo.as_str()).collect();
        repos.dedup();
        repos
    }
}

/// Finds every file, downloading what is missing if allowed. `on_download` hears about each
/// file before its download starts (they are gigabytes: the caller should say so).
pub fn resolve(
    files: &[&HubFile],
    sources: &WeightSources,
    on_download: &dyn Fn(&HubFile),
) -> Result<Vec<PathBuf>, MissingFiles> {
    let cache = Cache::from_env();
    let mut found = Vec::with_capacity(files.len());
    let mut missing: Vec<(HubFile, String)> = Vec::new();
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
        if let Some(path) = cache.repo(file.hub_repo()).get(&file.file) {
            found.push(path);
            continue;
        }
        let fetched = match &api {
            Ok(api) => {
                on_download(file);
                api.repo(file.hub_repo()).get(&file.file).map_err(|e| e.to_string())
            }
            Err(why) => Err(why.clone()),
        };
        match fetched {
            Ok(path) => found.push(path),
            Err(why) => missing.push(((*file).clone(), why)),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    Err(MissingFiles {
        files: missing,
        cache_dir: cache.path().clone(),
        local_dir: sources.local_dir.clone(),
    })
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
        let missing = resolve(&[&f], &sources, &|_| {}).unwrap_err();
        assert_eq!(missing.repos(), ["example-org/not-a-real-model-xyz"]);
        let err = missing.message("the weights", "photosift seed", "[seed]");
        assert!(err.starts_with("the weights are not on this machine"), "{err}");
        assert!(err.contains(&f.url()), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains("HF_HOME"), "{err}");
        assert!(err.contains("weights_dir"), "{err}");
    }

    #[test]
    fn a_revision_shows_in_the_url_and_main_is_the_default() {
        let f = HubFile::new("openai/clip-vit-base-patch32", "model.safetensors");
        assert!(f.url().contains("/resolve/main/model.safetensors"), "{}", f.url());
        let pr = f.clone().at_revision("refs/pr/15");
        assert_eq!(pr.revision.as_deref(), Some("refs/pr/15"));
        assert!(pr.url().contains("/resolve/refs%2Fpr%2F15/model.safetensors"), "{}", pr.url());
        assert_eq!(f.clone().at_revision(" main "), f);
    }
}
