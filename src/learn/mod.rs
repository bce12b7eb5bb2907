//! The model in the loop, as pure computation on embeddings and images: training and
//! calibrating the p(desirable) head, fine-tuning the backbone's last stages, and the oracle
//! simulation behind `photosift eval`. Reading labels from the catalog and recording models
//! is `pipeline`'s.

pub mod calibrate;
pub mod eval;
pub mod eval_report;
pub mod finetune;
pub mod head;
pub mod lookahead;
pub mod plot;
pub mod zero_shot;

use thiserror::Error;

pub use finetune::{CompareRow, FinetuneSettings, Target, compare_finetune, compare_table};
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

#[cfg(test)]
pub(crate) mod tests;
