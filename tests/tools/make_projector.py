#!/usr/bin/env python3
"""A seeded feature projector and PyTorch's own output for it, for Ophtha's projector tests.

The reference is plain PyTorch: nn.Linear (linear) or nn.Sequential(nn.Linear, nn.GELU(),
nn.Linear) (mlp2x_gelu, LLaVA-1.5's mm_projector), after F.adaptive_avg_pool2d on the feature
grid (or F.adaptive_avg_pool1d on a token sequence) when --pool P > 0, plus the modality and eye
embedding rows of each image. Written into --out (a folder, made atomically):

  projector.safetensors  mm_projector.* under --prefix, config in __metadata__ (Ophtha's format),
                         or with --bare a LLaVA-style file: no metadata, no embeddings (zero)
  cases.json             [{"grid": [h, w] or null, "modalities": [..], "eyes": [..]}, ...]
  features_<i>.npy       (B, N, C) float32 encoder tokens (cell (y, x) = token y*w + x)
  output_<i>.npy         (B, N', d) float32, the reference projection

Usage: make_projector.py --out DIR --kind mlp2x_gelu --channels 32 --dim 24 [--pool 3] [--seed 0]
       [--prefix model.] [--dtype f32|f16|bf16] [--bare] [--inputs 2x7x7,3x50]
  (--inputs: BxHxW for a grid, BxN for a token sequence with no grid)
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from tool_io import atomic_folder, write_safetensors

DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"), "bf16": (torch.bfloat16, "BF16")}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--kind", choices=["linear", "mlp2x_gelu"], default="mlp2x_gelu")
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--pool", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prefix", default="")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    p.add_argument("--bare", action="store_true")
    p.add_argument("--inputs", default="2x7x7")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    C, d = args.channels, args.dim
    if args.kind == "linear":
        mlp = torch.nn.Linear(C, d)
        names = {"weight": "mm_projector.weight", "bias": "mm_projector.bias"}
    else:
        mlp = torch.nn.Sequential(torch.nn.Linear(C, d), torch.nn.GELU(), torch.nn.Linear(d, d))
        names = {k: "mm_projector." + k for k in ("0.weight", "0.bias", "2.weight", "2.bias")}
    stored_type = DTYPES[args.dtype][0]
    state = {k: v.to(stored_type) for k, v in mlp.state_dict().items()}
    mlp.load_state_dict({k: v.float() for k, v in state.items()})  # the reference runs on the stored values
    tensors = {args.prefix + names[k]: v for k, v in state.items()}
    if args.bare:
        modality_embedding, eye_embedding = torch.zeros(3, d), torch.zeros(2, d)
        metadata = None
    else:
        modality_embedding = torch.randn(3, d, generator=generator).to(stored_type)
        eye_embedding = torch.randn(2, d, generator=generator).to(stored_type)
        tensors[args.prefix + "mm_projector.modality_embedding"] = modality_embedding
        tensors[args.prefix + "mm_projector.eye_embedding"] = eye_embedding
        modality_embedding, eye_embedding = modality_embedding.float(), eye_embedding.float()
        metadata = {"format": "pt", "ophtha_projector_version": "1", "mm_projector_type": args.kind,
                    "mm_hidden_size": str(C), "hidden_size": str(d), "ophtha_pool_side": str(args.pool)}

    with atomic_folder(args.out, ".projector-") as work:
        write_safetensors(os.path.join(work, "projector.safetensors"), tensors, metadata)
        cases = []
        for i, spec in enumerate(args.inputs.split(",")):
            dims = [int(v) for v in spec.split("x")]
            b = dims[0]
            grid = dims[1:] if len(dims) == 3 else None
            n = grid[0] * grid[1] if grid else dims[1]
            tokens = torch.randn(b, n, C, generator=generator)
            modalities = torch.randint(0, 3, (b,), generator=generator)
            eyes = torch.randint(0, 2, (b,), generator=generator)
            x = tokens
            if args.pool > 0:
                if grid:
                    planes = tokens.transpose(1, 2).reshape(b, C, grid[0], grid[1])
                    x = F.adaptive_avg_pool2d(planes, (args.pool, args.pool)).flatten(2).transpose(1, 2)
                else:
                    x = F.adaptive_avg_pool1d(tokens.transpose(1, 2), args.pool * args.pool).transpose(1, 2)
            with torch.no_grad():
                y = mlp(x) + (modality_embedding[modalities] + eye_embedding[eyes]).unsqueeze(1)
            np.save(os.path.join(work, f"features_{i}.npy"), tokens.numpy())
            np.save(os.path.join(work, f"output_{i}.npy"), y.numpy())
            cases.append({"grid": grid, "modalities": modalities.tolist(), "eyes": eyes.tolist()})
        with open(os.path.join(work, "cases.json"), "w") as f:
            json.dump(cases, f)


if __name__ == "__main__":
    main()
