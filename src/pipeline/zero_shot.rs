//! The prompts as a model before any answer: with CLIP's embeddings, the prompts
//! (`prompts`) score every photo ([`start_from_prompts`]); every retrain then blends the trained
//! head with them, handing over as answers arrive (`learn::zero_shot`; the retrain is
//! `train::train_and_record`).

use super::backbone::current_backbone;
use super::prompts::{prompts, recorded_prompts};
use super::session_data::SessionData;
use super::train::{Recording, TrainReport, train_and_record};
use crate::catalog::Catalog;
use crate::config::{Backbone, Config};
use crate::model::clip::CLIP_B32_BACKBONE_ID;

/// Records the prompts' model when the library works on CLIP, has a `want` prompt, no answer
/// yet, and its newest model is not already these prompts' on CLIP: the queues then rank by
/// the prompts (best first by p, and the ambiguous queue's "no yes yet" order hunts the likeliest
/// photos). `None` when nothing was recorded.
pub fn start_from_prompts(
    catalog: &mut Catalog,
    config: &Config,
    data: &mut SessionData,
) -> anyhow::Result<Option<TrainReport>> {
    if config.embed.backbone != Backbone::ClipB32 {
        return Ok(None);
    }
    let Some(backbone) = current_backbone(catalog, config.embed.backbone)? else {
        return Ok(None);
    };
    if backbone.as_str() != CLIP_B32_BACKBONE_ID {
        return Ok(None);
    }
    let Some(prompts) = prompts(catalog, config)? else { return Ok(None) };
    let counts = catalog.label_counts()?;
    if counts.kind_yes + counts.kind_no > 0 {
        return Ok(None);
    }
    if let Some(latest) = catalog.latest_model()?
        && latest.backbone == CLIP_B32_BACKBONE_ID
        && latest.n_positive + latest.n_negative == 0
        && recorded_prompts(&latest.info).as_ref() == Some(&prompts)
    {
        return Ok(None);
    }
    let report = train_and_record(
        catalog,
        config,
        CLIP_B32_BACKBONE_ID,
        &Recording::default(),
        data,
        &|_, _| {},
    )?;
    Ok(Some(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, DecisionMode, LabelKind, LabelValue, PhotoId};
    use crate::learn::head::sigmoid;
    use crate::model::clip::load::{Clip, locate};

    /// The tiny random-weight CLIP of tests/data/clip-parity (16-d embeddings).
    fn config(handover: u32) -> Config {
        let mut c = Config::default();
        c.embed.backbone = Backbone::ClipB32;
        c.embed.weights_dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip-parity/model");
        c.embed.download = false;
        c.embed.handover_labels = handover;
        c.seed.want = vec!["two friends on a mountain".into()];
        c.seed.dont_want = vec!["a blurry screenshot of a receipt".into()];
        c
    }

    /// 40 photos with unit 16-d "CLIP" embeddings spread around the want/other directions.
    fn catalog() -> Catalog {
        let cat = Catalog::open_in_memory().unwrap();
        let clip = Clip::load(
            &locate(&super::super::embed::clip_source(&config(20).embed), "t", &|_| {}).unwrap(),
        )
        .unwrap();
        let want = clip.embed_prompts(&["two friends on a mountain".to_string()]).unwrap();
        let other = clip.embed_prompts(&["a blurry screenshot of a receipt".to_string()]).unwrap();
        for i in 0..40 {
            let t = i as f32 / 39.0;
            let mut v: Vec<f32> = want[0]
                .iter()
                .zip(&other[0])
                .enumerate()
                .map(|(k, (w, o))| t * w + (1.0 - t) * o + 0.3 * ((i * 7 + k * 3) as f32).sin())
                .collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            cat.insert_test_photo(i as i64 + 1, None, CLIP_B32_BACKBONE_ID, &v);
        }
        cat
    }

    fn latest_scores(cat: &Catalog) -> Vec<f32> {
        let id = cat.latest_model().unwrap().unwrap().id;
        let mut s = cat.scores(id).unwrap();
        s.sort_by_key(|(p, _)| p.0);
        s.into_iter().map(|(_, p)| p).collect()
    }

    fn answer(cat: &mut Catalog, photo: i64, yes: bool) {
        let value = if yes { LabelValue::Yes } else { LabelValue::No };
        let d = Decision::single(PhotoId(photo), DecisionMode::Ambiguous, LabelKind::Kind, value);
        cat.record_decisions(&[d]).unwrap();
    }

    fn logit(p: f32) -> f32 {
        (p / (1.0 - p)).ln()
    }

    #[test]
    fn before_any_answer_the_prompts_rank_the_photos_once() {
        let mut cat = catalog();
        let cfg = config(20);
        let mut data = SessionData::default();
        let report = start_from_prompts(&mut cat, &cfg, &mut data).unwrap().unwrap();
        assert_eq!(report.scored, 40);
        // p = softmax over logit_scale · cosine of the two prompts, computed here directly.
        let clip = Clip::load(
            &locate(&super::super::embed::clip_source(&cfg.embed), "t", &|_| {}).unwrap(),
        )
        .unwrap();
        let w = clip.embed_prompts(&cfg.seed.want).unwrap().remove(0);
        let o = clip.embed_prompts(&cfg.seed.dont_want).unwrap().remove(0);
        let table = cat.embedding_table(CLIP_B32_BACKBONE_ID).unwrap();
        for (row, p) in table.data.chunks(table.dim).zip(latest_scores(&cat)) {
            let z: f32 = row.iter().zip(w.iter().zip(&o)).map(|(x, (a, b))| x * (a - b)).sum();
            let want = sigmoid(clip.model().logit_scale() * z);
            assert!((p - want).abs() < 1e-4, "{p} vs {want}");
        }
        // The queues' "no yes yet" order hunts the likeliest photos: they rise with t here.
        let s = latest_scores(&cat);
        assert!(s[39] > s[0], "{s:?}");
        // Same prompts, still no answer: nothing new is recorded.
        assert!(start_from_prompts(&mut cat, &cfg, &mut data).unwrap().is_none());
        // A new question (`label --want`) is a new ranking.
        cat.set_question("a dog on the beach").unwrap();
        assert!(start_from_prompts(&mut cat, &cfg, &mut data).unwrap().is_some());
        // After the first answer the retrain owns the model.
        answer(&mut cat, 3, true);
        assert!(start_from_prompts(&mut cat, &cfg, &mut data).unwrap().is_none());
    }

    #[test]
    fn the_trained_head_takes_over_with_weight_n_over_n_plus_k() {
        let train = |cfg: &Config, cat: &mut Catalog| {
            let mut data = SessionData::default();
            super::super::train::train_and_score(
                cat,
                cfg,
                CLIP_B32_BACKBONE_ID,
                &mut data,
                &|_, _| {},
            )
            .unwrap();
            latest_scores(cat)
        };
        let mut cat = catalog();
        let prompts_only = {
            let mut data = SessionData::default();
            start_from_prompts(&mut cat, &config(20), &mut data).unwrap().unwrap();
            latest_scores(&cat)
        };
        for (photo, yes) in [(40, true), (35, true), (30, true), (2, false), (5, false), (9, false)]
        {
            answer(&mut cat, photo, yes);
        }
        // k = 0: the trained head alone.
        let head = train(&config(0), &mut cat);
        // k = 6 after 6 answers: half each, in logits.
        let half = train(&config(6), &mut cat);
        for ((m, h), p) in half.iter().zip(&head).zip(&prompts_only) {
            let want = sigmoid(0.5 * logit(*h) + 0.5 * logit(*p));
            assert!((m - want).abs() < 2e-3, "{m} vs {want}");
        }
        // A huge k: still the prompts.
        let prompts = train(&config(1_000_000), &mut cat);
        for (m, p) in prompts.iter().zip(&prompts_only) {
            assert!((m - p).abs() < 1e-3, "{m} vs {p}");
        }
        let info = cat.latest_model().unwrap().unwrap().info;
        assert!(info.contains("\"head_weight\""), "{info}");
    }
}
