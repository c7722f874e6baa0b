"""Shared plumbing for HTTP providers (install ``broadcastio[http]``).

One place, not one copy per plugin: pooled connections per provider on a
fast client (see docs/http-transport.md), classification of transport failures, HTTP status mapping and
Retry-After parsing. Providers subclass :class:`HttpProvider` and call
:meth:`HttpProvider.request`, which returns a response or a classified
:class:`~broadcastio.DeliveryError` and never raises for network trouble.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec
from multidict import CIMultiDict
from yarl import URL

from broadcastio._aiohttp_transport import AiohttpTransport, FastResponse
from broadcastio._errors import ConfigurationError, ErrorClass, ErrorCode
from broadcastio._h1client import H1Client, Limits
from broadcastio._models import DeliveryError
from broadcastio._provider import Provider
from broadcastio._retry import RetryPolicy

__all__ = [
    "AiohttpTransport",
    "FastResponse",
    "HttpProvider",
    "error_from_http_exception",
    "error_from_status",
    "make_client",
    "parse_retry_after",
]

_MAX_RETRY_AFTER = 24 * 3600.0
_FAST_KWARGS = frozenset({"content", "json", "headers", "timeout"})
_URL_CACHE_SIZE = 256
_json_encode = msgspec.json.encode


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), or None.

    Negative or unparsable values give None; dates in the past give 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, _MAX_RETRY_AFTER)


def error_from_status(
    status: int,
    message: str,
    *,
    code: str | None = None,
    retry_after: float | None = None,
) -> DeliveryError:
    """Classify an HTTP error status the way most APIs document it.

    429, 408 and 5xx other than 501 are transient; 401 and 403 are permanent
    ``unauthorized``; other 4xx are permanent ``rejected``. Providers with
    richer error bodies map those first and fall back to this.
    """
    if status == 429:
        return DeliveryError.transient(code or ErrorCode.RATE_LIMITED, message, retry_after=retry_after)
    if status == 408 or (status >= 500 and status != 501):
        default = ErrorCode.SERVICE_UNAVAILABLE if status == 503 else ErrorCode.SERVER_ERROR
        return DeliveryError.transient(code or default, message, retry_after=retry_after)
    if status in (401, 403):
        return DeliveryError.permanent(code or ErrorCode.UNAUTHORIZED, message)
    return DeliveryError.permanent(code or ErrorCode.REJECTED, message)


def error_from_http_exception(exc: httpx.HTTPError) -> DeliveryError:
    """Classify a transport failure by whether the request may have arrived.

    Failing to connect, or waiting for a pooled connection, sent nothing:
    transient. A timeout or a broken connection after the request was
    written may have delivered it: ambiguous.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, text)
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryError.ambiguous(ErrorCode.TIMEOUT, text)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return DeliveryError.permanent(ErrorCode.REJECTED, text)
    return DeliveryError(code=ErrorCode.CONNECTION_FAILED, message=text, error_class=ErrorClass.AMBIGUOUS)


def make_client(
    *,
    base_url: str = "",
    timeout: float = 10.0,
    connect_timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the fast transport (or ``transport``, for tests)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout),
        headers=dict(headers or {}),
        auth=auth,
        transport=transport or AiohttpTransport(max_connections=max_connections),
        follow_redirects=False,
        trust_env=False,
    )


class HttpProvider(Provider):
    """Base class for providers that speak HTTP.

    Holds its connection pools (the short path's lean client and an httpx
    client on aiohttp, each up to ``max_connections``), opened on first use
    inside the running loop and closed by :meth:`aclose`. Subclasses call
    :meth:`request` in ``send``.

    :param base_url: the API's base URL (tests point it at 127.0.0.1).
    :param timeout: seconds for connect, write and read each.
    :param transport: an httpx transport to use instead of the fast one
        (``httpx.MockTransport`` in unit tests).
    """

    def __init__(
        self,
        *,
        name: str,
        channel: str,
        base_url: str,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"provider {name!r}: base_url must start with http:// or https://, got {base_url!r}"
            )
        if timeout <= 0:
            raise ConfigurationError(f"provider {name!r}: timeout must be > 0, got {timeout}")
        self.name = name
        self.channel = channel
        self.base_url = base_url
        self.timeout = timeout
        self.retry_policy = retry_policy
        # The short path needs the default transport and an auth it can precompute.
        fast = transport is None and (auth is None or isinstance(auth, tuple))
        self._transport: AiohttpTransport | None = (
            AiohttpTransport(max_connections=max_connections) if transport is None else None
        )
        self._h1 = H1Client(max_connections=max_connections) if fast else None
        self._client_options: dict[str, Any] = {
            "base_url": base_url,
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "headers": headers,
            "auth": auth,
            "max_connections": max_connections,
            "transport": transport or self._transport,
        }
        self._client: httpx.AsyncClient | None = None
        self._fast = fast
        self._fast_headers: CIMultiDict[str] | None = None
        self._fast_limits: Limits = (timeout, connect_timeout if connect_timeout is not None else timeout, timeout)
        self._urls: dict[str, URL | None] = {}

    @property
    def client(self) -> httpx.AsyncClient:
        """The provider's httpx client (on :class:`AiohttpTransport`), created on first use.

        :meth:`request` uses it for everything its short path does not take.
        """
        if self._client is None:
            self._client = make_client(**self._client_options)
        return self._client

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response | DeliveryError:
        """Send one request; network failures come back as a classified error.

        Takes ``httpx.AsyncClient.request``'s arguments. Plain requests
        (``content=``, ``json=``, ``headers=``, ``timeout=``) on the default
        transport skip httpx's client machinery and go through a lean
        keep-alive HTTP/1.1 client; anything else goes through :attr:`client`.
        Both return an ``httpx.Response`` (already read) and send the same headers.
        """
        try:
            if self._fast and kwargs.keys() <= _FAST_KWARGS:
                target = self._fast_url(url)
                if target is not None:
                    return await self._send_fast(method, url, target, **kwargs)
            return await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            return error_from_http_exception(exc)

    def _fast_url(self, url: str) -> URL | None:
        """The absolute URL httpx would send ``url`` to (cached), or None to take the slow path."""
        cached = self._urls.get(url, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        target: URL | None = None
        if isinstance(url, str):
            merged = self.client.build_request("GET", url).url  # httpx's own base_url merging
            if merged.scheme in ("http", "https") and merged.host and not merged.userinfo:
                target = URL(str(merged), encoded=True)
        if len(self._urls) >= _URL_CACHE_SIZE:
            self._urls.clear()
        self._urls[url] = target
        return target

    def _default_headers(self) -> CIMultiDict[str]:
        headers = self._fast_headers
        if headers is None:
            client = self.client  # its default headers, exactly as the slow path sends them
            headers = CIMultiDict((key.decode("latin-1"), value.decode("latin-1")) for key, value in client.headers.raw)
            auth = self._client_options["auth"]
            if isinstance(auth, tuple):
                username, password = auth
                token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
                headers["Authorization"] = f"Basic {token}"
            self._fast_headers = headers
        return headers

    async def _send_fast(
        self,
        method: str,
        url: str,
        target: URL,
        *,
        content: Any = None,
        json: Any = None,
        headers: Mapping[Any, Any] | None = None,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (httpx's argument)
    ) -> httpx.Response:
        if isinstance(content, str):
            content = content.encode()
        elif content is not None and not isinstance(content, bytes):
            return await self.client.request(method, url, content=content, json=json, headers=headers, timeout=timeout)
        merged = CIMultiDict(self._default_headers())
        if json is not None and content is None:
            content = _json_encode(json)
            if "Content-Type" not in merged:
                merged["Content-Type"] = "application/json"
        if headers:
            for key, value in headers.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    return await self.client.request(method, url, content=content, headers=headers, timeout=timeout)
            merged.update(headers)
        if timeout is httpx.USE_CLIENT_DEFAULT:
            limits = self._fast_limits
        else:
            spec = httpx.Timeout(timeout)
            limits = (spec.pool, spec.connect, spec.read)
        assert self._h1 is not None
        body = content

        def build_request() -> httpx.Request:
            return httpx.Request(method, str(target), headers=list(merged.items()), content=body)

        status, reason, raw_headers, data, elapsed = await self._h1.send(
            method, target, merged, body, limits, build_request
        )
        encoded = any(name.lower() == b"content-encoding" for name, _ in raw_headers)
        return FastResponse(status, raw_headers, data, build_request, elapsed, encoded=encoded, reason=reason)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        elif self._transport is not None:
            await self._transport.aclose()
        if self._h1 is not None:
            await self._h1.aclose()
