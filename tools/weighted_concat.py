"""Does a lighter share of the last block keep mid+last's gains on animal and food without
its cost on person? The `mid+last` candidate of tools/backbone_options.py, with the last
block's part weighted by `a` (0 = photosift's `mid max` alone, 1 = `mid+last`), for Lite0 at a
224-px and Lite1 at a 256-px short side. Each part is max-pooled, square-rooted once and unit
length, the last one then scaled by `a`; the same classifier, 3-shuffle ceiling and 40 sets of
10 and 20 random labels as the other feature tools (tools/feature_eval.py). Paired
differences are against a = 0 of the same network.

    WHEELS=/tmp/pipdl python tools/weighted_concat.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-{person,animal,food}.csv
    WHEELS=/tmp/pipdl python tools/weighted_concat.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs what tools/backbone_options.py needs (the unpacked lite0 and lite1 wheels under WHEELS).
Features cached in /tmp/photosift-weighted-concat-*.npz.
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
OPTIONS = [("lite0", 224), ("lite1", 256)]
WEIGHTS = [0.0, 0.3, 0.5, 0.7, 1.0]

key = hashlib.sha1((DIR + ",".join(files) + repr(OPTIONS)).encode()).hexdigest()[:10]
cache = f"/tmp/photosift-weighted-concat-{key}.npz"
if os.path.exists(cache):
    feats = dict(np.load(cache))
else:
    nets = {b: Net(glob.glob(f"{WHEELS}/**/efficientnet-{b}-*.pth", recursive=True)[0])
            for b, _ in OPTIONS}
    acc = {}
    for n, f in enumerate(files):
        im = thumbnail(f"{DIR}/{f}")
        for b, side in OPTIONS:
            with torch.no_grad():
                acts = nets[b].run(input_at(im, side))
            for part in ["mid", "last"]:
                acc.setdefault(f"{b} {part}", []).append(
                    acts[part][0].flatten(1).max(1).values.numpy())
        if n % 50 == 0:
            print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
    feats = {k: np.stack(v) for k, v in acc.items()}
    np.savez(cache, **feats)


print(f"{DIR}: {len(files)} photos; each cell: ceiling, AUC at 10 and 20 labels "
      "(paired vs a = 0 at 10 and 20, share of the 20-label sets better)")
print(f"{'option':14s} " + " | ".join(f"{k[:20]:>40s}" for k in truth))
for b, side in OPTIONS:
    base = {}
    for a in WEIGHTS:
        cells = []
        for k in truth:
            rows = [i for i, f in enumerate(files) if f in truth[k]]
            m, last = unit_part(feats[f"{b} mid"][rows]), unit_part(feats[f"{b} last"][rows])
            # prep() square-roots: a^2 here is a weight of a on the unit-length part.
            x = prep(np.concatenate([m, a * a * last], 1) if a > 0 else m)
            y = np.array([truth[k][files[i]] for i in rows])
            cell, aucs = paired_cell(x, y, base.get(k))
            base.setdefault(k, aucs)
            cells.append(cell)
        print(f"{b} s{side} a={a:.1f} " + " | ".join(f"{c:>40s}" for c in cells), flush=True)
