"""Broadcast throughput with and without an outbox.

Run: ``python bench/outbox.py [--n 20000]``. Needs ``broadcastio[http]``,
``broadcastio-webhook`` and ``aiohttp``.

Each measurement runs in a fresh process, at concurrency 64, trace off:

- memory provider: ``abroadcast`` without an outbox, then with an outbox at
  ``synchronous="FULL"`` (the default) and ``"NORMAL"``;
- webhook provider against the loopback sink of ``bench/broadcast.py`` (its
  own process): raw aiohttp as the ceiling, then ``abroadcast`` without and
  with an outbox (FULL, NORMAL).

Then the journal's ingest rate (``Outbox.add`` of 100,000 messages, the
path a journalled broadcast takes before its first send, FULL), and the
peak RSS of a shared 20 MB attachment to 1,000 recipients, measured by
``bench/_attach_rss.py`` when present (``nan`` otherwise).

The outbox file lives in a fresh temporary folder on the same disk as
``$TMPDIR``. Prints messages per second for each line and ends with
``outbox_ratio with_vs_without=<webhook FULL / webhook without>
ingest_rows_s=<n> attach_peak_mb=<m>``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CONCURRENCY = 64
sys.path.insert(0, str(Path(__file__).resolve().parent))

import broadcast as throughput  # noqa: E402  (bench/broadcast.py: its sink and raw aiohttp client)


def _messages(n: int) -> Iterator[Any]:
    from broadcastio import Message, Metadata, Recipient

    for index in range(n):
        yield Message(
            recipient=Recipient(addresses={"webhook": f"user-{index}", "memory": f"user-{index}"}),
            text="bench message",
            metadata=Metadata(idempotency_key=f"bench-{index}"),
        )


async def _run(provider_kind: str, url: str, n: int, synchronous: str | None) -> int:
    from broadcastio import MemoryProvider, Orchestrator
    from broadcastio.outbox import Outbox
    from broadcastio.testing import isolated_plugin_manager
    from broadcastio_webhook import WebhookProvider

    provider: Any = MemoryProvider(keep=0) if provider_kind == "memory" else WebhookProvider(url=url)
    with tempfile.TemporaryDirectory() as folder:
        outbox = Outbox(Path(folder) / "outbox.db", synchronous=synchronous) if synchronous else None
        try:
            async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
                ok = 0
                async for result in orchestrator.abroadcast(_messages(n), concurrency=CONCURRENCY, outbox=outbox):
                    ok += result.ok
                return ok
        finally:
            if outbox is not None:
                outbox.close()


def _ingest(n: int) -> tuple[int, float]:
    """Journal ``n`` prebuilt messages (building Message objects is not the journal's cost)."""
    from broadcastio.outbox import Outbox

    prebuilt = list(_messages(n))
    with tempfile.TemporaryDirectory() as folder, Outbox(Path(folder) / "outbox.db") as outbox:
        start = time.perf_counter()
        added = outbox.add(prebuilt)
        return added, time.perf_counter() - start


def _child(kind: str, url: str, n: int, synchronous: str | None, conn: Any) -> None:
    import broadcastio_webhook  # noqa: F401  (imports are not timed)

    start = time.perf_counter()
    if kind == "ingest":
        conn.send(_ingest(n))
        return
    if kind == "aiohttp":
        ok = asyncio.run(throughput._run_aiohttp(url, n))
    else:
        ok = asyncio.run(_run(kind, url, n, synchronous))
    conn.send((ok, time.perf_counter() - start))


def _measure(ctx: Any, kind: str, url: str, n: int, synchronous: str | None) -> tuple[int, float]:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child, args=(kind, url, n, synchronous, child))
    process.start()
    try:
        if not parent.poll(600):
            raise RuntimeError(f"{kind} did not finish in 600 s")
        result: tuple[int, float] = parent.recv()
    finally:
        process.join(10)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per run (default 20000)")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sink = ctx.Process(target=throughput._sink_main, args=(child,), daemon=True)
    sink.start()
    try:
        url = f"http://127.0.0.1:{parent.recv()}/hook"
        print(f"n={args.n} concurrency={CONCURRENCY} cores={os.cpu_count()} tmp={tempfile.gettempdir()}")
        plan = [
            ("memory", None, "memory provider, no outbox"),
            ("memory", "FULL", "memory provider, outbox FULL"),
            ("memory", "NORMAL", "memory provider, outbox NORMAL"),
            ("aiohttp", None, "raw aiohttp to the sink"),
            ("webhook", None, "webhook to the sink, no outbox"),
            ("webhook", "FULL", "webhook to the sink, outbox FULL"),
            ("webhook", "NORMAL", "webhook to the sink, outbox NORMAL"),
        ]
        rates: dict[tuple[str, str | None], float] = {}
        for kind, synchronous, label in plan:
            ok, seconds = _measure(ctx, kind, url, args.n, synchronous)
            rates[kind, synchronous] = args.n / seconds
            print(f"{label:<40} {args.n / seconds:>9,.0f} msg/s  ({ok} ok in {seconds:.2f} s)")
        ok, seconds = _measure(ctx, "ingest", url, INGEST_ROWS, None)
        ingest = INGEST_ROWS / seconds
        print(
            f"{'journal ingest, ' + format(INGEST_ROWS, ',') + ' rows (FULL)':<40} {ingest:>9,.0f} rows/s "
            f"({ok} new in {seconds:.2f} s)"
        )
    finally:
        sink.terminate()
    attach = _attach_peak_mb()
    print(f"{'shared 20 MB attachment, peak RSS':<40} {attach:>9.0f} MB")
    ratio = rates["webhook", "FULL"] / rates["webhook", None]
    normal = rates["webhook", "NORMAL"] / rates["webhook", None]
    print(f"webhook with outbox / without: FULL {ratio:.2f}x, NORMAL {normal:.2f}x")
    print(f"outbox_ratio with_vs_without={ratio:.2f} ingest_rows_s={ingest:.0f} attach_peak_mb={attach:.0f}")
    return 0


INGEST_ROWS = 100_000
ATTACH_SCRIPT = Path(__file__).resolve().parent / "_attach_rss.py"


def _attach_peak_mb() -> float:
    """Peak RSS of the shared-attachment case, from ``bench/_attach_rss.py``'s last line."""
    if not ATTACH_SCRIPT.exists():
        return math.nan
    done = subprocess.run([sys.executable, str(ATTACH_SCRIPT)], capture_output=True, text=True, timeout=600)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or "attach_peak_mb=" not in lines[-1]:
        print(f"bench/_attach_rss.py failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return math.nan
    return float(lines[-1].split("attach_peak_mb=", 1)[1].split()[0])


if __name__ == "__main__":
    raise SystemExit(main())
