//! Fused 1×1 convolution for inference as a candle custom op: one matrix product per image
//! (`gemm`, AVX2/FMA picked at run time) accumulating onto the folded BatchNorm bias (and the
//! residual, when the block has one), then ReLU6 in place — one pass over the output instead
//! of candle's matmul + broadcast add + clamp + add, each allocating a fresh tensor.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, bail};
use gemm::Parallelism;
use rayon::prelude::*;

/// A 1×1 convolution with BatchNorm folded in: `weight` is (cout, cin) row-major.
#[derive(Debug, Clone)]
pub struct FusedPointwise {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub cin: usize,
    pub cout: usize,
    pub relu6: bool,
}

impl FusedPointwise {
    fn run(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        residual: Option<&[f32]>,
    ) -> Result<(CpuStorage, Shape)> {
        let &[n, c, h, w] = xl.dims() else {
            bail!("pointwise conv wants NCHW input, got {:?}", xl.dims())
        };
        if c != self.cin {
            bail!("pointwise conv: {} input channels, weights for {}", c, self.cin)
        }
        let Some((start, end)) = xl.contiguous_offsets() else {
            bail!("pointwise conv: input must be contiguous")
        };
        let x = &xs.as_slice::<f32>()?[start..end];
        let hw = h * w;
        let (in_len, out_len) = (self.cin * hw, self.cout * hw);
        let mut out = vec![0f32; n * out_len];
        if let Some(r) = residual
            && r.len() != out.len()
        {
            bail!("pointwise conv: residual has {} values, output {}", r.len(), out.len())
        }
        let threads = rayon::current_num_threads();
        // Enough images: one image per task, single-threaded gemm (no synchronization).
        // Fewer images than threads: let gemm split each product.
        let par = if n >= threads || threads == 1 {
            Parallelism::None
        } else {
            Parallelism::Rayon(threads)
        };
        let image = |i: usize, dst: &mut [f32]| {
            for (co, row) in dst.chunks_exact_mut(hw).enumerate() {
                match residual {
                    Some(r) => {
                        let r = &r[i * out_len + co * hw..i * out_len + (co + 1) * hw];
                        for (d, &v) in row.iter_mut().zip(r) {
                            *d = v + self.bias[co];
                        }
                    }
                    None => row.fill(self.bias[co]),
                }
            }
            let src = &x[i * in_len..(i + 1) * in_len];
            // SAFETY: dst is (cout × hw), lhs (cout × cin), rhs (cin × hw), all row-major and
            // exactly that long; the pointers stay valid for the call.
            unsafe {
                gemm::gemm(
                    self.cout,
                    hw,
                    self.cin,
                    dst.as_mut_ptr(),
                    1,
                    hw as isize,
                    true,
                    self.weight.as_ptr(),
                    1,
                    self.cin as isize,
                    src.as_ptr(),
                    1,
                    hw as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    par,
                )
            };
            if self.relu6 {
                for v in dst.iter_mut() {
                    *v = v.clamp(0.0, 6.0);
                }
            }
        };
        if matches!(par, Parallelism::None) && n > 1 {
            out.par_chunks_mut(out_len).enumerate().for_each(|(i, dst)| image(i, dst));
        } else {
            out.chunks_mut(out_len).enumerate().for_each(|(i, dst)| image(i, dst));
        }
        Ok((CpuStorage::F32(out), Shape::from((n, self.cout, h, w))))
    }
}

impl CustomOp1 for FusedPointwise {
    fn name(&self) -> &'static str {
        "fused-pointwise-conv"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> Result<(CpuStorage, Shape)> {
        self.run(xs, xl, None)
    }
}

/// `x.apply_op2_no_bwd(&residual, &op)`: the projection conv of a residual block, adding the
/// block's input in the same pass.
impl CustomOp2 for FusedPointwise {
    fn name(&self) -> &'static str {
        "fused-pointwise-conv-residual"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        rs: &CpuStorage,
        rl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let Some((a, b)) = rl.contiguous_offsets() else {
            bail!("pointwise conv: residual must be contiguous")
        };
        let residual = &rs.as_slice::<f32>()?[a..b];
        self.run(xs, xl, Some(residual))
    }
}
