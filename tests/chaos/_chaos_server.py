"""A webhook receiver on 127.0.0.1 that misbehaves on purpose, and keeps count.

Each request draws one fate: answer 200, drop the connection after taking
the message, reset it half-way through the answer, answer 500 or 503, answer
429 with ``Retry-After``, or answer too slowly for the client's timeout.
Recipients named ``invalid-*`` get 400. The receiver deduplicates by
``Idempotency-Key`` (an idempotent API), records every request per key
with its time and fate, and which keys it processed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

import msgspec
from aiohttp import web

FATES = (
    ("ok", 0.70),
    ("drop", 0.05),  # message taken, connection closed without an answer
    ("reset", 0.03),  # message taken, answer cut off mid-body
    ("500", 0.05),
    ("503", 0.05),
    ("429", 0.10),
    ("slow", 0.02),  # message taken, answer later than the client's timeout
)


class _Body(msgspec.Struct):
    to: str


@dataclass
class Receipt:
    at: float
    fate: str


@dataclass
class ChaosState:
    """What the receiver saw, for the test to check."""

    retry_after: float
    slow_seconds: float
    seed: int
    requests: dict[str, list[Receipt]] = field(default_factory=lambda: defaultdict(list))
    processed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        names, weights = zip(*FATES, strict=True)
        self._names, self._weights = names, weights

    def fate(self) -> str:
        return self.rng.choices(self._names, self._weights)[0]


def chaos_app(state: ChaosState) -> web.Application:
    decode = msgspec.json.Decoder(_Body).decode

    async def receive(request: web.Request) -> web.StreamResponse:
        key = request.headers["Idempotency-Key"]
        body = decode(await request.read())
        fate = "invalid" if body.to.startswith("invalid-") else state.fate()
        state.requests[key].append(Receipt(at=time.monotonic(), fate=fate))
        if fate == "invalid":
            return web.json_response({"error": "no such recipient"}, status=400)
        if fate in ("500", "503"):
            return web.json_response({"error": "try later"}, status=int(fate))
        if fate == "429":
            return web.json_response(
                {"error": "slow down"}, status=429, headers={"Retry-After": str(state.retry_after)}
            )
        state.processed.add(key)  # every fate below has taken the message
        transport = request.transport
        if fate == "drop":
            assert transport is not None
            transport.close()
            return web.Response(status=200)  # never reaches the client
        if fate == "reset":
            response = web.StreamResponse(status=200, headers={"Content-Length": "64"})
            await response.prepare(request)
            await response.write(b'{"id": "par')
            assert transport is not None
            transport.abort()
            return response
        if fate == "slow":
            await asyncio.sleep(state.slow_seconds)
        return web.json_response({"id": f"chaos-{key}"})

    async def head(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_route("HEAD", "/hook", head)
    return app


@dataclass
class SinkState:
    """A healthy, idempotent backup receiver."""

    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    delivered: set[str] = field(default_factory=set)


def sink_app(state: SinkState) -> web.Application:
    decode = msgspec.json.Decoder(_Body).decode

    async def receive(request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        body = decode(await request.read())
        state.requests[key] += 1
        if body.to.startswith("invalid-"):
            return web.json_response({"error": "no such recipient"}, status=400)
        state.delivered.add(key)
        return web.json_response({"id": f"sink-{key}"})

    async def head(request: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    app.router.add_route("HEAD", "/hook", head)
    return app
