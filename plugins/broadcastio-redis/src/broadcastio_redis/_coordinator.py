"""RedisCoordinator: broadcastio's shared limits kept in Redis, through redis-py's asyncio client."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import redis.asyncio as aioredis
import redis.exceptions
from broadcastio import (
    BreakerPolicy,
    ConfigurationError,
    CoordinationError,
    Coordinator,
    Permit,
    ProbeOutcome,
    RateLimit,
)
from broadcastio.logs import get_logger, scrub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from broadcastio_redis import _scripts

__all__ = ["RedisCoordinator", "safe_url"]

_T = TypeVar("_T")
_PROBE_RECHECK = 1.0
"""Longest wait suggested while another process's half-open probe is in flight."""
_TRIP_MEMORY = 3600.0
"""Seconds after its cooldown that a trip is remembered when no probe ever runs (then: closed)."""
_SCHEMES = ("redis", "rediss", "unix")
_log = get_logger("broadcastio_redis")


def safe_url(url: str) -> str:
    """``url`` with its password (and a lone user name standing for one) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" if parts.password is None else f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_positive(name: str, value: object, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"RedisCoordinator: {name} must be a positive number of seconds, got {value!r}")
    if upper is not None and value > upper:
        raise ConfigurationError(f"RedisCoordinator: {name} must be at most {upper} seconds, got {value!r}")
    return float(value)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000.0))


class RedisCoordinator(Coordinator):
    """Rate limits, ``max_in_flight`` caps and breakers shared by every process on one Redis namespace.

    - Rate limit: a token bucket per provider (``per_second``, ``burst``), a
      Lua script on the Redis server's clock: the same meaning as the
      in-process limit, for all processes together.
    - ``max_in_flight``: a sorted set of lease holders per provider, taken and
      given back by Lua scripts. This process renews its leases every
      ``lease / 3`` seconds while it lives; a process that dies (SIGKILL)
      loses its slots ``lease`` seconds later at most.
    - Breaker: a process whose breaker opens publishes a key that expires
      after the cooldown; others read it through a cache at most
      ``breaker_cache`` seconds old. After the cooldown, at most
      ``half_open_probes`` calls go out across every process until one
      succeeds (closed everywhere) or fails (open everywhere again).

    An unreachable Redis raises :class:`~broadcastio.CoordinationError`
    (the orchestrator defers the message, ``coordination_unavailable``); a
    refused password raises :class:`~broadcastio.ConfigurationError`. redis-py
    is asked not to retry: each question fails within ``timeout`` seconds.

    :param url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` or ``unix://``;
        the password never appears in repr, errors or logs.
    :param namespace: key prefix; processes share limits exactly when they share it.
    :param lease: seconds an in-flight slot or probe outlives a process that died holding it.
    :param poll: seconds between two questions while every in-flight slot is taken
        (one waiter per provider and process asks).
    :param breaker_cache: seconds a "closed" answer of the shared breaker is reused (at most 1).
    :param timeout: seconds for connecting and for each command.
    :param retry_after: seconds a message is deferred by while Redis is unreachable.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "broadcastio",
        lease: float = 30.0,
        poll: float = 0.01,
        breaker_cache: float = 0.5,
        timeout: float = 1.0,
        retry_after: float = 1.0,
    ) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in _SCHEMES:
            shown = safe_url(url) if isinstance(url, str) else repr(url)
            raise ConfigurationError(f"RedisCoordinator: url must start with redis://, rediss:// or unix://: {shown}")
        if not isinstance(namespace, str) or not namespace or any(ch.isspace() or ch in "{}" for ch in namespace):
            raise ConfigurationError(f"RedisCoordinator: namespace must be a non-empty word, got {namespace!r}")
        self._url = url
        self.url = safe_url(url)
        self.namespace = namespace
        self.lease = _check_positive("lease", lease)
        self.poll = _check_positive("poll", poll, upper=1.0)
        self.breaker_cache = _check_positive("breaker_cache", breaker_cache, upper=1.0)
        self.timeout = _check_positive("timeout", timeout)
        self.retry_after = _check_positive("retry_after", retry_after)
        password = urlsplit(url).password
        self._secrets = tuple(s for s in (password, unquote(password or "")) if s)
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._client: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._breakers: dict[str, tuple[float, float]] = {}  # provider -> (answer valid until, open until)

    def __repr__(self) -> str:
        return f"RedisCoordinator(url={self.url!r}, namespace={self.namespace!r}, lease={self.lease!r})"

    # --- plumbing -----------------------------------------------------------------

    def _connection(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self._url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 0),  # no hidden retries: the orchestrator defers instead
            )
            for name in ("TAKE_TOKEN", "ACQUIRE", "RENEW", "BREAKER", "OPEN", "PROBE_DONE"):
                self._scripts[name] = self._client.register_script(getattr(_scripts, name))
        return self._client

    def _key(self, provider: str, kind: str) -> str:
        # one hash tag per provider: a provider's keys land in one Redis Cluster slot
        return f"{self.namespace}:{{{provider}}}:{kind}"

    async def _run(self, what: str, call: Awaitable[_T]) -> _T:
        """``call``'s result, with redis-py's failures turned into broadcastio's (password scrubbed)."""
        try:
            return await call
        except redis.exceptions.AuthenticationError as exc:
            raise ConfigurationError(f"Redis at {self.url} refused the credentials: {self._clean(exc)}") from None
        except (redis.exceptions.RedisError, OSError) as exc:
            raise CoordinationError(
                f"Redis at {self.url} unreachable ({what}): {type(exc).__name__}: {self._clean(exc)}",
                retry_after=self.retry_after,
            ) from None

    def _clean(self, exc: BaseException) -> str:
        return scrub(str(exc).replace(self._url, self.url), self._secrets)

    async def _script(self, name: str, keys: list[str], args: list[str | int | float]) -> Any:
        if not self._scripts:
            self._connection()
        script = self._scripts[name]
        return await self._run(name.lower(), script(keys=keys, args=args))

    def _token(self) -> str:
        return f"{self._holder}:{uuid.uuid4().hex[:16]}"

    def _hold(self, key: str, token: str) -> None:
        self._held.setdefault(key, set()).add(token)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    def _drop(self, key: str, token: str) -> None:
        held = self._held.get(key)
        if held is not None:
            held.discard(token)
            if not held:
                del self._held[key]

    async def _renew_forever(self) -> None:
        """Keep this process's leases alive while it lives: a dead process's run out."""
        while self._held:
            await asyncio.sleep(self.lease / 3.0)
            for key, tokens in list(self._held.items()):
                if not tokens:
                    continue
                try:
                    await self._script("RENEW", [key], [_ms(self.lease), *sorted(tokens)])
                except Exception as exc:  # a failed renewal must not kill the renewer
                    _log.warning("broadcastio.coordination_failed", step="renew", error=str(exc))

    # --- the Coordinator interface ----------------------------------------------------------

    async def take_token(self, provider: str, limit: RateLimit) -> Permit:
        wait_us = await self._script("TAKE_TOKEN", [self._key(provider, "rate")], [limit.per_second, limit.burst])
        if int(wait_us) <= 0:
            return Permit(granted=True)
        return Permit(granted=False, wait=int(wait_us) / 1_000_000.0)

    async def acquire_slot(self, provider: str, limit: int) -> Permit:
        key, token = self._key(provider, "slots"), self._token()
        wait_ms = int(await self._script("ACQUIRE", [key], [limit, token, _ms(self.lease)]))
        if wait_ms < 0:
            self._hold(key, token)
            return Permit(granted=True, token=token)
        return Permit(granted=False, wait=min(wait_ms / 1000.0, self.poll))

    async def release_slot(self, provider: str, token: str) -> None:
        key = self._key(provider, "slots")
        self._drop(key, token)
        await self._run("release_slot", self._connection().zrem(key, token))

    async def check_breaker(self, provider: str, policy: BreakerPolicy) -> Permit:
        now = time.monotonic()
        cached = self._breakers.get(provider)
        if cached is not None and now < cached[0]:
            open_left = cached[1] - now
            return Permit(granted=False, wait=open_left) if open_left > 0 else Permit(granted=True)
        token = self._token()
        keys = [self._key(provider, kind) for kind in ("open", "tripped", "probes")]
        answer = await self._script("BREAKER", keys, [policy.half_open_probes, token, _ms(self.lease)])
        state, ms = int(answer[0]), int(answer[1])
        if state == 0:
            self._breakers[provider] = (now + self.breaker_cache, 0.0)
            return Permit(granted=True)
        if state == 1:
            self._breakers[provider] = (now + ms / 1000.0, now + ms / 1000.0)
            return Permit(granted=False, wait=ms / 1000.0)
        self._breakers.pop(provider, None)
        if state == 2:
            self._hold(keys[2], token)
            return Permit(granted=True, token=token)
        return Permit(granted=False, wait=min(ms / 1000.0, _PROBE_RECHECK))

    async def open_provider(self, provider: str, cooldown: float) -> None:
        keys = [self._key(provider, kind) for kind in ("open", "tripped")]
        await self._script("OPEN", keys, [_ms(cooldown), _ms(cooldown + _TRIP_MEMORY)])
        now = time.monotonic()
        self._breakers[provider] = (now + cooldown, now + cooldown)

    async def probe_done(self, provider: str, token: str, outcome: ProbeOutcome, policy: BreakerPolicy) -> None:
        keys = [self._key(provider, kind) for kind in ("open", "tripped", "probes")]
        self._drop(keys[2], token)
        self._breakers.pop(provider, None)
        cooldown = policy.cooldown
        await self._script("PROBE_DONE", keys, [token, outcome, _ms(cooldown), _ms(cooldown + _TRIP_MEMORY)])

    async def aclose(self) -> None:
        """Stop renewing leases and close the connection pool (slots still held run out)."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(renewer, self.timeout)
        client, self._client = self._client, None
        self._scripts.clear()
        self._held.clear()
        if client is not None:  # bounded: closing must not hang on a dead server
            with contextlib.suppress(redis.exceptions.RedisError, OSError, TimeoutError):
                await asyncio.wait_for(client.aclose(), self.timeout)
