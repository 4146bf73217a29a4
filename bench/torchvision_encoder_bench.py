#!/usr/bin/env python3
"""torchvision's ResNet-50 on the shapes bench_encoder.cpp times: 224 x 224, batches 1 and 8,
images/s at --threads intra-op threads (default 2), eval mode under torch.inference_mode().

Usage: /usr/bin/python3 bench/torchvision_encoder_bench.py [--threads N] [--seconds S] [--channels-last]
Weights are torchvision's random initialisation (speed does not depend on their values); the
model runs to layer4 + avgpool, as the encoder does (fc is dropped).
"""
import argparse
import time

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
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
        rates = []
        with torch.inference_mode():
            for _ in range(2):
                model(images)
            start = time.perf_counter()
            while not rates or time.perf_counter() - start < args.seconds:
                t0 = time.perf_counter()
                model(images)
                rates.append(batch / (time.perf_counter() - t0))
        rates.sort()
        print(f"batch {batch:2d}: median {rates[len(rates) // 2]:7.2f} images/s, best {rates[-1]:7.2f}, "
              f"worst {rates[0]:7.2f} ({len(rates)} calls)")


if __name__ == "__main__":
    main()
