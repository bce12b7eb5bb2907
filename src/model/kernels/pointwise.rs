//! 1×1 convolution on channels-last rows with weights packed once at load: `out (m × cout) =
//! x (m × cin) · W + bias`, then the activation ([`Epilogue`]: ReLU6, QuickGELU) and the residual,
//! fused into the store. A transformer's linear layers are the same product.
//!
//! The weights are laid out in panels of 16 output channels (zero-padded; one aligned cache line
//! per input channel), so the inner loop of the register-blocked kernel streams one panel row
//! per input channel while every input value is broadcast once per row: 12 rows × 32 channels
//! of accumulators with AVX-512 (6 rows × 64 channels in the parallel run of a transformer's
//! large layers), 6 rows × 16 channels with AVX2 + FMA, plain loops elsewhere (all picked at run
//! time); the parallel run prefetches the weights a few channels ahead. The input rows are read
//! in place: no per-call packing, which is what the general gemm costs on layers this small.

use rayon::prelude::*;

use super::vmath;

/// Output channels per weight panel.
const PANEL: usize = 16;

/// [`PackedPointwise::run_parallel`]'s unit of work: up to this many rows (1.2 MB of input at
/// 768 channels, which stays in L2 while the group's panels pass over it; each panel, read from
/// L3 once per block, then serves 64 tiles) ...
const ROW_BLOCK: usize = 384;
/// ... times this many panels (128 output channels).
const PANEL_GROUP: usize = 8;

/// The activation fused into the store, before the residual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epilogue {
    None,
    Relu6,
    /// `x · sigmoid(1.702 x)`.
    QuickGelu,
}

impl Epilogue {
    /// ReLU6 when `relu6`, else none (EfficientNet-Lite's layers).
    pub fn relu6_if(relu6: bool) -> Self {
        if relu6 { Self::Relu6 } else { Self::None }
    }

    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        match self {
            Self::None => v,
            Self::Relu6 => v.clamp(0.0, 6.0),
            Self::QuickGelu => vmath::quick_gelu(v),
        }
    }
}

/// One input channel's weights for a panel's 16 output channels: one 64-byte cache line, so
/// no vector load of the weights straddles two lines (a `Vec<f32>` this large starts 16 bytes
/// past a page, and then every load touched two; aligning them sped CLIP's four product shapes
/// up by about 8 % in one A/B on 2026-12-07).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct PanelRow([f32; PANEL]);

#[derive(Debug, Clone)]
pub(crate) struct PackedPointwise {
    pub cin: usize,
    pub cout: usize,
    pub act: Epilogue,
    /// Panel `p`, input channel `k`: output channels `16p..16p+16` in row `p * cin + k`.
    panels: Vec<PanelRow>,
    /// The bias, zero-padded to whole panels.
    bias: Vec<f32>,
}

impl PackedPointwise {
    /// `weight` is (cout, cin) row-major, as a 1×1 convolution (or a linear layer) stores it.
    pub fn new(weight: &[f32], bias: &[f32], cin: usize, cout: usize, act: Epilogue) -> Self {
        assert_eq!(weight.len(), cin * cout, "1x1 weight is not cout x cin");
        assert_eq!(bias.len(), cout, "1x1 bias is not cout long");
        let np = cout.div_ceil(PANEL);
        let mut panels = vec![PanelRow([0.0; PANEL]); np * cin];
        for co in 0..cout {
            let (p, j) = (co / PANEL, co % PANEL);
            for k in 0..cin {
                panels[p * cin + k].0[j] = weight[co * cin + k];
            }
        }
        let mut padded = vec![0f32; np * PANEL];
        padded[..cout].copy_from_slice(bias);
        Self { cin, cout, act, panels, bias: padded }
    }

    /// The panels as one run of floats.
    fn weights(&self) -> &[f32] {
        // SAFETY: a `PanelRow` is exactly `PANEL` floats (`repr(C)`, 64 bytes, no padding), so
        // the rows are `len * PANEL` contiguous, initialized floats.
        unsafe {
            std::slice::from_raw_parts(self.panels.as_ptr().cast(), self.panels.len() * PANEL)
        }
    }

    fn num_panels(&self) -> usize {
        self.bias.len() / PANEL
    }

    /// The rows of a call, after checking that `x` holds whole rows and `out` (and
    /// `residual`) as many rows of `cout`.
    fn rows(&self, x: &[f32], out: &[f32], residual: Option<&[f32]>) -> usize {
        let m = x.len() / self.cin;
        assert_eq!(x.len(), m * self.cin, "input is not whole rows of cin");
        assert_eq!(out.len(), m * self.cout, "output is not m x cout");
        if let Some(r) = residual {
            assert_eq!(r.len(), out.len(), "residual is not m x cout");
        }
        m
    }

    /// `out = x · W + bias` over `x.len() / cin` rows, then the activation, then `+ residual`.
    pub fn run(&self, x: &[f32], out: &mut [f32], residual: Option<&[f32]>) {
        let m = self.rows(x, out, residual);
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F; the slices were checked to hold m rows.
                return unsafe { x86::run_avx512(self, x, out, residual, m) };
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA; the slices were checked to hold m rows.
                return unsafe { x86::run_avx2(self, x, out, residual, m) };
            }
        }
        self.run_portable(x, out, residual, m)
    }

    /// [`Self::run`] for large products (a transformer's linear layers: thousands of rows,
    /// megabytes of weights), on rayon's threads: blocks of [`ROW_BLOCK`] rows × groups of
    /// [`PANEL_GROUP`] panels, each block with its panels outer, so a panel's weights stay in
    /// cache over the block's rows (`run` streams all the weights once per 12 rows) and even
    /// one image's 50 rows spread over the threads.
    pub fn run_parallel(&self, x: &[f32], out: &mut [f32], residual: Option<&[f32]>) {
        let m = self.rows(x, out, residual);
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                let args = x86::Args::new(x, out, residual);
                let groups = self.num_panels().div_ceil(PANEL_GROUP);
                let blocks = m.div_ceil(ROW_BLOCK);
                (0..blocks * groups).into_par_iter().for_each(|t| {
                    let (b, g) = (t / groups, t % groups);
                    // Blocks of even size: 1600 rows as 5 × 320, not 4 × 384 + 64.
                    let rows = (m * b / blocks, m * (b + 1) / blocks);
                    let panels = (g * PANEL_GROUP, ((g + 1) * PANEL_GROUP).min(self.num_panels()));
                    // SAFETY: the CPU has AVX-512F; the slices were checked to hold m rows, and
                    // the tasks write disjoint (rows, panels) blocks of `out`.
                    unsafe { x86::run_avx512_block_for(self, &args, rows, panels) };
                });
                return;
            }
        }
        let (cin, cout) = (self.cin, self.cout);
        out.par_chunks_mut(ROW_BLOCK * cout).enumerate().for_each(|(i, o)| {
            let rows = o.len() / cout;
            let xs = &x[i * ROW_BLOCK * cin..][..rows * cin];
            let res = residual.map(|r| &r[i * ROW_BLOCK * cout..][..o.len()]);
            self.run(xs, o, res);
        });
    }

    fn run_portable(&self, x: &[f32], out: &mut [f32], residual: Option<&[f32]>, m: usize) {
        let (cin, cout) = (self.cin, self.cout);
        let mut acc = [0f32; PANEL];
        for p in 0..self.num_panels() {
            let cols = PANEL.min(cout - p * PANEL);
            let w = &self.weights()[p * cin * PANEL..(p + 1) * cin * PANEL];
            for r in 0..m {
                acc.copy_from_slice(&self.bias[p * PANEL..(p + 1) * PANEL]);
                for (&v, wk) in x[r * cin..(r + 1) * cin].iter().zip(w.chunks_exact(PANEL)) {
                    for (a, &wj) in acc.iter_mut().zip(wk) {
                        *a += v * wj;
                    }
                }
                let o = &mut out[r * cout + p * PANEL..][..cols];
                for (j, (o, &a)) in o.iter_mut().zip(&acc).enumerate() {
                    let a = self.act.apply(a);
                    *o = residual.map_or(a, |res| a + res[r * cout + p * PANEL + j]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Epilogue, PANEL, PackedPointwise, vmath};

    /// QuickGELU on the rows `r0..r0 + rows`, columns `col..col + cols` of `out`, then the
    /// residual: the tiles store the bare product when the epilogue is QuickGELU and finish it
    /// here, out of the product's loop, whose accumulators then stay in registers.
    ///
    /// # Safety
    /// The block is in range of the call's buffers.
    #[inline(always)]
    unsafe fn finish_quick_gelu(
        a: &Args,
        cout: usize,
        r0: usize,
        rows: usize,
        col: usize,
        cols: usize,
    ) {
        for r in r0..r0 + rows {
            let at = r * cout + col;
            // SAFETY: the caller's contract: the block is inside `out` (and `res`).
            let (out, res) = unsafe {
                let res =
                    (!a.res.is_null()).then(|| std::slice::from_raw_parts(a.res.add(at), cols));
                (std::slice::from_raw_parts_mut(a.out.add(at), cols), res)
            };
            for (j, o) in out.iter_mut().enumerate() {
                *o = vmath::quick_gelu(*o) + res.map_or(0.0, |r| r[j]);
            }
        }
    }

    /// [`finish_quick_gelu`] built for AVX-512.
    ///
    /// # Safety
    /// AVX-512F available; the block is in range of the call's buffers.
    #[inline(never)]
    #[target_feature(enable = "avx512f")]
    unsafe fn finish_quick_gelu_512(
        a: &Args,
        cout: usize,
        r0: usize,
        rows: usize,
        col: usize,
        cols: usize,
    ) {
        // SAFETY: the caller's contract.
        unsafe { finish_quick_gelu(a, cout, r0, rows, col, cols) }
    }

    /// [`finish_quick_gelu`] built for AVX2.
    ///
    /// # Safety
    /// AVX2 and FMA available; the block is in range of the call's buffers.
    #[inline(never)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn finish_quick_gelu_256(
        a: &Args,
        cout: usize,
        r0: usize,
        rows: usize,
        col: usize,
        cols: usize,
    ) {
        // SAFETY: the caller's contract.
        unsafe { finish_quick_gelu(a, cout, r0, rows, col, cols) }
    }

    /// Pointers of one call, shared by the tiles.
    pub(super) struct Args {
        x: *const f32,
        out: *mut f32,
        res: *const f32,
    }

    // SAFETY: the tasks of `run_parallel` read `x` and `res` and write disjoint blocks of `out`.
    unsafe impl Sync for Args {}

    impl Args {
        pub(super) fn new(x: &[f32], out: &mut [f32], residual: Option<&[f32]>) -> Self {
            Self {
                x: x.as_ptr(),
                out: out.as_mut_ptr(),
                res: residual.map_or(std::ptr::null(), |r| r.as_ptr()),
            }
        }
    }

    /// [`run_avx512_block`] with the input width as a constant where it is a transformer's
    /// (ViT-B's 768 and 3072): the tile's rows are then fixed offsets from one pointer. With the
    /// width known only at run time, LLVM walks the rows with a chain of address additions per
    /// input channel, on the ports the products need; a C copy of the tile with the width
    /// constant ran about 20 % faster in cache (docs/bench-embed.md).
    ///
    /// # Safety
    /// As [`run_avx512_block`].
    pub(super) unsafe fn run_avx512_block_for(
        p: &PackedPointwise,
        a: &Args,
        rows: (usize, usize),
        panels: (usize, usize),
    ) {
        // SAFETY: the caller's contract.
        unsafe {
            match p.cin {
                768 => run_avx512_block::<768>(p, a, rows, panels),
                3072 => run_avx512_block::<3072>(p, a, rows, panels),
                _ => run_avx512_block::<0>(p, a, rows, panels),
            }
        }
    }

    /// Rows `rows.0..rows.1` × panels `panels.0..panels.1`, panels outer; `CIN` is `p.cin`,
    /// or 0 for "read it at run time".
    ///
    /// # Safety
    /// AVX-512F available; the rows and panels are in range of the call's buffers; `CIN` is 0
    /// or `p.cin`.
    #[target_feature(enable = "avx512f")]
    unsafe fn run_avx512_block<const CIN: usize>(
        p: &PackedPointwise,
        a: &Args,
        rows: (usize, usize),
        panels: (usize, usize),
    ) {
        let mut q = panels.0;
        while q < panels.1 {
            let np = BLOCK_NP.min(panels.1 - q);
            // Tiles of even height: 50 rows (one image's tokens) as 5 × 6 + 4 × 5, not 8 × 6 + 2.
            let len = rows.1 - rows.0;
            let tiles = len.div_ceil(BLOCK_MR);
            let mut r0 = rows.0;
            for t in 0..tiles {
                let mr = len / tiles + usize::from(t < len % tiles);
                // SAFETY: rows r0..r0+mr and panels q..q+np are in range.
                unsafe {
                    macro_rules! go {
                        ($($n:literal)*) => {
                            match (mr, np) {
                                $(($n, 4) => tile512::<$n, 4, true, CIN>(p, a, r0, q),
                                  ($n, 3) => tile512::<$n, 3, true, CIN>(p, a, r0, q),
                                  ($n, 2) => tile512::<$n, 2, true, CIN>(p, a, r0, q),
                                  ($n, 1) => tile512::<$n, 1, true, CIN>(p, a, r0, q),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    go!(1 2 3 4 5 6);
                }
                r0 += mr;
            }
            q += np;
        }
    }

    /// The tiles of `run_avx512_block`: 6 rows × 4 panels = 24 of the 32 zmm registers, 10
    /// loads per 24 products (12 × 2 needs 14; on CLIP's layers 6 × 4 ran 2-4 % faster than
    /// 12 × 2 and about as fast as 8 × 3, interleaved runs on 2026-12-07).
    const BLOCK_MR: usize = 6;
    const BLOCK_NP: usize = 4;

    /// Rows per AVX-512 tile: 12 rows × 2 panels = 24 of the 32 zmm registers.
    const MR512: usize = 12;
    /// How far ahead (input channels, one cache line of a panel each) `run_avx512_block`'s
    /// tiles prefetch the weights into L1: a transformer's panels come from L2 or L3, and the
    /// hardware prefetcher alone left the tile waiting (12-15 % slower on CLIP's layers).
    /// EfficientNet's small layers (`run_avx512`) keep their weights in cache and do without.
    const PREFETCH: usize = 24;

    /// # Safety
    /// AVX-512F available; `x` holds `m` rows of `cin`, `out` (and `residual`) `m` of `cout`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn run_avx512(
        p: &PackedPointwise,
        x: &[f32],
        out: &mut [f32],
        residual: Option<&[f32]>,
        m: usize,
    ) {
        let a = Args::new(x, out, residual);
        let np = p.num_panels();
        let mut r0 = 0;
        while r0 < m {
            let mr = MR512.min(m - r0);
            let mut q = 0;
            while q < np {
                let two = q + 1 < np;
                // SAFETY: rows r0..r0+mr and panels q..q+1(+1) are in range.
                unsafe {
                    macro_rules! go {
                        ($($n:literal)*) => {
                            match (mr, two) {
                                $(($n, true) => tile512::<$n, 2, false, 0>(p, &a, r0, q),
                                  ($n, false) => tile512::<$n, 1, false, 0>(p, &a, r0, q),)*
                                _ => unreachable!(),
                            }
                        };
                    }
                    go!(1 2 3 4 5 6 7 8 9 10 11 12);
                }
                q += if two { 2 } else { 1 };
            }
            r0 += mr;
        }
    }

    /// One tile: rows `r0..r0+MR`, panels `q..q+NP`; `CIN` is `p.cin`, or 0 for "read it at
    /// run time".
    ///
    /// # Safety
    /// AVX-512F available; the rows and panels are in range of the call's buffers; `CIN` is 0
    /// or `p.cin`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile512<
        const MR: usize,
        const NP: usize,
        const PREFETCH_W: bool,
        const CIN: usize,
    >(
        p: &PackedPointwise,
        a: &Args,
        r0: usize,
        q: usize,
    ) {
        let (cin, cout) = (if CIN == 0 { p.cin } else { CIN }, p.cout);
        // SAFETY (whole body): every pointer offset stays within the buffers, by the caller's
        // contract on rows and panels and the panel layout; loads and stores are unaligned.
        unsafe {
            let w = p.weights().as_ptr().add(q * cin * PANEL);
            let x = a.x.add(r0 * cin);
            let mut acc = [[_mm512_setzero_ps(); NP]; MR];
            for j in 0..NP {
                let b = _mm512_loadu_ps(p.bias.as_ptr().add((q + j) * PANEL));
                for row in acc.iter_mut() {
                    row[j] = b;
                }
            }
            for k in 0..cin {
                let mut wv = [_mm512_setzero_ps(); NP];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(w.add((j * cin + k) * PANEL));
                    if PREFETCH_W {
                        // A hint only: past the panel's end it reads nothing.
                        _mm_prefetch::<_MM_HINT_T0>(
                            w.wrapping_add((j * cin + k + PREFETCH) * PANEL).cast(),
                        );
                    }
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_ps(*x.add(i * cin + k));
                    for j in 0..NP {
                        row[j] = _mm512_fmadd_ps(xv, wv[j], row[j]);
                    }
                }
            }
            let (zero, six) = (_mm512_setzero_ps(), _mm512_set1_ps(6.0));
            let gelu = p.act == Epilogue::QuickGelu;
            for j in 0..NP {
                let col = (q + j) * PANEL;
                let valid = PANEL.min(cout - col);
                let mask: __mmask16 = if valid == PANEL { !0 } else { (1u16 << valid) - 1 };
                for (i, row) in acc.iter().enumerate() {
                    let mut v = row[j];
                    if p.act == Epilogue::Relu6 {
                        v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
                    }
                    let at = (r0 + i) * cout + col;
                    if !a.res.is_null() && !gelu {
                        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, a.res.add(at)));
                    }
                    _mm512_mask_storeu_ps(a.out.add(at), mask, v);
                }
            }
            if gelu {
                let col = q * PANEL;
                finish_quick_gelu_512(a, cout, r0, MR, col, (NP * PANEL).min(cout - col));
            }
        }
    }

    /// Rows per AVX2 tile: 6 rows × 16 channels = 12 of the 16 ymm registers.
    const MR256: usize = 6;

    /// # Safety
    /// AVX2 and FMA available; `x` holds `m` rows of `cin`, `out` (and `residual`) `m` of
    /// `cout`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn run_avx2(
        p: &PackedPointwise,
        x: &[f32],
        out: &mut [f32],
        residual: Option<&[f32]>,
        m: usize,
    ) {
        let a = Args::new(x, out, residual);
        let mut r0 = 0;
        while r0 < m {
            let mr = MR256.min(m - r0);
            for q in 0..p.num_panels() {
                // SAFETY: rows r0..r0+mr and panel q are in range.
                unsafe {
                    match mr {
                        1 => tile256::<1>(p, &a, r0, q),
                        2 => tile256::<2>(p, &a, r0, q),
                        3 => tile256::<3>(p, &a, r0, q),
                        4 => tile256::<4>(p, &a, r0, q),
                        5 => tile256::<5>(p, &a, r0, q),
                        _ => tile256::<6>(p, &a, r0, q),
                    }
                }
            }
            r0 += mr;
        }
    }

    /// # Safety
    /// AVX2 and FMA available; the rows and the panel are in range of the call's buffers.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile256<const MR: usize>(p: &PackedPointwise, a: &Args, r0: usize, q: usize) {
        let (cin, cout) = (p.cin, p.cout);
        // SAFETY (whole body): as in `tile512`; a partial panel is stored through a buffer.
        unsafe {
            let w = p.weights().as_ptr().add(q * cin * PANEL);
            let x = a.x.add(r0 * cin);
            let b = p.bias.as_ptr().add(q * PANEL);
            let mut acc = [[_mm256_loadu_ps(b), _mm256_loadu_ps(b.add(8))]; MR];
            for k in 0..cin {
                let w0 = _mm256_loadu_ps(w.add(k * PANEL));
                let w1 = _mm256_loadu_ps(w.add(k * PANEL + 8));
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm256_set1_ps(*x.add(i * cin + k));
                    row[0] = _mm256_fmadd_ps(xv, w0, row[0]);
                    row[1] = _mm256_fmadd_ps(xv, w1, row[1]);
                }
            }
            let (zero, six) = (_mm256_setzero_ps(), _mm256_set1_ps(6.0));
            let col = q * PANEL;
            let valid = PANEL.min(cout - col);
            let gelu = p.act == Epilogue::QuickGelu;
            for (i, row) in acc.iter().enumerate() {
                let mut v = *row;
                if p.act == Epilogue::Relu6 {
                    for h in &mut v {
                        *h = _mm256_min_ps(_mm256_max_ps(*h, zero), six);
                    }
                }
                let at = (r0 + i) * cout + col;
                if valid == PANEL {
                    for (h, v) in v.iter_mut().enumerate() {
                        if !a.res.is_null() && !gelu {
                            *v = _mm256_add_ps(*v, _mm256_loadu_ps(a.res.add(at + 8 * h)));
                        }
                        _mm256_storeu_ps(a.out.add(at + 8 * h), *v);
                    }
                } else {
                    let mut tmp = [0f32; PANEL];
                    _mm256_storeu_ps(tmp.as_mut_ptr(), v[0]);
                    _mm256_storeu_ps(tmp.as_mut_ptr().add(8), v[1]);
                    for (j, &t) in tmp[..valid].iter().enumerate() {
                        let r = if a.res.is_null() || gelu { 0.0 } else { *a.res.add(at + j) };
                        *a.out.add(at + j) = t + r;
                    }
                }
            }
            if gelu {
                finish_quick_gelu_256(a, cout, r0, MR, col, valid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(w: &[f32], b: &[f32], x: &[f32], cin: usize, cout: usize, act: Epilogue) -> Vec<f32> {
        let m = x.len() / cin;
        let mut out = vec![0f32; m * cout];
        for r in 0..m {
            for co in 0..cout {
                let mut s = b[co] as f64;
                for k in 0..cin {
                    s += (x[r * cin + k] * w[co * cin + k]) as f64;
                }
                let s = s as f32;
                out[r * cout + co] = match act {
                    Epilogue::None => s,
                    Epilogue::Relu6 => s.clamp(0.0, 6.0),
                    Epilogue::QuickGelu => s / (1.0 + (-1.702 * s).exp()),
                };
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::model::test_values(n, seed, -1.0..1.0)
    }

    #[test]
    fn packed_kernels_match_a_naive_product_for_all_tails() {
        for (m, cin, cout) in [(1, 3, 5), (13, 16, 24), (25, 7, 40), (49, 96, 48), (7, 33, 17)] {
            let w = values(cin * cout, 1);
            let b = values(cout, 2);
            let x = values(m * cin, 3);
            let res = values(m * cout, 4);
            for act in [Epilogue::None, Epilogue::Relu6, Epilogue::QuickGelu] {
                let p = PackedPointwise::new(&w, &b, cin, cout, act);
                let want = naive(&w, &b, &x, cin, cout, act);
                let mut got = vec![f32::NAN; m * cout];
                p.run(&x, &mut got, None);
                let mut portable = vec![f32::NAN; m * cout];
                p.run_portable(&x, &mut portable, None, m);
                let mut with_res = vec![f32::NAN; m * cout];
                p.run(&x, &mut with_res, Some(&res));
                // The AVX2 tiles too, on a machine that would pick AVX-512.
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    let mut avx2 = vec![f32::NAN; m * cout];
                    // SAFETY: the CPU has AVX2 and FMA; the buffers hold m rows.
                    unsafe { x86::run_avx2(&p, &x, &mut avx2, Some(&res), m) };
                    for i in 0..m * cout {
                        assert!((avx2[i] - want[i] - res[i]).abs() < 1e-4, "avx2 at {i}");
                    }
                }
                for i in 0..m * cout {
                    assert!((got[i] - want[i]).abs() < 1e-4, "{m}x{cin}->{cout} at {i}");
                    assert!((portable[i] - want[i]).abs() < 1e-4, "portable at {i}");
                    assert!((with_res[i] - want[i] - res[i]).abs() < 1e-4, "residual at {i}");
                }
            }
        }
    }

    #[test]
    fn the_parallel_blocked_run_matches_for_blocks_groups_and_tails() {
        // Rows over several blocks, panels over several groups with an odd tail, tiles of 1 to
        // 4 panels, and the widths built as constants (768, 3072) beside ones read at run time.
        let shapes =
            [(50, 24, 40), (203, 17, 300), (1, 8, 16), (13, 9, 90), (800, 768, 200), (7, 3072, 40)];
        for (m, cin, cout) in shapes {
            // f32 sums of `cin` products against f64 ones.
            let tol = 1e-4 + 2e-6 * cin as f32;
            let (w, b, x, res) =
                (values(cin * cout, 5), values(cout, 6), values(m * cin, 7), values(m * cout, 8));
            for act in [Epilogue::None, Epilogue::QuickGelu] {
                let p = PackedPointwise::new(&w, &b, cin, cout, act);
                let want = naive(&w, &b, &x, cin, cout, act);
                let mut got = vec![f32::NAN; m * cout];
                p.run_parallel(&x, &mut got, Some(&res));
                for i in 0..m * cout {
                    assert!((got[i] - want[i] - res[i]).abs() < tol, "{m}x{cin}->{cout} at {i}");
                }
            }
        }
    }
}
