#!/usr/bin/env bash
# Runs one fuzz target (see fuzz_test.bzl): libFuzzer for a bounded time, or
# the replay driver, on the corpus and regression inputs in the tree.
set -euo pipefail

runfiles="${RUNFILES_DIR:-$0.runfiles}"
binary="$runfiles/%{binary}"

if (($#)); then
  # `bazel run ... -- ARGS`: the fuzzer itself, with the caller's arguments.
  exec "$binary" "$@"
fi

folders=()
for folder in %{folders}; do
  folders+=("$runfiles/$folder")
done
outputs="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}"
mkdir -p "$outputs"

if [[ "%{engine}" == libfuzzer ]]; then
  # libFuzzer writes what it finds into the first folder: a scratch one, so
  # the tree's corpus is read only.
  scratch="${TEST_TMPDIR:-$(mktemp -d)}/new_inputs"
  mkdir -p "$scratch"
  echo "fuzz: libFuzzer for %{seconds} s on %{folders}" >&2
  exec "$binary" -max_total_time=%{seconds} -max_len=%{max_len} -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$outputs/" \
    "$scratch" "${folders[@]}"
fi
echo "fuzz: replay of %{folders} and %{mutations} mutations of them (no libFuzzer in this configuration: a sanitizer config, or --//bazel/fuzz:engine=replay)" >&2
exec "$binary" -runs=%{mutations} -max_len=%{max_len} -artifact_prefix="$outputs/" "${folders[@]}"
