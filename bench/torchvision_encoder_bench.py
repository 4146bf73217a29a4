#!/usr/bin/env python3
"""torchvision's ResNet-50 on the shapes bench_encoder.cpp times: 224 x 224, batches 1 and 8,
images/s at --threads intra-op threads (default 2), eval mode under torch.inference_mode().

Usage: /usr/bin/python3 bench/torchvision_encoder_bench.py [--threads N] [--seconds S] [--channels-last] [--dim D]
Weights are torchvision's random initialisation (speed does not depend on their values); the
model runs to layer4 + avgpool, as the encoder does (fc is dropped). Then LLaVA-1.5's projector,
nn.Sequential(Linear(2048, D), GELU(), Linear(D, D)) with D = --dim (default 4096), on the 49
tokens of ResNet-50's 7 x 7 grid, as bench_encoder.cpp times Ophtha's.
"""
import argparse
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--channels-last", action="store_true", help="model and input in torch.channels_last")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    model.fc = torch.nn.Identity()
    model.eval()
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    print(f"torchvision {torchvision.__version__} ResNet-50, 224x224, {torch.get_num_threads()} threads "
          f"(PyTorch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}"
          f"{', channels-last' if args.channels_last else ''})")
    for batch in (1, 8):
        images = torch.randn(batch, 3, 224, 224).to(memory_format=memory_format)
        time_calls("encoder  ", batch, args.seconds, lambda: model(images))
    projector = torch.nn.Sequential(torch.nn.Linear(2048, args.dim), torch.nn.GELU(),
                                    torch.nn.Linear(args.dim, args.dim)).eval()
    print(f"projector mlp2x_gelu 2048 -> {args.dim}, 49 tokens per image")
    for batch in (1, 8):
        tokens = torch.randn(batch, 49, 2048)
        time_calls("projector", batch, args.seconds, lambda: projector(tokens))


def time_calls(what, batch, seconds, run):
    """Two warm-up calls, then calls for at least `seconds`; prints median, best, worst images/s."""
    rates = []
    with torch.inference_mode():
        for _ in range(2):
            run()
        start = time.perf_counter()
        while not rates or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            run()
            rates.append(batch / (time.perf_counter() - t0))
    rates.sort()
    print(f"{what} batch {batch:2d}: median {rates[len(rates) // 2]:7.2f} images/s, best {rates[-1]:7.2f}, "
          f"worst {rates[0]:7.2f} ({len(rates)} calls)")

if __name__ == "__main__":
    main()
