#!/usr/bin/env bash
# Configures (once) and builds Ophtha in build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYTHON_EXECUTABLE=/usr/bin/python3
fi
cmake --build build -j "$(nproc)"
