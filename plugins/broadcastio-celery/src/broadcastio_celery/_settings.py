"""Worker settings from the environment, checked once, with the defaults documented in docs/celery.md."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from broadcastio import ConfigurationError

__all__ = ["ENV", "WorkerSettings"]

ENV = {
    "broker_url": "BROADCASTIO_BROKER_URL",
    "outbox_url": "BROADCASTIO_OUTBOX",
    "config_path": "BROADCASTIO_CONFIG",
    "limits_url": "BROADCASTIO_LIMITS_URL",
    "visibility_timeout": "BROADCASTIO_VISIBILITY_TIMEOUT",
    "concurrency": "BROADCASTIO_CONCURRENCY",
    "lease_seconds": "BROADCASTIO_LEASE_SECONDS",
    "shutdown_grace": "BROADCASTIO_SHUTDOWN_GRACE",
    "relay_interval": "BROADCASTIO_RELAY_INTERVAL",
    "queue": "BROADCASTIO_QUEUE",
}
"""Setting -> environment variable a worker reads it from."""


def _number(value: object, name: str, *, minimum: float, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        kind = "a whole number" if integer else "a number"
        raise ConfigurationError(f"{name} must be {kind} >= {minimum:g}, got {value!r}")
    if integer and value != int(value):
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}")
    return float(value)


@dataclass(frozen=True, kw_only=True)
class WorkerSettings:
    """What a Celery app of broadcastio needs; see :func:`~broadcastio_celery.make_app`.

    ``visibility_timeout`` bounds how soon Redis hands a task of a killed
    worker to another one; it must exceed the longest chunk run and the
    countdown of a re-enqueued chunk (capped at half of it).
    """

    broker_url: str
    outbox_url: str | None = None
    config_path: str | None = None
    limits_url: str | None = None
    visibility_timeout: float = 300.0
    concurrency: int = 8
    lease_seconds: float = 60.0
    shutdown_grace: float = 10.0
    relay_interval: float = 5.0
    queue: str = "broadcastio"

    def __post_init__(self) -> None:
        for label in ("broker_url", "queue"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{label} must be a non-empty string, got {value!r}")
        for label in ("outbox_url", "config_path", "limits_url"):
            value = getattr(self, label)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigurationError(f"{label} must be a non-empty string or None, got {value!r}")
        _number(self.visibility_timeout, "visibility_timeout", minimum=1)
        _number(self.concurrency, "concurrency", minimum=1, integer=True)
        _number(self.lease_seconds, "lease_seconds", minimum=0.1)
        _number(self.shutdown_grace, "shutdown_grace", minimum=0)
        _number(self.relay_interval, "relay_interval", minimum=0)

    @property
    def max_countdown(self) -> float:
        """The longest countdown of a re-enqueued chunk: half the visibility
        timeout, so Redis never restores a waiting task to a second worker."""
        return self.visibility_timeout / 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> WorkerSettings:
        """Settings from ``BROADCASTIO_*`` variables (see :data:`ENV`); ``overrides`` win."""
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for field, variable in ENV.items():
            raw = source.get(variable)
            if raw is None or raw == "":
                continue
            if field in ("broker_url", "outbox_url", "config_path", "limits_url", "queue"):
                values[field] = raw
                continue
            try:
                values[field] = int(raw) if field == "concurrency" else float(raw)
            except ValueError:
                raise ConfigurationError(f"{variable} must be a number, got {raw!r}") from None
        values.update({key: value for key, value in overrides.items() if value is not None})
        if "broker_url" not in values:
            raise ConfigurationError(f"no broker URL: set {ENV['broker_url']} (e.g. redis://127.0.0.1:6379/0)")
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            raise ConfigurationError(f"{exc} (from the environment: {', '.join(sorted(ENV.values()))})") from None
