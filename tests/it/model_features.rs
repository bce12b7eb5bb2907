//! The photo features (`EfficientNetLite::features`): parity with the PyTorch reference on a
//! non-square input (tests/data/lite0-features-reference.json, made by
//! tools/reference_features.py), and the embedder batching photos of different shapes.

use candle_core::{Device, IndexOp, Tensor};
use image::{Rgb, RgbImage};
use photosift::model::{Embedder, Features, WeightsSource};

fn reference() -> Vec<f32> {
    let json = include_str!("../data/lite0-features-reference.json");
    let start = json.find("\"input_b_features\"").unwrap();
    let open = start + json[start..].find('[').unwrap();
    let close = open + json[open..].find(']').unwrap();
    json[open + 1..close].split(',').map(|s| s.trim().parse().unwrap()).collect()
}

/// `x[0, c, y, x] = (((5x + 3y + 17c) % 256) - 127) / 128`, 1×3×224×288.
fn input_b() -> Tensor {
    let mut v = Vec::with_capacity(3 * 224 * 288);
    for c in 0..3 {
        for y in 0..224 {
            for x in 0..288 {
                v.push((((5 * x + 3 * y + 17 * c) % 256) as f32 - 127.0) / 128.0);
            }
        }
    }
    Tensor::from_vec(v, (1, 3, 224, 288), &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn folded_and_trainable_features_match_the_reference() {
    let want = reference();
    assert_eq!(want.len(), 1152);
    let folded = WeightsSource::Bundled.load_folded(&Device::Cpu).unwrap();
    let trainable = WeightsSource::Bundled.load_trainable(&Device::Cpu).unwrap().0;
    assert_eq!((folded.feature_dim(), trainable.feature_dim()), (1152, 1152));
    for (name, model) in [("folded", &folded), ("trainable", &trainable)] {
        let f = model.features(&input_b()).unwrap();
        assert_eq!(f.dims(), &[1, 1152], "{name}");
        let f = f.i(0).unwrap().to_vec1::<f32>().unwrap();
        let diff = max_abs_diff(&f, &want);
        eprintln!("{name}: max |feature diff| {diff:.2e}");
        assert!(diff < 1e-4, "{name} features differ by {diff}");
        let norm = f.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{name}: norm {norm}");
    }
}

fn photo(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        Rgb([(x * 7 + seed * 31) as u8, (y * 5 + x / 3) as u8, ((x ^ y) + seed * 13) as u8])
    })
}

#[test]
fn photos_of_every_shape_are_embedded_in_order() {
    let embedder = Embedder::with_features(&WeightsSource::Bundled, Features::Photo).unwrap();
    assert_eq!(embedder.dim(), 1152);
    // Landscape, portrait and square thumbnails mixed: grouped by input size inside.
    let images = vec![
        photo(512, 384, 1),
        photo(384, 512, 2),
        photo(512, 384, 3),
        photo(400, 400, 4),
        photo(512, 288, 5),
    ];
    let together = embedder.embed_images(&images).unwrap();
    assert_eq!(together.len(), images.len());
    for (i, img) in images.iter().enumerate() {
        let alone = embedder.embed_images(std::slice::from_ref(img)).unwrap();
        let diff = max_abs_diff(&together[i], &alone[0]);
        assert!(diff < 1e-5, "photo {i} differs by {diff} when batched");
    }
    // Different photos give different features.
    assert!(max_abs_diff(&together[0], &together[2]) > 1e-3);
}

#[test]
fn the_fused_path_matches_the_layer_ops_at_odd_sizes() {
    let folded = WeightsSource::Bundled.load_folded(&Device::Cpu).unwrap();
    let trainable = WeightsSource::Bundled.load_trainable(&Device::Cpu).unwrap().0;
    for (n, h, w) in [(3, 100, 70), (1, 33, 17), (2, 224, 320)] {
        let x = Tensor::randn(0f32, 1f32, (n, 3, h, w), &Device::Cpu).unwrap();
        let fused = folded.features(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let ops = trainable.features(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let diff = max_abs_diff(&fused, &ops);
        assert!(diff < 1e-4, "{n}x3x{h}x{w}: fused and layer ops differ by {diff}");
    }
}
