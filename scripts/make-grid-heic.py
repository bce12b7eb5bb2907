#!/usr/bin/env python3
# make-grid-heic.py OUT.heic [TILE]: the grid-HEIC test fixture (tests/data/grid-tiles.heic), as
# iPhones store photos: a grid of TILE x TILE (512) HEVC tiles, 8-bit 4:2:0, BT.601 full range.
# The picture is synthetic (gradients, coloured bars, a diagonal), so a misplaced tile shows.
# Needs: pip install pillow pillow-heif numpy (pillow-heif 1.8: libheif 1.23, x265).
import sys
import numpy as np
from PIL import Image, ImageDraw
import pillow_heif

out, tile = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 512
w, h = 1200, 800
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
rgb = np.stack([255 * x / w, 255 * y / h, 128 + 100 * np.sin(x / 37.0) * np.cos(y / 23.0)], -1)
im = Image.fromarray(rgb.clip(0, 255).astype(np.uint8))
d = ImageDraw.Draw(im)
for i, c in enumerate([(220, 30, 30), (30, 200, 60), (40, 60, 230), (240, 220, 40)]):
    d.rectangle([80 + 260 * i, 100 + 150 * i, 220 + 260 * i, 190 + 150 * i], fill=c)
d.line([0, 0, w - 1, h - 1], fill=(255, 255, 255), width=9)
pillow_heif.from_pillow(im).save(out, quality=60, tile_size=tile, chroma=420)
