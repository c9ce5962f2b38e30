#!/usr/bin/env bash
# Proves that a user's own Bazel workspace can depend on this framework as the
# README says (local_repository + slacker_dependencies()): copies the tutorial
# into a fresh workspace outside this tree, with labels pointing at @slacker,
# builds its server and client there, and runs them against a local ZooKeeper.
# tools/test.sh runs it after the suite (once, not per sanitizer config).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
say() { echo "outside-workspace: $*"; }

work=$(mktemp -d -t slacker-outside.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A fixed place for the workspace and its cache, so that later runs reuse the
# build (Bazel keys its output base on the workspace's path).
root="${SLACKER_OUTSIDE_CACHE:-$HOME/.cache/slacker-outside-workspace}"
ws="$root/workspace"
rm -rf "$ws"
mkdir -p "$ws/examples/tutorial"
cat >"$ws/WORKSPACE" <<WS
workspace(name = "outside")

local_repository(
    name = "slacker",
    path = "$repo",
)

load("@slacker//bazel:deps.bzl", "slacker_dependencies")

slacker_dependencies()
WS
cat >"$ws/.bazelrc" <<'RC'
build --nosandbox_debug
build --cxxopt=-std=c++17 --host_cxxopt=-std=c++17
RC
cp examples/tutorial/greeter.proto examples/tutorial/*.cc "$ws/examples/tutorial/"
# The tutorial's BUILD with this repository's labels as a user writes them.
sed -e 's#"//bazel:#"@slacker//bazel:#' -e 's#"//framework:#"@slacker//framework:#' \
  -e '/default_visibility/d' -e '/exports_files/d' -e '/own tests run the tutorial/d' \
  examples/tutorial/BUILD.bazel >"$ws/examples/tutorial/BUILD.bazel"

say "building the tutorial in a workspace of its own ($ws)..."
(cd "$ws" && bazel --output_user_root="$root" build --noshow_progress \
  //examples/tutorial:greeter_server //examples/tutorial:greeter_client) \
  >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
bin=$(cd "$ws" && bazel --output_user_root="$root" info bazel-bin 2>/dev/null)

bazel build --noshow_progress //tools:zookeeper >/dev/null 2>&1
"$(bazel info bazel-bin 2>/dev/null)/tools/zookeeper" --port=0 >"$work/zk.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 1 300); do [[ -s "$work/zk.out" ]] && break; sleep 0.1; done
zk=$(head -n 1 "$work/zk.out")
"$bin/examples/tutorial/greeter_server" "$zk" >"$work/server.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q '^published' "$work/server.out" && break; sleep 0.1; done
reply=$(timeout 60 "$bin/examples/tutorial/greeter_client" "$zk")
(cd "$ws" && bazel --output_user_root="$root" shutdown) >/dev/null 2>&1 || true
if [[ "$reply" != "Hello, cluster" ]]; then
  echo "outside-workspace: expected 'Hello, cluster', got '$reply'" >&2
  exit 1
fi
say "a workspace outside this tree built the tutorial against @slacker; its client said: $reply"
