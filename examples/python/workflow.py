#!/usr/bin/python3
"""The whole Ophtha workflow from Python: make synthetic studies, load a model bundle, write a
report per study and language, evaluate them against the reference reports, and show the plots.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/workflow.py --out /tmp/ophtha-workflow \\
        [--model BUNDLE] [--studies 4] [--lang en] [--max-tokens N]

--model defaults to the repository's demo bundle (models/demo). The demo model is trained on
synthetic images only: its reports are not medical advice and have no clinical validity. The same
steps, cell by cell, are in workflow.ipynb.
"""
import argparse
import json
import sys
from pathlib import Path

import ophtha

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "demo")
    parser.add_argument("--out", type=Path, required=True, help="a new or empty folder")
    parser.add_argument("--studies", type=int, default=4)
    parser.add_argument("--lang", choices=["zh", "en"], default="en")
    parser.add_argument("--max-tokens", type=int, default=None)
    args = parser.parse_args()
    if not (args.model / "ophtha-bundle.json").exists():
        sys.exit(f"{args.model}: not a model bundle (no ophtha-bundle.json); train the demo with "
                 "scripts/train-demo.sh or pass --model BUNDLE")

    # 1. Synthetic studies: images, labels and reference reports, all in the test split.
    data = args.out / "data"
    manifest = ophtha.synth(data, args.studies, seed=7, lang="both", split=(0.0, 0.0, 1.0))
    studies = [json.loads(line) for line in Path(manifest).read_text().splitlines() if line.strip()]
    print(f"{len(studies)} synthetic studies in {data}")

    # 2. The model bundle.
    model = ophtha.Model(args.model)
    print(f"model {args.model}: vision {model.has_vision}")

    # 3. One report per study, from its images (each with its modality and eye).
    predictions = args.out / "predictions.jsonl"
    with open(predictions, "w", encoding="utf-8") as f:
        for study in studies:
            images = [(str(data / image["path"]), image["modality"], image["eye"]) for image in study["images"]]
            report = model.report(images, lang=args.lang, temperature=0.0, max_tokens=args.max_tokens)
            f.write(json.dumps({"id": study["id"], "lang": args.lang, "report": report.text,
                                "structured": report.structured}, ensure_ascii=False) + "\n")
            print(f"--- {study['id']} ---\n{report.text}\n")
    print(report.disclaimer)

    # 4. Evaluation against the reference reports; ophtha draws the plots itself.
    results = ophtha.evaluate(manifest, predictions, out=args.out / "eval", lang=args.lang)
    scores = results["languages"][args.lang]
    text, clinical = scores["text"], scores["clinical"]
    print(f"ROUGE-L {text['rouge_l']:.3f}  BLEU-4 {text['bleu'][3]:.3f}  findings macro F1 {clinical['macro_f1']}  "
          f"ICDR accuracy {clinical['grades']['icdr']['accuracy']}")

    # 5. The plots.
    for png in sorted((args.out / "eval").glob("*.png")):
        print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
