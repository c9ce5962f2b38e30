#!/usr/bin/env bash
# README command two: installs what is missing, then builds and runs the whole suite.
#   tools/test.sh                    # bazel test //...
#   tools/test.sh --config=asan      # any extra arguments go to `bazel test`
#   tools/test.sh --all-configs      # plain, then AddressSanitizer, then ThreadSanitizer (CI)
# Then it builds and runs the tutorial in a workspace outside this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh

configs=("")
if [[ "${1:-}" == "--all-configs" ]]; then
  shift
  configs=("" "--config=asan" "--config=tsan")
fi
log=$(mktemp -t slacker-test.XXXXXX)
trap 'rm -f "$log"' EXIT
passed=0
for config in "${configs[@]}"; do
  echo "test: bazel test ${config:-(default config)} //... $*" >&2
  # shellcheck disable=SC2086  # an empty config must vanish.
  bazel test $config "$@" //... 2>&1 | tee "$log"
  # Bazel's summary: "Executed N out of M tests: M tests pass."
  count=$(sed -n 's/^Executed [0-9]* out of \([0-9]*\) tests\?: \1 tests\? pass.*/\1/p' "$log" | tail -n 1)
  passed=$((passed + ${count:-0}))
done
# The README's promise that a workspace of one's own can depend on the
# framework: built and run outside this tree (once, not per config).
echo "test: a user's own workspace (tools/outside_workspace_check.sh)" >&2
tools/outside_workspace_check.sh
passed=$((passed + 1))
echo "test: ${passed} passed, 0 failed"
