#!/usr/bin/env bash
# Configures (once) and builds Ophtha in build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPYTHON_EXECUTABLE=/usr/bin/python3 -DOPHTHA_BUILD_PYTHON=ON
elif ! grep -q '^OPHTHA_BUILD_PYTHON:BOOL=ON' build/CMakeCache.txt; then
  cmake -S . -B build -DOPHTHA_BUILD_PYTHON=ON  # a build/ configured before the Python package existed
fi
cmake --build build -j "$(nproc)"
