#!/usr/bin/env python3
"""One training step of a torchvision ResNet, as the reference for Ophtha's TrainableResNet.

Builds torchvision.models.resnetXX(weights=None) from a seed with random BatchNorm statistics
(torchvision_encoder_reference.py's), then in training mode runs a batch forward, the loss
sum(tokens * probe) and its backward, and finally an evaluation-mode forward with the running
statistics that step updated. Written into --out (a folder, made atomically):

  weights.safetensors      the state_dict before the step (torchvision names)
  input.npy                (B, 3, H, W) float32
  probe.npy                (B, N, C) float32, the loss weights
  tokens_train.npy         (B, N, C) layer4's output in training mode, cell (y, x) = token y*w + x
  grad.<name>.npy          d loss / d parameter for a few parameters (see GRADIENTS)
  after.<name>.npy         running statistics after the step (see BUFFERS)
  tokens_eval.npy          (B, N, C) evaluation mode, after the step

Usage: torchvision_training_reference.py --arch resnet18 --out DIR [--seed 0] [--input 2x64x64]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torchvision_encoder_reference as reference  # noqa: E402  (randomise_batch_norms)
from tool_io import atomic_folder, write_safetensors  # noqa: E402

import torchvision  # noqa: E402

GRADIENTS = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
             "layer4.1.bn2.weight"]
BUFFERS = ["bn1.running_mean", "bn1.running_var", "layer3.1.bn2.running_var"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18", choices=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input", default="2x64x64")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    model = getattr(torchvision.models, args.arch)(weights=None)
    reference.randomise_batch_norms(model, generator)
    state = {n: t.clone() for n, t in model.state_dict().items()}
    trunk = torch.nn.Sequential(*list(model.children())[:-2])

    b, h, w = (int(v) for v in args.input.split("x"))
    x = torch.randn(b, 3, h, w, generator=generator)
    model.train()
    features = trunk(x)
    tokens = features.flatten(2).transpose(1, 2)
    probe = torch.randn(tokens.shape, generator=generator)
    (tokens * probe).sum().backward()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    model.eval()
    with torch.no_grad():
        tokens_eval = trunk(x).flatten(2).transpose(1, 2)

    with atomic_folder(args.out, ".training-ref-") as work:
        write_safetensors(os.path.join(work, "weights.safetensors"), state)
        np.save(os.path.join(work, "input.npy"), x.numpy())
        np.save(os.path.join(work, "probe.npy"), probe.numpy())
        np.save(os.path.join(work, "tokens_train.npy"), tokens.detach().contiguous().numpy())
        np.save(os.path.join(work, "tokens_eval.npy"), tokens_eval.contiguous().numpy())
        for name in GRADIENTS:
            np.save(os.path.join(work, f"grad.{name}.npy"), params[name].grad.numpy())
        for name in BUFFERS:
            np.save(os.path.join(work, f"after.{name}.npy"), buffers[name].numpy())


if __name__ == "__main__":
    main()
