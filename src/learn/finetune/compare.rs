//! Fine-tuned backbone vs frozen backbone at fixed label counts (`photosift eval
//! --finetune-compare`): random labeled subsets, each trained both ways, AUC on the rest.

use std::fmt::Write as _;
use std::time::Instant;

use candle_core::Device;
use image::RgbImage;

use super::{self as finetune, FinetuneSettings, Target};
use crate::learn::{Example, LearnError, Standardizer, TrainSettings, calibrate, fit_calibrated};
use crate::model::{Embedder, Features, WeightsSource};
use crate::numeric::SplitMix;

/// Both ways at one label count, averaged over the runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    pub labels: usize,
    pub runs: usize,
    /// Mean AUC on the photos outside the labeled subset: head on the frozen backbone's photo
    /// features (what `train` uses by default).
    pub frozen_auc: f64,
    /// The same on the frozen backbone's 1280-d pooled embedding, what fine-tuning starts from.
    pub pooled_auc: f64,
    /// The same after fine-tuning (head retrained on the new pooled embeddings, as `train
    /// --finetune` does).
    pub finetuned_auc: f64,
    /// Mean seconds of one head training (frozen) and one fine-tuning + re-embedding + head.
    pub frozen_s: f64,
    pub finetuned_s: f64,
    /// Mean training loss of the first and the last fine-tuning epoch.
    pub first_loss: f64,
    pub last_loss: f64,
}

/// A random subset of `count` images holding both classes (the labels a user might have
/// given in random order).
fn subset(truth: &[bool], count: usize, rng: &mut SplitMix) -> Option<Vec<usize>> {
    for _ in 0..1000 {
        let mut order: Vec<usize> = (0..truth.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        order.truncate(count);
        let pos = order.iter().filter(|&&i| truth[i]).count();
        if pos > 0 && pos < order.len() {
            return Some(order);
        }
    }
    None
}

/// AUC on the rows outside `labeled` of a head fitted (as `train` does) on `labeled`.
fn head_auc(
    data: &[f32],
    dim: usize,
    truth: &[bool],
    labeled: &[usize],
    train: TrainSettings,
) -> Result<Option<f64>, LearnError> {
    let standardizer = Standardizer::fit(data, dim);
    let manual: Vec<Example> =
        labeled.iter().map(|&row| Example { row, positive: truth[row], weight: 1.0 }).collect();
    let fitted = fit_calibrated(data, dim, &standardizer, &manual, &[], train, &|_, _| {})?;
    let p = fitted.head.predict(data, dim);
    let rest: Vec<usize> = (0..truth.len()).filter(|i| !labeled.contains(i)).collect();
    let p: Vec<f32> = rest.iter().map(|&i| p[i]).collect();
    let y: Vec<bool> = rest.iter().map(|&i| truth[i]).collect();
    Ok(calibrate::auc(&p, &y))
}

/// For each label count, `runs` random labeled subsets, each trained with the frozen backbone
/// and with fine-tuning; the frozen trunk of every view is computed once for all runs.
#[allow(clippy::too_many_arguments)]
pub fn compare_finetune(
    source: &WeightsSource,
    images: &[RgbImage],
    truth: &[bool],
    counts: &[usize],
    runs: usize,
    settings: &FinetuneSettings,
    train: TrainSettings,
    progress: &dyn Fn(&str),
) -> Result<Vec<CompareRow>, LearnError> {
    let dim = crate::model::EMBEDDING_DIM;
    let v = settings.views.max(1);
    let folded = source.load_folded(&Device::Cpu).map_err(|e| LearnError::Params(e.to_string()))?;
    let views = finetune::views(images, v, settings.seed);
    let trunk = finetune::trunk_features(&folded, &views, settings.from_stage, &|d, t| {
        progress(&format!("frozen trunk of {t} views: {d}"));
    })?;
    let plain_idx: Vec<u32> = (0..images.len()).map(|i| (i * v) as u32).collect();
    let plain =
        trunk.index_select(&candle_core::Tensor::new(plain_idx.as_slice(), &Device::Cpu)?, 0)?;
    let pooled = finetune::tail_embeddings(&folded, &plain, settings.from_stage)?;
    drop(folded);
    let photo = Embedder::with_features(source, Features::Photo)
        .map_err(|e| LearnError::Params(e.to_string()))?;
    let photo_dim = photo.dim();
    let frozen: Vec<f32> =
        photo.embed_images(images).map_err(|e| LearnError::Params(e.to_string()))?.concat();
    drop(photo);

    let mut rows = Vec::new();
    for &count in counts.iter().filter(|&&c| c < images.len()) {
        let mut row = CompareRow {
            labels: count,
            runs: 0,
            frozen_auc: 0.0,
            pooled_auc: 0.0,
            finetuned_auc: 0.0,
            frozen_s: 0.0,
            finetuned_s: 0.0,
            first_loss: 0.0,
            last_loss: 0.0,
        };
        let mut rng = SplitMix(0xC0_4E_u64.wrapping_add(count as u64));
        for run in 0..runs.max(1) {
            progress(&format!("{count} labels, run {}/{}", run + 1, runs.max(1)));
            let Some(labeled) = subset(truth, count, &mut rng) else { continue };
            let t = Instant::now();
            let Some(frozen_auc) = head_auc(&frozen, photo_dim, truth, &labeled, train)? else {
                continue;
            };
            let frozen_s = t.elapsed().as_secs_f64();
            let Some(pooled_auc) = head_auc(&pooled, dim, truth, &labeled, train)? else {
                continue;
            };

            let t = Instant::now();
            let idx: Vec<u32> =
                labeled.iter().flat_map(|&i| (i * v..(i + 1) * v).map(|r| r as u32)).collect();
            let sub =
                trunk.index_select(&candle_core::Tensor::new(idx.as_slice(), &Device::Cpu)?, 0)?;
            let targets: Vec<Target> =
                labeled.iter().map(|&i| Target { positive: truth[i], weight: 1.0 }).collect();
            let run_settings = FinetuneSettings { seed: settings.seed + run as u64, ..*settings };
            let tuned = finetune::train_tail(source, &sub, &targets, &run_settings, &|_, _| {})?;
            let tuned_emb = finetune::tail_embeddings(&tuned.model, &plain, settings.from_stage)?;
            let Some(tuned_auc) = head_auc(&tuned_emb, dim, truth, &labeled, train)? else {
                continue;
            };
            row.finetuned_s += t.elapsed().as_secs_f64();
            row.frozen_s += frozen_s;
            row.frozen_auc += frozen_auc;
            row.pooled_auc += pooled_auc;
            row.finetuned_auc += tuned_auc;
            row.first_loss += f64::from(tuned.epoch_loss.first().copied().unwrap_or(f32::NAN));
            row.last_loss += f64::from(tuned.epoch_loss.last().copied().unwrap_or(f32::NAN));
            row.runs += 1;
        }
        if row.runs > 0 {
            let n = row.runs as f64;
            for x in [
                &mut row.frozen_auc,
                &mut row.pooled_auc,
                &mut row.finetuned_auc,
                &mut row.frozen_s,
                &mut row.finetuned_s,
                &mut row.first_loss,
                &mut row.last_loss,
            ] {
                *x /= n;
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The comparison as a text table.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let mut out = String::from(
        "labels | runs | frozen AUC | frozen pooled AUC | fine-tuned AUC | frozen s | fine-tune s \
         | loss first -> last\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>6} | {:>4} | {:>10.3} | {:>17.3} | {:>14.3} | {:>8.2} | {:>11.1} | {:.3} -> {:.3}",
            r.labels,
            r.runs,
            r.frozen_auc,
            r.pooled_auc,
            r.finetuned_auc,
            r.frozen_s,
            r.finetuned_s,
            r.first_loss,
            r.last_loss
        );
    }
    out
}
