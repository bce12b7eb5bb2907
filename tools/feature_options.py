"""Cheap options for photosift's photo features, per concept, with spread over runs.

For each photo (its 512 px thumbnail, as photosift keeps it) this computes block 14's
depthwise activations of EfficientNet-Lite0 (the PyTorch reference model) at a short side of
224, 320 and 448 px (aspect kept, multiples of 32), with and without a horizontal flip, and
pools them by mean, max and GeM (p = 3); every vector is square-rooted, scaled to unit length
and centered, as photosift does. For every option and concept it prints
  - the ceiling: 5-fold cross-validated AUC with every label known (3 shuffles: mean, sd);
  - AUC at 20 random labels on the other photos (40 label sets: mean, sd).
The classifier is scikit-learn's class-balanced logistic regression (C = 1).

    python tools/feature_options.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-person.csv ../shared/data/coco-dev300/truth-animal.csv \
        ../shared/data/coco-dev300/truth-food.csv
    python tools/feature_options.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs torch, pillow, numpy, scikit-learn and ../shared/bench/lite0_torch.py (the reference
model; it loads the .pth of the PyPI wheel, see scripts/bench-embed.sh for the setup);
scoring in tools/feature_eval.py. Features are cached in /tmp/photosift-feature-options-*.npz.
"""
import hashlib
import os
import sys
import warnings

import numpy as np
import torch

from feature_eval import (
    aucs_at, block14_depthwise, ceiling, input_at, label_sets, prep, read_truths, thumbnail,
)

sys.path.insert(0, os.environ.get("BENCH_DIR", "../shared/bench"))
from lite0_torch import load_lite0  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
DIR, TRUTHS = sys.argv[1], sys.argv[2:]
truth, files = read_truths(TRUTHS)
SIZES = (224, 320, 448)





def pool(a):
    flat = a.flatten(1)
    return {
        "mean": flat.mean(1).numpy(),
        "max": flat.max(1).values.numpy(),
        "gem3": flat.clamp(min=1e-6).pow(3).mean(1).pow(1 / 3).numpy(),
    }


key = hashlib.sha1((DIR + ",".join(files)).encode()).hexdigest()[:10]
cache = f"/tmp/photosift-feature-options-{key}.npz"
if os.path.exists(cache):
    feats = dict(np.load(cache))
else:
    model = load_lite0()
    acc = {}
    for n, f in enumerate(files):
        im = thumbnail(f"{DIR}/{f}")
        for side in SIZES:
            x = input_at(im, side)
            plain = pool(block14_depthwise(model, x))
            flipped = pool(block14_depthwise(model, torch.flip(x, dims=[3])))
            for p in plain:
                acc.setdefault(f"s{side} {p}", []).append(plain[p])
                acc.setdefault(f"s{side} {p} +flip", []).append((plain[p] + flipped[p]) / 2)
        if n % 25 == 0:
            print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
    feats = {k: np.stack(v) for k, v in acc.items()}
    np.savez(cache, **feats)


print(f"{DIR}: {len(files)} photos; " + ", ".join(
    f"{k}: {sum(truth[k].values())} of {len(truth[k])} positive" for k in truth))
print(f"{'option':22s} " + " ".join(f"{k[:22]:>30s}" for k in truth))
print(f"{'':22s} " + " ".join(f"{'ceiling (sd) | 20 labels (sd)':>30s}" for _ in truth))
for name in sorted(feats, key=lambda k: (k.split()[0], k)):
    cells = []
    for k in truth:
        rows = [i for i, f in enumerate(files) if f in truth[k]]
        x = prep(feats[name][rows])
        y = np.array([truth[k][files[i]] for i in rows])
        c, cs = ceiling(x, y)
        a = aucs_at(x, y, label_sets(y, 20))
        cells.append(f"{c:.3f} ({cs:.3f}) | {a.mean():.3f} ({a.std():.3f})")
    print(f"{name:22s} " + " ".join(f"{c:>30s}" for c in cells), flush=True)
