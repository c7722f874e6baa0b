"""``HttpProvider``: the base class of every HTTP provider.

``request`` takes httpx's arguments (``content=``, ``json=``, ``data=``,
``files=``, ``params=``, ``headers=``, ``timeout=``, ``auth=(user, pw)``)
and returns a :class:`Response` or a classified :class:`DeliveryError`; it
never raises for network trouble. Every such request goes through one
client (``_client.py``, responses parsed by llhttp); a custom transport, a
proxy, an ``httpx.Auth`` flow or a streaming body take httpx instead
(``_library.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

import httpx
import msgspec

from broadcastio._errors import ConfigurationError, ErrorCode
from broadcastio._models import DeliveryError
from broadcastio._provider import Provider
from broadcastio._retry import RetryPolicy
from broadcastio.http._client import Client, Timeouts
from broadcastio.http._connection import Caps
from broadcastio.http._failures import Failure, HttpFailure
from broadcastio.http._library import library_request, make_client
from broadcastio.http._request import (
    DEFAULT_HEADERS,
    HeaderError,
    Target,
    basic_auth,
    check_header,
    encode_form,
    encode_multipart,
    encode_request_headers,
    json_encode,
    resolve,
    with_params,
)
from broadcastio.http._response import Response

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "HttpProvider"]

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
"""Provider answers are small; a bigger body is refused (after sending: ambiguous)."""

_DEFAULT: Any = httpx.USE_CLIENT_DEFAULT
_FAST_KEYWORDS = frozenset({"content", "json", "data", "files", "params", "headers", "timeout", "auth"})
_TARGET_CACHE_SIZE = 256
_JSON_TYPE = b"Content-Type: application/json\r\n"
_FORM_TYPE = b"Content-Type: application/x-www-form-urlencoded\r\n"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _deadline(connect: float | None, read: float | None) -> float | None:
    """The default whole-exchange deadline: a connect and two reads' worth."""
    if connect is None or read is None:
        return None
    return connect + 2 * read


class HttpProvider(Provider):
    """Base class for providers that speak HTTP.

    Holds a keep-alive pool of up to ``max_connections`` connections, opened
    on first use inside the running loop and closed by :meth:`aclose`.
    Subclasses call :meth:`request` in ``send``.

    :param base_url: the API's base URL (tests point it at 127.0.0.1).
    :param timeout: seconds for connect, for the pool and of read inactivity.
    :param connect_timeout: seconds to connect, when not ``timeout``.
    :param headers: headers sent with every request (validated here).
    :param auth: ``(user, password)`` for Basic auth, or an ``httpx.Auth`` flow (the httpx path).
    :param transport: an httpx transport (``httpx.MockTransport`` in unit tests): the httpx path.
    :param proxy: an HTTP proxy URL: the httpx path.
    :param deadline: seconds for a whole exchange, connect to the last byte of
        the answer (default ``connect_timeout + 2 * timeout``).
    :param max_response_bytes: the largest body accepted (default 4 MiB).
    :raises ConfigurationError: a bad URL, timeout or header.
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
        proxy: str | None = None,
        deadline: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"provider {name!r}: base_url must start with http:// or https://, got {base_url!r}"
            )
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(f"provider {name!r}: timeout must be > 0, got {timeout!r}")
        if deadline is not None and (not isinstance(deadline, (int, float)) or deadline <= 0):
            raise ConfigurationError(f"provider {name!r}: deadline must be > 0 or None, got {deadline!r}")
        if not isinstance(max_response_bytes, int) or max_response_bytes < 1:
            raise ConfigurationError(f"provider {name!r}: max_response_bytes must be a positive integer")
        self.name = name
        self.channel = channel
        self.base_url = base_url
        self.timeout = timeout
        self.retry_policy = retry_policy
        try:
            base = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise ConfigurationError(f"provider {name!r}: base_url is not a URL: {exc}") from None
        if not base.raw_path.endswith(b"/"):
            base = base.copy_with(raw_path=base.raw_path + b"/")  # httpx joins relative URLs under it
        self._base = base
        connect = connect_timeout if connect_timeout is not None else timeout
        self._deadline = deadline
        self._timeouts = Timeouts(timeout, connect, timeout, deadline or _deadline(connect, timeout))
        self._max_body = max_response_bytes
        self._static = self._static_headers(name, headers, auth)
        self._library = transport is not None or proxy is not None or not (auth is None or isinstance(auth, tuple))
        self._client_options: dict[str, Any] = {
            "base_url": base_url,
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "headers": headers,
            "auth": auth,
            "max_connections": max_connections,
            "transport": transport,
            "proxy": proxy,
        }
        self._client: httpx.AsyncClient | None = None
        self._pool = Client(max_connections=max_connections, caps=Caps(max_body=max_response_bytes))
        self._targets: dict[str, Target] = {}

    @staticmethod
    def _static_headers(
        name: str, headers: Mapping[str, str] | None, auth: httpx.Auth | tuple[str, str] | None
    ) -> list[tuple[str, str]]:
        """httpx's defaults, the provider's headers over them, Basic auth: validated once."""
        merged = dict((key.lower(), (key, value)) for key, value in DEFAULT_HEADERS)
        try:
            for key, value in (headers or {}).items():
                check_header(key, value)
                merged[key.lower()] = (key, value)
            if isinstance(auth, tuple):
                username, password = auth
                merged["authorization"] = check_header("Authorization", basic_auth(username, password))
        except (HeaderError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"provider {name!r}: {exc}") from None
        return list(merged.values())

    @property
    def client(self) -> httpx.AsyncClient:
        """The provider's ``httpx.AsyncClient`` (the httpx path), created on first use."""
        if self._client is None:
            self._client = make_client(**self._client_options)
        return self._client

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | str | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: Any = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = _DEFAULT,  # noqa: ASYNC109 (httpx's argument: seconds, None or an httpx.Timeout)
        auth: tuple[str, str] | httpx.Auth | None = None,
        **options: Any,
    ) -> Response | DeliveryError:
        """Send one request; network failures come back as a classified error.

        Before anything is written: a header that cannot be sent is a
        permanent ``rejected``; no connection or no pool slot is transient.
        After: a timeout, the deadline, a cut, refused or oversized answer is
        ambiguous (it may have been delivered).
        """
        if (
            self._library
            or options
            or not (content is None or isinstance(content, (bytes, str)))
            or not (data is None or isinstance(data, Mapping))
            or not (auth is None or isinstance(auth, tuple))
        ):
            return await self._library_request(
                method, url, content, json, data, files, params, headers, timeout, auth, options
            )
        try:
            target = self._targets.get(url)
            if target is None:
                target = self._target(url)
            method = method.upper()
            head = self._head(method, target, content, json, data, files, params, headers, auth)
        except HeaderError as exc:
            return DeliveryError.permanent(ErrorCode.REJECTED, f"request refused before sending: {exc}")
        except (ValueError, TypeError, AttributeError, httpx.InvalidURL, msgspec.EncodeError) as exc:
            return DeliveryError.permanent(ErrorCode.REJECTED, f"request refused before sending: {exc}")
        timeouts = self._timeouts if timeout is _DEFAULT else self._request_timeouts(timeout)
        try:
            status, raw, body, _, version = await self._pool.send(target.origin, method, head, timeouts)
            for name, value in raw:
                if len(name) == 16 and name.lower() == b"content-encoding":
                    body = _decode(body, value, self._max_body)
        except HttpFailure as exc:
            return exc.to_error()
        return Response(status, raw, body, http_version=version)

    def _target(self, url: str) -> Target:
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {type(url).__name__}")
        target = resolve(self._base, url, self._static)
        if len(self._targets) >= _TARGET_CACHE_SIZE:
            self._targets.clear()
        self._targets[url] = target
        return target

    def _head(
        self,
        method: str,
        target: Target,
        content: bytes | str | None,
        json: Any,
        data: Mapping[str, Any] | None,
        files: Any,
        params: Any,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> bytes:
        """The whole request, head and body, in one buffer."""
        content_type = b""
        if content is not None:
            body = content.encode() if isinstance(content, str) else content
        elif json is not None:
            body, content_type = json_encode(json), _JSON_TYPE
        elif files:
            body, multipart_type = encode_multipart(data, files)
            content_type = f"Content-Type: {multipart_type}\r\n".encode("latin-1")
        elif data is not None:
            body, content_type = encode_form(data), _FORM_TYPE
        else:
            body = b""
        path = target.path if params is None else with_params(target.path, params)
        if not _valid_method(method):
            raise HeaderError(f"method {method[:20]!r} is not an HTTP token")
        block = target.block
        extra = b""
        names: list[str] = []
        if headers or auth is not None:
            items = list(headers.items()) if headers else []
            if auth is not None:
                items.append(("Authorization", basic_auth(*auth)))
            extra, names = encode_request_headers(items)
            if not target.names.isdisjoint(names):
                block = target.block_without(target.names.intersection(names))
        if content_type and ("content-type" in target.names or "content-type" in names):
            content_type = b""
        if "content-length" in names or "transfer-encoding" in names:
            length = b""
        elif body or method in _BODY_METHODS:
            length = b"Content-Length: %d\r\n" % len(body)
        else:
            length = b""
        return b"".join(
            (method.encode("ascii"), b" ", path.encode("ascii"), b" HTTP/1.1\r\n", block, extra, content_type, length)
        ) + (b"\r\n" + body if body else b"\r\n")

    def _request_timeouts(self, timeout: Any) -> Timeouts:
        """A per-request ``timeout=``: seconds, None (no limit but the deadline) or an ``httpx.Timeout``."""
        if timeout is None:
            return Timeouts(None, None, None, self._deadline)
        if isinstance(timeout, httpx.Timeout):
            pool, connect, read = timeout.pool, timeout.connect, timeout.read
        else:
            pool = connect = read = float(timeout)
        return Timeouts(pool, connect, read, self._deadline or _deadline(connect, read))

    async def _library_request(
        self,
        method: str,
        url: str,
        content: Any,
        json: Any,
        data: Any,
        files: Any,
        params: Any,
        headers: Any,
        timeout: Any,  # noqa: ASYNC109 (passed on to httpx)
        auth: Any,
        options: dict[str, Any],
    ) -> Response | DeliveryError:
        kwargs: dict[str, Any] = {
            key: value
            for key, value in (
                ("content", content),
                ("json", json),
                ("data", data),
                ("files", files),
                ("params", params),
                ("headers", headers),
                ("auth", auth),
            )
            if value is not None
        }
        if timeout is not _DEFAULT:
            kwargs["timeout"] = timeout
        deadline = self._timeouts.deadline if timeout is _DEFAULT else self._request_timeouts(timeout).deadline
        return await library_request(
            self.client, method, url, max_body=self._max_body, deadline=deadline, **kwargs, **options
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        await self._pool.aclose()


def _valid_method(method: str) -> bool:
    return method in _KNOWN_METHODS or (method.isascii() and method.isalpha())


_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _decode(body: bytes, coding: bytes, cap: int) -> bytes:
    """Undo a gzip or deflate Content-Encoding (zlib), never past ``cap`` bytes; others stay as sent."""
    name = coding.strip().lower()
    if name in (b"gzip", b"x-gzip"):
        wbits = [31]
    elif name == b"deflate":
        wbits = [15, -15]  # zlib-wrapped as the RFC says, or raw as some servers send
    else:
        return body
    for bits in wbits:
        decoder = zlib.decompressobj(bits)
        try:
            out = decoder.decompress(body, cap + 1)
        except zlib.error:
            continue
        if len(out) > cap or decoder.unconsumed_tail:
            raise HttpFailure(Failure.PROTOCOL, f"decoded response body over the {cap}-byte cap")
        return out
    raise HttpFailure(Failure.PROTOCOL, f"response body is not valid {name.decode('latin-1')}")
