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

/// Every image `[seed]` asks for, in order: `want` prompts first. Blank and repeated prompts
/// are dropped.
pub fn plan_seeds(cfg: &SeedConfig) -> Vec<SeedPlan> {
    let mut plans = Vec::new();
    for (wanted, prompts) in [(true, &cfg.want), (false, &cfg.dont_want)] {
        let mut seen = HashSet::new();
        for prompt in prompts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            if !seen.insert(prompt.to_string()) {
                continue;
            }
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
    plans
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
        let plans = plan_seeds(&c);
        assert_eq!(plans.len(), 6);
        assert!(plans[..3].iter().all(|p| p.wanted) && plans[3..].iter().all(|p| !p.wanted));
        let seeds: HashSet<u64> = plans.iter().map(|p| p.seed).collect();
        assert_eq!(seeds.len(), 6);
        assert_eq!(plans, plan_seeds(&c), "plans are deterministic");
        assert!(
            plans[0].file_name.starts_with("want-two-friends-on-a-mountain-"),
            "{}",
            plans[0].file_name
        );
        let mut other = c.clone();
        other.seed = 1;
        assert_ne!(plan_seeds(&other)[0].seed, plans[0].seed);
    }

    #[test]
    fn the_same_prompt_in_both_lists_gets_separate_files() {
        let plans = plan_seeds(&cfg(&["dog"], &["dog"], 1));
        assert_ne!(plans[0].file_name, plans[1].file_name);
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
