#!/usr/bin/env bash
# Conformance of ophtha::Tokenizer with SentencePiece, beyond the committed golden:
#   1. the committed tests/golden/tokenizer_cases.jsonl is exactly what tests/tools/tokenizer_cases.py
#      writes today with the installed sentencepiece (fails when the golden is stale or the reference
#      changed its answers);
#   2. for each extra seed, a fresh case file (~3,100 strings, byte strings, decode-only id lists and
#      variant models) is written to a temporary folder and test_tokenizer_conformance checks it:
#      encode() == EncodeAsIds, decode() == DecodeIds, streaming == decode().
#
#   tests/conformance/test_tokenizer_vs_sentencepiece.sh [BUILD_DIR] [SEED...]
#
# BUILD_DIR (default: build) must hold tests/test_tokenizer_conformance, built with
#   ninja -C BUILD_DIR test_tokenizer_conformance
# SEEDs default to 1 2 3. Needs /usr/bin/python3 with sentencepiece (Debian python3-sentencepiece).
# Takes about 2 s per seed on a 2-core VM. Exit status 0 when everything matches.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${1:-$root/build}"
shift || true
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(1 2 3)

python=/usr/bin/python3
generator="$root/tests/tools/tokenizer_cases.py"
conformance="$build_dir/tests/test_tokenizer_conformance"
if [[ ! -x "$conformance" ]]; then
  echo "$0: $conformance not found; build it with: ninja -C $build_dir test_tokenizer_conformance" >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ophtha-tokenizer-conformance.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failures=0

"$python" "$generator" --out "$work/default.jsonl" >/dev/null
if cmp -s "$work/default.jsonl" "$root/tests/golden/tokenizer_cases.jsonl"; then
  echo "ok: tests/golden/tokenizer_cases.jsonl matches what sentencepiece gives now"
else
  echo "FAIL: tests/golden/tokenizer_cases.jsonl differs from a fresh run of $generator" >&2
  echo "      (first difference: $(cmp "$work/default.jsonl" "$root/tests/golden/tokenizer_cases.jsonl" 2>&1 || true))" >&2
  failures=$((failures + 1))
fi

for seed in "${seeds[@]}"; do
  cases="$work/seed-$seed.jsonl"
  "$python" "$generator" --seed "$seed" --out "$cases"
  if OPHTHA_TOKENIZER_CASES="$cases" "$conformance" --no-version >"$work/seed-$seed.log" 2>&1; then
    echo "ok: seed $seed: $(tail -n 2 "$work/seed-$seed.log" | head -n 1)"
  else
    echo "FAIL: seed $seed: ophtha::Tokenizer differs from sentencepiece; first failures:" >&2
    head -n 60 "$work/seed-$seed.log" >&2
    failures=$((failures + 1))
  fi
done

if [[ $failures -gt 0 ]]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all tokenizer conformance checks passed"
