//! One row of a depthwise k×k convolution on channels-last data (TF "SAME" padding, bias,
//! ReLU6): the kernel of the fused per-image path, which hands it the k input rows it needs
//! (from a ring of expanded rows) and a range of output pixels.
//!
//! With AVX-512 the interior pixels keep a 16-channel block's k×k weights in registers and
//! accumulate 6-8 pixels side by side; with AVX2 each tap's weight is loaded once for 8 pixels.
//! The few edge pixels (taps in the padding) and the portable version run plain loops the
//! compiler vectorizes.

use std::ops::Range;

/// Channels per register block (one AVX-512 register); channel counts must be multiples.
pub(crate) const DW_BLOCK: usize = 16;

#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Output pixels `pixels` of one row of a K×K depthwise convolution (stride S, TF "SAME"):
/// `rows[ky]` is input row `oy * S + ky - pad_top` (`None` in the padding), `w` pixels of `c`
/// channels; `out` holds the pixels of `pixels`, `c` channels each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dw_row<const K: usize, const S: usize>(
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
#[cfg(target_arch = "x86_64")]
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
    let (first, end) = (pixels.start, pixels.end);
    let lo = pl.div_ceil(S).clamp(first, end);
    let hi = if w + pl >= K { (w + pl - K) / S + 1 } else { 0 }.clamp(lo, end);
    dw_row_generic::<true, K, S>(rows, w, c, pl, weight, bias, relu6, out, first, first..lo);
    // SAFETY: as in `dw_row_avx512`: pixels lo..hi read only inside the rows, `out` holds
    // first..end, and c is a multiple of 8.
    unsafe {
        let o = &mut out[(lo - first) * c..(hi - first) * c];
        dw_interior_avx2::<K, S>(rows, c, pl, weight, bias, relu6, o, lo..hi)
    }
    dw_row_generic::<true, K, S>(rows, w, c, pl, weight, bias, relu6, out, first, hi..end);
}

/// Interior pixels with AVX2: too few registers to hold the K×K weights, so per 8-channel
/// block and tap the weight is loaded once and applied to 8 pixels side by side.
///
/// # Safety
/// As [`dw_interior_avx512`] with AVX2 and FMA available and `c` a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn dw_interior_avx2<const K: usize, const S: usize>(
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
    const P: usize = 8;
    // SAFETY (whole body): offsets stay inside the slices by the contract above.
    unsafe {
        let (zero, six) = (_mm256_setzero_ps(), _mm256_set1_ps(6.0));
        let o = out.as_mut_ptr();
        for c0 in (0..c).step_by(8) {
            let b = _mm256_loadu_ps(bias.as_ptr().add(c0));
            let mut ox = pixels.start;
            macro_rules! group {
                ($n:expr) => {{
                    let mut acc = [b; $n];
                    for (ky, row) in rows.iter().enumerate() {
                        let Some(row) = row else { continue };
                        let base = row.as_ptr().add((ox * S - pl) * c + c0);
                        for kx in 0..K {
                            let wk = _mm256_loadu_ps(weight.as_ptr().add((ky * K + kx) * c + c0));
                            for (p, a) in acc.iter_mut().enumerate() {
                                let v = _mm256_loadu_ps(base.add((p * S + kx) * c));
                                *a = _mm256_fmadd_ps(v, wk, *a);
                            }
                        }
                    }
                    for (p, a) in acc.iter().enumerate() {
                        let v =
                            if relu6 { _mm256_min_ps(_mm256_max_ps(*a, zero), six) } else { *a };
                        _mm256_storeu_ps(o.add((ox - pixels.start + p) * c + c0), v);
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
    use crate::model::kernels::planar_depthwise::same_padding;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        crate::model::test_values(n, seed, -4.0..4.0)
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
            #[allow(unused_mut)]
            let mut parts = vec![part];
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut avx2 = vec![f32::NAN; (wo - start) * c];
                let (rows, out) = (&rows, &mut avx2[..]);
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe {
                    dw_row_avx2::<K, S>(rows, w, c, pl, &weight, &bias, true, out, start..wo)
                };
                parts.push(avx2);
            }
            for part in parts {
                for (i, v) in part.iter().enumerate() {
                    let want = want[start * c + i];
                    assert!((v - want).abs() < 1e-4, "k{K} s{S} w{w} from {start} at {i}");
                }
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
