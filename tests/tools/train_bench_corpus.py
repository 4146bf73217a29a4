#!/usr/bin/python3
"""Writes the training benchmark of docs/training.md into --out: reports.jsonl (seeded synthetic
fundus reports as {"text": ...}) and run.json (a 4.9M-parameter LLaMA2 trained from scratch on them
with the LLaMA 2 tokenizer).

  /usr/bin/python3 tests/tools/train_bench_corpus.py --out /tmp/train-bench --threads 2
  build/bench/ophtha_bench_train_llama /tmp/train-bench/run.json 20
"""
import argparse
import json
import os
import random

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FINDINGS = ["scattered drusen in the macula", "a flame-shaped haemorrhage near the optic disc",
            "a cup-to-disc ratio of 0.7 with thinning of the neuroretinal rim", "no abnormality",
            "macular edema with hard exudates", "microaneurysms in all quadrants", "an epiretinal membrane"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reports", type=int, default=400)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    r = random.Random(0)
    with open(os.path.join(a.out, "reports.jsonl"), "w") as f:
        for _ in range(a.reports):
            eye = r.choice(["right eye", "left eye"])
            f.write(json.dumps({"text": f"Fundus photograph of the {eye} shows {r.choice(FINDINGS)}. The fellow eye "
                                        f"shows {r.choice(FINDINGS)}. Impression: findings consistent with the above; "
                                        f"review in {r.randint(1, 12)} months."}) + "\n")
    run = {"model": {"dim": 128, "layers": 4, "heads": 4, "ffn": 352, "context": 128, "tied": True,
                     "tokenizer": os.path.join(REPO, "tests", "data", "llama2-tokenizer.model")},
           "data": {"train": "reports.jsonl", "max_tokens": 128},
           "optimizer": {"lr": 1e-3, "warmup_steps": 5},
           "steps": 200, "batch_size": 8, "seed": 1, "threads": a.threads,
           "output": {"metrics": "metrics.jsonl", "loss_plot": "loss.png", "gguf": "model.gguf"}}
    with open(os.path.join(a.out, "run.json"), "w") as f:
        json.dump(run, f, indent=1)


if __name__ == "__main__":
    main()
