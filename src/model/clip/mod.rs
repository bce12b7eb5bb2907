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
//! [`tokenizer`] is CLIP's byte-level BPE; [`load`] finds the weights (a folder, the hub).

pub mod load;
pub mod tokenizer;

use candle_core::{D, DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};
use serde_json::Value;

use super::kernels::pointwise::PackedPointwise;

/// Stored under this backbone id: the projected, L2-normalized image embedding of CLIP
/// ViT-B/32 (`[embed] backbone = "clip-b32"`).
pub const CLIP_B32_BACKBONE_ID: &str = "clip-b32";

/// CLIP's image normalization (`CLIPImageProcessor`'s `image_mean` / `image_std`).
pub const IMAGE_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const IMAGE_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(1.702 x)`: OpenAI CLIP (SD 1.x, CLIP ViT-B/32).
    QuickGelu,
    /// OpenCLIP ViT-H (SD 2.x, sd-turbo).
    Gelu,
}

impl Activation {
    /// transformers' `hidden_act` name.
    pub fn from_hf(name: &str) -> std::result::Result<Self, String> {
        match name {
            "quick_gelu" => Ok(Self::QuickGelu),
            "gelu" => Ok(Self::Gelu),
            other => Err(format!("hidden_act {other:?} is not supported")),
        }
    }

    fn apply(self, h: &Tensor) -> Result<Tensor> {
        match self {
            Self::QuickGelu => h * candle_nn::ops::sigmoid(&(h * 1.702)?)?,
            Self::Gelu => h.gelu_erf(),
        }
    }
}

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

/// The sizes of one transformer layer, shared by both towers.
#[derive(Debug, Clone, Copy)]
struct LayerDims {
    embed_dim: usize,
    intermediate_size: usize,
    heads: usize,
    activation: Activation,
}

/// A linear layer that, on the CPU in f32, runs photosift's packed AVX-512/AVX2 product
/// (`kernels::pointwise`, weights packed once at load, bias and residual fused, spread over
/// rayon's threads); elsewhere (a GPU, f16) candle's.
#[derive(Debug, Clone)]
enum FastLinear {
    Packed(PackedPointwise),
    Candle(Linear),
}

impl FastLinear {
    fn new(cin: usize, cout: usize, vb: VarBuilder) -> Result<Self> {
        let cpu_f32 = vb.device().is_cpu() && vb.dtype() == DType::F32;
        let lin = linear(cin, cout, vb)?;
        if !cpu_f32 {
            return Ok(Self::Candle(lin));
        }
        let w: Vec<f32> = lin.weight().flatten_all()?.to_vec1()?;
        let b: Vec<f32> = match lin.bias() {
            Some(b) => b.to_vec1()?,
            None => vec![0.0; cout],
        };
        Ok(Self::Packed(PackedPointwise::new(&w, &b, cin, cout, false)))
    }

    /// `x · Wᵀ + b (+ residual)` over the last dimension.
    fn forward(&self, xs: &Tensor, residual: Option<&Tensor>) -> Result<Tensor> {
        self.forward_act(xs, residual, None)
    }

    /// [`Self::forward`], then `activation` (QuickGELU fused into the packed path's output).
    fn forward_act(
        &self,
        xs: &Tensor,
        residual: Option<&Tensor>,
        activation: Option<Activation>,
    ) -> Result<Tensor> {
        let act = |ys: Tensor| activation.map_or(Ok(ys.clone()), |a| a.apply(&ys));
        match self {
            Self::Candle(lin) => {
                let ys = lin.forward(xs)?;
                act(residual.map_or(Ok(ys.clone()), |r| ys + r)?)
            }
            Self::Packed(p) if xs.device().is_cpu() && xs.dtype() == DType::F32 => {
                let mut dims = xs.dims().to_vec();
                let x: Vec<f32> = xs.flatten_all()?.to_vec1()?;
                let res: Option<Vec<f32>> =
                    residual.map(|r| r.flatten_all()?.to_vec1()).transpose()?;
                let mut out = vec![0f32; x.len() / p.cin * p.cout];
                p.run_parallel(&x, &mut out, res.as_deref());
                if let Some(last) = dims.last_mut() {
                    *last = p.cout;
                }
                if activation == Some(Activation::QuickGelu) {
                    use rayon::prelude::*;
                    out.par_chunks_mut(16 * 1024).for_each(|c| {
                        for v in c {
                            *v /= 1.0 + (-1.702 * *v).exp();
                        }
                    });
                    return Tensor::from_vec(out, dims, xs.device());
                }
                act(Tensor::from_vec(out, dims, xs.device())?)
            }
            Self::Packed(_) => candle_core::bail!("CLIP's packed weights run on the CPU in f32"),
        }
    }
}

/// The query, key and value projections: one packed product of `d → 3d` with the query's
/// `1/sqrt(head_dim)` folded into its weights and bias (as `(x·Wq + bq)·s = x·(s·Wq) + s·bq`),
/// or candle's three layers.
#[derive(Debug, Clone)]
enum Qkv {
    Fused(FastLinear),
    Separate { q: Linear, k: Linear, v: Linear, scale: f64 },
}

impl Qkv {
    fn new(d: usize, scale: f64, vb: VarBuilder) -> Result<Self> {
        let (q, k, v) = (
            linear(d, d, vb.pp("q_proj"))?,
            linear(d, d, vb.pp("k_proj"))?,
            linear(d, d, vb.pp("v_proj"))?,
        );
        if !(vb.device().is_cpu() && vb.dtype() == DType::F32) {
            return Ok(Self::Separate { q, k, v, scale });
        }
        let mut w: Vec<f32> = Vec::with_capacity(3 * d * d);
        let mut b: Vec<f32> = Vec::with_capacity(3 * d);
        for (lin, s) in [(&q, scale as f32), (&k, 1.0), (&v, 1.0)] {
            w.extend(lin.weight().flatten_all()?.to_vec1::<f32>()?.into_iter().map(|x| x * s));
            match lin.bias() {
                Some(bias) => b.extend(bias.to_vec1::<f32>()?.into_iter().map(|x| x * s)),
                None => b.extend(std::iter::repeat_n(0.0, d)),
            }
        }
        Ok(Self::Fused(FastLinear::Packed(PackedPointwise::new(&w, &b, d, 3 * d, false))))
    }

    /// The scaled queries, the keys and the values, each `(b, n, d)`.
    fn forward(&self, xs: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        match self {
            Self::Fused(lin) => {
                let d = xs.dim(D::Minus1)?;
                let qkv = lin.forward(xs, None)?;
                Ok((qkv.narrow(2, 0, d)?, qkv.narrow(2, d, d)?, qkv.narrow(2, 2 * d, d)?))
            }
            Self::Separate { q, k, v, scale } => {
                Ok(((q.forward(xs)? * *scale)?, k.forward(xs)?, v.forward(xs)?))
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Attention {
    qkv: Qkv,
    out: FastLinear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(c: LayerDims, vb: VarBuilder) -> Result<Self> {
        let d = c.embed_dim;
        let head_dim = d / c.heads;
        Ok(Self {
            qkv: Qkv::new(d, (head_dim as f64).powf(-0.5), vb.clone())?,
            out: FastLinear::new(d, d, vb.pp("out_proj"))?,
            heads: c.heads,
            head_dim,
        })
    }

    /// Self-attention of `xs`, plus `residual`.
    fn forward(&self, xs: &Tensor, mask: Option<&Tensor>, residual: &Tensor) -> Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, n, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let (q, k, v) = self.qkv.forward(xs)?;
        let (q, k, v) = (split(q)?, split(k)?, split(v)?);
        let att = q.matmul(&k.t()?)?;
        let att = match mask {
            Some(mask) => att.broadcast_add(mask)?,
            None => att,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let ys = att.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        self.out.forward(&ys, Some(residual))
    }
}

/// One pre-norm transformer layer: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Debug, Clone)]
struct EncoderLayer {
    attn: Attention,
    ln1: LayerNorm,
    fc1: FastLinear,
    fc2: FastLinear,
    ln2: LayerNorm,
    activation: Activation,
}

impl EncoderLayer {
    fn new(c: LayerDims, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            attn: Attention::new(c, vb.pp("self_attn"))?,
            ln1: layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm1"))?,
            fc1: FastLinear::new(c.embed_dim, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: FastLinear::new(c.intermediate_size, c.embed_dim, vb.pp("mlp").pp("fc2"))?,
            ln2: layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm2"))?,
            activation: c.activation,
        })
    }

    fn forward(&self, xs: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let xs = self.attn.forward(&self.ln1.forward(xs)?, mask, xs)?;
        let h = self.fc1.forward_act(&self.ln2.forward(&xs)?, None, Some(self.activation))?;
        self.fc2.forward(&h, Some(&xs))
    }
}

fn encoder_layers(n: usize, c: LayerDims, vb: VarBuilder) -> Result<Vec<EncoderLayer>> {
    (0..n).map(|i| EncoderLayer::new(c, vb.pp("encoder").pp("layers").pp(i))).collect()
}

/// The text transformer: token ids `(b, n)` to hidden states `(b, n, embed_dim)` (Stable
/// Diffusion's conditioning), or, through [`ClipModel::text_features`], CLIP's text embedding.
#[derive(Debug, Clone)]
pub struct ClipTextEncoder {
    token_embedding: Embedding,
    position_embedding: Embedding,
    layers: Vec<EncoderLayer>,
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
            layers: encoder_layers(c.num_hidden_layers, dims, vb.clone())?,
            final_layer_norm: layer_norm(c.embed_dim, 1e-5, vb.pp("final_layer_norm"))?,
        })
    }

    /// Causal mask: token i attends to tokens 0..=i.
    fn causal_mask(n: usize, dtype: DType, device: &Device) -> Result<Tensor> {
        let mask: Vec<f32> = (0..n)
            .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
            .collect();
        Tensor::from_vec(mask, (n, n), device)?.to_dtype(dtype)
    }
}

impl Module for ClipTextEncoder {
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, n) = ids.dims2()?;
        let positions = Tensor::arange(0u32, n as u32, ids.device())?;
        let mut xs = self
            .token_embedding
            .forward(ids)?
            .broadcast_add(&self.position_embedding.forward(&positions)?)?;
        let mask = Self::causal_mask(n, xs.dtype(), xs.device())?;
        for layer in &self.layers {
            xs = layer.forward(&xs, Some(&mask))?;
        }
        self.final_layer_norm.forward(&xs)
    }
}

/// The image transformer: pixels `(b, 3, s, s)`, normalized with [`IMAGE_MEAN`] and
/// [`IMAGE_STD`], to the pooled (class token) state `(b, embed_dim)`.
#[derive(Debug, Clone)]
pub struct ClipVisionEncoder {
    /// The patch convolution as a matrix `(3·p·p, embed_dim)`: a stride-p, p×p convolution
    /// is one matmul over the flattened patches.
    patch_weight: Tensor,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layernorm: LayerNorm,
    layers: Vec<EncoderLayer>,
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
            patch_weight: conv.reshape((d, 3 * p * p))?.t()?.contiguous()?,
            class_embedding: emb.get(d, "class_embedding")?,
            position_embedding: emb
                .get((c.grid() * c.grid() + 1, d), "position_embedding.weight")?,
            // Sic: transformers' key for the norm before the encoder.
            pre_layernorm: layer_norm(d, 1e-5, vb.pp("pre_layrnorm"))?,
            layers: encoder_layers(c.num_hidden_layers, dims, vb.clone())?,
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
        let patch_embeds = patches.matmul(&self.patch_weight)?.reshape((b, gh * gw, d))?;
        let class = self.class_embedding.reshape((1, 1, d))?.broadcast_as((b, 1, d))?;
        Tensor::cat(&[&class.contiguous()?, &patch_embeds], 1)?
            .broadcast_add(&self.position_embedding.unsqueeze(0)?)
    }
}

impl Module for ClipVisionEncoder {
    fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let mut xs = self.pre_layernorm.forward(&self.embeddings(pixels)?)?;
        for layer in &self.layers {
            xs = layer.forward(&xs, None)?;
        }
        self.post_layernorm.forward(&xs.i((.., 0, ..))?.contiguous()?)
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
