#!/usr/bin/env bash
# README command one: the example cluster, start to finish, against a ZooKeeper
# of its own. Installs what is missing, builds, starts a local ZooKeeper and two
# example servers on free loopback ports, runs the client walkthrough, then
# kills the leader with kill -9 and shows calls still succeeding and the
# leadership moving, and stops everything it started (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

say() { echo "demo: $*"; }

say "building the ZooKeeper launcher, the example server and client..."
targets=(//tools:zookeeper //examples:server //examples:client)
if ! bazel build --noshow_progress "${targets[@]}" >/dev/null 2>&1; then
  echo "demo: the build failed; run: bazel build ${targets[*]}" >&2
  exit 1
fi
bin=$(bazel info bazel-bin 2>/dev/null)

work=$(mktemp -d -t slacker-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
  say "stopped everything this demo started."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits for the first line of $1 that starts with $2; prints the rest of it.
wait_line() {
  local file=$1 prefix=$2 pid=$3 line
  for _ in $(seq 1 300); do
    line=$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)
    if [[ -n "$line" ]]; then echo "${line#"$prefix"}"; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: $file never said '$prefix'; it said:" >&2
  cat "$file" >&2
  return 1
}

"$bin/tools/zookeeper" --port=0 >"$work/zk.out" 2>"$work/zk.log" &
pids+=($!)
zk=$(wait_line "$work/zk.out" "" "${pids[-1]}")
say "started a local ZooKeeper at $zk."

"$bin/examples/server" --zk="$zk" --cluster=example-cluster --namespaces=api,api2 \
  --server_data='{"weight":1}' >"$work/a.out" 2>"$work/a.log" &
pids+=($!); a_pid=$!
a=$(wait_line "$work/a.out" "published " "$a_pid")
say "server A at $a publishes slacker.example.Api and Api2 (it is first, so it leads Api)."
"$bin/examples/server" --zk="$zk" --cluster=example-cluster --namespaces=api \
  --server_data='{"weight":2}' >"$work/b.out" 2>"$work/b.log" &
pids+=($!); b_pid=$!
b=$(wait_line "$work/b.out" "published " "$b_pid")
say "server B at $b publishes slacker.example.Api."

say "the client walks through the cluster channel and fan-out calls:"
"$bin/examples/client" --zk="$zk" --cluster=example-cluster 2>"$work/client.log" |
  sed 's/^/demo:   /'

say "kill -9 of server A ($a), the leader: no goodbye, ZooKeeper notices when its session ends."
kill -KILL "$a_pid"
wait "$a_pid" 2>/dev/null || true
"$bin/examples/client" --zk="$zk" --cluster=example-cluster --after_crash 2>"$work/client2.log" |
  sed 's/^/demo:   /'
say "the calls went to B ($b) without a client restart, and B took over the leadership."
