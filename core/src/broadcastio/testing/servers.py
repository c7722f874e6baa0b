"""Real local HTTP servers for provider tests (needs ``broadcastio[testing]``, which brings aiohttp).

A server runs an aiohttp application on 127.0.0.1 in a thread with its own
event loop, so it answers sync tests, tests with their own loop, and the
contract suite (which runs each scenario with ``asyncio.run``) alike.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

__all__ = ["closed_port", "serve_app"]


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
