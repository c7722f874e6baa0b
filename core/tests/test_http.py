"""broadcastio.http: the short request path, the httpx transport and the error mapping.

Everything runs against real aiohttp servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from broadcastio import ErrorClass, ErrorCode
from broadcastio.http import (
    FastResponse,
    HttpProvider,
    error_from_http_exception,
    error_from_status,
    make_client,
    parse_retry_after,
)
from broadcastio.testing.servers import closed_port, serve_app


class Echo:
    """Records each request and answers per path."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            {"method": request.method, "path": request.path_qs, "headers": dict(request.headers), "body": body}
        )
        path = request.path
        if path == "/slow":
            await asyncio.sleep(1.0)
        if path == "/gzip":
            return web.Response(body=gzip.compress(b'{"zipped": true}'), headers={"Content-Encoding": "gzip"})
        if path == "/chunked":
            response = web.StreamResponse()
            response.enable_chunked_encoding()
            await response.prepare(request)
            for part in (b'{"id":', b' "c-1"}'):
                await response.write(part)
            await response.write_eof()
            return response
        if path == "/missing":
            return web.json_response({"error": "nope"}, status=404)
        if path == "/close":
            return web.Response(body=b"bye", headers={"Connection": "close"})
        return web.json_response({"id": "ok-1"}, headers={"X-Answer": "yes"})


@pytest.fixture
def echo() -> Iterator[tuple[Echo, str]]:
    sink = Echo()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink.handle)
    with serve_app(app) as base_url:
        yield sink, base_url


def _provider(base_url: str, **options: Any) -> HttpProvider:
    return HttpProvider(name="p", channel="test", base_url=base_url, **options)


class TestShortPath:
    async def test_returns_an_httpx_response(self, echo: tuple[Echo, str]) -> None:
        """A plain request comes back as an already-read httpx.Response."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            response = await provider.request("POST", "/hook", content=b"{}")
        finally:
            await provider.aclose()
        assert isinstance(response, httpx.Response)
        assert isinstance(response, FastResponse)
        assert response.status_code == 200
        assert response.json() == {"id": "ok-1"}
        assert response.headers["x-answer"] == "yes"
        assert response.http_version == "HTTP/1.1"
        assert response.elapsed > dt.timedelta(0)
        assert response.is_closed

    async def test_request_is_built_on_demand(self, echo: tuple[Echo, str]) -> None:
        """response.request and raise_for_status work although no request was built up front."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            response = await provider.request("GET", "/missing")
        finally:
            await provider.aclose()
        assert isinstance(response, httpx.Response)
        assert response.request.method == "GET"
        assert str(response.request.url) == f"{base_url}/missing"
        with pytest.raises(httpx.HTTPStatusError, match="404"):
            response.raise_for_status()

    async def test_same_headers_as_httpx(self, echo: tuple[Echo, str]) -> None:
        """The short path sends what httpx's client would: defaults, client headers, per-request headers."""
        sink, base_url = echo
        provider = _provider(base_url, headers={"X-Client": "c", "X-Over": "client"}, auth=("user", "pw"))
        try:
            await provider.request("POST", "/a", content=b"x", headers={"X-Over": "request"})
            await provider.request("POST", "/b", content=b"x", headers={"X-Over": "request"}, params={"q": "1"})
        finally:
            await provider.aclose()
        fast, slow = sink.seen  # params= takes the full httpx path
        assert slow["path"] == "/b?q=1"
        for name in ("Accept", "Accept-Encoding", "User-Agent", "X-Client", "Authorization", "Content-Length"):
            assert fast["headers"][name] == slow["headers"][name], name
        assert fast["headers"]["X-Over"] == "request"
        assert fast["headers"]["Authorization"].startswith("Basic ")

    async def test_json_body(self, echo: tuple[Echo, str]) -> None:
        """json= is encoded compactly with a JSON content type."""
        sink, base_url = echo
        provider = _provider(base_url)
        try:
            await provider.request("POST", f"{base_url}/j", json={"a": [1, "é"]})
        finally:
            await provider.aclose()
        assert sink.seen[0]["body"] == '{"a":[1,"é"]}'.encode()
        assert sink.seen[0]["headers"]["Content-Type"] == "application/json"

    async def test_relative_urls_merge_like_httpx(self, echo: tuple[Echo, str]) -> None:
        """A relative URL is joined to base_url the way httpx joins it."""
        sink, base_url = echo
        provider = _provider(f"{base_url}/api/v1")
        try:
            await provider.request("GET", "messages?x=1")
            await provider.request("GET", "/messages")
        finally:
            await provider.aclose()
        assert [item["path"] for item in sink.seen] == ["/api/v1/messages?x=1", "/api/v1/messages"]

    async def test_gzip_and_chunked_bodies(self, echo: tuple[Echo, str]) -> None:
        """Content-Encoding is undone and chunked bodies are joined."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            zipped = await provider.request("GET", "/gzip")
            chunked = await provider.request("GET", "/chunked")
        finally:
            await provider.aclose()
        assert isinstance(zipped, httpx.Response)
        assert zipped.json() == {"zipped": True}
        assert isinstance(chunked, httpx.Response)
        assert chunked.json() == {"id": "c-1"}

    async def test_connection_close_then_reuse(self, echo: tuple[Echo, str]) -> None:
        """A server that closes after answering does not break the next request."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            first = await provider.request("GET", "/close")
            second = await provider.request("GET", "/after")
        finally:
            await provider.aclose()
        assert isinstance(first, httpx.Response)
        assert first.content == b"bye"
        assert isinstance(second, httpx.Response)
        assert second.status_code == 200

    async def test_many_concurrent_requests(self, echo: tuple[Echo, str]) -> None:
        """Concurrent requests share a bounded pool and all complete."""
        sink, base_url = echo
        provider = _provider(base_url, max_connections=4)
        try:
            responses = await asyncio.gather(*(provider.request("POST", "/x", content=b"%d" % i) for i in range(50)))
        finally:
            await provider.aclose()
        assert all(isinstance(r, httpx.Response) and r.status_code == 200 for r in responses)
        assert sorted(int(item["body"]) for item in sink.seen) == list(range(50))

    async def test_usable_again_after_aclose(self, echo: tuple[Echo, str]) -> None:
        """aclose releases connections; a later request opens new ones; closing twice is harmless."""
        _, base_url = echo
        provider = _provider(base_url)
        await provider.request("GET", "/one")
        await provider.aclose()
        response = await provider.request("GET", "/two")
        await provider.aclose()
        await provider.aclose()
        assert isinstance(response, httpx.Response)
        assert response.status_code == 200


class TestFailures:
    async def test_refused_is_transient(self) -> None:
        """Nothing listening: transient connection_failed."""
        provider = _provider(f"http://127.0.0.1:{closed_port()}")
        try:
            error = await provider.request("POST", "/x", content=b"{}")
        finally:
            await provider.aclose()
        assert not isinstance(error, httpx.Response)
        assert error.error_class is ErrorClass.TRANSIENT
        assert error.code == ErrorCode.CONNECTION_FAILED

    async def test_read_timeout_is_ambiguous(self, echo: tuple[Echo, str]) -> None:
        """A request sent but not answered in time may have been delivered."""
        _, base_url = echo
        provider = _provider(base_url, timeout=0.2)
        try:
            error = await provider.request("POST", "/slow", content=b"{}")
            quick = await provider.request("POST", "/slow", content=b"{}", timeout=0.1)
        finally:
            await provider.aclose()
        assert not isinstance(error, httpx.Response)
        assert error.error_class is ErrorClass.AMBIGUOUS
        assert error.code == ErrorCode.TIMEOUT
        assert not isinstance(quick, httpx.Response)
        assert quick.error_class is ErrorClass.AMBIGUOUS

    async def test_mock_transport_takes_the_httpx_path(self) -> None:
        """A custom transport (unit tests) goes through the httpx client."""
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(201, json={"id": 1})

        provider = HttpProvider(
            name="m", channel="test", base_url="http://api.test", transport=httpx.MockTransport(handler)
        )
        try:
            response = await provider.request("POST", "/x", json={"a": 1})
        finally:
            await provider.aclose()
        assert isinstance(response, httpx.Response)
        assert response.status_code == 201
        assert str(seen[0].url) == "http://api.test/x"


class TestHttpxTransport:
    async def test_client_on_the_fast_transport(self, echo: tuple[Echo, str]) -> None:
        """make_client's transport serves the full httpx API."""
        _, base_url = echo
        async with make_client(base_url=base_url) as client:
            response = await client.get("/gzip", params={"a": "b"})
        assert response.json() == {"zipped": True}
        assert response.request.url.params["a"] == "b"

    def test_fast_response_has_every_response_attribute(self) -> None:
        """FastResponse sets what httpx.Response.__init__ sets (guards httpx upgrades)."""
        plain = set(vars(httpx.Response(200, stream=httpx.ByteStream(b""))))
        fast = FastResponse(200, [(b"A", b"b")], b"{}", None, 0.0)
        missing = {name for name in plain if not hasattr(fast, name)}
        assert not missing


class TestClassification:
    @pytest.mark.parametrize(
        ("status", "error_class", "code"),
        [
            (429, ErrorClass.TRANSIENT, ErrorCode.RATE_LIMITED),
            (408, ErrorClass.TRANSIENT, ErrorCode.SERVER_ERROR),
            (500, ErrorClass.TRANSIENT, ErrorCode.SERVER_ERROR),
            (503, ErrorClass.TRANSIENT, ErrorCode.SERVICE_UNAVAILABLE),
            (501, ErrorClass.PERMANENT, ErrorCode.REJECTED),
            (401, ErrorClass.PERMANENT, ErrorCode.UNAUTHORIZED),
            (403, ErrorClass.PERMANENT, ErrorCode.UNAUTHORIZED),
            (400, ErrorClass.PERMANENT, ErrorCode.REJECTED),
        ],
    )
    def test_error_from_status(self, status: int, error_class: ErrorClass, code: str) -> None:
        """Statuses map to the documented class and code."""
        error = error_from_status(status, "m")
        assert error.error_class is error_class
        assert error.code == code

    @pytest.mark.parametrize(
        ("exc", "error_class"),
        [
            (httpx.ConnectError("x"), ErrorClass.TRANSIENT),
            (httpx.ConnectTimeout("x"), ErrorClass.TRANSIENT),
            (httpx.PoolTimeout("x"), ErrorClass.TRANSIENT),
            (httpx.ReadTimeout("x"), ErrorClass.AMBIGUOUS),
            (httpx.RemoteProtocolError("x"), ErrorClass.AMBIGUOUS),
            (httpx.UnsupportedProtocol("x"), ErrorClass.PERMANENT),
        ],
    )
    def test_error_from_http_exception(self, exc: httpx.HTTPError, error_class: ErrorClass) -> None:
        """Transport failures are classified by whether the request may have arrived."""
        assert error_from_http_exception(exc).error_class is error_class

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("7", 7.0), (" 1.5 ", 1.5), ("-1", None), ("soon", None), ("", None), (None, None), ("nan", None)],
    )
    def test_parse_retry_after_seconds(self, value: str | None, expected: float | None) -> None:
        """Delta-seconds parse; junk and negatives give None."""
        assert parse_retry_after(value) == expected

    def test_parse_retry_after_date(self) -> None:
        """An HTTP date gives the seconds until then, past dates give 0."""
        now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
        assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
        assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
