#!/usr/bin/env python3
"""Generate text with an Ophtha language model from Python, streaming it as it is produced.

    PYTHONPATH=build/python /usr/bin/python3 examples/python/generate_text.py \\
        --model model.gguf --prompt "The fundus photograph shows" -n 64 --temp 0

With --stream (the default when writing to a terminal) the text is printed piece by piece;
Ctrl-C stops generation at once. The last line on stderr gives the token counts and speed.
Exit status: 0 on success, 1 when the library reports an error (its message on stderr).
"""
import argparse
import sys

import ophtha


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="a .gguf file or a Hugging Face folder")
    p.add_argument("--prompt", required=True)
    p.add_argument("-n", "--max-tokens", type=int, default=128, help="tokens to generate at most")
    p.add_argument("--temp", type=float, default=0.8, help="temperature; 0 is greedy")
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stop", action="append", default=[], help="stop before this text (repeatable)")
    p.add_argument("--threads", type=int, default=0, help="compute threads; 0: all cores")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=sys.stdout.isatty(),
                   help="print the text as it is generated")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    options = dict(max_tokens=args.max_tokens, temperature=args.temp, top_k=args.top_k, top_p=args.top_p,
                   seed=args.seed, stop=args.stop)
    try:
        with ophtha.Model(args.model, n_threads=args.threads) as model:
            if args.stream:
                with model.generate(args.prompt, stream=True, **options) as stream:
                    for piece in stream:
                        print(piece, end="", flush=True)
                result = stream.result
            else:
                result = model.generate(args.prompt, **options)
                print(result, end="")
            print()
    except ophtha.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n(interrupted)", file=sys.stderr)
        return 130
    print(f"{result.n_prompt_tokens} prompt tokens in {result.prefill_seconds:.3f} s; {len(result.tokens)} generated "
          f"in {result.decode_seconds:.3f} s ({result.tokens_per_second:.1f} tokens/s); "
          f"stop: {result.stop_reason.name.lower()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
