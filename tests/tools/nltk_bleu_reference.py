#!/usr/bin/python3
"""Writes random tokenised corpora and nltk's scores for them, for tests/unit/eval/test_eval_text_metrics_vs_nltk.cpp.

Usage: /usr/bin/python3 nltk_bleu_reference.py OUT.json [--seed S] [--corpora N]

For every corpus: nltk.translate.bleu_score.corpus_bleu for BLEU-1..4 (weights (1/n,)*n, each
order computed on its own) under SmoothingFunction().method0..5 and 7, sentence_bleu of each pair
under the same methods, and nltk.translate.meteor_score.meteor_score with its stemming and WordNet
stages disabled (an identity stemmer and a WordNet that knows no synsets), i.e. exact matches only.
Small vocabularies make n-grams match; corpora include empty hypotheses and references, hypotheses
shorter and longer than their references, and several references per hypothesis.
"""
import argparse
import json
import random
import warnings

from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu, sentence_bleu
from nltk.translate.meteor_score import meteor_score

METHODS = ["method0", "method1", "method2", "method3", "method4", "method5", "method7"]
# Latin words, CJK characters and numbers, as the report tokenizer produces them.
WORDS = ["the", "macula", "drusen", "od", "os", "0.5", "20/20", "视", "力", "黄", "斑", "，", "。"]


class IdentityStemmer:
    def stem(self, word):
        return word


class NoSynonyms:
    def synsets(self, word):
        return []


def bleu_all(references, hypotheses, method):
    smoothing = getattr(SmoothingFunction(), method)
    return [
        float(corpus_bleu(references, hypotheses, weights=(1.0 / n,) * n, smoothing_function=smoothing))
        for n in range(1, 5)
    ]


def sentence_bleu_all(references, hypothesis, method):
    smoothing = getattr(SmoothingFunction(), method)
    return [
        float(sentence_bleu(references, hypothesis, weights=(1.0 / n,) * n, smoothing_function=smoothing))
        for n in range(1, 5)
    ]


def random_sentence(rng, vocabulary, max_len):
    return [rng.choice(vocabulary) for _ in range(rng.randint(0, max_len))]


def random_corpus(rng):
    vocabulary = rng.sample(WORDS, rng.randint(2, 6))
    size = rng.randint(1, 8)
    hypotheses, references = [], []
    for _ in range(size):
        refs = [random_sentence(rng, vocabulary, rng.choice([3, 8, 14])) for _ in range(rng.randint(1, 4))]
        kind = rng.random()
        if kind < 0.1:
            hyp = []
        elif kind < 0.3:  # a reference, cut short or extended
            hyp = list(rng.choice(refs))
            hyp = hyp[: rng.randint(0, len(hyp))] if rng.random() < 0.5 else hyp + random_sentence(rng, vocabulary, 5)
        else:
            hyp = random_sentence(rng, vocabulary, rng.choice([2, 6, 12, 20]))
        hypotheses.append(hyp)
        references.append(refs)
    return hypotheses, references


def fixed_corpora():
    """Edge cases the random draw may miss."""
    return [
        ([[]], [[["a", "b"]]]),                                   # only an empty hypothesis
        ([["a"]], [[["a", "b", "c"]]]),                           # total hypothesis length 1
        ([["a", "b", "c", "d", "e"]], [[["a", "b", "c", "d", "e"]]]),  # identical
        ([["a", "b"], []], [[["a", "b"]], [["c"]]]),              # empty last hypothesis
        ([["a", "x", "b"]], [[["a", "b"], ["b", "a", "x"], []]]),  # an empty reference
        ([["a", "a", "a", "a"]], [[["a", "b"], ["a", "a", "c"]]]),  # clipping by the best reference
        ([["视", "力", "0.5"]], [[["视", "力", "0.5", "。"], ["视", "力"]]]),  # tie in closest length
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--corpora", type=int, default=400)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # method0's "0 counts of n-gram overlaps" warnings

    rng = random.Random(args.seed)
    corpora = fixed_corpora() + [random_corpus(rng) for _ in range(args.corpora)]
    cases = []
    for hypotheses, references in corpora:
        case = {
            "hypotheses": hypotheses,
            "references": references,
            "corpus_bleu": {m: bleu_all(references, hypotheses, m) for m in METHODS},
            "sentence_bleu": [
                {m: sentence_bleu_all(refs, hyp, m) for m in METHODS}
                for hyp, refs in zip(hypotheses, references)
            ],
            "meteor_exact": [
                float(meteor_score(refs, hyp, stemmer=IdentityStemmer(), wordnet=NoSynonyms()))
                for hyp, refs in zip(hypotheses, references)
            ],
        }
        cases.append(case)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"nltk_methods": METHODS, "cases": cases}, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
