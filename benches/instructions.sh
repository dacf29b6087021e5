#!/usr/bin/env bash
# Instructions per M/M/1 customer, faultline's `mm1.ron` against the floor of ../shared/bench,
# counted by cachegrind (exact and repeatable, unlike the wall clock of benches/compare.sh;
# never part of a test's pass or fail). Each program runs at two sizes and the difference is
# divided by the customers between them, so what both do once (start-up, faultline's warm-up
# hour, the summary and its files) cancels out. Issue 18's target: at most 2.5x the floor.
#
# Usage: benches/instructions.sh [CUSTOMERS] (default 5000000: the sizes are CUSTOMERS and
# twice as many; about two minutes under cachegrind). Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000000}
BENCH=${FAULTLINE_BENCH_REFS:-../shared/bench}
[ -d "$BENCH" ] || { echo "no reference programs at $BENCH (set FAULTLINE_BENCH_REFS)"; exit 2; }
command -v valgrind >/dev/null || { echo "needs valgrind (cachegrind); install it, e.g. apt-get install valgrind"; exit 2; }
cargo build --profile perf --quiet
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cp -r "$BENCH/mm1_floor/." "$DIR/floor/"
cargo build --release --quiet --manifest-path "$DIR/floor/Cargo.toml"

# Instructions a command executes (cachegrind's "I refs"), its output discarded.
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | sed -nE 's/.*I *refs: *([0-9,]+).*/\1/p' | tr -d ,
}
# faultline for about $1 customers; prints "instructions customers" (customers served after
# the warm-up, from summary.json: the warm-up's are the same at both sizes).
faultline() {
  local dur out i c
  dur=$(python3 -c "print(int($1 / 0.9) + 1)")s
  out="$DIR/run.$1"
  i=$(count ./target/perf/faultline run scenarios/mm1.ron --duration "$dur" --quiet --out "$out")
  c=$(python3 -c "import json; print(json.load(open('$out/summary.json'))['services'][0]['completed'])")
  echo "$i $c"
}
read -r fa1 fc1 < <(faultline "$N")
read -r fa2 fc2 < <(faultline "$((2 * N))")
fl1=$(count "$DIR/floor/target/release/mm1_floor" "$N")
fl2=$(count "$DIR/floor/target/release/mm1_floor" "$((2 * N))")
python3 - "$fa1" "$fc1" "$fa2" "$fc2" "$fl1" "$fl2" "$N" <<'EOF'
import sys
fa1, fc1, fa2, fc2, fl1, fl2, n = map(int, sys.argv[1:])
fa = (fa2 - fa1) / (fc2 - fc1)
fl = (fl2 - fl1) / n
print(f"instructions per customer (cachegrind; {fc2 - fc1} customers between the two sizes):")
print(f"  floor (hand-written heap loop): {fl:8.1f}")
print(f"  faultline mm1.ron:              {fa:8.1f}")
print(f"  faultline / floor = {fa / fl:.3f}   (target <= 2.5)")
EOF
