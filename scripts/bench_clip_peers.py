#!/usr/bin/env python3
"""CLIP ViT-B/32 image embedding, the peers of photosift's `examples/bench_clip.rs`: one
random-weight `CLIPModel` with openai/clip-vit-base-patch32's config, written once with
`save_pretrained` (so photosift loads exactly these weights), then timed as PyTorch eager
(`get_image_features`) and onnxruntime (the image tower and its projection exported to ONNX),
2 threads each, at the batch sizes asked. Speed does not depend on the weights' values.

    python3 scripts/bench_clip_peers.py --model DIR --make      # writes DIR (600 MB) once
    python3 scripts/bench_clip_peers.py --model DIR --batches 1,8,32 --iters 10 --json out.json
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

TEXT = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
            num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu",
            projection_dim=512, bos_token_id=0, eos_token_id=2, pad_token_id=1)
VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
              num_attention_heads=12, image_size=224, patch_size=32, num_channels=3,
              hidden_act="quick_gelu", projection_dim=512)


class ImageTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.vision, self.proj = model.vision_model, model.visual_projection

    def forward(self, pixels):
        return self.proj(self.vision(pixel_values=pixels).pooler_output)


def timed(fn, batch, iters):
    x = torch.randn(batch, 3, 224, 224, generator=torch.Generator().manual_seed(batch))
    fn(x)  # warm-up
    walls, cpus = [], []
    for _ in range(iters):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(x)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    wall = statistics.median(walls)
    return {"batch": batch, "img_per_s_median": batch / wall,
            "cpu_s_per_img": statistics.median(cpus) / batch}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--make", action="store_true")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if a.make:
        torch.manual_seed(0)
        model = CLIPModel(CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=512))
        model.save_pretrained(a.model, safe_serialization=True)
        return
    torch.set_num_threads(a.threads)
    model = CLIPModel.from_pretrained(a.model).eval()
    tower = ImageTower(model).eval()
    onnx = a.model / "image_tower.onnx"
    if not onnx.exists():
        with torch.no_grad():
            torch.onnx.export(tower, torch.randn(1, 3, 224, 224), onnx, input_names=["pixels"],
                              output_names=["embeds"], opset_version=17, dynamo=False,
                              dynamic_axes={"pixels": {0: "b"}, "embeds": {0: "b"}})
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
    results = []
    batches = [int(b) for b in a.batches.split(",")]
    with torch.inference_mode():
        ref = model.get_image_features(pixel_values=torch.ones(2, 3, 224, 224))
        ref = ref if isinstance(ref, torch.Tensor) else ref.pooler_output
        got = sess.run(None, {"pixels": torch.ones(2, 3, 224, 224).numpy()})[0]
        assert abs(torch.from_numpy(got) - ref).max().item() < 1e-3, "ONNX export differs"
        for b in batches:
            r = timed(lambda x: model.get_image_features(pixel_values=x), b, a.iters)
            results.append(dict(r, name="PyTorch eager"))
            print(results[-1], flush=True)
        for b in batches:
            r = timed(lambda x: sess.run(None, {"pixels": x.numpy()}), b, a.iters)
            results.append(dict(r, name="onnxruntime"))
            print(results[-1], flush=True)
    env = {"torch": torch.__version__, "onnxruntime": ort.__version__,
           "threads": a.threads, "ld_preload": os.environ.get("LD_PRELOAD", "")}
    if a.json:
        a.json.write_text(json.dumps({"env": env, "results": results}, indent=1))


if __name__ == "__main__":
    main()
