//! Whole frame vs center crop as the network input (the choice in `model::preprocess`).
//!
//!     cargo run --release --example preprocess_compare -- [PHOTO_DIR]
//!
//! 1. Subject at the edge: the sample cat photo pasted at the left edge of a 4:3 frame
//!    (30% of the width, the rest a plain wall): probability of the cat classes (ImageNet 281-285) with each
//!    input. 2. With a folder of photos: how often the two inputs agree on the top-1 class,
//!    the mean top-1 probability of each, and the mean cosine similarity of their embeddings.

// Tests, examples and benchmarks print their findings and stop at the first failure.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use anyhow::Result;
use candle_core::{D, Device, Tensor};
use candle_nn::ops::softmax;
use image::{RgbImage, imageops};
use photosift::model::{Embedder, WeightsSource};

/// The usual ImageNet eval crop: the central 87.5% of the short side, square.
fn center_crop(img: &RgbImage) -> RgbImage {
    let side = (img.width().min(img.height()) as f32 * 0.875) as u32;
    let (x, y) = ((img.width() - side) / 2, (img.height() - side) / 2);
    imageops::crop_imm(img, x, y, side, side).to_image()
}

/// Per image: class probabilities, and embeddings.
type Rows = Vec<Vec<f32>>;

fn probs(e: &Embedder, imgs: &[RgbImage]) -> Result<(Rows, Rows)> {
    let emb = e.embed_images(imgs)?;
    let flat: Vec<f32> = emb.iter().flatten().copied().collect();
    let t = Tensor::from_vec(flat, (imgs.len(), 1280), &Device::Cpu)?;
    let p = softmax(&e.model().classify(&t)?, D::Minus1)?;
    Ok((p.to_vec2()?, emb))
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0)
}

fn main() -> Result<()> {
    let e = Embedder::new(&WeightsSource::Bundled)?;
    let cat = image::open(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples/chelsea.png"))?;
    let cat = cat.to_rgb8();
    // A 1200×900 frame, the cat scaled to 30% of its width at the left edge.
    let (w, h) = (1200u32, 900u32);
    let cw = w * 3 / 10;
    let cat =
        imageops::resize(&cat, cw, cat.height() * cw / cat.width(), imageops::FilterType::Triangle);
    let mut frame = RgbImage::from_pixel(w, h, image::Rgb([200, 196, 188]));
    imageops::replace(&mut frame, &cat, 0, i64::from((h - cat.height()) / 2));
    let (p, _) = probs(&e, &[frame.clone(), center_crop(&frame)])?;
    let cat_p = |v: &[f32]| v[281..=285].iter().sum::<f32>();
    println!(
        "cat at the left edge of a 4:3 frame: P(cat) whole frame {:.3}, center crop {:.3}",
        cat_p(&p[0]),
        cat_p(&p[1])
    );

    let Some(dir) = std::env::args().nth(1) else { return Ok(()) };
    let mut paths: Vec<_> =
        std::fs::read_dir(&dir)?.filter_map(|d| d.ok().map(|d| d.path())).collect();
    paths.sort();
    let (mut n, mut agree, mut pw, mut pc, mut cos) = (0usize, 0usize, 0f32, 0f32, 0f32);
    for chunk in paths.chunks(8) {
        let imgs: Vec<RgbImage> = chunk
            .iter()
            .filter_map(|p| image::open(p).ok())
            .map(|i| imageops::thumbnail(&i.to_rgb8(), 512, 512))
            .collect();
        if imgs.is_empty() {
            continue;
        }
        let crops: Vec<RgbImage> = imgs.iter().map(center_crop).collect();
        let (whole, ew) = probs(&e, &imgs)?;
        let (crop, ec) = probs(&e, &crops)?;
        for i in 0..imgs.len() {
            n += 1;
            agree += usize::from(argmax(&whole[i]) == argmax(&crop[i]));
            pw += whole[i][argmax(&whole[i])];
            pc += crop[i][argmax(&crop[i])];
            cos += cosine(&ew[i], &ec[i]);
        }
    }
    let n_f = n.max(1) as f32;
    println!(
        "{n} photos: top-1 agrees {:.0}%, mean top-1 prob whole {:.3} / crop {:.3}, \
         mean embedding cosine {:.3}",
        100.0 * agree as f32 / n_f,
        pw / n_f,
        pc / n_f,
        cos / n_f
    );
    Ok(())
}
