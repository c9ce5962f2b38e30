#!/usr/bin/env bash
# The launcher as a user runs it: stdout carries only the connect string, the
# server answers, SIGTERM stops it cleanly, and a kill -9 of the launcher
# leaves no Java process behind (the children die with their parent).
set -uo pipefail
launcher="$1"
work="$TEST_TMPDIR/launcher"
mkdir -p "$work"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Answer of a four-letter word, or nothing if the port is closed.
four() {
  local port=${1##*:} word=$2
  (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf '%s' "$word" >&3 && cat <&3) 2>/dev/null
}

# Starts the launcher with "$@"; sets pid and connect.
start() {
  : >"$work/out"
  "$launcher" "$@" >"$work/out" 2>"$work/err" &
  pid=$!
  connect=""
  for _ in $(seq 1 600); do  # Waits on the launcher's own ready line.
    connect=$(head -n 1 "$work/out")
    [[ -n "$connect" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  fail "launcher $* printed no connect string; stderr:"; cat "$work/err" >&2
  return 1
}

java_pids() { pgrep -f -- "$1/node-" || true; }

# Waits up to 30 s for no process of data dir $1 to remain.
none_left() {
  for _ in $(seq 1 300); do
    [[ -z "$(java_pids "$1")" ]] && return 0
    sleep 0.1
  done
  return 1
}

echo "--- standalone, SIGTERM"
if start --port=0 --data_dir="$work/one"; then
  [[ "$connect" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "connect string '$connect'"
  [[ $(wc -l <"$work/out") -eq 1 ]] || fail "stdout has more than the connect string"
  [[ $(four "$connect" ruok) == imok ]] || fail "no imok from $connect"
  [[ -n "$(java_pids "$work/one")" ]] || fail "no Java process for $work/one"
  kill -TERM "$pid"
  wait "$pid"; rc=$?
  [[ $rc -eq 0 ]] || fail "exit code $rc after SIGTERM"
  none_left "$work/one" || fail "Java still running after SIGTERM"
  grep -q "stopped" "$work/err" || fail "no 'stopped' on stderr"
  [[ -f "$work/one/node-0/zoo.cfg" ]] || fail "--data_dir was not kept"
fi

echo "--- ensemble of 3, kill -9 of the launcher"
if start --port=0 --ensemble=3 --data_dir="$work/three"; then
  IFS=, read -r -a hosts <<<"$connect"
  [[ ${#hosts[@]} -eq 3 ]] || fail "ensemble connect string '$connect'"
  for host in "${hosts[@]}"; do
    [[ $(four "$host" srvr) == *"Mode: "* ]] || fail "$host does not serve"
  done
  [[ $(java_pids "$work/three" | wc -l) -eq 3 ]] || fail "expected 3 Java processes"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  none_left "$work/three" || fail "Java processes outlived a kill -9 of the launcher: $(java_pids "$work/three")"
fi

echo "--- usage errors"
"$launcher" --ensemble=2 >/dev/null 2>"$work/err"; rc=$?
[[ $rc -eq 2 ]] || fail "--ensemble=2 exited $rc, not 2"
grep -q "odd number" "$work/err" || fail "--ensemble=2 message: $(cat "$work/err")"

echo "--- a port in use"
if start --port=0 --data_dir="$work/taken"; then
  port=${connect##*:}
  "$launcher" --port="$port" >"$work/out2" 2>"$work/err2"; rc=$?
  [[ $rc -eq 1 ]] || fail "a taken port exited $rc, not 1"
  grep -q -- "--port=0" "$work/err2" || fail "no hint on a taken port: $(cat "$work/err2")"
  [[ ! -s "$work/out2" ]] || fail "stdout not empty on failure"
  kill -TERM "$pid"; wait "$pid"
fi

if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all passed"
