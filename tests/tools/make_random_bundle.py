#!/usr/bin/env python3
"""A complete model bundle with seeded random weights, for tests of the report pipeline's plumbing.

Every part is the real format, so the bundle loads and writes (meaningless) reports end to end:

  llm.gguf               tests/tools/make_llama_model.py (LLaMA 2 tokenizer vocabulary)
  encoder.safetensors    a ResNet-18 state_dict of base width --width (torchvision's names)
  projector.safetensors  mlp2x_gelu projector, pooling to --pool x --pool tokens (docs/vision.md)
  heads.safetensors      auxiliary heads (include/ophtha/auxiliary_heads.hpp)
  ophtha-bundle.json     the manifest (docs/formats.md, "Model bundle"), preprocessing at --size

The folder is written atomically (built beside --out, then renamed).

Usage: make_random_bundle.py --out DIR [--seed 0] [--dim 64] [--layers 2] [--heads 4] [--kv-heads 2]
       [--ffn 172] [--ctx 512] [--width 8] [--pool 2] [--size 64]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

from tool_io import atomic_folder, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
FINDINGS = 26
GRADE_LEVELS = [("icdr", 5), ("areds", 4), ("cup_disc", 4), ("oct_class", 4), ("meiboscore_upper", 4),
                ("meiboscore_lower", 4), ("oct_amd", 4)]


def resnet18_state(width, rng):
    """torchvision's resnet18 names, every channel count scaled by width / 64."""
    state = {}

    def conv_bn(conv, bn, cin, cout, k):
        state[conv + ".weight"] = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cout * k * k))).astype(np.float32)
        state[bn + ".weight"] = rng.uniform(0.5, 1.5, cout).astype(np.float32)
        state[bn + ".bias"] = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        state[bn + ".running_mean"] = (rng.standard_normal(cout) * 0.1).astype(np.float32)
        state[bn + ".running_var"] = rng.uniform(0.5, 2.0, cout).astype(np.float32)
        state[bn + ".num_batches_tracked"] = np.array(1, dtype=np.int64)

    conv_bn("conv1", "bn1", 3, width, 7)
    cin = width
    for stage in range(4):
        planes = width << stage
        for block in range(2):
            name = f"layer{stage + 1}.{block}."
            stride = 2 if stage > 0 and block == 0 else 1
            conv_bn(name + "conv1", name + "bn1", cin, planes, 3)
            conv_bn(name + "conv2", name + "bn2", planes, planes, 3)
            if stride != 1 or cin != planes:
                conv_bn(name + "downsample.0", name + "downsample.1", cin, planes, 1)
            cin = planes
    return state, cin


def linear(rng, out_features, in_features):
    bound = 1.0 / np.sqrt(in_features)
    return (rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32),
            rng.uniform(-bound, bound, out_features).astype(np.float32))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=172)
    p.add_argument("--ctx", type=int, default=512)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--size", type=int, default=64)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    with atomic_folder(a.out, ".bundle-", replace=True) as work:
        subprocess.run([sys.executable, os.path.join(HERE, "make_llama_model.py"), "--out", os.path.join(work, "llm.gguf"),
                        "--format", "gguf", "--type", "f32", "--dim", str(a.dim), "--layers", str(a.layers),
                        "--heads", str(a.heads), "--kv-heads", str(a.kv_heads), "--ffn", str(a.ffn),
                        "--ctx", str(a.ctx), "--seed", str(a.seed)], check=True, stdout=subprocess.DEVNULL)

        state, channels = resnet18_state(a.width, rng)
        write_safetensors(os.path.join(work, "encoder.safetensors"), state, {"format": "pt"})

        w0, b0 = linear(rng, a.dim, channels)
        w2, b2 = linear(rng, a.dim, a.dim)
        projector = {"mm_projector.0.weight": w0, "mm_projector.0.bias": b0, "mm_projector.2.weight": w2,
                     "mm_projector.2.bias": b2,
                     "mm_projector.modality_embedding": (rng.standard_normal((3, a.dim)) * 0.02).astype(np.float32),
                     "mm_projector.eye_embedding": (rng.standard_normal((2, a.dim)) * 0.02).astype(np.float32)}
        write_safetensors(os.path.join(work, "projector.safetensors"), projector,
                          {"mm_projector_type": "mlp2x_gelu", "mm_hidden_size": str(channels),
                           "hidden_size": str(a.dim), "ophtha_pool_side": str(a.pool), "ophtha_projector_version": "1"})

        heads = {}
        for name, outputs in [("modality", 3), ("gradable", 1), ("findings", FINDINGS)] + \
                             [("grade." + code, levels) for code, levels in GRADE_LEVELS]:
            heads[f"heads.{name}.weight"], heads[f"heads.{name}.bias"] = linear(rng, outputs, channels)
        write_safetensors(os.path.join(work, "heads.safetensors"), heads,
                          {"ophtha_heads_version": "1", "channels": str(channels)})

        grey = {"size": a.size, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "pad_value": 0.0}
        manifest = {
            "format": "ophtha-bundle", "version": 1, "name": f"random-bundle-seed{a.seed}",
            "description": "seeded random weights for tests: the reports are meaningless",
            "disclaimer": "Random test model: its output is meaningless and has no clinical validity.",
            "llm": {"path": "llm.gguf"},
            "encoder": {"arch": "resnet18", "path": "encoder.safetensors"},
            "projector": {"path": "projector.safetensors"},
            "heads": {"path": "heads.safetensors"},
            "preprocessing": {"cfp": {"size": a.size, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                      "pad_value": 0.0},
                              "oct": grey, "osa": grey},
            "languages": ["zh", "en"],
            "generation": {"max_tokens": 32, "temperature": 0.0, "top_p": 1.0, "top_k": 0},
        }
        with open(os.path.join(work, "ophtha-bundle.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    main()
