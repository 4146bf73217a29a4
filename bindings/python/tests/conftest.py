"""Fixtures for the tests of the Python package: seeded models and the `ophtha` binary.

    cmake --build BUILD --target _ophtha ophtha_cli
    PYTHONPATH=BUILD/python OPHTHA_BIN=BUILD/ophtha OPHTHA_TEST_WORK_DIR=BUILD/test-work \\
        /usr/bin/python3 -m pytest -q bindings/python/tests

(ctest runs exactly this as `python_bindings`.) Models are written by
tests/tools/make_llama_model.py into OPHTHA_TEST_WORK_DIR/python-bindings (a pytest temporary
folder when unset), named by a hash of the generator and its arguments, so they are reused across
runs and never stale.
"""
import hashlib
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
MAKE_LLAMA_MODEL = REPO / "tests" / "tools" / "make_llama_model.py"
MAKE_RANDOM_BUNDLE = REPO / "tests" / "tools" / "make_random_bundle.py"
EXAMPLE_IMAGES = REPO / "examples" / "images"
LLAMA2_TOKENIZER = REPO / "tests" / "data" / "llama2-tokenizer.model"

# A LLaMA 2 vocabulary (the real tokenizer), GQA, random weights: ~1000 tokens/s on one core.
SMALL_MODEL = "--format gguf --type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 172 --ctx 256 --seed 1"

try:
    import ophtha
except ImportError as error:  # a clear failure instead of a collection error in every file
    raise pytest.UsageError(f"cannot import the ophtha package ({error}); build it with "
                            "`cmake --build BUILD --target _ophtha` and set PYTHONPATH=BUILD/python")


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    root = os.environ.get("OPHTHA_TEST_WORK_DIR")
    folder = Path(root).resolve() / "python-bindings" if root else tmp_path_factory.mktemp("python-bindings")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def make_model(work_dir, make_args):
    """The path of the model `make_llama_model.py --out PATH <make_args>` writes (made once)."""
    args = shlex.split(make_args)
    digest = hashlib.sha256(MAKE_LLAMA_MODEL.read_bytes() + b"\0" + "\0".join(args).encode()).hexdigest()[:16]
    out = work_dir / (f"{digest}.gguf" if args[args.index("--format") + 1] == "gguf" else digest)
    if not out.exists():  # the script writes under a temporary name, then renames
        subprocess.run([sys.executable, str(MAKE_LLAMA_MODEL), "--out", str(out)] + args,
                       check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture(scope="session")
def model_path(work_dir):
    return make_model(work_dir, SMALL_MODEL)


@pytest.fixture(scope="session")
def long_context_model(work_dir):
    """The small model with a 2048-token context: long generations (about half a second)."""
    with ophtha.Model(make_model(work_dir, SMALL_MODEL.replace("--ctx 256", "--ctx 2048")), n_threads=1) as m:
        yield m


@pytest.fixture(scope="session")
def model(model_path):
    with ophtha.Model(model_path, n_threads=1) as m:
        yield m


@pytest.fixture(scope="session")
def bundle_path(work_dir):
    """A model bundle of seeded random weights (LLM dim 64, 2 x 2 = 4 image tokens): the reports
    are meaningless, the pipeline is the real one. Rewritten every run (half a second)."""
    folder = work_dir / "random-bundle"
    subprocess.run([sys.executable, str(MAKE_RANDOM_BUNDLE), "--out", str(folder), "--seed", "4"], check=True,
                   capture_output=True, timeout=300)
    return folder


@pytest.fixture(scope="session")
def bundle(bundle_path):
    with ophtha.Model(bundle_path, n_threads=1) as m:
        yield m


@pytest.fixture(scope="session")
def ophtha_cli():
    """Runs the `ophtha` binary (OPHTHA_BIN, default <repo>/build/ophtha); returns its stdout."""
    binary = Path(os.environ.get("OPHTHA_BIN", REPO / "build" / "ophtha"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"OPHTHA_BIN={binary} is not an executable; build the ophtha_cli target and point "
                    "OPHTHA_BIN at it", pytrace=False)

    def run(*args):
        done = subprocess.run([str(binary)] + [str(a) for a in args], capture_output=True, timeout=120)
        assert done.returncode == 0, f"ophtha {shlex.join(map(str, args))} failed: {done.stderr.decode()}"
        return done.stdout.decode("utf-8")

    return run


@pytest.fixture(scope="session")
def sentencepiece_llama2():
    import sentencepiece
    return sentencepiece.SentencePieceProcessor(model_file=str(LLAMA2_TOKENIZER))
