#!/usr/bin/env python3
# make-phone-jpegs.py SRC_DIR DST_DIR N: N 12 MP phone-like JPEGs (every 4th portrait, sensor
# noise, EXIF Make/DateTimeOriginal) from a folder of JPEGs, with Pillow and numpy only: the
# HEIC benchmark corpus source where ImageMagick/exiftool (make-phone-corpus.sh) are missing.
import os, sys, random
from PIL import Image, ImageFilter
import numpy as np
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst, exist_ok=True)
names = sorted(f for f in os.listdir(src) if f.lower().endswith('.jpg'))
rng = np.random.default_rng(1)
for i in range(n):
    im = Image.open(os.path.join(src, names[i % len(names)])).convert('RGB')
    size = (3024, 4032) if i % 4 == 3 else (4032, 3024)
    # fill-crop
    r = max(size[0] / im.width, size[1] / im.height)
    im = im.resize((int(im.width * r + 1), int(im.height * r + 1)), Image.BICUBIC)
    l, t = (im.width - size[0]) // 2, (im.height - size[1]) // 2
    im = im.crop((l, t, l + size[0], t + size[1]))
    a = np.asarray(im).astype(np.int16)
    a = np.clip(a + rng.normal(0, 6, a.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(a)
    ex = Image.Exif(); ex[0x010F] = 'Apple'; ex[0x0110] = 'iPhone-like'
    ex.get_ifd(0x8769)[0x9003] = '2023:06:03 09:%02d:%02d' % (i // 60 % 60, i % 60)
    im.save(os.path.join(dst, 'IMG_%04d.jpg' % i), quality=90, exif=ex.tobytes())
