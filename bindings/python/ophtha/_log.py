"""Where libophtha's log lines go: stderr (the default, warnings and errors) or a Python callable."""
import atexit
import enum
import logging
from typing import Callable, List

from . import _ophtha
from ._errors import InvalidArgumentError


class LogLevel(enum.IntEnum):
    """The severity of a log line (ophtha_log_level); NONE as a minimum level logs nothing."""
    DEBUG = _ophtha.LOG_LEVEL["DEBUG"]  #: every failure's message, as it is raised
    INFO = _ophtha.LOG_LEVEL["INFO"]    #: e.g. what a model load found and how long it took
    WARN = _ophtha.LOG_LEVEL["WARN"]
    ERROR = _ophtha.LOG_LEVEL["ERROR"]
    NONE = _ophtha.LOG_LEVEL["NONE"]

    @property
    def logging_level(self):
        """The matching level of Python's logging module."""
        return {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING, "ERROR": logging.ERROR,
                "NONE": logging.CRITICAL + 10}[self.name]


def _level(level):
    if isinstance(level, str) and level.upper() in LogLevel.__members__:
        return LogLevel[level.upper()]
    if isinstance(level, int) and not isinstance(level, bool) and level in set(LogLevel):
        return LogLevel(level)
    raise InvalidArgumentError(f"log level is {level!r}, expected one of "
                               f"{', '.join(m.name.lower() for m in LogLevel)} or an ophtha.LogLevel")


def set_log_level(level):
    """Sends libophtha's log lines at `level` or above to stderr, replacing any handler.
    `level`: a LogLevel or its name in any case ("debug", "info", "warn" (the default), "error",
    "none": silent)."""
    _ophtha.set_log_handler(None, _level(level))


_restore_at_exit: List[Callable[..., None]] = []


def set_log_handler(handler, level=LogLevel.INFO):
    """Sends libophtha's log lines at `level` or above to ``handler(level: LogLevel, message: str)``
    instead of stderr (None: back to stderr). The handler runs with the GIL on the thread that
    logs — a thread calling into the library — never twice at once; an exception it raises goes to
    sys.unraisablehook. To feed Python's logging module:

        log = logging.getLogger("ophtha")
        ophtha.set_log_handler(lambda level, message: log.log(level.logging_level, message), "info")
    """
    level = _level(level)
    if handler is None:
        _ophtha.set_log_handler(None, level)
        return
    if not callable(handler):
        raise InvalidArgumentError(f"the log handler must be callable or None, got {type(handler).__name__}")
    _ophtha.set_log_handler(lambda raw_level, message: handler(LogLevel(raw_level), message), level)
    if not _restore_at_exit:  # no Python handler may be called once the interpreter shuts down
        _restore_at_exit.append(atexit.register(_ophtha.set_log_handler, None, LogLevel.WARN))
