//! Depthwise 2-D convolution for CPU as candle custom ops: TF "SAME" padding, any stride and
//! kernel size, optional fused bias + ReLU6, and a backward pass for fine-tuning.
//!
//! Stock candle runs a grouped convolution as one small convolution per channel (chunk + cat);
//! here each (image, channel) plane is one rayon task. The plane is first copied into a
//! zero-padded scratch buffer split into `stride` column phases, so that every tap of the
//! kernel becomes a contiguous multiply-add over an output row (`out[x] += w * src[x + q]`),
//! which the compiler vectorizes (AVX2 + FMA when the CPU has them, picked at run time).

use std::cell::RefCell;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// TensorFlow "SAME" padding along one axis: output `ceil(n / stride)`, the odd extra pixel of
/// padding at the end (bottom/right). Returns (output size, padding before, padding after).
pub fn same_padding(n: usize, kernel: usize, stride: usize) -> (usize, usize, usize) {
    let out = n.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(n);
    (out, total / 2, total - total / 2)
}

/// Geometry of one depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    ho: usize,
    wo: usize,
    pad_top: usize,
    pad_left: usize,
}

impl Geometry {
    fn new(dims: &[usize], k: usize, stride: usize) -> Result<Self> {
        let &[n, c, h, w] = dims else { bail!("depthwise conv wants NCHW input, got {dims:?}") };
        if k == 0 || stride == 0 || h == 0 || w == 0 {
            bail!("depthwise conv: empty kernel, stride or input ({dims:?}, k {k}, s {stride})")
        }
        let (ho, pad_top, _) = same_padding(h, k, stride);
        let (wo, pad_left, _) = same_padding(w, k, stride);
        Ok(Self { n, c, h, w, k, stride, ho, wo, pad_top, pad_left })
    }

    /// Padded plane size: rows, and columns per stride phase.
    fn padded(&self) -> (usize, usize) {
        let hp = (self.ho - 1) * self.stride + self.k;
        let wp = ((self.wo - 1) * self.stride + self.k).max(self.pad_left + self.w);
        (hp.max(self.pad_top + self.h), wp.div_ceil(self.stride))
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Copies one input plane into `buf` zero-padded and split into `stride` column phases:
/// phase `p`, row `r`, column `j` holds padded pixel (r, j * stride + p).
fn fill_padded(g: &Geometry, plane: &[f32], buf: &mut Vec<f32>) {
    let (hp, wq) = g.padded();
    let s = g.stride;
    buf.clear();
    buf.resize(s * hp * wq, 0.0);
    for y in 0..g.h {
        let row = &plane[y * g.w..(y + 1) * g.w];
        let r = y + g.pad_top;
        for (x, &v) in row.iter().enumerate() {
            let px = x + g.pad_left;
            buf[((px % s) * hp + r) * wq + px / s] = v;
        }
    }
}

/// `out += w * src` over equal-length slices: the loop every tap runs.
#[inline(always)]
fn axpy(out: &mut [f32], src: &[f32], w: f32) {
    for (o, &s) in out.iter_mut().zip(src) {
        *o += w * s;
    }
}

#[inline(always)]
fn plane_forward_generic(
    g: &Geometry,
    padded: &[f32],
    kernel: &[f32],
    bias: f32,
    relu6: bool,
    out: &mut [f32],
) {
    let (hp, wq) = g.padded();
    let (s, k, wo) = (g.stride, g.k, g.wo);
    for (oy, out_row) in out.chunks_exact_mut(wo).enumerate() {
        out_row.fill(bias);
        for ky in 0..k {
            let r = oy * s + ky;
            for kx in 0..k {
                let (p, q) = (kx % s, kx / s);
                let start = (p * hp + r) * wq + q;
                axpy(out_row, &padded[start..start + wo], kernel[ky * k + kx]);
            }
        }
        if relu6 {
            for v in out_row.iter_mut() {
                *v = v.clamp(0.0, 6.0);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn plane_forward_avx2(
    g: &Geometry,
    padded: &[f32],
    kernel: &[f32],
    bias: f32,
    relu6: bool,
    out: &mut [f32],
) {
    plane_forward_generic(g, padded, kernel, bias, relu6, out)
}

fn plane_forward(
    g: &Geometry,
    padded: &[f32],
    kernel: &[f32],
    bias: f32,
    relu6: bool,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU supports the features the function was compiled for.
        unsafe { plane_forward_avx2(g, padded, kernel, bias, relu6, out) };
        return;
    }
    plane_forward_generic(g, padded, kernel, bias, relu6, out)
}

/// Depthwise convolution of a contiguous NCHW buffer with (C, k*k) weights and optional
/// per-channel bias; returns the NCHW output.
fn forward(g: &Geometry, x: &[f32], w: &[f32], bias: Option<&[f32]>, relu6: bool) -> Vec<f32> {
    let (hw, ohw, kk) = (g.h * g.w, g.ho * g.wo, g.k * g.k);
    let mut out = vec![0f32; g.n * g.c * ohw];
    out.par_chunks_mut(ohw).enumerate().for_each(|(plane, out)| {
        let c = plane % g.c;
        SCRATCH.with_borrow_mut(|buf| {
            fill_padded(g, &x[plane * hw..(plane + 1) * hw], buf);
            let b = bias.map_or(0.0, |b| b[c]);
            plane_forward(g, buf, &w[c * kk..(c + 1) * kk], b, relu6, out);
        });
    });
    out
}

/// Gradient of the input: each output gradient pixel scatters back through the kernel.
fn backward_input(g: &Geometry, grad: &[f32], w: &[f32]) -> Vec<f32> {
    let (hw, ohw, kk) = (g.h * g.w, g.ho * g.wo, g.k * g.k);
    let mut gx = vec![0f32; g.n * g.c * hw];
    gx.par_chunks_mut(hw).enumerate().for_each(|(plane, gx)| {
        let c = plane % g.c;
        let kernel = &w[c * kk..(c + 1) * kk];
        let gy = &grad[plane * ohw..(plane + 1) * ohw];
        for oy in 0..g.ho {
            for ky in 0..g.k {
                let Some(y) = (oy * g.stride + ky).checked_sub(g.pad_top) else { continue };
                if y >= g.h {
                    continue;
                }
                for ox in 0..g.wo {
                    let go = gy[oy * g.wo + ox];
                    for kx in 0..g.k {
                        let Some(x) = (ox * g.stride + kx).checked_sub(g.pad_left) else {
                            continue;
                        };
                        if x < g.w {
                            gx[y * g.w + x] += go * kernel[ky * g.k + kx];
                        }
                    }
                }
            }
        }
    });
    gx
}

/// Gradient of the weights: per channel, the correlation of the output gradient with the
/// padded input, summed over the batch.
fn backward_weight(g: &Geometry, x: &[f32], grad: &[f32]) -> Vec<f32> {
    let (hw, ohw, kk) = (g.h * g.w, g.ho * g.wo, g.k * g.k);
    let (hp, wq) = g.padded();
    let mut gw = vec![0f32; g.c * kk];
    gw.par_chunks_mut(kk).enumerate().for_each(|(c, gw)| {
        SCRATCH.with_borrow_mut(|buf| {
            for n in 0..g.n {
                let plane = n * g.c + c;
                fill_padded(g, &x[plane * hw..(plane + 1) * hw], buf);
                let gy = &grad[plane * ohw..(plane + 1) * ohw];
                for ky in 0..g.k {
                    for kx in 0..g.k {
                        let (p, q) = (kx % g.stride, kx / g.stride);
                        let mut acc = 0f32;
                        for oy in 0..g.ho {
                            let start = (p * hp + oy * g.stride + ky) * wq + q;
                            let src = &buf[start..start + g.wo];
                            let row = &gy[oy * g.wo..(oy + 1) * g.wo];
                            acc += row.iter().zip(src).map(|(a, b)| a * b).sum::<f32>();
                        }
                        gw[ky * g.k + kx] += acc;
                    }
                }
            }
        });
    });
    gw
}

/// The f32 slice of a contiguous CPU tensor storage.
fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("depthwise conv: {what} must be contiguous"),
    }
}

fn kernel_size(l: &Layout) -> Result<usize> {
    match l.dims() {
        &[_, 1, kh, kw] if kh == kw => Ok(kh),
        d => bail!("depthwise conv wants (C, 1, k, k) weights, got {d:?}"),
    }
}

/// Depthwise convolution `x (N,C,H,W) ⊛ w (C,1,k,k)` with TF "SAME" padding: a differentiable
/// op (see [`depthwise_conv2d`]).
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseConv {
    pub stride: usize,
}

impl CustomOp2 for DepthwiseConv {
    fn name(&self) -> &'static str {
        "depthwise-conv2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(xl.dims(), kernel_size(wl)?, self.stride)?;
        if wl.dims()[0] != g.c {
            bail!("depthwise conv: {} weight channels for {} input channels", wl.dims()[0], g.c)
        }
        let out =
            forward(&g, contiguous_f32(xs, xl, "x")?, contiguous_f32(ws, wl, "w")?, None, false);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.c, g.ho, g.wo))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = grad.apply_op2_no_bwd(
            &w.contiguous()?,
            &InputGrad { stride: self.stride, x_dims: x.dims().to_vec() },
        )?;
        let gw = x
            .contiguous()?
            .apply_op2_no_bwd(&grad, &WeightGrad { stride: self.stride, k: w.dim(2)? })?;
        Ok((Some(gx), Some(gw)))
    }
}

/// Backward helper: (grad_out, w) -> grad_x.
struct InputGrad {
    stride: usize,
    x_dims: Vec<usize>,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-grad-input"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(&self.x_dims, kernel_size(wl)?, self.stride)?;
        let gx = backward_input(&g, contiguous_f32(gs, gl, "grad")?, contiguous_f32(ws, wl, "w")?);
        Ok((CpuStorage::F32(gx), Shape::from(self.x_dims.clone())))
    }
}

/// Backward helper: (x, grad_out) -> grad_w.
struct WeightGrad {
    stride: usize,
    k: usize,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "depthwise-conv2d-grad-weight"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(xl.dims(), self.k, self.stride)?;
        let gw = backward_weight(&g, contiguous_f32(xs, xl, "x")?, contiguous_f32(gs, gl, "grad")?);
        Ok((CpuStorage::F32(gw), Shape::from((g.c, 1, self.k, self.k))))
    }
}

/// Differentiable depthwise convolution with TF "SAME" padding: `x` (N,C,H,W) f32, `w`
/// (C,1,k,k) f32; returns (N, C, ceil(H/stride), ceil(W/stride)).
pub fn depthwise_conv2d(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, DepthwiseConv { stride })
}

/// Inference-only depthwise convolution with BatchNorm folded into its weights and bias, and
/// ReLU6 fused: the layer the folded EfficientNet runs.
#[derive(Debug, Clone)]
pub struct FusedDepthwise {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub kernel: usize,
    pub stride: usize,
    pub relu6: bool,
}

impl CustomOp1 for FusedDepthwise {
    fn name(&self) -> &'static str {
        "fused-depthwise-conv2d"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(xl.dims(), self.kernel, self.stride)?;
        if self.bias.len() != g.c || self.weight.len() != g.c * g.k * g.k {
            bail!(
                "fused depthwise conv: parameters for {} channels, input has {}",
                self.bias.len(),
                g.c
            )
        }
        let x = contiguous_f32(xs, xl, "x")?;
        let out = forward(&g, x, &self.weight, Some(&self.bias), self.relu6);
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.c, g.ho, g.wo))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_extra_pixel_last() {
        assert_eq!(same_padding(224, 3, 2), (112, 0, 1));
        assert_eq!(same_padding(112, 5, 2), (56, 1, 2));
        assert_eq!(same_padding(14, 5, 1), (14, 2, 2));
        assert_eq!(same_padding(7, 3, 2), (4, 1, 1));
        assert_eq!(same_padding(1, 5, 2), (1, 2, 2));
    }
}
