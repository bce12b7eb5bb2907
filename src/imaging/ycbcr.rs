//! YCbCr → RGB for decoded HEVC pictures (8-bit planes, chroma at full, half or quarter
//! size), with the matrix and range the file declares, in fixed point.
//!
//! Why photosift converts instead of libheif: libheif 1.15 converts every decoded picture to
//! planar RGB with a scalar float loop per pixel (about a tenth of a HEIC thumbnail's CPU), and
//! then to interleaved RGB. The decoder plugin ([`super::hevc_decoder`]) hands libheif planar
//! RGB made here instead, which libheif passes through untouched. Chroma is repeated over the
//! luma samples it covers, as libheif does.

use super::resize::Plane;

/// Fixed-point fraction bits of the conversion.
const SHIFT: u32 = 16;
const HALF: i32 = 1 << (SHIFT - 1);

/// The YCbCr → RGB conversion a file declares (its nclx colour description).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matrix {
    r_cr: f32,
    g_cb: f32,
    g_cr: f32,
    b_cb: f32,
    /// Y in 0..=255 and chroma around 128 (true), or "video" levels: Y 16..=235, chroma 16..=240.
    full_range: bool,
}

impl Matrix {
    /// From ISO/IEC 23091-2 `matrix_coefficients` and the full-range flag. None for the codes
    /// that are not a Kr/Kb matrix (0 identity/GBR, 8 YCgCo, 11, 14) or that derive it from the
    /// colour primaries (12, 13): libheif converts those. Unspecified or unknown codes mean
    /// BT.601, as in libheif.
    pub fn from_nclx(matrix_coefficients: u16, full_range: bool) -> Option<Matrix> {
        let (kr, kb) = match matrix_coefficients {
            0 | 8 | 11..=14 => return None,
            1 => (0.2126, 0.0722),      // BT.709
            4 => (0.30, 0.11),          // FCC
            7 => (0.212, 0.087),        // SMPTE 240M
            9 | 10 => (0.2627, 0.0593), // BT.2020
            _ => (0.299, 0.114),        // BT.601 (5, 6), and unspecified
        };
        let kg = 1.0 - kr - kb;
        Some(Matrix {
            r_cr: 2.0 * (1.0 - kr),
            g_cb: -2.0 * kb * (1.0 - kb) / kg,
            g_cr: -2.0 * kr * (1.0 - kr) / kg,
            b_cb: 2.0 * (1.0 - kb),
            full_range,
        })
    }

    /// One pixel, in floating point: the definition [`to_rgb_planes`] follows.
    pub fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let (y, cb, cr) = (f32::from(y), f32::from(cb) - 128.0, f32::from(cr) - 128.0);
        let (y, cb, cr) = if self.full_range {
            (y, cb, cr)
        } else {
            ((y - 16.0) * (255.0 / 219.0), cb * (255.0 / 224.0), cr * (255.0 / 224.0))
        };
        let px = |v: f32| (v + 0.5).clamp(0.0, 255.0) as u8;
        [px(y + self.r_cr * cr), px(y + self.g_cb * cb + self.g_cr * cr), px(y + self.b_cb * cb)]
    }

    /// The matrix in fixed point: (luma offset, luma scale, r_cr, g_cb, g_cr, b_cb).
    fn fixed(&self) -> (i32, i32, [i32; 4]) {
        let (offset, y_scale, c_scale) =
            if self.full_range { (0, 1.0, 1.0) } else { (16, 255.0 / 219.0, 255.0 / 224.0) };
        let fix = |v: f32| (v * c_scale * (1 << SHIFT) as f32).round() as i32;
        let y_fixed = (y_scale * (1 << SHIFT) as f32).round() as i32;
        (offset, y_fixed, [fix(self.r_cr), fix(self.g_cb), fix(self.g_cr), fix(self.b_cb)])
    }
}

/// A picture's three 8-bit planes, borrowed. Chroma is `luma / subsampling` in each direction
/// (rounded up).
#[derive(Debug, Clone, Copy)]
pub struct YcbcrPlanes<'a> {
    pub y: Plane<'a>,
    pub cb: Plane<'a>,
    pub cr: Plane<'a>,
    /// 1 or 2 horizontally and vertically (4:4:4, 4:2:2, 4:2:0).
    pub subsampling: (u32, u32),
}

/// An output plane: `stride` bytes per row, at least the picture's width.
pub struct PlaneMut<'a> {
    pub data: &'a mut [u8],
    pub stride: usize,
}

/// Converts `planes` into the R, G and B planes `out`, each as large as the luma plane.
pub fn to_rgb_planes(
    planes: YcbcrPlanes<'_>,
    matrix: Matrix,
    out: [PlaneMut<'_>; 3],
) -> Result<(), String> {
    let YcbcrPlanes { y, cb, cr, subsampling: (sx, sy) } = planes;
    let (w, h) = (y.width as usize, y.height as usize);
    let (cw, ch) = (w.div_ceil(sx as usize), h.div_ceil(sy as usize));
    if !matches!((sx, sy), (1 | 2, 1 | 2)) {
        return Err(format!("chroma subsampling {sx}x{sy}"));
    }
    let fits = |p: &Plane<'_>, pw: usize, ph: usize| {
        p.width as usize >= pw
            && p.height as usize >= ph
            && p.stride >= pw
            && p.data.len() >= p.stride * ph.saturating_sub(1) + pw
    };
    if !fits(&cb, cw, ch) || !fits(&cr, cw, ch) || !fits(&y, w, h) {
        return Err("a chroma plane is smaller than the picture needs".into());
    }
    if out.iter().any(|o| o.stride < w || o.data.len() < o.stride * h.saturating_sub(1) + w) {
        return Err("an RGB plane is smaller than the picture".into());
    }
    let (offset, y_scale, [r_cr, g_cb, g_cr, b_cb]) = matrix.fixed();
    let luma: [i32; 256] = std::array::from_fn(|v| (v as i32 - offset) * y_scale);
    // One chroma row's contributions to R, G and B at every luma column, shared by the luma
    // rows it covers; the per-pixel loop is then a table lookup, adds and shifts.
    let (mut add_r, mut add_g, mut add_b) = (vec![0i32; w], vec![0i32; w], vec![0i32; w]);
    let [r, g, b] = out;
    let shift = sx as usize - 1;
    let to_u8 = |v: i32| (v >> SHIFT).clamp(0, 255) as u8;
    for row in 0..h {
        if row % sy as usize == 0 {
            let crow = row / sy as usize;
            let cb_row = &cb.data[crow * cb.stride..][..cw];
            let cr_row = &cr.data[crow * cr.stride..][..cw];
            for x in 0..w {
                let c = x >> shift;
                let (u, v) = (i32::from(cb_row[c]) - 128, i32::from(cr_row[c]) - 128);
                add_r[x] = r_cr * v + HALF;
                add_g[x] = g_cb * u + g_cr * v + HALF;
                add_b[x] = b_cb * u + HALF;
            }
        }
        let y_row = &y.data[row * y.stride..][..w];
        let r_row = &mut r.data[row * r.stride..][..w];
        let g_row = &mut g.data[row * g.stride..][..w];
        let b_row = &mut b.data[row * b.stride..][..w];
        for (x, &yv) in y_row.iter().enumerate() {
            let l = luma[usize::from(yv)];
            r_row[x] = to_u8(l + add_r[x]);
            g_row[x] = to_u8(l + add_g[x]);
            b_row[x] = to_u8(l + add_b[x]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], width: u32, height: u32) -> Plane<'_> {
        Plane { data, stride: width as usize, width, height }
    }

    fn convert(planes: YcbcrPlanes<'_>, m: Matrix) -> [Vec<u8>; 3] {
        let n = planes.y.width as usize * planes.y.height as usize;
        let stride = planes.y.width as usize;
        let (mut r, mut g, mut b) = (vec![0; n], vec![0; n], vec![0; n]);
        let out = [&mut r, &mut g, &mut b].map(|data| PlaneMut { data, stride });
        to_rgb_planes(planes, m, out).unwrap();
        [r, g, b]
    }

    fn close(want: [u8; 3], got: [u8; 3]) -> bool {
        want.iter().zip(got).all(|(w, g)| w.abs_diff(g) <= 1)
    }

    #[test]
    fn bt601_full_range_matches_the_jpeg_formulas() {
        let m = Matrix::from_nclx(6, true).unwrap();
        assert_eq!(m.rgb(128, 128, 128), [128, 128, 128]);
        // JFIF: R = Y + 1.402 (Cr-128), G = Y - 0.344136 (Cb-128) - 0.714136 (Cr-128),
        // B = Y + 1.772 (Cb-128).
        assert_eq!(m.rgb(100, 90, 200), [201, 62, 33]);
        // Unspecified (2) is BT.601 too.
        assert_eq!(Matrix::from_nclx(2, true), Some(m));
    }

    #[test]
    fn limited_range_stretches_16_235_to_0_255() {
        let m = Matrix::from_nclx(1, false).unwrap();
        assert_eq!(m.rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(m.rgb(235, 128, 128), [255, 255, 255]);
    }

    #[test]
    fn codes_that_are_not_a_kr_kb_matrix_are_left_to_libheif() {
        for code in [0, 8, 11, 12, 13, 14] {
            assert_eq!(Matrix::from_nclx(code, true), None, "{code}");
        }
    }

    /// Every Y, Cb, Cr triple on a grid, through the fixed-point planes, against the float
    /// definition: never more than one level apart.
    #[test]
    fn fixed_point_planes_match_the_definition_within_one_level() {
        for (code, full) in [(6, true), (6, false), (1, true), (1, false), (9, false)] {
            let m = Matrix::from_nclx(code, full).unwrap();
            let values: Vec<u8> = (0..=255).step_by(5).collect();
            let n = values.len();
            // 4:4:4, one row per (Cb, Cr) pair, Y along the row.
            let y: Vec<u8> = (0..n * n).flat_map(|_| values.iter().copied()).collect();
            let cb: Vec<u8> =
                (0..n * n).flat_map(|i| std::iter::repeat_n(values[i / n], n)).collect();
            let cr: Vec<u8> =
                (0..n * n).flat_map(|i| std::iter::repeat_n(values[i % n], n)).collect();
            let (w, h) = (n as u32, (n * n) as u32);
            let planes = YcbcrPlanes {
                y: plane(&y, w, h),
                cb: plane(&cb, w, h),
                cr: plane(&cr, w, h),
                subsampling: (1, 1),
            };
            let rgb = convert(planes, m);
            for i in 0..y.len() {
                let want = m.rgb(y[i], cb[i], cr[i]);
                let got = [rgb[0][i], rgb[1][i], rgb[2][i]];
                assert!(close(want, got), "{code} {full}: {want:?} {got:?}");
            }
        }
    }

    #[test]
    fn half_size_chroma_covers_two_by_two_luma_samples() {
        // A 3x3 picture with 4:2:0 chroma (2x2): the last column and row have their own.
        let y = vec![120u8; 9];
        let cb = [90u8, 200, 90, 200];
        let cr = [200u8, 90, 200, 90];
        let planes = YcbcrPlanes {
            y: plane(&y, 3, 3),
            cb: plane(&cb, 2, 2),
            cr: plane(&cr, 2, 2),
            subsampling: (2, 2),
        };
        let m = Matrix::from_nclx(6, true).unwrap();
        let rgb = convert(planes, m);
        let pixel =
            |x: usize, yy: usize| [rgb[0][yy * 3 + x], rgb[1][yy * 3 + x], rgb[2][yy * 3 + x]];
        let (left, right) = (m.rgb(120, 90, 200), m.rgb(120, 200, 90));
        for yy in 0..3 {
            assert!(close(left, pixel(0, yy)) && close(left, pixel(1, yy)));
            assert!(close(right, pixel(2, yy)));
        }
    }
}
