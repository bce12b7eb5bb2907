//! The folded EfficientNet-Lite run image by image on plain buffers for [`embed`]: each MBConv
//! block streams its rows through expand → depthwise → project, so the expanded activations
//! (up to 6× the block's input) live only in a small ring of rows that stays in cache.
//!
//! A batch runs one whole image per thread (no synchronization inside an image); an image left
//! over (a single one, or the odd one of a batch) is split across the threads block by block:
//! by output rows, or for the small late blocks by output pixels after expanding the whole
//! block input (so no part recomputes its neighbour's rows). Per-thread scratch buffers are
//! reused across layers, images and calls.
//!
//! [`embed`]: super::EfficientNetLite::embed

use std::cell::RefCell;

use rayon::prelude::*;

use super::kernels::channels_last::{DepthwiseNhwc, PointwiseNhwc, StemConv};
use super::kernels::depthwise_rows::{DW_BLOCK, dw_row};
use super::kernels::planar_depthwise::same_padding;
use super::kernels::pointwise::{Epilogue, PackedPointwise};

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
            taps: PackedPointwise::new(&weight, &op.bias, taps, op.cout, Epilogue::Relu6),
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
    PackedPointwise::new(&p.weight, &p.bias, p.cin, p.cout, Epilogue::relu6_if(p.relu6))
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
        let (hc, wc) = self.trunk(x, h, w, self.blocks.len(), act, wk);
        emb.fill(0.0);
        self.head_pool(&act.a, emb, hc * wc, wk);
    }

    /// The stem and `blocks[..upto]` of one image on the calling thread: the output is left
    /// in `act.a`, its height and width returned.
    fn trunk(
        &self,
        x: &[f32],
        h: usize,
        w: usize,
        upto: usize,
        act: &mut Act,
        wk: &mut Work,
    ) -> (usize, usize) {
        let Act { a, b, .. } = act;
        let (mut hc, mut wc) = self.stem.out_shape(h, w);
        fit(a, hc * wc * self.stem.cout);
        self.stem.rows(x, h, w, 0, a, wk);
        for blk in &self.blocks[..upto] {
            let (ho, wo) = blk.out_shape(hc, wc);
            fit(b, ho * wo * blk.cout);
            blk.run(a, hc, wc, b, 0, wk);
            std::mem::swap(a, b);
            (hc, wc) = (ho, wo);
        }
        (hc, wc)
    }

    /// Expanded channels of `blocks[block]`: the length of [`Self::features`]' vectors.
    pub fn feature_dim(&self, block: usize) -> usize {
        self.blocks[block].mid
    }

    /// Block `block`'s depthwise activations (after ReLU6), max-pooled over the frame, of `n`
    /// NCHW images (`x` is n × 3 × h × w): n × [`Self::feature_dim`], images in parallel.
    pub fn features(&self, x: &[f32], n: usize, h: usize, w: usize, block: usize) -> Vec<f32> {
        let (per, dim) = (self.stem.cin * h * w, self.feature_dim(block));
        assert_eq!(x.len(), n * per, "fused features: input is not n x 3 x h x w");
        let mut out = vec![0f32; n * dim];
        out.par_chunks_mut(dim).zip(x.par_chunks(per)).for_each(|(f, img)| {
            with_scratch(&ACT, |act| {
                with_scratch(&WORK, |wk| {
                    let (hc, wc) = self.trunk(img, h, w, block, act, wk);
                    let blk = &self.blocks[block];
                    let Act { a, e, .. } = act;
                    let expanded: &[f32] = match &blk.expand {
                        Some(expand) => {
                            fit(e, hc * wc * blk.mid);
                            expand.run(a, e, None);
                            e
                        }
                        None => a,
                    };
                    blk.depthwise_pool(expanded, hc, wc, f, wk);
                })
            })
        });
        out
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

    /// The depthwise activations of the whole `h`×`w` expanded input, their maximum over the
    /// output pixels, into `out` (`mid` long).
    fn depthwise_pool(&self, expanded: &[f32], h: usize, w: usize, out: &mut [f32], wk: &mut Work) {
        let f = match (self.dw.kernel, self.dw.stride) {
            (3, 1) => Self::depthwise_pool_ks::<3, 1>,
            (3, 2) => Self::depthwise_pool_ks::<3, 2>,
            (5, 1) => Self::depthwise_pool_ks::<5, 1>,
            (5, 2) => Self::depthwise_pool_ks::<5, 2>,
            other => unreachable!("depthwise {other:?} was refused at load"),
        };
        f(self, expanded, h, w, out, wk)
    }

    fn depthwise_pool_ks<const K: usize, const S: usize>(
        &self,
        expanded: &[f32],
        h: usize,
        w: usize,
        out: &mut [f32],
        wk: &mut Work,
    ) {
        let mid = self.mid;
        let (ho, pt, _) = same_padding(h, K, S);
        let (wo, pl, _) = same_padding(w, K, S);
        fit(&mut wk.dw, wo * mid);
        out.fill(if ho * wo == 0 { 0.0 } else { f32::NEG_INFINITY });
        for oy in 0..ho {
            let rows = input_rows::<K, S>(expanded, oy, pt, h, w * mid);
            let d = &self.dw;
            let row = &mut wk.dw[..wo * mid];
            dw_row::<K, S>(&rows, w, mid, pl, &d.weight, &d.bias, d.relu6, row, 0..wo);
            for px in row.chunks_exact(mid) {
                out.iter_mut().zip(px).for_each(|(o, v)| *o = o.max(*v));
            }
        }
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
                let rows = input_rows::<K, S>(expanded, oy, pt, h, w * mid);
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

/// The `K` input rows (each `row_len` floats of the `h`-row image `x`) under output row `oy` of
/// a k×k, stride-`S` depthwise convolution with `pt` rows of padding on top; `None` for padding.
fn input_rows<const K: usize, const S: usize>(
    x: &[f32],
    oy: usize,
    pt: usize,
    h: usize,
    row_len: usize,
) -> [Option<&[f32]>; K] {
    std::array::from_fn(|ky| {
        let iy = (oy * S + ky).checked_sub(pt).filter(|&y| y < h)?;
        Some(&x[iy * row_len..][..row_len])
    })
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
