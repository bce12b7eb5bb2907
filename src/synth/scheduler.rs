//! The Euler discrete sampler (Karras et al. 2022, "Elucidating the Design Space of Diffusion-
//! Based Generative Models", Algorithm 2 without churn), as diffusers' `EulerDiscreteScheduler`.
//!
//! sd-turbo needs it with *trailing* timestep spacing (Lin et al. 2023, "Common Diffusion Noise
//! Schedules and Sample Steps are Flawed", table 2) so that one step starts from t = 999, the
//! pure-noise end of the schedule; candle ships Euler only in its ancestral (noise-adding) form.

use candle_core::{Result, Tensor};

/// How the inference timesteps are spread over the training schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spacing {
    /// `t = (i * T/n)` rounded down, plus `steps_offset`: SD 1.x/2.x default.
    Leading,
    /// `t = round(T - i * T/n) - 1`: always starts at T - 1 (sd-turbo, SDXL-turbo).
    Trailing,
}

/// What the UNet predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// The added noise (SD 1.5, sd-turbo).
    Epsilon,
    /// The velocity `v = alpha * eps - sigma * x0` (SD 2.1 at 768 px).
    VPrediction,
}

/// Scheduler settings; the defaults are those of SD 1.x/2.x and sd-turbo
/// (scaled-linear betas from 0.00085 to 0.012 over 1000 steps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EulerConfig {
    pub train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub spacing: Spacing,
    pub prediction: Prediction,
    /// Added to leading timesteps (SD's configs use 1).
    pub steps_offset: usize,
}

impl Default for EulerConfig {
    fn default() -> Self {
        Self {
            train_timesteps: 1000,
            beta_start: 0.00085,
            beta_end: 0.012,
            spacing: Spacing::Leading,
            prediction: Prediction::Epsilon,
            steps_offset: 1,
        }
    }
}

impl EulerConfig {
    /// sd-turbo's `scheduler_config.json`: Euler, trailing spacing, epsilon prediction (its
    /// `steps_offset = 1` only matters to leading spacing).
    pub fn sd_turbo() -> Self {
        Self { spacing: Spacing::Trailing, ..Self::default() }
    }

    pub fn build(&self, steps: usize) -> EulerScheduler {
        EulerScheduler::new(*self, steps)
    }
}

/// The inference timesteps for `steps` steps over `cfg.train_timesteps`, first (noisiest) first.
pub fn timesteps(cfg: &EulerConfig, steps: usize) -> Vec<usize> {
    let steps = steps.clamp(1, cfg.train_timesteps);
    let t = cfg.train_timesteps;
    match cfg.spacing {
        Spacing::Leading => {
            let ratio = t / steps;
            (0..steps).rev().map(|i| (i * ratio + cfg.steps_offset).min(t - 1)).collect()
        }
        Spacing::Trailing => {
            let ratio = t as f64 / steps as f64;
            (0..steps)
                .map(|i| ((t as f64 - i as f64 * ratio).round() as usize).saturating_sub(1))
                .collect()
        }
    }
}

/// `alpha_bar(t)`, the cumulative product of `1 - beta` for the scaled-linear schedule.
fn alphas_cumprod(cfg: &EulerConfig) -> Vec<f64> {
    let n = cfg.train_timesteps;
    let (a, b) = (cfg.beta_start.sqrt(), cfg.beta_end.sqrt());
    let mut acc = 1.0;
    (0..n)
        .map(|i| {
            let frac = if n > 1 { i as f64 / (n - 1) as f64 } else { 0.0 };
            let beta = (a + (b - a) * frac).powi(2);
            acc *= 1.0 - beta;
            acc
        })
        .collect()
}

/// One sampling run: the timesteps and their noise levels `sigma = sqrt((1 - a) / a)`.
#[derive(Debug, Clone)]
pub struct EulerScheduler {
    cfg: EulerConfig,
    timesteps: Vec<usize>,
    /// One per timestep, then a final 0.
    sigmas: Vec<f64>,
}

impl EulerScheduler {
    pub fn new(cfg: EulerConfig, steps: usize) -> Self {
        let acp = alphas_cumprod(&cfg);
        let timesteps = timesteps(&cfg, steps);
        let mut sigmas: Vec<f64> =
            timesteps.iter().map(|&t| ((1.0 - acp[t]) / acp[t]).sqrt()).collect();
        sigmas.push(0.0);
        Self { cfg, timesteps, sigmas }
    }

    pub fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    pub fn sigmas(&self) -> &[f64] {
        &self.sigmas
    }

    /// What the unit-variance starting noise is multiplied by. Trailing spacing starts exactly
    /// at the largest sigma (as diffusers does); leading adds the unit variance of the image.
    pub fn init_noise_sigma(&self) -> f64 {
        let max = self.sigmas.iter().copied().fold(0.0, f64::max);
        match self.cfg.spacing {
            Spacing::Trailing => max,
            Spacing::Leading => (max * max + 1.0).sqrt(),
        }
    }

    /// The UNet sees `x / sqrt(sigma^2 + 1)` at step `i`.
    pub fn scale_model_input(&self, sample: &Tensor, i: usize) -> Result<Tensor> {
        let sigma = self.sigmas[i];
        sample / (sigma * sigma + 1.0).sqrt()
    }

    /// One Euler step from step `i` to `i + 1`: `x + (sigma_next - sigma) * d`, with
    /// `d = (x - x0) / sigma` and `x0` the model's denoised estimate.
    pub fn step(&self, model_output: &Tensor, i: usize, sample: &Tensor) -> Result<Tensor> {
        let sigma = self.sigmas[i];
        let sigma_next = self.sigmas[i + 1];
        let x0 = match self.cfg.prediction {
            Prediction::Epsilon => (sample - (model_output * sigma)?)?,
            Prediction::VPrediction => {
                let c = sigma * sigma + 1.0;
                ((model_output * (-sigma / c.sqrt()))? + (sample / c)?)?
            }
        };
        let derivative = ((sample - x0)? / sigma)?;
        sample + (derivative * (sigma_next - sigma))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn trailing_timesteps_start_at_the_pure_noise_end() {
        let cfg = EulerConfig::sd_turbo();
        assert_eq!(timesteps(&cfg, 1), vec![999]);
        assert_eq!(timesteps(&cfg, 2), vec![999, 499]);
        assert_eq!(timesteps(&cfg, 4), vec![999, 749, 499, 249]);
    }

    #[test]
    fn leading_timesteps_match_diffusers() {
        let cfg = EulerConfig::default();
        assert_eq!(timesteps(&cfg, 4), vec![751, 501, 251, 1]);
        assert_eq!(timesteps(&cfg, 1), vec![1]);
    }

    #[test]
    fn sigmas_follow_the_scaled_linear_schedule() {
        let s = EulerConfig::sd_turbo().build(1);
        // diffusers: EulerDiscreteScheduler(sd-turbo).sigmas at t=999 is 14.6146.
        assert!((s.sigmas()[0] - 14.6146).abs() < 1e-3, "{:?}", s.sigmas());
        assert_eq!(s.sigmas()[1], 0.0);
        assert!((s.init_noise_sigma() - s.sigmas()[0]).abs() < 1e-12);
        let leading = EulerConfig::default().build(4);
        let max = leading.sigmas()[0];
        assert!((leading.init_noise_sigma() - (max * max + 1.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn one_epsilon_step_to_sigma_zero_returns_the_denoised_estimate() {
        let s = EulerConfig::sd_turbo().build(1);
        let sigma = s.sigmas()[0] as f32;
        let dev = Device::Cpu;
        let x = Tensor::new(&[2.0f32, -1.0, 0.5], &dev).unwrap();
        let eps = Tensor::new(&[0.1f32, 0.2, -0.3], &dev).unwrap();
        let out: Vec<f32> = s.step(&eps, 0, &x).unwrap().to_vec1().unwrap();
        let want = [2.0 - sigma * 0.1, -1.0 - sigma * 0.2, 0.5 + sigma * 0.3];
        for (o, w) in out.iter().zip(want) {
            assert!((o - w).abs() < 1e-4, "{out:?} vs {want:?}");
        }
    }

    #[test]
    fn euler_step_moves_along_the_derivative() {
        // Two steps: from sigma0 to sigma1, x1 = x + (sigma1 - sigma0) * eps.
        let s = EulerConfig::sd_turbo().build(2);
        let (s0, s1) = (s.sigmas()[0], s.sigmas()[1]);
        let dev = Device::Cpu;
        let x = Tensor::new(&[1.0f32], &dev).unwrap();
        let eps = Tensor::new(&[0.5f32], &dev).unwrap();
        let out: Vec<f32> = s.step(&eps, 0, &x).unwrap().to_vec1().unwrap();
        assert!((out[0] as f64 - (1.0 + (s1 - s0) * 0.5)).abs() < 1e-4, "{out:?}");
        let scaled: Vec<f32> = s.scale_model_input(&x, 0).unwrap().to_vec1().unwrap();
        assert!((scaled[0] as f64 - 1.0 / (s0 * s0 + 1.0).sqrt()).abs() < 1e-6);
    }

    #[test]
    fn v_prediction_recovers_x0() {
        // With x = x0 + sigma * eps (in the sigma parametrisation) and v built from them,
        // a step to sigma 0 must land on x0.
        let s =
            EulerConfig { prediction: Prediction::VPrediction, ..EulerConfig::sd_turbo() }.build(1);
        let sigma = s.sigmas()[0];
        let (x0, eps) = (0.7f64, -0.4f64);
        let alpha = 1.0 / (sigma * sigma + 1.0).sqrt();
        let sig = sigma * alpha;
        let v = alpha * eps - sig * x0;
        let x = x0 + sigma * eps;
        let dev = Device::Cpu;
        let out: Vec<f32> = s
            .step(
                &Tensor::new(&[v as f32], &dev).unwrap(),
                0,
                &Tensor::new(&[x as f32], &dev).unwrap(),
            )
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!((out[0] as f64 - x0).abs() < 1e-3, "{out:?}");
    }
}
