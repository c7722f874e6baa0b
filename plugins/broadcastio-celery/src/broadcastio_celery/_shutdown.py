"""Celery's warm shutdown, made visible to the pool's child processes.

Celery tells only the main worker process that a warm shutdown began
(``worker_shutting_down``); the chunk runs in a prefork child. The main
process arms a :class:`multiprocessing.Event` before the pool forks
(``worker_init``) and sets it on shutdown; every child inherits it and its
running chunk stops taking rows, finishes the attempts in flight and
releases the rest (see ``_runtime``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from typing import Any

__all__ = ["announce", "arm", "requested"]

_event: multiprocessing.synchronize.Event | None = None


def arm(**_: Any) -> None:
    """``worker_init`` receiver: create the event the pool's children will inherit."""
    global _event
    if _event is None:
        _event = multiprocessing.get_context("fork").Event()


def announce(**_: Any) -> None:
    """``worker_shutting_down`` receiver: tell every child that the worker is stopping."""
    if _event is not None:
        _event.set()


def requested() -> bool:
    """True once this worker began to shut down."""
    return _event is not None and _event.is_set()
