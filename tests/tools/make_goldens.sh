#!/usr/bin/env bash
# Regenerates tests/golden/llamacpp/*.json: writes the test models (seeded, not committed) into a
# scratch folder, runs llama.cpp on them (tests/tools/llamacpp_reference.mjs), and cross-checks every
# golden against a float64 PyTorch forward (tests/tools/check_model_layouts.py --golden).
#   tests/tools/make_goldens.sh [SCRATCH_DIR]        (default: a new temporary folder, removed at the end)
# Needs /usr/bin/python3 with numpy, torch and sentencepiece, Node 20, and node-llama-cpp 3.21.1
# (in a node_modules above this repo, or in $LLAMACPP_NODE_MODULES, default /work/tools/llamacpp/node_modules).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python=/usr/bin/python3
out="$repo/tests/golden/llamacpp"
if [[ $# -ge 1 ]]; then
  scratch="$1"
  mkdir -p "$scratch"
else
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
fi
mkdir -p "$out"

# The models. Their std keeps greedy outputs varied (the tied model repeats tokens at 0.1); the GQA
# model's ffn is 352 (not LLaMA's 344 for dim 128) so that Q8_0/Q4_0 blocks of 32 divide every row.
declare -A shape=(
  [gqa]="--dim 128 --layers 4 --heads 8 --kv-heads 2 --ffn 352 --ctx 256 --seed 101 --std 0.1"
  [mha]="--dim 96 --layers 3 --heads 6 --kv-heads 6 --ffn 264 --ctx 256 --seed 202 --std 0.1"
  [tied]="--dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 172 --ctx 256 --seed 303 --std 0.15 --tied"
)

cat > "$scratch/prompts.json" <<'EOF'
[
  "The fundus photograph shows",
  "Optical coherence tomography of the macula reveals",
  "Diabetic retinopathy is graded as",
  "Intraocular pressure was 24 mmHg in the right eye; the optic disc",
  "Patient: 65-year-old male, blurred vision for 3 months. Findings:",
  "眼底照相显示视网膜",
  "OCT: 黄斑区 subretinal fluid",
  "患者右眼视力下降三个月，眼压正常，",
  "青光眼的杯盘比为0.7，视野检查提示",
  "睑板腺缺失 ≥ 2/3 (meiboscore 3) 😐"
]
EOF

make_model() {  # NAME TYPE -> prints the model path; the golden records the same arguments
  local args="--format gguf --type $2 ${shape[$1]}"
  $python "$repo/tests/tools/make_llama_model.py" --out "$scratch/$1-$2.gguf" $args > /dev/null
  echo "$scratch/$1-$2.gguf"
}

reference() {  # NAME TYPE [extra reference arguments]
  local name="$1" type="$2"
  shift 2
  local model
  model="$(make_model "$name" "$type")"
  node "$repo/tests/tools/llamacpp_reference.mjs" --model "$model" --name "$name-$type" \
    --model-args "--format gguf --type $type ${shape[$name]}" --out "$out/$name-$type.json" "$@"
}

for name in gqa mha tied; do
  for type in f32 f16; do
    reference "$name" "$type" --prompts "$scratch/prompts.json" --gen 80
  done
done
for type in q8_0 q4_0; do
  reference gqa "$type" --teacher-force "$out/gqa-f32.json"
done

$python "$repo/tests/tools/check_model_layouts.py" --golden "$out"/*.json
ls -l "$out"
