#!/usr/bin/env bash
# scripts/bench-scan.sh CORPUS [RESULTS_DIR]
#
# The scan benchmark: `photosift scan` and its peers (the seed's mogrify command,
# vipsthumbnail, Pillow draft mode) on the same folder of 12 MP phone JPEGs, in one run,
# timed by the shared peer script (hyperfine; median of RUNS), then photos/s and ratios.
# photosift runs `scan --no-embed`: the peers only make thumbnails (embedding has its own
# benchmark, scripts/bench-embed.sh).
# Then the no-change re-scan: a tree of RESCAN_N (25,000) small distinct JPEGs is scanned
# once and re-scanned, timed with hyperfine.
#
#   CORPUS      e.g. /tmp/bench-ingest/phone200, made by
#               ../shared/bench/make-phone-corpus.sh ../shared/data/coco-dev CORPUS 200
#   RESULTS_DIR default /tmp/bench-ingest/results/scan-<time>
# Env: PEERS (the peer script; default ../shared/bench/bench-ingest-peers.sh),
#      ONLY (peer rows; default "a1 c2 c3 d1 p1"), RUNS (3), WAIT_IDLE (0: the machine is
#      shared, do not wait for idle), PYTHON (an interpreter with Pillow), RESCAN_N (25000),
#      ATTEMPTS (1: a row disturbed by other load is not re-run; the load is reported),
#      SKIP_PEERS=1 / SKIP_RESCAN=1 / SKIP_HEIC=1, HEIC_N (40 photos encoded to HEIC),
#      HEIC_CORPUS (default CORPUS-heic, made with heif-enc on the first run).
# Needs: apt-get install -y hyperfine libvips-tools imagemagick time libjpeg-turbo-progs,
#        libheif-examples (heif-enc), pip install pillow pillow-heif (point PYTHON at it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=$(readlink -f "${1:?usage: $0 CORPUS [RESULTS_DIR]}")
RES=${2:-/tmp/bench-ingest/results/scan-$(date +%Y%m%d-%H%M%S)}
PEERS=${PEERS:-$ROOT/../shared/bench/bench-ingest-peers.sh}
export RUNS=${RUNS:-3} WAIT_IDLE=${WAIT_IDLE:-0} ONLY=${ONLY:-a1 c2 c3 d1 p1} ATTEMPTS=${ATTEMPTS:-1}
RESCAN_N=${RESCAN_N:-25000}
mkdir -p "$RES"
RES=$(readlink -f "$RES")

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release --manifest-path "$ROOT/Cargo.toml" >&2
BIN=$CARGO_TARGET_DIR/release/photosift
CFG=$RES/defaults.toml
: > "$CFG" # the built-in defaults: thumb_size 512, thumb_quality 85

if [ "${SKIP_PEERS:-0}" != 1 ]; then
  # A fresh library per run inside {OUT}; each thumbnail is then hard-linked into {OUT}
  # under its photo's file name, so the peer script checks count, size and orientation
  # as for the other rows (the link step is inside the timing: a few ms).
  cat > "$RES/photosift-run.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
SRC=\$1 OUT=\$2
"$BIN" --config "$CFG" --library "\$OUT/.lib" scan --no-embed "\$SRC" > "\$OUT/.scan.txt"
python3 "$ROOT/scripts/link-thumbs.py" "\$OUT"
EOF
  export PROJECT_CMD="bash $RES/photosift-run.sh {SRC} {OUT}"
  bash "$PEERS" "$CORPUS" "$RES/peers" | tee "$RES/peers.log"
  python3 - "$RES/peers/summary.md" <<'PY' | tee "$RES/ratios.md"
import re, sys
rows = {}
for line in open(sys.argv[1]):
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 13 and re.fullmatch(r"[a-z]\d", cells[0]):
        # id | description (may itself hold '|') | 11 fixed columns
        f = cells[-11:]
        rows[cells[0]] = (" ".join(cells[1:-11]), float(f[1]), float(f[3]), f[4], f[5], f[6])
if "p1" not in rows:
    sys.exit("no photosift row (p1) in the summary")
p = rows["p1"]
print("| id | tool | photos/s (wall) | CPU-bound 2-core photos/s | peak RSS MiB | thumbs 512 | upright | photosift wall ratio | photosift CPU-bound ratio |")
print("|---|---|---|---|---|---|---|---|---|")
for rid, (desc, wall, cpu2, rss, ok, up) in rows.items():
    print(f"| {rid} | {desc[:60]} | {wall:.2f} | {cpu2:.2f} | {rss} | {ok} | {up} | {p[1] / wall:.2f}x | {p[2] / cpu2:.2f}x |")
PY
fi

if [ "${SKIP_RESCAN:-0}" != 1 ]; then
  TREE=/tmp/bench-ingest/tree$RESCAN_N
  if [ ! -d "$TREE" ]; then
    echo "== making $RESCAN_N small distinct JPEGs in $TREE" >&2
    python3 - "$TREE" "$RESCAN_N" <<'PY'
import os, sys
tree, n = sys.argv[1], int(sys.argv[2])
# One small JPEG made by ImageMagick, written 25,000 times with a distinct tail.
import subprocess
base = tree + ".base.jpg"
subprocess.run(["/usr/bin/convert", "-size", "160x120", "plasma:", "-quality", "80", base], check=True)
data = open(base, "rb").read()
for i in range(n):
    d = os.path.join(tree, f"{i // 250:03d}")
    if i % 250 == 0:
        os.makedirs(d, exist_ok=True)
    # Bytes after EOI are ignored by decoders but make every file's hash distinct.
    with open(os.path.join(d, f"IMG_{i:05d}.jpg"), "wb") as f:
        f.write(data + b"photosift-bench-%d" % i)
PY
  fi
  LIB=$RES/rescan-lib
  rm -rf "$LIB"
  echo "== first scan of $TREE" >&2
  /usr/bin/time -f "%e s wall, %M KiB peak RSS" -o "$RES/rescan-first.time" \
    "$BIN" --config "$CFG" --library "$LIB" scan --no-embed "$TREE" | tee "$RES/rescan-first.txt"
  cat "$RES/rescan-first.time"
  echo "== re-scan of the unchanged tree ($RESCAN_N files)" >&2
  hyperfine --warmup 1 --runs 5 --export-markdown "$RES/rescan.md" \
    "$BIN --config $CFG --library $LIB scan --no-embed $TREE"
  /usr/bin/time -f "%e s wall, %M KiB peak RSS" -o "$RES/rescan-again.time" \
    "$BIN" --config "$CFG" --library "$LIB" scan --no-embed "$TREE" | tee "$RES/rescan-again.txt"
  cat "$RES/rescan-again.time"
fi
if [ "${SKIP_HEIC:-0}" != 1 ]; then
  # HEIC: the same phone corpus encoded to HEIC with libheif's encoder (heif-enc, x265,
  # quality 50: ~1.5-2 MB per 12 MP photo, like an iPhone's), EXIF kept. photosift
  # (`scan --no-embed`, a fresh library per run) against pillow-heif (Pool(2), open +
  # exif_transpose + thumbnail + JPEG save), timed with hyperfine in the same run.
  HCORPUS=${HEIC_CORPUS:-$CORPUS-heic}
  HEIC_N=${HEIC_N:-40}
  if [ ! -d "$HCORPUS" ]; then
    echo "== encoding $HEIC_N photos of $CORPUS to HEIC in $HCORPUS" >&2
    mkdir -p "$HCORPUS"
    find "$CORPUS" -maxdepth 1 -name '*.jpg' | sort | head -n "$HEIC_N" |
      xargs -P 2 -I{} sh -c 'heif-enc -q 50 -o "$0/$(basename "{}" .jpg).heic" "{}" >/dev/null' "$HCORPUS"
  fi
  NH=$(find "$HCORPUS" -maxdepth 1 -name '*.heic' | wc -l)
  PY=${PYTHON:-python3}
  # "photosift (libheif's decode)": `[scan] heic_fast_decode = false`, libheif's own decode
  # (HEVC's in-loop filters applied, libheif's colour conversion), to show what the fast
  # decode gives.
  printf '[scan]\nheic_fast_decode = false\n' > "$RES/libheif-decode.toml"
  hyperfine --runs "$RUNS" --export-json "$RES/heic.json" --export-markdown "$RES/heic.md" \
    --prepare "rm -rf $RES/heic-lib $RES/heic-pillow" \
    -n photosift "$BIN --config $CFG --library $RES/heic-lib scan --no-embed $HCORPUS" \
    -n "photosift (libheif's decode)" \
    "$BIN --config $RES/libheif-decode.toml --library $RES/heic-lib scan --no-embed $HCORPUS" \
    -n pillow-heif "$PY $ROOT/scripts/pillow-heif-thumbs.py $HCORPUS $RES/heic-pillow --procs 2"
  python3 - "$RES/heic.json" "$NH" <<'PY' | tee "$RES/heic-ratio.md"
import json, sys
rows = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
n = int(sys.argv[2])
ps = {k: n / r["median"] for k, r in rows.items()}
print(f"| tool | HEIC photos | median s | thumbnails/s | CPU s/photo (user+sys) |")
print("|---|---|---|---|---|")
for k, r in rows.items():
    cpu = (r["user"] + r["system"]) / n
    print(f"| {k} | {n} | {r['median']:.2f} | {ps[k]:.2f} | {cpu:.3f} |")
print()
for k in rows:
    if k != "pillow-heif":
        print(f"{k} / pillow-heif: {ps[k] / ps['pillow-heif']:.2f}x")
PY
fi

uptime | tee "$RES/load.txt"
echo "results: $RES"
