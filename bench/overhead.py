"""Orchestration overhead: µs per message added on top of a direct provider call.

Runs with core alone (the memory provider, no network). Prints a table of
µs per message for calling the memory provider directly and through the
orchestrator (trace off, trace on, and in a broadcast), then the line
``overhead_us trace_off=<x> trace_on=<y>``: µs added per message over the
direct call. Each figure is the best of several rounds.

    python bench/overhead.py [--n 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

from broadcastio import MemoryProvider, Message, Orchestrator
from broadcastio.testing import isolated_plugin_manager


async def best_of(rounds: int, n: int, body: Callable[[int], Awaitable[None]]) -> float:
    """Best µs per message over ``rounds`` runs of ``body(n)``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        await body(n)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


async def main(n: int, rounds: int) -> None:
    provider = MemoryProvider("memory", keep=0)
    orchestrator = Orchestrator([provider], plugin_manager=isolated_plugin_manager())
    message = Message(recipient="+15550100", text="overhead")

    async def direct(count: int) -> None:
        send = provider.send
        for _ in range(count):
            await send(message, "+15550100")

    async def trace_off(count: int) -> None:
        send = orchestrator.asend
        for _ in range(count):
            await send(message)

    async def trace_on(count: int) -> None:
        send = orchestrator.asend
        for _ in range(count):
            await send(message, trace=True)

    def same_message(count: int) -> Iterator[Message]:
        for _ in range(count):
            yield message

    async def broadcast(count: int) -> None:
        async for _ in orchestrator.abroadcast(same_message(count), concurrency=64):
            pass

    await direct(1000)  # warm up caches and the health check
    await trace_off(1000)
    figures = {
        "direct provider.send": await best_of(rounds, n, direct),
        "orchestrator, trace off": await best_of(rounds, n, trace_off),
        "orchestrator, trace on": await best_of(rounds, n, trace_on),
        "broadcast (concurrency 64)": await best_of(rounds, n, broadcast),
    }
    await orchestrator.aclose()
    base = figures["direct provider.send"]
    print(f"{'path':<30} {'us/msg':>8} {'added us':>9}")
    for label, value in figures.items():
        print(f"{label:<30} {value:>8.2f} {value - base:>9.2f}")
    off = figures["orchestrator, trace off"] - base
    on = figures["orchestrator, trace on"] - base
    print(f"overhead_us trace_off={off:.2f} trace_on={on:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is kept")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.n, arguments.rounds))
