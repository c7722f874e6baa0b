"""Structured logs of what the orchestrator does, through structlog and ``logging``.

The library is silent unless asked: its events go to the standard
:mod:`logging` module under the ``broadcastio`` logger (which has a
``NullHandler``), or through structlog once the program configured it.
:func:`configure` turns rendering on for a program (console output on a
terminal, JSON lines otherwise); :class:`LoggingHooks` is a hook plugin that
turns orchestrator events into stable, dotted event names with flat fields::

    from broadcastio import Orchestrator
    from broadcastio.logs import LoggingHooks, configure

    configure(level="info")
    orchestrator = Orchestrator(providers, hooks=[LoggingHooks()])

Phone numbers and email addresses are masked (``+4*********67``,
``a***@example.com``) unless ``reveal_addresses=True``; idempotency keys are
logged as a keyed hash (``h:3f9c...``, see :func:`redact_key`) unless
``reveal_keys=True``; message text and secrets are never logged. Plugins log through :func:`get_logger`.

Helpers for plugin authors: :func:`scrub` cleans a provider's error text
(the given secrets, credentials, addresses); :func:`redact_secret` and
:func:`redact_url_pattern` register, once per process, a credential or a
secret URL shape that one filter on the ``httpx`` logger (which logs every
request URL) and :func:`scrub` then mask.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog

from broadcastio._log import ROOT_LOGGER, get_logger
from broadcastio._models import Message
from broadcastio._scrub import MASK, mask_address, redact, redact_key, redact_secret, redact_url_pattern, scrub
from broadcastio.events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ResultEvent,
    SendAbortedEvent,
    SkipEvent,
)
from broadcastio.hookspecs import hookimpl

__all__ = [
    "MASK",
    "LoggingHooks",
    "configure",
    "configure_logging",
    "get_logger",
    "mask_address",
    "redact",
    "redact_key",
    "redact_secret",
    "redact_url_pattern",
    "scrub",
]

LOGGER_NAME = ROOT_LOGGER
_reveal_default = False
_hooks_log = get_logger(LOGGER_NAME)
_reveal_keys_default = False


class _StreamHandler(logging.Handler):
    """Writes each rendered record to the current ``sys.stderr`` (or a given
    stream), looked up at write time so redirected streams keep working."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self._stream or sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never break delivery
            self.handleError(record)


def configure(
    *,
    json: bool | None = None,
    level: str | int = "info",
    reveal_addresses: bool = False,
    reveal_keys: bool = False,
    stream: IO[str] | None = None,
) -> None:
    """Turn rendering on, for a program using broadcastio (the CLI calls it).

    Configures structlog to go through the standard :mod:`logging` module and
    gives the ``broadcastio`` logger a handler that renders each event on
    ``stream``. Libraries and applications with their own logging set-up
    should not call it: configure ``logging`` or structlog instead.

    :param json: JSON lines (True) or the console renderer (False); by
        default the console renderer on a terminal and JSON otherwise.
    :param level: the lowest level logged ("debug", "info", "warning", ...).
    :param reveal_addresses: let :class:`LoggingHooks` log full phone numbers
        and email addresses (they are masked by default).
    :param reveal_keys: let :class:`LoggingHooks` log idempotency keys as
        they are (by default a keyed hash, as keys may carry personal data).
    :param stream: where lines go (default: ``sys.stderr`` at write time).
    """
    global _reveal_default, _reveal_keys_default
    _reveal_default = reveal_addresses
    _reveal_keys_default = reveal_keys
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    if json is None:
        target = stream or sys.stderr
        json = not (hasattr(target, "isatty") and target.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    rendering: list[Any] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        rendering.append(structlog.processors.format_exc_info)
    handler = _StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[*rendering, renderer],
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)],
        )
    )
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if isinstance(h, _StreamHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(numeric)
    logger.propagate = False
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


configure_logging = configure
"""The former name of :func:`configure`."""


def _error_fields(error: Any) -> dict[str, Any]:
    if error is None:
        return {}
    return {"error_code": str(error.code), "error_class": error.error_class.value, "error_message": error.message}


class LoggingHooks:
    """Hook plugin logging every delivery event with a stable name.

    Events: ``broadcastio.attempt`` (debug), ``broadcastio.delivered``,
    ``broadcastio.failed``, ``broadcastio.unknown``, ``broadcastio.fallback``,
    ``broadcastio.skipped``, ``broadcastio.breaker_opened`` /
    ``broadcastio.breaker_closed`` / ``broadcastio.breaker_half_open`` and
    ``broadcastio.health_changed``.

    :param reveal_addresses: log full addresses; by default what
        :func:`configure` said (masked unless told otherwise).
    :param reveal_keys: log idempotency keys in clear; by default what
        :func:`configure` said (a keyed hash unless told otherwise).
    :param key_secret: the HMAC key of the hash (default: random per process);
        give the same one to every process, and to the OpenTelemetry hooks,
        to follow one message across them.
    :param logger: a structlog logger to use instead of ``broadcastio``'s.
    """

    def __init__(
        self,
        *,
        reveal_addresses: bool | None = None,
        reveal_keys: bool | None = None,
        key_secret: bytes | str | None = None,
        logger: Any = None,
    ) -> None:
        self._reveal = reveal_addresses
        self._reveal_keys = reveal_keys
        self._key_secret = key_secret
        self._logger = logger

    @property
    def _log(self) -> Any:
        return self._logger if self._logger is not None else _hooks_log

    def _address(self, message: Message, channel: str | None) -> dict[str, str]:
        address = message.address_for(channel) if channel else None
        if address is None and isinstance(message.recipient, str):
            address = message.recipient
        if address is None:
            return {}
        reveal = _reveal_default if self._reveal is None else self._reveal
        return {"to": address if reveal else mask_address(address)}

    def _message_fields(self, send_id: int, message: Message) -> dict[str, Any]:
        key = message.metadata.idempotency_key
        reveal = _reveal_keys_default if self._reveal_keys is None else self._reveal_keys
        fields: dict[str, Any] = {
            "send_id": send_id,
            "idempotency_key": key if reveal else redact_key(key, secret=self._key_secret),
        }
        if message.metadata.reference_id is not None:
            fields["reference_id"] = message.metadata.reference_id
        return fields

    @hookimpl
    def broadcastio_attempt(self, event: AttemptEvent) -> None:
        attempt = event.attempt
        self._log.debug(
            "broadcastio.attempt",
            **self._message_fields(event.send_id, event.message),
            provider=attempt.provider,
            channel=attempt.channel,
            attempt=attempt.number,
            ok=attempt.ok,
            duration_ms=round(attempt.duration_ms, 3),
            **self._address(event.message, attempt.channel),
            **_error_fields(attempt.error),
        )

    @hookimpl
    def broadcastio_result(self, event: ResultEvent) -> None:
        result = event.result
        fields: dict[str, Any] = {
            **self._message_fields(event.send_id, event.message),
            "provider": result.provider,
            "channel": result.channel,
            "duration_ms": round(event.duration_ms, 3),
            **self._address(event.message, result.channel),
            **_error_fields(result.error),
        }
        if result.provider_message_id is not None:
            fields["provider_message_id"] = result.provider_message_id
        if result.status == "delivered":
            self._log.info("broadcastio.delivered", **fields)
        elif result.status == "unknown":
            self._log.warning("broadcastio.unknown", **fields)
        else:
            self._log.warning("broadcastio.failed", **fields)

    @hookimpl
    def broadcastio_send_aborted(self, event: SendAbortedEvent) -> None:
        self._log.warning(
            "broadcastio.aborted",
            **self._message_fields(event.send_id, event.message),
            error_type=event.error_type,
            duration_ms=round(event.duration_ms, 3),
        )

    @hookimpl
    def broadcastio_fallback(self, event: FallbackEvent) -> None:
        self._log.info(
            "broadcastio.fallback",
            **self._message_fields(event.send_id, event.message),
            from_provider=event.from_provider,
            to_provider=event.to_provider,
            **_error_fields(event.error),
        )

    @hookimpl
    def broadcastio_provider_skipped(self, event: SkipEvent) -> None:
        self._log.info(
            "broadcastio.skipped",
            **self._message_fields(event.send_id, event.message),
            provider=event.provider,
            reason=event.reason,
            detail=scrub(event.detail),
        )

    @hookimpl
    def broadcastio_breaker_changed(self, event: BreakerChangeEvent) -> None:
        name = {"open": "opened", "closed": "closed", "half_open": "half_open"}[event.state]
        log = self._log.warning if event.state == "open" else self._log.info
        log(f"broadcastio.breaker_{name}", provider=event.provider, state=event.state, previous=event.previous)

    @hookimpl
    def broadcastio_health_changed(self, event: HealthChangeEvent) -> None:
        if not event.health.healthy:
            log = self._log.warning
        else:  # a first healthy answer is routine; a recovery is news
            log = self._log.debug if event.previously_healthy is None else self._log.info
        log(
            "broadcastio.health_changed",
            provider=event.provider,
            healthy=event.health.healthy,
            previously_healthy=event.previously_healthy,
            detail=scrub(event.health.detail),
        )
