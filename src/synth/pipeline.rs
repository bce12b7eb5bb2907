//! Text to image: tokenize, encode the prompt with CLIP, denoise seeded latents with the UNet
//! and the Euler sampler (optionally with classifier-free guidance), decode with TAESD or the
//! full VAE.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModel;
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKL;
use image::RgbImage;
use tokenizers::Tokenizer;

use super::SynthError;
use super::clip::ClipTextEncoder;
use super::models::{DecoderKind, ModelFiles, SdArch};
use super::scheduler::EulerScheduler;
use super::taesd::TaesdDecoder;

/// What one image is made with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateParams {
    pub width: usize,
    pub height: usize,
    pub steps: usize,
    /// Classifier-free guidance scale; at or below 1 the unconditional pass is skipped.
    pub guidance: f64,
    pub seed: u64,
}

/// Where a generation is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    TextEncoder,
    /// Starting UNet step `step` (0-based) of `steps`.
    Denoise {
        step: usize,
        steps: usize,
    },
    Decode,
}

enum Decoder {
    Taesd(TaesdDecoder),
    Vae(Box<AutoEncoderKL>),
}

/// A loaded Stable Diffusion model. Compute is synchronous and CPU-heavy: run it on a
/// blocking thread.
pub struct Pipeline {
    arch: SdArch,
    tokenizer: Tokenizer,
    clip: ClipTextEncoder,
    unet: UNet2DConditionModel,
    decoder: Decoder,
    device: Device,
    dtype: DType,
    pad_id: u32,
}

/// The default device: a GPU when candle was built with one and it is present, else the CPU.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(dev) = Device::cuda_if_available(0) {
        return dev;
    }
    #[cfg(feature = "metal")]
    if let Ok(dev) = Device::metal_if_available(0) {
        return dev;
    }
    Device::Cpu
}

impl Pipeline {
    /// Builds the pipeline from a tokenizer and one weight source per network.
    pub fn new(
        arch: SdArch,
        tokenizer: Tokenizer,
        clip_vb: VarBuilder,
        unet_vb: VarBuilder,
        decoder: DecoderKind,
        decoder_vb: VarBuilder,
    ) -> Result<Self, SynthError> {
        let device = unet_vb.device().clone();
        let dtype = unet_vb.dtype();
        let pad = arch.clip.pad_with.as_deref().unwrap_or("<|endoftext|>");
        let pad_id = tokenizer.token_to_id(pad).ok_or_else(|| {
            SynthError::Tokenizer(format!("the tokenizer has no padding token {pad:?}"))
        })?;
        let clip = ClipTextEncoder::new(&arch.clip, clip_vb)?;
        let unet = UNet2DConditionModel::new(unet_vb, 4, 4, false, arch.unet.clone())?;
        let decoder = match decoder {
            DecoderKind::Taesd => Decoder::Taesd(TaesdDecoder::new(&arch.taesd, decoder_vb)?),
            DecoderKind::Vae => {
                Decoder::Vae(Box::new(AutoEncoderKL::new(decoder_vb, 3, 3, arch.vae.clone())?))
            }
        };
        Ok(Self { arch, tokenizer, clip, unet, decoder, device, dtype, pad_id })
    }

    /// Loads the weight files (safetensors, any float type: they are converted to `dtype`).
    pub fn load(
        arch: SdArch,
        files: &ModelFiles,
        paths: &[impl AsRef<Path>; 4],
        decoder: DecoderKind,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, SynthError> {
        let [tok, clip, unet, dec] = paths;
        let tokenizer = Tokenizer::from_file(tok.as_ref()).map_err(|e| {
            SynthError::Tokenizer(format!(
                "{} ({}): {e}",
                tok.as_ref().display(),
                files.tokenizer.file
            ))
        })?;
        let mmap = |p: &Path| -> Result<VarBuilder<'static>, SynthError> {
            // Safety: the files are not modified while mapped (they sit in the hub cache or the
            // library's models folder, written once).
            unsafe { VarBuilder::from_mmaped_safetensors(&[p], dtype, device) }
                .map_err(|e| SynthError::Weights(format!("{}: {e}", p.display())))
        };
        Self::new(
            arch,
            tokenizer,
            mmap(clip.as_ref())?,
            mmap(unet.as_ref())?,
            decoder,
            mmap(dec.as_ref())?,
        )
    }

    pub fn arch(&self) -> &SdArch {
        &self.arch
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Token ids padded (or cut) to the text encoder's 77 positions, ending in the end token.
    pub fn tokenize(&self, prompt: &str) -> Result<Vec<u32>, SynthError> {
        let max = self.arch.clip.max_position_embeddings;
        let enc = self
            .tokenizer
            .encode(prompt, true)
            .map_err(|e| SynthError::Tokenizer(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        if ids.len() > max {
            tracing::warn!("prompt {prompt:?} is longer than {max} tokens: the rest is ignored");
            let last = ids[ids.len() - 1];
            ids.truncate(max);
            ids[max - 1] = last;
        }
        ids.resize(max, self.pad_id);
        Ok(ids)
    }

    /// The prompt's CLIP hidden states `(1, 77, d)`.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Tensor, SynthError> {
        let ids = self.tokenize(prompt)?;
        let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(0)?;
        Ok(self.clip.forward(&ids)?.to_dtype(self.dtype)?)
    }

    /// Seeded starting noise `(1, 4, h/8, w/8)`, the same on every machine.
    pub fn initial_noise(&self, p: &GenerateParams) -> Result<Tensor, SynthError> {
        let (h, w) = (p.height / self.arch.downscale, p.width / self.arch.downscale);
        let noise = gaussian_noise(p.seed, 4 * h * w);
        Ok(Tensor::from_vec(noise, (1, 4, h, w), &self.device)?.to_dtype(self.dtype)?)
    }

    /// One UNet evaluation with guidance, then one sampler step.
    pub fn denoise_step(
        &self,
        sched: &EulerScheduler,
        i: usize,
        latents: &Tensor,
        cond: &Tensor,
        uncond: Option<&Tensor>,
        guidance: f64,
    ) -> Result<Tensor, SynthError> {
        let t = sched.timesteps()[i] as f64;
        let input = sched.scale_model_input(latents, i)?;
        let eps = match uncond {
            Some(uncond) => {
                let both = self.unet.forward(
                    &Tensor::cat(&[&input, &input], 0)?,
                    t,
                    &Tensor::cat(&[uncond, cond], 0)?,
                )?;
                let (u, c) = (both.get(0)?.unsqueeze(0)?, both.get(1)?.unsqueeze(0)?);
                (&u + ((c - &u)? * guidance)?)?
            }
            None => self.unet.forward(&input, t, cond)?,
        };
        Ok(sched.step(&eps, i, latents)?)
    }

    /// Latents to an `(h, w)` RGB image.
    pub fn decode(&self, latents: &Tensor) -> Result<RgbImage, SynthError> {
        let img = match &self.decoder {
            Decoder::Taesd(taesd) => taesd.decode(latents)?,
            Decoder::Vae(vae) => {
                let x = vae.decode(&(latents / self.arch.vae_scale)?)?;
                ((x / 2.0)? + 0.5)?.clamp(0f32, 1f32)?
            }
        };
        to_rgb(&img)
    }

    /// Runs the whole pipeline. `None` when `cancel` was raised (checked between stages).
    pub fn generate(
        &self,
        prompt: &str,
        p: &GenerateParams,
        on_stage: &mut dyn FnMut(Stage),
        cancel: &AtomicBool,
    ) -> Result<Option<RgbImage>, SynthError> {
        let step = self.arch.downscale;
        if !p.width.is_multiple_of(step)
            || !p.height.is_multiple_of(step)
            || p.width == 0
            || p.height == 0
        {
            return Err(SynthError::Config(format!(
                "image size {}x{} must be a positive multiple of {step}",
                p.width, p.height
            )));
        }
        on_stage(Stage::TextEncoder);
        let cond = self.encode_prompt(prompt)?;
        let uncond = if p.guidance > 1.0 { Some(self.encode_prompt("")?) } else { None };
        let sched = self.arch.scheduler.build(p.steps.max(1));
        let mut latents = (self.initial_noise(p)? * sched.init_noise_sigma())?;
        let steps = sched.timesteps().len();
        for i in 0..steps {
            if cancel.load(Ordering::Relaxed) {
                return Ok(None);
            }
            on_stage(Stage::Denoise { step: i, steps });
            latents = self.denoise_step(&sched, i, &latents, &cond, uncond.as_ref(), p.guidance)?;
        }
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
        on_stage(Stage::Decode);
        self.decode(&latents).map(Some)
    }
}

/// `(1, 3, h, w)` in [0, 1] to 8-bit RGB.
fn to_rgb(img: &Tensor) -> Result<RgbImage, SynthError> {
    let (_, _, h, w) = img.dims4()?;
    let bytes: Vec<u8> = (img.get(0)?.permute((1, 2, 0))? * 255.0)?
        .round()?
        .to_dtype(DType::U8)?
        .flatten_all()?
        .to_vec1()?;
    RgbImage::from_raw(w as u32, h as u32, bytes)
        .ok_or_else(|| SynthError::Config("decoded image has the wrong size".to_string()))
}

/// Standard normal samples from SplitMix64 and Box-Muller: reproducible across machines and
/// candle versions, unlike a device RNG.
pub fn gaussian_noise(seed: u64, n: usize) -> Vec<f32> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // u1 in (0, 1], u2 in [0, 1): 53 random bits each.
        let u1 = ((next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (next() >> 11) as f64 / (1u64 << 53) as f64;
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        out.push((r * theta.cos()) as f32);
        out.push((r * theta.sin()) as f32);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_reproducible_and_standard_normal() {
        let a = gaussian_noise(42, 100_000);
        assert_eq!(a, gaussian_noise(42, 100_000));
        assert_ne!(a[..10], gaussian_noise(43, 10)[..]);
        let mean = a.iter().map(|&x| x as f64).sum::<f64>() / a.len() as f64;
        let var = a.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "{mean} {var}");
    }
}
