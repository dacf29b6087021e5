#!/usr/bin/env bash
# Runs faultline's M/M/1 (scenarios/mm1.ron, 10 million customers, metrics and trace hash on)
# next to the two references in ../shared/bench, in the same minute on the same machine, and
# prints customers per second and the ratios BENCHMARKS.md quotes. Machines here are shared and
# noisy: each program runs 3 times and the best run counts.
#
# Usage: benches/compare.sh [CUSTOMERS] (default 10000000; SimPy runs 200000 either way)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000}
BENCH=${FAULTLINE_BENCH_REFS:-../shared/bench}
[ -d "$BENCH" ] || { echo "no reference programs at $BENCH (set FAULTLINE_BENCH_REFS)"; exit 2; }
python3 -c "import simpy" 2>/dev/null || pip install --quiet simpy
cargo build --profile perf --quiet
FLOOR_DIR=$(mktemp -d)
cp -r "$BENCH/mm1_floor/." "$FLOOR_DIR/"
cargo build --release --quiet --manifest-path "$FLOOR_DIR/Cargo.toml"
floor_bin="$FLOOR_DIR/target/release/mm1_floor"
# duration so that about N customers arrive at 0.9 per second
dur=$(python3 -c "print(int($N/0.9)+1)")s

best() { sort -n | tail -1; }
fl=$(for i in 1 2 3; do "$floor_bin" "$N" | sed -E 's/.*customers_per_s=([0-9]+).*/\1/'; done | best)
fa=$(for i in 1 2 3; do
  out=$(/usr/bin/time -f "%e %M" ./target/perf/faultline run scenarios/mm1.ron --duration "$dur" --quiet --out "$FLOOR_DIR/fl" 2>&1)
  s=$(python3 -c "import json;print(json.load(open('$FLOOR_DIR/fl/summary.json'))['services'][0]['completed'])")
  w=$(python3 -c "import json;print(json.load(open('$FLOOR_DIR/fl/manifest.json'))['wall_seconds'])")
  echo "$out" | tail -1 > "$FLOOR_DIR/mem.$i"
  python3 -c "print(int($s/$w))"
done | best)
mem_kb=$(cat "$FLOOR_DIR"/mem.* | awk '{print $2}' | sort -n | tail -1)
sp=$(for i in 1 2 3; do python3 "$BENCH/mm1_simpy.py" 200000 | sed -E 's/.*customers_per_s=([0-9]+).*/\1/'; done | best)
echo "customers per second (best of 3), $N customers:"
printf "  floor (hand-written heap loop): %12d\n" "$fl"
printf "  faultline mm1.ron:              %12d   (peak RSS %d MB)\n" "$fa" "$((mem_kb / 1024))"
printf "  SimPy (200000 customers):       %12d\n" "$sp"
python3 -c "print(f'  faultline / floor = {$fa/$fl:.3f}   (target >= 0.5)'); print(f'  faultline / SimPy = {$fa/$sp:.1f}   (needs >= 50)')"
rm -rf "$FLOOR_DIR"
