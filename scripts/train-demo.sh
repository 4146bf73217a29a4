#!/usr/bin/env bash
# Trains the demo model bundle from synthetic studies and measures it (docs/training.md):
#   bash scripts/train-demo.sh [WORK_DIR]        (default build/demo-work)
# 1. synthetic training studies (seed 1) and a held-out test split (seed 2);
# 2. the SentencePiece tokenizer on the training reports;
# 3. the vision stage (scripts/demo/vision.json), then the multimodal stage (multimodal.json), then
#    the disc reader (disc.json: a vision stage on disc-centred crops of the fundus photographs)
#    and the tile reader (tiles.json: one on 3 x 3 tiles of each photograph), which join the
#    bundle the multimodal stage wrote;
# 4. reports of the test split on both routes (images; findings text only) scored by ophtha eval.
# The bundle lands in WORK_DIR/bundle; copy it to models/demo to make it the default.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-build/demo-work}"
ophtha="$PWD/build/ophtha"
mkdir -p "$work"
cp scripts/demo/vision.json scripts/demo/multimodal.json scripts/demo/disc.json scripts/demo/tiles.json "$work"/
cd "$work"
start=$(date +%s)
[ -f train/manifest.jsonl ] || "$ophtha" synth --out train --studies 4000 --seed 1 --split 0.9,0.1,0 --threads 2
[ -f test/manifest.jsonl ] || "$ophtha" synth --out test --studies 200 --seed 2 --split 0,0,1 --threads 2
/usr/bin/python3 "$OLDPWD/scripts/demo/train_tokenizer.py" --manifest train/manifest.jsonl --vocab 4000 --out tokenizer.model
"$ophtha" train --config vision.json
"$ophtha" train --config multimodal.json
"$ophtha" train --config disc.json
"$ophtha" train --config tiles.json
echo "training took $(( $(date +%s) - start )) s"
"$ophtha" report --model bundle --manifest test/manifest.jsonl --split test --out test-pred.jsonl --jobs 2
"$ophtha" eval --manifest test/manifest.jsonl --predictions test-pred.jsonl --out eval-images
"$ophtha" report --model bundle --manifest test/manifest.jsonl --split test --text-only --out test-pred-text.jsonl --jobs 2
"$ophtha" eval --manifest test/manifest.jsonl --predictions test-pred-text.jsonl --out eval-text-only
du -sh bundle
