#!/usr/bin/env python3
"""pillow-heif peer for the HEIC scan benchmark (scripts/bench-scan.sh).

pillow-heif-thumbs.py SRC_DIR OUT_DIR [--procs 2] [--size 512] [--quality 85]

For every *.heic in SRC_DIR (sorted): Image.open through pillow-heif's opener (libheif
decodes the primary image and applies its irot/imir), ImageOps.exif_transpose, thumbnail
to fit SIZE x SIZE (Pillow's default: reducing_gap 2.0, bicubic), save a JPEG to
OUT_DIR/<name>.jpg. Work is spread over --procs processes (multiprocessing.Pool), as a
Python user would write it. HEIF has no draft mode: the whole image is decoded.
"""
import argparse
import os
import sys
from multiprocessing import Pool

from PIL import Image, ImageOps
from pillow_heif import register_heif_opener

ARGS = None


def one(name):
    src = os.path.join(ARGS.src, name)
    dst = os.path.join(ARGS.out, os.path.splitext(name)[0] + ".jpg")
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im)
        im.thumbnail((ARGS.size, ARGS.size))
        im.convert("RGB").save(dst, "JPEG", quality=ARGS.quality)
    return name


def init(args):
    global ARGS
    ARGS = args
    register_heif_opener()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--quality", type=int, default=85)  # photosift's thumb_quality
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = sorted(n for n in os.listdir(args.src) if n.lower().endswith((".heic", ".heif")))
    with Pool(args.procs, initializer=init, initargs=(args,)) as pool:
        n = sum(1 for _ in pool.imap_unordered(one, names, chunksize=2))
    print(f"pillow-heif: {n} thumbnails -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
