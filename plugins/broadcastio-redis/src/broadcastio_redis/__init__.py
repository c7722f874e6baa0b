"""broadcastio-redis: rate limits, ``max_in_flight`` and circuit breakers shared through Redis.

Give every worker's orchestrator a :class:`RedisCoordinator` on the same
Redis and namespace, and a provider's ``rate_limit`` and ``max_in_flight``
hold for all of them together; a breaker opened in one worker is seen by the
others within a second. See ``docs/shared-limits.md``.
"""

from __future__ import annotations

from broadcastio_redis._coordinator import RedisCoordinator, safe_url

__all__ = ["RedisCoordinator", "safe_url"]
