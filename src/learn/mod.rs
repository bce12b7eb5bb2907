//! The model in the loop: training the p(desirable) head on the labeled embeddings,
//! calibrating it, scoring every photo, and the oracle simulation behind `photosift eval`.

pub mod calibrate;
pub mod eval;
pub mod eval_report;
pub mod finetune;
mod finetune_compare;
mod finetune_run;
pub mod head;
pub mod plot;

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use thiserror::Error;

use crate::catalog::{Catalog, LabelKind, LabelValue, ModelId, NewModel, PhotoId};
use crate::config::Config;
pub use finetune::{FinetuneSettings, Target};
pub use finetune_compare::{CompareRow, compare_finetune, compare_table};
pub use finetune_run::{FinetuneReport, finetune_and_score};
pub use head::{Example, Head, Standardizer, TrainSettings};

/// Manual labels of each class needed before a cross-validated AUC and a Platt calibration
/// mean anything.
pub const MIN_PER_CLASS_FOR_CV: usize = 3;
/// Folds of the cross-validation (fewer when a class has fewer labels).
pub const CV_FOLDS: usize = 5;

#[derive(Debug, Error)]
pub enum LearnError {
    #[error("nothing to learn from yet: label some photos (or generate seed images) first")]
    NoLabels,
    #[error("no embeddings for backbone {0:?}: run `photosift scan` (it embeds new photos)")]
    NoEmbeddings(String),
    #[error("bad model parameters: {0}")]
    Params(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A head with what is known about its quality.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub head: Head,
    /// Cross-validated AUC on the manual labels (`None` with too few of either class).
    pub cv_auc: Option<f64>,
    /// Something the user should know about this model ("only one class labeled", ...).
    pub note: Option<String>,
}

/// Trains and calibrates a head on `manual` and `synthetic` examples (rows of `data`).
/// With both classes among the manual labels (at least [`MIN_PER_CLASS_FOR_CV`] each), k-fold
/// cross-validation on the manual labels gives the AUC and the out-of-fold decision values
/// that Platt scaling is fitted on; synthetic examples are always in the training folds.
pub fn fit_calibrated(
    data: &[f32],
    dim: usize,
    standardizer: &Standardizer,
    manual: &[Example],
    synthetic: &[Example],
    settings: TrainSettings,
    progress: &dyn Fn(f32, &str),
) -> Result<Fitted, LearnError> {
    let all: Vec<Example> = manual.iter().chain(synthetic).copied().collect();
    let n_pos = manual.iter().filter(|e| e.positive).count();
    let n_neg = manual.len() - n_pos;
    let has = |pos: bool| all.iter().any(|e| e.positive == pos);
    match (has(true), has(false)) {
        (false, false) => return Err(LearnError::NoLabels),
        (true, false) | (false, true) => {
            // Laplace-smoothed share of "yes" among the manual answers.
            let prior = (n_pos as f32 + 1.0) / (manual.len() as f32 + 2.0);
            let which = if has(true) { "\"yes\"" } else { "\"no\"" };
            return Ok(Fitted {
                head: head::one_class(data, dim, standardizer, &all, prior),
                cv_auc: None,
                note: Some(format!(
                    "only {which} answers so far: scores are the prior ({prior:.2}) tilted toward \
                     photos like the labeled ones; answer both ways to train a real model"
                )),
            });
        }
        (true, true) => {}
    }
    if n_pos.min(n_neg) < MIN_PER_CLASS_FOR_CV {
        progress(0.5, "training");
        return Ok(Fitted {
            head: head::fit(data, dim, standardizer, &all, settings)?,
            cv_auc: None,
            note: Some(format!(
                "fewer than {MIN_PER_CLASS_FOR_CV} manual answers of each kind: no cross-validated \
                 AUC and no calibration yet"
            )),
        });
    }
    let k = CV_FOLDS.min(n_pos.min(n_neg));
    let positive: Vec<bool> = manual.iter().map(|e| e.positive).collect();
    let folds = calibrate::stratified_folds(&positive, k);
    let mut oof = vec![0f32; manual.len()];
    for fold in 0..k {
        progress(fold as f32 / (k + 1) as f32, &format!("cross-validation fold {}/{k}", fold + 1));
        let train: Vec<Example> = manual
            .iter()
            .zip(&folds)
            .filter(|(_, f)| **f != fold)
            .map(|(e, _)| *e)
            .chain(synthetic.iter().copied())
            .collect();
        let head = head::fit(data, dim, standardizer, &train, settings)?;
        let held: Vec<usize> = (0..manual.len()).filter(|&i| folds[i] == fold).collect();
        let rows: Vec<f32> = held
            .iter()
            .flat_map(|&i| data[manual[i].row * dim..(manual[i].row + 1) * dim].iter().copied())
            .collect();
        for (&i, z) in held.iter().zip(head.decision(&rows, dim)) {
            oof[i] = z;
        }
    }
    progress(k as f32 / (k + 1) as f32, "training on all labels");
    let mut head = head::fit(data, dim, standardizer, &all, settings)?;
    let cv_auc = calibrate::auc(&oof, &positive);
    let note = match calibrate::platt_or_identity(&oof, &positive) {
        Some(platt) => {
            head.platt = platt;
            None
        }
        None => Some(
            "the cross-validated ranking is no better than chance yet: scores are not \
             calibrated"
                .to_owned(),
        ),
    };
    Ok(Fitted { head, cv_auc, note })
}

/// What one training run did, for the status line and `photosift train`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    pub model: ModelId,
    pub n_positive: u64,
    pub n_negative: u64,
    pub n_synthetic: u64,
    /// Labeled photos that could not be used because they have no embedding yet.
    pub n_unembedded: u64,
    pub cv_auc: Option<f64>,
    pub note: Option<String>,
    /// Photos scored.
    pub scored: usize,
    pub read_ms: f64,
    pub train_ms: f64,
    pub score_ms: f64,
    pub write_ms: f64,
}

/// Trains a new head version on the current labels (and seed images), scores every embedded
/// photo with it and records both. Blocking: the TUI calls it from a background thread with
/// its own catalog connection.
pub fn train_and_score(
    catalog: &mut Catalog,
    cfg: &Config,
    backbone: &str,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<TrainReport> {
    train_and_record(catalog, cfg, backbone, &Recording::default(), progress)
}

/// How [`train_and_record`] records the model version.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Its id (`None`: the next one).
    pub id: Option<ModelId>,
    /// True after fine-tuning (models.kind "finetune" instead of "head").
    pub finetuned: bool,
    /// Extra JSON members for the info column (`"key":value,...`, without braces).
    pub info: String,
}

/// [`train_and_score`], recorded as `recording` says.
pub fn train_and_record(
    catalog: &mut Catalog,
    cfg: &Config,
    backbone: &str,
    recording: &Recording,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<TrainReport> {
    let t0 = Instant::now();
    progress(0.0, "reading embeddings");
    let table = catalog.embedding_table(backbone).context("reading the embeddings")?;
    if table.is_empty() {
        return Err(LearnError::NoEmbeddings(backbone.to_owned()).into());
    }
    let row_of: HashMap<PhotoId, usize> =
        table.ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let mut manual = Vec::new();
    let mut n_unembedded = 0;
    for (photo, value) in catalog.current_labels(LabelKind::Kind)? {
        let positive = match value {
            LabelValue::Yes => true,
            LabelValue::No => false,
            LabelValue::Skip => continue,
        };
        match row_of.get(&photo) {
            Some(&row) => manual.push(Example { row, positive, weight: 1.0 }),
            None => n_unembedded += 1,
        }
    }
    let synthetic: Vec<Example> = catalog
        .synthetic_seed_labels()?
        .into_iter()
        .filter_map(|(photo, positive)| {
            let row = *row_of.get(&photo)?;
            Some(Example { row, positive, weight: cfg.train.synthetic_weight })
        })
        .collect();
    let read_ms = ms(t0);

    let t1 = Instant::now();
    let standardizer = Standardizer::fit(&table.data, table.dim);
    let settings = TrainSettings { l2: cfg.train.l2 };
    let sub = |f: f32, what: &str| progress(0.05 + 0.8 * f, what);
    let fitted =
        fit_calibrated(&table.data, table.dim, &standardizer, &manual, &synthetic, settings, &sub)?;
    let train_ms = ms(t1);

    progress(0.85, "scoring");
    let t2 = Instant::now();
    let p = fitted.head.predict(&table.data, table.dim);
    let scores: Vec<(PhotoId, f32)> = table.ids.iter().copied().zip(p).collect();
    let score_ms = ms(t2);

    progress(0.9, "saving");
    let t3 = Instant::now();
    let n_positive = manual.iter().filter(|e| e.positive).count() as u64;
    let n_negative = manual.len() as u64 - n_positive;
    let (a, c) = fitted.head.platt;
    let extra =
        if recording.info.is_empty() { String::new() } else { format!("{},", recording.info) };
    let info = format!(
        "{{{extra}\"l2\":{},\"synthetic_weight\":{},\"platt_a\":{a},\"platt_c\":{c},\"read_ms\":{read_ms:.1},\
         \"train_ms\":{train_ms:.1},\"score_ms\":{score_ms:.1},\"note\":{}}}",
        cfg.train.l2,
        cfg.train.synthetic_weight,
        fitted.note.as_deref().map_or("null".to_owned(), json_string),
    );
    let model = NewModel {
        backbone: backbone.to_owned(),
        kind: if recording.finetuned { "finetune" } else { "head" }.into(),
        n_positive,
        n_negative,
        n_synthetic: synthetic.len() as u64,
        cv_auc: fitted.cv_auc,
        params: fitted.head.to_safetensors()?,
        info,
    };
    let id = catalog
        .insert_model_as(recording.id, &model, &scores)
        .context("saving the model and its scores")?;
    let write_ms = ms(t3);
    progress(1.0, "done");
    Ok(TrainReport {
        model: id,
        n_positive,
        n_negative,
        n_synthetic: model.n_synthetic,
        n_unembedded,
        cv_auc: fitted.cv_auc,
        note: fitted.note,
        scored: scores.len(),
        read_ms,
        train_ms,
        score_ms,
        write_ms,
    })
}

/// Scores every embedded photo with the latest model (after a scan added photos) and returns
/// how many were scored; `None` when no model was trained yet.
pub fn score_latest(catalog: &mut Catalog) -> anyhow::Result<Option<(ModelId, usize)>> {
    let Some(model) = catalog.latest_model()? else { return Ok(None) };
    let bytes = catalog.model_params(model.id)?.context("the model's parameters are missing")?;
    let head = Head::from_safetensors(&bytes)?;
    let table = catalog.embedding_table(&model.backbone)?;
    if table.dim != head.weight.len() {
        anyhow::bail!(
            "model {} expects {}-dimensional embeddings, the catalog has {}: retrain",
            model.id.0,
            head.weight.len(),
            table.dim
        );
    }
    let p = head.predict(&table.data, table.dim);
    let scores: Vec<(PhotoId, f32)> = table.ids.iter().copied().zip(p).collect();
    catalog.put_scores(model.id, &scores)?;
    Ok(Some((model.id, scores.len())))
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
