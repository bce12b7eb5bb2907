//! A Stable Diffusion model folder in the diffusers layout, as `huggingface-cli download <repo>
//! --local-dir DIR` writes it (`model_index.json`, `tokenizer/`, `text_encoder/`, `unet/`,
//! `vae/`, `scheduler/scheduler_config.json`, optionally `taesd/`): which file holds each
//! network, and what its `config.json` says, turned into photosift's configs.

use std::path::{Path, PathBuf};

use candle_transformers::models::stable_diffusion::unet_2d::{
    BlockConfig, UNet2DConditionModelConfig,
};
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;
use serde_json::Value;
use tokenizers::Tokenizer;

use super::SynthError;
use super::models::SdArch;
use super::scheduler::{EulerConfig, Prediction, Spacing};
use super::taesd::TaesdConfig;
use crate::model::clip::{ClipTextConfig as ClipConfig, tokenizer};

/// A folder holding a diffusers model.
#[derive(Debug, Clone)]
pub struct DiffusersFolder {
    root: PathBuf,
}

/// One parsed `config.json`, with the file named in errors.
struct Json {
    path: PathBuf,
    v: Value,
}

impl Json {
    fn read(path: PathBuf) -> Result<Option<Self>, SynthError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SynthError::Config(format!("{}: {e}", path.display()))),
        };
        let v = serde_json::from_str(&text)
            .map_err(|e| SynthError::Config(format!("{}: {e}", path.display())))?;
        Ok(Some(Self { path, v }))
    }

    fn err(&self, what: String) -> SynthError {
        SynthError::Config(format!("{}: {what}", self.path.display()))
    }

    /// A present, non-null key.
    fn get(&self, key: &str) -> Option<&Value> {
        self.v.get(key).filter(|v| !v.is_null())
    }

    fn usize(&self, key: &str, default: usize) -> Result<usize, SynthError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| self.err(format!("{key} should be a whole number, not {v}"))),
        }
    }

    fn f64(&self, key: &str, default: f64) -> Result<f64, SynthError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_f64().ok_or_else(|| self.err(format!("{key} should be a number"))),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, SynthError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.err(format!("{key} should be true/false"))),
        }
    }

    fn str(&self, key: &str, default: &str) -> Result<String, SynthError> {
        match self.get(key) {
            None => Ok(default.to_string()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| self.err(format!("{key} should be a string"))),
        }
    }

    /// A whole number repeated `n` times, or a list of `n`.
    fn per_block(&self, key: &str, n: usize, default: usize) -> Result<Vec<usize>, SynthError> {
        match self.get(key) {
            None => Ok(vec![default; n]),
            Some(Value::Array(items)) if items.len() == n => items
                .iter()
                .map(|v| v.as_u64().map(|x| x as usize))
                .collect::<Option<_>>()
                .ok_or_else(|| self.err(format!("{key} should hold whole numbers"))),
            Some(v) => match v.as_u64() {
                Some(x) => Ok(vec![x as usize; n]),
                None => Err(self.err(format!("{key} should be a number or a list of {n}"))),
            },
        }
    }

    fn usizes(&self, key: &str) -> Result<Vec<usize>, SynthError> {
        self.get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|v| v.as_u64().map(|x| x as usize)).collect())
            .ok_or_else(|| self.err(format!("{key} should be a list of whole numbers")))
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, SynthError> {
        self.get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .ok_or_else(|| self.err(format!("{key} should be a list of names")))
    }

    /// Refuses a setting photosift's networks do not implement.
    fn require(&self, key: &str, supported: &[Value]) -> Result<(), SynthError> {
        match self.get(key) {
            Some(v) if !supported.contains(v) => {
                Err(self.err(format!("{key} = {v} is not supported by photosift")))
            }
            _ => Ok(()),
        }
    }
}

impl DiffusersFolder {
    /// `dir` when it holds a diffusers model (`model_index.json` or `unet/config.json`).
    pub fn open(dir: &Path) -> Option<Self> {
        (dir.join("model_index.json").is_file() || dir.join("unet").join("config.json").is_file())
            .then(|| Self { root: dir.to_path_buf() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The first of the relative paths `names` that is a file here.
    pub fn find(&self, names: &[&str]) -> Option<PathBuf> {
        names.iter().map(|n| self.root.join(n)).find(|p| p.is_file())
    }

    /// The text encoder's weights: `preferred` (the configured file name), else the fp16 or
    /// full-precision file, whichever the download included.
    pub fn text_encoder(&self, preferred: &str) -> Option<PathBuf> {
        self.find(&[
            preferred,
            "text_encoder/model.fp16.safetensors",
            "text_encoder/model.safetensors",
        ])
    }

    pub fn unet(&self, preferred: &str) -> Option<PathBuf> {
        self.find(&[
            preferred,
            "unet/diffusion_pytorch_model.fp16.safetensors",
            "unet/diffusion_pytorch_model.safetensors",
        ])
    }

    pub fn vae(&self, preferred: &str) -> Option<PathBuf> {
        self.find(&[
            preferred,
            "vae/diffusion_pytorch_model.fp16.safetensors",
            "vae/diffusion_pytorch_model.safetensors",
        ])
    }

    /// TAESD placed beside the model (`taesd/`, e.g. `huggingface-cli download
    /// madebyollin/taesd --local-dir <model>/taesd`), in either weight naming.
    pub fn taesd(&self, preferred_file: &str) -> Option<PathBuf> {
        let preferred = format!("taesd/{preferred_file}");
        self.find(&[
            &preferred,
            "taesd/diffusion_pytorch_model.safetensors",
            "taesd/taesd_decoder.safetensors",
        ])
    }

    /// The model's own tokenizer (`tokenizer/tokenizer.json`, else `vocab.json` +
    /// `merges.txt`) and its padding token, if the folder has one.
    pub fn tokenizer(&self) -> Result<Option<(Tokenizer, Option<String>)>, SynthError> {
        let dir = self.root.join("tokenizer");
        let tok = if dir.join("tokenizer.json").is_file() {
            tokenizer::from_tokenizer_json(&dir.join("tokenizer.json"))?
        } else if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
            tokenizer::from_vocab_and_merges(&dir.join("vocab.json"), &dir.join("merges.txt"))?
        } else {
            return Ok(None);
        };
        Ok(Some((tok, tokenizer::pad_token_in(&dir))))
    }

    /// `base` with every network the folder describes (`<part>/config.json`) replaced by what
    /// the folder says.
    pub fn arch(&self, mut base: SdArch) -> Result<SdArch, SynthError> {
        let part = |name: &str, file: &str| Json::read(self.root.join(name).join(file));
        if let Some(j) = part("text_encoder", "config.json")? {
            base.clip = clip_config(&j, base.clip.pad_with.clone())?;
        }
        if let Some(j) = part("unet", "config.json")? {
            base.unet = unet_config(&j, base.unet.sliced_attention_size)?;
        }
        if let Some(j) = part("vae", "config.json")? {
            let (vae, scale) = vae_config(&j)?;
            base.vae = vae;
            base.vae_scale = scale;
            base.downscale = 1 << (base.vae.block_out_channels.len().saturating_sub(1));
        }
        if let Some(j) = part("taesd", "config.json")? {
            base.taesd = taesd_config(&j)?;
        }
        if let Some(j) = part("scheduler", "scheduler_config.json")? {
            base.scheduler = scheduler_config(&j)?;
        }
        Ok(base)
    }
}

/// transformers' `CLIPTextConfig`, read by the CLIP model's own parser.
fn clip_config(j: &Json, pad_with: Option<String>) -> Result<ClipConfig, SynthError> {
    ClipConfig::from_hf(&j.v, pad_with).map_err(|e| j.err(e))
}

/// diffusers' `UNet2DConditionModel` in the SD 1.x/2.x form candle implements.
fn unet_config(
    j: &Json,
    sliced_attention_size: Option<usize>,
) -> Result<UNet2DConditionModelConfig, SynthError> {
    let s = |x: &str| Value::String(x.to_string());
    j.require("in_channels", &[4.into()])?;
    j.require("out_channels", &[4.into()])?;
    j.require("act_fn", &[s("silu")])?;
    j.require("mid_block_type", &[s("UNetMidBlock2DCrossAttn")])?;
    j.require("resnet_time_scale_shift", &[s("default")])?;
    j.require("time_embedding_type", &[s("positional")])?;
    j.require("attention_type", &[s("default")])?;
    j.require("only_cross_attention", &[false.into()])?;
    j.require("dual_cross_attention", &[false.into()])?;
    j.require("conv_in_kernel", &[3.into()])?;
    j.require("conv_out_kernel", &[3.into()])?;
    j.require("resnet_skip_time_act", &[false.into()])?;
    j.require("resnet_out_scale_factor", &[1.into(), 1.0.into()])?;
    j.require("class_embeddings_concat", &[false.into()])?;
    for key in [
        "class_embed_type",
        "addition_embed_type",
        "time_cond_proj_dim",
        "encoder_hid_dim",
        "num_class_embeds",
        "time_embedding_dim",
        "time_embedding_act_fn",
        "timestep_post_act",
        "cross_attention_norm",
        "encoder_hid_dim_type",
    ] {
        if let Some(v) = j.get(key) {
            return Err(j.err(format!("{key} = {v} is not supported by photosift")));
        }
    }
    let widths = j.usizes("block_out_channels")?;
    let n = widths.len();
    let down = j.strings("down_block_types")?;
    let up = j.strings("up_block_types")?;
    if down.len() != n || up.len() != n {
        return Err(j.err("block type lists and block_out_channels differ in length".into()));
    }
    let cross: Vec<bool> = down.iter().map(|t| t == "CrossAttnDownBlock2D").collect();
    for (i, t) in down.iter().enumerate() {
        if t != "CrossAttnDownBlock2D" && t != "DownBlock2D" {
            return Err(j.err(format!("down block {t:?} is not supported")));
        }
        let want_up = if cross[i] { "CrossAttnUpBlock2D" } else { "UpBlock2D" };
        if up[n - 1 - i] != want_up {
            return Err(j.err(format!("up block {} should be {want_up}", n - 1 - i)));
        }
    }
    // diffusers reads `attention_head_dim` as the number of heads unless
    // `num_attention_heads` is given (a naming slip it keeps for compatibility).
    let heads = match j.get("num_attention_heads") {
        Some(_) => j.per_block("num_attention_heads", n, 8)?,
        None => j.per_block("attention_head_dim", n, 8)?,
    };
    let depth = j.per_block("transformer_layers_per_block", n, 1)?;
    if let Some(v) = j.get("cross_attention_dim").filter(|v| !v.is_u64()) {
        return Err(j.err(format!("cross_attention_dim {v}: one number expected")));
    }
    let blocks = (0..n)
        .map(|i| BlockConfig {
            out_channels: widths[i],
            use_cross_attn: cross[i].then_some(depth[i]),
            attention_head_dim: heads[i],
        })
        .collect();
    Ok(UNet2DConditionModelConfig {
        blocks,
        center_input_sample: j.bool("center_input_sample", false)?,
        cross_attention_dim: j.usize("cross_attention_dim", 1280)?,
        downsample_padding: j.usize("downsample_padding", 1)?,
        flip_sin_to_cos: j.bool("flip_sin_to_cos", true)?,
        freq_shift: j.f64("freq_shift", 0.0)?,
        layers_per_block: j.usize("layers_per_block", 2)?,
        mid_block_scale_factor: j.f64("mid_block_scale_factor", 1.0)?,
        norm_eps: j.f64("norm_eps", 1e-5)?,
        norm_num_groups: j.usize("norm_num_groups", 32)?,
        sliced_attention_size,
        use_linear_projection: j.bool("use_linear_projection", false)?,
    })
}

/// diffusers' `AutoencoderKL` and its latent scaling factor.
fn vae_config(j: &Json) -> Result<(AutoEncoderKLConfig, f64), SynthError> {
    let s = |x: &str| Value::String(x.to_string());
    j.require("act_fn", &[s("silu")])?;
    j.require("mid_block_add_attention", &[true.into()])?;
    j.require("in_channels", &[3.into()])?;
    j.require("out_channels", &[3.into()])?;
    for (key, want) in
        [("down_block_types", "DownEncoderBlock2D"), ("up_block_types", "UpDecoderBlock2D")]
    {
        if j.strings(key)?.iter().any(|t| t != want) {
            return Err(j.err(format!("{key}: only {want} is supported")));
        }
    }
    if let Some(v) = j.get("shift_factor") {
        return Err(j.err(format!("shift_factor = {v} is not supported by photosift")));
    }
    let widths = j.usizes("block_out_channels")?;
    let cfg = AutoEncoderKLConfig {
        block_out_channels: widths,
        layers_per_block: j.usize("layers_per_block", 1)?,
        latent_channels: j.usize("latent_channels", 4)?,
        norm_num_groups: j.usize("norm_num_groups", 32)?,
        use_quant_conv: j.bool("use_quant_conv", true)?,
        use_post_quant_conv: j.bool("use_post_quant_conv", true)?,
    };
    if cfg.latent_channels != 4 {
        return Err(j.err(format!("{} latent channels: photosift needs 4", cfg.latent_channels)));
    }
    Ok((cfg, j.f64("scaling_factor", 0.18215)?))
}

/// diffusers' `AutoencoderTiny` (TAESD): its decoder half.
fn taesd_config(j: &Json) -> Result<TaesdConfig, SynthError> {
    let s = |x: &str| Value::String(x.to_string());
    j.require("act_fn", &[s("relu")])?;
    j.require("upsampling_scaling_factor", &[2.into()])?;
    j.require("upsample_fn", &[s("nearest")])?;
    j.require("out_channels", &[3.into()])?;
    let scale = j.f64("scaling_factor", 1.0)?;
    if (scale - 1.0).abs() > 1e-12 {
        return Err(j.err(format!("scaling_factor {scale}: photosift decodes TAESD latents as-is")));
    }
    let widths = j.per_block("decoder_block_out_channels", 4, 64)?;
    if widths.iter().any(|&w| w != widths[0]) {
        return Err(j.err(format!("decoder widths {widths:?}: photosift needs them all equal")));
    }
    let blocks = j.per_block("num_decoder_blocks", 4, 3)?;
    Ok(TaesdConfig {
        latent_channels: j.usize("latent_channels", 4)?,
        channels: widths[0],
        blocks: [blocks[0], blocks[1], blocks[2], blocks[3]],
    })
}

/// A diffusers scheduler config read as photosift's Euler sampler: the noise schedule and
/// prediction type carry over whatever sampler the repository names (SD 2.1 ships DDIM's).
fn scheduler_config(j: &Json) -> Result<EulerConfig, SynthError> {
    let s = |x: &str| Value::String(x.to_string());
    j.require("beta_schedule", &[s("scaled_linear")])?;
    j.require("interpolation_type", &[s("linear")])?;
    j.require("use_karras_sigmas", &[false.into()])?;
    j.require("rescale_betas_zero_snr", &[false.into()])?;
    j.require("timestep_type", &[s("discrete")])?;
    j.require("final_sigmas_type", &[s("zero")])?;
    if let Some(v) = j.get("trained_betas") {
        return Err(j.err(format!("trained_betas = {v} is not supported by photosift")));
    }
    let prediction = match j.str("prediction_type", "epsilon")?.as_str() {
        "epsilon" => Prediction::Epsilon,
        "v_prediction" => Prediction::VPrediction,
        other => return Err(j.err(format!("prediction_type {other:?} is not supported"))),
    };
    // SD 1.x/2.x configs predate the key: their samplers spaced "leading".
    let spacing = match j.str("timestep_spacing", "leading")?.as_str() {
        "leading" => Spacing::Leading,
        "trailing" => Spacing::Trailing,
        other => {
            return Err(j.err(format!(
                "timestep_spacing {other:?} is not supported (\"leading\" or \"trailing\")"
            )));
        }
    };
    Ok(EulerConfig {
        train_timesteps: j.usize("num_train_timesteps", 1000)?,
        beta_start: j.f64("beta_start", 0.0001)?,
        beta_end: j.f64("beta_end", 0.02)?,
        spacing,
        prediction,
        steps_offset: j.usize("steps_offset", 0)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Json {
        Json { path: PathBuf::from("x/config.json"), v: serde_json::from_str(text).unwrap() }
    }

    #[test]
    fn unsupported_unet_options_are_refused_by_name() {
        let j = json(
            r#"{"block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D",
            "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
            "time_cond_proj_dim": 256}"#,
        );
        let err = unet_config(&j, None).unwrap_err().to_string();
        assert!(err.contains("time_cond_proj_dim") && err.contains("x/config.json"), "{err}");
    }

    #[test]
    fn head_counts_come_from_attention_head_dim_unless_num_attention_heads_is_set() {
        let base = r#""block_out_channels": [32, 64], "down_block_types": ["CrossAttnDownBlock2D",
            "DownBlock2D"], "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]"#;
        let a = unet_config(&json(&format!("{{{base}, \"attention_head_dim\": [2, 4]}}")), None)
            .unwrap();
        assert_eq!(a.blocks.iter().map(|b| b.attention_head_dim).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(a.blocks[0].use_cross_attn, Some(1));
        assert_eq!(a.blocks[1].use_cross_attn, None);
        let b = unet_config(
            &json(&format!("{{{base}, \"attention_head_dim\": 8, \"num_attention_heads\": 3}}")),
            None,
        )
        .unwrap();
        assert_eq!(b.blocks[1].attention_head_dim, 3);
    }

    #[test]
    fn scheduler_without_spacing_is_leading_and_linspace_is_refused() {
        let j = json(
            r#"{"_class_name": "DDIMScheduler", "beta_schedule": "scaled_linear",
            "beta_start": 0.00085, "beta_end": 0.012, "prediction_type": "v_prediction",
            "steps_offset": 1}"#,
        );
        let c = scheduler_config(&j).unwrap();
        assert_eq!(
            (c.spacing, c.prediction, c.steps_offset),
            (Spacing::Leading, Prediction::VPrediction, 1)
        );
        let err = scheduler_config(&json(r#"{"timestep_spacing": "linspace"}"#)).unwrap_err();
        assert!(err.to_string().contains("linspace"), "{err}");
    }
}
