#!/usr/bin/python3
"""torchvision references for Ophtha's image preprocessing (tests/unit/vision/test_preprocess*.cpp).

  resize JOBS.txt
      each line "IN.npy OUT.npy OUT_H OUT_W": IN is float32 [C, H, W]; OUT is
      torchvision.transforms.functional.resize(IN, [OUT_H, OUT_W], BILINEAR, antialias=True).
  preprocess IMAGE OUT.npy --left X --top Y --side N --size S [--grey] [--pad-value V]
             [--mean A B C] [--std A B C]
      IMAGE read with PIL (8-bit), scaled to [0, 1] (pil_to_tensor / 255), converted with
      rgb_to_grayscale when --grey, cut to the square [X, X+N) x [Y, Y+N) (V outside the image),
      resized to S x S as above, grey replicated to 3 channels, normalised (F.normalize).
Runs under Debian's /usr/bin/python3 (numpy, torch, torchvision, PIL).
"""
import argparse
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode


def resize(tensor, height, width):
    return F.resize(tensor, [height, width], interpolation=InterpolationMode.BILINEAR, antialias=True)


def run_resize(jobs_path):
    with open(jobs_path) as jobs:
        for line in jobs:
            if not line.strip():
                continue
            src, dst, height, width = line.split()
            tensor = torch.from_numpy(np.load(src))
            if tensor.dtype != torch.float32 or tensor.dim() != 3:
                sys.exit(f"{src}: expected float32 [C, H, W], got {tensor.dtype} {list(tensor.shape)}")
            np.save(dst, resize(tensor, int(height), int(width)).contiguous().numpy())


def run_preprocess(args):
    pil = Image.open(args.image)
    if pil.mode not in ("L", "RGB", "RGBA"):
        sys.exit(f"{args.image}: PIL mode {pil.mode}, expected L, RGB or RGBA")
    pixels = F.pil_to_tensor(pil)[:3].float() / 255.0  # alpha ignored
    if args.grey and pixels.shape[0] == 3:
        pixels = F.rgb_to_grayscale(pixels)
    channels, height, width = pixels.shape
    square = torch.full((channels, args.side, args.side), args.pad_value, dtype=torch.float32)
    # overlap of the square [left, left+side) x [top, top+side) with the image
    x0, y0 = max(args.left, 0), max(args.top, 0)
    x1, y1 = min(args.left + args.side, width), min(args.top + args.side, height)
    if x1 > x0 and y1 > y0:
        square[:, y0 - args.top:y1 - args.top, x0 - args.left:x1 - args.left] = pixels[:, y0:y1, x0:x1]
    out = resize(square, args.size, args.size)
    if out.shape[0] == 1:
        out = out.expand(3, -1, -1)
    out = F.normalize(out, mean=args.mean, std=args.std)
    np.save(args.out, out.contiguous().numpy())


def main():
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("resize")
    r.add_argument("jobs")
    p = sub.add_parser("preprocess")
    p.add_argument("image")
    p.add_argument("out")
    for name in ("--left", "--top", "--side", "--size"):
        p.add_argument(name, type=int, required=True)
    p.add_argument("--grey", action="store_true")
    p.add_argument("--pad-value", type=float, default=0.0)
    p.add_argument("--mean", type=float, nargs=3, default=[0.485, 0.456, 0.406])
    p.add_argument("--std", type=float, nargs=3, default=[0.229, 0.224, 0.225])
    args = parser.parse_args()
    if args.command == "resize":
        run_resize(args.jobs)
    else:
        run_preprocess(args)


if __name__ == "__main__":
    main()
