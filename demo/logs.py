"""structlog set-up for the demo: one readable line per event, on the demo's console."""

from __future__ import annotations

from typing import TextIO

import structlog

__all__ = ["configure"]


def configure(stream: TextIO, *, colors: bool) -> None:
    """Log INFO and above to ``stream`` (the same one the report goes to, so lines stay in order)."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="%H:%M:%S", utc=False),
            structlog.dev.ConsoleRenderer(colors=colors, pad_event=28),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(20),  # logging.INFO
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
