"""broadcastio-redis: rate limits, ``max_in_flight`` and circuit breakers shared through Redis.

Give every worker's orchestrator a :class:`RedisCoordinator` on the same
Redis and namespace, and a provider's ``rate_limit`` and ``max_in_flight``
hold for all of them together; a breaker opened in one worker is seen by the
others within a second. In ``broadcastio.toml``::

    [coordination]
    type = "redis"
    settings = { url = "${REDIS_URL}", namespace = "campaign-42" }

See ``docs/shared-limits.md``.
"""

from __future__ import annotations

from collections.abc import Iterable

from broadcastio import hookimpl
from broadcastio.plugins import CoordinatorType

from broadcastio_redis._coordinator import RedisCoordinator, safe_url

__all__ = ["RedisCoordinator", "broadcastio_coordinator_types", "safe_url"]


@hookimpl
def broadcastio_coordinator_types() -> Iterable[CoordinatorType]:
    """The ``redis`` coordinator type, for ``[coordination] type = "redis"``."""
    return [
        CoordinatorType(
            name="redis", factory=RedisCoordinator, description="rate limits, in-flight caps and breakers in Redis"
        )
    ]
