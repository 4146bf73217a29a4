#!/usr/bin/python3
"""SentencePiece's encode and decode throughput on the text ophtha_bench_tokenizer measures, for comparison.

    BUILD/bench/ophtha_bench_tokenizer --save-text /tmp/tokenizer-bench.txt
    /usr/bin/python3 bench/sentencepiece_bench.py /tmp/tokenizer-bench.txt [--model M] [--repetitions 10]

Same units and protocol as ophtha_bench_tokenizer: MB/s = 10^6 bytes of UTF-8 text per second, one warm-up
run, then mean ± sd over the timed runs of EncodeAsIds(text) (no BOS) and DecodeIds(ids). Needs Debian's
python3-sentencepiece (run with /usr/bin/python3); the time includes crossing between Python and C++ once per call.
"""
import argparse
import os
import statistics
import time

import sentencepiece

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def megabytes_per_second(repetitions, n_bytes, job):
    rates = []
    for run in range(repetitions + 1):  # run 0 is the warm-up
        start = time.perf_counter()
        job()
        seconds = time.perf_counter() - start
        if run > 0:
            rates.append(n_bytes / 1e6 / seconds)
    return rates


def summary(rates):
    return f"{statistics.mean(rates):7.2f} ± {statistics.stdev(rates) if len(rates) > 1 else 0.0:.2f} MB/s"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", help="UTF-8 text file, e.g. from ophtha_bench_tokenizer --save-text")
    parser.add_argument("--model", default=os.path.join(REPO, "tests", "data", "llama2-tokenizer.model"))
    parser.add_argument("--repetitions", type=int, default=10)
    a = parser.parse_args()

    with open(a.text, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    processor = sentencepiece.SentencePieceProcessor(model_file=a.model)
    ids = processor.EncodeAsIds(text)
    encode = megabytes_per_second(a.repetitions, len(raw), lambda: processor.EncodeAsIds(text))
    decode = megabytes_per_second(a.repetitions, len(raw), lambda: processor.DecodeIds(ids))
    print(f"sentencepiece {sentencepiece.__version__}: {a.model}")
    print(f"text: {len(raw)} bytes -> {len(ids)} tokens; {a.repetitions} timed runs after 1 warm-up")
    print(f"encode: {summary(encode)}\ndecode: {summary(decode)}")


if __name__ == "__main__":
    main()
