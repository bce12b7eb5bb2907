//! What photosift's fast HEIC decode (`[scan] heic_fast_decode`: HEVC's in-loop filters
//! skipped from a 4x shrink, colour converted by photosift) changes in the thumbnails and
//! what it saves, photo by photo, against libheif's own decode of the same files.
//!
//! Usage: `cargo run --release --example heic_fast_decode -- DIR [TARGET]` (DIR: a folder of
//! HEIC files, e.g. the one `scripts/bench-scan.sh` makes; TARGET: the long side, 512).
//! Prints, per photo and over all, the mean and largest absolute difference of the two
//! thumbnails' channel values (before JPEG encoding) and the share of values that differ by
//! more than 2 and 8 levels, then the median decode time of each (one thread, 3 runs each).

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Instant;

use photosift::imaging::{HeifDecode, decode_heif, hevc_decoder};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: DIR [TARGET]"))?);
    let target: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(512);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("heic")))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no .heic files in {}", dir.display());

    let decode = |bytes: &[u8], fast| {
        let how = HeifDecode { target, max_pixels: 1 << 31, threads: 0, fast };
        let start = Instant::now();
        let image = decode_heif(bytes, how).map(|p| p.image);
        (image, start.elapsed().as_secs_f64())
    };
    let (mut sum, mut n, mut max, mut over2, mut over8) = (0u64, 0u64, 0u8, 0u64, 0u64);
    let (mut fast_times, mut full_times) = (Vec::new(), Vec::new());
    println!("| photo | mean abs diff | max | > 2 levels | > 8 levels |");
    println!("|---|---|---|---|---|");
    for path in &files {
        let bytes = std::fs::read(path)?;
        let times = |fast, out: &mut Vec<f64>| {
            let mut runs: Vec<f64> = (0..3).map(|_| decode(&bytes, fast).1).collect();
            runs.sort_by(f64::total_cmp);
            out.push(runs[1]);
        };
        times(true, &mut fast_times);
        times(false, &mut full_times);
        let (fast, full) = (decode(&bytes, true).0?, decode(&bytes, false).0?);
        anyhow::ensure!(fast.dimensions() == full.dimensions(), "sizes differ");
        let d: Vec<u8> =
            fast.as_raw().iter().zip(full.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
        let photo_sum: u64 = d.iter().map(|&v| u64::from(v)).sum();
        let photo_max = d.iter().copied().max().unwrap_or(0);
        let (o2, o8) = (d.iter().filter(|&&v| v > 2).count(), d.iter().filter(|&&v| v > 8).count());
        println!(
            "| {} | {:.3} | {photo_max} | {:.4}% | {:.4}% |",
            path.file_name().unwrap_or_default().to_string_lossy(),
            photo_sum as f64 / d.len() as f64,
            100.0 * o2 as f64 / d.len() as f64,
            100.0 * o8 as f64 / d.len() as f64,
        );
        (sum, n, max) = (sum + photo_sum, n + d.len() as u64, max.max(photo_max));
        (over2, over8) = (over2 + o2 as u64, over8 + o8 as u64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (fast_ms, full_ms) = (median(&mut fast_times) * 1e3, median(&mut full_times) * 1e3);
    println!(
        "\n{} photos at {target} px: mean abs diff {:.3} levels, max {max}, > 2 levels {:.4}%, \
         > 8 levels {:.4}%",
        files.len(),
        sum as f64 / n as f64,
        100.0 * over2 as f64 / n as f64,
        100.0 * over8 as f64 / n as f64,
    );
    println!(
        "median decode (one thread): fast {fast_ms:.0} ms, libheif's own {full_ms:.0} ms \
         ({:.2}x); decoder counts {:?}",
        full_ms / fast_ms,
        hevc_decoder::decode_counts()
    );
    Ok(())
}
