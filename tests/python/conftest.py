"""Fixtures for the command-line tests: the `ophtha` binary, a work folder, and seeded models.

    OPHTHA_BIN=build/ophtha OPHTHA_TEST_WORK_DIR=build/test-work /usr/bin/python3 -m pytest -q tests/python

OPHTHA_BIN defaults to <repo>/build/ophtha. Models written by tests/tools/make_llama_model.py are
kept in OPHTHA_TEST_WORK_DIR/python-cli/models (a pytest temporary folder when the variable is
unset), under a name that hashes the generator script and its arguments, so a changed generator
never serves a stale model.
"""
import hashlib
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAKE_LLAMA_MODEL = REPO / "tests" / "tools" / "make_llama_model.py"
LLAMA2_TOKENIZER = REPO / "tests" / "data" / "llama2-tokenizer.model"
GOLDEN_DIR = REPO / "tests" / "golden" / "llamacpp"
# Two runs at a time on the 2-core machine; each run is given --threads 1 where it takes one.
PARALLEL_RUNS = max(2, min(4, os.cpu_count() or 2))


class Ophtha:
    """Runs the `ophtha` binary; every result has .returncode, .stdout and .stderr (str, UTF-8)."""

    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, timeout=120):
        argv = [str(self.binary)] + [str(a) for a in args]
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
        # Strict decoding: the tool must write valid UTF-8 (invalid bytes come out as U+FFFD).
        return subprocess.CompletedProcess(argv, done.returncode, done.stdout.decode("utf-8"),
                                           done.stderr.decode("utf-8"))

    def many(self, arg_lists, timeout=120):
        """Runs each argument list as its own process, PARALLEL_RUNS at a time; results in order."""
        with ThreadPoolExecutor(PARALLEL_RUNS) as pool:
            return list(pool.map(lambda args: self(*args, timeout=timeout), arg_lists))

    def ok(self, *args, timeout=120):
        """Runs and requires exit status 0; returns the result."""
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, describe(result)
        return result


def describe(result):
    return (f"`{shlex.join(result.args)}` exited with {result.returncode}\n"
            f"stdout: {result.stdout[:2000]!r}\nstderr: {result.stderr[:2000]!r}")


class ModelCache:
    """Seeded models from make_llama_model.py, written once per argument list."""

    def __init__(self, folder):
        self.folder = folder
        self.generator_digest = hashlib.sha256(MAKE_LLAMA_MODEL.read_bytes()).hexdigest()

    def get(self, make_args):
        """The path of the model `make_llama_model.py --out PATH <make_args>` writes."""
        args = shlex.split(make_args)
        key = hashlib.sha256((self.generator_digest + "\0" + "\0".join(args)).encode()).hexdigest()[:16]
        fmt = args[args.index("--format") + 1]
        out = self.folder / (f"{key}.gguf" if fmt == "gguf" else key)
        if not out.exists():  # make_llama_model.py writes under a temporary name, then renames
            subprocess.run([sys.executable, str(MAKE_LLAMA_MODEL), "--out", str(out)] + args,
                           check=True, capture_output=True, timeout=300)
        return out


@pytest.fixture(scope="session")
def ophtha():
    binary = Path(os.environ.get("OPHTHA_BIN", REPO / "build" / "ophtha"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"OPHTHA_BIN={binary} is not an executable; build it (cmake --build BUILD --target ophtha) "
                    "and point OPHTHA_BIN at it", pytrace=False)
    return Ophtha(binary)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    root = os.environ.get("OPHTHA_TEST_WORK_DIR")
    folder = Path(root).resolve() / "python-cli" if root else tmp_path_factory.mktemp("python-cli")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def models(work_dir):
    folder = work_dir / "models"
    folder.mkdir(exist_ok=True)
    return ModelCache(folder)
