//! One pre-norm transformer layer in candle's ops, the one both CLIP towers stack: its sizes,
//! its activation, and the layer itself, which a GPU or f16 runs (on the CPU in f32,
//! `packed::PackedLayer` computes the same over row buffers).

use candle_core::{Module, Result, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder, layer_norm, linear};

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

/// The sizes of one transformer layer, shared by both towers.
#[derive(Debug, Clone, Copy)]
pub(super) struct LayerDims {
    pub embed_dim: usize,
    pub intermediate_size: usize,
    pub heads: usize,
    pub activation: Activation,
}

/// One pre-norm transformer layer in candle's ops, `x + attn(ln1(x))` then `x + mlp(ln2(x))`:
/// what a GPU or f16 runs.
#[derive(Debug, Clone)]
pub(super) struct CandleLayer {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    ln1: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    ln2: LayerNorm,
    heads: usize,
    activation: Activation,
}

impl CandleLayer {
    pub fn new(c: LayerDims, vb: VarBuilder) -> Result<Self> {
        let (d, attn, mlp) = (c.embed_dim, vb.pp("self_attn"), vb.pp("mlp"));
        Ok(Self {
            q: linear(d, d, attn.pp("q_proj"))?,
            k: linear(d, d, attn.pp("k_proj"))?,
            v: linear(d, d, attn.pp("v_proj"))?,
            out: linear(d, d, attn.pp("out_proj"))?,
            ln1: layer_norm(d, 1e-5, vb.pp("layer_norm1"))?,
            fc1: linear(d, c.intermediate_size, mlp.pp("fc1"))?,
            fc2: linear(c.intermediate_size, d, mlp.pp("fc2"))?,
            ln2: layer_norm(d, 1e-5, vb.pp("layer_norm2"))?,
            heads: c.heads,
            activation: c.activation,
        })
    }

    fn attention(&self, xs: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let head_dim = d / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b, n, self.heads, head_dim))?.transpose(1, 2)?.contiguous()
        };
        let q = split((self.q.forward(xs)? * (head_dim as f64).powf(-0.5))?)?;
        let (k, v) = (split(self.k.forward(xs)?)?, split(self.v.forward(xs)?)?);
        let att = q.matmul(&k.t()?)?;
        let att = match mask {
            Some(mask) => att.broadcast_add(mask)?,
            None => att,
        };
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        self.out.forward(&att.matmul(&v)?.transpose(1, 2)?.reshape((b, n, d))?)
    }

    pub fn forward(&self, xs: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let xs = (self.attention(&self.ln1.forward(xs)?, mask)? + xs)?;
        let h = self.activation.apply(&self.fc1.forward(&self.ln2.forward(&xs)?)?)?;
        self.fc2.forward(&h)? + xs
    }
}
