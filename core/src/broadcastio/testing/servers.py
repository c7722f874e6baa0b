"""Real local HTTP servers for provider tests (needs ``broadcastio[testing]``, which brings aiohttp).

A server runs an aiohttp application on 127.0.0.1 in a thread with its own
event loop, so it answers sync tests, tests with their own loop, and the
contract suite (which runs each scenario with ``asyncio.run``) alike.

A fake provider API subclasses :class:`ScriptedReplies` so a test can queue
the exact answers (errors, odd bodies, slow replies) the next requests get,
while the fake keeps its own provider behaviour for everything unscripted.
"""

from __future__ import annotations

import asyncio
import collections
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar, TypeAlias

import msgspec
from aiohttp import web

__all__ = ["Body", "Reply", "ScriptedReplies", "closed_port", "respond", "serve_app"]

Body: TypeAlias = dict[str, Any] | list[Any] | str | None
"""What a fake answers: JSON (a dict or a list), raw text, or nothing at all."""


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def serve_app(app: web.Application, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` on an ephemeral port; yields its base URL (``http://127.0.0.1:PORT``)."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner = web.AppRunner(app, access_log=None)
    port_box: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, 0)
            loop.run_until_complete(site.start())
            port_box.append(runner.addresses[0][1])
        except BaseException as exc:
            errors.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, name="broadcastio-test-server", daemon=True)
    thread.start()
    started.wait(timeout=10)
    if errors:
        raise errors[0]
    if not port_box:
        raise RuntimeError("test server did not start within 10 s")
    try:
        yield f"http://{host}:{port_box[0]}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    """One scripted answer: the status, body and headers the next request gets, ``delay`` seconds late."""

    status: int
    body: Body = None
    headers: dict[str, str] = {}
    delay: float = 0.0


def respond(
    status: int,
    body: Body = None,
    headers: Mapping[str, str] | None = None,
    *,
    text_type: str = "text/html",
    json_type: str = "application/json",
) -> web.Response:
    """An aiohttp response for ``body``: JSON as ``json_type``, text as ``text_type``, ``None`` as no body.

    The content types are parameters because real APIs differ: an error page
    from a proxy is ``text/html``, a webhook's bare answer ``text/plain``.
    """
    if body is None:
        return web.Response(status=status, headers=headers)
    if isinstance(body, str):
        return web.Response(status=status, text=body, headers=headers, content_type=text_type)
    return web.Response(status=status, text=json.dumps(body), headers=headers, content_type=json_type)


class ScriptedReplies:
    """Base for a fake provider API: queued replies answer first, in order, before the fake's own logic.

    A handler records the request, then returns ``await self.scripted()`` when
    that is not ``None``. Set ``text_type`` / ``json_type`` to the content types
    the real API sends, or override :meth:`respond` where they depend on more
    (the status, headers every answer carries): scripted replies go through it too.
    """

    text_type: ClassVar[str] = "text/html"
    json_type: ClassVar[str] = "application/json"

    def __init__(self) -> None:
        self.replies: collections.deque[Reply] = collections.deque()

    def reply(self, status: int, body: Body = None, *, delay: float = 0.0, **headers: str) -> None:
        """Queue an answer; header keywords use underscores for dashes (``retry_after="3"`` is ``retry-after``)."""
        named = {name.replace("_", "-"): value for name, value in headers.items()}
        self.replies.append(Reply(status=status, body=body, headers=named, delay=delay))

    def respond(self, status: int, body: Body = None, headers: Mapping[str, str] | None = None) -> web.Response:
        """An answer in this API's content types (see :func:`respond`)."""
        return respond(status, body, headers, text_type=self.text_type, json_type=self.json_type)

    async def scripted(self) -> web.Response | None:
        """The next queued reply, after its delay; ``None`` when nothing is queued."""
        if not self.replies:
            return None
        reply = self.replies.popleft()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return self.respond(reply.status, reply.body, reply.headers)
