#!/usr/bin/env bash
# tools/bench_discovery_cost.py on a made-up run: every case becomes a row with
# its numbers, a failed case says so, and each goal's verdict follows the
# numbers it was given (one met, one missed of each kind).
set -euo pipefail
script=$(dirname "$0")/bench_discovery_cost.py
[[ -f $script ]] || script=tools/bench_discovery_cost.py
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$dir/run.json" <<'JSON'
{"benchmarks": [
 {"name": "x", "run_name": "BM_DiscoveryCost/recursive/100/1/iterations:1/real_time",
  "requests_per_change": 1.5, "idle_requests_per_change": 0.2,
  "bytes_per_change": 686, "client_cpu_us": 900,
  "zookeeper_cpu_ms": 3.3, "watches_per_view": 1, "fresh_reads": 312,
  "restart_s": 1.8, "cut_s": 0.9},
 {"name": "x", "run_name": "BM_DiscoveryCost/recursive/10000/1/iterations:1/real_time",
  "requests_per_change": 1.5, "bytes_per_change": 682, "client_cpu_us": 97000,
  "zookeeper_cpu_ms": 5, "watches_per_view": 1, "fresh_reads": 30012,
  "restart_s": 4.2, "cut_s": 41.5},
 {"name": "x", "run_name": "BM_DiscoveryCost/watches/10000/1/iterations:1/real_time",
  "error_occurred": true, "error_message": "the views did not show the cluster"}]}
JSON
out=$(python3 "$script" "$dir/run.json")
grep -qF "| 100 | 1 | recursive | 1.5 | 0.2 | 686 | 900 | 3.3 | 1 | 312 | 1.8 | 0.9 |" <<<"$out" ||
  fail "no row for 100 servers: $out"
grep -qF "| 10,000 | 1 | watches | failed: the views did not show the cluster" <<<"$out" ||
  fail "the failed case is not reported: $out"
grep -qF "independent of N: **met** (at most 1.5 requests and 686 bytes" <<<"$out" ||
  fail "per-change verdict: $out"
grep -qF "O(1): **met**" <<<"$out" || fail "watch verdict: $out"
grep -qF "N + 10 reads: **missed** (30,012" <<<"$out" || fail "fresh-read verdict: $out"
grep -qF "at N = 10,000: **missed** (slowest 41.5 s)" <<<"$out" ||
  fail "recovery verdict: $out"
echo "PASS"
