#!/usr/bin/env bash
# The first README command: install dependencies, build, and run the main job — `ophtha report` —
# on the bundled example study (examples/images: both eyes, CFP + OCT + meibography, synthetic).
# Until the trained demo model lands (models/demo), the report is written by a bundle of seeded
# RANDOM weights that this script makes: the pipeline is the real one, the text is meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
model=models/demo
if [ ! -f "$model/ophtha-bundle.json" ]; then
  model=build/demo/random-bundle
  [ -f "$model/ophtha-bundle.json" ] || /usr/bin/python3 tests/tools/make_random_bundle.py --out "$model" --seed 7
  echo "== ophtha report with a RANDOM-weight test bundle (no trained model yet): the text is meaningless =="
fi
images=()
for eye in OD OS; do
  for modality in cfp oct osa; do
    file=$(ls examples/images/syn-000033_${eye}_${modality}.*)
    images+=(--image "$file:$modality:$eye")
  done
done
extra=(); [ "$model" = models/demo ] || extra=(--no-image-checks)  # random heads would reject images at random
./build/ophtha report --model "$model" "${images[@]}" "${extra[@]}" --lang en --max-tokens 48
