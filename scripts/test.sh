#!/usr/bin/env bash
# The second README command: build what changed, then run every test suite and print each
# runner's summary. Exits non-zero when any suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh || exit 1
status=0
echo "== C++ unit and conformance tests (ctest) =="
ctest --test-dir build --output-on-failure -j "$(nproc)" || status=1
exit $status
