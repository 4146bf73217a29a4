# Type stubs of the public ophtha API (PEP 561; see py.typed). The docstrings live in the modules.
import enum
import os
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Union, overload

import numpy as np
import numpy.typing as npt

from ._errors import AbortedError as AbortedError
from ._errors import BufferTooSmallError as BufferTooSmallError
from ._errors import ContextOverflowError as ContextOverflowError
from ._errors import Error as Error
from ._errors import InternalError as InternalError
from ._errors import InvalidArgumentError as InvalidArgumentError
from ._errors import InvalidFormatError as InvalidFormatError
from ._errors import IoError as IoError
from ._errors import OutOfMemoryError as OutOfMemoryError
from ._errors import UnsupportedError as UnsupportedError

__version__: str
__all__ = [
    "Model", "Session", "Generation", "GenerationStream", "StopReason", "Report", "ReportStream",
    "synth", "evaluate", "train",
    "Image", "Modality", "Eye", "PixelFormat",
    "Error", "InvalidArgumentError", "IoError", "InvalidFormatError", "UnsupportedError", "ContextOverflowError",
    "AbortedError", "BufferTooSmallError", "OutOfMemoryError", "InternalError",
    "version", "version_number", "library_path", "LogLevel", "set_log_level", "set_log_handler",
]

_StrPath = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

def version() -> str: ...
def version_number() -> int: ...
def library_path() -> str: ...

class LogLevel(enum.IntEnum):
    DEBUG: int
    INFO: int
    WARN: int
    ERROR: int
    NONE: int
    @property
    def logging_level(self) -> int: ...

_LogLevelLike = Union[LogLevel, int, str]

def set_log_level(level: _LogLevelLike) -> None: ...
def set_log_handler(handler: Optional[Callable[[LogLevel, str], Any]], level: _LogLevelLike = ...) -> None: ...
def _check_abi_version(compiled: int, loaded: int, library: str) -> None: ...

# ---- models and generation -------------------------------------------------------------------

class StopReason(enum.IntEnum):
    EOS: int
    STRING: int
    TOKEN_LIMIT: int
    CANCELLED: int

class Generation(str):
    tokens: list[int]
    stop_reason: StopReason
    n_prompt_tokens: int
    prefill_seconds: float
    decode_seconds: float
    def __new__(cls, text: str, tokens: Sequence[int], stop_reason: int, n_prompt_tokens: int,
                prefill_seconds: float, decode_seconds: float) -> Generation: ...
    @property
    def text(self) -> str: ...
    @property
    def tokens_per_second(self) -> float: ...

class GenerationStream(Iterator[str]):
    result: Optional[Generation]
    def __init__(self, run: Callable[..., dict[str, Any]]) -> None: ...
    def __iter__(self) -> GenerationStream: ...
    def __next__(self) -> str: ...
    def close(self) -> None: ...
    def __enter__(self) -> GenerationStream: ...
    def __exit__(self, *exc_info: Any) -> None: ...

class Report:
    text: str
    structured: dict[str, Any]
    n_prompt_tokens: int
    n_generated_tokens: int
    embed_seconds: float
    prefill_seconds: float
    decode_seconds: float
    n_candidates: int
    chosen_candidate: int
    drafts: list[str]
    refined_lines: int
    inserted_sentences: int
    dropped_sentences: int
    guided_sentences: int
    def __init__(self, text: str, structured: dict[str, Any], n_prompt_tokens: int, n_generated_tokens: int,
                 embed_seconds: float, prefill_seconds: float, decode_seconds: float, n_candidates: int = ...,
                 chosen_candidate: int = ..., drafts: Optional[list[str]] = ...,
                 refined_lines: int = ..., inserted_sentences: int = ..., dropped_sentences: int = ...,
                 guided_sentences: int = ...) -> None: ...
    @property
    def image_checks(self) -> list[dict[str, Any]]: ...
    @property
    def disclaimer(self) -> str: ...

class ReportStream(GenerationStream):
    result: Optional[Report]  # type: ignore[assignment]
    def __iter__(self) -> ReportStream: ...
    def __enter__(self) -> ReportStream: ...

_Text = Union[str, bytes]
_OnText = Callable[[str], Any]
_ShouldAbort = Callable[[], Any]

_ImageSource = Union[_StrPath, npt.NDArray[Union[np.uint8, np.uint16]]]
_StudyImage = Union[Image, _StrPath, tuple[_ImageSource, _ModalityLike, _EyeLike], dict[str, Any]]

class Session:
    def __init__(self, model: Model, *, n_threads: int = 0, context_length: int = 0) -> None: ...
    @property
    def context_length(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Session: ...
    def __exit__(self, *exc_info: Any) -> None: ...
    @overload
    def generate(self, prompt: _Text, *, max_tokens: int = ..., temperature: float = ..., top_k: int = ...,
                 top_p: float = ..., min_p: float = ..., repeat_penalty: float = ..., repeat_last_n: int = ...,
                 seed: int = ..., bos: bool = ..., ignore_eos: bool = ..., stop: Union[str, Sequence[str]] = ...,
                 stream: Literal[False] = ..., on_text: Optional[_OnText] = ..., should_abort: Optional[_ShouldAbort] = ...,
                 poll_interval: float = ...) -> Generation: ...
    @overload
    def generate(self, prompt: _Text, *, max_tokens: int = ..., temperature: float = ..., top_k: int = ...,
                 top_p: float = ..., min_p: float = ..., repeat_penalty: float = ..., repeat_last_n: int = ...,
                 seed: int = ..., bos: bool = ..., ignore_eos: bool = ..., stop: Union[str, Sequence[str]] = ...,
                 stream: Literal[True], on_text: Optional[_OnText] = ..., should_abort: Optional[_ShouldAbort] = ...,
                 poll_interval: float = ...) -> GenerationStream: ...
    @overload
    def report(self, images: Sequence[_StudyImage] = (), *, findings: str = "", lang: str = "en",
               stream: Literal[False] = False, seed: int = ..., temperature: Optional[float] = None,
               max_tokens: Optional[int] = None, top_p: Optional[float] = None, candidates: Optional[int] = None,
               candidate_temperature: Optional[float] = None,
               evidence_weight: Optional[float] = None, line_drafts: Optional[int] = None,
               sentence_insertions: Optional[int] = None, guided_drafts: Optional[int] = None,
               drop_unsupported: Optional[bool] = None, check_images: bool = ...,
               modality_threshold: float = ..., on_text: Optional[_OnText] = None,
               should_abort: Optional[_ShouldAbort] = None, poll_interval: float = ...) -> Report: ...
    @overload
    def report(self, images: Sequence[_StudyImage] = (), *, findings: str = "", lang: str = "en",
               stream: Literal[True], seed: int = ..., temperature: Optional[float] = None,
               max_tokens: Optional[int] = None, top_p: Optional[float] = None, candidates: Optional[int] = None,
               candidate_temperature: Optional[float] = None,
               evidence_weight: Optional[float] = None, line_drafts: Optional[int] = None,
               sentence_insertions: Optional[int] = None, guided_drafts: Optional[int] = None,
               drop_unsupported: Optional[bool] = None, check_images: bool = ...,
               modality_threshold: float = ..., on_text: Optional[_OnText] = None,
               should_abort: Optional[_ShouldAbort] = None, poll_interval: float = ...) -> ReportStream: ...

class Model:
    def __init__(self, path: _StrPath, *, n_threads: int = 0, context_length: int = 0,
                 progress: Optional[Callable[[float], Any]] = None) -> None: ...
    @property
    def path(self) -> _StrPath: ...
    @property
    def n_vocab(self) -> int: ...
    @property
    def context_length(self) -> int: ...
    @property
    def bos_id(self) -> int: ...
    @property
    def eos_id(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def has_vision(self) -> bool: ...
    def embed(self, image: Union[_StudyImage, npt.NDArray[Any]], modality: Optional[_ModalityLike] = None,
              eye: Optional[_EyeLike] = None) -> npt.NDArray[np.float32]: ...
    @overload
    def tokenize(self, text: _Text, bos: bool = True, *, as_array: Literal[False] = False) -> list[int]: ...
    @overload
    def tokenize(self, text: _Text, bos: bool = True, *, as_array: Literal[True]) -> npt.NDArray[np.int32]: ...
    def detokenize(self, ids: Union[Sequence[int], npt.NDArray[np.integer[Any]]]) -> str: ...
    def session(self, *, n_threads: int = 0, context_length: int = 0) -> Session: ...
    @overload
    def generate(self, prompt: _Text, *, max_tokens: int = ..., temperature: float = ..., top_k: int = ...,
                 top_p: float = ..., min_p: float = ..., repeat_penalty: float = ..., repeat_last_n: int = ...,
                 seed: int = ..., bos: bool = ..., ignore_eos: bool = ..., stop: Union[str, Sequence[str]] = ...,
                 stream: Literal[False] = ..., on_text: Optional[_OnText] = ..., should_abort: Optional[_ShouldAbort] = ...,
                 poll_interval: float = ...) -> Generation: ...
    @overload
    def generate(self, prompt: _Text, *, max_tokens: int = ..., temperature: float = ..., top_k: int = ...,
                 top_p: float = ..., min_p: float = ..., repeat_penalty: float = ..., repeat_last_n: int = ...,
                 seed: int = ..., bos: bool = ..., ignore_eos: bool = ..., stop: Union[str, Sequence[str]] = ...,
                 stream: Literal[True], on_text: Optional[_OnText] = ..., should_abort: Optional[_ShouldAbort] = ...,
                 poll_interval: float = ...) -> GenerationStream: ...
    @overload
    @overload
    def report(self, images: Sequence[_StudyImage] = (), *, findings: str = "", lang: str = "en",
               stream: Literal[False] = False, seed: int = ..., temperature: Optional[float] = None,
               max_tokens: Optional[int] = None, top_p: Optional[float] = None, candidates: Optional[int] = None,
               candidate_temperature: Optional[float] = None,
               evidence_weight: Optional[float] = None, line_drafts: Optional[int] = None,
               sentence_insertions: Optional[int] = None, guided_drafts: Optional[int] = None,
               drop_unsupported: Optional[bool] = None, check_images: bool = ...,
               modality_threshold: float = ..., on_text: Optional[_OnText] = None,
               should_abort: Optional[_ShouldAbort] = None, poll_interval: float = ...) -> Report: ...
    @overload
    def report(self, images: Sequence[_StudyImage] = (), *, findings: str = "", lang: str = "en",
               stream: Literal[True], seed: int = ..., temperature: Optional[float] = None,
               max_tokens: Optional[int] = None, top_p: Optional[float] = None, candidates: Optional[int] = None,
               candidate_temperature: Optional[float] = None,
               evidence_weight: Optional[float] = None, line_drafts: Optional[int] = None,
               sentence_insertions: Optional[int] = None, guided_drafts: Optional[int] = None,
               drop_unsupported: Optional[bool] = None, check_images: bool = ...,
               modality_threshold: float = ..., on_text: Optional[_OnText] = None,
               should_abort: Optional[_ShouldAbort] = None, poll_interval: float = ...) -> ReportStream: ...
    def close(self) -> None: ...
    def __enter__(self) -> Model: ...
    def __exit__(self, *exc_info: Any) -> None: ...

# ---- images ----------------------------------------------------------------------------------

class Modality(enum.IntEnum):
    CFP: int
    OCT: int
    OSA: int

class Eye(enum.IntEnum):
    OD: int
    OS: int

class PixelFormat(enum.IntEnum):
    GRAY8: int
    GRAY16: int
    RGB8: int
    RGBA8: int
    RGB16: int
    RGBA16: int
    @property
    def channels(self) -> int: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...

_ModalityLike = Union[Modality, int, str]
_EyeLike = Union[Eye, int, str]
_Pixels = npt.NDArray[Union[np.uint8, np.uint16]]

class Image:
    def __init__(self, image: Any) -> None: ...
    @classmethod
    def from_file(cls, path: _StrPath, modality: _ModalityLike, eye: _EyeLike) -> Image: ...
    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview], modality: _ModalityLike, eye: _EyeLike) -> Image: ...
    @classmethod
    def from_array(cls, array: npt.ArrayLike, modality: _ModalityLike, eye: _EyeLike) -> Image: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def format(self) -> PixelFormat: ...
    @property
    def channels(self) -> int: ...
    @property
    def dtype(self) -> np.dtype[Any]: ...
    @property
    def shape(self) -> tuple[int, ...]: ...
    @property
    def modality(self) -> Modality: ...
    @property
    def eye(self) -> Eye: ...
    @property
    def closed(self) -> bool: ...
    def to_array(self, copy: bool = False) -> _Pixels: ...
    def __array__(self, dtype: Optional[npt.DTypeLike] = None) -> _Pixels: ...
    def close(self) -> None: ...
    def __enter__(self) -> Image: ...
    def __exit__(self, *exc_info: Any) -> None: ...

# ---- tools -----------------------------------------------------------------------------------

def synth(out: _StrPath, studies: int, seed: int = 0, lang: str = "both",
          split: Sequence[float] = (0.8, 0.1, 0.1), threads: int = 2, *, force: bool = False,
          progress: Optional[Callable[[float], Any]] = None) -> str: ...
def evaluate(manifest: _StrPath, predictions: _StrPath, out: Optional[_StrPath] = None, *,
             lang: Optional[str] = None, split: str = "test") -> dict[str, Any]: ...
def train(config: _StrPath, resume: bool = False, max_steps: Optional[int] = None,
          on_step: Optional[Callable[[dict[str, Any]], Any]] = None) -> dict[str, Any]: ...
