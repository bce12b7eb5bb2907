"""PCA whitening of photosift's stored feature, learned from the library itself, per concept.

The feature (block 14's depthwise activations, max-pooled, at s224) is prepared as photosift
does (square root, unit length, centered over the library). Whitening then rotates it onto
the library's principal axes and divides each by sqrt(eigenvalue + shrink * mean eigenvalue),
which evens out the few directions that dominate every photo (lighting, indoor/outdoor) so
that the head's L2 penalty weighs all directions alike; `pcaK` keeps the K largest axes
without rescaling them. Every variant is unit-length again before the head. The statistics
come from the unlabeled photos of the folder (what a real library has: every photo, no
label), or, with `--fit-on OTHER_FOLDER`, from another folder.

Reported per concept, as the other feature tools: the ceiling (5-fold CV, every label) and the
AUC at 20 random labels on the other photos (the 40 label sets of feature_eval.label_sets),
with the paired difference against the plain feature and how often it wins.

    python tools/whitening.py ../shared/data/coco-dev300/photos \
        ../shared/data/coco-dev300/truth-{person,animal,food}.csv
    python tools/whitening.py ../shared/data/coco-dev ../shared/data/coco-dev/truth.csv

Needs torch, pillow, numpy, scikit-learn and ../shared/bench/lite0_torch.py. Features are
cached in /tmp/photosift-knn-*.npy (shared with knn_smoothing.py: the same feature).
"""
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from feature_eval import (  # noqa: E402
    aucs_at, block14_depthwise, ceiling, input_at, label_sets, prep, read_truths, thumbnail,
)

warnings.filterwarnings("ignore")


def stored_features(folder, files):
    """photosift's stored feature of every photo, cached."""
    name = os.path.basename(os.path.dirname(folder.rstrip("/")) or folder)
    cache = f"/tmp/photosift-knn-{name}-{len(files)}.npy"
    if os.path.exists(cache):
        return np.load(cache)
    sys.path.insert(0, os.environ.get("BENCH_DIR", "../shared/bench"))
    from lite0_torch import load_lite0
    model = load_lite0()
    rows = []
    for f in files:
        a = block14_depthwise(model, input_at(thumbnail(f"{folder}/{f}"), 224))
        rows.append(a.flatten(1).max(1).values.numpy())
    feats = np.stack(rows)
    np.save(cache, feats)
    return feats


def unit(x):
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12)


def axes(fit):
    """The principal axes (columns) and eigenvalues of the centered rows `fit`."""
    _, s, vt = np.linalg.svd(fit, full_matrices=False)
    return vt.T, s**2 / len(fit)


def whiten(x, v, ev, shrink):
    """`x` on the axes `v`, each divided by sqrt(eigenvalue + shrink * mean eigenvalue); the
    part of `x` outside the axes is kept at the scale of the shrink term."""
    floor = shrink * ev.mean()
    inside = x @ v
    outside = x - inside @ v.T
    return unit(np.hstack([inside / np.sqrt(ev + floor), outside / np.sqrt(floor)]))


def main():
    args = sys.argv[1:]
    fit_on = None
    if "--fit-on" in args:
        i = args.index("--fit-on")
        fit_on = args[i + 1]
        del args[i : i + 2]
    folder, truths = args[0], args[1:]
    truth, files = read_truths(truths)
    x = prep(stored_features(folder, files))
    if fit_on:
        other = sorted(f for f in os.listdir(fit_on) if f.lower().endswith((".jpg", ".jpeg")))
        fit = prep(stored_features(fit_on, other))
    else:
        fit = x
    v, ev = axes(fit)
    variants = {"plain": unit(x)}
    for shrink in (0.03, 0.1, 0.3, 1.0, 3.0):
        variants[f"white s{shrink}"] = whiten(x, v, ev, shrink)
    for k in (32, 64, 128):
        variants[f"pca{k}"] = unit(x @ v[:, :k])
    print(f"{folder}: {len(files)} photos; axes fitted on {fit_on or 'the same photos'}")
    for name in truth:
        rows = np.array([i for i, f in enumerate(files) if f in truth[name]])
        y = np.array([truth[name][files[i]] for i in rows])
        sets = label_sets(y, 20)
        base = aucs_at(variants["plain"][rows], y, sets)
        print(f"\n{name}: {y.sum()} of {len(y)}")
        print("variant          ceiling (sd) | 20 labels (sd) | paired vs plain, wins")
        for vname, feats in variants.items():
            c, csd = ceiling(feats[rows], y)
            a = base if vname == "plain" else aucs_at(feats[rows], y, sets)
            d = a - base
            print(
                f"{vname:16s} {c:.3f} ({csd:.3f}) | {a.mean():.3f} ({a.std():.3f}) |"
                f" {d.mean():+.3f}, {100 * (d > 0).mean():.0f}%"
            )


if __name__ == "__main__":
    main()
