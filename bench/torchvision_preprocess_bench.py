#!/usr/bin/python3
"""torchvision's equivalent of Ophtha's CFP preprocessing, timed on the same image.

  ophtha_bench_preprocess --write-png /tmp/fundus3000.png
  /usr/bin/python3 bench/torchvision_preprocess_bench.py /tmp/fundus3000.png --left L --top T --side N

The square (L, T, N) is the one Ophtha's field-of-view detection printed; torchvision has no
field-of-view detection, so the timed steps are: crop to the square (F.crop, zero padding outside),
scale to [0, 1], resize (bilinear, antialias=True), normalise (ImageNet). Median of --runs runs.
"""
import argparse
import statistics
import time

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    parser.add_argument("--left", type=int, required=True)
    parser.add_argument("--top", type=int, required=True)
    parser.add_argument("--side", type=int, required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pixels = torch.from_numpy(np.asarray(Image.open(args.image).convert("RGB")).copy()).permute(2, 0, 1)

    def run():
        square = F.crop(pixels, args.top, args.left, args.side, args.side).float() / 255.0
        out = F.resize(square, [args.size, args.size], interpolation=InterpolationMode.BILINEAR, antialias=True)
        return F.normalize(out, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])

    run()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    print(f"torchvision {torch.__version__} crop+resize+normalise {tuple(pixels.shape)} -> "
          f"[3, {args.size}, {args.size}], {args.threads} threads: median {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
