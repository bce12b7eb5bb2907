#!/usr/bin/env bash
# CLIP ViT-B/32 image embedding: photosift (candle) vs PyTorch eager and onnxruntime on the same
# random-weight model (openai/clip-vit-base-patch32's config), same run, batch 1/8/32, 2 threads
# each. Speed does not depend on the weights' values, so this measures what the real weights
# would run at. Prints img/s and ratios (a sibling of scripts/bench-embed.sh).
#
#   scripts/bench-clip.sh [ITERS]            (default ITERS=10)
#
# Needs: pip install torch transformers onnx onnxruntime safetensors (PY overrides python3).
# The model (600 MB) is written once to $MODEL (default /tmp/clip-b32-random).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-10}
PY=${PY:-python3}
MODEL=${MODEL:-/tmp/clip-b32-random}
OUT=${OUT:-target/bench-clip}
mkdir -p "$OUT"
[ -f "$MODEL/model.safetensors" ] || "$PY" scripts/bench_clip_peers.py --model "$MODEL" --make
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --release --example bench_clip -q
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
RAYON_NUM_THREADS=2 "$CARGO_TARGET_DIR/release/examples/bench_clip" --model "$MODEL" \
  --iters "$ITERS" --json "$OUT/photosift-1.json"
"$PY" scripts/bench_clip_peers.py --model "$MODEL" --threads 2 --iters "$ITERS" \
  --json "$OUT/peers.json"
RAYON_NUM_THREADS=2 "$CARGO_TARGET_DIR/release/examples/bench_clip" --model "$MODEL" \
  --iters "$ITERS" --json "$OUT/photosift-2.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ours, cpu = {}, {}
for f in ("photosift-1.json", "photosift-2.json"):
    for r in json.load(open(f"{out}/{f}")):
        ours.setdefault(r["batch"], []).append(r["img_per_s_median"])
        cpu.setdefault(r["batch"], []).append(r["cpu_s_per_img"])
mean = lambda v: sum(v) / len(v)
peers = json.load(open(f"{out}/peers.json"))
print(f"\npeers: torch {peers['env']['torch']}, onnxruntime {peers['env']['onnxruntime']}")
rows = {}
for r in peers["results"]:
    rows.setdefault(r["name"], {})[r["batch"]] = (r["img_per_s_median"], r["cpu_s_per_img"])
bss = sorted(ours)
head = " | ".join(f"bs {b}" for b in bss)
print(f"\n| img/s median (CPU ms/img) | {head} |")
print("|---|" + "---|" * len(bss))
print("| photosift candle (mean of 2 runs) | " + " | ".join(
    f"{mean(ours[b]):.1f} ({mean(cpu[b]) * 1e3:.1f})" for b in bss) + " |")
for name, by in rows.items():
    print(f"| {name} | " + " | ".join(
        f"{by[b][0]:.1f} ({by[b][1] * 1e3:.1f})" if b in by else "-" for b in bss) + " |")
print(f"\n| photosift / peer, img/s | {head} |")
print("|---|" + "---|" * len(bss))
for name, by in rows.items():
    print(f"| vs {name} | " + " | ".join(
        f"{mean(ours[b]) / by[b][0]:.2f}x" if b in by else "-" for b in bss) + " |")
PY
