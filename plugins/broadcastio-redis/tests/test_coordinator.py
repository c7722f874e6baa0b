"""RedisCoordinator against a real redis-server: buckets, leases, the shared breaker, failures, secrets."""

from __future__ import annotations

import asyncio
import time

import pytest
from broadcastio import BreakerPolicy, ConfigurationError, CoordinationError, Coordinator, RateLimit
from broadcastio.testing.servers import closed_port
from broadcastio.testing.services import RedisServer
from broadcastio_redis import RedisCoordinator, safe_url

POLICY = BreakerPolicy(failure_threshold=1, cooldown=0.6, half_open_probes=1)


async def pair(redis: RedisServer, namespace: str, **options: float) -> tuple[RedisCoordinator, RedisCoordinator]:
    return (
        RedisCoordinator(redis.url, namespace=namespace, **options),
        RedisCoordinator(redis.url, namespace=namespace, **options),
    )


class TestRateLimit:
    async def test_burst_then_the_rate(self, redis: RedisServer, namespace: str) -> None:
        """burst tokens at once, then one per 1/per_second; the wait says when the next is due."""
        coordinator = RedisCoordinator(redis.url, namespace=namespace)
        limit = RateLimit(per_second=10, burst=3)
        answers = [await coordinator.take_token("hook", limit) for _ in range(4)]
        assert [a.granted for a in answers] == [True, True, True, False]
        assert 0.05 < answers[3].wait <= 0.1
        await asyncio.sleep(answers[3].wait + 0.01)
        assert (await coordinator.take_token("hook", limit)).granted
        await coordinator.aclose()

    async def test_one_bucket_per_namespace_and_provider(self, redis: RedisServer, namespace: str) -> None:
        """Two coordinators on one namespace share a bucket; another namespace or provider has its own."""
        first, second = await pair(redis, namespace)
        other = RedisCoordinator(redis.url, namespace=namespace + "x")
        limit = RateLimit(per_second=1, burst=1)
        assert (await first.take_token("hook", limit)).granted
        assert not (await second.take_token("hook", limit)).granted
        assert (await second.take_token("other", limit)).granted
        assert (await other.take_token("hook", limit)).granted
        for coordinator in (first, second, other):
            await coordinator.aclose()


class TestSlots:
    async def test_the_cap_is_shared_and_released(self, redis: RedisServer, namespace: str) -> None:
        """limit slots across coordinators; a full cap answers with the poll interval; release frees one."""
        first, second = await pair(redis, namespace, poll=0.02)
        held = [await first.acquire_slot("hook", 2), await second.acquire_slot("hook", 2)]
        assert all(p.granted and p.token for p in held)
        full = await second.acquire_slot("hook", 2)
        assert not full.granted
        assert full.wait == pytest.approx(0.02)
        await first.release_slot("hook", held[0].token)
        assert (await second.acquire_slot("hook", 2)).granted
        await first.aclose()
        await second.aclose()

    async def test_leases_are_renewed_while_the_holder_lives(self, redis: RedisServer, namespace: str) -> None:
        """A slot held past its lease time stays held while its coordinator renews it."""
        holder, other = await pair(redis, namespace, lease=1.5)
        assert (await holder.acquire_slot("hook", 1)).granted
        await asyncio.sleep(2.5)
        assert not (await other.acquire_slot("hook", 1)).granted
        await holder.aclose()  # stops renewing: the lease runs out
        await asyncio.sleep(1.6)
        assert (await other.acquire_slot("hook", 1)).granted
        await other.aclose()


class TestBreaker:
    async def test_an_opening_is_seen_within_the_cache_time(self, redis: RedisServer, namespace: str) -> None:
        """B's cached "closed" lasts at most breaker_cache: after A opens, B refuses within that time."""
        a, b = await pair(redis, namespace, breaker_cache=0.3)
        assert (await b.check_breaker("hook", POLICY)).granted  # cached closed
        await a.open_provider("hook", 5.0)
        opened = time.monotonic()
        while (await b.check_breaker("hook", POLICY)).granted:
            assert time.monotonic() - opened < 0.5, "the opening was not seen within the cache time"
            await asyncio.sleep(0.01)
        verdict = await b.check_breaker("hook", POLICY)
        assert 4.0 < verdict.wait <= 5.0
        await a.aclose()
        await b.aclose()

    async def test_half_open_admits_one_probe_everywhere(self, redis: RedisServer, namespace: str) -> None:
        """After the cooldown one probe across coordinators; it failing reopens, succeeding closes for all."""
        a, b = await pair(redis, namespace)
        await a.open_provider("hook", POLICY.cooldown)
        await asyncio.sleep(POLICY.cooldown + 0.05)
        probe = await b.check_breaker("hook", POLICY)
        assert probe.granted
        assert probe.token
        busy = await a.check_breaker("hook", POLICY)
        assert not busy.granted
        assert 0 < busy.wait <= 1.0
        await b.probe_done("hook", probe.token, "failed", POLICY)
        reopened = await a.check_breaker("hook", POLICY)
        assert not reopened.granted
        assert reopened.wait > 0.3
        await asyncio.sleep(POLICY.cooldown + 0.05)
        probe = await a.check_breaker("hook", POLICY)
        assert probe.granted
        await a.probe_done("hook", probe.token, "ok", POLICY)
        closed = await b.check_breaker("hook", POLICY)
        assert closed.granted
        assert not closed.token
        await a.aclose()
        await b.aclose()


class TestFailures:
    async def test_an_unreachable_redis_raises_coordination_error_quickly(self) -> None:
        """Nothing listening: CoordinationError within the timeout, naming the URL without its password."""
        url = f"redis://:s3cret-pass@127.0.0.1:{closed_port()}/0"
        coordinator = RedisCoordinator(url, timeout=0.5, retry_after=2.0)
        started = time.monotonic()
        with pytest.raises(CoordinationError) as caught:
            await coordinator.take_token("hook", RateLimit(per_second=1))
        assert time.monotonic() - started < 2.0
        assert caught.value.retry_after == 2.0
        assert "s3cret" not in str(caught.value)
        assert ":***@127.0.0.1" in str(caught.value)
        assert "s3cret" not in repr(coordinator)
        await coordinator.aclose()

    async def test_it_works_again_when_redis_is_back(self, namespace: str) -> None:
        """A Redis killed and started again: errors while it is down, answers once it is back."""
        from broadcastio.testing.services import redis_server

        with redis_server() as server:
            coordinator = RedisCoordinator(server.url, namespace=namespace, timeout=0.5)
            assert (await coordinator.acquire_slot("hook", 1)).granted
            server.stop()
            with pytest.raises(CoordinationError):
                await coordinator.acquire_slot("hook", 1)
            server.start()
            assert (await coordinator.acquire_slot("hook", 1)).granted  # a fresh server: the old lease is gone
            await coordinator.aclose()


class TestSettings:
    def test_it_is_a_coordinator(self, redis: RedisServer) -> None:
        """RedisCoordinator implements broadcastio.Coordinator."""
        assert isinstance(RedisCoordinator(redis.url), Coordinator)

    @pytest.mark.parametrize(
        ("url", "options"),
        [
            ("http://127.0.0.1:6379", {}),
            ("redis://127.0.0.1:6379", {"namespace": "has space"}),
            ("redis://127.0.0.1:6379", {"namespace": ""}),
            ("redis://127.0.0.1:6379", {"lease": 0}),
            ("redis://127.0.0.1:6379", {"breaker_cache": 1.5}),
            ("redis://127.0.0.1:6379", {"timeout": float("nan")}),
        ],
    )
    def test_bad_settings_raise_configuration_error(self, url: str, options: dict[str, object]) -> None:
        """A wrong URL scheme, namespace or duration is a ConfigurationError naming it."""
        with pytest.raises(ConfigurationError, match="RedisCoordinator"):
            RedisCoordinator(url, **options)  # type: ignore[arg-type]

    def test_passwords_are_masked(self) -> None:
        """safe_url hides the password, and a lone user part that stands for one."""
        assert safe_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
        assert safe_url("redis://:pw@h/0") == "redis://:***@h/0"
        assert safe_url("redis://token@h:2") == "redis://***@h:2"
        assert safe_url("redis://h:3/1") == "redis://h:3/1"
        with pytest.raises(ConfigurationError) as caught:
            RedisCoordinator("http://u:hidden@h")
        assert "hidden" not in str(caught.value)
