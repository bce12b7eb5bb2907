//! Fine-tuning: the last EfficientNet-Lite0 stage(s) and a logistic head trained together with
//! candle autograd on augmented views of the labeled thumbnails (random crop, horizontal flip,
//! small color jitter). The frozen trunk below the trained stages runs once per view on the
//! fast folded network and is cached; only the tail runs with autograd. [`compare`] measures
//! fine-tuning against the frozen backbone at fixed label counts.

mod compare;

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use image::RgbImage;

pub use compare::{CompareRow, compare_finetune, compare_table};

use super::LearnError;
use crate::config::TrainConfig;
use crate::model::{EMBEDDING_DIM, EfficientNetLite, WeightsSource, preprocess};
use crate::numeric::SplitMix;

/// Learning rate of the trained backbone stages (AdamW): small, the ImageNet features are
/// a good start and few labels easily pull them off.
const LR_BACKBONE: f64 = 1e-4;
/// Learning rate of the logistic head trained alongside.
const LR_HEAD: f64 = 1e-2;
/// Images per optimizer step.
pub const BATCH_SIZE: usize = 16;

/// How to fine-tune.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FinetuneSettings {
    /// First trained stage (Lite0 has 7: stage 5 starts at block 11, stage 6 is block 15);
    /// the stem and the stages before it stay frozen.
    pub from_stage: usize,
    /// Passes over the training views.
    pub epochs: usize,
    /// Views per labeled image: the image itself plus `views - 1` augmented ones.
    pub views: usize,
    /// Seed of the augmentation and the batch order (the same labels give the same model).
    pub seed: u64,
}

impl FinetuneSettings {
    pub fn from_config(cfg: &TrainConfig) -> Self {
        Self {
            from_stage: cfg.finetune_stage as usize,
            epochs: cfg.finetune_epochs as usize,
            views: cfg.finetune_views.max(1) as usize,
            seed: 1,
        }
    }
}

/// One training image: its class and its weight before class balancing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub positive: bool,
    pub weight: f32,
}

/// A random crop (70-100 % of each side), a horizontal flip half the time, and brightness,
/// contrast and saturation each scaled by up to ±10 %.
pub(crate) fn augment(img: &RgbImage, rng: &mut SplitMix) -> RgbImage {
    let mut uniform =
        |lo: f32, hi: f32| lo + (hi - lo) * (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    let (w, h) = img.dimensions();
    let scale = uniform(0.7, 1.0);
    let (cw, ch) = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
    let x0 = (uniform(0.0, 1.0) * (w - cw) as f32) as u32;
    let y0 = (uniform(0.0, 1.0) * (h - ch) as f32) as u32;
    let mut out = image::imageops::crop_imm(img, x0, y0, cw, ch).to_image();
    if uniform(0.0, 1.0) < 0.5 {
        image::imageops::flip_horizontal_in_place(&mut out);
    }
    let brightness = uniform(0.9, 1.1);
    let contrast = uniform(0.9, 1.1);
    let saturation = uniform(0.9, 1.1);
    let n = f64::from(cw) * f64::from(ch) * 3.0;
    let mean = (out.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n.max(1.0)) as f32;
    for p in out.pixels_mut() {
        let [r, g, b] = p.0.map(f32::from);
        let gray = 0.299 * r + 0.587 * g + 0.114 * b;
        p.0 = [r, g, b].map(|c| {
            let c = gray + (c - gray) * saturation;
            let c = mean + (c - mean) * contrast;
            (c * brightness).round().clamp(0.0, 255.0) as u8
        });
    }
    out
}

/// The image itself followed by `views - 1` augmented views of it, for every image.
pub fn views(images: &[RgbImage], views: usize, seed: u64) -> Vec<RgbImage> {
    let mut rng = SplitMix(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA11C_E5ED);
    let mut out = Vec::with_capacity(images.len() * views.max(1));
    for img in images {
        out.push(img.clone());
        for _ in 1..views.max(1) {
            out.push(augment(img, &mut rng));
        }
    }
    out
}

/// The frozen trunk (stem and stages `0..stage`) of every image, computed with the folded
/// network two images at a time: an (N, C, H, W) tensor.
pub fn trunk_features(
    folded: &EfficientNetLite,
    images: &[RgbImage],
    stage: usize,
    progress: &dyn Fn(usize, usize),
) -> Result<Tensor, LearnError> {
    let device = Device::Cpu;
    let mut parts = Vec::with_capacity(images.len().div_ceil(2));
    for (i, chunk) in images.chunks(crate::model::efficientnet_lite::FOLDED_MICRO_BATCH).enumerate()
    {
        let xs = preprocess::batch(chunk, &device)?;
        parts.push(folded.forward_until(&xs, stage)?);
        progress((i + 1) * chunk.len(), images.len());
    }
    Ok(Tensor::cat(&parts, 0)?)
}

/// The trained network and how the loss went.
pub struct Tuned {
    /// EfficientNet-Lite0 as stored (unfolded), its tail trained.
    pub model: EfficientNetLite,
    /// Every parameter of `model` (saved as the new backbone's safetensors).
    pub varmap: VarMap,
    /// Mean weighted log-loss of each epoch.
    pub epoch_loss: Vec<f32>,
}

/// The variables of the trained tail: blocks from `first_block` on and the head conv with its
/// BatchNorm (whose running statistics stay as they are).
fn is_tail(name: &str, first_block: usize) -> bool {
    if name.contains("running_") {
        return false;
    }
    if name.starts_with("_conv_head.") || name.starts_with("_bn1.") {
        return true;
    }
    name.strip_prefix("_blocks.")
        .and_then(|rest| rest.split('.').next())
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n >= first_block)
}

/// Trains the stages from `settings.from_stage` on, plus a logistic head on the standardized
/// pooled features, on `trunk` (rows: views, `views_per_image` consecutive rows per image of
/// `targets`). Class-balanced weighted log-loss, AdamW, batches of [`BATCH_SIZE`]; BatchNorm
/// keeps its ImageNet statistics (batches of 16 are too small to re-estimate them).
pub fn train_tail(
    source: &WeightsSource,
    trunk: &Tensor,
    targets: &[Target],
    settings: &FinetuneSettings,
    progress: &dyn Fn(f32, &str),
) -> Result<Tuned, LearnError> {
    let device = Device::Cpu;
    let rows = trunk.dim(0)?;
    if targets.is_empty() || !rows.is_multiple_of(targets.len()) {
        return Err(LearnError::Params(format!(
            "{rows} trunk rows do not split into views of {} images",
            targets.len()
        )));
    }
    let per_image = rows / targets.len();
    let (model, varmap) =
        source.load_trainable(&device).map_err(|e| LearnError::Params(e.to_string()))?;
    let stage = settings.from_stage.min(model.num_stages() - 1);
    let first_block: usize = (0..stage).map(|s| model.stage_blocks(s).len()).sum();
    let tail: Vec<Var> = {
        let data = varmap.data().lock().map_err(|_| LearnError::Params("poisoned".into()))?;
        data.iter().filter(|(name, _)| is_tail(name, first_block)).map(|(_, v)| v.clone()).collect()
    };

    // Class balance: each class carries half of the total weight.
    let mut class_w = [0f32; 2];
    for t in targets {
        class_w[usize::from(t.positive)] += t.weight;
    }
    if class_w[0] <= 0.0 || class_w[1] <= 0.0 {
        return Err(LearnError::NoLabels);
    }
    let weight: Vec<f32> =
        targets.iter().map(|t| t.weight / (2.0 * class_w[usize::from(t.positive)])).collect();
    let y: Vec<f32> = targets.iter().map(|t| f32::from(u8::from(t.positive))).collect();

    // The head reads the pooled features standardized with their statistics before training.
    let mut before = Vec::with_capacity(rows);
    for start in (0..rows).step_by(64) {
        let x = trunk.narrow(0, start, 64.min(rows - start))?;
        before.push(model.forward_from(&x, stage, false)?.detach());
    }
    let before = Tensor::cat(&before, 0)?;
    let mean = before.mean_keepdim(0)?;
    let std = (before.broadcast_sub(&mean)?.sqr()?.mean_keepdim(0)?.sqrt()? + 1e-3)?;
    let w = Var::zeros((EMBEDDING_DIM, 1), DType::F32, &device)?;
    let b = Var::zeros(1, DType::F32, &device)?;

    let params = |lr, weight_decay| ParamsAdamW { lr, weight_decay, ..Default::default() };
    let mut opt_tail = AdamW::new(tail, params(LR_BACKBONE, 1e-4))?;
    let mut opt_head = AdamW::new(vec![w.clone(), b.clone()], params(LR_HEAD, 1e-2))?;
    let mut rng = SplitMix(settings.seed ^ 0x0F1E_7E57);
    let mut order: Vec<usize> = (0..rows).collect();
    let mut epoch_loss = Vec::with_capacity(settings.epochs);
    let steps_per_epoch = rows.div_ceil(BATCH_SIZE);
    for epoch in 0..settings.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let (mut sum, mut sum_w) = (0f32, 0f32);
        for (step, batch) in order.chunks(BATCH_SIZE).enumerate() {
            let idx: Vec<u32> = batch.iter().map(|&r| r as u32).collect();
            let img: Vec<usize> = batch.iter().map(|&r| r / per_image).collect();
            let bw: Vec<f32> = img.iter().map(|&i| weight[i]).collect();
            let by: Vec<f32> = img.iter().map(|&i| y[i]).collect();
            let n = batch.len();
            let x = trunk.index_select(&Tensor::new(idx.as_slice(), &device)?, 0)?;
            let emb = model.forward_from(&x, stage, false)?;
            let z = emb
                .broadcast_sub(&mean)?
                .broadcast_div(&std)?
                .matmul(w.as_tensor())?
                .broadcast_add(b.as_tensor())?
                .squeeze(D::Minus1)?;
            let bw = Tensor::from_vec(bw, n, &device)?;
            let by = Tensor::from_vec(by, n, &device)?;
            // Weighted log-loss, stable: softplus(z) - y z.
            let softplus = (z.relu()? + (z.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
            let per = (softplus - (&by * &z)?)?;
            let batch_w = bw.sum_all()?.to_scalar::<f32>()?.max(1e-12);
            let loss = ((per * &bw)?.sum_all()? / f64::from(batch_w))?;
            let grads = loss.backward()?;
            opt_tail.step(&grads)?;
            opt_head.step(&grads)?;
            sum += loss.to_scalar::<f32>()? * batch_w;
            sum_w += batch_w;
            let done = (epoch * steps_per_epoch + step + 1) as f32;
            progress(
                done / (settings.epochs * steps_per_epoch) as f32,
                &format!("fine-tuning: epoch {}/{}", epoch + 1, settings.epochs),
            );
        }
        epoch_loss.push(sum / sum_w.max(1e-12));
    }
    Ok(Tuned { model, varmap, epoch_loss })
}

/// Pooled embeddings of the trained network from the cached (unaugmented) trunk rows.
pub fn tail_embeddings(
    model: &EfficientNetLite,
    trunk: &Tensor,
    stage: usize,
) -> Result<Vec<f32>, LearnError> {
    let rows = trunk.dim(0)?;
    let stage = stage.min(model.num_stages() - 1);
    let mut out = Vec::with_capacity(rows * EMBEDDING_DIM);
    for start in (0..rows).step_by(32) {
        let x = trunk.narrow(0, start, 32.min(rows - start))?;
        out.extend(model.forward_from(&x, stage, false)?.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_variables_are_the_late_blocks_and_the_head_conv() {
        assert!(is_tail("_blocks.15._expand_conv.weight", 15));
        assert!(is_tail("_blocks.11._bn0.bias", 11));
        assert!(!is_tail("_blocks.14._bn0.bias", 15));
        assert!(!is_tail("_blocks.15._bn1.running_mean", 15));
        assert!(is_tail("_conv_head.weight", 15));
        assert!(is_tail("_bn1.weight", 15));
        assert!(!is_tail("_bn0.weight", 15));
        assert!(!is_tail("_fc.weight", 15));
        assert!(!is_tail("_conv_stem.weight", 15));
    }

    #[test]
    fn augmented_views_keep_the_image_first_and_vary_the_rest() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]));
        let v = views(std::slice::from_ref(&img), 4, 7);
        assert_eq!(v.len(), 4);
        assert_eq!(v[0], img);
        assert!(v[1..].iter().all(|a| a != &img && a.width() <= 64 && a.width() >= 44));
        assert_ne!(v[1], v[2]);
        assert_eq!(views(std::slice::from_ref(&img), 4, 7), v, "deterministic for a seed");
    }
}
