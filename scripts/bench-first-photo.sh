#!/usr/bin/env bash
# Time to the first photo on screen after `photosift label DIR` on a new folder, and the
# background scan's speed next to a standalone `photosift scan` of the same folder.
#
#   scripts/bench-first-photo.sh [N=25000] [PHOTO_DIR=/tmp/photosift-bench-photos]
#
# Generates N distinct 1024x768 JPEGs (once; kept in PHOTO_DIR), opens the TUI in tmux
# (160x40) on a new library and polls the screen every 50 ms until a photo's file name shows
# in the status bar; then labels (a key every 150 ms) until the scan job is done, and times
# a standalone `photosift scan` of the folder into a new library for the ratio.
# Needs tmux, bc and python3 with Pillow. Build first: cargo build --release.
set -euo pipefail
N=${1:-25000}
PHOTOS=${2:-/tmp/photosift-bench-photos}
BIN=${BIN:-$(dirname "$0")/../target/release/photosift}
BIN=$(realpath "$BIN")

if [ "$(find "$PHOTOS" -name '*.jpg' 2>/dev/null | wc -l)" -lt "$N" ]; then
  echo "generating $N photos in $PHOTOS ..."
  python3 - "$N" "$PHOTOS" <<'PY'
import os, sys
from PIL import Image, ImageDraw
n, out = int(sys.argv[1]), sys.argv[2]
base = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
for i in range(n):
    d = os.path.join(out, f"{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"IMG_{i:05d}.jpg")
    if os.path.exists(path):
        continue
    im = base.copy()
    draw = ImageDraw.Draw(im)
    x, y = (i * 37) % 900, (i * 23) % 650
    draw.rectangle([x, y, x + 120, y + 110], fill=((i * 47) % 256, (i * 91) % 256, (i * 13) % 256))
    draw.ellipse([(i * 7) % 800, (i * 11) % 600, (i * 7) % 800 + 200, (i * 11) % 600 + 150],
                 fill=((i * 5) % 256, 200, (i * 3) % 256))
    im.save(path, quality=88)
PY
fi

WORK=$(mktemp -d)
trap 'tmux -L psbench kill-server 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

: > "$WORK/config.toml"
start=$(date +%s.%N)
tmux -L psbench new-session -d -s b -x 160 -y 40 \
  "$BIN --library $WORK/lib --config $WORK/config.toml label $PHOTOS; sleep 30"
first=""
while :; do
  screen=$(tmux -L psbench capture-pane -p -t b)
  if grep -q 'AMBIGUOUS.*IMG_' <<<"$screen"; then
    first=$(echo "$(date +%s.%N) - $start" | bc)
    break
  fi
  if [ "$(echo "$(date +%s.%N) - $start > 120" | bc)" = 1 ]; then
    echo "no photo after 120 s"; echo "$screen"; exit 1
  fi
  sleep 0.05
done
echo "first photo on screen after ${first} s ($N photos in the folder)"
echo "$screen" | tail -2

# Label while the scan job runs: a key every 150 ms (yes, no, ask later in turn, as a fast
# labeler) until the job's "⟳ scan" leaves the status bar; then the same folder scanned
# (and embedded) on its own, by `photosift scan`, into a new library.
keys=(w s d); k=0; seen_job=0; gone=0
while :; do
  tmux -L psbench send-keys -t b "${keys[$((k % 3))]}"; k=$((k + 1))
  sleep 0.15
  screen=$(tmux -L psbench capture-pane -p -t b)
  if grep -q '⟳ scan' <<<"$screen"; then seen_job=1; gone=0; else gone=$((gone + 1)); fi
  # Every 100 keys, where the job is (reading, and embedding as it goes) and the model.
  if [ $((k % 100)) = 0 ]; then
    grep -o '⟳ scan[^│]*' <<<"$screen" | sed "s/^/  after $k keys: /" || true
  fi
  if grep -q 'scan done' <<<"$screen" || { [ "$seen_job" = 1 ] && [ "$gone" -ge 3 ]; }; then
    break
  fi
  if [ "$(echo "$(date +%s.%N) - $start > 3600" | bc)" = 1 ]; then
    echo "the scan job did not end within an hour"; echo "$screen"; exit 1
  fi
done
with_labels=$(echo "$(date +%s.%N) - $start" | bc)
echo "scan + embed job done after ${with_labels} s with $k keys sent meanwhile"
echo "$screen" | tail -3
tmux -L psbench kill-server

alone_start=$(date +%s.%N)
"$BIN" --library "$WORK/alone" --config "$WORK/config.toml" scan "$PHOTOS" >/dev/null 2>&1
alone=$(echo "$(date +%s.%N) - $alone_start" | bc)
echo "standalone photosift scan (+ embed) of the same folder: ${alone} s"
echo "scan speed while labeling: $(echo "scale=3; $alone / $with_labels" | bc) of standalone"
