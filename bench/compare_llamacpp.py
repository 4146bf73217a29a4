#!/usr/bin/python3
"""Ophtha vs llama.cpp on the same GGUF files, interleaved so that drift hits both alike.

  LLAMACPP_DIR=/path/with/node_modules /usr/bin/python3 bench/compare_llamacpp.py \\
      [--ophtha build/ophtha] [--threads 2] [--rounds 3] [--repetitions 3] MODEL.gguf...

Each round runs `ophtha bench --json` and bench/llamacpp_bench.mjs (node-llama-cpp 3.21.1,
llama.cpp's pp128 / tg64 as llama-bench measures them) once per model, alternating which goes
first. Prints a Markdown table: mean ± sd over rounds of each engine's per-round mean, the ratio
of the means, and Ophtha's peak RSS against the file size plus the KV cache.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(command, env=None):
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def ophtha(args, model):
    return run_json([args.ophtha, "bench", "--model", model, "--threads", str(args.threads), "--json",
                     "--repetitions", str(args.repetitions), "--prompt-tokens", "128", "--gen-tokens", "64"])


def llamacpp(args, model):
    return run_json(["node", os.path.join(HERE, "llamacpp_bench.mjs"), model, "--threads", str(args.threads),
                     "--repetitions", str(args.repetitions), "--prompt-tokens", "128", "--gen-tokens", "64"],
                    env=dict(os.environ))


def fmt(values):
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values) if len(values) > 1 else 0:.1f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--ophtha", default=os.path.join(HERE, "..", "build", "ophtha"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    if "LLAMACPP_DIR" not in os.environ:
        sys.exit("set LLAMACPP_DIR to a folder where `npm install node-llama-cpp@3.21.1` ran")

    results = {m: {"ours": [], "llama": []} for m in args.models}
    for r in range(args.rounds):
        for model in args.models:
            order = [("ours", ophtha), ("llama", llamacpp)]
            if r % 2:
                order.reverse()
            for name, run in order:
                results[model][name].append(run(args, model))
                print(f"round {r + 1}/{args.rounds} {name:5s} {os.path.basename(model)}: "
                      f"pp {results[model][name][-1]['pp_tok_s']:.1f} tg {results[model][name][-1]['tg_tok_s']:.1f}",
                      file=sys.stderr)

    print("| model | type | pp128 Ophtha | pp128 llama.cpp | ratio | tg64 Ophtha | tg64 llama.cpp | ratio "
          "| Ophtha peak RSS | file + KV |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        ours, llama = results[model]["ours"], results[model]["llama"]
        pp_o = [x["pp_tok_s"] for x in ours]
        pp_l = [x["pp_tok_s"] for x in llama]
        tg_o = [x["tg_tok_s"] for x in ours]
        tg_l = [x["tg_tok_s"] for x in llama]
        rss = max(x["peak_rss_mib"] for x in ours)
        file_mib = os.path.getsize(model) / 2**20
        kv = ours[0]["kv_cache_mib"]
        print(f"| {os.path.basename(model)} | {ours[0]['type']} | {fmt(pp_o)} | {fmt(pp_l)} | "
              f"{statistics.mean(pp_o) / statistics.mean(pp_l):.2f}× | {fmt(tg_o)} | {fmt(tg_l)} | "
              f"{statistics.mean(tg_o) / statistics.mean(tg_l):.2f}× | {rss:.0f} MiB | {file_mib + kv:.0f} MiB |")


if __name__ == "__main__":
    main()
