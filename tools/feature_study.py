"""Which EfficientNet-Lite0 features separate a concept best with few labels?

The study behind photosift's photo features (src/model/efficientnet_lite.rs `features`,
docs/bench-learn.md). For every photo of a truth set it computes candidate features with the
PyTorch reference model, then the mean AUC, on the photos not labeled, of a class-balanced
logistic regression trained on N random labels (40 random subsets per N).

    python tools/feature_study.py ../shared/data/coco-dev

Needs torch, pillow, numpy and scikit-learn, and ../shared/bench/lite0_torch.py (the reference
model; it loads the .pth from the PyPI wheel, see scripts/bench-embed.sh for the setup).
"""
import csv
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from feature_eval import aucs_at, label_sets, r32, tensor

sys.path.insert(0, "../shared/bench")
from lite0_torch import load_lite0  # noqa: E402

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
DIR = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/coco-dev"
rows = list(csv.reader(open(f"{DIR}/truth.csv")))[1:]
files, y = [r[0] for r in rows], np.array([int(r[1]) for r in rows])
model = load_lite0()


def activations(x):
    """Pooled activations: every block output from 11 on, block 14's and 15's depthwise
    output, and the 1280-d head."""
    out = {}
    with torch.no_grad():
        h = F.relu6(model._bn0(model._conv_stem(x)))
        for i, b in enumerate(model._blocks):
            if i in (14, 15):
                e = F.relu6(b._bn0(b._expand_conv(h)))
                out[f"block{i} depthwise"] = F.relu6(b._bn1(b._depthwise_conv(e)))
            h = b(h)
            if i >= 11:
                out[f"block{i} out"] = h
        out["head 1280 (embed)"] = F.relu6(model._bn1(model._conv_head(h)))
    return {k: v.mean((2, 3))[0].numpy() for k, v in out.items()}


feats = {}
for f in files:
    im = Image.open(f"{DIR}/{f}").convert("RGB")
    im.thumbnail((512, 512), Image.BILINEAR)  # what photosift keeps
    w, h = im.size
    s = min(w, h)
    sizes = {"224x224 squashed": (224, 224), "short side 224": (r32(w * 224 / s), r32(h * 224 / s))}
    for sname, size in sizes.items():
        for k, v in activations(tensor(im, size)).items():
            feats.setdefault((sname, k), []).append(v)


def prep(x, power):
    x = x.astype(np.float64)
    if power:
        x = np.sqrt(np.maximum(x, 0))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x - x.mean(0)


def auc_at(x, n_labels, runs=40):
    return aucs_at(x, y, label_sets(y, n_labels, runs)).mean()


print(f"{len(y)} photos, {y.sum()} positive; mean held-out AUC over 40 random label sets")
print(f"{'input':18s} {'features':20s} {'pooling':12s} {'10 labels':>9s} {'20 labels':>9s}")
for (sname, k), v in sorted(feats.items()):
    x = np.stack(v)
    for power in (False, True):
        p = "sqrt, unit" if power else "unit"
        print(f"{sname:18s} {k:20s} {p:12s} {auc_at(prep(x, power), 10):9.3f} "
              f"{auc_at(prep(x, power), 20):9.3f}", flush=True)
