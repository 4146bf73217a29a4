#!/usr/bin/python3
"""PyTorch reference of Ophtha's LLaMA training steps (tests/unit/train/test_train_vs_pytorch.cpp).

Reads the initial tensors of a model (a LlamaForCausalLM state_dict in the Hugging Face layout, plus
LoRA adapters named "<module>.lora_A.weight" / "<module>.lora_B.weight") and the micro-batches of
each step (ids / targets / loss_mask per micro-batch) from safetensors files the C++ test wrote,
then trains with PyTorch's own pieces: autograd, torch.optim.AdamW (weight decay on matrices only),
torch.nn.utils.clip_grad_norm_, and the schedule warm-up + cosine. With --autocast bf16 every
forward pass runs under torch.autocast("cpu", dtype=torch.bfloat16), the loss in f32.
Writes to --out: logits0.npy (logits of the first micro-batch before training), losses.npy (the
per-token loss of each step, written last), final.<name>.npy for every trained tensor.

  /usr/bin/python3 tests/tools/train_reference.py --init init.safetensors --batches batches.safetensors \
      --out DIR --model-config '{"heads": 8, ...}' --steps 3 --accum 2 --lr 1e-3 ...
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(body[begin:end], DTYPES[info["dtype"]]).reshape(info["shape"]).copy())
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], -1)


class Model:
    def __init__(self, tensors, cfg, lora_scale):
        self.t, self.cfg, self.scale = tensors, cfg, lora_scale

    def linear(self, module, x):
        y = x @ self.t[module + ".weight"].T
        if module + ".lora_A.weight" in self.t:
            y = y + (x @ self.t[module + ".lora_A.weight"].T) @ self.t[module + ".lora_B.weight"].T * self.scale
        return y

    def forward(self, ids):
        c, t = self.cfg, self.t
        B, T = ids.shape
        hd = c["dim"] // c["heads"]
        inv = c["rope_theta"] ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
        angle = torch.outer(torch.arange(T, dtype=torch.float64), inv)
        cos = torch.cat([angle.cos(), angle.cos()], -1).float()
        sin = torch.cat([angle.sin(), angle.sin()], -1).float()
        x = t["model.embed_tokens.weight"][ids]
        mask = torch.full((T, T), float("-inf")).triu(1)
        for l in range(c["layers"]):
            p = f"model.layers.{l}."
            h = rms_norm(x, t[p + "input_layernorm.weight"], c["rms_eps"])
            q = self.linear(p + "self_attn.q_proj", h).view(B, T, c["heads"], hd).transpose(1, 2)
            k = self.linear(p + "self_attn.k_proj", h).view(B, T, c["kv_heads"], hd).transpose(1, 2)
            v = self.linear(p + "self_attn.v_proj", h).view(B, T, c["kv_heads"], hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            g = c["heads"] // c["kv_heads"]
            k, v = k.repeat_interleave(g, 1), v.repeat_interleave(g, 1)
            # Scaled by a product, as the trainer scales: under bf16 autocast the scores are bf16, where
            # "/ sqrt(hd)" and "* (1 / sqrt(hd))" round differently.
            att = torch.softmax(q @ k.transpose(2, 3) * (1.0 / math.sqrt(hd)) + mask, -1) @ v
            x = x + self.linear(p + "self_attn.o_proj", att.transpose(1, 2).reshape(B, T, -1))
            h = rms_norm(x, t[p + "post_attention_layernorm.weight"], c["rms_eps"])
            x = x + self.linear(p + "mlp.down_proj",
                                torch.nn.functional.silu(self.linear(p + "mlp.gate_proj", h)) * self.linear(p + "mlp.up_proj", h))
        head = t["lm_head.weight"] if "lm_head.weight" in t else t["model.embed_tokens.weight"]
        return rms_norm(x, t["model.norm.weight"], c["rms_eps"]) @ head.T


def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    progress = min(1.0, (step - a.warmup) / max(1, a.total - a.warmup))
    return a.min_lr + (a.lr - a.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--init", required=True)
    p.add_argument("--batches", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model-config", required=True, help="JSON: dim, layers, heads, kv_heads, rms_eps, rope_theta")
    p.add_argument("--trainable", choices=["full", "lora"], required=True)
    p.add_argument("--lora-scale", type=float, default=0.0, help="alpha / rank")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--accum", type=int, default=1)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--min-lr", type=float, default=0.0)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--total", type=int, required=True)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.999])
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--autocast", choices=["off", "bf16"], default="off")
    p.add_argument("--tag", default="", help="ignored: lets callers key cached outputs on their inputs")
    a = p.parse_args()
    torch.set_num_threads(1)

    tensors = read_safetensors(a.init)
    batches = read_safetensors(a.batches)
    trained = [n for n in tensors if a.trainable == "full" or ".lora_" in n]
    for n in trained:
        tensors[n].requires_grad_(True)
    model = Model(tensors, json.loads(a.model_config), a.lora_scale)
    groups = [{"params": [tensors[n] for n in trained if tensors[n].dim() >= 2], "weight_decay": a.weight_decay},
              {"params": [tensors[n] for n in trained if tensors[n].dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=a.lr, betas=tuple(a.betas), eps=a.eps,
                                  foreach=False)
    os.makedirs(a.out, exist_ok=True)
    with torch.no_grad():
        np.save(os.path.join(a.out, "logits0.npy"), model.forward(batches["ids.0"]).numpy())
    losses = []
    for step in range(a.steps):
        micro = [step * a.accum + j for j in range(a.accum)]
        learned = sum(float(batches[f"loss_mask.{m}"].sum()) for m in micro)
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for m in micro:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
                logits = model.forward(batches[f"ids.{m}"])
            logp = torch.log_softmax(logits.float(), -1).gather(-1, batches[f"targets.{m}"].unsqueeze(-1)).squeeze(-1)
            loss = -(logp * batches[f"loss_mask.{m}"]).sum() / learned
            loss.backward()
            total += loss.item()
        torch.nn.utils.clip_grad_norm_([tensors[n] for n in trained], a.clip)
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, a)
        optimizer.step()
        losses.append(total)
    for n in trained:
        np.save(os.path.join(a.out, f"final.{n}.npy"), tensors[n].detach().numpy())
    np.save(os.path.join(a.out, "losses.npy"), np.array(losses, np.float32))  # last: marks the output complete


if __name__ == "__main__":
    main()
