//! Export throughput beside its peer, `cp --preserve=timestamps`, on the same generated files:
//! a first export (copy everything), a resumed one (everything already there), and the
//! contact sheet. Usage: `cargo run --release --example bench_export [N] [MB]`
//! (defaults: 200 files of 4 MB, a phone's JPEG size). Results go in docs/bench-export.md.

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::{Rgb, RgbImage};
use photosift::catalog::{Photo, PhotoState, Pick, Source};
use photosift::domain::{ModelId, PhotoId};
use photosift::export::{ExportOptions, export_list};
use photosift::print_check::PrintSpec;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let mb: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(4);
    let dir = tempfile::tempdir()?;
    let (root, picks) = make_picks(dir.path(), n, mb)?;
    let total_mb = (n * mb) as f64;
    println!("{n} files of {mb} MB ({total_mb} MB) in {}", dir.path().display());

    // The generated files go to disk first: otherwise the peer's `sync` would write them too.
    sync();
    // The peer first, so both runs find the source files equally warm in the page cache
    // (read once more here to warm them for whichever goes first).
    for p in &picks {
        fs::read(&p.photo.path)?;
    }
    let cp_dest = dir.path().join("cp");
    fs::create_dir_all(&cp_dest)?;
    let t = Instant::now();
    let status = Command::new("cp")
        .arg("--preserve=timestamps")
        .args(picks.iter().map(|p| &p.photo.path))
        .arg(&cp_dest)
        .status()?;
    anyhow::ensure!(status.success(), "cp failed");
    sync();
    let cp = t.elapsed().as_secs_f64();

    let options = |dest: PathBuf, sheet: bool| ExportOptions {
        dest,
        print: PrintSpec::from_config("8x10in", 300).ok().flatten(),
        contact_sheet: sheet,
        into_photo_folder: false,
    };
    let ours = dir.path().join("export");
    let t = Instant::now();
    export_list(picks.clone(), &root, &options(ours.clone(), false), &mut |_| {})?;
    sync();
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = export_list(picks.clone(), &root, &options(ours, false), &mut |_| {})?;
    let resumed = t.elapsed().as_secs_f64();
    anyhow::ensure!(again.already_there() == n, "the resumed run copied again");
    let t = Instant::now();
    let sheet_dest = dir.path().join("sheet");
    let with_sheet = export_list(picks, &root, &options(sheet_dest, true), &mut |_| {})?;
    let sheet_total = t.elapsed().as_secs_f64();

    println!("| run | seconds | MB/s | ratio vs cp |");
    println!("|---|---|---|---|");
    println!("| cp --preserve=timestamps (peer) | {cp:.2} | {:.0} | 1.00 |", total_mb / cp);
    println!(
        "| photosift export, first run (fsync per file) | {first:.2} | {:.0} | {:.2} |",
        total_mb / first,
        first / cp
    );
    println!(
        "| photosift export, resumed (all already there) | {resumed:.2} | {:.0} | {:.2} |",
        total_mb / resumed,
        resumed / cp
    );
    println!(
        "| photosift export with contact sheet ({} pages) | {sheet_total:.2} | | {:.2} |",
        with_sheet.contact_sheets.len(),
        sheet_total / cp
    );
    Ok(())
}

fn sync() {
    let _ = Command::new("sync").status();
}

/// `n` files of `mb` MB (a real JPEG header and thumbnail, padded with noise to phone size).
fn make_picks(dir: &Path, n: usize, mb: usize) -> anyhow::Result<(PathBuf, Vec<Pick>)> {
    let root = dir.join("library");
    fs::create_dir_all(root.join("thumbs"))?;
    fs::create_dir_all(dir.join("photos"))?;
    let mut picks = Vec::with_capacity(n);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        let thumb = RgbImage::from_fn(512, 384, |x, y| Rgb([(i * 7) as u8, x as u8, y as u8]));
        let rel = PathBuf::from(format!("thumbs/{i}.jpg"));
        thumb.save(root.join(&rel))?;
        let mut bytes = fs::read(root.join(&rel))?;
        bytes.resize_with(mb << 20, || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        });
        let path = dir.join(format!("photos/IMG_{i:04}.jpg"));
        fs::write(&path, &bytes)?;
        // What a scan records: export checks each original against it (and hashes the copy).
        let mtime = fs::metadata(&path)?.modified()?.duration_since(std::time::UNIX_EPOCH)?;
        picks.push(Pick {
            photo: Photo {
                id: PhotoId(i as i64 + 1),
                path,
                content_hash: blake3::hash(&bytes).to_hex().to_string(),
                byte_size: bytes.len() as u64,
                mtime_ns: mtime.as_nanos() as i64,
                width: Some(4032),
                height: Some(3024),
                taken_at: None,
                thumb_path: Some(rel),
                source: Source::Camera,
                state: PhotoState::Ok,
                error: None,
                prompt: None,
                seed_label: None,
                taken_source: None,
                taken_offset: None,
                live_video: None,
                screenshot: false,
            },
            p: Some(1.0 - i as f32 / n as f32),
            model: Some(ModelId(1)),
            picked_at_ms: 0,
            duplicates: Vec::new(),
        });
    }
    Ok((root, picks))
}
