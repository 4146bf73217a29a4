"""examples/python/generate_text.py prints what Model.generate returns, streamed or not."""
import subprocess
import sys

import pytest

from conftest import REPO

EXAMPLE = REPO / "examples" / "python" / "generate_text.py"


def run_example(*args):
    return subprocess.run([sys.executable, str(EXAMPLE), *map(str, args)], capture_output=True, timeout=120,
                          encoding="utf-8")


@pytest.mark.parametrize("mode", ["--stream", "--no-stream"])
def test_the_example_prints_the_generated_text(model, model_path, mode):
    prompt = "眼底照相显示"
    expected = model.generate(prompt, max_tokens=24, temperature=0.8, seed=5)
    done = run_example("--model", model_path, "--prompt", prompt, "-n", 24, "--seed", 5, "--threads", 1, mode)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected.text + "\n"
    assert f"{len(expected.tokens)} generated" in done.stderr


def test_the_example_reports_a_library_error_in_one_line(tmp_path):
    done = run_example("--model", tmp_path / "absent.gguf", "--prompt", "x")
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "absent.gguf" in done.stderr and done.stderr.count("\n") == 1
