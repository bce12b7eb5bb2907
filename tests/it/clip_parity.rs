//! Parity with transformers' `CLIPModel`: tests/data/clip-parity/model is a CLIP ViT-B/32 with a
//! TINY config (widths, depths, a 96-pixel image, a few dozen BPE merges) and RANDOM weights,
//! written by transformers' `save_pretrained` (tools/make_clip_parity.py). photosift loads it
//! through its own loader, as `[embed] weights_dir` pointed at a downloaded model, and the
//! token ids must be equal, the image and text embeddings and the logits within 1e-4 of
//! transformers' (f32; relative to the largest value where that exceeds 1), and the logit
//! scale within 1e-5 relative. Run with `--nocapture` to see each error.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use photosift::model::clip::load::{Clip, ClipSource, locate};
use photosift::model::clip::tokenizer::ClipTokenizer;
use photosift::model::clip::{ClipConfig, l2_normalize};
use serde_json::Value;

const TOL: f32 = 1e-4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clip-parity")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
        .unwrap()
}

fn source(dir: &Path) -> ClipSource {
    ClipSource {
        repo: "openai/clip-vit-base-patch32".into(),
        revision: String::new(),
        weights_dir: dir.to_path_buf(),
        download: false,
    }
}

fn clip() -> Clip {
    let files =
        locate(&source(&fixture().join("model")), "the test", &|_| panic!("no download")).unwrap();
    Clip::load(&files).unwrap()
}

fn matrix(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect()
}

/// The largest difference, relative to the largest value where that exceeds 1.
fn error(ours: &[Vec<f32>], theirs: &[Vec<f32>]) -> f32 {
    assert_eq!(ours.len(), theirs.len());
    let mut err = 0f32;
    let mut scale = 1f32;
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            err = err.max((x - y).abs());
            scale = scale.max(y.abs());
        }
    }
    err / scale
}

/// tools/make_clip_parity.py's `test_pixels`, in f64 then f32 as there.
fn test_pixels(batch: usize, size: usize) -> Tensor {
    let mut v = Vec::with_capacity(batch * 3 * size * size);
    for b in 0..batch {
        for c in 0..3 {
            for y in 0..size {
                for x in 0..size {
                    let (b, c, y, x) = (b as f64, c as f64, y as f64, x as f64);
                    let p = 2.0
                        * (0.11 * (x + 1.0) * (c + 1.0) + 0.07 * (y + 1.0) * (b + 1.0)).sin()
                        + 0.3 * (0.05 * x * y + b).cos();
                    v.push(p as f32);
                }
            }
        }
    }
    Tensor::from_vec(v, (batch, 3, size, size), &Device::Cpu).unwrap()
}

#[test]
fn token_ids_match_transformers_with_punctuation_and_truncation() {
    let exp = expected();
    let clip = clip();
    // The folder has both forms of the tokenizer: tokenizer.json (read by the loader) and
    // vocab.json + merges.txt (what an SD tokenizer folder ships); both must agree.
    let dir = tempfile::tempdir().unwrap();
    for f in ["vocab.json", "merges.txt"] {
        std::fs::copy(fixture().join("model").join(f), dir.path().join(f)).unwrap();
    }
    let from_bpe = ClipTokenizer::from_folder(dir.path(), 77).unwrap();
    let prompts = exp["prompts"].as_array().unwrap();
    let tokens = exp["tokens"].as_array().unwrap();
    for (p, want) in prompts.iter().zip(tokens) {
        let p = p.as_str().unwrap();
        let want: Vec<u32> =
            want.as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as u32).collect();
        assert_eq!(clip.tokenizer().encode(p).unwrap(), want, "{p:?}");
        assert_eq!(from_bpe.encode(p).unwrap(), want, "{p:?} (vocab.json + merges.txt)");
    }
    let longest = tokens.last().unwrap().as_array().unwrap();
    assert_eq!(longest.len(), 77, "the last prompt is the truncated one");
}

#[test]
fn text_embeddings_match_transformers() {
    let exp = expected();
    let clip = clip();
    let prompts: Vec<String> =
        exp["prompts"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().into()).collect();
    let ours: Vec<Vec<f32>> = prompts
        .iter()
        .map(|p| {
            let ids = clip.tokenizer().encode(p).unwrap();
            let n = ids.len();
            let ids = Tensor::new(ids.as_slice(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            clip.model()
                .text_features(&ids, &[n - 1])
                .unwrap()
                .squeeze(0)
                .unwrap()
                .to_vec1()
                .unwrap()
        })
        .collect();
    let err = error(&ours, &matrix(&exp["text_embeds"]));
    println!("text embeddings: max error {err:.2e} (relative where > 1)");
    assert!(err < TOL, "{err}");
}

#[test]
fn image_embeddings_logit_scale_and_logits_match_transformers() {
    let exp = expected();
    let clip = clip();
    let batch = exp["batch"].as_u64().unwrap() as usize;
    let size = exp["image_size"].as_u64().unwrap() as usize;
    assert_eq!(clip.model().config().vision.image_size, size);
    let images = clip.model().image_features(&test_pixels(batch, size)).unwrap();
    let ours: Vec<Vec<f32>> = images.to_vec2().unwrap();
    let err = error(&ours, &matrix(&exp["image_embeds"]));
    println!("image embeddings: max error {err:.2e}");
    assert!(err < TOL, "{err}");

    let scale = exp["logit_scale"].as_f64().unwrap() as f32;
    let scale_err = (clip.model().logit_scale() - scale).abs() / scale;
    println!(
        "logit scale: {} vs {scale} (relative error {scale_err:.1e})",
        clip.model().logit_scale()
    );
    assert!(scale_err < 1e-5, "{scale_err}");

    // logits_per_image for prompts 0 and 1 (padded together in transformers, one by one here).
    let prompts: Vec<String> = exp["prompts"].as_array().unwrap()[..2]
        .iter()
        .map(|p| p.as_str().unwrap().into())
        .collect();
    let texts = clip.embed_prompts(&prompts).unwrap();
    let imgs: Vec<Vec<f32>> = l2_normalize(&images).unwrap().to_vec2().unwrap();
    let logits: Vec<Vec<f32>> = imgs
        .iter()
        .map(|i| {
            texts.iter().map(|t| scale * i.iter().zip(t).map(|(a, b)| a * b).sum::<f32>()).collect()
        })
        .collect();
    let err = error(&logits, &matrix(&exp["logits_per_image_prompts_0_1"]));
    println!("logits per image: max error {err:.2e}");
    assert!(err < TOL, "{err}");
}

#[test]
fn the_built_in_preset_is_openai_clip_vit_base_patch32() {
    let text = std::fs::read_to_string(fixture().join("full-size-config.json")).unwrap();
    let full = ClipConfig::from_hf(&serde_json::from_str(&text).unwrap()).unwrap();
    assert_eq!(full, ClipConfig::vit_b32());
}
