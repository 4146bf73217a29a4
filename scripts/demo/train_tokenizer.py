#!/usr/bin/python3
"""Trains the demo model's SentencePiece tokenizer on a study manifest's report corpus.

    /usr/bin/python3 scripts/demo/train_tokenizer.py --manifest DATA/manifest.jsonl --vocab 4000 --out tokenizer.model

The model is what Ophtha's tokenizer reproduces exactly (include/ophtha/tokenizer.hpp): BPE with
byte fallback (a newline or an unseen character becomes <0xNN> bytes), identity normalisation,
whitespace kept as it is, digits split, ids unk 0 / bos 1 / eos 2 as in LLaMA 2. The corpus is
every line of every reference report (zh and en) and every instrument findings text.
The output is written atomically (a temporary file, then a rename).
"""
import argparse
import json
import os
import sys
import tempfile

import sentencepiece as spm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--vocab", type=int, default=4000, help="at most this many pieces (fewer for a small corpus)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    lines = []
    with open(args.manifest, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                study = json.loads(text)
            except json.JSONDecodeError as e:
                sys.exit(f"{args.manifest}:{number}: not JSON: {e}")
            for report in study.get("reports", {}).values():
                lines.extend(line for line in report.split("\n") if line.strip())
            for image in study.get("images", []):
                if image.get("findings_text"):
                    lines.append(image["findings_text"])
    if not lines:
        sys.exit(f"{args.manifest}: no report or findings text to train a tokenizer on")

    out_dir = os.path.dirname(os.path.abspath(args.out))
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        corpus = os.path.join(work, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        prefix = os.path.join(work, "tokenizer")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, vocab_size=args.vocab, model_type="bpe",
            character_coverage=1.0, byte_fallback=True, split_digits=True,
            normalization_rule_name="identity", remove_extra_whitespaces=False,
            add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            max_sentence_length=16384, num_threads=2, minloglevel=2,
            hard_vocab_limit=False)
        os.replace(prefix + ".model", args.out)
    print(f"wrote {args.out}: {args.vocab} pieces from {len(lines)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
