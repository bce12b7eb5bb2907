//! EfficientNet-Lite0 against the PyTorch reference (tests/data/lite0-reference.json, copied
//! from the reference run described in its `input_a` and `photos_preprocessing` fields).

use candle_core::{D, Device, IndexOp, Tensor};
use photosift::model::{Embedder, WeightsSource};

struct Reference {
    logits: Vec<f32>,
    embedding: Vec<f32>,
    top5: Vec<u32>,
}

fn numbers(json: &str, key: &str) -> Vec<f64> {
    let start = json.find(&format!("\"{key}\"")).expect(key);
    let open = start + json[start..].find('[').unwrap();
    let close = open + json[open..].find(']').unwrap();
    json[open + 1..close].split(',').map(|s| s.trim().parse().unwrap()).collect()
}

fn reference() -> Reference {
    let json = include_str!("../data/lite0-reference.json");
    Reference {
        logits: numbers(json, "input_a_logits").into_iter().map(|v| v as f32).collect(),
        embedding: numbers(json, "input_a_embedding").into_iter().map(|v| v as f32).collect(),
        top5: numbers(json, "input_a_top5").into_iter().map(|v| v as u32).collect(),
    }
}

/// `x[0, c, y, x] = (((3x + 7y + 11c) % 256) - 127) / 128`, 1×3×224×224.
fn input_a() -> Tensor {
    let mut v = Vec::with_capacity(3 * 224 * 224);
    for c in 0..3 {
        for y in 0..224 {
            for x in 0..224 {
                v.push((((3 * x + 7 * y + 11 * c) % 256) as f32 - 127.0) / 128.0);
            }
        }
    }
    Tensor::from_vec(v, (1, 3, 224, 224), &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn top5(logits: &[f32]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
    idx.sort_by(|&a, &b| logits[b as usize].total_cmp(&logits[a as usize]));
    idx.truncate(5);
    idx
}

#[test]
fn folded_model_matches_reference_logits_and_embedding() {
    let r = reference();
    let model = WeightsSource::Bundled.load_folded(&Device::Cpu).unwrap();
    let emb = model.embed(&input_a()).unwrap();
    assert_eq!(emb.dims(), &[1, 1280]);
    let logits = model.classify(&emb).unwrap().i(0).unwrap().to_vec1::<f32>().unwrap();
    let emb = emb.i(0).unwrap().to_vec1::<f32>().unwrap();
    let (dl, de) = (max_abs_diff(&logits, &r.logits), max_abs_diff(&emb, &r.embedding));
    eprintln!("folded: max |logit diff| {dl:.2e}, max |embedding diff| {de:.2e}");
    assert!(dl < 1e-3, "logits differ by {dl}");
    assert!(de < 1e-3, "embedding differs by {de}");
    assert_eq!(top5(&logits), r.top5);
}

#[test]
fn trainable_model_matches_reference_and_stages_compose() {
    let r = reference();
    let (model, varmap) = WeightsSource::Bundled.load_trainable(&Device::Cpu).unwrap();
    assert!(varmap.all_vars().len() > 200);
    let x = input_a();
    let logits = model.forward_t(&x, false).unwrap().i(0).unwrap().to_vec1::<f32>().unwrap();
    let dl = max_abs_diff(&logits, &r.logits);
    eprintln!("trainable: max |logit diff| {dl:.2e}");
    assert!(dl < 1e-3, "logits differ by {dl}");
    // Frozen trunk + tail: the split point does not change the embedding.
    let trunk = model.forward_until(&x, 5).unwrap();
    let emb = model.forward_from(&trunk, 5, false).unwrap().i(0).unwrap().to_vec1::<f32>().unwrap();
    assert!(max_abs_diff(&emb, &r.embedding) < 1e-3);
}

#[test]
fn tail_stages_train_with_autograd() {
    let (model, varmap) = WeightsSource::Bundled.load_trainable(&Device::Cpu).unwrap();
    let x = Tensor::randn(0f32, 1f32, (2, 3, 64, 64), &Device::Cpu).unwrap();
    let trunk = model.forward_until(&x, 5).unwrap().detach();
    let emb = model.forward_from(&trunk, 5, true).unwrap();
    let loss = emb.sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    let vars = varmap.data().lock().unwrap();
    let grad_norm = |name: &str| -> f32 {
        let g = grads.get(vars[name].as_tensor()).unwrap_or_else(|| panic!("no gradient: {name}"));
        g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap()
    };
    // Stage 5 starts at block 11: its depthwise conv (the custom op's backward) and BatchNorm
    // get gradients, the frozen trunk does not.
    assert!(grad_norm("_blocks.11._depthwise_conv.weight") > 0.0);
    assert!(grad_norm("_blocks.11._bn1.weight") > 0.0);
    assert!(grad_norm("_conv_head.weight") > 0.0);
    assert!(grads.get(vars["_blocks.10._depthwise_conv.weight"].as_tensor()).is_none());
}

fn sample_top1(name: &str) -> u32 {
    let path = format!("{}/assets/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    let img = image::open(&path).unwrap().to_rgb8();
    let embedder = Embedder::new(&WeightsSource::Bundled).unwrap();
    let emb = embedder.embed_images(&[img]).unwrap();
    let emb = Tensor::from_vec(emb[0].clone(), (1, 1280), &Device::Cpu).unwrap();
    let logits = embedder.model().classify(&emb).unwrap();
    logits.argmax(D::Minus1).unwrap().i(0).unwrap().to_scalar::<u32>().unwrap()
}

#[test]
fn real_photos_get_the_reference_top1_class() {
    assert_eq!(sample_top1("chelsea.png"), 285, "chelsea should be an Egyptian cat");
    assert_eq!(sample_top1("coffee.png"), 967, "coffee should be espresso");
}

#[test]
fn missing_or_corrupt_weights_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.safetensors");
    let err = WeightsSource::File(missing.clone()).load_folded(&Device::Cpu).err().unwrap();
    assert!(err.to_string().contains("nope.safetensors"), "{err}");

    let corrupt = dir.path().join("junk.safetensors");
    std::fs::write(&corrupt, b"definitely not safetensors").unwrap();
    let err = WeightsSource::File(corrupt).load_folded(&Device::Cpu).err().unwrap();
    assert!(err.to_string().contains("junk.safetensors"), "{err}");

    // Valid safetensors without the network's tensors.
    let other = dir.path().join("other.safetensors");
    let t = Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap();
    candle_core::safetensors::save(
        &std::collections::HashMap::from([("x".to_string(), t)]),
        &other,
    )
    .unwrap();
    let err = WeightsSource::File(other).load_folded(&Device::Cpu).err().unwrap();
    assert!(err.to_string().contains("other.safetensors"), "{err}");
}

#[test]
fn per_image_embedding_matches_the_layer_by_layer_ops() {
    // `embed` runs images whole per thread and splits a left-over one by rows; both must agree
    // with the folded candle ops (`forward_until` + `forward_from`), at any input size.
    let model = WeightsSource::Bundled.load_folded(&Device::Cpu).unwrap();
    for (n, h, w) in [(3, 224, 224), (1, 97, 130), (2, 64, 64), (1, 17, 9), (2, 1, 1)] {
        let x = Tensor::randn(0f32, 1f32, (n, 3, h, w), &Device::Cpu).unwrap();
        let fast = model.embed(&x).unwrap();
        let ops = model.forward_from(&model.forward_until(&x, 0).unwrap(), 0, false).unwrap();
        assert_eq!(fast.dims(), ops.dims());
        let d = max_abs_diff(
            &fast.flatten_all().unwrap().to_vec1().unwrap(),
            &ops.flatten_all().unwrap().to_vec1().unwrap(),
        );
        assert!(d < 1e-4, "{n}x{h}x{w}: per-image embedding differs by {d}");
    }
}
