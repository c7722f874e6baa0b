"""The keep-alive connection pool every provider request goes through.

One request is one exchange on one connection: wait for a pool slot, take an
idle connection or open one, write the request in one ``write``, read the
whole answer. Two clocks bound it: an inactivity timer (no byte for
``read`` seconds) and a deadline for the whole exchange (connect, write,
read of the complete response), so a server trickling a byte a second ends
in time. One timer handle per exchange serves both.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from dataclasses import dataclass

import httpx

from broadcastio.http._connection import Answer, Caps, Connection
from broadcastio.http._failures import Failure, HttpFailure

__all__ = ["Client", "Origin", "Timeouts"]

Origin = tuple[str, str, int]
"""(scheme, host, port)"""

_KEEPALIVE = 4.0  # seconds an idle connection is kept: under the 5 s many servers (Node, uvicorn) use
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; None waits for ever (the deadline still applies when set).

    :param pool: waiting for a free connection.
    :param connect: opening a connection (TCP and TLS).
    :param read: inactivity while waiting for the answer.
    :param deadline: the whole exchange, connect to the last byte.
    """

    pool: float | None
    connect: float | None
    read: float | None
    deadline: float | None


class Client:
    """Keep-alive HTTP/1.1 connections, one pool per origin, ``max_connections`` exchanges at once.

    :param ssl_context: TLS settings for https (httpx's defaults, certifi's CAs, when None).
    """

    def __init__(self, *, max_connections: int, caps: Caps, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        self._caps = caps
        self._ssl_context = ssl_context
        self._idle: dict[Origin, collections.deque[Connection]] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation = 0  # bumped by aclose: connections from before are not pooled again

    async def send(self, origin: Origin, method: str, data: bytes, timeouts: Timeouts) -> Answer:
        """One exchange; raises :class:`HttpFailure`."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new loop after the old one ended
            self._loop, self._semaphore, self._idle = loop, asyncio.Semaphore(self._max_connections), {}
        semaphore = self._semaphore
        assert semaphore is not None
        if semaphore.locked():
            try:
                await asyncio.wait_for(semaphore.acquire(), timeouts.pool)
            except TimeoutError:
                raise HttpFailure(Failure.POOL_TIMEOUT, "no free connection in time") from None
        else:
            await semaphore.acquire()
        deadline = None if timeouts.deadline is None else loop.time() + timeouts.deadline
        connection: Connection | None = None
        generation = self._generation
        try:
            connection = self._idle_connection(origin, loop)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(origin, timeouts.connect, deadline, loop)
            try:
                answer = await _exchange(connection, data, method, timeouts.read, deadline, loop)
            except HttpFailure as exc:
                if not (reused and exc.kind is Failure.PROTOCOL and method in _IDEMPOTENT and not connection.received):
                    raise
                # The server closed a kept-alive connection just as it was reused, before
                # answering: an idempotent request may go again, once, on a new connection.
                connection.close()
                connection = await self._connect(origin, timeouts.connect, deadline, loop)
                answer = await _exchange(connection, data, method, timeouts.read, deadline, loop)
            connection.waiter = None
            if answer[3] and not connection.closed and generation == self._generation:
                connection.idle_since = loop.time()
                self._idle.setdefault(origin, collections.deque()).append(connection)
            else:
                connection.close()
            connection = None
        finally:
            if connection is not None:
                connection.close()  # failed or cancelled mid-exchange: never reuse
            semaphore.release()
        return answer

    def _idle_connection(self, origin: Origin, loop: asyncio.AbstractEventLoop) -> Connection | None:
        idle = self._idle.get(origin)
        now = loop.time()
        while idle:
            connection = idle.pop()  # most recently used: least likely closed by the server
            if not connection.closed and now - connection.idle_since < _KEEPALIVE:
                return connection
            connection.close()
        return None

    async def _connect(
        self, origin: Origin, connect_timeout: float | None, deadline: float | None, loop: asyncio.AbstractEventLoop
    ) -> Connection:
        scheme, host, port = origin
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context(trust_env=False)
            context = self._ssl_context
        limit = connect_timeout
        if deadline is not None:
            left = max(0.0, deadline - loop.time())
            limit = left if limit is None else min(limit, left)
        caps = self._caps
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Connection(loop, caps), host, port, ssl=context, server_hostname=host if context else None
                ),
                limit,
            )
        except TimeoutError:
            raise HttpFailure(Failure.CONNECT_TIMEOUT, f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise HttpFailure(Failure.CONNECT, f"cannot connect to {host}:{port}: {exc}") from exc
        return connection

    async def aclose(self) -> None:
        """Close idle connections; busy ones close when their exchange ends."""
        idle, self._idle = self._idle, {}
        self._generation += 1
        for connections in idle.values():
            for connection in connections:
                connection.close()
        self._loop = None


async def _exchange(
    connection: Connection,
    data: bytes,
    method: str,
    read_timeout: float | None,
    deadline: float | None,
    loop: asyncio.AbstractEventLoop,
) -> Answer:
    """Write one request on ``connection`` and wait for its whole answer, within both clocks."""
    waiter = connection.start(data, method == "HEAD")
    if read_timeout is None and deadline is None:
        return await waiter
    clock = _Clock(connection, waiter, read_timeout, deadline)
    try:
        return await waiter
    finally:
        clock.stop()


class _Clock:
    """One timer handle at a time for an exchange's inactivity timeout and deadline.

    It fires at the earlier of the two; if data arrived meanwhile it is set
    again for later. Bound to its waiter, so a late firing never touches the
    connection's next exchange.
    """

    __slots__ = ("connection", "deadline", "handle", "read_timeout", "waiter")

    def __init__(
        self, connection: Connection, waiter: asyncio.Future[Answer], read_timeout: float | None, deadline: float | None
    ) -> None:
        self.connection = connection
        self.waiter = waiter
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.handle = connection.loop.call_at(self._next(), self._check)

    def _next(self) -> float:
        if self.read_timeout is None:
            assert self.deadline is not None
            return self.deadline
        quiet_until = self.connection.last_read + self.read_timeout
        return quiet_until if self.deadline is None else min(quiet_until, self.deadline)

    def _check(self) -> None:
        """Fail the exchange past its deadline or after ``read_timeout`` s of silence; else look again later."""
        if self.waiter.done():
            return
        connection = self.connection
        now = connection.loop.time()
        if self.deadline is not None and now >= self.deadline:
            connection.fail(Failure.TIMEOUT, "the exchange passed its deadline before the answer was complete")
        elif self.read_timeout is not None and now - connection.last_read >= self.read_timeout:
            transport = connection.transport
            if transport is not None and transport.get_write_buffer_size():
                connection.last_read = now  # still sending a large request: not silence (the deadline holds)
                self.handle = connection.loop.call_at(self._next(), self._check)
            else:
                connection.fail(Failure.TIMEOUT, f"no data for {self.read_timeout} s")
        else:
            self.handle = connection.loop.call_at(self._next(), self._check)

    def stop(self) -> None:
        self.handle.cancel()
