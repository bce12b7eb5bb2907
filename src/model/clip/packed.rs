//! The transformer layer on the CPU in f32: the four linear layers packed once at load
//! (`kernels::pointwise`: the query, key and value projections as one `d → 3d` product with
//! the query's `1/sqrt(head_dim)` folded in; QuickGELU and the residuals fused into the
//! stores), and the activations kept in plain row buffers from the first layer to the last, so
//! a forward pass builds no tensor per op. Layer norm, softmax and the attention products are
//! `kernels::vmath`'s vectorized loops; the heads of every image run in parallel.
//!
//! It computes what `layer::CandleLayer` computes, which the GPU and f16 run;
//! tests/it/clip_parity.rs holds both to transformers.

use candle_core::{Device, Result, Tensor};
use candle_nn::{VarBuilder, linear};
use rayon::prelude::*;

use super::layer::{Activation, LayerDims};
use crate::model::kernels::pointwise::{Epilogue, PackedPointwise};
use crate::model::kernels::vmath::{self, axpy, dispatch};

/// A layer norm's scale and shift (eps 1e-5, checked when the config is read).
#[derive(Debug, Clone)]
pub(super) struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    pub fn new(d: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self { gamma: vb.get(d, "weight")?.to_vec1()?, beta: vb.get(d, "bias")?.to_vec1()? })
    }

    /// Each row of `x` normalized into `out`, rows in parallel.
    pub fn forward(&self, x: &[f32], out: &mut Vec<f32>) {
        let d = self.gamma.len();
        out.resize(x.len(), 0.0);
        out.par_chunks_mut(d).zip(x.par_chunks(d)).with_min_len(8).for_each(|(o, x)| {
            vmath::layer_norm_row(x, &self.gamma, &self.beta, 1e-5, o);
        });
    }
}

/// The shape of the rows a layer runs on: `batch` sequences of `tokens` rows each.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rows {
    pub batch: usize,
    pub tokens: usize,
    /// Token i attends to tokens 0..=i only (the text tower).
    pub causal: bool,
}

/// Row buffers a forward pass reuses from layer to layer.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    normed: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    mid: Vec<f32>,
    next: Vec<f32>,
}

thread_local! {
    /// The calling thread's scratch, kept between forward passes: a batch of 32 images needs
    /// about 50 MB of it, and fresh buffers would be paged in again on every batch.
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

impl Scratch {
    /// `f` with the calling thread's scratch.
    pub fn with<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
        let mut s = SCRATCH.take();
        let out = f(&mut s);
        SCRATCH.set(s);
        out
    }
}

/// One pre-norm layer, `x + attn(ln1(x))` then `x + mlp(ln2(x))`, packed.
#[derive(Debug, Clone)]
pub(super) struct PackedLayer {
    ln1: Norm,
    qkv: PackedPointwise,
    out: PackedPointwise,
    ln2: Norm,
    fc1: PackedPointwise,
    fc2: PackedPointwise,
    heads: usize,
    activation: Activation,
}

/// A linear layer's `(cout, cin)` weight and its bias, as read by candle.
fn weights(cin: usize, cout: usize, vb: VarBuilder) -> Result<(Vec<f32>, Vec<f32>)> {
    let lin = linear(cin, cout, vb)?;
    let bias = match lin.bias() {
        Some(b) => b.to_vec1()?,
        None => vec![0.0; cout],
    };
    Ok((lin.weight().flatten_all()?.to_vec1()?, bias))
}

impl PackedLayer {
    /// The layer's weights under `vb` (transformers' `CLIPEncoderLayer` names).
    pub fn new(c: LayerDims, vb: VarBuilder) -> Result<Self> {
        let d = c.embed_dim;
        let scale = ((d / c.heads) as f32).powf(-0.5);
        let attn = vb.pp("self_attn");
        let mut w = Vec::with_capacity(3 * d * d);
        let mut b = Vec::with_capacity(3 * d);
        for (name, s) in [("q_proj", scale), ("k_proj", 1.0), ("v_proj", 1.0)] {
            let (wi, bi) = weights(d, d, attn.pp(name))?;
            w.extend(wi.into_iter().map(|x| x * s));
            b.extend(bi.into_iter().map(|x| x * s));
        }
        let packed = |(w, b): (Vec<f32>, Vec<f32>), cin, cout, act| {
            PackedPointwise::new(&w, &b, cin, cout, act)
        };
        let fc1_act = match c.activation {
            Activation::QuickGelu => Epilogue::QuickGelu,
            // Applied after the product, by candle (erf has no vmath loop).
            Activation::Gelu => Epilogue::None,
        };
        let mlp = vb.pp("mlp");
        Ok(Self {
            ln1: Norm::new(d, vb.pp("layer_norm1"))?,
            qkv: PackedPointwise::new(&w, &b, d, 3 * d, Epilogue::None),
            out: packed(weights(d, d, attn.pp("out_proj"))?, d, d, Epilogue::None),
            ln2: Norm::new(d, vb.pp("layer_norm2"))?,
            fc1: packed(
                weights(d, c.intermediate_size, mlp.pp("fc1"))?,
                d,
                c.intermediate_size,
                fc1_act,
            ),
            fc2: packed(
                weights(c.intermediate_size, d, mlp.pp("fc2"))?,
                c.intermediate_size,
                d,
                Epilogue::None,
            ),
            heads: c.heads,
            activation: c.activation,
        })
    }

    /// The layer on `x`, `rows` rows of `embed_dim`, in place.
    pub fn forward(&self, x: &mut Vec<f32>, rows: Rows, s: &mut Scratch) -> Result<()> {
        let d = self.qkv.cin;
        let m = rows.batch * rows.tokens;
        if x.len() != m * d {
            candle_core::bail!("{} values are not {m} rows of {d}", x.len());
        }
        self.ln1.forward(x, &mut s.normed);
        run(&self.qkv, &s.normed, &mut s.qkv, None);
        attention(&s.qkv, &mut s.ctx, rows, self.heads);
        run(&self.out, &s.ctx, &mut s.next, Some(x));
        std::mem::swap(x, &mut s.next);
        self.ln2.forward(x, &mut s.normed);
        run(&self.fc1, &s.normed, &mut s.mid, None);
        if self.activation == Activation::Gelu {
            let t = Tensor::from_slice(&s.mid, s.mid.len(), &Device::Cpu)?.gelu_erf()?;
            s.mid = t.to_vec1()?;
        }
        run(&self.fc2, &s.mid, &mut s.next, Some(x));
        std::mem::swap(x, &mut s.next);
        Ok(())
    }
}

/// `out = x · W + b (+ residual)`, sized to `x`'s rows.
fn run(p: &PackedPointwise, x: &[f32], out: &mut Vec<f32>, residual: Option<&[f32]>) {
    out.resize(x.len() / p.cin * p.cout, 0.0);
    p.run_parallel(x, out, residual);
}

/// Multi-head self-attention: `qkv` holds each token's `[q·scale | k | v]` (`3d` values),
/// `ctx` gets each token's heads side by side (`d`). Every (sequence, head) pair is a task.
fn attention(qkv: &[f32], ctx: &mut Vec<f32>, rows: Rows, heads: usize) {
    if rows.batch * rows.tokens == 0 {
        ctx.clear();
        return;
    }
    let d = qkv.len() / (rows.batch * rows.tokens) / 3;
    let (n, hd) = (rows.tokens, d / heads);
    let per_head: Vec<Vec<f32>> = (0..rows.batch * heads)
        .into_par_iter()
        .map(|t| {
            let seq = &qkv[t / heads * n * 3 * d..][..n * 3 * d];
            let mut out = vec![0f32; n * hd];
            head_attention(seq, t % heads * hd, hd, rows.causal, &mut out);
            out
        })
        .collect();
    ctx.resize(rows.batch * n * d, 0.0);
    ctx.par_chunks_mut(n * d).enumerate().for_each(|(b, seq)| {
        for (h, o) in per_head[b * heads..(b + 1) * heads].iter().enumerate() {
            for (row, oh) in seq.chunks_exact_mut(d).zip(o.chunks_exact(hd)) {
                row[h * hd..(h + 1) * hd].copy_from_slice(oh);
            }
        }
    });
}

dispatch!(head_attention(seq: &[f32], at: usize, hd: usize, causal: bool, out: &mut [f32]) {
    // One sequence's rows of [q | k | v]; this head's columns start at `at` in each third.
    let d3 = seq.len() / out.len() * hd;
    let d = d3 / 3;
    let n = seq.len() / d3;
    // Keys transposed (hd × np, zero-padded to whole vectors): a row of scores is then a sum
    // of hd scaled rows, like the output's row is a sum of n scaled values.
    let np = n.next_multiple_of(LANES);
    let mut kt = vec![0f32; hd * np];
    for (j, row) in seq.chunks_exact(d3).enumerate() {
        for (c, &v) in row[d + at..d + at + hd].iter().enumerate() {
            kt[c * np + j] = v;
        }
    }
    let mut scores = vec![0f32; np];
    for (i, o) in out.chunks_exact_mut(hd).enumerate() {
        let q = &seq[i * d3 + at..][..hd];
        sum_of_scaled(&mut scores, q, |c| &kt[c * np..][..np]);
        let s = &mut scores[..if causal { i + 1 } else { n }];
        vmath::softmax_in_place(s);
        sum_of_scaled(o, s, |j| &seq[j * d3 + 2 * d + at..][..hd]);
    }
});

/// Floats in an AVX-512 register.
const LANES: usize = 16;

/// `out = Σ_t a[t] · row(t)`: four vectors of sums side by side (one sum alone would wait on
/// its own additions), then one vector at a time, then the last few lanes.
#[inline(always)]
fn sum_of_scaled<'r>(out: &mut [f32], a: &[f32], row: impl Fn(usize) -> &'r [f32]) {
    const GROUP: usize = 4 * LANES;
    let full = out.len() / GROUP * GROUP;
    let (groups, rest) = out.split_at_mut(full);
    for (g, og) in groups.chunks_exact_mut(GROUP).enumerate() {
        let mut acc = [[0f32; LANES]; 4];
        for (t, &at) in a.iter().enumerate() {
            let r = &row(t)[g * GROUP..][..GROUP];
            for (acc, r) in acc.iter_mut().zip(r.chunks_exact(LANES)) {
                axpy(acc, at, r);
            }
        }
        for (o, acc) in og.chunks_exact_mut(LANES).zip(&acc) {
            o.copy_from_slice(acc);
        }
    }
    for (k, o) in rest.chunks_mut(LANES).enumerate() {
        let (at0, len) = (full + k * LANES, o.len());
        let mut acc = [0f32; LANES];
        for (t, &at) in a.iter().enumerate() {
            axpy(&mut acc[..len], at, &row(t)[at0..][..len]);
        }
        o.copy_from_slice(&acc[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attention written out with candle, as `CandleLayer` computes it.
    fn candle_attention(qkv: &[f32], rows: Rows, heads: usize) -> Vec<f32> {
        let (b, n) = (rows.batch, rows.tokens);
        let d = qkv.len() / (b * n) / 3;
        let t = Tensor::from_slice(qkv, (b, n, 3 * d), &Device::Cpu).unwrap();
        let split = |i: usize| {
            t.narrow(2, i * d, d)
                .unwrap()
                .reshape((b, n, heads, d / heads))
                .unwrap()
                .transpose(1, 2)
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let mut att = q.matmul(&k.t().unwrap()).unwrap();
        if rows.causal {
            let mask: Vec<f32> = (0..n)
                .flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            let mask = Tensor::from_vec(mask, (n, n), &Device::Cpu).unwrap();
            att = att.broadcast_add(&mask).unwrap();
        }
        let att = candle_nn::ops::softmax_last_dim(&att).unwrap();
        let ys = att.matmul(&v).unwrap().transpose(1, 2).unwrap().reshape((b, n, d)).unwrap();
        ys.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn attention_matches_candle_with_and_without_the_causal_mask() {
        for (batch, tokens, heads, d) in
            [(1, 50, 12, 768), (3, 7, 2, 32), (2, 77, 4, 128), (2, 5, 4, 48)]
        {
            let qkv = crate::model::test_values(batch * tokens * 3 * d, 11, -2.0..2.0);
            for causal in [false, true] {
                let rows = Rows { batch, tokens, causal };
                let mut got = Vec::new();
                attention(&qkv, &mut got, rows, heads);
                let want = candle_attention(&qkv, rows, heads);
                let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
                assert!(diff < 1e-5, "{batch}x{tokens}, {heads} heads, causal {causal}: {diff}");
            }
        }
    }
}
