//! Embedding throughput of photosift's EfficientNet-Lite0 on the CPU (see docs/bench-embed.md).
//!
//!     cargo run --release --example bench_embed -- [--batches 1,8,32] [--iters 20]
//!         [--thumbs 64] [--no-unfolded] [--json out.json]
//!
//! Times `EfficientNetLite::embed` (the folded network) on random 224×224 inputs at each batch
//! size (median wall time per batch over `--iters` batches after warm-up), the unfolded
//! (trainable, candle ops + BatchNorm) network at batch 8 for comparison, and the whole
//! thumbnail path — JPEG decode of 512 px thumbnails, resize, embed — through `Embedder`, for the
//! 224² pooled embedding and for the photo features the catalog stores.

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use photosift::model::{Embedder, Features, WeightsSource};

struct Args {
    batches: Vec<usize>,
    iters: usize,
    thumbs: usize,
    json: Option<String>,
    unfolded: bool,
}

fn parse_args() -> Result<Args> {
    let mut args =
        Args { batches: vec![1, 8, 32], iters: 20, thumbs: 64, json: None, unfolded: true };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--batches" => {
                args.batches = val()?.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--iters" => args.iters = val()?.parse()?,
            "--thumbs" => args.thumbs = val()?.parse()?,
            "--json" => args.json = Some(val()?),
            "--no-unfolded" => args.unfolded = false,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds this process used so far, all threads (user + system, from /proc).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    // `rest` starts at field 3 (state, not numeric, skipped by the parse filter).
    if f.len() < 13 { f64::NAN } else { (f[10] + f[11]) / 100.0 }
}

/// Median and best seconds per call, and CPU seconds per call (all threads): the CPU time is
/// what to compare on a busy machine, where wall time depends on what else runs.
fn time(warmup: usize, iters: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64, f64)> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ts = Vec::with_capacity(iters);
    let cpu0 = cpu_seconds();
    for _ in 0..iters {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    let cpu = (cpu_seconds() - cpu0) / iters as f64;
    let best = ts.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((median(ts), best, cpu))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let dev = Device::Cpu;
    let mut rows = Vec::new();
    let mut report = |name: &str, bs: usize, (med, best, cpu): (f64, f64, f64)| {
        println!(
            "  {name:36} bs={bs:3} {:9.1} ms/batch {:7.1} img/s (best {:6.1})  cpu {:6.1} ms/img",
            med * 1e3,
            bs as f64 / med,
            bs as f64 / best,
            cpu / bs as f64 * 1e3
        );
        rows.push(format!(
            "{{\"name\":\"{name}\",\"batch\":{bs},\"median_s\":{med},\"img_per_s_median\":{},\"img_per_s_best\":{},\"cpu_s_per_img\":{}}}",
            bs as f64 / med,
            bs as f64 / best,
            cpu / bs as f64
        ));
    };
    println!("== photosift (candle, {} rayon threads)", rayon::current_num_threads());
    let folded = WeightsSource::Bundled.load_folded(&dev)?;
    for &bs in &args.batches {
        let x = Tensor::randn(0f32, 1f32, (bs, 3, 224, 224), &dev)?;
        let iters = if bs == 1 { args.iters * 3 } else { args.iters };
        let r = time(3, iters, || {
            folded.embed(&x)?;
            Ok(())
        })?;
        report("photosift folded embed(1280-d)", bs, r);
    }
    if args.unfolded {
        let (trainable, _vars) = WeightsSource::Bundled.load_trainable(&dev)?;
        let x = Tensor::randn(0f32, 1f32, (8, 3, 224, 224), &dev)?;
        let r = time(1, (args.iters / 4).max(3), || {
            trainable.embed(&x)?;
            Ok(())
        })?;
        report("photosift unfolded (candle ops + BN)", 8, r);
    }

    if args.thumbs > 0 {
        let dir = tempfile_dir()?;
        let mut paths = Vec::new();
        for i in 0..args.thumbs {
            let img = image::RgbImage::from_fn(512, 384, |x, y| {
                image::Rgb([(x ^ y) as u8, (x * 3 + i as u32) as u8, (y * 5) as u8])
            });
            let p = dir.join(format!("{i}.jpg"));
            img.save(&p)?;
            paths.push(p);
        }
        // The 224² pooled embedding, and the photo features the catalog stores (short side 224,
        // aspect kept: 288×224 for these 4:3 thumbnails; the product path).
        for (features, name) in [
            (Features::Pooled, "photosift thumbnails->embeddings"),
            (Features::Photo, "photosift thumbnails->photo features"),
        ] {
            let embedder = Embedder::with_features(&WeightsSource::Bundled, features)?;
            let bs = 16;
            let r = time(1, 3, || {
                for chunk in paths.chunks(bs) {
                    use rayon::prelude::*;
                    let imgs: Vec<_> = chunk
                        .par_iter()
                        .map(|p| image::open(p).map(|i| i.to_rgb8()))
                        .collect::<Result<_, _>>()?;
                    embedder.embed_images(&imgs)?;
                }
                Ok(())
            })?;
            report(name, args.thumbs, r);
        }
        std::fs::remove_dir_all(&dir)?;
    }
    if let Some(path) = args.json {
        std::fs::write(&path, format!("[\n{}\n]\n", rows.join(",\n")))?;
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("photosift-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
