#!/usr/bin/python3
"""Seeded-random LLaMA2-architecture models as GGUF files or Hugging Face folders.

The same --seed (and shape, --std) gives the same model whatever --format and --type: every tensor
is drawn in float32 from its own numpy generator, default_rng([seed, layer, kind]), in the Meta
layout (interleaved RoPE pairs), and only then converted:
  - GGUF ("llama" architecture) keeps q/k in the Meta layout, as llama.cpp's converter does;
    1-D norm weights stay F32, 2-D weights take --type (f32, f16, bf16, q8_0, q4_0).
  - HF folders (LlamaForCausalLM) store q_proj/k_proj permuted to the rotate-half layout exactly as
    transformers' convert_llama_weights_to_hf.py does (k with num_key_value_heads); --type f32,
    f16 or bf16 for every tensor, one model.safetensors or --shards files plus an index.
Weights: linear and embedding matrices ~ N(0, std^2); norm weights ~ 1 + N(0, 0.1^2).
Tensors are drawn, converted and written one at a time; the output appears atomically (a temporary
name in the same folder, then rename), so concurrent writers of the same arguments are harmless.

  /usr/bin/python3 tests/tools/make_llama_model.py --out m.gguf --format gguf --type f32 \
      --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 172 --ctx 256 --seed 1 --std 0.1
"""
import argparse
import filecmp
import json
import os
import shutil
import struct
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TOKENIZER = os.path.join(REPO, "tests", "data", "llama2-tokenizer.model")
NORM_STD = 0.1
QK = 32  # block size of Q8_0 and Q4_0 (ggml-common.h QK8_0 = QK4_0)

# ggml_type ids and the per-type general.file_type (llama_ftype) values.
GGML_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8, "bf16": 30}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "bf16": 32}
SAFETENSORS_DTYPE = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
TORCH_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}

# Per-tensor kind ids: part of each tensor's RNG seed, so they must never change.
KIND_ID = {"token_embd": 0, "attn_norm": 1, "attn_q": 2, "attn_k": 3, "attn_v": 4, "attn_output": 5,
           "ffn_norm": 6, "ffn_gate": 7, "ffn_up": 8, "ffn_down": 9, "output_norm": 10, "output": 11}
HF_LAYER_NAME = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
                 "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                 "ffn_down": "mlp.down_proj"}
HF_GLOBAL_NAME = {"token_embd": "model.embed_tokens.weight", "output_norm": "model.norm.weight",
                  "output": "lm_head.weight"}


class TensorSpec:
    """One weight: `kind` (GGUF stem), `layer` (-1 for global ones), `shape` in PyTorch order (rows, cols)."""

    def __init__(self, kind, layer, shape):
        self.kind, self.layer, self.shape = kind, layer, tuple(shape)

    @property
    def gguf_name(self):
        return (f"blk.{self.layer}.{self.kind}" if self.layer >= 0 else self.kind) + ".weight"

    @property
    def hf_name(self):
        if self.layer < 0:
            return HF_GLOBAL_NAME[self.kind]
        return f"model.layers.{self.layer}.{HF_LAYER_NAME[self.kind]}.weight"

    @property
    def numel(self):
        return int(np.prod(self.shape))


def tensor_specs(a):
    """The model's weights in the canonical (GGUF / Meta checkpoint) order."""
    head_dim, q_dim, kv_dim = a.dim // a.heads, a.dim, (a.dim // a.heads) * a.kv_heads
    assert head_dim * a.heads == a.dim
    specs = [TensorSpec("token_embd", -1, (a.n_vocab, a.dim))]
    for i in range(a.layers):
        specs += [TensorSpec("attn_norm", i, (a.dim,)), TensorSpec("attn_q", i, (q_dim, a.dim)),
                  TensorSpec("attn_k", i, (kv_dim, a.dim)), TensorSpec("attn_v", i, (kv_dim, a.dim)),
                  TensorSpec("attn_output", i, (a.dim, q_dim)), TensorSpec("ffn_norm", i, (a.dim,)),
                  TensorSpec("ffn_gate", i, (a.ffn, a.dim)), TensorSpec("ffn_down", i, (a.dim, a.ffn)),
                  TensorSpec("ffn_up", i, (a.ffn, a.dim))]
    specs.append(TensorSpec("output_norm", -1, (a.dim,)))
    if not a.tied:
        specs.append(TensorSpec("output", -1, (a.n_vocab, a.dim)))
    return specs


def draw(spec, seed, std):
    """The tensor's float32 values in the Meta layout; depends only on (seed, layer, kind, shape, std)."""
    rng = np.random.default_rng([seed, spec.layer + 1, KIND_ID[spec.kind]])
    x = rng.standard_normal(spec.shape, dtype=np.float32)
    if spec.kind.endswith("norm"):
        x *= np.float32(NORM_STD)
        x += np.float32(1.0)
    else:
        x *= np.float32(std)
    return x


def meta_to_hf(w, n_heads):
    """Meta interleaved-RoPE rows -> HF rotate-half rows (convert_llama_weights_to_hf.py `permute`)."""
    rows, cols = w.shape
    return np.ascontiguousarray(w.reshape(n_heads, rows // n_heads // 2, 2, cols).swapaxes(1, 2).reshape(rows, cols))


# ---------------------------------------------------------------------------------------------
# Element types. Every converter takes a float32 array and returns the bytes' numpy array.

def to_bf16(x):
    """float32 -> bfloat16 bits, round to nearest even, NaN kept quiet (ggml / gguf-py semantics)."""
    u = x.view(np.uint32)
    u = np.where((u & 0x7FFFFFFF) > 0x7F800000, (u & np.uint32(0xFFFF0000)) | np.uint32(64 << 16), u)
    return ((u.astype(np.uint64) + (0x7FFF + ((u >> 16) & 1))) >> 16).astype(np.uint16)


def roundf(x):
    """C roundf on float32: ties away from zero (np.round rounds ties to even)."""
    t = np.trunc(x)
    return t + np.where(np.abs(x - t) >= np.float32(0.5), np.sign(x), np.float32(0))


def quantize_q8_0(x):
    """ggml quantize_row_q8_0_ref: per 32 values d = amax/127 (stored f16), q = roundf(x * (1/d))."""
    b = x.reshape(-1, QK)
    amax = np.abs(b).max(axis=1)
    d = amax / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = roundf(b * inv[:, None]).astype(np.int8)
    out = np.empty((b.shape[0], 2 + QK), np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out


def quantize_q4_0(x):
    """ggml quantize_row_q4_0_ref: m = the first value of largest magnitude, d = m / -8 (stored f16),
    q = min(15, (int8)(x * (1/d) + 8.5)); byte j holds q[j] (low nibble) and q[j + 16] (high)."""
    b = x.reshape(-1, QK)
    a = np.abs(b)
    first = a.argmax(axis=1)
    m = np.where(a.max(axis=1) > 0, b[np.arange(b.shape[0]), first], np.float32(0))
    d = m / np.float32(-8)
    with np.errstate(divide="ignore"):
        inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = np.minimum(15, np.trunc(b * inv[:, None] + np.float32(8.5)).astype(np.int8)).astype(np.uint8)
    out = np.empty((b.shape[0], 2 + QK // 2), np.uint8)
    out[:, :2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q[:, : QK // 2] | (q[:, QK // 2 :] << 4)
    return out


def encode(x, type_name):
    if type_name == "f32":
        return x
    if type_name == "f16":
        return x.astype(np.float16)
    if type_name == "bf16":
        return to_bf16(x)
    if type_name == "q8_0":
        return quantize_q8_0(x)
    if type_name == "q4_0":
        return quantize_q4_0(x)
    raise ValueError(type_name)


def encoded_nbytes(numel, type_name):
    if type_name in ("q8_0", "q4_0"):
        return numel // QK * (2 + (QK if type_name == "q8_0" else QK // 2))
    return numel * (4 if type_name == "f32" else 2)


# ---------------------------------------------------------------------------------------------
# Vocabulary: the LLaMA 2 SentencePiece model, or its first N pieces.

class Vocab:
    def __init__(self, tokenizer_path, n_vocab):
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=tokenizer_path)
        self.path, self.full, self.n = tokenizer_path, sp.vocab_size(), n_vocab or sp.vocab_size()
        if not 259 <= self.n <= sp.vocab_size():
            sys.exit(f"--vocab must be 'tokenizer' or 259..{sp.vocab_size()} (byte pieces end at id 258)")
        self.tokens = [sp.IdToPiece(i).encode("utf-8") for i in range(self.n)]
        self.scores = np.array([sp.GetScore(i) for i in range(self.n)], np.float32)
        # SentencePieceTokenTypes as in llama.cpp's converter: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte.
        self.types = np.array([2 if sp.IsUnknown(i) else 3 if sp.IsControl(i) else 5 if sp.IsUnused(i)
                               else 6 if sp.IsByte(i) else 1 for i in range(self.n)], np.int32)
        self.bos, self.eos, self.unk = sp.bos_id(), sp.eos_id(), sp.unk_id()

    def write_model_file(self, path):
        """tokenizer.model for an HF folder: a byte copy, or the protobuf with only the first N pieces."""
        with open(self.path, "rb") as f:
            data = f.read()
        kept, pieces = [], 0
        for field, start, end in _proto_fields(data):
            if field == 1:
                pieces += 1
                if pieces > self.n:
                    continue
            kept.append(data[start:end])
        with open(path, "wb") as f:
            f.write(b"".join(kept))


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _proto_fields(data):
    """(field number, start, end) of each top-level protobuf field of a serialized message."""
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos)
        wire = key & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield key >> 3, start, pos


# ---------------------------------------------------------------------------------------------
# GGUF v3 writer.

GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 4, 5, 6, 7, 8, 9
ALIGNMENT = 32


def _gguf_string(s):
    b = s if isinstance(s, bytes) else s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _gguf_kv(key, vtype, value):
    out = _gguf_string(key) + struct.pack("<I", vtype)
    if vtype == GGUF_STRING:
        return out + _gguf_string(value)
    if vtype == GGUF_UINT32:
        return out + struct.pack("<I", value)
    if vtype == GGUF_FLOAT32:
        return out + struct.pack("<f", value)
    if vtype == GGUF_BOOL:
        return out + struct.pack("<B", 1 if value else 0)
    raise ValueError(vtype)


def _gguf_array(key, elem_type, values):
    out = _gguf_string(key) + struct.pack("<IIQ", GGUF_ARRAY, elem_type, len(values))
    if elem_type == GGUF_STRING:
        return out + b"".join(_gguf_string(v) for v in values)
    return out + np.ascontiguousarray(values).astype("<f4" if elem_type == GGUF_FLOAT32 else "<i4").tobytes()


def _pad(n):
    return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


def write_gguf(path, a, vocab, specs):
    head_dim = a.dim // a.heads
    kvs = [_gguf_kv("general.architecture", GGUF_STRING, "llama"),
           _gguf_kv("general.name", GGUF_STRING, f"ophtha-test-d{a.dim}-l{a.layers}-s{a.seed}"),
           _gguf_kv("general.alignment", GGUF_UINT32, ALIGNMENT),
           _gguf_kv("general.file_type", GGUF_UINT32, FILE_TYPE[a.type]),
           _gguf_kv("llama.vocab_size", GGUF_UINT32, vocab.n),
           _gguf_kv("llama.context_length", GGUF_UINT32, a.ctx),
           _gguf_kv("llama.embedding_length", GGUF_UINT32, a.dim),
           _gguf_kv("llama.block_count", GGUF_UINT32, a.layers),
           _gguf_kv("llama.feed_forward_length", GGUF_UINT32, a.ffn),
           _gguf_kv("llama.rope.dimension_count", GGUF_UINT32, head_dim),
           _gguf_kv("llama.attention.head_count", GGUF_UINT32, a.heads),
           _gguf_kv("llama.attention.head_count_kv", GGUF_UINT32, a.kv_heads),
           _gguf_kv("llama.attention.layer_norm_rms_epsilon", GGUF_FLOAT32, a.rms_eps),
           _gguf_kv("llama.rope.freq_base", GGUF_FLOAT32, a.rope_theta),
           _gguf_kv("tokenizer.ggml.model", GGUF_STRING, "llama"),
           _gguf_kv("tokenizer.ggml.pre", GGUF_STRING, "default"),
           _gguf_array("tokenizer.ggml.tokens", GGUF_STRING, vocab.tokens),
           _gguf_array("tokenizer.ggml.scores", GGUF_FLOAT32, vocab.scores),
           _gguf_array("tokenizer.ggml.token_type", GGUF_INT32, vocab.types),
           _gguf_kv("tokenizer.ggml.bos_token_id", GGUF_UINT32, vocab.bos),
           _gguf_kv("tokenizer.ggml.eos_token_id", GGUF_UINT32, vocab.eos),
           _gguf_kv("tokenizer.ggml.unknown_token_id", GGUF_UINT32, vocab.unk),
           _gguf_kv("tokenizer.ggml.add_bos_token", GGUF_BOOL, True),
           _gguf_kv("tokenizer.ggml.add_eos_token", GGUF_BOOL, False),
           _gguf_kv("tokenizer.ggml.add_space_prefix", GGUF_BOOL, True)]
    if a.type in ("q8_0", "q4_0"):
        kvs.append(_gguf_kv("general.quantization_version", GGUF_UINT32, 2))

    types = [("f32" if len(s.shape) == 1 else a.type) for s in specs]
    infos, offset = [], 0
    for s, t in zip(specs, types):
        dims = s.shape[::-1]  # GGUF lists ne[0] (the contiguous dimension) first
        infos.append(_gguf_string(s.gguf_name) + struct.pack("<I", len(dims)) +
                     struct.pack(f"<{len(dims)}Q", *dims) + struct.pack("<IQ", GGML_TYPE[t], offset))
        nbytes = encoded_nbytes(s.numel, t)
        offset += nbytes + _pad(nbytes)
    header = b"GGUF" + struct.pack("<IQQ", 3, len(specs), len(kvs)) + b"".join(kvs) + b"".join(infos)
    with open(path, "wb") as f:
        f.write(header + b"\0" * _pad(len(header)))
        for s, t in zip(specs, types):
            data = encode(draw(s, a.seed, a.std), t)
            assert data.nbytes == encoded_nbytes(s.numel, t)
            data.tofile(f)
            f.write(b"\0" * _pad(data.nbytes))


# ---------------------------------------------------------------------------------------------
# Hugging Face folder: config.json, safetensors (one file or shards + index), tokenizer files.

def hf_tensor(spec, a):
    w = draw(spec, a.seed, a.std)
    if spec.kind == "attn_q":
        w = meta_to_hf(w, a.heads)
    elif spec.kind == "attn_k":
        w = meta_to_hf(w, a.kv_heads)
    return encode(w, a.type)


def write_safetensors(path, a, specs):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for s in specs:
        nbytes = encoded_nbytes(s.numel, a.type)
        header[s.hf_name] = {"dtype": SAFETENSORS_DTYPE[a.type], "shape": list(s.shape),
                             "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)
        for s in specs:
            hf_tensor(s, a).tofile(f)
    return offset


def write_hf(folder, a, vocab, specs):
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.dim,
              "intermediate_size": a.ffn, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
              "num_key_value_heads": a.kv_heads, "max_position_embeddings": a.ctx, "vocab_size": vocab.n,
              "rms_norm_eps": a.rms_eps, "rope_theta": a.rope_theta, "rope_scaling": None,
              "tie_word_embeddings": a.tied, "torch_dtype": TORCH_DTYPE[a.type], "hidden_act": "silu",
              "attention_bias": False, "mlp_bias": False, "pretraining_tp": 1, "initializer_range": a.std,
              "bos_token_id": vocab.bos, "eos_token_id": vocab.eos, "use_cache": True}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": vocab.bos, "eos_token_id": vocab.eos}, f, indent=2)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
                   "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
                   "model_max_length": a.ctx, "legacy": False, "clean_up_tokenization_spaces": False}, f, indent=2)
    vocab.write_model_file(os.path.join(folder, "tokenizer.model"))
    if a.format == "hf":
        write_safetensors(os.path.join(folder, "model.safetensors"), a, specs)
        return
    n = max(1, min(a.shards, len(specs)))
    sizes = np.cumsum([s.numel for s in specs])
    groups = [[] for _ in range(n)]
    for s, end in zip(specs, sizes):  # contiguous runs of tensors of about equal total size
        groups[min(n - 1, int((end - 1) * n // sizes[-1]))].append(s)
    groups = [g for g in groups if g]
    weight_map, total = {}, 0
    for i, group in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
        total += write_safetensors(os.path.join(folder, name), a, group)
        weight_map.update({s.hf_name: name for s in group})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ---------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="a .gguf file, or a folder for --format hf/hf-sharded")
    p.add_argument("--format", choices=["gguf", "hf", "hf-sharded"], default="gguf")
    p.add_argument("--type", choices=list(GGML_TYPE), default="f32", help="2-D weights' element type")
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--layers", type=int, required=True)
    p.add_argument("--heads", type=int, required=True)
    p.add_argument("--kv-heads", type=int, help="default: --heads")
    p.add_argument("--ffn", type=int, required=True)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--vocab", default="tokenizer", help="'tokenizer' (all 32000 pieces) or N: its first N pieces")
    p.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help="SentencePiece model of the vocabulary")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--std", type=float, default=0.1, help="standard deviation of the matrices")
    p.add_argument("--tied", action="store_true", help="no output matrix: the head reuses token_embd")
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--rms-eps", type=float, default=1e-5)
    p.add_argument("--shards", type=int, default=3, help="files of --format hf-sharded")
    p.add_argument("--eos-id", type=int, help="end-of-sequence id written to the metadata (default: the tokenizer's)")
    a = p.parse_args(argv)
    a.kv_heads = a.kv_heads or a.heads
    problems = []
    if a.dim % a.heads or (a.dim // a.heads) % 2:
        problems.append("--dim must be --heads times an even head size")
    if a.heads % a.kv_heads:
        problems.append("--heads must be a multiple of --kv-heads")
    if a.format != "gguf" and a.type not in SAFETENSORS_DTYPE:
        problems.append(f"--type {a.type} is GGUF only (HF folders hold f32, f16 or bf16)")
    if a.type in ("q8_0", "q4_0") and (a.dim % QK or a.ffn % QK):
        problems.append(f"--type {a.type} needs --dim and --ffn multiples of {QK} (llama.cpp's block size)")
    if problems:
        p.error("; ".join(problems))
    if a.vocab != "tokenizer" and not a.vocab.isdigit():
        p.error("--vocab must be 'tokenizer' or a number of pieces")
    a.n_vocab = None if a.vocab == "tokenizer" else int(a.vocab)
    return a


def replace_folder(tmp, out):
    """Renames folder `tmp` to `out`. An existing `out` with the same files is kept (a concurrent writer of
    the same arguments finished first, and readers may be using it); a different one is replaced."""
    try:
        os.rename(tmp, out)
        return
    except OSError:
        if not os.path.isdir(out):
            raise
    names = sorted(os.listdir(tmp))
    if names == sorted(os.listdir(out)) and all(filecmp.cmp(os.path.join(tmp, n), os.path.join(out, n), shallow=False)
                                                for n in names):
        shutil.rmtree(tmp)
        return
    old = f"{tmp}.old"
    os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old)


def write_model(a):
    """Writes the model described by parsed arguments `a` to a.out, atomically."""
    vocab = Vocab(a.tokenizer, a.n_vocab)
    a.n_vocab = vocab.n
    if a.eos_id is not None:
        vocab.eos = a.eos_id
    specs = tensor_specs(a)
    out = os.path.abspath(a.out)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.tmp{os.getpid()}")
    try:
        if a.format == "gguf":
            write_gguf(tmp, a, vocab, specs)
            os.replace(tmp, out)
        else:
            os.makedirs(tmp)
            write_hf(tmp, a, vocab, specs)
            replace_folder(tmp, out)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        elif os.path.exists(tmp):
            os.remove(tmp)
        raise
    return specs


def main():
    a = parse_args()
    t0 = time.time()
    specs = write_model(a)
    params = sum(s.numel for s in specs)
    print(f"wrote {a.out}: {a.format} {a.type}, {params / 1e6:.2f}M parameters, {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
