"""The outbox's two stores side by side: SQLite (FULL, NORMAL) and PostgreSQL.

Run: ``python bench/outbox_store.py [--n 100000] [--sends 20000]``. Needs
``broadcastio[postgres]`` and Debian's ``postgresql`` package: the script
starts its own server on 127.0.0.1 with ``fsync=on`` (as a production
server runs), so PostgreSQL's figures include a real flush per commit.

For each store:

- journalling: ``Outbox.add`` of ``--n`` messages built beforehand, in its
  default chunks (2,000 on SQLite, 10,000 on PostgreSQL), rows per second;
- claim + mark: ``Orchestrator.aresume`` of ``--sends`` journalled rows
  through a memory provider at concurrency 64: every row is claimed, marked
  ``sending`` and given its outcome through the writer thread; messages per second.

Ends with ``outbox_store pg_journal_rows_per_s=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONCURRENCY = 64


def _messages(n: int, prefix: str) -> Iterator[Any]:
    from broadcastio import Message, Metadata

    for index in range(n):
        yield Message(
            recipient=f"user-{index}",
            text="bench message, about as long as a real notification text",
            metadata=Metadata(idempotency_key=f"{prefix}-{index}", reference_id=f"order-{index}"),
        )


def _journal(target: str, n: int, synchronous: str) -> float:
    from broadcastio.outbox import Outbox

    messages = list(_messages(n, "journal"))  # built first: the application's cost, not the store's
    with Outbox(target, synchronous=synchronous) as box:
        started = time.perf_counter()
        added = box.add(messages, campaign="journal")  # 2,000 a chunk on SQLite, 10,000 on PostgreSQL
        elapsed = time.perf_counter() - started
        assert added == n, added
    return n / elapsed


async def _claim_and_mark(target: str, n: int, synchronous: str) -> float:
    from broadcastio import MemoryProvider, Orchestrator
    from broadcastio.outbox import Outbox
    from broadcastio.testing import isolated_plugin_manager

    with Outbox(target, synchronous=synchronous) as box:
        box.add(_messages(n, "send"), campaign="send")
        orchestrator = Orchestrator([MemoryProvider(keep=0)], plugin_manager=isolated_plugin_manager())
        started = time.perf_counter()
        count = 0
        async for _ in orchestrator.aresume(box, campaign="send", concurrency=CONCURRENCY):
            count += 1
        elapsed = time.perf_counter() - started
        assert count == n, count
        assert box.campaign("send").sent == n, box.campaign("send")
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages journalled per store")
    parser.add_argument("--sends", type=int, default=20_000, help="rows claimed and marked per store")
    args = parser.parse_args()
    from broadcastio.testing.services import postgres_server

    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="broadcastio-bench-") as folder:
        for mode in ("FULL", "NORMAL"):
            journal = _journal(str(Path(folder) / f"journal-{mode}.db"), args.n, mode)
            sends = asyncio.run(_claim_and_mark(str(Path(folder) / f"send-{mode}.db"), args.sends, mode))
            figures[f"SQLite {mode}"] = (journal, sends)
    with postgres_server(fsync=True) as server:
        journal = _journal(server.database(), args.n, "FULL")
        sends = asyncio.run(_claim_and_mark(server.database(), args.sends, "FULL"))
        figures["PostgreSQL (fsync on)"] = (journal, sends)
    print(f"{'store':<24}{'journal rows/s':>16}{'claim+mark msgs/s':>20}")
    for name, (journal, sends) in figures.items():
        print(f"{name:<24}{journal:>16,.0f}{sends:>20,.0f}")
    print(f"outbox_store pg_journal_rows_per_s={figures['PostgreSQL (fsync on)'][0]:.0f}")


if __name__ == "__main__":
    main()
