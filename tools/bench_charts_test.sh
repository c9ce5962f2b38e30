#!/usr/bin/env bash
# tools/bench_charts.py on two made-up runs: it must draw the newest run's
# charts and a history over both, with the numbers it was given.
set -euo pipefail
script=$(dirname "$0")/bench_charts.py
[[ -f $script ]] || script=tools/bench_charts.py
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# run NAME CLUSTER_RATE: a cluster.json whose plain gRPC row does 1000 calls/s
# at 10 µs of CPU a call, and cluster_random CLUSTER_RATE calls/s at 12 µs.
run() {
  mkdir -p "$dir/$1"
  cat > "$dir/$1/cluster.json" <<JSON
{"context": {"num_cpus": 2}, "benchmarks": [
 {"name": "x", "run_name": "BM_Unary/plain_round_robin/real_time", "aggregate_name": "median",
  "items_per_second": 1000, "client_cpu_us": 10},
 {"name": "x", "run_name": "BM_Unary/plain_round_robin/real_time", "aggregate_name": "cv",
  "items_per_second": 0.1},
 {"name": "x", "run_name": "BM_Unary/cluster_random/real_time", "aggregate_name": "median",
  "items_per_second": $2, "client_cpu_us": 12},
 {"name": "x", "run_name": "BM_FanOutSingle/real_time", "aggregate_name": "median",
  "p50_us": 100, "client_cpu_us": 50},
 {"name": "x", "run_name": "BM_FanOut/2/real_time", "aggregate_name": "median",
  "p50_us": 180, "client_cpu_us": 90},
 {"name": "x", "run_name": "BM_FanOut/4/real_time", "aggregate_name": "median",
  "p50_us": 300, "client_cpu_us": 170}]}
JSON
}
run 2026-11-30T1000Z-aaaaaaa 900
run 2026-12-01T1000Z-bbbbbbb 990

out=$("$script" "$dir")
expected=$'2026-12-01T1000Z-bbbbbbb/unary.svg\n2026-12-01T1000Z-bbbbbbb/fanout.svg\nhistory.svg'
[[ $out == "$expected" ]] || fail "printed '$out', expected '$expected'"
for f in 2026-12-01T1000Z-bbbbbbb/unary.svg 2026-12-01T1000Z-bbbbbbb/fanout.svg history.svg; do
  grep -q '<svg' "$dir/$f" || fail "$f is not an SVG"
done
[[ ! -e $dir/2026-11-30T1000Z-aaaaaaa/unary.svg ]] || fail "drew charts for an older run"
grep -q cluster_random "$dir/2026-12-01T1000Z-bbbbbbb/unary.svg" || fail "unary chart lacks its channel"
for run in 2026-11-30T1000Z-aaaaaaa 2026-12-01T1000Z-bbbbbbb; do
  grep -q "$run" "$dir/history.svg" || fail "history lacks run $run"
done
# No run: a one-line error and a failing exit.
empty=$(mktemp -d)
if msg=$("$script" "$empty" 2>&1); then fail "succeeded with no runs"; fi
rmdir "$empty"
[[ $(wc -l <<< "$msg") == 1 && $msg == *"no run"* ]] || fail "no-run error: '$msg'"
echo PASS
