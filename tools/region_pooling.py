"""Region pooling of photosift's photo feature, per concept, paired against the global max.

photosift stores block 14's depthwise activations of EfficientNet-Lite0 at a short side of
224 px (aspect kept), max-pooled over the whole map (`lite0-max-s224`). This tries pooling
the same map by regions, the option issue 13 lists and docs/bench-learn.md had not tried:
  - `max`: the global max (photosift's feature, the base of the paired differences);
  - `rmac`: R-MAC (Tolias et al. 2016): max-pools of square regions at 3 scales (about 40 %
    overlap), each square-rooted and unit length, summed; plus the global max;
  - `grid2 mean`, `grid3 mean`: the mean of the max-pools of a 2x2 / 3x3 grid of cells
    (how much of the photo shows a feature, not only whether it shows once);
  - `max+grid3`: the global max and `grid3 mean`, each prepared, concatenated (2304-d);
  - `grid2 concat`: the four 2x2 cells' max-pools side by side (4608-d: where things are).
Every vector is then square-rooted, unit length and centered (tools/feature_eval.prep). For
every option and concept: the ceiling (5-fold CV AUC with every label, 3 shuffles) and the AUC
at 20 random labels on the other photos (40 label sets), with the paired difference to `max`
over the same 40 sets and the share of sets where the option was better.

    python tools/region_pooling.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-person.csv ../shared/data/coco-dev300/truth-animal.csv \
        ../shared/data/coco-dev300/truth-food.csv
    python tools/region_pooling.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs torch, pillow, numpy, scikit-learn and ../shared/bench/lite0_torch.py.
"""
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




def unit(v):
    v = np.sqrt(np.maximum(v, 0))
    return v / (np.linalg.norm(v) + 1e-12)


def rmac_regions(h, w, scales=3):
    """R-MAC's square regions of an h x w map: at scale l, side 2 min(h, w) / (l + 1)."""
    out = [(0, h, 0, w)]
    for l in range(1, scales + 1):
        side = max(1, int(round(2 * min(h, w) / (l + 1))))
        ny, nx = [max(1, int(np.ceil((d - side) / (side * 0.6))) + 1) for d in (h, w)]
        for i in range(ny):
            for j in range(nx):
                y = 0 if ny == 1 else int(round(i * (h - side) / (ny - 1)))
                x = 0 if nx == 1 else int(round(j * (w - side) / (nx - 1)))
                out.append((y, min(h, y + side), x, min(w, x + side)))
    return out


def grid(h, w, n):
    ys, xs = np.linspace(0, h, n + 1).round().astype(int), np.linspace(0, w, n + 1).round().astype(int)
    return [(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(n) for j in range(n)]


def pools(a):
    """The options for one activation map a (C, H, W)."""
    a = a.numpy()
    _, h, w = a.shape
    rmax = lambda r: a[:, r[0]:r[1], r[2]:r[3]].reshape(a.shape[0], -1).max(1)  # noqa: E731
    g2 = [rmax(r) for r in grid(h, w, 2)]
    g3 = [rmax(r) for r in grid(h, w, 3)]
    whole = rmax((0, h, 0, w))
    return {
        "max": whole,
        # Squared so that prep()'s square root gives back the sum of the regions' vectors.
        "rmac": np.sum([unit(rmax(r)) for r in rmac_regions(h, w)], 0) ** 2,
        "grid2 mean": np.mean(g2, 0),
        "grid3 mean": np.mean(g3, 0),
        "max+grid3": ("concat", whole, np.mean(g3, 0)),
        "grid2 concat": ("concat", *g2),
    }


def prepared(values):
    """prep() of one option's rows; a concatenation prepares each part, then joins them."""
    if isinstance(values[0], tuple):
        parts = len(values[0]) - 1
        return np.concatenate([prep(np.stack([v[1 + p] for v in values])) for p in range(parts)], 1)
    return prep(np.stack(values))


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    folder, truths = sys.argv[1], sys.argv[2:]
    truth, files = read_truths(truths)
    model = load_lite0()
    acc = {}
    for n, f in enumerate(files):
        x = input_at(thumbnail(f"{folder}/{f}"), 224)
        for k, v in pools(block14_depthwise(model, x)).items():
            acc.setdefault(k, []).append(v)
        if n % 50 == 0:
            print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
    print(f"{folder}: {len(files)} photos")
    for k in truth:
        rows = [i for i, f in enumerate(files) if f in truth[k]]
        y = np.array([truth[k][files[i]] for i in rows])
        sets = label_sets(y, 20)
        base = None
        print(f"\n{k} ({y.sum()} of {len(y)} positive)")
        print("option        | ceiling (sd) | AUC @ 20 (sd) | paired vs max @ 20 | wins")
        for name, values in acc.items():
            x = prepared([values[i] for i in rows])
            c, cs = ceiling(x, y)
            a = aucs_at(x, y, sets)
            base = a if base is None else base
            d = a - base
            print(f"{name:13s} | {c:.3f} ({cs:.3f}) | {a.mean():.3f} ({a.std():.3f}) | "
                  f"{d.mean():+.3f} | {100 * (d > 0).mean():.0f} %", flush=True)


if __name__ == "__main__":
    main()
