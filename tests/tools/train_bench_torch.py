#!/usr/bin/python3
"""PyTorch's speed on the training benchmark of docs/training.md: the same 4.9M-parameter model
(tests/tools/train_reference.py's forward, eager PyTorch, f32), batches of 8 sequences of 52 tokens,
masked cross-entropy, torch.optim.AdamW, clip_grad_norm_; prints tokens/s over steps 2..N.

  /usr/bin/python3 tests/tools/train_bench_torch.py --threads 1 --steps 20
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_reference import Model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = {"dim": 128, "layers": 4, "heads": 4, "kv_heads": 4, "rms_eps": 1e-5, "rope_theta": 10000.0}
    V, d, f = 32000, 128, 352
    t = {"model.embed_tokens.weight": torch.randn(V, d) * 0.02, "model.norm.weight": torch.ones(d)}
    for l in range(cfg["layers"]):
        p_ = f"model.layers.{l}."
        t[p_ + "input_layernorm.weight"] = torch.ones(d)
        t[p_ + "post_attention_layernorm.weight"] = torch.ones(d)
        for name, shape in [("self_attn.q_proj", (d, d)), ("self_attn.k_proj", (d, d)), ("self_attn.v_proj", (d, d)),
                            ("self_attn.o_proj", (d, d)), ("mlp.gate_proj", (f, d)), ("mlp.up_proj", (f, d)),
                            ("mlp.down_proj", (d, f))]:
            t[p_ + name + ".weight"] = torch.randn(*shape) * 0.02
    params = list(t.values())
    for x in params:
        x.requires_grad_(True)
    model = Model(t, cfg, 0.0)
    opt = torch.optim.AdamW(params, lr=1e-3, foreach=False)
    tokens, seconds = 0, 0.0
    for step in range(a.steps):
        ids = torch.randint(3, V, (8, 53))
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model.forward(ids[:, :-1])
        loss = -torch.log_softmax(logits, -1).gather(-1, ids[:, 1:].unsqueeze(-1)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step > 0:
            seconds += time.perf_counter() - start
            tokens += 8 * 52
    print(f"PyTorch {torch.__version__}, threads {a.threads}: {tokens / seconds:.1f} tokens/s (steps 2..{a.steps})")


if __name__ == "__main__":
    main()
