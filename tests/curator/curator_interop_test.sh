#!/usr/bin/env bash
# Curator interop: JVM code using Apache Curator's ServiceDiscovery (Debian's
# libcurator-discovery-java, compiled against at test time) finds the instances
# that CuratorServiceInstance registers, with their address, port and payload,
# byte for byte as Curator writes them; sees a payload update; sees a kill -9'd
# instance go when its 2 s session expires (the figure is printed: between 2 s
# and 2 s less the ping interval of a third of it, as the session's timer ran
# from the last ping before the kill), come back when restarted, and go at once
# when unregistered.
#
#   curator_interop_test.sh <zookeeper launcher> <curator_register> <CuratorProbe.java>
set -uo pipefail
launcher="$1"
register="$2"
probe_source="$3"
work="$TEST_TMPDIR/curator"
rm -rf "$work"
mkdir -p "$work"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }

declare -A pids=()
cleanup() {
  local name
  for name in "${!pids[@]}"; do kill -TERM "${pids[$name]}" 2>/dev/null; done
  for name in "${!pids[@]}"; do wait "${pids[$name]}" 2>/dev/null; done
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# --- The class path: Debian's jars, which tools/setup.sh installs.
classpath=""
for jar in curator-x-discovery curator-framework curator-client zookeeper zookeeper-jute \
    guava jackson-databind jackson-core jackson-annotations slf4j-api slf4j-nop; do
  [[ -r "/usr/share/java/$jar.jar" ]] ||
    die "/usr/share/java/$jar.jar is missing: run tools/setup.sh (it installs libcurator-discovery-java and what it needs)"
  classpath+="/usr/share/java/$jar.jar:"
done
command -v javac >/dev/null || die "no javac: run tools/setup.sh (it installs default-jdk-headless)"
javac -d "$work/classes" -cp "$classpath" "$probe_source" 2>"$work/javac.err" ||
  die "javac failed: $(cat "$work/javac.err")"

# --- ZooKeeper.
"$launcher" --port=0 --data_dir="$work/zookeeper" >"$work/zookeeper.out" 2>"$work/zookeeper.err" &
pids[zookeeper]=$!
connect=""
for _ in $(seq 1 600); do  # The launcher's ready line: its connect string.
  connect=$(head -n 1 "$work/zookeeper.out")
  [[ -n "$connect" ]] && break
  kill -0 "${pids[zookeeper]}" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$connect" ]] || die "ZooKeeper did not start: $(cat "$work/zookeeper.err")"

# Waits up to $3 s for a line matching $2 in file $1; prints it.
wait_line() {
  local file=$1 pattern=$2 line
  local deadline=$(($(now_ms) + $3 * 1000))
  while (($(now_ms) < deadline)); do
    line=$(grep -m 1 -E -- "$pattern" "$file") && { echo "$line"; return 0; }
    sleep 0.05
  done
  return 1
}

# Starts instance $1 (port $2, payload $3, payload after SIGUSR1 $4) and waits
# for it to report its registration.
start_instance() {
  local name=$1
  "$register" --zookeeper="$connect" --service=api --address=127.0.0.1 --port="$2" \
    --payload="$3" --next_payload="$4" --session_timeout=2s \
    >"$work/$name.out" 2>"$work/$name.err" &
  pids[$name]=$!
  wait_line "$work/$name.out" '^REGISTERED ' 30 >/dev/null ||
    die "instance $name did not register: $(cat "$work/$name.err")"
}

# The probe's snapshots after line $1 (count and instances, without the time).
# Waits up to $3 s for the snapshot "$2"; prints the time the probe saw it.
wait_snapshot() {
  local after=$1 expected=$2 line
  local deadline=$(($(now_ms) + $3 * 1000))
  while (($(now_ms) < deadline)); do
    line=$(tail -n "+$((after + 1))" "$work/probe.out" |
      awk -v want="$expected" '$1 == "INSTANCES" {
          rest = $0; sub(/^INSTANCES [0-9]+ /, "", rest)
          if (rest == want) { print $2; exit }
        }')
    [[ -n "$line" ]] && { echo "$line"; return 0; }
    grep -q '^ERROR' "$work/probe.out" && break
    kill -0 "${pids[probe]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAIL: the probe never saw: $expected" >&2
  echo "its lines (after line $after):" >&2
  tail -n "+$((after + 1))" "$work/probe.out" >&2
  cat "$work/probe.err" >&2
  return 1
}
lines() { wc -l <"$work/probe.out"; }

a='127.0.0.1:50001|127.0.0.1|50001|{"zone":"a"}|same'
b='127.0.0.1:50002|127.0.0.1|50002|{"zone":"b","weight":2}|same'
b2='127.0.0.1:50002|127.0.0.1|50002|{"zone":"b2","tags":["x","y"]}|same'

echo "--- two instances registered by C++, seen by Curator"
start_instance a 50001 '{"zone":"a"}' '{}'
start_instance b 50002 '{"zone":"b","weight":2}' '{"zone":"b2","tags":["x","y"]}'
java -cp "$classpath$work/classes" CuratorProbe "$connect" /services api 120 \
  >"$work/probe.out" 2>"$work/probe.err" &
pids[probe]=$!
wait_snapshot 0 "2 $a $b" 60 >/dev/null || die "Curator does not see both instances"

echo "--- a payload update"
after=$(lines)
kill -USR1 "${pids[b]}"
wait_snapshot "$after" "2 $a $b2" 30 >/dev/null || fail "Curator does not see the new payload"

echo "--- kill -9 of instance a: gone after the session timeout"
after=$(lines)
killed_at=$(now_ms)
kill -KILL "${pids[a]}"
wait "${pids[a]}" 2>/dev/null
unset 'pids[a]'
if seen_at=$(wait_snapshot "$after" "1 $b2" 30); then
  gone_ms=$((seen_at - killed_at))
  echo "measured: Curator saw the kill -9'd instance go ${gone_ms} ms after the kill (session timeout 2000 ms, pinged every 667 ms)"
  ((gone_ms >= 1000)) || fail "gone after ${gone_ms} ms: sooner than a 2 s session can expire"
  ((gone_ms <= 10000)) || fail "gone only after ${gone_ms} ms (session timeout 2 s)"
else
  fail "Curator still lists the kill -9'd instance"
fi

echo "--- instance a restarted: back"
after=$(lines)
started_at=$(now_ms)
start_instance a 50001 '{"zone":"a"}' '{}'
if seen_at=$(wait_snapshot "$after" "2 $a $b2" 30); then
  echo "measured: Curator saw the restarted instance $((seen_at - started_at)) ms after its process started"
else
  fail "Curator does not see the restarted instance"
fi

echo "--- instance b unregisters (SIGTERM): gone at once"
after=$(lines)
closed_at=$(now_ms)
kill -TERM "${pids[b]}"
wait "${pids[b]}"; rc=$?
unset 'pids[b]'
[[ $rc -eq 0 ]] || fail "instance b exited $rc on SIGTERM: $(cat "$work/b.err")"
grep -q '^CLOSED ' "$work/b.out" || fail "instance b did not report CLOSED"
if seen_at=$(wait_snapshot "$after" "1 $a" 30); then
  echo "measured: Curator saw the unregistered instance go $((seen_at - closed_at)) ms after SIGTERM"
else
  fail "Curator still lists the unregistered instance"
fi

# ("gone" is no failure: a node deleted between the query and the re-read.)
! grep -E '^ERROR|\|differ' "$work/probe.out" ||
  fail "the probe reported errors or bytes unlike Curator's own (above)"
kill -0 "${pids[probe]}" 2>/dev/null || fail "the probe died: $(cat "$work/probe.err")"
for err in "$work"/a.err "$work"/b.err; do  # Under --config=asan|tsan.
  ! grep -q 'Sanitizer' "$err" || { fail "sanitizer report in $err:"; cat "$err" >&2; }
done

echo "--- what the probe saw"
cat "$work/probe.out"
if [[ $failures -ne 0 ]]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "all passed"
