#!/usr/bin/env bash
# README command one: the example cluster, start to finish, against a ZooKeeper
# of its own. Installs what is missing, builds, starts a local ZooKeeper and two
# example servers on free loopback ports, runs the client walkthrough, then
# kills the leader with kill -9 and shows calls still succeeding and the
# leadership moving, and stops everything it started (also on Ctrl-C).
# Its output is its story, every line "demo: ...".
#
# SLACKER_DEMO_BIN=DIR skips the setup and the build and takes the programs
# from DIR (tools/zookeeper, examples/server, examples/client), as
# //tools:demo_test does.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "demo: $*"; }

if [[ -n "${SLACKER_DEMO_BIN:-}" ]]; then
  bin=$SLACKER_DEMO_BIN
else
  tools/setup.sh
  say "building the ZooKeeper launcher, the example server and client..."
  targets=(//tools:zookeeper //examples:server //examples:client)
  if ! bazel build --noshow_progress "${targets[@]}" >/dev/null 2>&1; then
    echo "demo: the build failed; run: bazel build ${targets[*]}" >&2
    exit 1
  fi
  bin=$(bazel info bazel-bin 2>/dev/null)
fi

work=$(mktemp -d -t slacker-demo.XXXXXX)
pids=()
# Children start in a subshell ("$(cmd & echo $!)"), so that they are not jobs
# of this shell: bash reports no "Killed ..." line when one is killed, and the
# demo's output is its story only. Their output goes to files.
start() {
  local out=$1 err=$2
  shift 2
  ("$@" >"$out" 2>"$err" </dev/null & echo $!)
}
# Whether pid $1 runs (a zombie does not: its parent is not this shell).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}
# Sends $2 (a signal) to pid $1 and waits, up to 10 s, until it is gone.
stop() {
  local pid=$1 signal=$2
  kill "-$signal" "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  for pid in "${pids[@]}"; do stop "$pid" TERM; done
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
    alive "$pid" || break
    sleep 0.1
  done
  echo "demo: $file never said '$prefix'; it said:" >&2
  cat "$file" >&2
  return 1
}

zk_pid=$(start "$work/zk.out" "$work/zk.log" "$bin/tools/zookeeper" --port=0)
pids+=("$zk_pid")
zk=$(wait_line "$work/zk.out" "" "$zk_pid")
say "started a local ZooKeeper at $zk."

a_pid=$(start "$work/a.out" "$work/a.log" "$bin/examples/server" --zk="$zk" \
  --cluster=example-cluster --namespaces=api,api2 --server_data='{"weight":1}')
pids+=("$a_pid")
a=$(wait_line "$work/a.out" "published " "$a_pid")
say "server A at $a publishes slacker.example.Api and Api2 (it is first, so it leads Api)."
b_pid=$(start "$work/b.out" "$work/b.log" "$bin/examples/server" --zk="$zk" \
  --cluster=example-cluster --namespaces=api --server_data='{"weight":2}')
pids+=("$b_pid")
b=$(wait_line "$work/b.out" "published " "$b_pid")
say "server B at $b publishes slacker.example.Api."

say "the client walks through the cluster channel and fan-out calls:"
"$bin/examples/client" --zk="$zk" --cluster=example-cluster 2>"$work/client.log" |
  sed 's/^/demo:   /'

say "kill -9 of server A ($a), the leader: no goodbye, ZooKeeper notices when its session ends."
stop "$a_pid" KILL
"$bin/examples/client" --zk="$zk" --cluster=example-cluster --after_crash 2>"$work/client2.log" |
  sed 's/^/demo:   /'
say "the calls went to B ($b) without a client restart, and B took over the leadership."
