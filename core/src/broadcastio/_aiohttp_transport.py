"""Sending HTTP through aiohttp while speaking httpx's API.

httpx's own async pool collapses under concurrency (about 300 msg/s at 64
concurrent requests on a loopback sink here, where aiohttp does about
7,500), so the httpx client of every HTTP provider rides aiohttp's
connector through :class:`AiohttpTransport`. Plain requests skip even that
and take the lean client in ``_h1client`` (see docs/http-transport.md);
both hand back ``httpx.Response`` objects (:class:`FastResponse` on the
short path).

Exceptions are mapped onto httpx's, keeping the distinction that matters
for delivery: failing to connect (nothing sent) versus failing after the
request was written (maybe delivered).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

__all__ = ["AiohttpTransport", "FastResponse"]

RequestFactory = Callable[[], httpx.Request]


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


@functools.lru_cache(maxsize=64)
def client_timeout(pool: float | None, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for httpx's (pool, connect, read) seconds; cached, they repeat."""
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


def timeout_from_httpx(timeouts: Mapping[str, Any]) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for an httpx ``timeout`` request extension."""
    pool, connect, read = (_seconds(timeouts.get(key)) for key in ("pool", "connect", "read"))
    return client_timeout(pool, connect, read)


class FastResponse(httpx.Response):
    """An ``httpx.Response`` whose body is already read and whose request and
    headers are built lazily.

    Building an ``httpx.Request`` (URL parsing, header normalising) and
    ``httpx.Headers`` costs as much as the HTTP exchange itself on a fast
    network, and most providers look at neither on success, so both are made
    on first access. The instance carries every attribute
    ``httpx.Response.__init__`` sets (a test keeps that true across httpx
    versions), so every ``httpx.Response`` method works on it.
    """

    def __init__(
        self,
        status_code: int,
        raw_headers: Any,
        content: bytes,
        request_factory: RequestFactory | None,
        elapsed: float,
        *,
        encoded: bool = False,
        reason: bytes | None = None,
    ) -> None:
        # Not super().__init__: it would build the headers and read the stream.
        attributes = self.__dict__
        attributes["status_code"] = status_code
        attributes["_raw_headers"] = raw_headers
        attributes["_headers"] = None
        attributes["_request_value"] = None
        attributes["_request_factory"] = request_factory
        attributes["next_request"] = None
        attributes["extensions"] = (
            {"http_version": b"HTTP/1.1"} if reason is None else {"http_version": b"HTTP/1.1", "reason_phrase": reason}
        )
        attributes["history"] = []
        attributes["default_encoding"] = "utf-8"
        attributes["stream"] = httpx.ByteStream(content)
        attributes["_num_bytes_downloaded"] = 0
        attributes["_elapsed"] = dt.timedelta(seconds=elapsed)
        if encoded:
            attributes["is_closed"] = False
            attributes["is_stream_consumed"] = False
            self.read()  # httpx undoes gzip/deflate/br exactly as it always does
        else:
            attributes["_content"] = content
            attributes["is_closed"] = True
            attributes["is_stream_consumed"] = True

    @property
    def headers(self) -> httpx.Headers:
        headers: httpx.Headers | None = self.__dict__["_headers"]
        if headers is None:
            headers = self.__dict__["_headers"] = httpx.Headers(self.__dict__["_raw_headers"])
        return headers

    @headers.setter
    def headers(self, value: httpx.Headers) -> None:
        self.__dict__["_headers"] = value

    # httpx reads ``self._request`` directly (raise_for_status, stream
    # contexts), so the lazy slot is the private name itself.
    @property
    def _request(self) -> httpx.Request | None:
        request: httpx.Request | None = self.__dict__["_request_value"]
        if request is None:
            factory = self.__dict__["_request_factory"]
            if factory is not None:
                request = self.__dict__["_request_value"] = factory()
                self.__dict__["_request_factory"] = None
        return request

    @_request.setter
    def _request(self, value: httpx.Request | None) -> None:
        self.__dict__["_request_value"] = value


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` backed by one ``aiohttp.ClientSession``.

    The session is created lazily inside the running event loop and reused
    for every request; :meth:`aclose` closes it.

    :param max_connections: connection pool size (aiohttp's ``limit``).
    """

    def __init__(self, *, max_connections: int = 100) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes Content-Encoding itself
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._session = session
        return session

    async def _exchange(
        self,
        method: str,
        url: URL,
        headers: CIMultiDict[str],
        body: bytes | None,
        limits: aiohttp.ClientTimeout,
        request_factory: RequestFactory,
    ) -> tuple[int, Any, bytes, float, bool]:
        """One exchange: (status, raw headers, raw body, seconds, whether the body is
        Content-Encoded); raises httpx's exceptions."""
        session = self._session
        if session is None or session.closed:
            session = self._get_session()
        started = time.perf_counter()
        try:
            async with session.request(
                method, url, headers=headers, data=body, allow_redirects=False, timeout=limits
            ) as response:
                content = await response.read()
                encoded = "Content-Encoding" in response.headers
                return response.status, response.raw_headers, content, time.perf_counter() - started, encoded
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _httpx_error(exc, request_factory) from exc

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers: CIMultiDict[str] = CIMultiDict(
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
        )
        body = await request.aread()
        status, raw_headers, content, _, _ = await self._exchange(
            request.method,
            URL(str(request.url), encoded=True).with_user(None),  # httpx sent any credentials as a header
            headers,
            body or None,
            timeout_from_httpx(request.extensions.get("timeout", {})),
            lambda: request,
        )
        # The client reads, decodes and times this response itself.
        return httpx.Response(
            status_code=status,
            headers=raw_headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def _httpx_error(exc: BaseException, request_factory: RequestFactory) -> httpx.HTTPError:
    """The httpx exception for an aiohttp failure, by whether the request may have arrived."""
    text = str(exc)
    request = request_factory() if request_factory is not None else None
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text or "connect timed out", request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text or "read timed out", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(text or "server disconnected", request=request)
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ClientOSError)):
        return httpx.ReadError(text, request=request)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout("timed out", request=request)
    return httpx.RemoteProtocolError(text or type(exc).__name__, request=request)
