#!/usr/bin/env bash
# Runs dashboard_browser_test.py (its first argument) with Debian's python3.
set -euo pipefail
script="$1"
shift
exec /usr/bin/python3 "$script" "$@"
