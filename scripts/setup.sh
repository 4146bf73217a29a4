#!/usr/bin/env bash
# The first README command: install dependencies, build, and run the main job — `ophtha report` —
# with the bundled demo model (models/demo) on the bundled example study (examples/images: both
# eyes, CFP + OCT + meibography). The demo model and the example images are SYNTHETIC: the report
# says so, and it makes no clinical claim.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
images=()
for eye in OD OS; do
  for modality in cfp oct osa; do
    file=$(ls examples/images/syn-000033_${eye}_${modality}.*)
    images+=(--image "$file:$modality:$eye")
  done
done
./build/ophtha report --model models/demo "${images[@]}" --lang en
