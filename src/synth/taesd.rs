//! TAESD, the tiny autoencoder for Stable Diffusion latents (Ollin Boer Bohan,
//! <https://github.com/madebyollin/taesd>): its decoder, which turns 4-channel SD 1.x/2.x latents
//! into RGB in about a hundredth of the full VAE's work.
//!
//! Architecture (taesd.py `Decoder`): `tanh(x/3)*3` -> conv(4,64) -> ReLU -> three times
//! [3 x Block(64) -> upsample x2 (nearest) -> conv(64,64, no bias)] -> Block(64) -> conv(64,3).
//! A Block is `ReLU(conv -> ReLU -> conv -> ReLU -> conv (x) + skip(x))`. The output is RGB in
//! about [0, 1]; the input is the UNet's latents as they are (TAESD's latent scale factor is 1).
//!
//! Two weight namings exist: the original `taesd_decoder.*` (`Sequential` indices with the clamp
//! at index 0: `1.weight`, `3.conv.0.weight`, ...) and diffusers' `AutoencoderTiny`
//! (`decoder.layers.0.weight`, `decoder.layers.2.conv.0.weight`, ...: no clamp entry).
//! [`TaesdDecoder::new`] reads either.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

/// Decoder shape. The published weights are [`TaesdConfig::sd`]; tests use a narrow one.
#[derive(Debug, Clone, PartialEq)]
pub struct TaesdConfig {
    pub latent_channels: usize,
    /// Width of every hidden layer (64 in the published model).
    pub channels: usize,
    /// Blocks before each of the three upsamplings, then blocks before the output conv.
    pub blocks: [usize; 4],
}

impl TaesdConfig {
    /// madebyollin/taesd: SD 1.x and 2.x latents.
    pub fn sd() -> Self {
        Self { latent_channels: 4, channels: 64, blocks: [3, 3, 3, 1] }
    }
}

/// Which key layout the weights use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaesdNaming {
    /// `taesd_decoder.safetensors`: `<i>.…`, clamp at index 0.
    Original,
    /// diffusers `AutoencoderTiny`: `decoder.layers.<i>.…`, no clamp entry.
    Diffusers,
}

impl TaesdNaming {
    /// Guesses the layout from the keys present.
    pub fn detect(vb: &VarBuilder) -> Self {
        if vb.contains_tensor("decoder.layers.0.weight") {
            TaesdNaming::Diffusers
        } else {
            TaesdNaming::Original
        }
    }
}

/// A 3x3 convolution, stride 1, zero padding 1, computed as nine matrix products over shifted
/// views of the flattened padded input ("implicit GEMM"). candle's CPU conv2d first rearranges
/// the input into im2col tiles, which dominates for TAESD's wide, shallow (64-channel) layers
/// at full image resolution; this needs no rearrangement besides the padding.
#[derive(Debug, Clone)]
pub struct Conv3x3 {
    /// `taps[3 * dy + dx]` is the `(c_out, c_in)` weight matrix of kernel position (dy, dx).
    taps: Vec<Tensor>,
    /// `(1, c_out, 1, 1)`.
    bias: Option<Tensor>,
    c_out: usize,
    c_in: usize,
}

impl Conv3x3 {
    pub fn new(c_in: usize, c_out: usize, bias: bool, vb: VarBuilder) -> Result<Self> {
        let init = candle_nn::init::DEFAULT_KAIMING_NORMAL;
        let w = vb.get_with_hints((c_out, c_in, 3, 3), "weight", init)?;
        let taps = (0..9)
            .map(|k| {
                w.narrow(2, k / 3, 1)?.narrow(3, k % 3, 1)?.squeeze(3)?.squeeze(2)?.contiguous()
            })
            .collect::<Result<_>>()?;
        let bias = if bias {
            Some(
                vb.get_with_hints(c_out, "bias", candle_nn::Init::Const(0.0))?
                    .reshape((1, c_out, 1, 1))?,
            )
        } else {
            None
        };
        Ok(Self { taps, bias, c_out, c_in })
    }

    /// The CPU f32 path: the nine products accumulate into one buffer inside the matrix
    /// multiply (`dst += W_k * shifted input`), so there are no per-tap temporaries to add up.
    fn forward_cpu_f32(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        if c != self.c_in {
            return Err(candle_core::Error::Msg(format!(
                "conv3x3: {c} channels, want {}",
                self.c_in
            )));
        }
        let (wp, c_out) = (w + 2, self.c_out);
        let (n, l) = (h * wp, (h + 2) * wp + 2);
        let input: Vec<f32> = xs.flatten_all()?.to_vec1()?;
        let taps: Vec<Vec<f32>> =
            self.taps.iter().map(|t| t.flatten_all()?.to_vec1()).collect::<Result<_>>()?;
        let bias: Vec<f32> = match &self.bias {
            Some(bias) => bias.flatten_all()?.to_vec1()?,
            None => vec![0.0; c_out],
        };
        let mut out = vec![0f32; b * c_out * h * w];
        let mut padded = vec![0f32; c * l];
        let mut wide = vec![0f32; c_out * n];
        let threads = gemm::Parallelism::Rayon(rayon::current_num_threads());
        for bi in 0..b {
            for ci in 0..c {
                for y in 0..h {
                    let src = ((bi * c + ci) * h + y) * w;
                    let dst = ci * l + (y + 1) * wp + 1;
                    padded[dst..dst + w].copy_from_slice(&input[src..src + w]);
                }
            }
            for (k, tap) in taps.iter().enumerate() {
                let off = (k / 3) * wp + k % 3;
                // SAFETY: dst is c_out x n (row stride n), lhs c_out x c (row stride c), rhs is
                // c x n with row stride l starting at `off`: its last element is
                // (c - 1) * l + off + n - 1 <= (c - 1) * l + (h + 2) * wp + 1 < c * l, inside
                // `padded`. The three buffers do not overlap.
                unsafe {
                    gemm::gemm(
                        c_out,
                        n,
                        c,
                        wide.as_mut_ptr(),
                        1,
                        n as isize,
                        k > 0,
                        tap.as_ptr(),
                        1,
                        c as isize,
                        padded.as_ptr().add(off),
                        1,
                        l as isize,
                        1.0f32,
                        1.0f32,
                        false,
                        false,
                        false,
                        threads,
                    );
                }
            }
            for (co, &b_co) in bias.iter().enumerate() {
                for y in 0..h {
                    let dst = ((bi * c_out + co) * h + y) * w;
                    let src = co * n + y * wp;
                    for (o, v) in out[dst..dst + w].iter_mut().zip(&wide[src..src + w]) {
                        *o = v + b_co;
                    }
                }
            }
        }
        Tensor::from_vec(out, (b, c_out, h, w), xs.device())
    }
}

/// Whether a matrix-multiply operand has a layout the GPU backends accept. candle's CPU
/// matmul takes any strides, but CUDA (cuBLAS, `MatMulNonContiguous`) and Metal need each
/// matrix's last two dimensions row-major or transposed with no gaps: strides `(cols, 1)` or
/// `(1, rows)` (a dimension of size 1 may have any stride). A `narrow` along the last
/// dimension keeps the parent's row stride and fails this.
pub fn gpu_matmul_layout_ok(t: &Tensor) -> bool {
    let (dims, strides) = (t.dims(), t.stride());
    let r = dims.len();
    if r < 2 {
        return true;
    }
    let (rows, cols) = (dims[r - 2], dims[r - 1]);
    let (s_row, s_col) = (strides[r - 2], strides[r - 1]);
    let row_major = (s_col == 1 || cols == 1) && (s_row == cols || rows == 1);
    let transposed = (s_col == rows || cols == 1) && (s_row == 1 || rows == 1);
    row_major || transposed
}

impl Conv3x3 {
    /// The shifted products with tensor ops: every device and type besides CPU f32.
    fn forward_tensor_ops(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let wp = w + 2;
        // Output pixel (y, x) reads padded pixels (y + dy, x + dx): in the flattened padded
        // image that is offset y * wp + x + (dy * wp + dx). Computing all y * wp + x (two junk
        // columns per row, dropped below) makes every tap one contiguous-row slice.
        let n = h * wp;
        let padded = xs.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
        let flat = padded.reshape((b, c, (h + 2) * wp))?.pad_with_zeros(2, 0, 2)?;
        let mut outs = Vec::with_capacity(b);
        for i in 0..b {
            let img = flat.get(i)?;
            let mut acc: Option<Tensor> = None;
            for (k, tap) in self.taps.iter().enumerate() {
                let off = (k / 3) * wp + k % 3;
                // The slice's rows are `(h + 2) * wp + 2` apart, not `n`: copied to a dense
                // matrix, or a GPU refuses the product (see `gpu_matmul_layout_ok`).
                let shifted = img.narrow(1, off, n)?.contiguous()?;
                self.check_layout(tap, &shifted)?;
                let y = tap.matmul(&shifted)?;
                acc = Some(match acc {
                    Some(a) => (a + y)?,
                    None => y,
                });
            }
            let acc = acc.ok_or_else(|| candle_core::Error::Msg("conv3x3 without taps".into()))?;
            outs.push(acc.reshape((self.c_out, h, wp))?.narrow(2, 0, w)?);
        }
        let out = Tensor::stack(&outs, 0)?;
        match &self.bias {
            Some(bias) => out.broadcast_add(bias),
            None => Ok(out),
        }
    }

    /// Refuses, on every device, an operand layout a GPU would refuse: the tensor-op path
    /// then fails the same way in a CPU test as it would on the first GPU image.
    fn check_layout(&self, lhs: &Tensor, rhs: &Tensor) -> Result<()> {
        for (side, t) in [("left", lhs), ("right", rhs)] {
            if !gpu_matmul_layout_ok(t) {
                return Err(candle_core::Error::Msg(format!(
                    "conv3x3: {side} matmul operand has strides {:?} for dims {:?}, which GPU \
                     backends refuse",
                    t.stride(),
                    t.dims()
                )));
            }
        }
        Ok(())
    }
}

impl Module for Conv3x3 {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if xs.device().is_cpu() && xs.dtype() == candle_core::DType::F32 {
            return self.forward_cpu_f32(xs);
        }
        self.forward_tensor_ops(xs)
    }
}

#[derive(Debug, Clone)]
struct Block {
    conv: [Conv3x3; 3],
}

impl Block {
    fn new(c: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("conv");
        Ok(Self {
            conv: [
                Conv3x3::new(c, c, true, vb.pp("0"))?,
                Conv3x3::new(c, c, true, vb.pp("2"))?,
                Conv3x3::new(c, c, true, vb.pp("4"))?,
            ],
        })
    }
}

impl Module for Block {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let h = self.conv[0].forward(xs)?.relu()?;
        let h = self.conv[1].forward(&h)?.relu()?;
        let h = self.conv[2].forward(&h)?;
        // in == out channels everywhere in the decoder: the skip is the identity.
        (h + xs)?.relu()
    }
}

#[derive(Debug, Clone)]
enum Layer {
    Conv(Conv3x3),
    Relu,
    Block(Block),
    Upsample2x,
}

/// The TAESD decoder: latents `(b, 4, h/8, w/8)` to RGB `(b, 3, h, w)` in [0, 1].
#[derive(Debug, Clone)]
pub struct TaesdDecoder {
    layers: Vec<Layer>,
}

impl TaesdDecoder {
    /// Builds the decoder, reading whichever weight naming `vb` holds.
    pub fn new(cfg: &TaesdConfig, vb: VarBuilder) -> Result<Self> {
        let naming = TaesdNaming::detect(&vb);
        Self::with_naming(cfg, vb, naming)
    }

    pub fn with_naming(cfg: &TaesdConfig, vb: VarBuilder, naming: TaesdNaming) -> Result<Self> {
        // `idx` is the Sequential index of the next layer in the weight file.
        let (vb, mut idx) = match naming {
            TaesdNaming::Diffusers => (vb.pp("decoder").pp("layers"), 0),
            TaesdNaming::Original => (vb, 1),
        };
        let c = cfg.channels;
        let mut layers = vec![Layer::Conv(Conv3x3::new(cfg.latent_channels, c, true, vb.pp(idx))?)];
        layers.push(Layer::Relu);
        idx += 2;
        let n_stages = cfg.blocks.len();
        for (stage, &n_blocks) in cfg.blocks.iter().enumerate() {
            for _ in 0..n_blocks {
                layers.push(Layer::Block(Block::new(c, vb.pp(idx))?));
                idx += 1;
            }
            if stage + 1 < n_stages {
                layers.push(Layer::Upsample2x);
                layers.push(Layer::Conv(Conv3x3::new(c, c, false, vb.pp(idx + 1))?));
                idx += 2;
            } else {
                layers.push(Layer::Conv(Conv3x3::new(c, 3, true, vb.pp(idx))?));
            }
        }
        Ok(Self { layers })
    }

    /// Latents as the UNet produced them to RGB in [0, 1] (clamped).
    pub fn decode(&self, latents: &Tensor) -> Result<Tensor> {
        self.forward(latents)?.clamp(0f32, 1f32)
    }
}

impl Module for TaesdDecoder {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        // Soft clamp of the latents to [-3, 3].
        let mut xs = ((xs / 3.0)?.tanh()? * 3.0)?;
        for layer in &self.layers {
            xs = match layer {
                Layer::Conv(conv) => conv.forward(&xs)?,
                Layer::Relu => xs.relu()?,
                Layer::Block(block) => block.forward(&xs)?,
                Layer::Upsample2x => {
                    let (_, _, h, w) = xs.dims4()?;
                    xs.upsample_nearest2d(h * 2, w * 2)?
                }
            };
        }
        Ok(xs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn keys(naming: TaesdNaming) -> Vec<String> {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        TaesdDecoder::with_naming(&TaesdConfig::sd(), vb, naming).unwrap();
        let mut k: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn original_naming_matches_taesd_py_indices() {
        let k = keys(TaesdNaming::Original);
        // conv(4,64) at 1, blocks at 3..=5, conv after the first upsample at 7, last conv at 19.
        for want in [
            "1.weight",
            "1.bias",
            "3.conv.0.weight",
            "3.conv.4.bias",
            "7.weight",
            "18.conv.2.weight",
            "19.weight",
            "19.bias",
        ] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
        assert!(!k.contains(&"7.bias".to_string()), "the conv after upsampling has no bias");
        // 1 in-conv (2) + 10 blocks (6 each) + 3 mid convs (1) + out conv (2).
        assert_eq!(k.len(), 2 + 60 + 3 + 2);
    }

    #[test]
    fn diffusers_naming_matches_autoencoder_tiny() {
        let k = keys(TaesdNaming::Diffusers);
        for want in [
            "decoder.layers.0.weight",
            "decoder.layers.2.conv.0.weight",
            "decoder.layers.6.weight",
            "decoder.layers.17.conv.4.bias",
            "decoder.layers.18.bias",
        ] {
            assert!(k.contains(&want.to_string()), "{want} missing from {k:?}");
        }
    }

    #[test]
    fn shifted_gemm_conv_matches_candle_conv2d() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let ours = Conv3x3::new(5, 7, true, vb.pp("c")).unwrap();
        // Non-zero bias, so that it is checked too.
        let bias = varmap.data().lock().unwrap()["c.bias"].clone();
        bias.set(&Tensor::randn(0f32, 1.0, 7, &dev).unwrap()).unwrap();
        let ours = Conv3x3 { bias: Some(bias.as_tensor().reshape((1, 7, 1, 1)).unwrap()), ..ours };
        let w = varmap.data().lock().unwrap()["c.weight"].as_tensor().clone();
        let theirs = candle_nn::Conv2d::new(
            w,
            Some(bias.as_tensor().clone()),
            candle_nn::Conv2dConfig { padding: 1, ..Default::default() },
        );
        let x = Tensor::randn(0f32, 1.0, (2, 5, 6, 9), &dev).unwrap();
        let a = ours.forward(&x).unwrap();
        let b = theirs.forward(&x).unwrap();
        assert_eq!(a.dims(), b.dims());
        let diff: f32 = (&a - &b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(diff < 1e-4, "{diff}");
        // The tensor-op path (other devices and types) agrees too.
        let x64 = x.to_dtype(DType::F64).unwrap();
        let ours64 = Conv3x3 {
            taps: ours.taps.iter().map(|t| t.to_dtype(DType::F64).unwrap()).collect(),
            bias: ours.bias.as_ref().map(|t| t.to_dtype(DType::F64).unwrap()),
            ..ours.clone()
        };
        let c = ours64.forward(&x64).unwrap().to_dtype(DType::F32).unwrap();
        let diff: f32 = (&c - &b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(diff < 1e-4, "{diff}");
    }

    #[test]
    fn gpu_layout_rule_refuses_a_narrowed_row_slice() {
        // The operand the tensor-op path used to pass: rows (h + 2) * (w + 2) + 2 apart.
        let (c, h, w) = (3, 4, 5);
        let (wp, n) = (w + 2, h * (w + 2));
        let img = Tensor::zeros((c, (h + 2) * wp + 2), DType::F32, &Device::Cpu).unwrap();
        let shifted = img.narrow(1, wp + 1, n).unwrap();
        assert!(!gpu_matmul_layout_ok(&shifted), "{:?}", shifted.stride());
        assert!(gpu_matmul_layout_ok(&shifted.contiguous().unwrap()));
        // Transposed views are fine for cuBLAS; a column slice is not.
        let m = Tensor::zeros((6, 4), DType::F32, &Device::Cpu).unwrap();
        assert!(gpu_matmul_layout_ok(&m.t().unwrap()));
        assert!(!gpu_matmul_layout_ok(&m.narrow(1, 1, 2).unwrap()));
        assert!(gpu_matmul_layout_ok(&m.narrow(0, 1, 2).unwrap()), "a row slice stays dense");
    }

    #[test]
    fn gpu_path_runs_on_cpu_with_gpu_legal_operands() {
        // The path a CUDA or Metal device takes, driven on the CPU in f32: it checks every
        // operand against the GPU rule (an error otherwise) and matches candle's conv2d.
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let ours = Conv3x3::new(6, 5, false, vb.pp("c")).unwrap();
        let w = varmap.data().lock().unwrap()["c.weight"].as_tensor().clone();
        let x = Tensor::randn(0f32, 1.0, (2, 6, 7, 11), &dev).unwrap();
        let a = ours.forward_tensor_ops(&x).unwrap();
        let b = x.conv2d(&w, 1, 1, 1, 1).unwrap();
        let diff: f32 = (&a - &b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(diff < 1e-4, "{diff}");
        let bad = Tensor::zeros((6, 40), DType::F32, &dev).unwrap().narrow(1, 3, 30).unwrap();
        let err = ours.check_layout(&ours.taps[0], &bad).unwrap_err().to_string();
        assert!(err.contains("GPU"), "{err}");
    }

    #[test]
    fn decodes_eight_times_larger_rgb_in_unit_range() {
        let cfg = TaesdConfig { latent_channels: 4, channels: 8, blocks: [1, 1, 1, 1] };
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let dec = TaesdDecoder::new(&cfg, vb).unwrap();
        let z = Tensor::randn(0f32, 1.0, (1, 4, 4, 6), &Device::Cpu).unwrap();
        let img = dec.decode(&z).unwrap();
        assert_eq!(img.dims(), &[1, 3, 32, 48]);
        let v: Vec<f32> = img.flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    }
}
