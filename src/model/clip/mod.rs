//! CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
//! Supervision") in the Hugging Face `CLIPModel` weight layout: the image tower (a ViT: patch
//! embedding, class token, pre-norm transformer), the text tower (a causal transformer pooled at
//! the end token), their projections into one space, and the logit scale.
//!
//! The text tower is also Stable Diffusion's text encoder ([`ClipTextEncoder`], used by
//! `synth`), so there is one CLIP transformer in photosift, not two: its encoder layer serves
//! the SD text encoder (QuickGELU or GELU), CLIP's text tower and CLIP's image tower.
//! candle-transformers' `clip` module has the same network, but its activation has no GELU
//! (SD 2.x's OpenCLIP text encoder needs it) and its text config cannot read transformers 5's
//! unprefixed key layout, so synth could not use it; tests/it/clip_parity.rs proves this one
//! against transformers' `CLIPModel`.
//!
//! `layer` is the transformer layer in candle's ops (a GPU, f16) and `packed` the same layer on
//! the CPU in f32, over plain row buffers; [`tokenizer`] is CLIP's byte-level BPE; [`load`]
//! finds the weights (a folder, the hub).

mod layer;
pub mod load;
mod packed;
pub mod tokenizer;

use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm};
use serde_json::Value;

use super::kernels::pointwise::{Epilogue, PackedPointwise};
pub use layer::Activation;
use layer::{CandleLayer, LayerDims};

/// Stored under this backbone id: the projected, L2-normalized image embedding of CLIP
/// ViT-B/32 (`[embed] backbone = "clip-b32"`).
pub const CLIP_B32_BACKBONE_ID: &str = "clip-b32";

/// CLIP's image normalization (`CLIPImageProcessor`'s `image_mean` / `image_std`).
pub const IMAGE_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const IMAGE_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// transformers' `CLIPTextConfig` (the keys photosift reads).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipTextConfig {
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub activation: Activation,
    /// The token that pads prompts to `max_position_embeddings` (Stable Diffusion pads; CLIP's
    /// pooled embedding does not need it); `None`: the end token.
    pub pad_with: Option<String>,
}

/// transformers' `CLIPVisionConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipVisionConfig {
    pub embed_dim: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub activation: Activation,
}

/// transformers' `CLIPConfig`: both towers and the shared space.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipConfig {
    pub text: ClipTextConfig,
    pub vision: ClipVisionConfig,
    pub projection_dim: usize,
    /// ln(1/0.07): the logit scale of a checkpoint that does not store one.
    pub logit_scale_init_value: f32,
}

impl ClipTextConfig {
    /// openai/clip-vit-large-patch14, SD 1.5's text encoder.
    pub fn v1_5() -> Self {
        Self {
            vocab_size: 49408,
            embed_dim: 768,
            intermediate_size: 3072,
            max_position_embeddings: 77,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            activation: Activation::QuickGelu,
            pad_with: None,
        }
    }

    /// SD 2.1 and sd-turbo: OpenCLIP ViT-H/14 without its last layer.
    pub fn v2_1() -> Self {
        Self {
            vocab_size: 49408,
            embed_dim: 1024,
            intermediate_size: 4096,
            max_position_embeddings: 77,
            num_hidden_layers: 23,
            num_attention_heads: 16,
            activation: Activation::Gelu,
            pad_with: Some("!".to_string()),
        }
    }

    /// The text tower of openai/clip-vit-base-patch32.
    pub fn vit_b32() -> Self {
        Self {
            vocab_size: 49408,
            embed_dim: 512,
            intermediate_size: 2048,
            max_position_embeddings: 77,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            activation: Activation::QuickGelu,
            pad_with: None,
        }
    }

    /// A `CLIPTextConfig` as JSON (a `config.json`, or `CLIPConfig`'s `text_config`); a missing
    /// key keeps transformers' default, as transformers does.
    pub fn from_hf(j: &Value, pad_with: Option<String>) -> std::result::Result<Self, String> {
        check_layer_norm_eps(j)?;
        Ok(Self {
            vocab_size: hf_usize(j, "vocab_size", 49408)?,
            embed_dim: hf_usize(j, "hidden_size", 512)?,
            intermediate_size: hf_usize(j, "intermediate_size", 2048)?,
            max_position_embeddings: hf_usize(j, "max_position_embeddings", 77)?,
            num_hidden_layers: hf_usize(j, "num_hidden_layers", 12)?,
            num_attention_heads: hf_usize(j, "num_attention_heads", 8)?,
            activation: Activation::from_hf(hf_str(j, "hidden_act", "quick_gelu")?)?,
            pad_with,
        })
    }
}

impl ClipVisionConfig {
    /// The image tower of openai/clip-vit-base-patch32.
    pub fn vit_b32() -> Self {
        Self {
            embed_dim: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            image_size: 224,
            patch_size: 32,
            activation: Activation::QuickGelu,
        }
    }

    /// A `CLIPVisionConfig` as JSON; a missing key keeps transformers' default.
    pub fn from_hf(j: &Value) -> std::result::Result<Self, String> {
        check_layer_norm_eps(j)?;
        let channels = hf_usize(j, "num_channels", 3)?;
        if channels != 3 {
            return Err(format!("num_channels {channels} is not supported (3)"));
        }
        let c = Self {
            embed_dim: hf_usize(j, "hidden_size", 768)?,
            intermediate_size: hf_usize(j, "intermediate_size", 3072)?,
            num_hidden_layers: hf_usize(j, "num_hidden_layers", 12)?,
            num_attention_heads: hf_usize(j, "num_attention_heads", 12)?,
            image_size: hf_usize(j, "image_size", 224)?,
            patch_size: hf_usize(j, "patch_size", 32)?,
            activation: Activation::from_hf(hf_str(j, "hidden_act", "quick_gelu")?)?,
        };
        if c.patch_size == 0 || !c.image_size.is_multiple_of(c.patch_size) {
            return Err(format!(
                "image_size {} is not a multiple of patch_size {}",
                c.image_size, c.patch_size
            ));
        }
        Ok(c)
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }
}

impl ClipConfig {
    /// openai/clip-vit-base-patch32.
    pub fn vit_b32() -> Self {
        Self {
            text: ClipTextConfig::vit_b32(),
            vision: ClipVisionConfig::vit_b32(),
            projection_dim: 512,
            logit_scale_init_value: 2.6592,
        }
    }

    /// A `CLIPModel`'s `config.json`.
    pub fn from_hf(j: &Value) -> std::result::Result<Self, String> {
        let empty = Value::Object(Default::default());
        let part = |key: &str| j.get(key).unwrap_or(&empty);
        Ok(Self {
            text: ClipTextConfig::from_hf(part("text_config"), None)?,
            vision: ClipVisionConfig::from_hf(part("vision_config"))?,
            projection_dim: hf_usize(j, "projection_dim", 512)?,
            logit_scale_init_value: j
                .get("logit_scale_init_value")
                .and_then(Value::as_f64)
                .unwrap_or(2.6592) as f32,
        })
    }
}

fn hf_usize(j: &Value, key: &str, default: usize) -> std::result::Result<usize, String> {
    match j.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("{key} is {v}, not a whole number")),
    }
}

fn hf_str<'a>(j: &'a Value, key: &str, default: &'a str) -> std::result::Result<&'a str, String> {
    match j.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_str().ok_or_else(|| format!("{key} is {v}, not a string")),
    }
}

fn check_layer_norm_eps(j: &Value) -> std::result::Result<(), String> {
    let eps = j.get("layer_norm_eps").and_then(Value::as_f64).unwrap_or(1e-5);
    if (eps - 1e-5).abs() > 1e-12 {
        return Err(format!("layer_norm_eps {eps} is not supported (1e-5)"));
    }
    Ok(())
}

/// A tower's layers: packed on the CPU in f32, candle's elsewhere (a GPU, f16).
#[derive(Debug, Clone)]
enum Encoder {
    Packed(Vec<packed::PackedLayer>),
    Candle(Vec<CandleLayer>),
}

impl Encoder {
    /// Layers `encoder.layers.0..n` under `vb`.
    fn new(n: usize, c: LayerDims, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("encoder").pp("layers");
        if vb.device().is_cpu() && vb.dtype() == DType::F32 {
            let layers = (0..n).map(|i| packed::PackedLayer::new(c, vb.pp(i)));
            Ok(Self::Packed(layers.collect::<Result<_>>()?))
        } else {
            Ok(Self::Candle((0..n).map(|i| CandleLayer::new(c, vb.pp(i))).collect::<Result<_>>()?))
        }
    }

    /// `(b, n, d)` states through every layer; `causal`: token i attends to 0..=i only.
    fn forward(&self, xs: &Tensor, causal: bool) -> Result<Tensor> {
        let (batch, tokens, d) = xs.dims3()?;
        match self {
            Self::Packed(layers) => {
                let mut x: Vec<f32> = xs.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
                let rows = packed::Rows { batch, tokens, causal };
                packed::Scratch::with(|scratch| {
                    layers.iter().try_for_each(|layer| layer.forward(&mut x, rows, scratch))
                })?;
                Tensor::from_vec(x, (batch, tokens, d), xs.device())
            }
            Self::Candle(layers) => {
                let mask =
                    causal.then(|| causal_mask(tokens, xs.dtype(), xs.device())).transpose()?;
                let mut xs = xs.clone();
                for layer in layers {
                    xs = layer.forward(&xs, mask.as_ref())?;
                }
                Ok(xs)
            }
        }
    }
}

/// Causal mask: token i attends to tokens 0..=i.
fn causal_mask(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..n)
        .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (n, n), device)?.to_dtype(dtype)
}

/// The text transformer: token ids `(b, n)` to hidden states `(b, n, embed_dim)` (Stable
/// Diffusion's conditioning), or, through [`ClipModel::text_features`], CLIP's text embedding.
#[derive(Debug, Clone)]
pub struct ClipTextEncoder {
    token_embedding: Embedding,
    position_embedding: Embedding,
    encoder: Encoder,
    final_layer_norm: LayerNorm,
}

impl ClipTextEncoder {
    /// Reads either key layout: `text_model.…` (transformers 4, every SD repository and
    /// `CLIPModel` checkpoint today) or the same names without the prefix
    /// (`CLIPTextModel.save_pretrained` in transformers 5).
    pub fn new(c: &ClipTextConfig, vb: VarBuilder) -> Result<Self> {
        let unprefixed = vb.contains_tensor("embeddings.token_embedding.weight")
            && !vb.contains_tensor("text_model.embeddings.token_embedding.weight");
        let vb = if unprefixed { vb } else { vb.pp("text_model") };
        let emb = vb.pp("embeddings");
        let dims = LayerDims {
            embed_dim: c.embed_dim,
            intermediate_size: c.intermediate_size,
            heads: c.num_attention_heads,
            activation: c.activation,
        };
        Ok(Self {
            token_embedding: embedding(c.vocab_size, c.embed_dim, emb.pp("token_embedding"))?,
            position_embedding: embedding(
                c.max_position_embeddings,
                c.embed_dim,
                emb.pp("position_embedding"),
            )?,
            encoder: Encoder::new(c.num_hidden_layers, dims, vb.clone())?,
            final_layer_norm: layer_norm(c.embed_dim, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }
}

impl Module for ClipTextEncoder {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, n) = ids.dims2()?;
        let positions = Tensor::arange(0u32, n as u32, ids.device())?;
        let xs = self
            .token_embedding
            .forward(ids)?
            .broadcast_add(&self.position_embedding.forward(&positions)?)?;
        self.final_layer_norm.forward(&self.encoder.forward(&xs, true)?)
    }
}

/// The image transformer: pixels `(b, 3, s, s)`, normalized with [`IMAGE_MEAN`] and
/// [`IMAGE_STD`], to the pooled (class token) state `(b, embed_dim)`.
#[derive(Debug, Clone)]
pub struct ClipVisionEncoder {
    /// The patch convolution: a stride-p, p×p convolution is one matrix product over the
    /// flattened patches.
    patch_embedding: PatchProduct,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layernorm: LayerNorm,
    encoder: Encoder,
    post_layernorm: LayerNorm,
    patch: usize,
    image_size: usize,
}

impl ClipVisionEncoder {
    pub fn new(c: &ClipVisionConfig, vb: VarBuilder) -> Result<Self> {
        let d = c.embed_dim;
        let p = c.patch_size;
        let emb = vb.pp("embeddings");
        let conv = emb.get((d, 3, p, p), "patch_embedding.weight")?;
        let dims = LayerDims {
            embed_dim: d,
            intermediate_size: c.intermediate_size,
            heads: c.num_attention_heads,
            activation: c.activation,
        };
        Ok(Self {
            patch_embedding: PatchProduct::new(&conv.reshape((d, 3 * p * p))?)?,
            class_embedding: emb.get(d, "class_embedding")?,
            position_embedding: emb
                .get((c.grid() * c.grid() + 1, d), "position_embedding.weight")?,
            // Sic: transformers' key for the norm before the encoder.
            pre_layernorm: layer_norm(d, 1e-5, vb.pp("pre_layrnorm"))?,
            encoder: Encoder::new(c.num_hidden_layers, dims, vb.clone())?,
            post_layernorm: layer_norm(d, 1e-5, vb.pp("post_layernorm"))?,
            patch: p,
            image_size: c.image_size,
        })
    }

    /// `(b, 3, s, s)` pixels to `(b, 1 + g², embed_dim)` tokens: the class token, then the
    /// patches row by row, each plus its position.
    fn embeddings(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = pixels.dims4()?;
        let p = self.patch;
        if c != 3 || h != self.image_size || w != self.image_size {
            candle_core::bail!(
                "CLIP expects (b, 3, {s}, {s}) pixels, got {:?}",
                pixels.dims(),
                s = self.image_size
            );
        }
        let (gh, gw) = (h / p, w / p);
        // (b, 3, gh, p, gw, p) -> (b, gh, gw, 3, p, p): each patch flattened as the conv's
        // weight is (channel, row, column).
        let patches = pixels
            .reshape((b, c, gh, p, gw, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * gh * gw, c * p * p))?;
        let d = self.class_embedding.dim(0)?;
        let patch_embeds = self.patch_embedding.forward(&patches)?.reshape((b, gh * gw, d))?;
        let class = self.class_embedding.reshape((1, 1, d))?.broadcast_as((b, 1, d))?;
        Tensor::cat(&[&class.contiguous()?, &patch_embeds], 1)?
            .broadcast_add(&self.position_embedding.unsqueeze(0)?)
    }
}

impl Module for ClipVisionEncoder {
    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let xs = self.pre_layernorm.forward(&self.embeddings(pixels)?)?;
        let xs = self.encoder.forward(&xs, false)?;
        self.post_layernorm.forward(&xs.i((.., 0, ..))?.contiguous()?)
    }
}

/// The patch embedding's product `(patches, 3·p·p) → (patches, d)`: packed on the CPU in f32,
/// candle's matmul elsewhere.
#[derive(Debug, Clone)]
enum PatchProduct {
    Packed(PackedPointwise),
    /// The weight transposed, `(3·p·p, d)`.
    Candle(Tensor),
}

impl PatchProduct {
    /// `weight` is `(d, 3·p·p)`.
    fn new(weight: &Tensor) -> Result<Self> {
        let (d, k) = weight.dims2()?;
        if weight.device().is_cpu() && weight.dtype() == DType::F32 {
            let w: Vec<f32> = weight.flatten_all()?.to_vec1()?;
            Ok(Self::Packed(PackedPointwise::new(&w, &vec![0.0; d], k, d, Epilogue::None)))
        } else {
            Ok(Self::Candle(weight.t()?.contiguous()?))
        }
    }

    fn forward(&self, patches: &Tensor) -> Result<Tensor> {
        match self {
            Self::Packed(p) => {
                let (rows, _) = patches.dims2()?;
                let x: Vec<f32> = patches.flatten_all()?.to_vec1()?;
                let mut out = vec![0f32; rows * p.cout];
                p.run_parallel(&x, &mut out, None);
                Tensor::from_vec(out, (rows, p.cout), patches.device())
            }
            Self::Candle(w) => patches.matmul(w),
        }
    }
}

/// Both towers, their projections into the shared space, and the logit scale.
#[derive(Debug, Clone)]
pub struct ClipModel {
    text: ClipTextEncoder,
    vision: ClipVisionEncoder,
    text_projection: Linear,
    visual_projection: Linear,
    /// ln of the factor cosine similarities are multiplied by before a softmax.
    logit_scale: f32,
    config: ClipConfig,
}

impl ClipModel {
    /// A `CLIPModel` checkpoint (`text_model.…`, `vision_model.…`, `text_projection`,
    /// `visual_projection`, `logit_scale`).
    pub fn new(c: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        let logit_scale = if vb.contains_tensor("logit_scale") {
            let t = vb.get_unchecked("logit_scale")?;
            t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?.first().copied().ok_or_else(
                || candle_core::Error::Msg("logit_scale is an empty tensor".to_string()),
            )?
        } else {
            c.logit_scale_init_value
        };
        Ok(Self {
            text: ClipTextEncoder::new(&c.text, vb.clone())?,
            vision: ClipVisionEncoder::new(&c.vision, vb.pp("vision_model"))?,
            text_projection: candle_nn::linear_no_bias(
                c.text.embed_dim,
                c.projection_dim,
                vb.pp("text_projection"),
            )?,
            visual_projection: candle_nn::linear_no_bias(
                c.vision.embed_dim,
                c.projection_dim,
                vb.pp("visual_projection"),
            )?,
            logit_scale,
            config: c.clone(),
        })
    }

    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// `exp(logit_scale)`: the factor on cosine similarities (100 in trained CLIP).
    pub fn logit_scale(&self) -> f32 {
        self.logit_scale.exp()
    }

    /// transformers' `get_image_features`: `(b, projection_dim)`, not normalized.
    pub fn image_features(&self, pixels: &Tensor) -> Result<Tensor> {
        self.visual_projection.forward(&self.vision.forward(pixels)?)
    }

    /// transformers' `get_text_features` for token ids `(b, n)`, each row pooled at its
    /// `pooled_at` position (the end token's): `(b, projection_dim)`, not normalized.
    pub fn text_features(&self, ids: &Tensor, pooled_at: &[usize]) -> Result<Tensor> {
        let hidden = self.text.forward(ids)?;
        let rows = pooled_at
            .iter()
            .enumerate()
            .map(|(b, &i)| hidden.i((b, i)))
            .collect::<Result<Vec<_>>>()?;
        self.text_projection.forward(&Tensor::stack(&rows, 0)?)
    }
}

/// Rows scaled to unit length.
pub fn l2_normalize(v: &Tensor) -> Result<Tensor> {
    let norm = v.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
    v.broadcast_div(&(norm + 1e-12)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    fn tiny() -> ClipConfig {
        ClipConfig {
            text: ClipTextConfig {
                vocab_size: 20,
                embed_dim: 16,
                intermediate_size: 32,
                max_position_embeddings: 8,
                num_hidden_layers: 2,
                num_attention_heads: 2,
                activation: Activation::QuickGelu,
                pad_with: None,
            },
            vision: ClipVisionConfig {
                embed_dim: 24,
                intermediate_size: 48,
                num_hidden_layers: 2,
                num_attention_heads: 4,
                image_size: 64,
                patch_size: 32,
                activation: Activation::QuickGelu,
            },
            projection_dim: 12,
            logit_scale_init_value: 2.6592,
        }
    }

    #[test]
    fn weight_names_follow_hugging_face_clip_model() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        ClipModel::new(&tiny(), vb).unwrap();
        let data = varmap.data().lock().unwrap();
        for key in [
            "text_model.embeddings.token_embedding.weight",
            "text_model.encoder.layers.1.self_attn.q_proj.weight",
            "text_model.final_layer_norm.weight",
            "vision_model.embeddings.class_embedding",
            "vision_model.embeddings.patch_embedding.weight",
            "vision_model.embeddings.position_embedding.weight",
            "vision_model.pre_layrnorm.weight",
            "vision_model.encoder.layers.1.mlp.fc2.bias",
            "vision_model.post_layernorm.bias",
            "visual_projection.weight",
            "text_projection.weight",
        ] {
            assert!(data.contains_key(key), "{key}");
        }
        assert!(!data.contains_key("visual_projection.bias"));
    }

    #[test]
    fn later_tokens_do_not_change_earlier_states() {
        let cfg = tiny().text;
        let varmap = VarMap::new();
        let dev = Device::Cpu;
        let enc =
            ClipTextEncoder::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
        let a = Tensor::new(&[[1u32, 2, 3, 4]], &dev).unwrap();
        let b = Tensor::new(&[[1u32, 2, 9, 9]], &dev).unwrap();
        let ha = enc.forward(&a).unwrap().narrow(1, 0, 2).unwrap();
        let hb = enc.forward(&b).unwrap().narrow(1, 0, 2).unwrap();
        let diff: f32 = (ha - hb).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(diff < 1e-5, "{diff}");
    }

    #[test]
    fn the_packed_layers_compute_what_candles_layers_compute() {
        // The GPU and f16 run candle's layers; the CPU's packed ones must agree with them.
        let dev = Device::Cpu;
        for (activation, heads, d) in [(Activation::QuickGelu, 4, 48), (Activation::Gelu, 2, 64)] {
            let dims = LayerDims { embed_dim: d, intermediate_size: 2 * d, heads, activation };
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
            let packed = Encoder::new(2, dims, vb.clone()).unwrap();
            let candle = Encoder::Candle(
                (0..2)
                    .map(|i| CandleLayer::new(dims, vb.pp("encoder").pp("layers").pp(i)))
                    .collect::<Result<_>>()
                    .unwrap(),
            );
            assert!(matches!(packed, Encoder::Packed(_)));
            let xs = Tensor::randn(0f32, 1.0, (3, 9, d), &dev).unwrap();
            for causal in [false, true] {
                let a = packed.forward(&xs, causal).unwrap();
                let b = candle.forward(&xs, causal).unwrap();
                let diff: f32 =
                    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
                assert!(diff < 1e-4, "{activation:?}, causal {causal}: {diff}");
            }
        }
    }

    #[test]
    fn the_patch_matmul_is_the_strided_convolution() {
        let c = tiny();
        let varmap = VarMap::new();
        let dev = Device::Cpu;
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let vision = ClipVisionEncoder::new(&c.vision, vb.pp("vision_model")).unwrap();
        let pixels = Tensor::randn(0f32, 1.0, (2, 3, 64, 64), &dev).unwrap();
        let got = vision.embeddings(&pixels).unwrap().narrow(1, 1, 4).unwrap();
        let conv = varmap.data().lock().unwrap()["vision_model.embeddings.patch_embedding.weight"]
            .as_tensor()
            .clone();
        let want = pixels
            .conv2d(&conv, 0, 32, 1, 1)
            .unwrap()
            .flatten_from(2)
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .broadcast_add(&vision.position_embedding.narrow(0, 1, 4).unwrap())
            .unwrap();
        let diff: f32 =
            (got - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn a_clip_model_config_json_is_read_with_transformers_defaults() {
        let j: Value = serde_json::from_str(
            r#"{"projection_dim": 16, "logit_scale_init_value": 2.6592,
                "text_config": {"hidden_size": 32, "vocab_size": 600, "hidden_act": "quick_gelu"},
                "vision_config": {"hidden_size": 48, "image_size": 64, "patch_size": 32}}"#,
        )
        .unwrap();
        let c = ClipConfig::from_hf(&j).unwrap();
        assert_eq!(c.projection_dim, 16);
        assert_eq!(c.text.embed_dim, 32);
        assert_eq!(c.text.num_attention_heads, 8);
        assert_eq!(c.vision.grid(), 2);
        assert_eq!(c.vision.num_hidden_layers, 12);
        let bad: Value = serde_json::from_str(r#"{"vision_config": {"image_size": 70}}"#).unwrap();
        assert!(ClipConfig::from_hf(&bad).unwrap_err().contains("patch_size"));
    }
}
