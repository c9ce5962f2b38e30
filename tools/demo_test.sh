#!/usr/bin/env bash
# tools/demo.sh, the README's first command, run whole on the built programs
# (SLACKER_DEMO_BIN): it succeeds and its output, stdout and stderr together,
# is its story only: every line "demo: ...", no shell job-control line such as
# "line 72: 21168 Killed ..." when it kills the leader with kill -9.
set -uo pipefail
out="${TEST_TMPDIR:-/tmp}/demo.out"
SLACKER_DEMO_BIN="$PWD" tools/demo.sh >"$out" 2>&1
code=$?
fail() {
  echo "FAIL: $*" >&2
  echo "--- the demo said:" >&2
  cat "$out" >&2
  exit 1
}
[[ $code -eq 0 ]] || fail "tools/demo.sh exited $code"
grep -q "^demo: the calls went to B" "$out" || fail "the story did not reach the crash's end"
grep -q "^demo: stopped everything this demo started.$" "$out" || fail "no clean stop"
if grep -v "^demo: " "$out" >/dev/null; then
  fail "lines that are not the story: $(grep -v '^demo: ' "$out" | head -3)"
fi
echo "PASS: $(wc -l <"$out") lines, all of them the story"
