"""The exceptions of the ophtha package: one ``ophtha.Error`` subclass per C status (ophtha.h).

Every failure of a library call is raised as the subclass for its status, with the library's
message (``ophtha_last_error_message()``), which names the function, the file or field and what
was expected, e.g. ``ophtha_model_load: m.gguf: tensor 'blk.0.attn_k.weight' has shape [64, 64],
expected [16, 64]``. The subclasses also derive from the closest built-in exception, so
``except ValueError`` or ``except OSError`` catch them too.
"""
from typing import Optional


class Error(Exception):
    """A libophtha call failed.

    Attributes:
        status: the C status code (``ophtha_status``, e.g. 1 for OPHTHA_STATUS_INVALID_ARGUMENT).
        message: the library's message, also ``str(error)``.
    """

    #: The status this class stands for; None on the base class (an unknown status).
    STATUS: Optional[int] = None

    def __init__(self, message):
        super().__init__(message)
        self.message = message
        self.status = self.STATUS


class InvalidArgumentError(Error, ValueError):
    """OPHTHA_STATUS_INVALID_ARGUMENT: a value out of range, a wrong array dtype or shape, a closed object."""
    STATUS = 1


class IoError(Error, OSError):
    """OPHTHA_STATUS_IO: a file could not be opened, read or mapped."""
    STATUS = 2


class InvalidFormatError(Error, ValueError):
    """OPHTHA_STATUS_INVALID_FORMAT: a file's contents break its format (magic, bounds, tensor shapes)."""
    STATUS = 3


class UnsupportedError(Error):
    """OPHTHA_STATUS_UNSUPPORTED: valid, but not supported by this library (architecture, tensor type, ...)."""
    STATUS = 4


class ContextOverflowError(Error):
    """OPHTHA_STATUS_CONTEXT_OVERFLOW: the prompt has more tokens than the session's context."""
    STATUS = 5


class AbortedError(Error):
    """OPHTHA_STATUS_ABORTED: ``should_abort`` or a ``progress`` callback asked the call to stop."""
    STATUS = 6


class BufferTooSmallError(Error):
    """OPHTHA_STATUS_BUFFER_TOO_SMALL: never raised by this package (it retries with the size needed)."""
    STATUS = 7


class OutOfMemoryError(Error, MemoryError):
    """OPHTHA_STATUS_OUT_OF_MEMORY: an allocation failed."""
    STATUS = 8


class InternalError(Error):
    """OPHTHA_STATUS_INTERNAL: a bug in the library; the message says where."""
    STATUS = 9


_BY_STATUS = {cls.STATUS: cls for cls in (
    InvalidArgumentError, IoError, InvalidFormatError, UnsupportedError, ContextOverflowError,
    AbortedError, BufferTooSmallError, OutOfMemoryError, InternalError)}


def error_for_status(status, message):
    """The exception for a failed call: its status's subclass (``Error`` for a status this
    package does not know), carrying ``message``. Used by the extension module."""
    error = _BY_STATUS.get(status, Error)(message)
    error.status = status
    return error
