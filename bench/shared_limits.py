"""What shared limits cost per message: no coordinator, MemoryCoordinator, RedisCoordinator (a real local Redis).

A broadcast of N messages through the memory provider (no network besides
Redis) with a rate limit too high to wait on and a ``max_in_flight`` cap
equal to the concurrency, so every message asks for a token and a slot: the
figures are the bookkeeping itself (three Redis round trips per message:
token, slot, release), not waiting. The breaker check is answered from the
cache; the last row has no limits configured, so only that check remains. Prints
µs per message and messages per second side by side, then
``shared_limits redis_us=<x> local_us=<y> ratio=<z>``. Best of a few rounds.

    python bench/shared_limits.py [--n 5000] [--rounds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from broadcastio import Coordinator, MemoryProvider, Message, Orchestrator, RateLimit
from broadcastio.testing import MemoryCoordinator, isolated_plugin_manager
from broadcastio.testing.services import redis_server
from broadcastio_redis import RedisCoordinator


async def run(coordinator: Coordinator | None, n: int, concurrency: int, limits: bool = True) -> float:
    """µs per message of one broadcast of ``n``."""
    orchestrator = Orchestrator(
        [MemoryProvider("memory", keep=0)],
        rate_limits={"memory": RateLimit(per_second=1_000_000, burst=1000)} if limits else None,
        max_in_flight={"memory": concurrency} if limits else None,
        coordinator=coordinator,
        plugin_manager=isolated_plugin_manager(),
    )
    messages = (Message(recipient="+15550100", text="x") for _ in range(n))
    started = time.perf_counter()
    delivered = sum([result.ok async for result in orchestrator.abroadcast(messages, concurrency=concurrency)])
    elapsed = time.perf_counter() - started
    await orchestrator.aclose()
    assert delivered == n, delivered
    return elapsed / n * 1e6


async def main(n: int, rounds: int, concurrency: int, url: str) -> None:
    def redis() -> Coordinator:
        return RedisCoordinator(url, namespace=f"bench{uuid.uuid4().hex[:8]}")

    figures: dict[str, float] = {}
    for label, make, limits in (
        ("no coordinator", lambda: None, True),
        ("MemoryCoordinator", MemoryCoordinator, True),
        ("RedisCoordinator", redis, True),
        ("Redis, breaker only", redis, False),
    ):
        figures[label] = min([await run(make(), n, concurrency, limits) for _ in range(rounds)])
    print(f"{'path':<22} {'µs/msg':>10} {'msg/s':>10}")
    for label, us in figures.items():
        print(f"{label:<22} {us:>10.1f} {1e6 / us:>10.0f}")
    local, shared = figures["no coordinator"], figures["RedisCoordinator"]
    print(f"shared_limits redis_us={shared:.1f} local_us={local:.1f} ratio={shared / local:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with redis_server() as server:
        asyncio.run(main(args.n, args.rounds, args.concurrency, server.url))
