//! Training and scoring on the catalog: a new head version from the current labels and seed
//! images, recorded with the scores of every embedded photo; and rescoring with the latest
//! model after new photos arrive.
//!
//! A session's retrains read the embeddings from its [`SessionData`] (loaded once, topped up
//! with new photos) and leave the scores and ask-first order there for the queue build after
//! them; everything is committed to the catalog first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::backbone::require_backbone;
use super::finetune::{FinetuneReport, finetune_and_score};
use super::prompts::ZeroShotInfo;
use super::queues;
use super::session_data::{Features, LatestScores, SessionData};
use crate::catalog::{Catalog, NewModel};
use crate::config::Config;
use crate::domain::{LabelKind, LabelValue, ModelId, ModelKind, PhotoId};
use crate::learn::zero_shot::{blend, handover_weight, zero_shot_head};
use crate::learn::{
    Example, Fitted, Head, LearnError, Standardizer, TrainSettings, fit_calibrated, lookahead,
};
use crate::library::Library;
use crate::model::BackboneId;

/// What one training run did, for the status line and `photosift train`.
#[derive(Debug, Clone, PartialEq, Default)]
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
    /// The look-ahead choosing which photos the ambiguous queue asks first.
    pub ask_ms: f64,
    pub write_ms: f64,
}

/// What a retrain did: a head on the current backbone's embeddings, or a fine-tuned backbone
/// and the head on its new embeddings.
#[derive(Debug, Clone)]
pub enum Retrained {
    Head(TrainReport),
    Finetuned(Box<FinetuneReport>),
}

impl Retrained {
    /// The head's training, whichever way it went.
    pub fn train(&self) -> &TrainReport {
        match self {
            Retrained::Head(report) => report,
            Retrained::Finetuned(report) => &report.train,
        }
    }
}

/// A new model version from the current labels: the backbone fine-tuned first when `finetune`
/// (`photosift train --finetune`, `[train] finetune`), else a head on the current backbone's
/// embeddings. Every photo is rescored. The one retrain of `photosift train` and the session;
/// `data` is the session's memory (held for the whole retrain), a fresh one for a command.
pub fn retrain(
    library: &Library,
    config: &Config,
    finetune: bool,
    data: &Mutex<SessionData>,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<Retrained> {
    let mut catalog = library.open_catalog()?;
    let mut data = data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if finetune {
        let report = finetune_and_score(&mut catalog, library, config, &mut data, progress)?;
        return Ok(Retrained::Finetuned(Box::new(report)));
    }
    let backbone = require_backbone(&catalog, config.embed.backbone)?;
    let report = train_and_score(&mut catalog, config, backbone.as_str(), &mut data, progress)?;
    Ok(Retrained::Head(report))
}

/// Trains a new head version on the current labels (and seed images), scores every embedded
/// photo with it and records both. Blocking: the TUI calls it from a background thread with
/// its own catalog connection.
pub fn train_and_score(
    catalog: &mut Catalog,
    cfg: &Config,
    backbone: &str,
    data: &mut SessionData,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<TrainReport> {
    train_and_record(catalog, cfg, backbone, &Recording::default(), data, progress)
}

/// How [`train_and_record`] records the model version.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Its id (`None`: the next one).
    pub id: Option<ModelId>,
    /// The fine-tuning run the embeddings come from (the model's kind is then "finetune").
    pub finetune: Option<FinetuneInfo>,
}

/// The fine-tuning run behind a model, as its info column records it.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneInfo {
    pub from_stage: usize,
    pub epochs: usize,
    pub views: usize,
    pub images: usize,
    pub epoch_loss: Vec<f32>,
    pub finetune_ms: f64,
    pub embed_ms: f64,
}

/// The models table's info column: how a model version was trained.
#[derive(Debug, Serialize)]
struct TrainInfo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    finetune: Option<&'a FinetuneInfo>,
    l2: f32,
    synthetic_weight: f32,
    platt_a: f32,
    platt_c: f32,
    read_ms: f64,
    train_ms: f64,
    score_ms: f64,
    ask_ms: f64,
    note: Option<&'a str>,
    /// The prompts blended in (CLIP only).
    #[serde(skip_serializing_if = "Option::is_none")]
    zero_shot: Option<ZeroShotInfo<'a>>,
}

/// [`train_and_score`], recorded as `recording` says.
pub fn train_and_record(
    catalog: &mut Catalog,
    cfg: &Config,
    backbone: &str,
    recording: &Recording,
    data: &mut SessionData,
    progress: &dyn Fn(f32, &str),
) -> anyhow::Result<TrainReport> {
    let t0 = Instant::now();
    progress(0.0, "reading embeddings");
    let prompts = data.prompt_vectors(catalog, cfg, backbone).context("scoring the prompts")?;
    let features =
        data.features(catalog, &BackboneId::new(backbone)).context("reading the embeddings")?;
    let table = features.table();
    if table.is_empty() {
        bail!(
            "no photo has an embedding from backbone {backbone:?}: run `photosift embed` (a \
             scan without --no-embed also embeds the photos it adds)"
        );
    }
    let mut manual = Vec::new();
    let mut n_unembedded = 0;
    for (photo, value) in catalog.current_labels(LabelKind::Kind)? {
        let positive = match value {
            LabelValue::Yes => true,
            LabelValue::No => false,
            LabelValue::Skip => continue,
        };
        match features.row_index(photo) {
            Some(row) => manual.push(Example { row, positive, weight: 1.0 }),
            None => n_unembedded += 1,
        }
    }
    let synthetic: Vec<Example> = catalog
        .synthetic_seed_labels()?
        .into_iter()
        .filter_map(|(photo, positive)| {
            let row = features.row_index(photo)?;
            Some(Example { row, positive, weight: cfg.train.synthetic_weight })
        })
        .collect();
    let read_ms = ms(t0);

    let t1 = Instant::now();
    let standardizer = Standardizer::fit(&table.data, table.dim);
    let settings = TrainSettings { l2: cfg.train.l2 };
    let sub = |f: f32, what: &str| progress(0.05 + 0.8 * f, what);
    let prior = prompts.as_ref().and_then(|v| {
        zero_shot_head(&v.want, &v.other, v.logit_scale, &standardizer).map(|h| (h, &v.prompts))
    });
    let fitted = match fit_calibrated(
        &table.data,
        table.dim,
        &standardizer,
        &manual,
        &synthetic,
        settings,
        &sub,
    ) {
        Ok(fitted) => fitted,
        // Before any answer the prompts are the model.
        Err(LearnError::NoLabels) if prior.is_some() => Fitted {
            head: prior.as_ref().map(|(h, _)| h.clone()).context("the prompts' head")?,
            cv_auc: None,
            note: Some("no answers yet: the scores come from the prompts".to_owned()),
        },
        Err(e) => return Err(e.into()),
    };
    let train_ms = ms(t1);

    // The trained head takes over from the prompts as answers arrive: its share of the logit
    // is n / (n + [embed] handover_labels) after n answers.
    let head_weight = if manual.is_empty() {
        0.0
    } else {
        handover_weight(manual.len(), cfg.embed.handover_labels)
    };
    let scoring = match &prior {
        Some((prior, _)) => blend(&fitted.head, prior, head_weight),
        None => fitted.head.clone(),
    };

    progress(0.85, "scoring");
    let t2 = Instant::now();
    let p = scoring.predict(&table.data, table.dim);
    let scores: Vec<(PhotoId, f32)> = table.ids.iter().copied().zip(p).collect();
    let score_ms = ms(t2);

    progress(0.87, "choosing what to ask next");
    let t_ask = Instant::now();
    let ask_first =
        ask_first_order(catalog, cfg, features, &fitted.head, &manual, &synthetic, &scores)?;
    let ask_ms = ms(t_ask);

    progress(0.9, "saving");
    let t3 = Instant::now();
    let n_positive = manual.iter().filter(|e| e.positive).count() as u64;
    let n_negative = manual.len() as u64 - n_positive;
    let (platt_a, platt_c) = fitted.head.platt;
    let info = serde_json::to_string(&TrainInfo {
        finetune: recording.finetune.as_ref(),
        l2: cfg.train.l2,
        synthetic_weight: cfg.train.synthetic_weight,
        platt_a,
        platt_c,
        read_ms,
        train_ms,
        score_ms,
        ask_ms,
        note: fitted.note.as_deref(),
        zero_shot: prior.as_ref().map(|(_, prompts)| ZeroShotInfo { prompts, head_weight }),
    })
    .context("writing the model's info")?;
    let model = NewModel {
        backbone: backbone.to_owned(),
        kind: if recording.finetune.is_some() { ModelKind::Finetune } else { ModelKind::Head },
        n_positive,
        n_negative,
        n_synthetic: synthetic.len() as u64,
        cv_auc: fitted.cv_auc,
        params: scoring.to_safetensors()?,
        info,
    };
    let id = catalog
        .insert_model_as(recording.id, &model, &scores, &ask_first)
        .context("saving the model and its scores")?;
    let write_ms = ms(t3);
    let scored = scores.len();
    data.remember(LatestScores { model: id, p: scores.into_iter().collect(), ask_first });
    progress(1.0, "done");
    Ok(TrainReport {
        model: id,
        n_positive,
        n_negative,
        n_synthetic: model.n_synthetic,
        n_unembedded,
        cv_auc: fitted.cv_auc,
        note: fitted.note,
        scored,
        read_ms,
        train_ms,
        score_ms,
        ask_ms,
        write_ms,
    })
}

/// The look-ahead over the ambiguous queue's candidates as the new model scores them
/// (`scores`): the photos to ask first, in order. Empty before the look-ahead applies.
fn ask_first_order(
    catalog: &Catalog,
    cfg: &Config,
    features: &Features,
    head: &Head,
    manual: &[Example],
    synthetic: &[Example],
    scores: &[(PhotoId, f32)],
) -> anyhow::Result<Vec<PhotoId>> {
    if !lookahead::applies(manual) {
        return Ok(Vec::new());
    }
    let p: HashMap<PhotoId, f32> = scores.iter().copied().collect();
    let cands = queues::scored_candidates(catalog, cfg, &p)?;
    let table = features.table();
    let order = lookahead::ask_order(
        &table.data,
        table.dim,
        head,
        manual,
        synthetic,
        TrainSettings { l2: cfg.train.l2 },
        &cands,
        &|k| features.row_index(cands[k].photo),
    )
    .context("choosing which photos to ask first")?;
    Ok(order.into_iter().map(|k| cands[k].photo).collect())
}

/// Scores every embedded photo with the latest model (after a scan added photos) and returns
/// how many were scored; `None` when no model was trained yet.
pub fn score_latest(catalog: &mut Catalog) -> anyhow::Result<Option<(ModelId, usize)>> {
    let Some(model) = catalog.latest_model()? else { return Ok(None) };
    let retrain = "train a new one: `photosift train` (or R in the labeling session)";
    let bytes = catalog.model_params(model.id)?.with_context(|| {
        format!("model v{} has no weights in the catalog; {retrain}", model.id.0)
    })?;
    let head = Head::from_safetensors(&bytes).with_context(|| {
        format!("the weights of model v{} in the catalog cannot be read; {retrain}", model.id.0)
    })?;
    let table = catalog.embedding_table(&model.backbone)?;
    if table.dim != head.weight.len() {
        bail!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, DecisionMode};

    /// A catalog of `n` embedded photos (ids 1..=n, 16-d, "lite0"), with the toy data set's
    /// rows and truth.
    fn toy_catalog(n: usize) -> (Catalog, Vec<f32>, Vec<bool>) {
        let dim = 16;
        let (data, y) = crate::learn::tests::dataset(n, dim, 6, |x0, _| x0 > 0.0);
        let cat = Catalog::open_in_memory().unwrap();
        for i in 0..n {
            cat.insert_test_photo(i as i64 + 1, None, "lite0", &data[i * dim..(i + 1) * dim]);
        }
        (cat, data, y)
    }

    #[test]
    fn train_and_score_records_a_version_with_scores_and_counts() {
        let dim = 16;
        let (mut cat, data, y) = toy_catalog(60);
        // Two seed images, one per list.
        cat.insert_test_photo(100, Some(true), "lite0", &data[0..dim]);
        cat.insert_test_photo(101, Some(false), "lite0", &data[dim..2 * dim]);
        for (i, &yes) in y.iter().enumerate().take(20) {
            let v = if yes { LabelValue::Yes } else { LabelValue::No };
            cat.record_decisions(&[Decision::single(
                PhotoId(i as i64 + 1),
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                v,
            )])
            .unwrap();
        }
        cat.record_decisions(&[Decision::single(
            PhotoId(30),
            DecisionMode::Ambiguous,
            LabelKind::Kind,
            LabelValue::Skip,
        )])
        .unwrap();
        let cfg = Config::default();
        let steps = std::cell::RefCell::new(Vec::new());
        let report =
            train_and_score(&mut cat, &cfg, "lite0", &mut SessionData::default(), &|f, _| {
                steps.borrow_mut().push(f)
            })
            .unwrap();
        let n_yes = y[..20].iter().filter(|&&v| v).count() as u64;
        assert_eq!(
            (report.n_positive, report.n_negative, report.n_synthetic),
            (n_yes, 20 - n_yes, 2)
        );
        assert_eq!(report.scored, 62);
        assert!(report.cv_auc.is_some());
        let steps = steps.into_inner();
        assert!(steps.windows(2).all(|w| w[0] <= w[1]) && steps.last() == Some(&1.0));

        let second =
            train_and_score(&mut cat, &cfg, "lite0", &mut SessionData::default(), &|_, _| {})
                .unwrap();
        assert_ne!(second.model, report.model);
        assert_eq!(cat.latest_model().unwrap().unwrap().id, second.model);
        assert_eq!(cat.scores(report.model).unwrap().len(), 62);
        assert_eq!(cat.scores(second.model).unwrap().len(), 62);
        // Rescoring with the stored parameters reproduces the scores.
        let before = cat.scores(second.model).unwrap();
        assert_eq!(score_latest(&mut cat).unwrap(), Some((second.model, 62)));
        let after = cat.scores(second.model).unwrap();
        for ((_, a), (_, b)) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-5);
        }
        let photos = cat.photos().unwrap();
        let complete = queues::Build::Complete(&Mutex::default());
        let rows = queues::candidates(&cat, &cfg, &photos, complete).unwrap();
        assert_eq!(rows.len(), 60);
        assert!(rows.iter().all(|c| c.p.is_some() && c.embedding.is_some()));
    }

    /// With `lookahead::MIN_ANSWERS` answers of both kinds the model records which photos to
    /// ask first, all of them unanswered, and the ambiguous queue starts with them in that
    /// order.
    #[test]
    fn a_model_records_which_photos_to_ask_first_and_the_queue_asks_them() {
        let (mut cat, _, y) = toy_catalog(80);
        let answer = |cat: &mut Catalog, i: usize| {
            let v = if y[i] { LabelValue::Yes } else { LabelValue::No };
            cat.record_decisions(&[Decision::single(
                PhotoId(i as i64 + 1),
                DecisionMode::Ambiguous,
                LabelKind::Kind,
                v,
            )])
            .unwrap();
        };
        let cfg = Config::default();
        let ask_first = |cat: &Catalog| {
            let photos = cat.photos().unwrap();
            let cands = queues::candidates(cat, &cfg, &photos, queues::Build::Quick).unwrap();
            let mut ranked: Vec<(u32, PhotoId)> =
                cands.iter().filter_map(|c| Some((c.ask_first?, c.photo))).collect();
            ranked.sort();
            ranked.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
        };
        // Both kinds among the first answers, one answer short of the look-ahead.
        let mut answered: Vec<usize> =
            vec![(0..80).find(|&i| y[i]).unwrap(), (0..80).find(|&i| !y[i]).unwrap()];
        let more: Vec<usize> =
            (0..80).filter(|i| !answered.contains(i)).take(lookahead::MIN_ANSWERS - 3).collect();
        answered.extend(more);
        for &i in &answered {
            answer(&mut cat, i);
        }
        let report =
            train_and_score(&mut cat, &cfg, "lite0", &mut SessionData::default(), &|_, _| {})
                .unwrap();
        assert!(ask_first(&cat).is_empty(), "{report:?}");

        let last = (0..80).find(|i| !answered.contains(i)).unwrap();
        answered.push(last);
        answer(&mut cat, last);
        assert_eq!(answered.len(), lookahead::MIN_ANSWERS);
        train_and_score(&mut cat, &cfg, "lite0", &mut SessionData::default(), &|_, _| {}).unwrap();
        let first = ask_first(&cat);
        assert_eq!(first.len(), lookahead::CANDIDATES);
        assert!(first.iter().all(|id| !answered.contains(&(id.0 as usize - 1))), "{first:?}");
        let latest = cat.latest_model().unwrap().unwrap();
        assert_eq!(cat.ask_first(latest.id).unwrap(), first, "its own table");

        let photos = cat.photos().unwrap();
        let cands = queues::candidates(&cat, &cfg, &photos, queues::Build::Quick).unwrap();
        let queue = crate::queue::ambiguous(&cands, &cfg.queue);
        assert_eq!(queue[..first.len()], first[..]);
    }
}
