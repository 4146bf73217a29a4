#!/usr/bin/env python3
"""Reference features for Ophtha's ResNet encoder, computed by torchvision itself.

Builds torchvision.models.resnetXX(weights=None) from a fixed seed, gives every BatchNorm random
running statistics and affine parameters (so that eval mode matters), writes the state_dict as
safetensors (our own writer: the `safetensors` package is not in Debian), and runs the model in
eval mode on seeded random inputs. Written into --out (a folder, made atomically):

  weights.safetensors   the state_dict, tensor names = torchvision's, optionally under --prefix,
                        float tensors stored as --dtype (the reference model runs on exactly
                        those values, widened back to float32)
  input_<i>.npy         (B, 3, H, W) float32, one per --inputs entry
  features_<i>.npy      (B, C, h, w) float32, layer4's output
  pooled_<i>.npy        (B, C) float32, avgpool's output before fc

Usage: torchvision_encoder_reference.py --arch resnet50 --out DIR [--dtype f32|f16|bf16]
       [--prefix encoder.] [--seed 0] [--inputs 1x224x224,3x256x192]
"""
import argparse
import os
import sys

import numpy as np
import torch

from tool_io import atomic_folder, write_safetensors

try:
    import torchvision
except ImportError:
    sys.exit("torchvision_encoder_reference.py: torchvision is missing (Debian: apt-get install python3-torchvision)")

DTYPES = {"f32": (torch.float32, "F32"), "f16": (torch.float16, "F16"), "bf16": (torch.bfloat16, "BF16")}


def randomise_batch_norms(model, generator):
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = torch.rand(c, generator=generator) + 0.5
            module.bias.data = torch.randn(c, generator=generator) * 0.1
            module.running_mean = torch.randn(c, generator=generator) * 0.1
            module.running_var = torch.rand(c, generator=generator) * 1.5 + 0.5
            module.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=["resnet18", "resnet34", "resnet50"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--dtype", default="f32", choices=sorted(DTYPES))
    parser.add_argument("--prefix", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", default="1x224x224")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    model = getattr(torchvision.models, args.arch)(weights=None)
    randomise_batch_norms(model, generator)

    stored_dtype = DTYPES[args.dtype][0]
    state = {}
    for name, t in model.state_dict().items():
        state[name] = t.to(stored_dtype) if t.is_floating_point() else t
    # The reference runs on the stored values, widened as the C++ loader widens them.
    model.load_state_dict({n: (t.float() if t.is_floating_point() else t) for n, t in state.items()})
    model.eval()

    with atomic_folder(args.out, ".encoder-ref-") as work:
        write_safetensors(os.path.join(work, "weights.safetensors"), {args.prefix + n: t for n, t in state.items()})
        trunk = torch.nn.Sequential(*list(model.children())[:-2])  # conv1 ... layer4
        for i, spec in enumerate(args.inputs.split(",")):
            b, h, w = (int(v) for v in spec.split("x"))
            x = torch.randn(b, 3, h, w, generator=generator)
            with torch.inference_mode():
                features = trunk(x)
                pooled = torch.flatten(model.avgpool(features), 1)
            np.save(os.path.join(work, f"input_{i}.npy"), x.numpy())
            np.save(os.path.join(work, f"features_{i}.npy"), features.numpy())
            np.save(os.path.join(work, f"pooled_{i}.npy"), pooled.numpy())

if __name__ == "__main__":
    main()
