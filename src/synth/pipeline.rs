//! Text to image: tokenize, encode the prompt with CLIP, denoise seeded latents with the UNet
//! and the Euler sampler (optionally with classifier-free guidance), decode with TAESD or the
//! full VAE.

use std::path::Path;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::unet_2d::UNet2DConditionModel;
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKL;
use image::RgbImage;
use tokenizers::Tokenizer;

use super::SynthError;
use super::models::{DecoderKind, SdArch};
use super::scheduler::EulerScheduler;
use super::taesd::TaesdDecoder;
use crate::model::clip::ClipTextEncoder;

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
        let mut tokenizer = tokenizer;
        let pad = arch.clip.pad_with.as_deref().unwrap_or("<|endoftext|>");
        let pad_id = crate::model::clip::tokenizer::register_pad(&mut tokenizer, pad)?;
        let part = |what: &str| {
            let what = what.to_string();
            move |e: candle_core::Error| SynthError::Weights(format!("{what}: {e}"))
        };
        let clip = ClipTextEncoder::new(&arch.clip, clip_vb).map_err(part("text encoder"))?;
        let unet = UNet2DConditionModel::new(unet_vb, 4, 4, false, arch.unet.clone())
            .map_err(part("UNet"))?;
        let decoder = match decoder {
            DecoderKind::Taesd => Decoder::Taesd(
                TaesdDecoder::new(&arch.taesd, decoder_vb).map_err(part("TAESD decoder"))?,
            ),
            DecoderKind::Vae => Decoder::Vae(Box::new(
                AutoEncoderKL::new(decoder_vb, 3, 3, arch.vae.clone()).map_err(part("VAE"))?,
            )),
        };
        Ok(Self { arch, tokenizer, clip, unet, decoder, device, dtype, pad_id })
    }

    /// Loads the weight files of the text encoder, the UNet and the decoder (safetensors, any
    /// float type: they are converted to `dtype`).
    pub fn load(
        arch: SdArch,
        tokenizer: Tokenizer,
        [clip, unet, dec]: [&Path; 3],
        decoder: DecoderKind,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, SynthError> {
        let mmap = |p: &Path| -> Result<VarBuilder<'static>, SynthError> {
            // Safety: the files are not modified while mapped (they sit in the hub cache or the
            // library's models folder, written once).
            unsafe { VarBuilder::from_mmaped_safetensors(&[p], dtype, device) }
                .map_err(|e| SynthError::Weights(format!("{}: {e}", p.display())))
        };
        Self::new(arch, tokenizer, mmap(clip)?, mmap(unet)?, decoder, mmap(dec)?).map_err(|e| {
            match e {
                SynthError::Weights(msg) => SynthError::Weights(format!(
                    "{msg} (text encoder {}, UNet {}, decoder {})",
                    clip.display(),
                    unet.display(),
                    dec.display()
                )),
                e => e,
            }
        })
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

    /// One UNet evaluation: the predicted noise (or velocity) for `latents` at timestep `t`.
    pub fn unet_forward(
        &self,
        latents: &Tensor,
        t: f64,
        context: &Tensor,
    ) -> Result<Tensor, SynthError> {
        Ok(self.unet.forward(latents, t, context)?)
    }

    /// One UNet evaluation with guidance, then one sampler step. With guidance the two passes
    /// share one batch unless their attention would need more than [`JOINT_ATTENTION_BYTES`]:
    /// then they run one after the other (the same numbers, half the peak memory).
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
                let (_, _, h, w) = input.dims4()?;
                let joint = attention_peak_bytes(&self.arch, h, w, 2) <= JOINT_ATTENTION_BYTES;
                let (u, c) = if joint {
                    let both = self.unet.forward(
                        &Tensor::cat(&[&input, &input], 0)?,
                        t,
                        &Tensor::cat(&[uncond, cond], 0)?,
                    )?;
                    (both.get(0)?.unsqueeze(0)?, both.get(1)?.unsqueeze(0)?)
                } else {
                    (self.unet.forward(&input, t, uncond)?, self.unet.forward(&input, t, cond)?)
                };
                (&u + ((c - &u)? * guidance)?)?
            }
            None => self.unet.forward(&input, t, cond)?,
        };
        Ok(sched.step(&eps, i, latents)?)
    }

    /// Denoises `noise` (unit variance, `(1, 4, h/8, w/8)`) into final latents for `prompt`.
    /// `None` once `cancelled()` says so (checked before each step).
    pub fn sample_latents(
        &self,
        prompt: &str,
        noise: &Tensor,
        steps: usize,
        guidance: f64,
        on_stage: &mut dyn FnMut(Stage),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<Tensor>, SynthError> {
        let (_, _, h, w) = noise.dims4()?;
        let passes = if guidance > 1.0 { 2 } else { 1 };
        let batch = if attention_peak_bytes(&self.arch, h, w, passes) <= JOINT_ATTENTION_BYTES {
            passes
        } else {
            1
        };
        if self.device.is_cpu() {
            check_attention_memory(&self.arch, h, w, batch, available_memory())?;
        }
        on_stage(Stage::TextEncoder);
        let cond = self.encode_prompt(prompt)?;
        let uncond = if guidance > 1.0 { Some(self.encode_prompt("")?) } else { None };
        let sched = self.arch.scheduler.build(steps.max(1));
        let mut latents = (noise * sched.init_noise_sigma())?;
        let steps = sched.timesteps().len();
        for i in 0..steps {
            if cancelled() {
                return Ok(None);
            }
            on_stage(Stage::Denoise { step: i, steps });
            latents = self.denoise_step(&sched, i, &latents, &cond, uncond.as_ref(), guidance)?;
        }
        Ok(Some(latents))
    }

    /// The decoder's output for `latents`, `(1, 3, h, w)`, about [0, 1] but not clamped.
    pub fn decode_raw(&self, latents: &Tensor) -> Result<Tensor, SynthError> {
        Ok(match &self.decoder {
            Decoder::Taesd(taesd) => taesd.forward(latents)?,
            Decoder::Vae(vae) => {
                let x = vae.decode(&(latents / self.arch.vae_scale)?)?;
                ((x / 2.0)? + 0.5)?
            }
        })
    }

    /// Latents to an `(h, w)` RGB image.
    pub fn decode(&self, latents: &Tensor) -> Result<RgbImage, SynthError> {
        to_rgb(&self.decode_raw(latents)?.clamp(0f32, 1f32)?)
    }

    /// Runs the whole pipeline. `None` once `cancelled()` says so (checked between stages).
    pub fn generate(
        &self,
        prompt: &str,
        p: &GenerateParams,
        on_stage: &mut dyn FnMut(Stage),
        cancelled: &dyn Fn() -> bool,
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
        let noise = self.initial_noise(p)?;
        let Some(latents) =
            self.sample_latents(prompt, &noise, p.steps, p.guidance, on_stage, cancelled)?
        else {
            return Ok(None);
        };
        if cancelled() {
            return Ok(None);
        }
        on_stage(Stage::Decode);
        self.decode(&latents).map(Some)
    }
}

/// Above this, the guided passes run one after the other rather than as one batch.
pub const JOINT_ATTENTION_BYTES: u64 = 1 << 30;

/// The most memory attention holds at once in one UNet evaluation of `batch` latents of
/// `h x w`: a self-attention's scores and their softmax, both `(batch * heads, n, n)` f32
/// (candle computes attention in f32 whatever the weights' type), at the level with the most
/// `heads * n^2`. sd21 at 768 px: 96 x 96 latents, 5 heads, 1.7 GB per score tensor and image.
pub fn attention_peak_bytes(arch: &SdArch, h: usize, w: usize, batch: usize) -> u64 {
    let blocks = &arch.unet.blocks;
    let mut worst = 0u64;
    let (mut lh, mut lw) = (h as u64, w as u64);
    for (level, block) in blocks.iter().enumerate() {
        let mid = level + 1 == blocks.len();
        if block.use_cross_attn.is_some() || mid {
            let n = lh * lw;
            worst = worst.max(block.attention_head_dim as u64 * n * n);
        }
        if !mid {
            lh = lh.div_ceil(2);
            lw = lw.div_ceil(2);
        }
    }
    2 * 4 * batch as u64 * worst
}

/// Refuses a generation whose attention alone would not fit in `available` bytes (when
/// known), saying how much it needs and what to change.
pub fn check_attention_memory(
    arch: &SdArch,
    h: usize,
    w: usize,
    batch: usize,
    available: Option<u64>,
) -> Result<(), SynthError> {
    let need = attention_peak_bytes(arch, h, w, batch);
    match available {
        Some(avail) if need > avail => {
            let gb = |b: u64| b as f64 / 1e9;
            Err(SynthError::Config(format!(
                "{}x{} px needs about {:.1} GB of memory for the UNet's attention on top of the                  loaded weights, and {:.1} GB are available: use a smaller [seed] size (512),                  or guidance <= 1, or a machine with more memory",
                w * arch.downscale,
                h * arch.downscale,
                gb(need),
                gb(avail)
            )))
        }
        _ => Ok(()),
    }
}

/// `MemAvailable` from /proc/meminfo; `None` where there is no such file.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
    fn sd21_at_768_attention_is_measured_and_refused_when_it_cannot_fit() {
        let arch = super::super::models::SdModel::Sd21.arch();
        // 96 x 96 latents, 5 heads at the first level: 1.70 GB per score tensor and image.
        let one = attention_peak_bytes(&arch, 96, 96, 1);
        assert_eq!(one, 2 * 4 * 5 * 9216u64.pow(2));
        assert_eq!(attention_peak_bytes(&arch, 96, 96, 2), 2 * one);
        assert!(one > JOINT_ATTENTION_BYTES, "guided passes run one at a time at 768 px");
        let turbo = super::super::models::SdModel::SdTurbo.arch();
        assert!(attention_peak_bytes(&turbo, 64, 64, 1) < JOINT_ATTENTION_BYTES);
        let err = check_attention_memory(&arch, 96, 96, 1, Some(2_000_000_000)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("768x768") && msg.contains("3.4 GB") && msg.contains("2.0 GB"),
            "{msg}"
        );
        assert!(check_attention_memory(&arch, 96, 96, 1, Some(8_000_000_000)).is_ok());
        assert!(check_attention_memory(&arch, 96, 96, 1, None).is_ok());
    }

    #[test]
    fn candle_sliced_attention_is_still_unusable() {
        // Why photosift splits the guided batch instead of setting `sliced_attention_size`:
        // candle 0.11 stacks the slices into (slices, size, n, d) and its next reshape wants 3
        // dimensions. When this starts passing, candle's slicing can be turned on.
        use candle_transformers::models::stable_diffusion::attention::CrossAttention;
        let vb = super::super::tiny::random_weights(DType::F32, &Device::Cpu);
        let sliced = CrossAttention::new(vb.clone(), 8, None, 2, 4, Some(1), false).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 6, 8), &Device::Cpu).unwrap();
        assert!(sliced.forward(&x, None).is_err(), "candle's sliced attention works now");
        let whole = CrossAttention::new(vb, 8, None, 2, 4, None, false).unwrap();
        assert!(whole.forward(&x, None).is_ok());
    }

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
