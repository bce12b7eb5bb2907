//! Seconds per seed image by stage for the REAL sd-turbo / SD 2.1 architectures with random
//! weights (no download): text encoder, one UNet step, TAESD decode, full VAE decode, at each
//! requested size. Timings only: random weights make noise, but the same arithmetic.
//!
//! ```text
//! cargo run --release --example bench_seed -- [--sizes 512,256] [--reps 1] [--no-vae]
//! ```
//! Prints a markdown table (see docs/bench-seed.md).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use photosift::synth::scheduler::EulerConfig;
use photosift::synth::tiny::tiny_tokenizer;
use photosift::synth::{DecoderKind, GenerateParams, Pipeline, SdArch};

struct Args {
    sizes: Vec<usize>,
    reps: usize,
    vae: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { sizes: vec![512, 256], reps: 1, vae: true };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().context("--sizes needs a value")?;
                args.sizes = v.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?;
            }
            "--reps" => args.reps = it.next().context("--reps needs a value")?.parse()?,
            "--no-vae" => args.vae = false,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// Median of `reps` timings of `f`, in seconds.
fn time<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<f64> {
    let mut t = Vec::new();
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        std::hint::black_box(f()?);
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let dev = Device::Cpu;
    let mut arch = SdArch::sd2(EulerConfig::sd_turbo());
    // The real text encoder has 49408 tokens; the tiny tokenizer's ids are a subset of them.
    arch.clip.vocab_size = 49408;
    let tokenizer = tiny_tokenizer()?;
    let t0 = Instant::now();
    let (clip, unet, taesd, vae) = (VarMap::new(), VarMap::new(), VarMap::new(), VarMap::new());
    let vb = |m: &VarMap| VarBuilder::from_varmap(m, DType::F32, &dev);
    let with_taesd = Pipeline::new(
        arch.clone(),
        tokenizer.clone(),
        vb(&clip),
        vb(&unet),
        DecoderKind::Taesd,
        vb(&taesd),
    )?;
    // Same text encoder and UNet weights (shared tensors), the full VAE as decoder.
    let with_vae = if args.vae {
        Some(Pipeline::new(arch, tokenizer, vb(&clip), vb(&unet), DecoderKind::Vae, vb(&vae))?)
    } else {
        None
    };
    eprintln!("random weights initialised in {:.1}s", t0.elapsed().as_secs_f64());
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "sd-turbo architecture (SD 2.1 UNet/VAE/OpenCLIP-H), random f32 weights, CPU, {threads} \
         threads, median of {} run(s)\n",
        args.reps
    );
    println!(
        "| size | text encoder s | UNet step s | TAESD decode s | VAE decode s | image, 1 step + TAESD s | image, 1 step + VAE s | VAE / TAESD |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let never = AtomicBool::new(false);
    for &size in &args.sizes {
        let p = GenerateParams { width: size, height: size, steps: 1, guidance: 0.0, seed: 1 };
        let t_clip =
            time(args.reps, || Ok(with_taesd.encode_prompt("two friends on a mountain")?))?;
        let cond = with_taesd.encode_prompt("two friends on a mountain")?;
        let sched = EulerConfig::sd_turbo().build(1);
        let noise = (with_taesd.initial_noise(&p)? * sched.init_noise_sigma())?;
        let t_unet =
            time(args.reps, || Ok(with_taesd.denoise_step(&sched, 0, &noise, &cond, None, 0.0)?))?;
        let latents = with_taesd.denoise_step(&sched, 0, &noise, &cond, None, 0.0)?;
        let t_taesd = time(args.reps, || Ok(with_taesd.decode(&latents)?))?;
        let t_vae = match &with_vae {
            Some(v) => Some(time(args.reps, || Ok(v.decode(&latents)?))?),
            None => None,
        };
        // The whole pipeline once, as `photosift seed` runs it, to check the stage sum.
        let t_all = time(1, || Ok(with_taesd.generate("two friends", &p, &mut |_| {}, &never)?))?;
        let fmt = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
        println!(
            "| {size} | {t_clip:.2} | {t_unet:.2} | {t_taesd:.2} | {} | {:.2} (whole pipeline: {t_all:.2}) | {} | {} |",
            fmt(t_vae),
            t_clip + t_unet + t_taesd,
            fmt(t_vae.map(|v| t_clip + t_unet + v)),
            t_vae.map(|v| format!("{:.0}x", v / t_taesd)).unwrap_or_else(|| "-".into()),
        );
    }
    Ok(())
}
