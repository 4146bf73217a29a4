"""What the test-data scripts share: a safetensors writer (the `safetensors` package is not in
Debian) and folders written atomically, so that tests running in parallel never see half a folder.
"""
import contextlib
import json
import os
import shutil
import struct
import tempfile

import numpy as np

# safetensors dtype codes of the numpy dtypes written here (bfloat16 comes in as a torch tensor).
NUMPY_CODES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
               np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.uint8): "U8"}


ELEMENT_BYTES = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1}


def tensor_record(value):
    """(code, shape, bytes) of a numpy array or a torch tensor, little-endian, C order."""
    if not isinstance(value, np.ndarray):  # a torch tensor
        import torch
        t = value.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the same bits as int16
            return "BF16", list(t.shape), t.view(torch.int16).numpy().tobytes()
        value = t.numpy()
    a = np.ascontiguousarray(value)
    return NUMPY_CODES[a.dtype], list(a.shape), a.astype(a.dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> numpy array or torch tensor. The layout of huggingface/safetensors' own
    writer: sorted by descending element size, then name; header padded with spaces to 8 bytes."""
    records = {name: tensor_record(value) for name, value in tensors.items()}
    sizes = {name: ELEMENT_BYTES[r[0]] for name, r in records.items()}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(records, key=lambda n: (-sizes[n], n)):
        code, shape, data = records[name]
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


@contextlib.contextmanager
def atomic_folder(out, prefix, replace=False):
    """Yields a fresh folder beside `out`; when the block succeeds it becomes `out` by one rename
    (a concurrent writer that finished first wins, which is fine: both wrote the same content).
    With replace=True an existing `out` (e.g. written by an older version of the script) is moved
    aside and removed, so the new content always lands."""
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(work, 0o755)
    try:
        yield work
        if replace and os.path.isdir(out):
            old = tempfile.mkdtemp(prefix=prefix + "old-", dir=parent)
            os.rename(out, os.path.join(old, "folder"))
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(work, out)
        except OSError:
            if not os.path.isdir(out):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
