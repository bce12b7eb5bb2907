"""Reference numbers for photosift's photo features (tests/data/lite0-features-reference.json).

PyTorch reference model (../shared/bench/lite0_torch.py, the same checkpoint as
assets/efficientnet-lite0.safetensors), input `input_b`, defined by formula so the Rust test
rebuilds it: shape 1x3x224x288 (NCHW, H=224, W=288: a landscape 4:3 thumbnail at short side
224), already normalized, x[0, c, y, x] = (((5*x + 3*y + 17*c) % 256) - 127) / 128.
Features: block 14's depthwise output (after BN + ReLU6), max-pooled over H and W, square-rooted,
divided by its L2 norm (1152 values).

    python tools/reference_features.py > tests/data/lite0-features-reference.json
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.environ.get("BENCH_DIR", "../shared/bench"))
from lite0_torch import load_lite0  # noqa: E402

m = load_lite0()
c, y, x = torch.meshgrid(torch.arange(3), torch.arange(224), torch.arange(288), indexing="ij")
inp = ((((5 * x + 3 * y + 17 * c) % 256) - 127) / 128).float()[None]
with torch.no_grad():
    h = F.relu6(m._bn0(m._conv_stem(inp)))
    for b in m._blocks[:14]:
        h = b(h)
    b = m._blocks[14]
    d = F.relu6(b._bn1(b._depthwise_conv(F.relu6(b._bn0(b._expand_conv(h))))))
    f = d.amax((2, 3))[0].sqrt()
    f = f / f.norm()
json.dump({"input_b": "1x3x224x288, x[0,c,y,x] = (((5*x + 3*y + 17*c) % 256) - 127) / 128",
           "input_b_features": [round(v, 7) for v in f.tolist()]}, sys.stdout)
print()
