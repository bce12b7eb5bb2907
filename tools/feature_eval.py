"""What the feature tools (feature_options, finetune_features, scale_block_mixes,
loop_features) share: reading the truth files, the thumbnail-sized input, photosift's stored
activation map (block 14's depthwise output of Lite0), and how a feature is scored (photosift's
preparation of the vector, scikit-learn's class-balanced logistic regression, the
cross-validated ceiling, the AUC at a few random labels)."""
import csv
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold


def read_truths(paths):
    """{truth file name: {photo file: 0/1}} and the sorted union of the photo files."""
    truth = {}
    for t in paths:
        rows = list(csv.reader(open(t)))[1:]
        truth[os.path.basename(t)] = {r[0]: int(r[1]) for r in rows}
    files = sorted(set.union(*[set(v) for v in truth.values()]))
    return truth, files


def r32(v):
    return max(32, int(round(v / 32)) * 32)


def thumbnail(path):
    """The photo at `path` as photosift keeps it: RGB, 512 px on its long side."""
    im = Image.open(path).convert("RGB")
    im.thumbnail((512, 512), Image.BILINEAR)
    return im


def input_at(im, side):
    """The network's input for `im` at a short side of `side` px, aspect kept (multiples of 32)."""
    w, h = im.size
    s = min(w, h)
    return tensor(im, (r32(w * side / s), r32(h * side / s)))


def tensor(im, size):
    """The network's input: `im` resized to `size`, (x - 127) / 128, as a batch of one."""
    a = np.asarray(im.resize(size, Image.BILINEAR), dtype=np.float32)
    return ((torch.from_numpy(a).permute(2, 0, 1) - 127) / 128)[None]


def block14_depthwise(model, x):
    """Block 14's depthwise activations (C, H, W) of the reference Lite0: what photosift pools."""
    with torch.no_grad():
        h = F.relu6(model._bn0(model._conv_stem(x)))
        for i, b in enumerate(model._blocks):
            if i == 14:
                e = F.relu6(b._bn0(b._expand_conv(h)))
                return F.relu6(b._bn1(b._depthwise_conv(e)))[0]
            h = b(h)


def prep(x):
    """As photosift stores and centers a feature: square root, unit length, centered."""
    x = np.sqrt(np.maximum(x.astype(np.float64), 0))
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return x - x.mean(0)


def clf():
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)


def ceiling(x, y):
    """5-fold cross-validated AUC with every label known, over 3 shuffles: mean, sd."""
    out = []
    for r in range(3):
        oof = np.zeros(len(y))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=r).split(x, y):
            oof[te] = clf().fit(x[tr], y[tr]).decision_function(x[te])
        out.append(roc_auc_score(y, oof))
    return np.mean(out), np.std(out)


def label_sets(y, n, runs=40):
    """`runs` random sets of `n` labels, each with both answers, the same for every feature."""
    sets = []
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        while True:
            idx = rng.permutation(len(y))[:n]
            if 0 < y[idx].sum() < n:
                break
        sets.append(idx)
    return sets


def aucs_at(x, y, sets):
    """The AUC on the other photos of a classifier trained on each label set."""
    out = []
    for idx in sets:
        rest = np.setdiff1d(np.arange(len(y)), idx)
        out.append(roc_auc_score(y[rest], clf().fit(x[idx], y[idx]).decision_function(x[rest])))
    return np.array(out)


def unit_part(v):
    """Rows scaled so that prep()'s square root makes each unit length: the way to concatenate
    pooled vectors as equal parts."""
    v = np.maximum(v.astype(np.float64), 0)
    return v / (v.sum(1, keepdims=True) + 1e-12)


def paired_cell(x, y, base):
    """A table cell for the prepared feature `x` with truth `y`: the ceiling, the AUC at 10 and
    20 labels, and the paired difference at 10 and 20 to `base` (the AUCs of the option
    compared with; None when `x` is that option), with the share of the 20-label sets where `x`
    was better. Returns the cell and this option's AUCs, to be the base of later ones."""
    c, _ = ceiling(x, y)
    a10, a20 = aucs_at(x, y, label_sets(y, 10)), aucs_at(x, y, label_sets(y, 20))
    b10, b20 = base if base is not None else (a10, a20)
    d10, d20 = a10 - b10, a20 - b20
    return (f"{c:.3f} {a10.mean():.3f} {a20.mean():.3f} "
            f"({d10.mean():+.3f} {d20.mean():+.3f} {100 * (d20 > 0).mean():3.0f}%)"), (a10, a20)
