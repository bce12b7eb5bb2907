//! TAESD, the tiny autoencoder for Stable Diffusion latents (Ollin Boer Bohan,
//! <https://github.com/madebyollin/taesd>): its decoder, which turns 4-channel SD 1.x/2.x latents
//! into RGB in about a hundredth of the full VAE's work.
//!
//! Architecture (taesd.py `Decoder`): `tanh(x/3)*3` -> conv(4,64) -> ReLU -> three times
//! [3 x Block(64) -> upsample x2 (nearest) -> conv(64,64, no bias)] -> Block(64) -> conv(64,3).
//! A Block is `ReLU(conv -> ReLU -> conv -> ReLU -> conv (x) + skip(x))`. The output is RGB in
//! about [0, 1]; the input is the UNet's latents as they are (TAESD's latent scale factor is 1).
//!
//! Two weight namings exist: the original `taesd_decoder.*` (`Sequential` indices with the clamp
//! at index 0: `1.weight`, `3.conv.0.weight`, ...) and diffusers' `AutoencoderTiny`
//! (`decoder.layers.0.weight`, `decoder.layers.2.conv.0.weight`, ...: no clamp entry).
//! [`TaesdDecoder::new`] reads either.

use candle_core::{Module, Result, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, VarBuilder, conv2d, conv2d_no_bias};

/// Decoder shape. The published weights are [`TaesdConfig::sd`]; tests use a narrow one.
#[derive(Debug, Clone, PartialEq)]
pub struct TaesdConfig {
    pub latent_channels: usize,
    /// Width of every hidden layer (64 in the published model).
    pub channels: usize,
    /// Blocks before each of the three upsamplings, then blocks before the output conv.
    pub blocks: [usize; 4],
}

impl TaesdConfig {
    /// madebyollin/taesd: SD 1.x and 2.x latents.
    pub fn sd() -> Self {
        Self { latent_channels: 4, channels: 64, blocks: [3, 3, 3, 1] }
    }
}

/// Which key layout the weights use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaesdNaming {
    /// `taesd_decoder.safetensors`: `<i>.…`, clamp at index 0.
    Original,
    /// diffusers `AutoencoderTiny`: `decoder.layers.<i>.…`, no clamp entry.
    Diffusers,
}

impl TaesdNaming {
    /// Guesses the layout from the keys present.
    pub fn detect(vb: &VarBuilder) -> Self {
        if vb.contains_tensor("decoder.layers.0.weight") {
            TaesdNaming::Diffusers
        } else {
            TaesdNaming::Original
        }
    }
}

#[derive(Debug, Clone)]
struct Block {
    conv: [Conv2d; 3],
}

impl Block {
    fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv2dConfig { padding: 1, ..Default::default() };
        let vb = vb.pp("conv");
        Ok(Self {
            conv: [
                conv2d(c, c, 3, cfg, vb.pp("0"))?,
                conv2d(c, c, 3, cfg, vb.pp("2"))?,
                conv2d(c, c, 3, cfg, vb.pp("4"))?,
            ],
        })
    }
}

impl Module for Block {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let h = self.conv[0].forward(xs)?.relu()?;
        let h = self.conv[1].forward(&h)?.relu()?;
        let h = self.conv[2].forward(&h)?;
        // in == out channels everywhere in the decoder: the skip is the identity.
        (h + xs)?.relu()
    }
}

#[derive(Debug, Clone)]
enum Layer {
    Conv(Conv2d),
    Relu,
    Block(Block),
    Upsample2x,
}

/// The TAESD decoder: latents `(b, 4, h/8, w/8)` to RGB `(b, 3, h, w)` in [0, 1].
#[derive(Debug, Clone)]
pub struct TaesdDecoder {
    layers: Vec<Layer>,
}

impl TaesdDecoder {
    /// Builds the decoder, reading whichever weight naming `vb` holds.
    pub fn new(cfg: &TaesdConfig, vb: VarBuilder) -> Result<Self> {
        let naming = TaesdNaming::detect(&vb);
        Self::with_naming(cfg, vb, naming)
    }

    pub fn with_naming(cfg: &TaesdConfig, vb: VarBuilder, naming: TaesdNaming) -> Result<Self> {
        // `idx` is the Sequential index of the next layer in the weight file.
        let (vb, mut idx) = match naming {
            TaesdNaming::Diffusers => (vb.pp("decoder").pp("layers"), 0),
            TaesdNaming::Original => (vb, 1),
        };
        let c = cfg.channels;
        let pad = Conv2dConfig { padding: 1, ..Default::default() };
        let mut layers = vec![Layer::Conv(conv2d(cfg.latent_channels, c, 3, pad, vb.pp(idx))?)];
        layers.push(Layer::Relu);
        idx += 2;
        let n_stages = cfg.blocks.len();
        for (stage, &n_blocks) in cfg.blocks.iter().enumerate() {
            for _ in 0..n_blocks {
                layers.push(Layer::Block(Block::new(c, vb.pp(idx))?));
                idx += 1;
            }
            if stage + 1 < n_stages {
                layers.push(Layer::Upsample2x);
                layers.push(Layer::Conv(conv2d_no_bias(c, c, 3, pad, vb.pp(idx + 1))?));
                idx += 2;
            } else {
                layers.push(Layer::Conv(conv2d(c, 3, 3, pad, vb.pp(idx))?));
            }
        }
        Ok(Self { layers })
    }

    /// Latents as the UNet produced them to RGB in [0, 1] (clamped).
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        self.forward(latents)?.clamp(0f32, 1f32)
    }
}

impl Module for TaesdDecoder {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // Soft clamp of the latents to [-3, 3].
        let mut xs = ((xs / 3.0)?.tanh()? * 3.0)?;
        for layer in &self.layers {
            xs = match layer {
                Layer::Conv(conv) => conv.forward(&xs)?,
                Layer::Relu => xs.relu()?,
                Layer::Block(block) => block.forward(&xs)?,
                Layer::Upsample2x => {
                    let (_, _, h, w) = xs.dims4()?;
                    xs.upsample_nearest2d(h * 2, w * 2)?
                }
            };
        }
        Ok(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn keys(naming: TaesdNaming) -> Vec<String> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        TaesdDecoder::with_naming(&TaesdConfig::sd(), vb, naming).unwrap();
        let mut k: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn original_naming_matches_taesd_py_indices() {
        let k = keys(TaesdNaming::Original);
        // conv(4,64) at 1, blocks at 3..=5, conv after the first upsample at 7, last conv at 19.
        for want in [
            "1.weight",
            "1.bias",
            "3.conv.0.weight",
            "3.conv.4.bias",
            "7.weight",
            "18.conv.2.weight",
            "19.weight",
            "19.bias",
        ] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
        assert!(!k.contains(&"7.bias".to_string()), "the conv after upsampling has no bias");
        // 1 in-conv (2) + 10 blocks (6 each) + 3 mid convs (1) + out conv (2).
        assert_eq!(k.len(), 2 + 60 + 3 + 2);
    }

    #[test]
    fn diffusers_naming_matches_autoencoder_tiny() {
        let k = keys(TaesdNaming::Diffusers);
        for want in [
            "decoder.layers.0.weight",
            "decoder.layers.2.conv.0.weight",
            "decoder.layers.6.weight",
            "decoder.layers.17.conv.4.bias",
            "decoder.layers.18.bias",
        ] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
    }

    #[test]
    fn decodes_eight_times_larger_rgb_in_unit_range() {
        let cfg = TaesdConfig { latent_channels: 4, channels: 8, blocks: [1, 1, 1, 1] };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let dec = TaesdDecoder::new(&cfg, vb).unwrap();
        let z = Tensor::randn(0f32, 1.0, (1, 4, 4, 6), &Device::Cpu).unwrap();
        let img = dec.decode(&z).unwrap();
        assert_eq!(img.dims(), &[1, 3, 32, 48]);
        let v: Vec<f32> = img.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}
