#!/usr/bin/env bash
# Every README.md code block preceded by "<!-- file: PATH -->" must be PATH's
# whole text (the tutorial quotes files that the build compiles and
# tutorial_test runs).
set -euo pipefail
python3 - <<'PY'
import re, sys
readme = open("README.md").read()
blocks = re.findall(r"<!-- file: (\S+) -->\n```[a-z+]*\n(.*?)```\n", readme, re.S)
if len(blocks) < 4:
    sys.exit(f"expected the tutorial's 4 quoted files in README.md, found {len(blocks)}")
failed = False
for path, text in blocks:
    if open(path).read() != text:
        print(f"README.md's copy of {path} differs from the file", file=sys.stderr)
        failed = True
print(f"{len(blocks)} quoted files checked")
sys.exit(1 if failed else 0)
PY
