//! What the `[seed]` section asks for: the (prompt, image number) pairs to generate, each with
//! its sampler seed and file name, and the generation parameters with the model's defaults.

use std::collections::HashSet;

use super::models::SdModel;
use super::pipeline::GenerateParams;
use crate::config::SeedConfig;

/// One image to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedPlan {
    pub prompt: String,
    pub wanted: bool,
    /// 0-based image number within the prompt.
    pub index: usize,
    /// The sampler seed, derived from `[seed] seed`, the list, the prompt and the index.
    pub seed: u64,
    /// File name inside `synthetic/`.
    pub file_name: String,
}

/// The most images one seed plan may hold: generating them takes about a second each on a
/// GPU (a minute on a laptop CPU); a few hundred make a good seed.
pub const MAX_PLANNED_IMAGES: usize = 100_000;
/// The longest prompt, in characters: the text encoder reads 77 tokens (a few hundred
/// characters) and ignores the rest.
pub const MAX_PROMPT_CHARS: usize = 2_000;

/// A `[seed]` section asking for more than a plan may hold: refused before anything is
/// allocated for it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(
        "[seed] asks for {total} images ({prompts} prompts x images_per_prompt = {per_prompt}); \
         a seed plan holds at most {MAX_PLANNED_IMAGES}: lower images_per_prompt or use fewer \
         prompts (a few hundred images make a good seed)"
    )]
    TooManyImages { total: u128, prompts: usize, per_prompt: usize },
    #[error(
        "[seed] prompt #{index} of `{list}` has {chars} characters; at most {MAX_PROMPT_CHARS} \
         are allowed (the text encoder reads only the first 77 tokens)"
    )]
    PromptTooLong { list: &'static str, index: usize, chars: usize },
}

/// The prompts of each list that a plan uses: trimmed, without blank or repeated ones.
fn distinct_prompts(prompts: &[String]) -> Vec<&str> {
    let mut seen = HashSet::new();
    prompts.iter().map(|p| p.trim()).filter(|p| !p.is_empty() && seen.insert(*p)).collect()
}

/// Every image `[seed]` asks for, in order: `want` prompts first. Blank and repeated prompts
/// are dropped. A plan over [`MAX_PLANNED_IMAGES`] images or with a prompt over
/// [`MAX_PROMPT_CHARS`] characters is refused before it is built.
pub fn plan_seeds(cfg: &SeedConfig) -> Result<Vec<SeedPlan>, PlanError> {
    let lists = [(true, distinct_prompts(&cfg.want)), (false, distinct_prompts(&cfg.dont_want))];
    for (wanted, prompts) in &lists {
        let list = if *wanted { "want" } else { "dont_want" };
        if let Some((index, p)) =
            prompts.iter().enumerate().find(|(_, p)| p.chars().count() > MAX_PROMPT_CHARS)
        {
            return Err(PlanError::PromptTooLong { list, index, chars: p.chars().count() });
        }
    }
    let prompts: usize = lists.iter().map(|(_, p)| p.len()).sum();
    let total = prompts as u128 * cfg.images_per_prompt as u128;
    if total > MAX_PLANNED_IMAGES as u128 {
        let per_prompt = cfg.images_per_prompt;
        return Err(PlanError::TooManyImages { total, prompts, per_prompt });
    }
    let mut plans = Vec::with_capacity(total as usize);
    for (wanted, prompts) in lists {
        for prompt in prompts {
            let key = blake3::hash(prompt.as_bytes()).to_hex();
            for index in 0..cfg.images_per_prompt {
                let mut h = blake3::Hasher::new();
                h.update(&cfg.seed.to_le_bytes());
                h.update(&[wanted as u8]);
                h.update(&(index as u64).to_le_bytes());
                h.update(prompt.as_bytes());
                let seed =
                    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().unwrap_or_default());
                let list = if wanted { "want" } else { "avoid" };
                let file_name = format!("{list}-{}-{}-{index:03}.png", slug(prompt), &key[..8]);
                plans.push(SeedPlan { prompt: prompt.to_string(), wanted, index, seed, file_name });
            }
        }
    }
    Ok(plans)
}

/// A short file-name-safe form of a prompt: lowercase ASCII words joined by dashes.
fn slug(prompt: &str) -> String {
    let mut s = String::new();
    for word in prompt.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if s.len() + word.len() > 40 {
            break;
        }
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&word.to_ascii_lowercase());
    }
    if s.is_empty() { "prompt".to_string() } else { s }
}

/// The image parameters `[seed]` asks for with `model`'s defaults filled in.
pub fn params_for(cfg: &SeedConfig, model: SdModel, seed: u64) -> GenerateParams {
    let size = if cfg.size == 0 { model.default_size() } else { cfg.size };
    GenerateParams {
        width: size,
        height: size,
        steps: if cfg.steps == 0 { model.default_steps() } else { cfg.steps },
        guidance: if cfg.guidance < 0.0 { model.default_guidance() } else { cfg.guidance },
        seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn cfg(want: &[&str], dont: &[&str], n: usize) -> SeedConfig {
        let mut c = Config::default().seed;
        c.want = want.iter().map(|s| s.to_string()).collect();
        c.dont_want = dont.iter().map(|s| s.to_string()).collect();
        c.images_per_prompt = n;
        c
    }

    #[test]
    fn plans_cover_both_lists_with_stable_distinct_seeds() {
        let c =
            cfg(&["two friends on a mountain", " ", "two friends on a mountain"], &["receipt"], 3);
        let plans = plan_seeds(&c).unwrap();
        assert_eq!(plans.len(), 6);
        assert!(plans[..3].iter().all(|p| p.wanted) && plans[3..].iter().all(|p| !p.wanted));
        let seeds: HashSet<u64> = plans.iter().map(|p| p.seed).collect();
        assert_eq!(seeds.len(), 6);
        assert_eq!(plans, plan_seeds(&c).unwrap(), "plans are deterministic");
        assert!(
            plans[0].file_name.starts_with("want-two-friends-on-a-mountain-"),
            "{}",
            plans[0].file_name
        );
        let mut other = c.clone();
        other.seed = 1;
        assert_ne!(plan_seeds(&other).unwrap()[0].seed, plans[0].seed);
    }

    #[test]
    fn the_same_prompt_in_both_lists_gets_separate_files() {
        let plans = plan_seeds(&cfg(&["dog"], &["dog"], 1)).unwrap();
        assert_ne!(plans[0].file_name, plans[1].file_name);
    }

    /// Issue 31, item 10: 10,000 prompts x 10,000 images each (each within its own range)
    /// made `seed --dry-run` grow to 22.6 GB before it was killed.
    #[test]
    fn a_plan_too_large_as_a_whole_is_refused_before_it_is_built() {
        let prompts: Vec<String> = (0..10_000).map(|i| format!("prompt {i}")).collect();
        let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        let err = plan_seeds(&cfg(&refs, &[], 10_000)).unwrap_err().to_string();
        assert!(err.contains("100000000 images") && err.contains("at most 100000"), "{err}");
        // At the limit, the plan is built.
        assert_eq!(plan_seeds(&cfg(&refs[..10], &[], 10_000)).unwrap().len(), MAX_PLANNED_IMAGES);
        let long = "x ".repeat(MAX_PROMPT_CHARS);
        let err = plan_seeds(&cfg(&["fine"], &[&long], 1)).unwrap_err().to_string();
        assert!(err.contains("prompt #0 of `dont_want`"), "{err}");
    }

    #[test]
    fn model_defaults_fill_unset_parameters() {
        let c = cfg(&["x"], &[], 1);
        let p = params_for(&c, SdModel::SdTurbo, 7);
        assert_eq!((p.width, p.steps, p.guidance, p.seed), (512, 1, 0.0, 7));
        let p = params_for(&c, SdModel::Sd15, 7);
        assert_eq!((p.steps, p.guidance), (25, 7.5));
    }
}
