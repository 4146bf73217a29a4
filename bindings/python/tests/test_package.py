"""The package around the calls: versions, the ABI check, errors per status, loading, type stubs."""
import ast
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import ophtha
from ophtha import _ophtha

PACKAGE = Path(ophtha.__file__).parent


def test_version_is_the_command_line_tools(ophtha_cli):
    assert ophtha_cli("--version") == f"ophtha {ophtha.version()}\n"
    major, minor, patch = (int(x) for x in ophtha.version().split("."))
    assert ophtha.version_number() == major * 10000 + minor * 100 + patch == _ophtha.VERSION_NUMBER
    assert ophtha.__version__ == ophtha.version()
    assert Path(ophtha.library_path()).name.startswith("libophtha.so")


def test_an_abi_mismatch_is_a_clear_import_error():
    ophtha._check_abi_version(_ophtha.ABI_VERSION, _ophtha.abi_version(), "x")
    with pytest.raises(ImportError, match=r"ABI version 1, but the library it loaded \(/opt/libophtha.so.0\) "
                                          r"has ABI version 2"):
        ophtha._check_abi_version(1, 2, "/opt/libophtha.so.0")


def test_every_status_has_its_error_class_and_name():
    for name, status in _ophtha.STATUS.items():
        if name == "OK":
            continue
        error = ophtha._errors.error_for_status(status, f"message {name}")
        assert isinstance(error, ophtha.Error) and type(error) is not ophtha.Error, name
        assert type(error).STATUS == error.status == status and str(error) == f"message {name}"
        assert _ophtha.status_string(status) != "unknown status", name
    unknown = ophtha._errors.error_for_status(1000, "new")
    assert type(unknown) is ophtha.Error and unknown.status == 1000


def test_loading_errors_name_the_file(tmp_path, model_path):
    missing = tmp_path / "missing.gguf"
    with pytest.raises(ophtha.IoError, match="missing.gguf"):
        ophtha.Model(missing)
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_bytes(b"these are notes, not a model" * 10)
    with pytest.raises(ophtha.InvalidFormatError, match="notes.gguf"):
        ophtha.Model(not_gguf)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "ophtha-bundle.json").write_text("{}")
    with pytest.raises(ophtha.InvalidFormatError, match="ophtha-bundle.json"):  # a bundle missing every part
        ophtha.Model(bundle)


def test_progress_sees_the_load_and_can_cancel_it(model_path):
    fractions = []
    with ophtha.Model(model_path, progress=fractions.append) as m:
        assert m.n_vocab == 32000
    assert fractions and all(0.0 <= f <= 1.0 for f in fractions) and fractions == sorted(fractions)
    with pytest.raises(ophtha.AbortedError):
        ophtha.Model(model_path, progress=lambda fraction: True)


def test_set_log_level_accepts_the_names_and_refuses_others():
    ophtha.set_log_level("none")
    ophtha.set_log_level("WARN")
    with pytest.raises(ophtha.InvalidArgumentError, match="expected one of debug, info, warn, error, none"):
        ophtha.set_log_level("loud")


def stub_names(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return tree, names


def test_the_type_stubs_declare_the_public_api():
    assert (PACKAGE / "py.typed").is_file()
    _, names = stub_names(PACKAGE / "__init__.pyi")
    assert set(ophtha.__all__) <= names, f"missing from __init__.pyi: {set(ophtha.__all__) - names}"
    _, names = stub_names(PACKAGE / "_ophtha.pyi")
    public = {n for n in dir(_ophtha) if not n.startswith("__")}
    assert public <= names, f"missing from _ophtha.pyi: {public - names}"


def test_the_stubbed_methods_take_the_runtime_parameters():
    tree, _ = stub_names(PACKAGE / "__init__.pyi")
    checked = 0
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        runtime = getattr(ophtha, cls.name)
        for fn in (node for node in cls.body if isinstance(node, ast.FunctionDef)):
            target = inspect.getattr_static(runtime, fn.name)
            target = getattr(target, "__func__", target)
            if not inspect.isfunction(target) or isinstance(inspect.getattr_static(runtime, fn.name), property):
                continue
            a = fn.args
            stubbed = [x.arg for x in a.posonlyargs + a.args + ([a.vararg] if a.vararg else []) + a.kwonlyargs]
            assert stubbed == list(inspect.signature(target).parameters), f"{cls.name}.{fn.name}"
            checked += 1
    assert checked > 10


def test_mypy_stubtest_finds_the_stubs_true_to_the_runtime(tmp_path):
    pytest.importorskip("mypy", reason="mypy (Debian python3-mypy) checks the stubs")
    allowlist = Path(__file__).resolve().parents[1] / "stubtest-allowlist.txt"
    env = dict(os.environ, PYTHONPATH=str(PACKAGE.parent))
    done = subprocess.run([sys.executable, "-m", "mypy.stubtest", "ophtha", "--allowlist", str(allowlist)],
                          cwd=tmp_path, env=env, capture_output=True, encoding="utf-8", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_extension_uses_libophtha_only_through_the_c_abi():
    nm = subprocess.run(["nm", "-D", "--undefined-only", _ophtha.__file__], capture_output=True, encoding="utf-8")
    if nm.returncode != 0:
        pytest.skip(f"nm cannot read the extension: {nm.stderr.strip()}")
    header = (Path(__file__).resolve().parents[3] / "include" / "ophtha" / "ophtha.h").read_text(encoding="utf-8")
    c_functions = set(re.findall(r"OPHTHA_API[^;(]*?\b(ophtha_\w+)\s*\(", header))
    used = {line.split()[-1] for line in nm.stdout.splitlines() if "ophtha" in line}
    assert used <= c_functions, f"symbols from outside ophtha.h: {sorted(used - c_functions)}"
    assert {"ophtha_generate", "ophtha_tokenize", "ophtha_image_from_pixels"} <= used


def test_a_log_handler_receives_the_library_lines_until_it_is_removed(tmp_path, model_path):
    lines = []
    ophtha.set_log_handler(lambda level, message: lines.append((level, message)), "debug")
    try:
        with ophtha.Model(model_path):
            pass
        with pytest.raises(ophtha.IoError):
            ophtha.Model(tmp_path / "absent.gguf")
    finally:
        ophtha.set_log_level("warn")
    assert any(level == ophtha.LogLevel.INFO and "ophtha_model_load" in m and "layers" in m for level, m in lines), lines
    assert any(level == ophtha.LogLevel.DEBUG and "absent.gguf" in m for level, m in lines), lines
    assert all(isinstance(level, ophtha.LogLevel) for level, _ in lines)
    count = len(lines)
    with pytest.raises(ophtha.IoError):
        ophtha.Model(tmp_path / "absent.gguf")
    assert len(lines) == count, "the handler was called after set_log_level replaced it"


def test_an_exception_in_the_log_handler_goes_to_the_unraisable_hook(monkeypatch, tmp_path):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def handler(level, message):
        raise RuntimeError("handler failed")

    ophtha.set_log_handler(handler, ophtha.LogLevel.DEBUG)
    try:
        with pytest.raises(ophtha.IoError):  # the failure itself is still raised as usual
            ophtha.Model(tmp_path / "absent.gguf")
    finally:
        ophtha.set_log_handler(None, "warn")
    assert unraisable and isinstance(unraisable[0].exc_value, RuntimeError)
