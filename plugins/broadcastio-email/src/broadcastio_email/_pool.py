"""A small pool of open SMTP connections, reused for several messages.

A campaign that opens one connection per message meets the per-client
connection limits of real servers (postfix allows 50 by default and answers
``421 4.7.0 too many connections`` past that) and pays TLS and AUTH for
every message. The pool keeps at most ``size`` connections (busy and idle
together), hands out the most recently used idle one first, and retires a
connection after ``max_messages`` messages, after ``idle_seconds`` unused,
or after any failure: only a connection whose last transaction completed
goes back to the pool, so no SMTP state can leak from one message into the
next.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from broadcastio_email._connection import Connection

__all__ = ["ConnectionPool"]


class ConnectionPool:
    """Connections of one provider, bound to the event loop that first used them."""

    def __init__(
        self,
        open_connection: Callable[[], Awaitable[Connection]],
        *,
        size: int,
        idle_seconds: float,
        max_messages: int,
    ) -> None:
        self._open = open_connection
        self.size = size
        self._idle_seconds = idle_seconds
        self._max_messages = max_messages
        self._idle: list[tuple[Connection, float]] = []
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.opened = 0  # connections opened over the pool's life (tests and benchmarks read it)

    def _bind(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._slots is None:
            # Connections cannot cross event loops (a provider reused by another asyncio.run):
            # drop the old loop's idle sockets without awaiting on a loop that is gone.
            for connection, _ in self._idle:
                connection.smtp.close()
            self._idle.clear()
            self._loop = loop
            self._slots = asyncio.Semaphore(self.size)
        return self._slots

    async def acquire(self) -> tuple[Connection, bool]:
        """A connection ready for MAIL FROM, and whether it was reused.

        A fresh one comes back unopened (the caller opens it, so the failure
        phase is known); waits while ``size`` connections are busy.
        """
        slots = self._bind()
        await slots.acquire()
        now = time.monotonic()
        while self._idle:
            connection, since = self._idle.pop()
            if now - since <= self._idle_seconds and connection.smtp.is_connected:
                return connection, True
            await connection.close()
        try:
            connection = await self._open()
        except BaseException:
            slots.release()
            raise
        self.opened += 1
        return connection, False

    async def release(self, connection: Connection, *, reusable: bool) -> None:
        """Give ``connection`` back: kept when its transaction completed, closed otherwise."""
        connection.messages += 1 if reusable else 0
        try:
            if reusable and connection.messages < self._max_messages and connection.smtp.is_connected:
                self._idle.append((connection, time.monotonic()))
            else:
                await connection.close()
        finally:
            if self._slots is not None:
                self._slots.release()

    async def aclose(self) -> None:
        """QUIT every idle connection."""
        idle, self._idle = self._idle, []
        for connection, _ in idle:
            await connection.close()
