"""Transductive smoothing of the head's scores over the photos' nearest neighbours, per concept.

The head (class-balanced logistic regression on photosift's stored feature, block 14 max at
s224) is trained on 20 random labels (the 40 label sets of tools/feature_eval.label_sets), its
standardized scores over *every* photo of the folder are smoothed three times,
s <- (1 - a) * s0 + a * mean(s over the k nearest neighbours by cosine), and the AUC on the
unlabeled photos is compared, paired, with the unsmoothed head's.

    python tools/knn_smoothing.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-{person,animal,food}.csv
    python tools/knn_smoothing.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs torch, pillow, numpy, scikit-learn and ../shared/bench/lite0_torch.py. Features are
cached in /tmp/photosift-knn-*.npy.
"""
import sys, os, warnings
import numpy as np
import torch  # noqa: F401  (before scikit-learn, as the other tools import them)
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feature_eval import (  # noqa: E402
    block14_depthwise, clf, input_at, label_sets, prep, read_truths, thumbnail,
)

sys.path.insert(0, os.environ.get("BENCH_DIR", "../shared/bench"))
from lite0_torch import load_lite0  # noqa: E402
warnings.filterwarnings("ignore")
folder, truths = sys.argv[1], sys.argv[2:]
truth, files = read_truths(truths)
cache = f"/tmp/photosift-knn-{os.path.basename(os.path.dirname(folder.rstrip('/')) or folder)}-{len(files)}.npy"
if os.path.exists(cache):
    F = np.load(cache)
else:
    model = load_lite0(); rows = []
    for f in files:
        a = block14_depthwise(model, input_at(thumbnail(f"{folder}/{f}"), 224))
        rows.append(a.flatten(1).max(1).values.numpy())
    F = np.stack(rows); np.save(cache, F)
X = prep(F)  # all photos, centered over the library
S = X @ X.T
def knn_smooth(scores, k, alpha, iters):
    idx = np.argsort(-S, axis=1)[:, 1:k+1]
    s = scores.copy()
    for _ in range(iters):
        s = (1 - alpha) * scores + alpha * s[idx].mean(1)
    return s
for k in truth:
    rows = np.array([i for i, f in enumerate(files) if f in truth[k]])
    y = np.array([truth[k][files[i]] for i in rows])
    sets = label_sets(y, 20)
    res = {}
    for idx in sets:
        rest = np.setdiff1d(np.arange(len(y)), idx)
        m = clf().fit(X[rows][idx], y[idx])
        base = m.decision_function(X)  # every photo in the folder
        z = (base - base.mean()) / (base.std() + 1e-9)
        cands = {"lr": z}
        for kk in (5, 10, 20):
            for a in (0.3, 0.5, 0.7):
                cands[f"knn{kk} a{a}"] = knn_smooth(z, kk, a, 3)
        for name, sc in cands.items():
            res.setdefault(name, []).append(roc_auc_score(y[rest], sc[rows][rest]))
    b = np.array(res["lr"])
    print(f"\n{k}: {y.sum()}/{len(y)}")
    for name, v in res.items():
        v = np.array(v); d = v - b
        print(f"{name:14s} {v.mean():.3f} ({v.std():.3f})  paired {d.mean():+.3f}  wins {100*(d>0).mean():.0f}%")
