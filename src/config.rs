//! `config.toml`: the built-in defaults (the repository's own config.toml, embedded) with the
//! user's file merged over them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The repository's config.toml: it documents every key and is the source of the defaults.
pub const DEFAULT_CONFIG: &str = include_str!("../config.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub library: PathBuf,
    pub scan: ScanConfig,
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub queue: QueueConfig,
    pub export: ExportConfig,
    pub tui: TuiConfig,
    /// Action name (see `tui::keymap::Action`) -> the keys bound to it.
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    pub seed: SeedConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    pub thumb_size: u32,
    pub thumb_quality: u8,
    pub max_pixels: u64,
    pub include_hidden: bool,
    pub embed: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub backbone: String,
    pub weights: PathBuf,
    pub batch_size: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub synthetic_weight: f32,
    pub l2: f32,
    pub finetune: bool,
    pub finetune_stage: u32,
    pub finetune_epochs: u32,
    pub finetune_views: u32,
    pub retrain_every: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub best_threshold: f32,
    pub burst_seconds: f64,
    pub burst_cosine: f32,
    pub near_duplicate_cosine: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    pub print_size: String,
    pub dpi: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    pub prefetch: usize,
    pub graphics: String,
}

/// `[seed]`: synthetic seed images from prompts (see `photosift::synth`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedConfig {
    pub want: Vec<String>,
    pub dont_want: Vec<String>,
    pub images_per_prompt: usize,
    pub model: String,
    pub decoder: String,
    pub size: usize,
    pub steps: usize,
    pub guidance: f64,
    pub seed: u64,
    pub weights_dir: PathBuf,
    pub download: bool,
    /// Folders of photos the user already likes / dislikes, added as seed photos.
    pub examples_want: Vec<PathBuf>,
    pub examples_dont_want: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self::from_toml_over_defaults("").expect("the embedded config.toml is valid")
    }
}

impl Config {
    /// Loads `explicit` if given (it must exist), else ./config.toml, else the XDG config
    /// file, else the defaults alone.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let path = match explicit {
            Some(p) if !p.is_file() => bail!("config file {} does not exist", p.display()),
            Some(p) => Some(p.to_path_buf()),
            None => Self::default_locations().into_iter().find(|p| p.is_file()),
        };
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                Self::from_toml_over_defaults(&text)
                    .with_context(|| format!("bad config file {}", path.display()))
            }
            None => Ok(Self::default()),
        }
    }

    fn default_locations() -> Vec<PathBuf> {
        let mut paths = vec![PathBuf::from("config.toml")];
        if let Some(dirs) = directories::ProjectDirs::from("", "", "photosift") {
            paths.push(dirs.config_dir().join("config.toml"));
        }
        paths
    }

    /// Parses `user` and merges it over the embedded defaults, table by table.
    pub fn from_toml_over_defaults(user: &str) -> Result<Self> {
        let mut merged: toml::Table = DEFAULT_CONFIG.parse().context("embedded defaults")?;
        let user: toml::Table = user.parse()?;
        merge(&mut merged, user);
        Ok(toml::Value::Table(merged).try_into()?)
    }

    /// The library folder: `--library`, else the config's `library`, else the XDG data folder.
    pub fn library_dir(&self, cli: Option<&Path>) -> Result<PathBuf> {
        if let Some(dir) = cli {
            return Ok(dir.to_path_buf());
        }
        if !self.library.as_os_str().is_empty() {
            return Ok(self.library.clone());
        }
        directories::ProjectDirs::from("", "", "photosift")
            .map(|d| d.data_dir().to_path_buf())
            .context("no home folder to put the library in: pass --library DIR")
    }
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let c = Config::default();
        assert_eq!(c.scan.thumb_size, 512);
        assert!((c.queue.best_threshold - 0.05).abs() < 1e-6);
    }

    #[test]
    fn user_keys_merge_over_defaults() {
        let c = Config::from_toml_over_defaults("[scan]\nthumb_size = 256\n").unwrap();
        assert_eq!(c.scan.thumb_size, 256);
        assert_eq!(c.scan.thumb_quality, 85);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml_over_defaults("[scan]\nthumbsize = 256\n").unwrap_err();
        assert!(format!("{err:#}").contains("thumbsize"), "{err:#}");
    }
}
