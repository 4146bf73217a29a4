"""pip install ./bindings/python — the ophtha package, linked against a libophtha you built.

    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build --target ophtha
    python3 -m pip install ./bindings/python                      # OPHTHA_BUILD_DIR defaults to <repo>/build
    OPHTHA_BUILD_DIR=/path/to/build python3 -m pip install ./bindings/python

The extension ophtha._ophtha is compiled from bindings/python/src against include/ophtha/ophtha.h
and links the libophtha.so found in OPHTHA_BUILD_DIR; that library is copied into the installed
package (ophtha/libophtha.so.<major>) and found there through the extension's $ORIGIN rpath, so
the installed package does not depend on the build folder. (libophtha's own dependencies —
LibTorch, OpenBLAS, ... — come from the system as usual.)

Why setup.py and no pyproject.toml: with a pyproject.toml, pip builds in an isolated environment
and fetches setuptools and pybind11 from PyPI, which an offline machine cannot do; without one,
pip uses the setuptools, wheel and pybind11 already installed (Debian: python3-setuptools,
python3-wheel, python3-pybind11). Build tools that want PEP 517 isolation can run
`pip install --no-build-isolation ./bindings/python` all the same.
"""
import glob
import os
import re
import shutil
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension, build_ext
from setuptools import setup

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def library_version():
    text = (REPO / "include" / "ophtha" / "version.hpp").read_text()
    return re.search(r'OPHTHA_VERSION_STRING "([^"]+)"', text).group(1)


def build_dir():
    folder = Path(os.environ.get("OPHTHA_BUILD_DIR", REPO / "build")).resolve()
    if not (folder / "libophtha.so").exists():
        raise SystemExit(
            f"ophtha: no libophtha.so in {folder}; build it first (cmake -S {REPO} -B {folder} -G Ninja "
            f"-DCMAKE_BUILD_TYPE=Release && cmake --build {folder} --target ophtha) or set OPHTHA_BUILD_DIR "
            f"to the build folder that has it")
    return folder


class BuildWithLibrary(build_ext):
    """build_ext that also puts libophtha.so.<major> next to the extension it built."""

    def run(self):
        folder = build_dir()
        for extension in self.extensions:
            extension.library_dirs.append(str(folder))
        super().run()
        real = Path(os.path.realpath(folder / "libophtha.so"))        # libophtha.so.MAJOR.MINOR.PATCH
        soname = "libophtha.so." + real.name[len("libophtha.so."):].split(".")[0]  # what the extension needs
        package_dir = Path(self.get_ext_fullpath("ophtha._ophtha")).parent
        package_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real, package_dir / soname)


extension = Pybind11Extension(
    "ophtha._ophtha",
    sorted(str(Path(p).relative_to(HERE)) for p in glob.glob(str(HERE / "src" / "*.cpp"))),
    include_dirs=[str(REPO / "include")],
    libraries=["ophtha"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],  # no shell in between: $ORIGIN reaches the linker as is
    cxx_std=17,
)

setup(
    name="ophtha",
    version=library_version(),
    description="Ophthalmic report generation: the Python API of libophtha (vision encoder, projector, LLaMA2)",
    long_description=(REPO / "docs" / "python.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=["ophtha"],
    package_data={"ophtha": ["py.typed", "*.pyi"]},
    ext_modules=[extension],
    cmdclass={"build_ext": BuildWithLibrary},
    install_requires=["numpy"],
    python_requires=">=3.9",
    zip_safe=False,
)
