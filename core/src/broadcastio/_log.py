"""How broadcastio's code gets a logger: silent unless the program asks.

The library never writes to stdout or stderr by itself. Once the program
has configured structlog (``structlog.configure``, :func:`broadcastio.logs.configure`,
``structlog.testing.capture_logs``), events follow that configuration.
Until then they go to the standard :mod:`logging` module under the
``broadcastio`` logger, which carries a :class:`logging.NullHandler`: an
application that configures nothing sees nothing, and one that configures
``logging`` receives each event as a record whose ``msg`` is the event dict
(ready for ``structlog.stdlib.ProcessorFormatter``).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["ROOT_LOGGER", "get_logger"]

ROOT_LOGGER = "broadcastio"
logging.getLogger(ROOT_LOGGER).addHandler(logging.NullHandler())


class _Event(dict[str, Any]):
    """An event dict that reads well as a plain ``logging`` message too."""

    def __str__(self) -> str:
        fields = " ".join(f"{key}={value!r}" for key, value in self.items() if key not in ("event", "level", "logger"))
        return f"{self.get('event')} {fields}".rstrip()


def _to_stdlib(logger: Any, method_name: str, event_dict: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args, kwargs = structlog.stdlib.ProcessorFormatter.wrap_for_formatter(logger, method_name, event_dict)
    return (_Event(args[0]),), kwargs


_STDLIB_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    _to_stdlib,
]


class _Logger:
    """A structlog logger chosen at each call: the program's structlog
    configuration when there is one, else the standard ``logging`` module."""

    __slots__ = ("_configured", "_stdlib")

    def __init__(self, name: str) -> None:
        self._configured = structlog.get_logger(name)  # a lazy proxy: reads the configuration at each call
        self._stdlib = structlog.wrap_logger(
            logging.getLogger(name), processors=_STDLIB_PROCESSORS, wrapper_class=structlog.stdlib.BoundLogger
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self._configured if structlog.is_configured() else self._stdlib, method)


def get_logger(name: str = ROOT_LOGGER) -> Any:
    """A structlog logger for ``name`` (a dotted name under ``broadcastio``,
    e.g. ``"broadcastio.sms"``) that never prints unless the program asked."""
    return _Logger(name)
