"""A webhook receiver in its own process: counts every Idempotency-Key it receives.

``python _receiver.py [--dedup] [--latency S] [--unavailable-for S]`` prints
``PORT <n>`` once listening. ``GET /stats`` answers ``{"raw": receipts,
"accepted": answers 200, "keys": {key: receipts}}``. ``--dedup`` answers a
repeated key with the first answer, as an idempotent receiver would;
``--unavailable-for S`` answers 503 to everything for S seconds from the
first request (an outage as the campaign starts); ``--latency`` delays each answer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

from aiohttp import web


def build(dedup: bool, latency: float, unavailable_for: float) -> web.Application:
    receipts: Counter[str] = Counter()
    counts = {"raw": 0, "accepted": 0, "refused": 0}
    first: list[float] = []

    async def receive(request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key", "")
        await request.read()
        if not first:
            first.append(time.monotonic())
        if time.monotonic() - first[0] < unavailable_for:
            counts["refused"] += 1
            return web.json_response({"error": "warming up"}, status=503)
        if latency:
            await asyncio.sleep(latency)
        counts["raw"] += 1
        receipts[key] += 1
        counts["accepted"] += 1
        message_id = f"rcv-{key}" if dedup else f"rcv-{key}-{receipts[key]}"
        return web.json_response({"id": message_id})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({**counts, "keys": dict(receipts)})

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_get("/stats", stats)
    return app


async def main(args: argparse.Namespace) -> None:
    runner = web.AppRunner(build(args.dedup, args.latency, args.unavailable_for), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--dedup", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--unavailable-for", type=float, default=0.0)
    asyncio.run(main(parser.parse_args()))
