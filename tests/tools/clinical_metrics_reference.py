"""Clinical metrics computed with scikit-learn, from label JSON (include/ophtha/study_json.hpp):

    /usr/bin/python3 tests/tools/clinical_metrics_reference.py IN.json OUT.json

IN.json:  {"finding_modalities": {code: "cfp" | "oct" | "osa"},
           "label_sets": [[{"reference": {"OD": eye labels, ...}, "predicted": {...} | null}, ...], ...]}
OUT.json: [{"findings": {code: {"precision", "recall", "f1", "support", "eyes"}}, "macro_f1", "micro_f1",
            "grades": {scale: {"accuracy", "kappa", "confusion", "unstated", "eyes"}}, "referral": {...}},
           ...] (one per label set)

The eye-by-eye rules of include/ophtha/clinical_metrics.hpp are written out again here on purpose
(which eyes count for a finding, "not stated" levels); the arithmetic is scikit-learn's
(precision_recall_fscore_support with zero_division=0, cohen_kappa_score, confusion_matrix,
accuracy_score). Undefined values (NaN) are written as null.
"""
import json
import math
import sys
import warnings

from sklearn.metrics import (accuracy_score, cohen_kappa_score, confusion_matrix,
                             precision_recall_fscore_support)

SCALES = {"icdr": ("cfp", 5, True), "areds": ("cfp", 4, True), "cup_disc": ("cfp", 4, True),
          "oct_class": ("oct", 4, False), "meiboscore_upper": ("osa", 4, True),
          "meiboscore_lower": ("osa", 4, True), "oct_amd": ("oct", 4, True)}
REFERRALS = ["routine", "soon", "urgent"]


def finite_or_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def agreement(pairs, levels, ordinal):
    """pairs: (reference level, predicted level or None)."""
    truth = [r for r, _ in pairs]
    guessed = [-1 if p is None else p for _, p in pairs]
    stated = [(r, p) for r, p in pairs if p is not None]
    out = {"eyes": len(pairs), "unstated": len(pairs) - len(stated),
           "accuracy": finite_or_none(accuracy_score(truth, guessed)) if pairs else None,
           "kappa": None, "confusion": [[0] * levels for _ in range(levels)]}
    if stated:
        a, b = [r for r, _ in stated], [p for _, p in stated]
        out["confusion"] = confusion_matrix(a, b, labels=list(range(levels))).tolist()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["kappa"] = finite_or_none(cohen_kappa_score(a, b, labels=list(range(levels)),
                                                            weights="quadratic" if ordinal else None))
    return out


def score(studies, finding_modalities):
    finding_pairs = {}  # code -> ([truth], [predicted])
    grade_pairs = {scale: [] for scale in SCALES}
    referral_pairs = []
    for study in studies:
        predicted = study["predicted"] or {}
        for eye, ref in study["reference"].items():
            guess = predicted.get(eye)
            gradable = set(ref["imaged"]) - set(ref["ungradable"])
            for code, modality in finding_modalities.items():
                if modality in gradable:
                    t, p = finding_pairs.setdefault(code, ([], []))
                    t.append(code in ref["findings"])
                    p.append(guess is not None and code in guess["findings"])
            for scale, level in ref["grades"].items():
                stated = guess["grades"].get(scale) if guess is not None else None
                grade_pairs[scale].append((level, stated))
            referral_pairs.append((REFERRALS.index(ref["referral"]),
                                   None if guess is None else REFERRALS.index(guess["referral"])))
    findings = {}
    all_truth, all_guess = [], []
    for code, (t, p) in finding_pairs.items():
        precision, recall, f1, _ = precision_recall_fscore_support(
            t, p, average="binary", pos_label=True, zero_division=0)
        findings[code] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                          "support": sum(t), "eyes": len(t)}
        all_truth += t
        all_guess += p
    supported = [v["f1"] for v in findings.values() if v["support"] > 0]
    _, _, micro_f1, _ = precision_recall_fscore_support(all_truth, all_guess, average="binary",
                                                        pos_label=True, zero_division=0)
    out = {"findings": findings,
           "macro_f1": sum(supported) / len(supported) if supported else None,
           "micro_f1": float(micro_f1),
           "grades": {scale: agreement(pairs, SCALES[scale][1], SCALES[scale][2])
                      for scale, pairs in grade_pairs.items()},
           "referral": agreement(referral_pairs, 3, True)}
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    results = [score(studies, data["finding_modalities"]) for studies in data["label_sets"]]
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
