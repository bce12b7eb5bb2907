//! Parity with diffusers/transformers: tests/data/sd-parity/model is a diffusers folder of
//! TINY networks with RANDOM weights and SD 2.1 / sd-turbo's architecture options, made by
//! tools/make_sd_parity.py with diffusers and transformers themselves (save_pretrained:
//! diffusers' file names, config.json files, safetensors; the tokenizer as SD repositories ship
//! it, vocab.json + merges.txt). photosift loads it through its own loader, as `[seed]
//! weights_dir` pointed at a downloaded model, and every component and the whole pipeline
//! must match the outputs diffusers recorded in expected.safetensors to 1e-4 (f32; relative to
//! the tensor's largest value where that exceeds 1). Run with `--nocapture` to see each error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use photosift::hub::WeightSources;
use photosift::synth::loader::{load_pipeline, locate};
use photosift::synth::scheduler::{EulerConfig, Prediction, Spacing};
use photosift::synth::{DecoderKind, Pipeline, SdArch, SdModel, WeightNames};

const TOL: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sd-parity")
}

fn expected() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture().join("expected.safetensors"), &Device::Cpu).unwrap()
}

fn prompts() -> Vec<String> {
    let text = std::fs::read_to_string(fixture().join("expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

fn sources(dir: &Path) -> WeightSources {
    WeightSources { local_dir: dir.to_path_buf(), download: false }
}

fn pipeline(decoder: DecoderKind) -> Pipeline {
    let names = WeightNames::defaults(SdModel::SdTurbo);
    load_pipeline(
        SdModel::SdTurbo,
        decoder,
        &names,
        &sources(&fixture().join("model")),
        &Device::Cpu,
        DType::F32,
        &|_| {},
    )
    .unwrap()
}

/// Asserts `ours` matches `theirs` and prints the error for the report.
fn close(what: &str, ours: &Tensor, theirs: &Tensor) {
    assert_eq!(ours.dims(), theirs.dims(), "{what}: shapes");
    let ours = ours.to_dtype(DType::F32).unwrap();
    let theirs = theirs.to_dtype(DType::F32).unwrap();
    let err: f32 =
        (&ours - &theirs).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    let scale: f32 = theirs.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    let tol = TOL * scale.max(1.0);
    eprintln!(
        "parity {what:<28} max abs error {err:.2e} (largest value {scale:.3}, tolerance {tol:.1e})"
    );
    assert!(err <= tol, "{what}: max abs error {err} > {tol}");
}

#[test]
fn parity_tokenizer_from_vocab_and_merges_matches_transformers() {
    let pipe = pipeline(DecoderKind::Taesd);
    let exp = expected();
    for (i, prompt) in prompts().iter().enumerate() {
        let want: Vec<i64> = exp[&format!("tokens.{i}")].get(0).unwrap().to_vec1().unwrap();
        let got: Vec<i64> = pipe.tokenize(prompt).unwrap().iter().map(|&t| t as i64).collect();
        assert_eq!(got, want, "prompt {prompt:?}");
    }
    eprintln!("parity tokens: {} prompts identical", prompts().len());
}

#[test]
fn parity_text_encoder_matches_transformers_clip() {
    let pipe = pipeline(DecoderKind::Taesd);
    let exp = expected();
    let p = prompts();
    close("text encoder (prompt)", &pipe.encode_prompt(&p[0]).unwrap(), &exp["text.cond"]);
    close("text encoder (\"\")", &pipe.encode_prompt("").unwrap(), &exp["text.uncond"]);
    let long = p.last().unwrap();
    close("text encoder (truncated)", &pipe.encode_prompt(long).unwrap(), &exp["text.truncated"]);
}

#[test]
fn parity_unet_matches_diffusers() {
    let pipe = pipeline(DecoderKind::Taesd);
    let exp = expected();
    for t in [999, 321] {
        let out = pipe.unet_forward(&exp["unet.sample"], t as f64, &exp["unet.context"]).unwrap();
        close(&format!("UNet t={t}"), &out, &exp[&format!("unet.out.{t}")]);
    }
}

fn check_scheduler(name: &str, cfg: EulerConfig, exp: &HashMap<String, Tensor>) {
    for steps in [1, 2, 4, 25] {
        let s = cfg.build(steps);
        let key = |k: &str| format!("sched.{name}.{steps}.{k}");
        let ts: Vec<f64> = exp[&key("timesteps")].to_vec1().unwrap();
        let ours: Vec<f64> = s.timesteps().iter().map(|&t| t as f64).collect();
        assert_eq!(ours, ts, "{name} {steps} steps: timesteps");
        let sig = Tensor::new(s.sigmas(), &Device::Cpu).unwrap();
        close(&format!("sigmas {name} {steps} steps"), &sig, &exp[&key("sigmas")]);
        let init = Tensor::new(&[s.init_noise_sigma()], &Device::Cpu).unwrap();
        close(&format!("init sigma {name} {steps}"), &init, &exp[&key("init_sigma")]);
    }
    let s = cfg.build(4);
    let x = &exp[&format!("sched.{name}.step.sample")];
    let eps = &exp[&format!("sched.{name}.step.model_output")];
    close(
        &format!("scale_model_input {name}"),
        &s.scale_model_input(x, 0).unwrap(),
        &exp[&format!("sched.{name}.step.scaled")],
    );
    close(
        &format!("euler step {name}"),
        &s.step(eps, 0, x).unwrap(),
        &exp[&format!("sched.{name}.step.out")],
    );
}

#[test]
fn parity_scheduler_matches_diffusers_euler_with_sd_turbo_config() {
    let pipe = pipeline(DecoderKind::Taesd);
    let exp = expected();
    let turbo = pipe.arch().scheduler;
    assert_eq!(turbo.spacing, Spacing::Trailing, "read from scheduler_config.json");
    check_scheduler("turbo", turbo, &exp);
    // SD 2.1's settings: leading spacing, v-prediction.
    let sd21 =
        EulerConfig { spacing: Spacing::Leading, prediction: Prediction::VPrediction, ..turbo };
    check_scheduler("sd21", sd21, &exp);
}

#[test]
fn parity_decoders_match_autoencoder_tiny_and_kl() {
    let exp = expected();
    let z = &exp["decode.latents"];
    close("TAESD decode", &pipeline(DecoderKind::Taesd).decode_raw(z).unwrap(), &exp["taesd.out"]);
    close("VAE decode", &pipeline(DecoderKind::Vae).decode_raw(z).unwrap(), &exp["vae.out"]);
}

#[test]
fn parity_whole_pipeline_from_the_same_initial_latents() {
    let exp = expected();
    let prompt = &prompts()[0];
    let noise = &exp["pipe.noise"];
    let vae = pipeline(DecoderKind::Vae);
    let run = |pipe: &Pipeline, steps, guidance| {
        pipe.sample_latents(prompt, noise, steps, guidance, &mut |_| {}, &|| false)
            .unwrap()
            .unwrap()
    };
    // sd-turbo: one step, no guidance.
    let latents = run(&vae, 1, 0.0);
    close("pipeline 1 step latents", &latents, &exp["pipe.turbo.latents"]);
    let image = vae.decode_raw(&latents).unwrap().clamp(0f32, 1f32).unwrap();
    close("pipeline 1 step image (VAE)", &image, &exp["pipe.turbo.vae"]);
    let taesd = pipeline(DecoderKind::Taesd);
    let image = taesd.decode_raw(&run(&taesd, 1, 0.0)).unwrap().clamp(0f32, 1f32).unwrap();
    close("pipeline 1 step image (TAESD)", &image, &exp["pipe.turbo.taesd"]);
    // Two steps with classifier-free guidance.
    let latents = run(&vae, 2, 3.0);
    close("pipeline 2 guided latents", &latents, &exp["pipe.guided.latents"]);
    let image = vae.decode_raw(&latents).unwrap().clamp(0f32, 1f32).unwrap();
    close("pipeline 2 guided image (VAE)", &image, &exp["pipe.guided.vae"]);
}

#[test]
fn full_size_configs_read_as_photosifts_sd2_presets() {
    // config.json files diffusers/transformers write for SD 2.1's real sizes (made on the meta
    // device by the same script): read from a folder, they must give the built-in presets.
    let folder =
        photosift::synth::diffusers::DiffusersFolder::open(&fixture().join("full-size-configs"))
            .unwrap();
    let mut base = SdArch::tiny(10);
    base.clip.pad_with = Some("!".to_string());
    let read = folder.arch(base).unwrap();
    let preset = SdModel::SdTurbo.arch();
    assert_eq!(read.clip, preset.clip);
    assert_eq!(format!("{:?}", read.unet), format!("{:?}", preset.unet));
    assert_eq!(format!("{:?}", read.vae), format!("{:?}", preset.vae));
    assert_eq!(read.taesd, preset.taesd);
    assert_eq!(read.scheduler, preset.scheduler);
    assert_eq!((read.vae_scale, read.downscale), (preset.vae_scale, preset.downscale));
}

#[test]
fn model_folder_under_weights_dir_by_repo_name_and_missing_taesd_named() {
    // `huggingface-cli download stabilityai/sd-turbo --local-dir <weights_dir>/stabilityai/
    // sd-turbo`, without TAESD: the model's parts come from the folder, and the one missing
    // file is named with where to get it.
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("stabilityai/sd-turbo");
    copy_dir(&fixture().join("model"), &repo);
    std::fs::remove_dir_all(repo.join("taesd")).unwrap();
    let names = WeightNames::defaults(SdModel::SdTurbo);
    // An empty hub cache, so that a developer's real one does not answer.
    crate::empty_hf_home();
    let located =
        locate(SdModel::SdTurbo, DecoderKind::Vae, &names, &sources(dir.path()), &|_| {}).unwrap();
    assert_eq!(located.folder.as_deref(), Some(repo.as_path()));
    assert!(located.weights[2].ends_with("vae/diffusion_pytorch_model.safetensors"));
    let err =
        match locate(SdModel::SdTurbo, DecoderKind::Taesd, &names, &sources(dir.path()), &|_| {}) {
            Ok(_) => panic!("TAESD is not there"),
            Err(e) => e.to_string(),
        };
    assert!(err.contains("madebyollin/taesd"), "{err}");
    assert!(!err.contains("unet/"), "the folder's UNet was found: {err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}
