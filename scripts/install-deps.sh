#!/usr/bin/env bash
# Installs Ophtha's build and test dependencies from Debian 12 packages (run as root).
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev libeigen3-dev libstb-dev libfmt-dev doctest-dev pybind11-dev nlohmann-json3-dev
  libsentencepiece-dev zlib1g-dev   # zlib: PNG deflate of synthetic images
  libopenblas0-pthread            # makes libblas.so.3 (LibTorch's BLAS) OpenBLAS, not the reference BLAS
  python3-numpy python3-pytest python3-sentencepiece python3-torch python3-torchvision python3-nltk python3-pil
  python3-sklearn                 # reference for kappa and the per-class metrics in evaluation tests
  python3-jsonschema              # checks docs/manifest.schema.json against the manifest reader (tests/unit/study)
  python3-pybind11 python3-setuptools python3-wheel python3-pip python3-venv  # `pip install ./bindings/python` (pybind11.setup_helpers), offline
  python3-mypy                    # mypy.stubtest checks the Python package's type stubs (bindings/python/tests)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
