//! CLIP ViT-B/32 image embedding throughput on the CPU, beside PyTorch eager and onnxruntime
//! (`scripts/bench-clip.sh` runs all three on the same random-weight model in one run).
//!
//!     cargo run --release --example bench_clip -- --model DIR [--batches 1,8,32]
//!         [--iters 10] [--json out.json]
//!
//! `DIR` holds `config.json` and `model.safetensors` of a `CLIPModel` (written by
//! `scripts/bench_clip_peers.py --make`). Times `ClipModel::image_features` (image tower and
//! projection) on random 224² inputs: median wall time per batch over `--iters` batches after
//! one warm-up, and CPU seconds per image (all threads).

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use photosift::model::clip::{ClipConfig, ClipModel};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds this process used so far, all threads (user + system, from /proc).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    if f.len() < 13 { f64::NAN } else { (f[10] + f[11]) / 100.0 }
}

fn main() -> Result<()> {
    let (mut model_dir, mut batches, mut iters, mut json) =
        (None::<PathBuf>, vec![1usize, 8, 32], 10usize, None::<String>);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--model" => model_dir = Some(val()?.into()),
            "--batches" => batches = val()?.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--iters" => iters = val()?.parse()?,
            "--json" => json = Some(val()?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let dir = model_dir.context("--model DIR is required")?;
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json"))?)?;
    let config = ClipConfig::from_hf(&config).map_err(anyhow::Error::msg)?;
    let device = Device::Cpu;
    // SAFETY: a benchmark's own read-only file.
    let vb = unsafe {
        VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &device)?
    };
    let model = ClipModel::new(&config, vb)?;
    let s = config.vision.image_size;
    let mut rows = Vec::new();
    for &b in &batches {
        let x = Tensor::randn(0f32, 1.0, (b, 3, s, s), &device)?;
        model.image_features(&x)?;
        let mut ts = Vec::with_capacity(iters);
        let cpu0 = cpu_seconds();
        for _ in 0..iters {
            let t = Instant::now();
            let y = model.image_features(&x)?;
            y.to_vec2::<f32>()?;
            ts.push(t.elapsed().as_secs_f64());
        }
        let cpu = (cpu_seconds() - cpu0) / (iters * b) as f64;
        let img_s = b as f64 / median(ts);
        println!(
            "photosift candle CLIP ViT-B/32  batch {b:>2}: {img_s:7.1} img/s, {:.1} CPU ms/img",
            cpu * 1e3
        );
        rows.push(serde_json::json!({"name": "photosift (candle)", "batch": b,
                                     "img_per_s_median": img_s, "cpu_s_per_img": cpu}));
    }
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}
