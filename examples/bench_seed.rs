//! Seconds per seed image by stage for the REAL sd-turbo / SD 2.1 architectures with random
//! weights (no download): text encoder, one UNet step, TAESD decode, full VAE decode, at each
//! requested size. Timings only: random weights make noise, but the same arithmetic.
//!
//! ```text
//! cargo run --release --example bench_seed -- [--sizes 256,512] [--reps 1] [--no-vae]
//! cargo run --release --example bench_seed -- --decoder-only [--sizes 256,512] [--reps 3]
//! ```
//! `--decoder-only` times just TAESD, and its 3x3 convolution (photosift's shifted-GEMM
//! `Conv3x3`) against candle's `conv2d` on the same input: the peer, side by side.
//! Prints a markdown table (see docs/bench-seed.md).

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::stable_diffusion::vae::AutoEncoderKL;
use photosift::synth::scheduler::EulerConfig;
use photosift::synth::taesd::{Conv3x3, TaesdConfig, TaesdDecoder};
use photosift::synth::tiny::{random_weights, tiny_tokenizer};
use photosift::synth::{DecoderKind, GenerateParams, Pipeline, SdArch};

struct Args {
    sizes: Vec<usize>,
    reps: usize,
    vae: bool,
    decoder_only: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args { sizes: vec![256, 512], reps: 1, vae: true, decoder_only: false };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--sizes" => {
                let v = it.next().context("--sizes needs a value")?;
                args.sizes = v.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?;
            }
            "--reps" => args.reps = it.next().context("--reps needs a value")?.parse()?,
            "--no-vae" => args.vae = false,
            "--decoder-only" => args.decoder_only = true,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// This process's CPU time (user + system) in seconds, from /proc/self/stat (Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // utime and stime are fields 14 and 15; after the ")" closing the command name the fields
    // start at 3, so they are at indices 11 and 12. Clock ticks are 100 per second on Linux.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall and CPU seconds of one stage: medians of `reps` runs.
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

impl Timing {
    /// What the stage would take on an idle machine with `threads` cores: CPU time spread over
    /// the cores, or the wall time if that is shorter.
    fn idle_estimate(&self, threads: usize) -> f64 {
        (self.cpu / threads as f64).min(self.wall)
    }
}

fn time<T>(reps: usize, mut f: impl FnMut() -> Result<T>) -> Result<Timing> {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..reps.max(1) {
        let (start, c0) = (Instant::now(), cpu_seconds());
        std::hint::black_box(f()?);
        wall.push(start.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c0);
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    Ok(Timing { wall: wall[wall.len() / 2], cpu: cpu[cpu.len() / 2] })
}

/// Peak resident memory of this process so far, in GiB (VmHWM in /proc/self/status).
fn peak_rss_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / (1024.0 * 1024.0))
        .unwrap_or(f64::NAN)
}

fn row(size: usize, stage: &str, t: Timing, threads: usize) {
    println!(
        "| {size} | {stage} | {:.2} | {:.2} | {:.2} |",
        t.wall,
        t.cpu,
        t.idle_estimate(threads)
    );
}

/// TAESD alone, and its dominant layer (64 -> 64 channels, 3x3, at the output resolution)
/// with photosift's `Conv3x3` and with candle's `conv2d`, on the same weights and input.
fn decoder_only(args: &Args, threads: usize) -> Result<()> {
    let dev = Device::Cpu;
    let taesd = TaesdDecoder::new(&TaesdConfig::sd(), random_weights(DType::F32, &dev))?;
    let weight = (Tensor::randn(0f32, 1.0, (64, 64, 3, 3), &dev)? / 24.0)?;
    let bias = Tensor::randn(0f32, 0.1, 64, &dev)?;
    let tensors = [("weight".to_string(), weight.clone()), ("bias".to_string(), bias.clone())];
    let vb = VarBuilder::from_tensors(tensors.into_iter().collect(), DType::F32, &dev);
    let ours = Conv3x3::new(64, 64, true, vb)?;
    let peer = candle_nn::Conv2d::new(
        weight,
        Some(bias),
        candle_nn::Conv2dConfig { padding: 1, ..Default::default() },
    );
    println!(
        "TAESD decoder, random f32 weights, CPU, {threads} threads, median of {} run(s)\n",
        args.reps
    );
    println!(
        "| size | stage | wall s | CPU s | idle {threads}-core estimate s |\n|---|---|---|---|---|"
    );
    let mut ratios = Vec::new();
    for &size in &args.sizes {
        let z = Tensor::randn(0f32, 1.0, (1, 4, size / 8, size / 8), &dev)?;
        let t = time(args.reps, || Ok(taesd.decode(&z)?))?;
        row(size, "TAESD decode (photosift Conv3x3)", t, threads);
        eprintln!("peak memory after TAESD at {size}: {:.2} GiB", peak_rss_gib());
        let x = Tensor::randn(0f32, 1.0, (1, 64, size, size), &dev)?;
        let a = time(args.reps, || Ok(ours.forward(&x)?))?;
        let b = time(args.reps, || Ok(peer.forward(&x)?))?;
        row(size, "one 64->64 3x3 conv, photosift Conv3x3", a, threads);
        row(size, "one 64->64 3x3 conv, candle conv2d (peer)", b, threads);
        eprintln!("peak memory after the convs at {size}: {:.2} GiB", peak_rss_gib());
        ratios.push((size, b.cpu / a.cpu, b.wall / a.wall));
    }
    println!("\n| size | conv: candle CPU time / photosift CPU time | wall ratio |\n|---|---|---|");
    for (size, cpu, wall) in ratios {
        println!("| {size} | {cpu:.2}x | {wall:.2}x |");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let dev = Device::Cpu;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if args.decoder_only {
        return decoder_only(&args, threads);
    }
    let mut arch = SdArch::sd2(EulerConfig::sd_turbo());
    // The real text encoder has 49408 tokens; the tiny tokenizer's ids are a subset of them.
    arch.clip.vocab_size = 49408;
    println!(
        "sd-turbo architecture (SD 2.1 UNet/VAE/OpenCLIP-H), random f32 weights, CPU, {threads} \
         threads, median of {} run(s)\n",
        args.reps
    );
    println!(
        "| size | stage | wall s | CPU s | idle {threads}-core estimate s |\n|---|---|---|---|---|"
    );

    // Phase 1: text encoder, UNet and TAESD. The latents are kept for the VAE phase, which
    // runs after the UNet is freed: the full VAE at 512 px needs several GB for activations.
    let t0 = Instant::now();
    let mut results = Vec::new();
    {
        let vb = random_weights(DType::F32, &dev);
        let pipe = Pipeline::new(
            arch.clone(),
            tiny_tokenizer()?,
            vb.clone(),
            vb.clone(),
            DecoderKind::Taesd,
            vb,
        )?;
        eprintln!("random weights initialised in {:.1}s", t0.elapsed().as_secs_f64());
        for &size in &args.sizes {
            let p = GenerateParams { width: size, height: size, steps: 1, guidance: 0.0, seed: 1 };
            let prompt = "two friends on a mountain";
            let t_clip = time(args.reps, || Ok(pipe.encode_prompt(prompt)?))?;
            let cond = pipe.encode_prompt(prompt)?;
            let sched = EulerConfig::sd_turbo().build(1);
            let noise = (pipe.initial_noise(&p)? * sched.init_noise_sigma())?;
            let t_unet =
                time(args.reps, || Ok(pipe.denoise_step(&sched, 0, &noise, &cond, None, 0.0)?))?;
            let latents = pipe.denoise_step(&sched, 0, &noise, &cond, None, 0.0)?;
            let t_taesd = time(args.reps, || Ok(pipe.decode(&latents)?))?;
            // The whole pipeline once, as `photosift seed` runs it, to check the stage sum.
            let t_all = time(1, || Ok(pipe.generate(prompt, &p, &mut |_| {}, &|| false)?))?;
            row(size, "text encoder (CLIP)", t_clip, threads);
            row(size, "one UNet step", t_unet, threads);
            row(size, "TAESD decode", t_taesd, threads);
            row(size, "whole image, 1 step + TAESD, end to end", t_all, threads);
            results.push((size, t_clip, t_unet, t_taesd, t_all, latents));
        }
    }
    let peak_unet = peak_rss_gib();

    // Phase 2: the full VAE decoder on the same latents.
    let mut vae_times = Vec::new();
    if args.vae {
        let vae = AutoEncoderKL::new(random_weights(DType::F32, &dev), 3, 3, arch.vae.clone())?;
        for (size, .., latents) in &results {
            let t = time(args.reps, || {
                let x = vae.decode(&(latents / arch.vae_scale)?)?;
                Ok(((x / 2.0)? + 0.5)?.clamp(0f32, 1f32)?)
            })?;
            row(*size, "full VAE decode", t, threads);
            vae_times.push(t);
        }
    }
    let peak_all = peak_rss_gib();

    println!(
        "\n| size | 1 step + TAESD, idle estimate s | 1 step + VAE, idle estimate s | VAE / TAESD decode (CPU time) |\n|---|---|---|---|"
    );
    for (i, (size, c, u, t, all, _)) in results.iter().enumerate() {
        let e = |x: &Timing| x.idle_estimate(threads);
        let v = vae_times.get(i);
        println!(
            "| {size} | {:.1} (stage sum {:.1}) | {} | {} |",
            e(all),
            e(c) + e(u) + e(t),
            v.map(|v| format!("{:.1}", e(c) + e(u) + e(v))).unwrap_or_else(|| "-".into()),
            v.map(|v| format!("{:.0}x", v.cpu / t.cpu)).unwrap_or_else(|| "-".into()),
        );
    }
    println!("\npeak memory: {peak_unet:.1} GiB through the UNet phase, {peak_all:.1} GiB in all");
    Ok(())
}
