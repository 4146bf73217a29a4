#!/usr/bin/env bash
# The first README command: install dependencies, build, and run the main job on the
# bundled default. Until the report pipeline lands the main job is `ophtha generate` on a
# small LLaMA2-architecture model with seeded random weights that this script writes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
demo=build/demo/tiny-llama-f16.gguf
if [ ! -f "$demo" ]; then
  /usr/bin/python3 tests/tools/make_llama_model.py --out "$demo" --format gguf --type f16 \
    --dim 128 --layers 4 --heads 8 --kv-heads 2 --ffn 344 --ctx 512 --seed 7 --std 0.1
fi
echo "== ophtha generate (random-weight demo model: the text is meaningless, the engine is real) =="
./build/ophtha generate --model "$demo" --prompt "The fundus photograph shows" -n 48 --seed 1
