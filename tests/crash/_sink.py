"""A webhook sink in its own process: records every Idempotency-Key it receives.

Run as ``python _sink.py [--dedup]``; prints ``PORT <n>`` once listening.
``GET /stats`` answers ``{"raw": receipts, "keys": {key: receipts}}``. With
``--dedup`` a repeated key is acknowledged with the first answer, as an
idempotent receiver would; receipts are counted either way.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections import Counter

from aiohttp import web


def build(dedup: bool) -> web.Application:
    receipts: Counter[str] = Counter()
    raw = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal raw
        key = request.headers.get("Idempotency-Key", "")
        await request.read()
        raw += 1
        receipts[key] += 1
        if random.random() < 0.2:  # a little latency so kills land mid-request too
            await asyncio.sleep(random.uniform(0.0, 0.004))
        message_id = f"sink-{key}" if dedup else f"sink-{key}-{receipts[key]}"
        return web.json_response({"id": message_id})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"raw": raw, "keys": dict(receipts)})

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_get("/stats", stats)
    return app


async def main(dedup: bool) -> None:
    runner = web.AppRunner(build(dedup), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main("--dedup" in sys.argv))
