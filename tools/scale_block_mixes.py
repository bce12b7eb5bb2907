"""Three more ways to make a feature of what Lite0 already computes, against photosift's
feature (block 14's depthwise activations, max-pooled, at a 224-px short side, square-rooted):
  - scales: the same block at 224 and 448 px (or 320), the two max-pooled vectors
    concatenated (each unit length after prep's square root) or their element-wise max;
  - blocks: stage 6's blocks 12 and 13 at 224 px, concatenated with block 14 or
    element-wise max-ed with it (the three have 1152 depthwise channels; block 11, the
    stage's first, has 672);
  - the power: photosift's feature raised to 0.25-2 instead of square-rooted (0.5), then unit
    length and centered as every option.
The same classifier, 3-shuffle ceiling and 40 sets of 10 and 20 random labels as the other
feature tools (tools/feature_eval.py); paired differences are against photosift's feature.

    WHEELS=/tmp/pipdl python tools/scale_block_mixes.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-{person,animal,food}.csv
    WHEELS=/tmp/pipdl python tools/scale_block_mixes.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs the unpacked lite0 wheel under WHEELS. Features cached in /tmp/photosift-mixes-*.npz.
"""
import glob
import hashlib
import os
import sys
import warnings

import numpy as np
import torch

from feature_eval import input_at, paired_cell, prep, read_truths, thumbnail, unit_part
from lite_net import Net

warnings.filterwarnings("ignore")
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
WHEELS = os.environ.get("WHEELS", "/tmp/pipdl")
DIR, TRUTHS = sys.argv[1], sys.argv[2:]
truth, files = read_truths(TRUTHS)
SIDES = [224, 320, 448]
STAGE6 = [12, 13, 14]

key = hashlib.sha1((DIR + ",".join(files) + repr((SIDES, STAGE6))).encode()).hexdigest()[:10]
cache = f"/tmp/photosift-mixes-{key}.npz"
if os.path.exists(cache):
    feats = dict(np.load(cache))
else:
    net = Net(glob.glob(f"{WHEELS}/**/efficientnet-lite0-*.pth", recursive=True)[0])
    assert [i for i, b in enumerate(net.blocks) if b["stage"] == 5][1:] == STAGE6
    acc = {}
    for n, f in enumerate(files):
        im = thumbnail(f"{DIR}/{f}")
        for side in SIDES:
            with torch.no_grad():
                h = net.stem(input_at(im, side))
                for i in range(STAGE6[-1] + 1):
                    h, dw = net.block(i, h)
                    if i in STAGE6 and (side == 224 or i == 14):
                        acc.setdefault(f"s{side} b{i}", []).append(
                            dw[0].flatten(1).max(1).values.numpy())
        if n % 50 == 0:
            print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
    feats = {k: np.stack(v) for k, v in acc.items()}
    np.savez(cache, **feats)


def concat(*names):
    return lambda rows: np.concatenate([unit_part(feats[n][rows]) for n in names], 1)


def elementwise_max(*names):
    return lambda rows: np.max(np.stack([feats[n][rows] for n in names]), 0)


OPTIONS = {
    "s224 b14 (photosift)": lambda rows: feats["s224 b14"][rows],
    "s448 b14": lambda rows: feats["s448 b14"][rows],
    "s224+s320 concat": concat("s224 b14", "s320 b14"),
    "s224+s448 concat": concat("s224 b14", "s448 b14"),
    "s224,s448 max": elementwise_max("s224 b14", "s448 b14"),
    "s224,s320,s448 max": elementwise_max("s224 b14", "s320 b14", "s448 b14"),
    "b13+b14 concat": concat("s224 b13", "s224 b14"),
    "b12..b14 max": elementwise_max("s224 b12", "s224 b13", "s224 b14"),
}
for power in [0.25, 0.35, 0.75, 1.0, 1.25, 1.5, 2.0]:
    # prep() square-roots: the power 2p here leaves the power p.
    OPTIONS[f"power {power}"] = lambda rows, e=2 * power: np.maximum(feats["s224 b14"][rows], 0) ** e

print(f"{DIR}: {len(files)} photos; each cell: ceiling, AUC at 10 and 20 labels "
      "(paired vs photosift at 10 and 20, share of the 20-label sets better)")
print(f"{'option':22s} " + " | ".join(f"{k[:20]:>40s}" for k in truth))
base = {}
for name, make in OPTIONS.items():
    cells = []
    for k in truth:
        rows = [i for i, f in enumerate(files) if f in truth[k]]
        y = np.array([truth[k][files[i]] for i in rows])
        cell, aucs = paired_cell(prep(make(rows)), y, base.get(k))
        base.setdefault(k, aucs)
        cells.append(cell)
    print(f"{name:22s} " + " | ".join(f"{c:>40s}" for c in cells), flush=True)
