#!/usr/bin/env python3
"""TorchScript backbones for Ophtha's TorchScriptEncoder tests, each saved with torch.jit.save and
run once by PyTorch on a seeded input so the C++ side can compare.

Written into --out (a folder, made atomically):
  input.npy             (2, 3, 64, 48) float32
  grid.pt               torch.jit.script of a tiny conv net: [B, 3, H, W] -> [B, 16, H/4, W/4]
  grid_output.npy       its output on input.npy
  tokens.pt             torch.jit.trace of a tiny transformer-like module (8x8 patch embedding,
                        LayerNorm, one single-head self-attention + MLP block): -> [B, N, 32]
  tokens_output.npy     its output on input.npy
  pooled_only.pt        returns [B, C] (a wrong rank for an encoder)
  integer_output.pt     returns the arg-max channel per cell, an int64 [B, h, w] tensor
  batch_mismatch.pt     returns the grid summed over the batch, [1, C, h, w]
  tuple_output.pt       returns (grid, pooled): not a tensor
  growing_channels.pt   returns [B, W/4, ...]: its channel count depends on the input's width

Usage: torchscript_modules.py --out DIR [--seed 0]
"""
import argparse
import os
from typing import Tuple

import numpy as np
import torch

from tool_io import atomic_folder
from torch import nn


class ConvGrid(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.bn(self.conv1(x))))


class PatchAttention(nn.Module):
    def __init__(self, dim: int = 32, patch: int = 8):
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)  # (B, N, dim)
        q, k, v = self.qkv(self.norm1(t)).chunk(3, dim=-1)
        attention = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1)
        t = t + self.proj(attention @ v)
        return t + self.mlp(self.norm2(t))


class WrongOutput(nn.Module):
    """ConvGrid's output turned into something an encoder must reject."""

    def __init__(self, kind: str):
        super().__init__()
        self.grid = ConvGrid()
        self.kind = kind

    def forward(self, x):
        grid = self.grid(x)
        if self.kind == "pooled_only":
            return grid.mean(dim=(2, 3))
        if self.kind == "integer_output":
            return grid.argmax(dim=1)
        return grid.sum(dim=0, keepdim=True)  # batch_mismatch


class TupleOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.grid = ConvGrid()

    def forward(self, x) -> Tuple[torch.Tensor, torch.Tensor]:
        grid = self.grid(x)
        return grid, grid.mean(dim=(2, 3))


class GrowingChannels(nn.Module):
    def forward(self, x):
        return x[:, :, ::4, ::4].transpose(1, 3)  # (B, W/4, H/4, 3): "channels" = W/4


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    with atomic_folder(args.out, ".torchscript-") as work:
        x = torch.randn(2, 3, 64, 48)
        np.save(os.path.join(work, "input.npy"), x.numpy())

        grid = ConvGrid()
        grid.bn.running_mean.normal_(0, 0.2)
        grid.bn.running_var.uniform_(0.5, 2.0)
        grid.eval()
        tokens = PatchAttention().eval()
        with torch.no_grad():
            np.save(os.path.join(work, "grid_output.npy"), grid(x).numpy())
            np.save(os.path.join(work, "tokens_output.npy"), tokens(x).numpy())
            # Saved in train mode: the encoder must switch the module to eval itself.
            torch.jit.save(torch.jit.script(grid.train()), os.path.join(work, "grid.pt"))
            torch.jit.save(torch.jit.trace(tokens, x), os.path.join(work, "tokens.pt"))
        wrong = [(kind, WrongOutput(kind)) for kind in ("pooled_only", "integer_output", "batch_mismatch")]
        for name, module in wrong + [("tuple_output", TupleOutput()), ("growing_channels", GrowingChannels())]:
            torch.jit.save(torch.jit.script(module.eval()), os.path.join(work, name + ".pt"))


if __name__ == "__main__":
    main()
