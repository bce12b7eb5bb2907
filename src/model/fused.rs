//! The folded EfficientNet-Lite run image by image on plain buffers for [`embed`]: each MBConv
//! block streams its rows through expand → depthwise → project, so the expanded activations
//! (up to 6× the block's input) live only in a small ring of rows that stays in cache.
//!
//! A batch runs one whole image per thread (no synchronization inside an image); an image left
//! over (a single one, or the odd one of a batch) is split by output rows across the threads,
//! each layer waiting for the previous one. Per-thread scratch buffers are reused across
//! layers, images and calls.
//!
//! [`embed`]: super::EfficientNetLite::embed

use std::cell::RefCell;
use std::ops::Range;

use rayon::prelude::*;

use super::depthwise::same_padding;
use super::nhwc::{DepthwiseNhwc, PointwiseNhwc, StemConv};
use super::pointwise::PackedPointwise;

/// Channels per register block of the depthwise kernel (one AVX-512 register).
const DW_BLOCK: usize = 16;

/// Output pixels per band of a block: rows are expanded, filtered and projected this many
/// pixels at a time (at least one row), enough to keep the 1×1 kernel's tiles full.
const BAND_PIXELS: usize = 48;

/// Largest expansion (floats) that an image split across threads computes whole before the
/// depthwise convolution: below it the rows each part would recompute for its neighbour cost
/// more than the extra synchronization.
const SPLIT_EXPAND_FIRST: usize = 200_000;

/// Depthwise layer of a block: (k, k, C) folded weights, ReLU6.
#[derive(Debug, Clone)]
struct Depthwise {
    weight: Vec<f32>,
    bias: Vec<f32>,
    kernel: usize,
    stride: usize,
    relu6: bool,
}

#[derive(Debug, Clone)]
struct Block {
    expand: Option<PackedPointwise>,
    dw: Depthwise,
    project: PackedPointwise,
    residual: bool,
    cin: usize,
    mid: usize,
    cout: usize,
}

/// The stem: a dense k×k convolution (ReLU6) from the NCHW image, run as a 1×1 convolution
/// over the k·k·c taps of each output pixel gathered into a row.
#[derive(Debug, Clone)]
struct Stem {
    taps: PackedPointwise,
    kernel: usize,
    stride: usize,
    cin: usize,
    cout: usize,
}

impl Stem {
    fn new(op: &StemConv) -> Self {
        let taps = op.kernel * op.kernel * op.cin;
        // (k, k, cin, cout) to (cout, taps): the layout a 1×1 convolution stores.
        let mut weight = vec![0f32; op.cout * taps];
        for t in 0..taps {
            for co in 0..op.cout {
                weight[co * taps + t] = op.weight[t * op.cout + co];
            }
        }
        Self {
            taps: PackedPointwise::new(&weight, &op.bias, taps, op.cout, true),
            kernel: op.kernel,
            stride: op.stride,
            cin: op.cin,
            cout: op.cout,
        }
    }

    fn out_shape(&self, h: usize, w: usize) -> (usize, usize) {
        let (k, s) = (self.kernel, self.stride);
        (same_padding(h, k, s).0, same_padding(w, k, s).0)
    }

    /// Output rows `oy0..` (as many as `out` holds, NHWC) of the NCHW image `x` (`h`×`w`).
    fn rows(&self, x: &[f32], h: usize, w: usize, oy0: usize, out: &mut [f32], wk: &mut Work) {
        let (k, s, c) = (self.kernel, self.stride, self.cin);
        let (_, pt, _) = same_padding(h, k, s);
        let (wo, pl, _) = same_padding(w, k, s);
        let taps = k * k * c;
        fit(&mut wk.cols, wo * taps);
        for (i, dst) in out.chunks_exact_mut(wo * self.cout).enumerate() {
            let cols = &mut wk.cols[..];
            cols.fill(0.0);
            for ky in 0..k {
                let Some(iy) = ((oy0 + i) * s + ky).checked_sub(pt).filter(|&y| y < h) else {
                    continue;
                };
                for ci in 0..c {
                    let row = &x[(ci * h + iy) * w..][..w];
                    for kx in 0..k {
                        let t = (ky * k + kx) * c + ci;
                        // Output columns whose tap falls inside the image: ox*s + kx - pl in 0..w.
                        let lo = pl.saturating_sub(kx).div_ceil(s);
                        let hi = ((w + pl).saturating_sub(kx)).div_ceil(s).min(wo);
                        for ox in lo..hi {
                            cols[ox * taps + t] = row[ox * s + kx - pl];
                        }
                    }
                }
            }
            self.taps.run(cols, dst, None);
        }
    }
}

/// The folded network's layers, laid out for the per-image path.
#[derive(Debug, Clone)]
pub(crate) struct FusedNet {
    stem: Stem,
    blocks: Vec<Block>,
    head: PackedPointwise,
}

/// One MBConv block as the folded network holds it: expand (if any), depthwise, project, and
/// whether the input is added back.
pub(crate) type BlockParts<'a> =
    (Option<&'a PointwiseNhwc>, &'a DepthwiseNhwc, &'a PointwiseNhwc, bool);

fn pack(p: &PointwiseNhwc) -> PackedPointwise {
    PackedPointwise::new(&p.weight, &p.bias, p.cin, p.cout, p.relu6)
}

impl FusedNet {
    /// `None` when a layer is outside what the kernels here handle (kernel 3 or 5, stride 1 or
    /// 2, channels in multiples of 16, ReLU6 on the depthwise): then the candle ops run.
    pub fn new(stem: &StemConv, blocks: &[BlockParts<'_>], head: &PointwiseNhwc) -> Option<Self> {
        let mut out = Vec::with_capacity(blocks.len());
        let mut c = stem.cout;
        for &(expand, dw, project, residual) in blocks {
            let cin = expand.map_or(dw.channels, |e| e.cin);
            let mid = dw.channels;
            let ok = cin == c
                && expand.is_none_or(|e| e.cout == mid)
                && project.cin == mid
                && mid % DW_BLOCK == 0
                && matches!((dw.kernel, dw.stride), (3 | 5, 1 | 2))
                && (!residual || (dw.stride == 1 && cin == project.cout));
            if !ok {
                return None;
            }
            out.push(Block {
                expand: expand.map(pack),
                dw: Depthwise {
                    weight: dw.weight.clone(),
                    bias: dw.bias.clone(),
                    kernel: dw.kernel,
                    stride: dw.stride,
                    relu6: dw.relu6,
                },
                project: pack(project),
                residual,
                cin,
                mid,
                cout: project.cout,
            });
            c = project.cout;
        }
        if head.cin != c {
            return None;
        }
        Some(Self { stem: Stem::new(stem), blocks: out, head: pack(head) })
    }

    pub fn dim(&self) -> usize {
        self.head.cout
    }

    /// Pooled head features of `n` NCHW images (`x` is n × 3 × h × w), n × [`Self::dim`].
    pub fn embed(&self, x: &[f32], n: usize, h: usize, w: usize) -> Vec<f32> {
        let (per, dim) = (self.stem.cin * h * w, self.dim());
        assert_eq!(x.len(), n * per, "fused embed: input is not n x 3 x h x w");
        let mut out = vec![0f32; n * dim];
        let threads = rayon::current_num_threads();
        // Whole images per thread while every thread gets one; the rest split by rows.
        let whole = if threads > 1 { n - n % threads } else { n };
        out[..whole * dim].par_chunks_mut(dim).zip(x[..whole * per].par_chunks(per)).for_each(
            |(emb, img)| {
                with_scratch(&ACT, |act| {
                    with_scratch(&WORK, |wk| self.image(img, h, w, emb, act, wk))
                })
            },
        );
        for (emb, img) in out[whole * dim..].chunks_mut(dim).zip(x[whole * per..].chunks(per)) {
            // Driven from a pool thread: the dozens of per-layer splits then cost a hand-off
            // between two workers, not a wake-up of the pool from outside each time.
            rayon::scope(|_| {
                with_scratch(&ACT, |act| self.image_split(img, h, w, emb, act, threads))
            });
        }
        out
    }

    /// One image on the calling thread.
    fn image(&self, x: &[f32], h: usize, w: usize, emb: &mut [f32], act: &mut Act, wk: &mut Work) {
        let Act { a, b, .. } = act;
        let (mut hc, mut wc) = self.stem.out_shape(h, w);
        fit(a, hc * wc * self.stem.cout);
        self.stem.rows(x, h, w, 0, a, wk);
        for blk in &self.blocks {
            let (ho, wo) = blk.out_shape(hc, wc);
            fit(b, ho * wo * blk.cout);
            blk.run(a, hc, wc, b, 0, wk);
            std::mem::swap(a, b);
            (hc, wc) = (ho, wo);
        }
        emb.fill(0.0);
        self.head_pool(a, emb, hc * wc, wk);
    }

    /// One image with every layer split by output rows across `parts` rayon tasks.
    fn image_split(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        emb: &mut [f32],
        act: &mut Act,
        parts: usize,
    ) {
        let Act { a, b, e: e_buf } = act;
        let (mut hc, mut wc) = self.stem.out_shape(h, w);
        fit(a, hc * wc * self.stem.cout);
        let band = hc.div_ceil(parts);
        a.par_chunks_mut(band * wc * self.stem.cout).enumerate().for_each(|(i, o)| {
            with_scratch(&WORK, |wk| self.stem.rows(x, h, w, i * band, o, wk));
        });
        for blk in &self.blocks {
            let (ho, wo) = blk.out_shape(hc, wc);
            fit(b, ho * wo * blk.cout);
            let src: &[f32] = a;
            // Small images: expand all rows first (split by rows), then filter and project,
            // rather than have each part expand the rows its neighbour also needs.
            let expanded = match &blk.expand {
                Some(e) if hc * wc * blk.mid <= SPLIT_EXPAND_FIRST => {
                    fit(e_buf, hc * wc * blk.mid);
                    let px = (hc * wc).div_ceil(parts);
                    e_buf
                        .par_chunks_mut(px * blk.mid)
                        .zip(src.par_chunks(px * blk.cin))
                        .for_each(|(o, x)| e.run(x, o, None));
                    Some(&e_buf[..])
                }
                _ => None,
            };
            if let Some(expanded) = expanded {
                // Equal numbers of output pixels (a 7-row image splits 4 + 3 by rows).
                let px = (ho * wo).div_ceil(parts);
                b.par_chunks_mut(px * blk.cout).enumerate().for_each(|(i, o)| {
                    with_scratch(&WORK, |wk| blk.run_pixels(src, expanded, hc, wc, o, i * px, wk));
                });
            } else {
                let band = ho.div_ceil(parts);
                b.par_chunks_mut(band * wo * blk.cout).enumerate().for_each(|(i, o)| {
                    with_scratch(&WORK, |wk| blk.run(src, hc, wc, o, i * band, wk));
                });
            }
            std::mem::swap(a, b);
            (hc, wc) = (ho, wo);
        }
        let pixels = hc * wc;
        let c = self.head.cin;
        let chunk = pixels.div_ceil(parts) * c;
        let sums: Vec<Vec<f32>> = a
            .par_chunks(chunk)
            .map(|rows| {
                let mut part = vec![0f32; self.dim()];
                with_scratch(&WORK, |wk| self.head_pool(rows, &mut part, pixels, wk));
                part
            })
            .collect();
        emb.fill(0.0);
        for part in sums {
            for (e, v) in emb.iter_mut().zip(part) {
                *e += v;
            }
        }
    }

    /// Adds the head (1×1, ReLU6) of the pixels `x` (rows of `head.cin`), divided by `pixels`,
    /// onto `emb`.
    fn head_pool(&self, x: &[f32], emb: &mut [f32], pixels: usize, wk: &mut Work) {
        let (cin, dim) = (self.head.cin, self.dim());
        let rows = x.len() / cin;
        // Chunks of rows keep the head's output (1280 wide) in cache.
        const CHUNK: usize = 24;
        fit(&mut wk.head, CHUNK * dim);
        let scale = 1.0 / pixels as f32;
        for r0 in (0..rows).step_by(CHUNK) {
            let n = CHUNK.min(rows - r0);
            let out = &mut wk.head[..n * dim];
            self.head.run(&x[r0 * cin..(r0 + n) * cin], out, None);
            for row in out.chunks_exact(dim) {
                for (e, v) in emb.iter_mut().zip(row) {
                    *e += v * scale;
                }
            }
        }
    }
}

impl Block {
    fn out_shape(&self, h: usize, w: usize) -> (usize, usize) {
        let (k, s) = (self.dw.kernel, self.dw.stride);
        (same_padding(h, k, s).0, same_padding(w, k, s).0)
    }

    /// Output rows `oy0..` (as many as `out` holds) of the block on the `h`×`w` image `x`.
    fn run(&self, x: &[f32], h: usize, w: usize, out: &mut [f32], oy0: usize, wk: &mut Work) {
        let f = match (self.dw.kernel, self.dw.stride) {
            (3, 1) => Self::run_ks::<3, 1>,
            (3, 2) => Self::run_ks::<3, 2>,
            (5, 1) => Self::run_ks::<5, 1>,
            (5, 2) => Self::run_ks::<5, 2>,
            other => unreachable!("depthwise {other:?} was refused at load"),
        };
        f(self, x, h, w, out, oy0, wk)
    }

    /// Output pixels `p0..` (as many as `out` holds, in row-major order) of the block on the
    /// `h`×`w` image `x`, whose whole expansion is `expanded`.
    #[allow(clippy::too_many_arguments)]
    fn run_pixels(
        &self,
        x: &[f32],
        expanded: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
        p0: usize,
        wk: &mut Work,
    ) {
        let f = match (self.dw.kernel, self.dw.stride) {
            (3, 1) => Self::run_pixels_ks::<3, 1>,
            (3, 2) => Self::run_pixels_ks::<3, 2>,
            (5, 1) => Self::run_pixels_ks::<5, 1>,
            (5, 2) => Self::run_pixels_ks::<5, 2>,
            other => unreachable!("depthwise {other:?} was refused at load"),
        };
        f(self, x, expanded, h, w, out, p0, wk)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_pixels_ks<const K: usize, const S: usize>(
        &self,
        x: &[f32],
        expanded: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
        p0: usize,
        wk: &mut Work,
    ) {
        let (cin, mid, cout) = (self.cin, self.mid, self.cout);
        let (_, pt, _) = same_padding(h, K, S);
        let (wo, pl, _) = same_padding(w, K, S);
        let p1 = p0 + out.len() / cout;
        fit(&mut wk.dw, BAND_PIXELS * mid);
        let mut p = p0;
        while p < p1 {
            let q = (p + BAND_PIXELS).min(p1);
            let mut at = p;
            while at < q {
                let oy = at / wo;
                let (ox0, ox1) = (at - oy * wo, (q - oy * wo).min(wo));
                let rows: [Option<&[f32]>; K] = std::array::from_fn(|ky| {
                    let iy = (oy * S + ky).checked_sub(pt).filter(|&y| y < h)?;
                    Some(&expanded[iy * w * mid..][..w * mid])
                });
                let dst = &mut wk.dw[(at - p) * mid..(at - p + ox1 - ox0) * mid];
                let d = &self.dw;
                dw_row::<K, S>(&rows, w, mid, pl, &d.weight, &d.bias, d.relu6, dst, ox0..ox1);
                at += ox1 - ox0;
            }
            let o = &mut out[(p - p0) * cout..(q - p0) * cout];
            let res = self.residual.then(|| &x[p * cin..q * cin]);
            self.project.run(&wk.dw[..(q - p) * mid], o, res);
            p = q;
        }
    }

    fn run_ks<const K: usize, const S: usize>(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
        oy0: usize,
        wk: &mut Work,
    ) {
        let (cin, mid, cout) = (self.cin, self.mid, self.cout);
        let (_, pt, _) = same_padding(h, K, S);
        let (wo, pl, _) = same_padding(w, K, S);
        let oy1 = oy0 + out.len() / (wo * cout);
        let band = BAND_PIXELS.div_ceil(wo);
        // Ring of expanded input rows: input row r lives in slot r % span while needed.
        let span = ((band - 1) * S + K).min(h);
        let Work { ring, dw, .. } = wk;
        // Expanded here, row by row (or `x` itself read without expansion).
        let expand = self.expand.as_ref();
        if expand.is_some() {
            fit(ring, span * w * mid);
        }
        fit(dw, band * wo * mid);
        let mut next = 0;
        let mut oy = oy0;
        while oy < oy1 {
            let nb = band.min(oy1 - oy);
            let lo = (oy * S).saturating_sub(pt);
            let hi = ((oy + nb - 1) * S + K - pt).min(h);
            if let Some(expand) = expand {
                let mut r = if oy == oy0 { lo } else { next.max(lo) };
                while r < hi {
                    let slot = r % span;
                    let n = (hi - r).min(span - slot);
                    let dst = &mut ring[slot * w * mid..(slot + n) * w * mid];
                    expand.run(&x[r * w * cin..(r + n) * w * cin], dst, None);
                    r += n;
                }
                next = hi;
            }
            for (i, dst) in dw[..nb * wo * mid].chunks_exact_mut(wo * mid).enumerate() {
                let rows: [Option<&[f32]>; K] = std::array::from_fn(|ky| {
                    let iy = ((oy + i) * S + ky).checked_sub(pt).filter(|&y| y < h)?;
                    Some(match expand {
                        Some(_) => &ring[(iy % span) * w * mid..][..w * mid],
                        None => &x[iy * w * mid..][..w * mid],
                    })
                });
                let d = &self.dw;
                dw_row::<K, S>(&rows, w, mid, pl, &d.weight, &d.bias, d.relu6, dst, 0..wo);
            }
            let o = &mut out[(oy - oy0) * wo * cout..(oy - oy0 + nb) * wo * cout];
            let res = self.residual.then(|| &x[oy * w * cin..(oy + nb) * w * cin]);
            self.project.run(&dw[..nb * wo * mid], o, res);
            oy += nb;
        }
    }
}

/// Activations of one image: the input and output of the current layer.
#[derive(Default)]
struct Act {
    a: Vec<f32>,
    b: Vec<f32>,
    /// A block's whole expansion, when split across threads ([`SPLIT_EXPAND_FIRST`]).
    e: Vec<f32>,
}

/// Per-thread scratch of a block or the head.
#[derive(Default)]
struct Work {
    /// The stem's gathered taps of one output row.
    cols: Vec<f32>,
    ring: Vec<f32>,
    dw: Vec<f32>,
    head: Vec<f32>,
}

thread_local! {
    static ACT: RefCell<Act> = RefCell::default();
    static WORK: RefCell<Work> = RefCell::default();
}

/// Runs `f` on this thread's scratch, or on a fresh one if it is in use further up the stack
/// (a rayon worker that picked up another embedding while waiting).
fn with_scratch<T: Default + 'static, R>(
    key: &'static std::thread::LocalKey<RefCell<T>>,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut T::default()),
    })
}

/// Makes `v` exactly `len` long, reusing its allocation (contents are overwritten by the
/// caller).
fn fit(v: &mut Vec<f32>, len: usize) {
    v.resize(len, 0.0);
}

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Output pixels `pixels` of one row of a K×K depthwise convolution (stride S, TF "SAME"):
/// `rows[ky]` is input row `oy * S + ky - pad_top` (`None` in the padding), `w` pixels of `c`
/// channels; `out` holds the pixels of `pixels`, `c` channels each.
#[allow(clippy::too_many_arguments)]
fn dw_row<const K: usize, const S: usize>(
    rows: &[Option<&[f32]>; K],
    w: usize,
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    pixels: Range<usize>,
) {
    assert_eq!(out.len(), pixels.len() * c, "depthwise row: output is not the pixels asked");
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe {
                dw_row_avx512::<K, S>(rows, w, c, pl, weight, bias, relu6, out, pixels)
            };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe {
                dw_row_avx2::<K, S>(rows, w, c, pl, weight, bias, relu6, out, pixels)
            };
        }
    }
    let first = pixels.start;
    dw_row_generic::<false, K, S>(rows, w, c, pl, weight, bias, relu6, out, first, pixels)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_row_avx512<const K: usize, const S: usize>(
    rows: &[Option<&[f32]>; K],
    w: usize,
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    pixels: Range<usize>,
) {
    let (first, end) = (pixels.start, pixels.end);
    // Pixels whose taps all fall inside the row: ox*S - pl >= 0 and ox*S - pl + K <= w.
    let lo = pl.div_ceil(S).clamp(first, end);
    let hi = if w + pl >= K { (w + pl - K) / S + 1 } else { 0 }.clamp(lo, end);
    // Called directly (not through a pointer) so that it is inlined with AVX-512 + FMA.
    let edge = |out: &mut [f32], pixels: Range<usize>| {
        if c.is_multiple_of(48) {
            dw_edge::<K, S, 48>(rows, w, c, pl, weight, bias, relu6, out, first, pixels)
        } else {
            dw_edge::<K, S, DW_BLOCK>(rows, w, c, pl, weight, bias, relu6, out, first, pixels)
        }
    };
    edge(out, first..lo);
    // SAFETY: pixels lo..hi read only inside the rows (by the bounds above), `out` holds
    // first..end, and c is a multiple of the block (checked at load).
    unsafe {
        let o = &mut out[(lo - first) * c..(hi - first) * c];
        if K == 3 {
            dw_interior_avx512::<K, S, 8>(rows, c, pl, weight, bias, relu6, o, lo..hi)
        } else {
            dw_interior_avx512::<K, S, 6>(rows, c, pl, weight, bias, relu6, o, lo..hi)
        }
    }
    edge(out, hi..end);
}

/// The pixels at the left and right edges of a depthwise row (some taps in the padding):
/// few, so pixel by pixel with weights read in place, `B` channels (several independent
/// registers) at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw_edge<const K: usize, const S: usize, const B: usize>(
    rows: &[Option<&[f32]>; K],
    w: usize,
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    first: usize,
    pixels: Range<usize>,
) {
    for ox in pixels {
        for c0 in (0..c).step_by(B) {
            let mut acc: [f32; B] = bias[c0..c0 + B].try_into().unwrap_or([0.0; B]);
            for (ky, row) in rows.iter().enumerate() {
                let Some(row) = row else { continue };
                for kx in 0..K {
                    let Some(ix) = (ox * S + kx).checked_sub(pl).filter(|&x| x < w) else {
                        continue;
                    };
                    let src: &[f32; B] = row[ix * c + c0..][..B].try_into().unwrap_or(&[0.0; B]);
                    let at = (ky * K + kx) * c + c0;
                    let wk: &[f32; B] = weight[at..at + B].try_into().unwrap_or(&[0.0; B]);
                    for j in 0..B {
                        acc[j] = src[j].mul_add(wk[j], acc[j]);
                    }
                }
            }
            if relu6 {
                for v in &mut acc {
                    *v = v.clamp(0.0, 6.0);
                }
            }
            let at = (ox - first) * c + c0;
            out[at..at + B].copy_from_slice(&acc);
        }
    }
}

/// The interior pixels of a depthwise row: per block of 16 channels, the K×K weights sit in
/// registers and P pixels accumulate side by side (P independent FMA chains hide the FMA
/// latency; one load per FMA).
///
/// # Safety
/// AVX-512F available; every pixel of `pixels` has all its K taps inside the rows (no
/// column padding); `c` is a multiple of 16; `weight`, `bias`, `out` hold K·K·c, c and
/// `pixels.len()`·c values (`out` starts at pixel `pixels.start`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_interior_avx512<const K: usize, const S: usize, const P: usize>(
    rows: &[Option<&[f32]>; K],
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    pixels: Range<usize>,
) {
    use std::arch::x86_64::*;
    // SAFETY (whole body): offsets stay inside the slices by the contract above.
    unsafe {
        let (zero, six) = (_mm512_setzero_ps(), _mm512_set1_ps(6.0));
        let o = out.as_mut_ptr();
        for c0 in (0..c).step_by(DW_BLOCK) {
            let wv: [[__m512; K]; K] = std::array::from_fn(|ky| {
                std::array::from_fn(|kx| {
                    _mm512_loadu_ps(weight.as_ptr().add((ky * K + kx) * c + c0))
                })
            });
            let b = _mm512_loadu_ps(bias.as_ptr().add(c0));
            let mut ox = pixels.start;
            macro_rules! group {
                ($n:expr) => {{
                    let mut acc = [b; $n];
                    for (row, wrow) in rows.iter().zip(&wv) {
                        let Some(row) = row else { continue };
                        let base = row.as_ptr().add((ox * S - pl) * c + c0);
                        for (kx, &wk) in wrow.iter().enumerate() {
                            for (p, a) in acc.iter_mut().enumerate() {
                                let v = _mm512_loadu_ps(base.add((p * S + kx) * c));
                                *a = _mm512_fmadd_ps(v, wk, *a);
                            }
                        }
                    }
                    for (p, a) in acc.iter().enumerate() {
                        let v =
                            if relu6 { _mm512_min_ps(_mm512_max_ps(*a, zero), six) } else { *a };
                        _mm512_storeu_ps(o.add((ox - pixels.start + p) * c + c0), v);
                    }
                    ox += $n;
                }};
            }
            while ox + P <= pixels.end {
                group!(P);
            }
            while ox < pixels.end {
                group!(1);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_row_avx2<const K: usize, const S: usize>(
    rows: &[Option<&[f32]>; K],
    w: usize,
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    pixels: Range<usize>,
) {
    let first = pixels.start;
    dw_row_generic::<true, K, S>(rows, w, c, pl, weight, bias, relu6, out, first, pixels)
}

/// Channel block by channel block (its K×K weights held in registers), pixel by pixel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dw_row_generic<const FMA: bool, const K: usize, const S: usize>(
    rows: &[Option<&[f32]>; K],
    w: usize,
    c: usize,
    pl: usize,
    weight: &[f32],
    bias: &[f32],
    relu6: bool,
    out: &mut [f32],
    first: usize,
    pixels: Range<usize>,
) {
    const B: usize = DW_BLOCK;
    for c0 in (0..c).step_by(B) {
        let wv: [[[f32; B]; K]; K] = std::array::from_fn(|ky| {
            std::array::from_fn(|kx| {
                let at = (ky * K + kx) * c + c0;
                weight[at..at + B].try_into().unwrap_or([0.0; B])
            })
        });
        let b: [f32; B] = bias[c0..c0 + B].try_into().unwrap_or([0.0; B]);
        for ox in pixels.clone() {
            let mut acc = b;
            let x0 = (ox * S) as isize - pl as isize;
            let interior = x0 >= 0 && x0 as usize + K <= w;
            for (row, wrow) in rows.iter().zip(&wv) {
                let Some(row) = row else { continue };
                for (kx, wk) in wrow.iter().enumerate() {
                    let ix = x0 + kx as isize;
                    if !interior && (ix < 0 || ix as usize >= w) {
                        continue;
                    }
                    let at = ix as usize * c + c0;
                    let src: &[f32; B] = row[at..at + B].try_into().unwrap_or(&[0.0; B]);
                    for j in 0..B {
                        acc[j] = madd::<FMA>(src[j], wk[j], acc[j]);
                    }
                }
            }
            if relu6 {
                for v in &mut acc {
                    *v = v.clamp(0.0, 6.0);
                }
            }
            let at = (ox - first) * c + c0;
            out[at..at + B].copy_from_slice(&acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 250.0 - 4.0
            })
            .collect()
    }

    /// Direct definition: out[ox][ch] = bias + sum over taps inside the image.
    #[allow(clippy::too_many_arguments)]
    fn naive<const K: usize, const S: usize>(
        rows: &[Option<&[f32]>; K],
        w: usize,
        c: usize,
        pl: usize,
        weight: &[f32],
        bias: &[f32],
        wo: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; wo * c];
        for ox in 0..wo {
            for ch in 0..c {
                let mut s = bias[ch];
                for (ky, row) in rows.iter().enumerate() {
                    let Some(row) = row else { continue };
                    for kx in 0..K {
                        let Some(ix) = (ox * S + kx).checked_sub(pl).filter(|&x| x < w) else {
                            continue;
                        };
                        s += row[ix * c + ch] * weight[(ky * K + kx) * c + ch];
                    }
                }
                out[ox * c + ch] = s.clamp(0.0, 6.0);
            }
        }
        out
    }

    fn check<const K: usize, const S: usize>(w: usize, c: usize) {
        let (wo, pl, _) = same_padding(w, K, S);
        let data: Vec<Vec<f32>> = (0..K as u32).map(|i| values(w * c, i + 10)).collect();
        // The first row is padding, as at the top of an image.
        let rows: [Option<&[f32]>; K] =
            std::array::from_fn(|ky| (ky > 0).then(|| data[ky].as_slice()));
        let (weight, bias) = (values(K * K * c, 1), values(c, 2));
        let want = naive::<K, S>(&rows, w, c, pl, &weight, &bias, wo);
        let mut got = vec![f32::NAN; wo * c];
        dw_row::<K, S>(&rows, w, c, pl, &weight, &bias, true, &mut got, 0..wo);
        let mut portable = vec![f32::NAN; wo * c];
        let generic = dw_row_generic::<false, K, S>;
        generic(&rows, w, c, pl, &weight, &bias, true, &mut portable, 0, 0..wo);
        #[allow(unused_mut)]
        let mut variants = vec![got, portable];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            let mut avx2 = vec![f32::NAN; wo * c];
            // SAFETY: the CPU has AVX2 and FMA.
            unsafe { dw_row_avx2::<K, S>(&rows, w, c, pl, &weight, &bias, true, &mut avx2, 0..wo) };
            variants.push(avx2);
        }
        for v in variants {
            for i in 0..wo * c {
                assert!((v[i] - want[i]).abs() < 1e-4, "k{K} s{S} w{w} c{c} at {i}");
            }
        }
        // Part of a row, as a row split across threads computes it.
        for start in 0..wo {
            let mut part = vec![f32::NAN; (wo - start) * c];
            dw_row::<K, S>(&rows, w, c, pl, &weight, &bias, true, &mut part, start..wo);
            for (i, v) in part.iter().enumerate() {
                let want = want[start * c + i];
                assert!((v - want).abs() < 1e-4, "k{K} s{S} w{w} from {start} at {i}");
            }
        }
    }

    #[test]
    fn depthwise_rows_match_the_definition_at_every_edge() {
        for w in [1, 2, 5, 8, 13] {
            check::<3, 1>(w, 32);
            check::<3, 2>(w, 16);
            check::<5, 1>(w, 48);
            check::<5, 2>(w, 16);
        }
    }
}
