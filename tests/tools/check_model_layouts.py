#!/usr/bin/python3
"""Checks of make_llama_model.py's files, and of llama.cpp goldens against them, in float64 PyTorch.

  /usr/bin/python3 tests/tools/check_model_layouts.py
      Layouts: for several shapes, writes a GGUF, an HF folder and a sharded HF folder of one seed,
      reads them back with the small readers below, and requires that (1) the GGUF holds the drawn
      Meta weights, (2) an interleaved-RoPE forward on the GGUF weights and a rotate-half forward on
      each HF folder's weights give the same logits, (3) F16/BF16/Q8_0/Q4_0 GGUFs decode to the same
      weights within their precision, and (4) the vectorized quantizers equal a scalar port of ggml's
      quantize_row_q8_0_ref / quantize_row_q4_0_ref, ties and zero blocks included.
  /usr/bin/python3 tests/tools/check_model_layouts.py --golden tests/golden/llamacpp/*.json
      Goldens: regenerates each golden's model from its recorded arguments (the file's sha256 must be
      the recorded one), runs the interleaved forward over prompt + continuation, and compares with
      llama.cpp's top log-probabilities and argmax (disagreement allowed only at near ties).
Exits non-zero on the first failed check.
"""
import argparse
import hashlib
import json
import math
import os
import shlex
import struct
import sys
import tempfile

import numpy as np
import sentencepiece as spm
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_llama_model as mlm  # noqa: E402


def fail(message):
    sys.exit(f"FAILED: {message}")


# ---------------------------------------------------------------------------------------------
# Readers: GGUF (the types make_llama_model.py writes) and safetensors; both return {name: float32}.

def _dequantize(raw, ggml_type, numel):
    if ggml_type == 0:
        return raw.view(np.float32)
    if ggml_type == 1:
        return raw.view(np.float16).astype(np.float32)
    if ggml_type == 30:
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    block = raw.reshape(numel // mlm.QK, -1)
    d = block[:, :2].copy().view(np.float16).astype(np.float32)
    if ggml_type == 8:
        return (block[:, 2:].view(np.int8).astype(np.float32) * d).reshape(-1)
    if ggml_type == 2:
        qs = block[:, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8
        return (q * d).reshape(-1)
    fail(f"unexpected ggml type {ggml_type}")


def read_gguf(path):
    data = np.fromfile(path, np.uint8)
    buf = data.tobytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return buf[pos - n:pos].decode("utf-8")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(vtype):
        if vtype == 8:
            return string()
        if vtype == 9:
            etype, count = take("I"), take("Q")
            return [value(etype) for _ in range(count)]
        return take(scalar[vtype])

    magic, version, n_tensors, n_kv = take("4s"), take("I"), take("Q"), take("Q")
    if magic != b"GGUF" or version != 3:
        fail(f"{path}: not a GGUF v3 file")
    kv = {}
    for _ in range(n_kv):
        key = string()
        kv[key] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name, n_dims = string(), take("I")
        dims = [take("Q") for _ in range(n_dims)]
        infos.append((name, dims[::-1], take("I"), take("Q")))
    align = kv.get("general.alignment", 32)
    start = pos + (align - pos % align) % align
    tensors = {}
    for name, shape, ggml_type, offset in infos:
        numel = int(np.prod(shape))
        nbytes = mlm.encoded_nbytes(numel, {0: "f32", 1: "f16", 30: "bf16", 8: "q8_0", 2: "q4_0"}[ggml_type])
        raw = data[start + offset:start + offset + nbytes]
        tensors[name] = (_dequantize(raw, ggml_type, numel).reshape(shape), ggml_type)
    return kv, tensors


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = np.frombuffer(f.read(), np.uint8)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = body[begin:end]
        ggml_type = {"F32": 0, "F16": 1, "BF16": 30}[info["dtype"]]
        out[name] = _dequantize(raw, ggml_type, int(np.prod(info["shape"]))).reshape(info["shape"])
    return out


def read_hf(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if not os.path.exists(index):
        return read_safetensors(os.path.join(folder, "model.safetensors"))
    with open(index) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for name in files:
        out.update(read_safetensors(os.path.join(folder, name)))
    return out


# ---------------------------------------------------------------------------------------------
# A plain LLaMA2 forward in float64: `w` maps GGUF stems (token_embd, blk.N.attn_q, ...) to tensors.

def rope(x, theta, interleaved):
    """x (T, heads, head_dim) rotated at positions 0..T-1."""
    T, _, hd = x.shape
    inv = theta ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd)
    ang = torch.outer(torch.arange(T, dtype=torch.float64), inv)[:, None, :]
    cos, sin = ang.cos(), ang.sin()
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).reshape(x.shape)
    a, b = x[..., : hd // 2], x[..., hd // 2:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


def round_q8_0(x):
    """x through a Q8_0 round trip (ggml quantizes matmul inputs to Q8_0 for Q8_0/Q4_0 weights)."""
    b = mlm.quantize_q8_0(np.ascontiguousarray(x.numpy().astype(np.float32).reshape(-1)))
    d = b[:, :2].copy().view(np.float16).astype(np.float64)
    return torch.from_numpy((b[:, 2:].view(np.int8).astype(np.float64) * d).reshape(x.shape))


def round_f16(x):
    """x rounded to F16 (ggml converts matmul inputs to F16 for F16 weights)."""
    return x.to(torch.float16).to(torch.float64)


def forward(w, cfg, ids, interleaved, act=lambda x: x):
    """Logits (T, vocab); `act` is applied to every input of a matmul with a weight matrix."""

    def norm(x, g):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg["eps"]) * g

    H, KV = cfg["heads"], cfg["kv_heads"]
    hd, T = cfg["dim"] // H, len(ids)
    x = w["token_embd"][torch.tensor(ids)]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["layers"]):
        p = lambda n: w[f"blk.{i}.{n}"]  # noqa: E731
        h = act(norm(x, p("attn_norm")))
        q = rope((h @ p("attn_q").T).view(T, H, hd), cfg["theta"], interleaved)
        k = rope((h @ p("attn_k").T).view(T, KV, hd), cfg["theta"], interleaved).repeat_interleave(H // KV, 1)
        v = (h @ p("attn_v").T).view(T, KV, hd).repeat_interleave(H // KV, 1)
        att = torch.softmax(torch.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask, -1)
        x = x + act(torch.einsum("hts,shd->thd", att, v).reshape(T, H * hd)) @ p("attn_output").T
        h = act(norm(x, p("ffn_norm")))
        x = x + act(torch.nn.functional.silu(h @ p("ffn_gate").T) * (h @ p("ffn_up").T)) @ p("ffn_down").T
    return act(norm(x, w["output_norm"])) @ w.get("output", w["token_embd"]).T


def gguf_weights(tensors):
    return {name[: -len(".weight")]: torch.from_numpy(np.asarray(t, np.float64)) for name, (t, _) in tensors.items()}


def hf_weights(tensors, a):
    """HF tensors under GGUF stems, q/k still in the rotate-half layout."""
    return {spec.gguf_name[: -len(".weight")]: torch.from_numpy(np.asarray(tensors[spec.hf_name], np.float64))
            for spec in mlm.tensor_specs(a)}


def hf_to_meta(w, n_heads):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute: HF rotate-half rows -> Meta interleaved rows."""
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)


def config_of(a):
    return {"dim": a.dim, "layers": a.layers, "heads": a.heads, "kv_heads": a.kv_heads, "eps": a.rms_eps,
            "theta": a.rope_theta}


# ---------------------------------------------------------------------------------------------
# Layout checks.

def scalar_q8_0(x):
    """quantize_row_q8_0_ref, one value at a time in float32 (C semantics), for 32 values."""
    f = np.float32
    amax = f(0)
    for v in x:
        amax = max(amax, f(abs(v)))
    d = f(amax / f(127))
    inv = f(f(1) / d) if d != 0 else f(0)
    q = [int(math.copysign(math.floor(abs(float(f(v * inv))) + 0.5), float(f(v * inv)))) for v in x]
    return np.float16(d), q


def scalar_q4_0(x):
    f = np.float32
    amax, m = f(0), f(0)
    for v in x:
        if amax < abs(v):
            amax, m = f(abs(v)), v
    d = f(m / f(-8))
    inv = f(f(1) / d) if d != 0 else f(0)
    q = [min(15, int(math.trunc(float(f(f(v * inv) + f(8.5)))))) for v in x]
    return np.float16(d), q


def check_quantizers():
    rng = np.random.default_rng(7)
    blocks = rng.standard_normal((200, 32)).astype(np.float32)
    blocks[0] = 0
    blocks[1, 3], blocks[1, 9] = 2.0, -2.0  # equal magnitudes: the first one sets the q4_0 sign
    blocks[2, 5], blocks[2, 1] = 3.0, -3.0
    blocks[3] = np.arange(-16, 16, dtype=np.float32) + np.float32(0.5)  # q8_0: d = 1, products k + 0.5
    blocks[3, 31] = 127
    blocks[4] = np.arange(32, dtype=np.float32) / np.float32(2) - np.float32(8)  # q4_0: d = 1, 16 clamps to 15
    q8, q4 = mlm.quantize_q8_0(blocks.reshape(-1)), mlm.quantize_q4_0(blocks.reshape(-1))
    for i, b in enumerate(blocks):
        d, q = scalar_q8_0(b)
        if q8[i, :2].view(np.float16)[0].tobytes() != d.tobytes() or list(q8[i, 2:].view(np.int8)) != q:
            fail(f"q8_0 block {i} differs from the scalar port of quantize_row_q8_0_ref")
        d, q = scalar_q4_0(b)
        packed = [q[j] | (q[j + 16] << 4) for j in range(16)]
        if q4[i, :2].view(np.float16)[0].tobytes() != d.tobytes() or list(q4[i, 2:]) != packed:
            fail(f"q4_0 block {i} differs from the scalar port of quantize_row_q4_0_ref")
    print("quantizers: q8_0 and q4_0 equal the scalar ports of ggml's reference quantizers on 200 blocks")


def check_shape(args, tmp):
    a = mlm.parse_args(["--out", "x"] + shlex.split(args))
    paths = {}
    for fmt, typ in [("gguf", "f32"), ("gguf", "f16"), ("gguf", "bf16"), ("gguf", "q8_0"), ("gguf", "q4_0"),
                     ("hf", "f32"), ("hf-sharded", "f32")]:
        if typ.startswith("q") and (a.dim % 32 or a.ffn % 32):
            continue
        out = os.path.join(tmp, f"m-{fmt}-{typ}" + (".gguf" if fmt == "gguf" else ""))
        mlm.write_model(mlm.parse_args(["--out", out, "--format", fmt, "--type", typ] + shlex.split(args)))
        paths[(fmt, typ)] = out
    a.n_vocab = mlm.Vocab(a.tokenizer, a.n_vocab).n
    kv, tensors = read_gguf(paths[("gguf", "f32")])
    for spec in mlm.tensor_specs(a):
        if not np.array_equal(tensors[spec.gguf_name][0], mlm.draw(spec, a.seed, a.std)):
            fail(f"{args}: GGUF {spec.gguf_name} is not the drawn Meta-layout tensor")
    if ("output.weight" in tensors) == a.tied or kv["llama.attention.head_count_kv"] != a.kv_heads:
        fail(f"{args}: GGUF metadata or tensor set does not match the arguments")
    cfg = config_of(a)
    ids = list(range(1, 40, 3)) + [a.n_vocab - 1]
    want = forward(gguf_weights(tensors), cfg, ids, interleaved=True)
    for fmt in ("hf", "hf-sharded"):
        pieces = spm.SentencePieceProcessor(model_file=os.path.join(paths[(fmt, "f32")], "tokenizer.model")).vocab_size()
        if pieces != a.n_vocab:
            fail(f"{args}: {fmt} tokenizer.model has {pieces} pieces, expected {a.n_vocab}")
        w = hf_weights(read_hf(paths[(fmt, "f32")]), a)
        for name, t in gguf_weights(tensors).items():
            kind = name.split(".")[-1]
            n = a.heads if kind == "attn_q" else a.kv_heads
            if not torch.equal(hf_to_meta(w[name], n) if kind in ("attn_q", "attn_k") else w[name], t):
                fail(f"{args}: {fmt} {name} (q/k permuted back as llama.cpp's converter does) differs from the GGUF's")
        got = forward(w, cfg, ids, interleaved=False)
        err = (got - want).abs().max().item() / want.abs().max().item()
        if err > 1e-12:
            fail(f"{args}: {fmt} rotate-half logits differ from GGUF interleaved logits (relative {err:.2e})")
    for typ, tol in [("f16", 1e-3), ("bf16", 8e-3), ("q8_0", 1e-2), ("q4_0", 0.15)]:
        if ("gguf", typ) not in paths:
            continue
        _, t = read_gguf(paths[("gguf", typ)])
        for name, (x, ggml_type) in t.items():
            want_type = 0 if x.ndim == 1 else mlm.GGML_TYPE[typ]
            err = np.abs(x - tensors[name][0]).max() / np.abs(tensors[name][0]).max()
            if ggml_type != want_type or err > tol:
                fail(f"{args}: {typ} GGUF tensor {name}: type {ggml_type}, relative error {err:.2e}")
        got = forward(gguf_weights(t), cfg, ids, interleaved=True)
        print(f"  {typ}: logits within {(got - want).abs().max().item() / want.abs().max().item():.1e} of f32")
    print(f"layouts: {args}: GGUF interleaved == HF rotate-half == HF sharded (relative < 1e-12)")


# ---------------------------------------------------------------------------------------------
# Golden checks.

def check_golden(path, tmp):
    with open(path) as f:
        golden = json.load(f)
    args = golden["model"]["make_llama_model_args"]
    out = os.path.join(tmp, os.path.basename(path) + ".gguf")
    a = mlm.parse_args(["--out", out] + shlex.split(args))
    mlm.write_model(a)
    with open(out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != golden["model"]["gguf_sha256"]:
        fail(f"{path}: make_llama_model.py {args} no longer writes the model of this golden (sha256 differs)")
    _, tensors = read_gguf(out)
    w, cfg = gguf_weights(tensors), config_of(a)
    # How llama.cpp rounds matmul inputs for this weight type, the largest log-probability difference
    # expected, and the logit gap under which the two argmaxes may differ.
    act, lp_tol, gap_tol = {"f32": (lambda x: x, 1e-3, golden["tie_threshold"]),
                            "f16": (round_f16, 2e-2, golden["tie_threshold"]),
                            "q8_0": (round_q8_0, 0.2, 0.1), "q4_0": (round_q8_0, 0.2, 0.1)}[a.type]
    greedy = golden["mode"] == "greedy"
    worst_lp, disagree, steps = 0.0, 0, 0
    for case in golden["cases"]:
        cont = case["generated_ids"] if greedy else case["forced_ids"]
        argmax_ids = case["generated_ids"] if greedy else case["argmax_ids"]
        ids = case["prompt_ids"] + cont[:-1]
        logp = torch.log_softmax(forward(w, cfg, ids, True, act), -1)[len(case["prompt_ids"]) - 1:]
        for k, row in enumerate(logp):
            steps += 1
            lp = row[torch.tensor(case["top_ids"][k])].numpy()
            worst_lp = max(worst_lp, float(np.abs(lp - np.array(case["top_logprobs"][k])).max()))
            mine = int(row.argmax())
            if mine != argmax_ids[k]:
                gap = float(row[mine] - row[argmax_ids[k]])
                if gap > gap_tol:
                    fail(f"{path}: '{case['prompt']}' step {k}: PyTorch argmax {mine}, llama.cpp {argmax_ids[k]}, "
                         f"PyTorch logit gap {gap:.4f} > {gap_tol}")
                disagree += 1
    if worst_lp > lp_tol:
        fail(f"{path}: llama.cpp top log-probs differ from PyTorch's by up to {worst_lp:.2e} (> {lp_tol})")
    print(f"golden {os.path.basename(path)}: sha256 ok; top log-probs within {worst_lp:.1e} of PyTorch "
          f"(float64, {a.type} rounding of matmul inputs); argmax differs at {disagree} of {steps} steps, "
          f"all with gaps < {gap_tol}")


SHAPES = ["--dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 172 --ctx 64 --seed 11 --std 0.1",
          "--dim 96 --layers 2 --heads 6 --ffn 256 --seed 3 --std 0.15",
          "--dim 64 --layers 2 --heads 4 --kv-heads 1 --ffn 128 --seed 5 --tied --vocab 1000 --rope-theta 500000"
          " --rms-eps 1e-6"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--golden", nargs="*", help="golden JSON files to check instead of the layouts")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if a.golden:
            for path in a.golden:
                check_golden(path, tmp)
            return
        check_quantizers()
        for i, shape in enumerate(SHAPES):
            sub = os.path.join(tmp, str(i))
            os.makedirs(sub)
            check_shape(shape, sub)


if __name__ == "__main__":
    main()
