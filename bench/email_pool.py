"""Email throughput: pooled SMTP connections against one connection per message.

Run: ``python bench/email_pool.py [--n 2000]`` (needs ``broadcastio-email``). A
broadcast of ``--n`` small emails at the default concurrency goes to the
loopback sink of ``bench/_smtp_sink.py`` (its own process), once with the
provider's default pool and once with ``max_messages_per_connection=1``
(every message opens, greets and closes its own connection, as before the
pool). Prints messages per second and connections opened for both; the last
line is ``email_ratio pooled_vs_fresh=<x>``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


async def run(port: int, n: int, per_connection: int) -> tuple[float, int]:
    from broadcastio import Message, Orchestrator
    from broadcastio.testing import isolated_plugin_manager
    from broadcastio_email import EmailProvider

    provider = EmailProvider(
        host="127.0.0.1",
        port=port,
        tls="none",
        from_address="bench@example.com",
        local_hostname="bench.test",
        max_messages_per_connection=per_connection,
    )
    messages = (Message(recipient=f"user{i}@example.org", subject="s", text="hello") for i in range(n))
    started = time.perf_counter()
    async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
        ok = sum([result.ok async for result in orchestrator.abroadcast(messages)])
    seconds = time.perf_counter() - started
    assert ok == n, f"{n - ok} of {n} not delivered"
    return n / seconds, provider._pool.opened


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, str(HERE / "_smtp_sink.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        pooled = asyncio.run(run(port, args.n, 100))
        fresh = asyncio.run(run(port, args.n, 1))
    finally:
        sink.kill()
        sink.wait()
    print(f"{'email broadcast, N=' + str(args.n):<44} {'msg/s':>10} {'connections':>12}")
    print(f"{'pooled (default: 10, 100 messages each)':<44} {pooled[0]:>10,.0f} {pooled[1]:>12,}")
    print(f"{'one connection per message':<44} {fresh[0]:>10,.0f} {fresh[1]:>12,}")
    print(f"email_ratio pooled_vs_fresh={pooled[0] / fresh[0]:.2f}")


if __name__ == "__main__":
    main()
