#!/usr/bin/env bash
# Sweep throughput: the shipped example sweep (scenarios/metastable_retries.ron, client load x
# retry attempts, 10 seeds: 360 runs) with -j 1 and with -j 2, alternating, 3 times each; the
# best of each counts (machines here are shared and noisy). Prints runs per second and the
# 2-thread / 1-thread ratio BENCHMARKS.md quotes. The outputs of every run are compared too:
# they must be byte-identical whatever -j is.
#
# Usage: benches/sweep.sh [SEEDS] (default 1..=10)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1..=10}
cargo build --profile perf --quiet
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
rate() {
  ./target/perf/faultline sweep scenarios/metastable_retries.ron \
    --set 'clients.shoppers.load.rate_per_s=150..=350:25' \
    --set 'clients.shoppers.policies[0].max_attempts=1,2,3,4' \
    --seeds "$SEEDS" -j "$1" --out "$DIR/j$1" |
    sed -nE 's/.* ([0-9.]+) runs\/s on .*/\1/p'
}
best() { sort -g | tail -1; }
: > "$DIR/r1"; : > "$DIR/r2"
for i in 1 2 3; do
  rate 1 >> "$DIR/r1"
  rate 2 >> "$DIR/r2"
  cmp -s "$DIR/j1/runs.csv" "$DIR/j2/runs.csv" && cmp -s "$DIR/j1/points.csv" "$DIR/j2/points.csv" ||
    { echo "outputs differ between -j 1 and -j 2"; exit 1; }
done
r1=$(best < "$DIR/r1"); r2=$(best < "$DIR/r2")
runs=$(($(wc -l < "$DIR/j1/runs.csv") - 1))
echo "sweep throughput, $runs runs, best of 3 (runs per second):"
echo "  -j 1: $r1   (all: $(tr '\n' ' ' < "$DIR/r1"))"
echo "  -j 2: $r2   (all: $(tr '\n' ' ' < "$DIR/r2"))"
python3 -c "print(f'  -j 2 / -j 1 = {$r2/$r1:.2f}   (needs >= 1.8 on 2 cores)')"
echo "  runs.csv and points.csv byte-identical for -j 1 and -j 2: yes"
