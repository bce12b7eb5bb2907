//! Elementwise math over f32 rows, written so that loops over slices vectorize: `exp`
//! without a libm call, and the row operations of a transformer built on it (softmax, layer
//! norm; QuickGELU per value). Each row function has an AVX-512 build picked at run time and a portable
//! one; both run the same code, so their results agree to rounding.

/// `e^x` to about 1 ulp over f32's range (Cephes' `expf` polynomial on `x - n·ln 2`, then
/// `· 2ⁿ` by building the float's exponent). No branches and no call, so a loop of it
/// vectorizes. Below -87.3 it returns about 1.2e-38 (not 0); above 88.0, about 1.6e38.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // n stays within 2ⁿ's normal range, -126..=127.
    let x = x.clamp(-87.336_54, 88.0);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let p = p * r * r + r + 1.0;
    // SAFETY: n is a whole number in -126..=127 (x was clamped), so the conversion is exact;
    // unlike `as`, it does not saturate, which keeps the loop vectorized.
    let n: i32 = unsafe { n.to_int_unchecked() };
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// QuickGELU, `x · sigmoid(1.702 x)` (OpenAI CLIP's activation).
#[inline(always)]
pub(crate) fn quick_gelu(x: f32) -> f32 {
    x / (1.0 + exp(-1.702 * x))
}

/// Runs `$body` (an expression over the function's arguments) as an AVX-512 build when the CPU
/// has it, else as it is: the loops inside are written to vectorize either way.
macro_rules! dispatch {
    ($name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        pub(crate) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) $body
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (and so AVX2 and FMA).
                    return unsafe { avx512($($arg),*) };
                }
            }
            $body
        }
    };
}
pub(crate) use dispatch;

/// Sum of a slice in 16 lanes (a vector's worth), so the loop vectorizes.
#[inline(always)]
fn sum16(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = xs.chunks_exact(16);
    let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += f(v);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Largest value of a slice, in 16 lanes.
#[inline(always)]
fn max16(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let chunks = xs.chunks_exact(16);
    let tail = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = l.max(v);
        }
    }
    lanes.iter().copied().fold(tail, f32::max)
}

dispatch!(softmax_in_place(row: &mut [f32]) {
    let max = max16(row);
    for v in row.iter_mut() {
        *v = exp(*v - max);
    }
    let inv = 1.0 / sum16(row, |v| v);
    for v in row.iter_mut() {
        *v *= inv;
    }
});

dispatch!(layer_norm_row(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, out: &mut [f32]) {
    let n = x.len() as f32;
    let mean = sum16(x, |v| v) / n;
    let var = sum16(x, |v| (v - mean) * (v - mean)) / n;
    let inv = 1.0 / (var + eps).sqrt();
    for (((o, &v), &g), &b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
        *o = (v - mean) * inv * g + b;
    }
});

/// `out += a · x`, elementwise.
#[inline(always)]
pub(crate) fn axpy(out: &mut [f32], a: f32, x: &[f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm_over_the_range_a_network_uses() {
        let mut worst = 0f32;
        for i in -870_000..=880_000 {
            let x = i as f32 * 1e-4;
            let want = x.exp();
            let rel = ((exp(x) - want) / want).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 2.5 * f32::EPSILON, "worst relative error {worst:e}");
        assert!(exp(-200.0) < 1e-37 && exp(200.0) > 1e38 && exp(200.0).is_finite());
    }

    #[test]
    fn row_functions_match_their_definitions() {
        let x: Vec<f32> = crate::model::test_values(771, 3, -4.0..4.0);
        let mut s = x.clone();
        softmax_in_place(&mut s);
        let z: f32 = x.iter().map(|v| v.exp()).sum();
        for (&got, &v) in s.iter().zip(&x) {
            assert!((got - v.exp() / z).abs() < 1e-7, "softmax");
        }
        let gamma = crate::model::test_values(771, 4, 0.5..1.5);
        let beta = crate::model::test_values(771, 5, -1.0..1.0);
        let mut ln = vec![0f32; 771];
        layer_norm_row(&x, &gamma, &beta, 1e-5, &mut ln);
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / 771.0;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 771.0;
        for i in 0..771 {
            let want =
                (x[i] as f64 - mean) / (var + 1e-5).sqrt() * gamma[i] as f64 + beta[i] as f64;
            assert!((ln[i] as f64 - want).abs() < 1e-5, "layer norm at {i}");
        }
        for &v in &x {
            assert!((quick_gelu(v) - v / (1.0 + (-1.702 * v).exp())).abs() < 1e-6, "quick gelu");
        }
    }
}
