#!/usr/bin/env bash
# README command one: runs the example against a ZooKeeper of its own.
# Installs what is missing, builds, starts a local ZooKeeper on a free loopback port,
# runs the example, and stops everything it started, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

say() { echo "demo: $*"; }

say "building the ZooKeeper launcher and the example..."
bazel build --noshow_progress //tools:zookeeper //examples:roundtrip 2>&1 | grep -E '^(ERROR|FAILED)' >&2 || true
bin=$(bazel info bazel-bin 2>/dev/null)
[[ -x "$bin/tools/zookeeper" && -x "$bin/examples/roundtrip" ]] || {
  echo "demo: the build failed; run: bazel build //tools:zookeeper //examples:roundtrip" >&2
  exit 1
}

work=$(mktemp -d -t slacker-demo.XXXXXX)
zk_pid=""
cleanup() {
  if [[ -n "$zk_pid" ]] && kill -0 "$zk_pid" 2>/dev/null; then
    kill -TERM "$zk_pid" 2>/dev/null || true
    wait "$zk_pid" 2>/dev/null || true
    say "stopped ZooKeeper."
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/tools/zookeeper" --port=0 >"$work/connect" 2>"$work/zookeeper.log" &
zk_pid=$!
connect=""
for _ in $(seq 1 300); do
  connect=$(head -n 1 "$work/connect" 2>/dev/null || true)
  [[ -n "$connect" ]] && break
  kill -0 "$zk_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$connect" ]]; then
  echo "demo: ZooKeeper did not start; its output:" >&2
  cat "$work/zookeeper.log" >&2
  exit 1
fi
say "started a local ZooKeeper at $connect (pid $zk_pid)."
"$bin/examples/roundtrip" --zk="$connect" | sed 's/^/demo: /'
say "done; everything this demo started is stopped on exit."
