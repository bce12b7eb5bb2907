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
    pub embed: EmbedConfig,
    pub train: TrainConfig,
    pub queue: QueueConfig,
    pub export: ExportConfig,
    pub tui: TuiConfig,
    pub keys: KeysConfig,
    pub session: SessionConfig,
    pub seed: SeedConfig,
}

/// `[keys]`: a preset and, over it, the keys of any action named.
#[derive(Debug, Clone, Deserialize)]
pub struct KeysConfig {
    pub preset: KeyPreset,
    /// Action name (see `tui::keymap::Action`) -> the keys bound to it instead of the preset's.
    #[serde(flatten)]
    pub bindings: std::collections::BTreeMap<String, Vec<String>>,
}

/// The keymaps `[keys] preset` may name (their keys: `tui::keymap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyPreset {
    /// W/A/S/D or the arrows: yes, undo, no, ask later.
    Wasd,
    /// Lightroom's culling keys: P pick, X reject, U undecided.
    Lightroom,
}

impl KeyPreset {
    pub fn name(self) -> &'static str {
        match self {
            KeyPreset::Wasd => "wasd",
            KeyPreset::Lightroom => "lightroom",
        }
    }
}

/// `[session]`: the labeling session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// What the user is looking for, shown as the side panel's title (`label --want`).
    pub question: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    pub thumb_size: u32,
    pub thumb_quality: u8,
    pub max_pixels: u64,
    pub include_hidden: bool,
    pub embed: bool,
    pub heic_fast_decode: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The key `[embed] backbone` replaced; older config files say `"lite0"` here, the only
    /// value it had, which is accepted and means nothing more.
    #[serde(default)]
    pub backbone: Option<Backbone>,
    pub weights: PathBuf,
    pub batch_size: usize,
}

/// The backbones `[embed] backbone` may name: a name photosift does not know is refused when
/// the config loads, so nothing downstream checks the name again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Backbone {
    /// EfficientNet-Lite0 with the bundled ImageNet weights.
    #[serde(rename = "lite0")]
    Lite0,
    /// OpenAI CLIP ViT-B/32, from the hub or a downloaded folder.
    #[serde(rename = "clip-b32")]
    ClipB32,
}

impl std::str::FromStr for Backbone {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Self, String> {
        match name {
            "lite0" => Ok(Backbone::Lite0),
            "clip-b32" => Ok(Backbone::ClipB32),
            other => Err(format!("unknown backbone {other:?}: use \"lite0\" or \"clip-b32\"")),
        }
    }
}

impl Backbone {
    /// The name in config.toml.
    pub fn name(self) -> &'static str {
        match self {
            Backbone::Lite0 => "lite0",
            Backbone::ClipB32 => "clip-b32",
        }
    }
}

/// `[embed]`: which backbone embeds the photos, and where CLIP's weights come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedConfig {
    pub backbone: Backbone,
    pub clip_repo: String,
    pub clip_revision: String,
    pub weights_dir: PathBuf,
    pub download: bool,
    pub handover_labels: u32,
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
    pub include_screenshots: bool,
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
    pub sd_turbo_repo: String,
    pub sd15_repo: String,
    pub sd21_repo: String,
    pub text_encoder_file: String,
    pub unet_file: String,
    pub vae_file: String,
    pub tokenizer_repo: String,
    pub tokenizer_file: String,
    pub taesd_repo: String,
    pub taesd_file: String,
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
            // Anything readable will do (`--config /dev/null` for the defaults alone).
            Some(p) if !p.exists() => bail!("config file {} does not exist", p.display()),
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

    /// Parses `user` and merges it over the embedded defaults, table by table; every path
    /// key gets `~` and `$HOME` expanded (see [`expand_path`]).
    pub fn from_toml_over_defaults(user: &str) -> Result<Self> {
        let mut merged: toml::Table = DEFAULT_CONFIG.parse().context("embedded defaults")?;
        let user: toml::Table = user.parse()?;
        merge(&mut merged, user);
        let mut config: Self = toml::Value::Table(merged).try_into()?;
        config.expand_paths()?;
        config.validate()?;
        Ok(config)
    }

    /// Every path key, in one place: `library`, `model.weights`, `seed.weights_dir`,
    /// `seed.examples_want`, `seed.examples_dont_want`.
    fn expand_paths(&mut self) -> Result<()> {
        let expand = |key: &str, p: &mut PathBuf| -> Result<()> {
            *p = expand_path(p).with_context(|| format!("{key} = {:?}", crate::show::path(p)))?;
            Ok(())
        };
        expand("library", &mut self.library)?;
        expand("model.weights", &mut self.model.weights)?;
        expand("seed.weights_dir", &mut self.seed.weights_dir)?;
        expand("embed.weights_dir", &mut self.embed.weights_dir)?;
        for p in &mut self.seed.examples_want {
            expand("seed.examples_want", p)?;
        }
        for p in &mut self.seed.examples_dont_want {
            expand("seed.examples_dont_want", p)?;
        }
        Ok(())
    }

    /// Every number has a range; a value outside it is refused here, naming the key, the value
    /// and the range, rather than making 1x1 thumbnails or scores of only 0 and 1 later.
    fn validate(&self) -> Result<()> {
        let (s, t, q) = (&self.scan, &self.train, &self.queue);
        check("scan.thumb_size", f64::from(s.thumb_size), 64.0, 4096.0)?;
        check("scan.thumb_quality", f64::from(s.thumb_quality), 1.0, 100.0)?;
        check_shown("scan.max_pixels", &s.max_pixels, s.max_pixels as f64, 1.0e4, 4.0e9)?;
        let batch = self.model.batch_size;
        check_shown("model.batch_size", &batch, batch as f64, 1.0, 1024.0)?;
        if let Some(old) = self.model.backbone
            && old != Backbone::Lite0
        {
            bail!("model.backbone = {:?}: the backbone is chosen in [embed] backbone", old.name());
        }
        if self.embed.clip_repo.trim().is_empty() {
            bail!("embed.clip_repo is empty: use \"openai/clip-vit-base-patch32\"");
        }
        let handover = self.embed.handover_labels;
        check("embed.handover_labels", f64::from(handover), 0.0, 1.0e6)?;
        check("train.synthetic_weight", f64::from(t.synthetic_weight), 0.0, 100.0)?;
        check("train.l2", f64::from(t.l2), 1e-6, 100.0)?;
        check("train.finetune_stage", f64::from(t.finetune_stage), 0.0, 6.0)?;
        check("train.finetune_epochs", f64::from(t.finetune_epochs), 1.0, 100.0)?;
        check("train.finetune_views", f64::from(t.finetune_views), 1.0, 64.0)?;
        check("train.retrain_every", f64::from(t.retrain_every), 0.0, 1.0e6)?;
        check("queue.best_threshold", f64::from(q.best_threshold), 0.0, 1.0)?;
        check("queue.burst_seconds", q.burst_seconds, 0.0, 3600.0)?;
        check("queue.burst_cosine", f64::from(q.burst_cosine), -1.0, 1.0)?;
        check("queue.near_duplicate_cosine", f64::from(q.near_duplicate_cosine), -1.0, 1.0)?;
        check("export.dpi", f64::from(self.export.dpi), 1.0, 10_000.0)?;
        crate::print_check::PrintSpec::from_config(&self.export.print_size, self.export.dpi)
            .with_context(|| format!("export.print_size = {:?}", self.export.print_size))?;
        let prefetch = self.tui.prefetch;
        check_shown("tui.prefetch", &prefetch, prefetch as f64, 0.0, 64.0)?;
        let seed = &self.seed;
        let n = seed.images_per_prompt;
        check_shown("seed.images_per_prompt", &n, n as f64, 0.0, 10_000.0)?;
        check_shown("seed.size", &seed.size, seed.size as f64, 0.0, 2048.0)?;
        if !seed.size.is_multiple_of(8) {
            bail!("seed.size = {} is not a multiple of 8 (0 for the model's own)", seed.size);
        }
        check_shown("seed.steps", &seed.steps, seed.steps as f64, 0.0, 1000.0)?;
        // Negative: the model's usual guidance.
        check("seed.guidance", seed.guidance, -1.0e9, 100.0)?;
        Ok(())
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

/// The one expansion of a path from the config: a leading `~` (alone or before `/`),
/// `$HOME` or `${HOME}` becomes the home folder (the `HOME` variable); nothing else is
/// touched (`~user` and other variables are not a shell's to expand here).
pub fn expand_path(path: &Path) -> Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let rest = ["~", "$HOME", "${HOME}"].iter().find_map(|prefix| {
        let rest = bytes.strip_prefix(prefix.as_bytes())?;
        (rest.is_empty() || rest[0] == b'/').then_some(rest)
    });
    let Some(rest) = rest else { return Ok(path.to_path_buf()) };
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("it starts with ~ or $HOME, but HOME is not set: write the full path")?;
    let mut out = home.into_encoded_bytes();
    out.extend_from_slice(rest);
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(&out)))
}

/// `value` of `key` must be a number within `min..=max` (NaN never is). `shown` is the value
/// as written (an integer read as f64 would print rounded: 9223372036854775807 as
/// 9223372036854775808).
fn check_shown(
    key: &str,
    shown: &dyn std::fmt::Display,
    value: f64,
    min: f64,
    max: f64,
) -> Result<()> {
    if value >= min && value <= max {
        return Ok(());
    }
    bail!("{key} = {shown} is out of range: it must be between {min} and {max}")
}

/// [`check_shown`] of a value that prints the same as a float.
fn check(key: &str, value: f64, min: f64, max: f64) -> Result<()> {
    check_shown(key, &value, value, min, max)
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
    fn the_backbone_is_chosen_in_embed_and_the_old_model_key_is_still_read() {
        assert_eq!(Config::default().embed.backbone, Backbone::Lite0);
        let c = Config::from_toml_over_defaults("[embed]\nbackbone = \"clip-b32\"\n").unwrap();
        assert_eq!(c.embed.backbone, Backbone::ClipB32);
        assert_eq!(c.embed.clip_repo, "openai/clip-vit-base-patch32");
        let old = Config::from_toml_over_defaults("[model]\nbackbone = \"lite0\"\n").unwrap();
        assert_eq!(old.embed.backbone, Backbone::Lite0);
        let err = Config::from_toml_over_defaults("[embed]\nbackbone = \"vit-h\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("clip-b32"), "{err:#}");
    }

    #[test]
    fn user_keys_merge_over_defaults() {
        let c = Config::from_toml_over_defaults("[scan]\nthumb_size = 256\n").unwrap();
        assert_eq!(c.scan.thumb_size, 256);
        assert_eq!(c.scan.thumb_quality, 85);
    }

    #[test]
    fn values_out_of_range_are_refused_with_key_value_and_range() {
        let cases = [
            ("[scan]\nthumb_size = 0", "scan.thumb_size = 0"),
            ("[scan]\nthumb_quality = 0", "scan.thumb_quality = 0"),
            ("[train]\nl2 = -1.0", "train.l2 = -1"),
            ("[train]\nl2 = nan", "train.l2 = NaN"),
            ("[train]\nfinetune_stage = 99", "train.finetune_stage = 99"),
            ("[train]\nfinetune_epochs = 0", "train.finetune_epochs = 0"),
            ("[queue]\nbest_threshold = 2.0", "queue.best_threshold = 2"),
            ("[queue]\nburst_seconds = -1.0", "queue.burst_seconds = -1"),
            ("[queue]\nburst_seconds = nan", "queue.burst_seconds = NaN"),
            ("[queue]\nburst_cosine = 2.0", "queue.burst_cosine = 2"),
            ("[export]\nprint_size = \"100000x100000in\"", "needs 30000000 px"),
            ("[export]\ndpi = 0", "export.dpi = 0"),
        ];
        for (toml, expected) in cases {
            let err = format!("{:#}", Config::from_toml_over_defaults(toml).unwrap_err());
            assert!(err.contains(expected), "{toml}: {err}");
            if !expected.starts_with("needs") {
                assert!(err.contains("must be between"), "{toml}: {err}");
            }
        }
    }

    /// Issue 31, items 9 and 11: `library = "~/x"` was used as a literal `./~/x`;
    /// `max_pixels = 9223372036854775807` was echoed as `9223372036854776000`.
    #[test]
    fn every_path_key_expands_home_the_same_way() {
        let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) else { return };
        let home = PathBuf::from(home);
        let c = Config::from_toml_over_defaults(
            "library = \"~/lib\"\n[model]\nweights = \"$HOME/w.safetensors\"\n\
             [seed]\nweights_dir = \"${HOME}/sd\"\nexamples_want = [\"~\"]\n\
             examples_dont_want = [\"~other/x\", \"/abs/~/x\", \"$HOMEx\"]\n",
        )
        .unwrap();
        assert_eq!(c.library, home.join("lib"));
        assert_eq!(c.model.weights, home.join("w.safetensors"));
        assert_eq!(c.seed.weights_dir, home.join("sd"));
        assert_eq!(c.seed.examples_want, vec![home.clone()]);
        let untouched: Vec<PathBuf> = ["~other/x", "/abs/~/x", "$HOMEx"].map(PathBuf::from).into();
        assert_eq!(c.seed.examples_dont_want, untouched);
        assert_eq!(c.library_dir(None).unwrap(), home.join("lib"));
    }

    #[test]
    fn huge_integers_are_echoed_as_written() {
        let err = format!(
            "{:#}",
            Config::from_toml_over_defaults("[scan]\nmax_pixels = 9223372036854775807")
                .unwrap_err()
        );
        assert!(err.contains("scan.max_pixels = 9223372036854775807 is out of range"), "{err}");
    }

    #[test]
    fn an_unknown_backbone_is_refused_with_the_known_ones() {
        let err = Config::from_toml_over_defaults("[model]\nbackbone = \"lite1\"\n").unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("lite1") && err.contains("lite0"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = Config::from_toml_over_defaults("[scan]\nthumbsize = 256\n").unwrap_err();
        assert!(format!("{err:#}").contains("thumbsize"), "{err:#}");
    }
}
