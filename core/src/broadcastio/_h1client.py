"""A lean HTTP/1.1 client on asyncio protocols: the hot path of HTTP providers.

aiohttp's ``ClientSession.request`` spends about 100 µs of Python per
request on machinery providers never use (middlewares, tracing, cookie
jars, redirect loops, multi-layer timeouts). This client does only what one
provider request needs: a keep-alive pool per origin, one ``write`` per
request, an incremental response parser (Content-Length, chunked, or read
to close; 1xx skipped; HEAD/204/304 bodiless), and httpx's exceptions, with
the distinction delivery needs: failing to connect sent nothing, failing
after the request was written may have delivered it.

Anything unusual (proxies, streaming bodies, HTTP/2) goes through the
httpx client on :class:`~broadcastio.http.AiohttpTransport` instead.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import Callable

import httpx
from multidict import CIMultiDict
from yarl import URL

__all__ = ["H1Client", "Limits"]

Limits = tuple[float | None, float | None, float | None]
"""(pool, connect, read) timeouts in seconds; None waits for ever."""

_Answer = tuple[int, bytes, list[tuple[bytes, bytes]], bytes, bool]
"""status, reason, raw headers, body, whether the connection may be reused"""

_MAX_HEAD = 64 * 1024
_KEEPALIVE = 4.0  # seconds an idle connection is kept: under the 5 s many servers (Node, uvicorn) use
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODYLESS = frozenset({204, 304})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; parses one response at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[_Answer] | None = None
        self.closed = False
        self.received = False
        self.idle_since = 0.0
        self.last_read = 0.0
        self._head: tuple[int, bytes, list[tuple[bytes, bytes]], bool] | None = None
        self._framing = ""  # "length", "chunked" or "close"
        self._length = 0
        self._chunks: list[bytes] = []
        self._pos = 0
        self._head_request = False

    # --- asyncio callbacks -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        self.buffer += data
        self.received = True
        self.last_read = self.loop.time()
        try:
            self._parse()
        except httpx.RemoteProtocolError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self._finish_at_close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish_at_close()
        self._fail(httpx.RemoteProtocolError("server disconnected without sending a complete response"))

    # --- requests ----------------------------------------------------------------

    def start(self, data: bytes, head_request: bool) -> asyncio.Future[_Answer]:
        self.buffer.clear()
        self.received = False
        self._head = None
        self._chunks = []
        self._pos = 0
        self._head_request = head_request
        self.waiter = self.loop.create_future()
        self.last_read = self.loop.time()
        assert self.transport is not None
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def _finish_at_close(self) -> None:
        if self._head is not None and self._framing == "close":
            self._complete(bytes(self.buffer[self._pos :]), keep_alive=False)

    def _complete(self, body: bytes, *, keep_alive: bool) -> None:
        assert self._head is not None
        status, reason, headers, _ = self._head
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((status, reason, headers, body, keep_alive))

    # --- parsing -------------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self.buffer
        while self._head is None:
            end = buffer.find(b"\r\n\r\n", self._pos)
            if end < 0:
                if len(buffer) - self._pos > _MAX_HEAD:
                    raise httpx.RemoteProtocolError("response head too large")
                return
            head = self._parse_head(bytes(buffer[self._pos : end]))
            self._pos = end + 4
            if head is not None:
                self._head = head
        keep_alive = self._head[3]
        if self._framing == "length":
            if len(buffer) - self._pos >= self._length:
                end = self._pos + self._length
                extra = len(buffer) > end
                self._complete(bytes(buffer[self._pos : end]), keep_alive=keep_alive and not extra)
        elif self._framing == "chunked":
            self._parse_chunks(keep_alive)

    def _parse_head(self, head: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]], bool] | None:
        """Status and headers; None for a 1xx interim response (skipped)."""
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:80]!r}")
        status = int(code)
        headers: list[tuple[bytes, bytes]] = []
        length: int | None = None
        chunked = False
        keep_alive = version == b"HTTP/1.1"
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or not name or name != name.strip():
                raise httpx.RemoteProtocolError(f"malformed header line {line[:80]!r}")
            value = value.strip()
            headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit() or (length is not None and length != int(value)):
                    raise httpx.RemoteProtocolError("invalid Content-Length")
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = value.lower().endswith(b"chunked")
            elif lower == b"connection":
                tokens = {token.strip() for token in value.lower().split(b",")}
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
        if 100 <= status < 200 and status != 101:
            return None
        if self._head_request or status in _BODYLESS:
            self._framing, self._length = "length", 0
        elif chunked:
            self._framing = "chunked"
        elif length is not None:
            self._framing, self._length = "length", length
        else:
            self._framing, keep_alive = "close", False
        return status, reason, headers, keep_alive

    def _parse_chunks(self, keep_alive: bool) -> None:
        buffer = self.buffer
        while True:
            line_end = buffer.find(b"\r\n", self._pos)
            if line_end < 0:
                return
            size_text = bytes(buffer[self._pos : line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"malformed chunk size {size_text[:20]!r}") from None
            if size == 0:
                # Trailers (ignored) end with an empty line.
                if buffer[line_end + 2 : line_end + 4] == b"\r\n":
                    end = line_end + 4
                else:
                    found = buffer.find(b"\r\n\r\n", line_end + 2)
                    if found < 0:
                        return
                    end = found + 4
                self._complete(b"".join(self._chunks), keep_alive=keep_alive and len(buffer) == end)
                return
            start = line_end + 2
            if len(buffer) < start + size + 2:
                return
            self._chunks.append(bytes(buffer[start : start + size]))
            self._pos = start + size + 2


class H1Client:
    """A pool of keep-alive HTTP/1.1 connections, one pool per origin.

    :param max_connections: requests in flight at once (each on its own connection).
    :param ssl_context: TLS settings for https (httpx's defaults when None).
    """

    def __init__(self, *, max_connections: int = 100, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], collections.deque[_Connection]] = {}
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._heads: dict[URL, tuple[tuple[str, str, int], str, str]] = {}
        self._generation = 0  # bumped by aclose: connections from before are not pooled again

    async def send(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        body: bytes | None,
        limits: Limits,
        request_factory: Callable[[], httpx.Request],
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]], bytes, float]:
        """One exchange: (status, reason, raw headers, body, seconds); raises httpx's exceptions."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new loop after the old one ended
            self._loop, self._semaphore, self._idle = loop, asyncio.Semaphore(self._max_connections), {}
        semaphore = self._semaphore
        assert semaphore is not None
        started = time.perf_counter()
        pool_timeout, connect_timeout, read_timeout = limits
        key, target, host = self._origin(url)
        data = self._serialize(method, target, host, headers, body, request_factory)
        if semaphore.locked():
            try:
                await asyncio.wait_for(semaphore.acquire(), pool_timeout)
            except TimeoutError:
                raise httpx.PoolTimeout("no free connection in time", request=request_factory()) from None
        else:
            await semaphore.acquire()
        connection: _Connection | None = None
        generation = self._generation
        try:
            connection = self._idle_connection(key, loop)
            reused = connection is not None
            if connection is None:
                connection = await self._connect(key, connect_timeout, loop, request_factory)
            try:
                try:
                    answer = await _exchange(connection, data, method, read_timeout, loop)
                except httpx.RemoteProtocolError:
                    if not (reused and method in _IDEMPOTENT and not connection.received):
                        raise
                    # The server closed a kept-alive connection just as it was reused, before
                    # answering: an idempotent request may go again on a new connection.
                    connection.close()
                    connection = await self._connect(key, connect_timeout, loop, request_factory)
                    answer = await _exchange(connection, data, method, read_timeout, loop)
            except httpx.HTTPError as exc:
                exc.request = request_factory()
                raise
            status, reason, raw_headers, content, keep_alive = answer
            connection.waiter = None
            if keep_alive and not connection.closed and generation == self._generation:
                connection.idle_since = loop.time()
                self._idle.setdefault(key, collections.deque()).append(connection)
            else:
                connection.close()
            connection = None
        finally:
            if connection is not None:
                connection.close()  # failed or cancelled mid-exchange: never reuse
            semaphore.release()
        return status, reason, raw_headers, content, time.perf_counter() - started

    def _origin(self, url: URL) -> tuple[tuple[str, str, int], str, str]:
        cached = self._heads.get(url)
        if cached is None:
            scheme, host, port = url.scheme, url.raw_host or "", url.port or _DEFAULT_PORTS.get(url.scheme, 80)
            shown = f"[{host}]" if ":" in host else host
            if port != _DEFAULT_PORTS.get(scheme):
                shown = f"{shown}:{port}"
            cached = ((scheme, host, port), url.raw_path_qs or "/", shown)
            if len(self._heads) >= 256:
                self._heads.clear()
            self._heads[url] = cached
        return cached

    @staticmethod
    def _serialize(
        method: str,
        target: str,
        host: str,
        headers: CIMultiDict[str],
        body: bytes | None,
        request_factory: Callable[[], httpx.Request],
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1"]
        if "Host" not in headers:
            lines.append(f"Host: {host}")
        for name, value in headers.items():
            lines.append(f"{name}: {value}")
        framed = "Content-Length" in headers or "Transfer-Encoding" in headers
        if not framed and (body or method in ("POST", "PUT", "PATCH")):
            lines.append(f"Content-Length: {len(body or b'')}")
        text = "\r\n".join(lines)
        breaks = len(lines) - 1
        if text.count("\n") != breaks or text.count("\r") != breaks:
            raise httpx.LocalProtocolError("CR or LF in the request line or a header", request=request_factory())
        try:
            head = (text + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError("non-latin-1 text in a header", request=request_factory()) from None
        return head + body if body else head

    def _idle_connection(self, key: tuple[str, str, int], loop: asyncio.AbstractEventLoop) -> _Connection | None:
        idle = self._idle.get(key)
        now = loop.time()
        while idle:
            connection = idle.pop()  # most recently used: least likely closed by the server
            if not connection.closed and now - connection.idle_since < _KEEPALIVE:
                return connection
            connection.close()
        return None

    async def _connect(
        self,
        key: tuple[str, str, int],
        connect_timeout: float | None,
        loop: asyncio.AbstractEventLoop,
        request_factory: Callable[[], httpx.Request],
    ) -> _Connection:
        scheme, host, port = key
        context: ssl.SSLContext | None = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context(trust_env=False)
            context = self._ssl_context
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop), host, port, ssl=context, server_hostname=host if context else None
                ),
                connect_timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out", request=request_factory()) from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}", request=request_factory()) from exc
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
    connection: _Connection,
    data: bytes,
    method: str,
    read_timeout: float | None,
    loop: asyncio.AbstractEventLoop,
) -> _Answer:
    """Write one request on ``connection`` and wait for its whole response."""
    waiter = connection.start(data, method == "HEAD")
    timer = None if read_timeout is None else loop.call_later(read_timeout, _check_read, connection, read_timeout)
    try:
        return await waiter
    finally:
        if timer is not None:
            timer.cancel()


def _check_read(connection: _Connection, read_timeout: float) -> None:
    """Fail the exchange if nothing arrived for ``read_timeout`` s; else look again later."""
    waiter = connection.waiter
    if waiter is None or waiter.done():
        return
    quiet = connection.loop.time() - connection.last_read
    if quiet >= read_timeout:
        waiter.set_exception(httpx.ReadTimeout(f"no data for {read_timeout} s"))
        connection.close()
    else:
        connection.loop.call_later(read_timeout - quiet, _check_read, connection, read_timeout)
