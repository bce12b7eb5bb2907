//! The CLIP text encoder that conditions Stable Diffusion (Radford et al. 2021, "Learning
//! Transferable Visual Models From Natural Language Supervision"), in the Hugging Face
//! `CLIPTextModel` weight layout (`text_model.embeddings…`, `text_model.encoder.layers.N…`, or
//! the same without `text_model.` as transformers 5 saves it).
//!
//! candle-transformers has the same network, but its SD config keeps its sizes private, so a
//! small test-sized encoder cannot be built from it; this one has a public [`ClipConfig`].

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder, embedding, layer_norm, linear};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x * sigmoid(1.702 x)`: OpenAI CLIP (SD 1.x).
    QuickGelu,
    /// OpenCLIP ViT-H (SD 2.x, sd-turbo).
    Gelu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClipConfig {
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub activation: Activation,
    /// The token that pads prompts to `max_position_embeddings`; `None`: the end token.
    pub pad_with: Option<String>,
}

impl ClipConfig {
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
}

#[derive(Debug, Clone)]
struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    head_dim: usize,
}

impl Attention {
    fn new(c: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        let d = c.embed_dim;
        Ok(Self {
            q: linear(d, d, vb.pp("q_proj"))?,
            k: linear(d, d, vb.pp("k_proj"))?,
            v: linear(d, d, vb.pp("v_proj"))?,
            out: linear(d, d, vb.pp("out_proj"))?,
            heads: c.num_attention_heads,
            head_dim: d / c.num_attention_heads,
        })
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, n, self.heads, self.head_dim))?.transpose(1, 2)?.contiguous()
        };
        let scale = (self.head_dim as f64).powf(-0.5);
        let q = split((self.q.forward(xs)? * scale)?)?;
        let k = split(self.k.forward(xs)?)?;
        let v = split(self.v.forward(xs)?)?;
        let att = q.matmul(&k.t()?)?.broadcast_add(mask)?;
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let ys = att.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?;
        self.out.forward(&ys)
    }
}

#[derive(Debug, Clone)]
struct EncoderLayer {
    attn: Attention,
    ln1: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    ln2: LayerNorm,
    activation: Activation,
}

impl EncoderLayer {
    fn new(c: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            attn: Attention::new(c, vb.pp("self_attn"))?,
            ln1: layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm1"))?,
            fc1: linear(c.embed_dim, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: linear(c.intermediate_size, c.embed_dim, vb.pp("mlp").pp("fc2"))?,
            ln2: layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm2"))?,
            activation: c.activation,
        })
    }

    fn forward(&self, xs: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let xs = (self.attn.forward(&self.ln1.forward(xs)?, mask)? + xs)?;
        let h = self.fc1.forward(&self.ln2.forward(&xs)?)?;
        let h = match self.activation {
            Activation::QuickGelu => (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?,
            Activation::Gelu => h.gelu_erf()?,
        };
        self.fc2.forward(&h)? + xs
    }
}

/// The text transformer: token ids `(b, n)` to hidden states `(b, n, embed_dim)`.
#[derive(Debug, Clone)]
pub struct ClipTextEncoder {
    token_embedding: Embedding,
    position_embedding: Embedding,
    layers: Vec<EncoderLayer>,
    final_layer_norm: LayerNorm,
}

impl ClipTextEncoder {
    /// Reads either key layout: `text_model.…` (transformers 4, every SD repository today) or
    /// the same names without the prefix (`CLIPTextModel.save_pretrained` in transformers 5).
    pub fn new(c: &ClipConfig, vb: VarBuilder) -> Result<Self> {
        let unprefixed = vb.contains_tensor("embeddings.token_embedding.weight")
            && !vb.contains_tensor("text_model.embeddings.token_embedding.weight");
        let vb = if unprefixed { vb } else { vb.pp("text_model") };
        let emb = vb.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|i| EncoderLayer::new(c, vb.pp("encoder").pp("layers").pp(i)))
            .collect::<Result<_>>()?;
        Ok(Self {
            token_embedding: embedding(c.vocab_size, c.embed_dim, emb.pp("token_embedding"))?,
            position_embedding: embedding(
                c.max_position_embeddings,
                c.embed_dim,
                emb.pp("position_embedding"),
            )?,
            layers,
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
            xs = layer.forward(&xs, &mask)?;
        }
        self.final_layer_norm.forward(&xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    #[test]
    fn weight_names_follow_hugging_face_clip_text_model() {
        let cfg = ClipConfig { num_hidden_layers: 2, ..ClipConfig::v2_1() };
        let varmap = VarMap::new();
        ClipTextEncoder::new(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))
            .unwrap();
        let data = varmap.data().lock().unwrap();
        for key in [
            "text_model.embeddings.token_embedding.weight",
            "text_model.embeddings.position_embedding.weight",
            "text_model.encoder.layers.1.self_attn.q_proj.weight",
            "text_model.encoder.layers.0.mlp.fc2.bias",
            "text_model.final_layer_norm.weight",
        ] {
            assert!(data.contains_key(key), "{key}");
        }
    }

    #[test]
    fn later_tokens_do_not_change_earlier_states() {
        let cfg = ClipConfig {
            vocab_size: 20,
            embed_dim: 16,
            intermediate_size: 32,
            max_position_embeddings: 8,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            activation: Activation::QuickGelu,
            pad_with: None,
        };
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
}
