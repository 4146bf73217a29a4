"""Ophtha: ophthalmic report generation — the Python API of libophtha.

    import ophtha
    with ophtha.Model("model.gguf") as model:
        print(model.generate("The fundus photograph shows", max_tokens=64, temperature=0))
        for piece in model.generate("Impression:", stream=True):
            print(piece, end="", flush=True)
    image = ophtha.Image.from_array(pixels, ophtha.Modality.CFP, ophtha.Eye.OD)
    with ophtha.Model("models/demo") as bundle:            # a model bundle
        report = bundle.report([image, ("scan.png", "oct", "OD")], lang="en")
        print(report.text, report.structured["referral"])
    ophtha.synth("data", studies=100, seed=1)               # synthetic studies, evaluate, train

Everything here runs on libophtha's stable C ABI (ophtha.h) through the extension module
``ophtha._ophtha``. Long calls release the GIL; see docs/python.md for threads, errors and the
rules on numpy memory.
"""
from . import _ophtha
from ._errors import (AbortedError, BufferTooSmallError, ContextOverflowError, Error, InternalError,
                      InvalidArgumentError, InvalidFormatError, IoError, OutOfMemoryError, UnsupportedError)
from ._image import Eye, Image, Modality, PixelFormat
from ._log import LogLevel, set_log_handler, set_log_level
from ._model import Generation, GenerationStream, Model, ReportStream, Session, StopReason
from ._report import Report
from ._tools import evaluate, synth, train


def _check_abi_version(compiled, loaded, library):
    """Raises ImportError unless the extension's ABI version (`compiled`, from the ophtha.h it was
    built with) equals the loaded library's (`loaded`, from `library`)."""
    if compiled != loaded:
        raise ImportError(
            f"ophtha: the extension module was built against libophtha ABI version {compiled}, but the "
            f"library it loaded ({library or 'path unknown'}) has ABI version {loaded}; rebuild the ophtha "
            f"package against that library, or make the matching libophtha the one that is found")


_check_abi_version(_ophtha.ABI_VERSION, _ophtha.abi_version(), _ophtha.library_path())


def version():
    """The loaded libophtha's version, "MAJOR.MINOR.PATCH"."""
    return _ophtha.version()


def version_number():
    """The loaded libophtha's version as MAJOR * 10000 + MINOR * 100 + PATCH."""
    return _ophtha.version_number()


def library_path():
    """The file the loaded libophtha shared library came from."""
    return _ophtha.library_path()


__version__ = _ophtha.version()

__all__ = [
    "Model", "Session", "Generation", "GenerationStream", "StopReason", "Report", "ReportStream",
    "synth", "evaluate", "train",
    "Image", "Modality", "Eye", "PixelFormat",
    "Error", "InvalidArgumentError", "IoError", "InvalidFormatError", "UnsupportedError", "ContextOverflowError",
    "AbortedError", "BufferTooSmallError", "OutOfMemoryError", "InternalError",
    "version", "version_number", "library_path", "LogLevel", "set_log_level", "set_log_handler",
]
