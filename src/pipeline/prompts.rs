//! The user's prompts as the two classes of a zero-shot model: `[seed] want` and the session's
//! question (`label --want`) against `[seed] dont_want` (or neutral prompts), their CLIP text
//! embeddings, and what a model's info records of them. The workflows that use them are
//! `zero_shot` (the model before any answer) and `train` (the hand-over at each retrain).

use anyhow::Context;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::learn::zero_shot::NEUTRAL_PROMPTS;

/// The texts of the two classes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Prompts {
    pub want: Vec<String>,
    /// `[seed] dont_want`, or [`NEUTRAL_PROMPTS`] when it is empty.
    pub other: Vec<String>,
}

/// The prompts' unit text embeddings and CLIP's logit scale.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptVectors {
    pub prompts: Prompts,
    pub want: Vec<Vec<f32>>,
    pub other: Vec<Vec<f32>>,
    pub logit_scale: f32,
}

/// What a model's info records of the prompts behind it.
#[derive(Debug, Clone, Serialize)]
pub struct ZeroShotInfo<'a> {
    pub prompts: &'a Prompts,
    /// The trained head's share of the logit (0: the prompts alone).
    pub head_weight: f32,
}

/// The prompts of this library and config; `None` without any `want` prompt.
pub fn prompts(catalog: &Catalog, config: &Config) -> anyhow::Result<Option<Prompts>> {
    let mut want: Vec<String> =
        config.seed.want.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    if let Some(q) = catalog.question().context("reading the session's question")? {
        let q = q.trim();
        if !q.is_empty() && !want.iter().any(|w| w == q) {
            want.push(q.to_string());
        }
    }
    if want.is_empty() {
        return Ok(None);
    }
    let mut other: Vec<String> = config
        .seed
        .dont_want
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    if other.is_empty() {
        other = NEUTRAL_PROMPTS.iter().map(|p| p.to_string()).collect();
    }
    Ok(Some(Prompts { want, other }))
}

/// The prompts a model's info says it was made with.
pub(crate) fn recorded_prompts(info: &str) -> Option<Prompts> {
    let v: serde_json::Value = serde_json::from_str(info).ok()?;
    serde_json::from_value(v.get("zero_shot")?.get("prompts")?.clone()).ok()
}
