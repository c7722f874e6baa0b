"""The provider contract: one attempt, a structured result, an honest health check.

A provider never retries, never falls back and never sleeps: all control
flow lives in the orchestrator. Configuration mistakes and misuse raise;
delivery failures are returned as a failed :class:`~broadcastio.DeliveryResult`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, runtime_checkable

from msgspec import Struct

from broadcastio._errors import ConfigurationError
from broadcastio._models import DeliveryError, DeliveryResult, Message, ProviderHealth
from broadcastio._retry import RetryPolicy

__all__ = ["Provider", "ProviderLike", "ProviderType", "check_provider"]


@runtime_checkable
class ProviderLike(Protocol):
    """What the orchestrator needs from a provider object.

    ``send`` and ``health`` may be plain or ``async`` methods; plain ones run
    in a worker thread so they cannot block the event loop. ``health`` and
    ``aclose`` are optional.
    """

    name: str
    channel: str

    def send(self, message: Message, address: str) -> Any:
        """Make exactly one delivery attempt."""
        ...


class Provider:
    """Convenient base class for providers.

    Subclasses set ``name`` and ``channel`` and implement :meth:`send`.
    Attribute names listed in ``secret_fields`` never appear in ``repr``.

    :cvar idempotent: True when a repeated send with the same idempotency key
        cannot deliver twice; the orchestrator may then retry ambiguous failures.
    :cvar throttling_codes: this provider's own error codes for "slow down"
        answers (``twilio.20429``); like ``rate_limited`` they pause the
        provider instead of counting towards its breaker.
    :cvar max_in_flight: the most attempts the orchestrator runs on this
        provider at once (None: no cap); ``Orchestrator(max_in_flight=...)``
        overrides it.
    """

    name: str = ""
    channel: str = ""
    idempotent: bool = False
    retry_policy: RetryPolicy | None = None
    max_in_flight: int | None = None
    throttling_codes: ClassVar[frozenset[str]] = frozenset()
    secret_fields: ClassVar[tuple[str, ...]] = ()

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """Make exactly one delivery attempt to ``address``."""
        raise NotImplementedError(f"{type(self).__name__}.send is not implemented")

    def preflight(self, message: Message, address: str) -> DeliveryError | None:
        """What ``send`` would refuse about ``message`` before any I/O, or None.

        Optional and cheap (no I/O): the same address and content checks
        ``send`` makes first, so a dry run can report bad rows.
        """
        return None

    async def health(self) -> ProviderHealth:
        """Whether the provider can deliver now; cheap, no message sent."""
        return ProviderHealth(healthy=True, detail="no health check")

    async def aclose(self) -> None:
        """Release connections; called once by the orchestrator's ``aclose``."""

    def __repr__(self) -> str:
        shown = {"name": self.name, "channel": self.channel}
        for key in self.secret_fields:
            if getattr(self, key, None):
                shown[key] = "***"
        body = ", ".join(f"{key}={value!r}" for key, value in shown.items())
        return f"{type(self).__name__}({body})"


class ProviderType(Struct, frozen=True, kw_only=True):
    """A provider type a plugin registers: a name and how to build one.

    ``factory`` is called with ``name=`` and the provider's settings as
    keyword arguments (typically the provider class itself).
    """

    name: str
    factory: Callable[..., Any]
    channel: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigurationError("ProviderType.name must be a non-empty string")
        if not callable(self.factory):
            raise ConfigurationError(f"ProviderType {self.name!r}: factory must be callable")

    @classmethod
    def of(cls, provider_class: type[Any], *, name: str | None = None, description: str | None = None) -> ProviderType:
        """The registration a provider class describes by itself.

        ``name`` and ``channel`` come from the class attributes, or else from
        the defaults of its ``__init__`` parameters of those names; the
        description is the first line of its docstring.
        """
        label = getattr(provider_class, "__name__", repr(provider_class))
        if not isinstance(provider_class, type):
            raise ConfigurationError(f"ProviderType.of needs a provider class, got {label}")
        type_name = name or _declared(provider_class, "name")
        if not type_name:
            raise ConfigurationError(f"{label} declares no name: set a class attribute 'name' or pass name=")
        doc = inspect.getdoc(provider_class) or ""
        if description is None:
            description = doc.strip().splitlines()[0].rstrip(".").replace("``", "") if doc.strip() else ""
        return cls(
            name=type_name,
            factory=provider_class,
            channel=_declared(provider_class, "channel"),
            description=description,
        )


def _declared(provider_class: type[Any], attribute: str) -> str:
    """A class attribute, or else the default of the ``__init__`` parameter of that name."""
    value = getattr(provider_class, attribute, "")
    if isinstance(value, str) and value:
        return value
    try:
        parameter = inspect.signature(provider_class).parameters.get(attribute)
    except (TypeError, ValueError):
        return ""
    default = None if parameter is None else parameter.default
    return default if isinstance(default, str) else ""


def check_provider(provider: object) -> None:
    """Raise :class:`ConfigurationError` unless ``provider`` meets the contract."""
    label = type(provider).__name__
    name = getattr(provider, "name", None)
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"provider {label} needs a non-empty string 'name'")
    channel = getattr(provider, "channel", None)
    if not isinstance(channel, str) or not channel:
        raise ConfigurationError(f"provider {name!r} needs a non-empty string 'channel'")
    send = getattr(provider, "send", None)
    if not callable(send):
        raise ConfigurationError(f"provider {name!r} has no callable 'send(message, address)'")
    try:
        inspect.signature(send).bind(None, "")
    except TypeError:
        raise ConfigurationError(f"provider {name!r}: send must accept (message, address)") from None
    policy = getattr(provider, "retry_policy", None)
    if policy is not None and not isinstance(policy, RetryPolicy):
        raise ConfigurationError(f"provider {name!r}: retry_policy must be a RetryPolicy or None")
