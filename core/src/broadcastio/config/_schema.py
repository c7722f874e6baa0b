"""The shape of ``broadcastio.toml``, as strict msgspec Structs.

The policy sections mirror core's policy Structs field for field (built from
them, so they cannot drift) but reject unknown keys, which the policies
themselves would silently ignore. In the ``*Section`` mirrors every field is
optional and unset by default, so a section only overrides what it names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from broadcastio._breaker import BreakerPolicy
from broadcastio._health import HealthPolicy
from broadcastio._ratelimit import RateLimit
from broadcastio._retry import RetryPolicy

__all__ = [
    "BreakerSection",
    "CoordinationSection",
    "Document",
    "HealthSection",
    "OrchestratorSection",
    "ProviderSection",
    "RateLimitSection",
    "RetrySection",
    "set_fields",
]

PROVIDER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _mirror(policy: type[Struct], name: str, *, partial: bool) -> type[Struct]:
    """A strict copy of ``policy``'s fields; ``partial`` makes every field optional."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(policy):
        if partial:
            fields.append((info.name, Union[info.type, UnsetType], UNSET))
        elif info.default is not msgspec.NODEFAULT:
            fields.append((info.name, info.type, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, info.type, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, info.type))
    return msgspec.defstruct(name, fields, kw_only=True, frozen=True, forbid_unknown_fields=True, module=__name__)


if TYPE_CHECKING:
    RetrySection = Struct
    BreakerSection = Struct
    HealthSection = Struct
    RateLimitSection = Struct
else:
    RetrySection = _mirror(RetryPolicy, "RetrySection", partial=True)
    BreakerSection = _mirror(BreakerPolicy, "BreakerSection", partial=True)
    HealthSection = _mirror(HealthPolicy, "HealthSection", partial=True)
    RateLimitSection = _mirror(RateLimit, "RateLimitSection", partial=False)


def set_fields(section: Struct) -> dict[str, Any]:
    """The fields a section actually sets (not UNSET)."""
    return {key: value for key, value in msgspec.structs.asdict(section).items() if value is not UNSET}


class OrchestratorSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[orchestrator]``: settings of the Orchestrator itself."""

    fallback_on_ambiguous: bool = False


class CoordinationSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[coordination]``: the coordinator that shares limits between processes."""

    type: Annotated[str, Meta(min_length=1)]
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class ProviderSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One ``[[providers]]`` entry, in fallback order."""

    name: Annotated[str, Meta(pattern=PROVIDER_NAME_PATTERN)]
    type: Annotated[str, Meta(min_length=1)]
    enabled: bool = True
    retry: RetrySection | None = None
    rate_limit: RateLimitSection | None = None
    max_in_flight: int | None = None
    settings: dict[str, Any] = msgspec.field(default_factory=dict)


class OutboxSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[outbox]``: where the journal is, a SQLite path or a ``postgresql://`` DSN
    (put a password in the environment: ``url = "${OUTBOX_URL}"``)."""

    url: Annotated[str, Meta(min_length=1)]


class Document(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole file."""

    orchestrator: OrchestratorSection = msgspec.field(default_factory=OrchestratorSection)
    retry: RetrySection | None = None
    breaker: BreakerSection | None = None
    health: HealthSection | None = None
    coordination: CoordinationSection | None = None
    providers: tuple[ProviderSection, ...] = ()
    outbox: OutboxSection | None = None
