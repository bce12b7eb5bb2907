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
        "| size | stage | wall s | CPU s | idle {threads}-core estimate s |\n|---|---|---|---|---|"
    );
    let never = AtomicBool::new(false);
    let mut summary = Vec::new();
    for &size in &args.sizes {
        let p = GenerateParams { width: size, height: size, steps: 1, guidance: 0.0, seed: 1 };
        let prompt = "two friends on a mountain";
        let t_clip = time(args.reps, || Ok(with_taesd.encode_prompt(prompt)?))?;
        let cond = with_taesd.encode_prompt(prompt)?;
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
        let t_all = time(1, || Ok(with_taesd.generate(prompt, &p, &mut |_| {}, &never)?))?;
        let row = |stage: &str, t: Timing| {
            println!(
                "| {size} | {stage} | {:.2} | {:.2} | {:.2} |",
                t.wall,
                t.cpu,
                t.idle_estimate(threads)
            );
        };
        row("text encoder (CLIP)", t_clip);
        row("one UNet step", t_unet);
        row("TAESD decode", t_taesd);
        if let Some(t) = t_vae {
            row("full VAE decode", t);
        }
        row("whole image, 1 step + TAESD, end to end", t_all);
        summary.push((size, t_clip, t_unet, t_taesd, t_vae, t_all));
    }
    println!(
        "\n| size | 1 step + TAESD, idle estimate s | 1 step + VAE, idle estimate s | VAE / TAESD decode (CPU time) |\n|---|---|---|---|"
    );
    for (size, c, u, t, v, all) in summary {
        let e = |x: Timing| x.idle_estimate(threads);
        println!(
            "| {size} | {:.1} (stage sum {:.1}) | {} | {} |",
            e(all),
            e(c) + e(u) + e(t),
            v.map(|v| format!("{:.1}", e(c) + e(u) + e(v))).unwrap_or_else(|| "-".into()),
            v.map(|v| format!("{:.0}x", v.cpu / t.cpu)).unwrap_or_else(|| "-".into()),
        );
    }
    Ok(())
}
