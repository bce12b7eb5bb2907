//! Channels-last (NHWC) inference kernels of the folded network, as candle custom ops: the stem
//! convolution (NCHW image in, NHWC out), the depthwise convolution and the 1×1 convolution,
//! each with its BatchNorm folded into weights + bias and ReLU6 (and the residual) fused.
//!
//! Channels-last is what makes the depthwise convolution fast on a CPU: every tap of the
//! kernel is a contiguous multiply-add over the channels of one pixel, accumulated in
//! registers (64 channels at a time) with no padded copy of the input, and a 1×1 convolution is
//! one matrix product for the whole batch. Inner loops are compiled for AVX2 + FMA when the
//! CPU has them (picked at run time) and stay portable otherwise.

use std::mem::MaybeUninit;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, bail};
use gemm::Parallelism;
use rayon::prelude::*;

use super::planar_depthwise::same_padding;

/// Runs `$body` compiled with AVX2 + FMA when the CPU has them (and with fused multiply-add
/// then), else as portable code.
macro_rules! dispatch_fma {
    ($name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn generic<const FMA: bool>($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) { generic::<true>($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has the features `avx2` was compiled for.
                return unsafe { avx2($($arg),*) };
            }
            generic::<false>($($arg),*)
        }
    };
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => bail!("{what} must be contiguous"),
    }
}

fn relu6_in_place(v: &mut [f32]) {
    for x in v {
        *x = x.clamp(0.0, 6.0);
    }
}

/// Dense k×k convolution with TF "SAME" padding, NCHW input (the normalized image) to NHWC
/// output. `weight` is (k, k, cin, cout): `weight[((ky * k + kx) * cin + ci) * cout + co]`.
#[derive(Debug, Clone)]
pub struct StemConv {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub cin: usize,
    pub cout: usize,
    pub kernel: usize,
    pub stride: usize,
}

struct StemRow<'a> {
    op: &'a StemConv,
    x: &'a [f32],
    h: usize,
    w: usize,
    wo: usize,
    pt: usize,
    pl: usize,
}

/// One output pixel of the stem, `B` output channels kept in registers.
#[inline(always)]
fn stem_pixel<const FMA: bool, const B: usize>(
    r: &StemRow<'_>,
    n: usize,
    oy: usize,
    ox: usize,
    c0: usize,
    out: &mut [f32],
) {
    let op = r.op;
    let (k, s, cin, cout) = (op.kernel, op.stride, op.cin, op.cout);
    let mut acc = [0f32; B];
    acc.copy_from_slice(&op.bias[c0..c0 + B]);
    for ky in 0..k {
        let Some(iy) = (oy * s + ky).checked_sub(r.pt).filter(|&y| y < r.h) else { continue };
        for kx in 0..k {
            let Some(ix) = (ox * s + kx).checked_sub(r.pl).filter(|&x| x < r.w) else {
                continue;
            };
            for ci in 0..cin {
                let v = r.x[((n * cin + ci) * r.h + iy) * r.w + ix];
                let start = ((ky * k + kx) * cin + ci) * cout + c0;
                let wrow: &[f32; B] = op.weight[start..start + B].try_into().unwrap_or(&[0.0; B]);
                for j in 0..B {
                    acc[j] = madd::<FMA>(v, wrow[j], acc[j]);
                }
            }
        }
    }
    relu6_in_place(&mut acc);
    out[ox * cout + c0..ox * cout + c0 + B].copy_from_slice(&acc);
}

dispatch_fma!(stem_row(r: &StemRow<'_>, n: usize, oy: usize, out: &mut [f32]) {
    let cout = r.op.cout;
    for ox in 0..r.wo {
        let mut c0 = 0;
        while c0 + 32 <= cout {
            stem_pixel::<FMA, 32>(r, n, oy, ox, c0, out);
            c0 += 32;
        }
        while c0 < cout {
            stem_pixel::<FMA, 1>(r, n, oy, ox, c0, out);
            c0 += 1;
        }
    }
});

impl CustomOp1 for StemConv {
    fn name(&self) -> &'static str {
        "stem-conv-nchw-to-nhwc"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[n, c, h, w] = xl.dims() else { bail!("stem wants NCHW input, got {:?}", xl.dims()) };
        if c != self.cin {
            bail!("stem: {c} input channels, weights for {}", self.cin)
        }
        let (ho, pt, _) = same_padding(h, self.kernel, self.stride);
        let (wo, pl, _) = same_padding(w, self.kernel, self.stride);
        let x = slice(xs, xl, "stem input")?;
        let row = StemRow { op: self, x, h, w, wo, pt, pl };
        let mut out = vec![0f32; n * ho * wo * self.cout];
        out.par_chunks_mut(wo * self.cout).enumerate().for_each(|(i, o)| {
            stem_row(&row, i / ho, i % ho, o);
        });
        Ok((CpuStorage::F32(out), Shape::from((n, ho, wo, self.cout))))
    }
}

/// Depthwise k×k convolution with TF "SAME" padding on NHWC, folded bias, optional ReLU6.
/// `weight` is (k, k, C): `weight[(ky * k + kx) * C + c]`.
#[derive(Debug, Clone)]
pub struct DepthwiseNhwc {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub relu6: bool,
}

struct DwGeom<'a> {
    op: &'a DepthwiseNhwc,
    x: &'a [f32],
    h: usize,
    w: usize,
    wo: usize,
    pt: usize,
    pl: usize,
}

/// Channels per register block: 8 AVX registers of accumulators.
const BLOCK: usize = 64;

#[inline(always)]
fn dw_block<const FMA: bool, const B: usize>(
    g: &DwGeom<'_>,
    img: usize,
    oy: usize,
    ox: usize,
    c0: usize,
    out: &mut [f32],
) {
    let op = g.op;
    let (k, s, c) = (op.kernel, op.stride, op.channels);
    let mut acc = [0f32; B];
    acc.copy_from_slice(&op.bias[c0..c0 + B]);
    for ky in 0..k {
        let Some(iy) = (oy * s + ky).checked_sub(g.pt).filter(|&y| y < g.h) else { continue };
        let row = (img * g.h + iy) * g.w;
        for kx in 0..k {
            let Some(ix) = (ox * s + kx).checked_sub(g.pl).filter(|&x| x < g.w) else { continue };
            let src: &[f32; B] = g.x[(row + ix) * c + c0..][..B].try_into().unwrap_or(&[0.0; B]);
            let wv: &[f32; B] =
                op.weight[(ky * k + kx) * c + c0..][..B].try_into().unwrap_or(&[0.0; B]);
            for j in 0..B {
                acc[j] = madd::<FMA>(src[j], wv[j], acc[j]);
            }
        }
    }
    if op.relu6 {
        relu6_in_place(&mut acc);
    }
    out[c0..c0 + B].copy_from_slice(&acc);
}

dispatch_fma!(dw_row(g: &DwGeom<'_>, img: usize, oy: usize, out: &mut [f32]) {
    let c = g.op.channels;
    for ox in 0..g.wo {
        let px = &mut out[ox * c..(ox + 1) * c];
        let mut c0 = 0;
        while c0 + BLOCK <= c {
            dw_block::<FMA, BLOCK>(g, img, oy, ox, c0, px);
            c0 += BLOCK;
        }
        while c0 + 32 <= c {
            dw_block::<FMA, 32>(g, img, oy, ox, c0, px);
            c0 += 32;
        }
        while c0 + 8 <= c {
            dw_block::<FMA, 8>(g, img, oy, ox, c0, px);
            c0 += 8;
        }
        while c0 < c {
            dw_block::<FMA, 1>(g, img, oy, ox, c0, px);
            c0 += 1;
        }
    }
});

impl CustomOp1 for DepthwiseNhwc {
    fn name(&self) -> &'static str {
        "depthwise-conv-nhwc"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[n, h, w, c] = xl.dims() else { bail!("depthwise wants NHWC, got {:?}", xl.dims()) };
        if c != self.channels || self.weight.len() != c * self.kernel * self.kernel {
            bail!("depthwise: {c} input channels, weights for {}", self.channels)
        }
        let (ho, pt, _) = same_padding(h, self.kernel, self.stride);
        let (wo, pl, _) = same_padding(w, self.kernel, self.stride);
        let g = DwGeom { op: self, x: slice(xs, xl, "depthwise input")?, h, w, wo, pt, pl };
        let mut out = vec![0f32; n * ho * wo * c];
        out.par_chunks_mut(wo * c).enumerate().for_each(|(i, o)| dw_row(&g, i / ho, i % ho, o));
        Ok((CpuStorage::F32(out), Shape::from((n, ho, wo, c))))
    }
}

/// 1×1 convolution on NHWC: one matrix product (N·H·W × cin) · (cin × cout) accumulated onto
/// the folded bias (and the residual), then ReLU6. `weight` is (cout, cin) as stored.
#[derive(Debug, Clone)]
pub struct PointwiseNhwc {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub cin: usize,
    pub cout: usize,
    pub relu6: bool,
}

impl PointwiseNhwc {
    fn run(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        residual: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let &[n, h, w, c] = xl.dims() else { bail!("pointwise wants NHWC, got {:?}", xl.dims()) };
        if c != self.cin {
            bail!("pointwise: {c} input channels, weights for {}", self.cin)
        }
        let x = slice(xs, xl, "pointwise input")?;
        let rows = n * h * w;
        let len = rows * self.cout;
        if let Some(r) = residual
            && r.len() != len
        {
            bail!("pointwise: residual has {} values, output {len}", r.len())
        }
        let threads = rayon::current_num_threads();
        // Many rows: blocks of up to 512 rows per task, single-threaded gemm (packing the
        // weights per call is then a small share). Few rows (the 7×7 and 14×14 stages): one
        // block, gemm splitting the output channels across the threads.
        let (chunk, par) = if rows >= 256 * threads || threads == 1 {
            (rows.div_ceil(threads * 2).clamp(1, 512), Parallelism::None)
        } else {
            (rows, Parallelism::Rayon(threads))
        };
        // The output starts as bias (+ residual), written once: no zero-fill pass.
        let mut out: Vec<f32> = Vec::with_capacity(len);
        out.spare_capacity_mut()[..len].par_chunks_mut(chunk * self.cout).enumerate().for_each(
            |(i, dst)| {
                let first = i * chunk * self.cout;
                for (r, row) in dst.chunks_exact_mut(self.cout).enumerate() {
                    match residual {
                        Some(res) => {
                            let res = &res[first + r * self.cout..][..self.cout];
                            for ((d, b), v) in row.iter_mut().zip(&self.bias).zip(res) {
                                d.write(b + v);
                            }
                        }
                        None => {
                            for (d, b) in row.iter_mut().zip(&self.bias) {
                                d.write(*b);
                            }
                        }
                    }
                }
                // SAFETY: every element of `dst` was written just above, and MaybeUninit<f32>
                // has the layout of f32.
                let dst = unsafe { &mut *(dst as *mut [MaybeUninit<f32>] as *mut [f32]) };
                let m = dst.len() / self.cout;
                self.block(&x[i * chunk * self.cin..][..m * self.cin], dst, par);
            },
        );
        // SAFETY: the chunks above cover `..len` and initialized all of it.
        unsafe { out.set_len(len) };
        Ok((CpuStorage::F32(out), Shape::from((n, h, w, self.cout))))
    }
}

impl PointwiseNhwc {
    /// `dst (m × cout) += src (m × cin) · weightᵀ`, then ReLU6.
    fn block(&self, src: &[f32], dst: &mut [f32], par: Parallelism) {
        let m = dst.len() / self.cout;
        // SAFETY: dst is (m × cout) row-major, src (m × cin) row-major, weight (cout × cin)
        // row-major read as its transpose (cin × cout) with column stride cin.
        unsafe {
            gemm::gemm(
                m,
                self.cout,
                self.cin,
                dst.as_mut_ptr(),
                1,
                self.cout as isize,
                true,
                src.as_ptr(),
                1,
                self.cin as isize,
                self.weight.as_ptr(),
                self.cin as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        };
        if self.relu6 {
            relu6_in_place(dst);
        }
    }
}

impl CustomOp1 for PointwiseNhwc {
    fn name(&self) -> &'static str {
        "pointwise-conv-nhwc"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        self.run(xs, xl, None)
    }
}

/// `x.apply_op2_no_bwd(&residual, &op)`: the projection of a residual block, adding the
/// block's input in the same pass.
impl CustomOp2 for PointwiseNhwc {
    fn name(&self) -> &'static str {
        "pointwise-conv-nhwc-residual"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        rs: &CpuStorage,
        rl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let residual = slice(rs, rl, "residual")?;
        self.run(xs, xl, Some(residual))
    }
}
