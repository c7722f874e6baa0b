"""broadcastio.http: the client, the httpx path and the error mapping.

Everything runs against real aiohttp servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from broadcastio import ErrorClass, ErrorCode
from broadcastio.http import (
    Headers,
    HttpProvider,
    Response,
    error_from_http_exception,
    error_from_status,
    integer_code,
    json_object,
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


class TestClient:
    async def test_returns_a_response(self, echo: tuple[Echo, str]) -> None:
        """A plain request comes back as an already-read Response."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            response = await provider.request("POST", "/hook", content=b"{}")
        finally:
            await provider.aclose()
        assert isinstance(response, Response)
        assert response.status_code == 200
        assert response.is_success
        assert response.json() == {"id": "ok-1"}
        assert response.headers["x-answer"] == "yes"
        assert response.headers.get("X-ANSWER") == "yes"
        assert isinstance(response.headers, Headers)
        assert response.http_version == "HTTP/1.1"
        assert response.text == '{"id": "ok-1"}'

    async def test_error_status_and_body_helpers(self, echo: tuple[Echo, str]) -> None:
        """A 404 is a response, not an error; the shared body readers read it."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            response = await provider.request("GET", "/missing")
        finally:
            await provider.aclose()
        assert isinstance(response, Response)
        assert response.status_code == 404
        assert response.is_error
        assert not response.is_success
        assert response.reason_phrase == "Not Found"
        assert json_object(response) == {"error": "nope"}
        assert json_object(response, "error") == {}

    async def test_same_headers_as_httpx(self, echo: tuple[Echo, str]) -> None:
        """The client sends what httpx's client would: defaults, client headers, per-request headers."""
        sink, base_url = echo
        options: dict[str, Any] = {"headers": {"X-Client": "c", "X-Over": "client"}, "auth": ("user", "pw")}
        provider = _provider(base_url, **options)
        try:
            await provider.request("POST", "/a", content=b"x", headers={"X-Over": "request"}, params={"q": "1"})
        finally:
            await provider.aclose()
        async with make_client(base_url=base_url, **options) as client:
            await client.post("/b", content=b"x", headers={"X-Over": "request"}, params={"q": "1"})
        ours, theirs = sink.seen
        assert ours["path"] == "/a?q=1"
        assert theirs["path"] == "/b?q=1"
        for name in ("Accept", "Accept-Encoding", "User-Agent", "X-Client", "Authorization", "Content-Length"):
            assert ours["headers"][name] == theirs["headers"][name], name
        assert ours["headers"]["X-Over"] == "request"
        assert ours["headers"]["Authorization"].startswith("Basic ")

    async def test_form_and_multipart_bodies(self, echo: tuple[Echo, str]) -> None:
        """data= is a urlencoded form and files= multipart, byte for byte as httpx encodes them (bar the boundary)."""
        sink, base_url = echo
        provider = _provider(base_url)
        files = {"document": ("a.txt", b"hello", "text/plain")}
        try:
            await provider.request("POST", "/form", data={"To": "+15550100", "Body": "héllo & bye", "Flag": True})
            await provider.request("POST", "/multi", data={"chat_id": "1"}, files=files)
            assert provider._client is None  # both went through the one client, never httpx's
        finally:
            await provider.aclose()
        form, multi = sink.seen
        expected = httpx.Request("POST", base_url, data={"To": "+15550100", "Body": "héllo & bye", "Flag": True})
        assert form["body"] == expected.read()
        assert form["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        content_type = multi["headers"]["Content-Type"]
        assert content_type.startswith("multipart/form-data; boundary=")
        boundary = content_type.split("boundary=")[1]
        assert multi["body"].startswith(f"--{boundary}\r\n".encode())
        assert b'name="document"; filename="a.txt"' in multi["body"]
        assert b"\r\n\r\nhello\r\n" in multi["body"]

    async def test_credentials_in_the_url_become_basic_auth(self, echo: tuple[Echo, str]) -> None:
        """user:password@ in the URL is sent as Basic auth, as httpx does, never dropped."""
        sink, base_url = echo
        provider = _provider(base_url.replace("http://", "http://user:pw@"))
        try:
            await provider.request("POST", "/x", content=b"x")
        finally:
            await provider.aclose()
        assert sink.seen[0]["headers"]["Authorization"] == "Basic dXNlcjpwdw=="

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
        assert isinstance(zipped, Response)
        assert zipped.json() == {"zipped": True}
        assert isinstance(chunked, Response)
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
        assert isinstance(first, Response)
        assert first.content == b"bye"
        assert isinstance(second, Response)
        assert second.status_code == 200

    async def test_many_concurrent_requests(self, echo: tuple[Echo, str]) -> None:
        """Concurrent requests share a bounded pool and all complete."""
        sink, base_url = echo
        provider = _provider(base_url, max_connections=4)
        try:
            responses = await asyncio.gather(*(provider.request("POST", "/x", content=b"%d" % i) for i in range(50)))
        finally:
            await provider.aclose()
        assert all(isinstance(r, Response) and r.status_code == 200 for r in responses)
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
        assert isinstance(response, Response)
        assert response.status_code == 200


class TestFailures:
    async def test_refused_is_transient(self) -> None:
        """Nothing listening: transient connection_failed."""
        provider = _provider(f"http://127.0.0.1:{closed_port()}")
        try:
            error = await provider.request("POST", "/x", content=b"{}")
        finally:
            await provider.aclose()
        assert not isinstance(error, Response)
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
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.AMBIGUOUS
        assert error.code == ErrorCode.TIMEOUT
        assert not isinstance(quick, Response)
        assert quick.error_class is ErrorClass.AMBIGUOUS

    async def test_mock_transport_takes_the_httpx_path(self) -> None:
        """A custom transport (unit tests) goes through the httpx client, same response type."""
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
        assert isinstance(response, Response)
        assert response.status_code == 201
        assert str(seen[0].url) == "http://api.test/x"


class TestHttpxPath:
    async def test_make_client_serves_the_full_httpx_api(self, echo: tuple[Echo, str]) -> None:
        """make_client gives a plain httpx client set up like the providers' (base_url, no redirects)."""
        _, base_url = echo
        async with make_client(base_url=base_url) as client:
            response = await client.get("/gzip", params={"a": "b"})
        assert response.json() == {"zipped": True}
        assert response.request.url.params["a"] == "b"

    async def test_httpx_auth_flow_takes_the_httpx_path(self, echo: tuple[Echo, str]) -> None:
        """An httpx.Auth object is honoured (through httpx) and the answer is the same Response type."""
        sink, base_url = echo
        provider = _provider(base_url, auth=httpx.BasicAuth("u", "p"))
        try:
            response = await provider.request("GET", "/x", params={"k": "v"})
        finally:
            await provider.aclose()
        assert isinstance(response, Response)
        assert response.json() == {"id": "ok-1"}
        assert sink.seen[0]["headers"]["Authorization"] == "Basic dTpw"
        assert sink.seen[0]["path"] == "/x?k=v"

    async def test_httpx_path_caps_the_body(self) -> None:
        """The body cap holds on the httpx path too."""
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 5000))
        provider = _provider("http://api.test", transport=transport, max_response_bytes=1000)
        try:
            error = await provider.request("GET", "/big")
        finally:
            await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.AMBIGUOUS

    def test_response_and_headers(self) -> None:
        """Headers are case-insensitive; repeated names join like httpx; json() raises ValueError."""
        response = Response(
            200, [(b"Set-X", b"1"), (b"set-x", b"2"), (b"Content-Type", b"text/plain; charset=latin-1")], b"\xe9"
        )
        assert response.headers["SET-X"] == "1, 2"
        assert response.headers.get_list("set-x") == ["1", "2"]
        assert "content-type" in response.headers
        assert response.text == "é"
        with pytest.raises(ValueError, match="not JSON"):
            response.json()
        assert json_object(response) == {}
        assert integer_code({"code": 21211}) == 21211
        assert integer_code({"code": True}) is None
        assert integer_code({"code": "21211"}) is None


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


@contextlib.contextmanager
def raw_server(handler: Callable[[socket.socket], None]) -> Iterator[str]:
    """A blocking TCP server on 127.0.0.1 that hands each connection to ``handler`` in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_serve_one, args=(handler, conn), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _serve_one(handler: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with conn:
        conn.settimeout(5)
        try:
            handler(conn)
        except OSError:
            pass


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head


class TestClientEdges:
    async def test_head_and_204_have_no_body(self, echo: tuple[Echo, str]) -> None:
        """HEAD answers and 204s are complete without a body, and the connection is reused."""
        _, base_url = echo
        provider = _provider(base_url)
        try:
            head = await provider.request("HEAD", "/x")
            after = await provider.request("GET", "/x")
        finally:
            await provider.aclose()
        assert isinstance(head, Response)
        assert head.status_code == 200
        assert head.content == b""
        assert isinstance(after, Response)
        assert after.json() == {"id": "ok-1"}

    async def test_idle_connection_closed_by_server(self) -> None:
        """A keep-alive connection the server closed while idle is not reused."""

        def handler(conn: socket.socket) -> None:
            _read_request(conn)
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
            time.sleep(0.05)  # then close: the server's keep-alive timeout

        with raw_server(handler) as base_url:
            provider = _provider(base_url)
            try:
                first = await provider.request("POST", "/a", content=b"1")
                await asyncio.sleep(0.3)
                second = await provider.request("POST", "/a", content=b"2")
            finally:
                await provider.aclose()
        assert isinstance(first, Response)
        assert first.status_code == 204
        assert isinstance(second, Response), second
        assert second.status_code == 204

    @pytest.mark.parametrize(("method", "retried"), [("GET", True), ("POST", False)])
    async def test_reused_connection_closed_before_answer(self, method: str, retried: bool) -> None:
        """A kept-alive connection closed as it is reused: idempotent requests go again, POSTs do not."""
        connections: list[int] = []

        def handler(conn: socket.socket) -> None:
            connections.append(1)
            _read_request(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            if len(connections) == 1:
                _read_request(conn)  # the second request on this connection: close, no answer

        with raw_server(handler) as base_url:
            provider = _provider(base_url)
            try:
                first = await provider.request(method, "/a", content=b"x")
                second = await provider.request(method, "/a", content=b"y")
            finally:
                await provider.aclose()
        assert isinstance(first, Response)
        if retried:
            assert isinstance(second, Response), second
            assert second.content == b"ok"
            assert len(connections) == 2
        else:
            assert not isinstance(second, Response)
            assert second.error_class is ErrorClass.AMBIGUOUS

    async def test_body_until_close(self) -> None:
        """A response without Content-Length ends when the server closes; 1xx answers are skipped."""

        def handler(conn: socket.socket) -> None:
            _read_request(conn)
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nhello ")
            conn.sendall(b"world")

        with raw_server(handler) as base_url:
            provider = _provider(base_url)
            try:
                response = await provider.request("POST", "/a", content=b"x")
            finally:
                await provider.aclose()
        assert isinstance(response, Response)
        assert response.content == b"hello world"
        assert response.headers["x-a"] == "1"

    @pytest.mark.parametrize(
        "answer",
        [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", b"garbage\r\n\r\n", b""],
    )
    async def test_broken_answers_are_ambiguous(self, answer: bytes) -> None:
        """A cut or malformed answer after the request was sent may mean it was delivered."""

        def handler(conn: socket.socket) -> None:
            _read_request(conn)
            conn.sendall(answer)

        with raw_server(handler) as base_url:
            provider = _provider(base_url)
            try:
                error = await provider.request("POST", "/a", content=b"x")
            finally:
                await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.AMBIGUOUS

    async def test_pool_timeout_is_transient(self, echo: tuple[Echo, str]) -> None:
        """Waiting too long for a free connection sent nothing."""
        _, base_url = echo
        provider = _provider(base_url, max_connections=1)
        try:
            slow = asyncio.ensure_future(provider.request("POST", "/slow", content=b"x"))
            await asyncio.sleep(0.1)
            error = await provider.request("POST", "/x", content=b"y", timeout=httpx.Timeout(5.0, pool=0.05))
            await slow
        finally:
            await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.TRANSIENT

    async def test_cancelled_request_frees_its_connection(self, echo: tuple[Echo, str]) -> None:
        """Cancelling mid-exchange closes that connection and frees the slot."""
        _, base_url = echo
        provider = _provider(base_url, max_connections=1)
        try:
            slow = asyncio.ensure_future(provider.request("POST", "/slow", content=b"x"))
            await asyncio.sleep(0.1)
            slow.cancel()
            with pytest.raises(asyncio.CancelledError):
                await slow
            response = await provider.request("GET", "/x", timeout=2.0)
        finally:
            await provider.aclose()
        assert isinstance(response, Response)
        assert response.status_code == 200

    async def test_aclose_during_a_request(self, echo: tuple[Echo, str]) -> None:
        """A request in flight during aclose completes, and its connection is not pooled afterwards."""
        _, base_url = echo
        provider = _provider(base_url)
        slow = asyncio.ensure_future(provider.request("POST", "/slow", content=b"x"))
        await asyncio.sleep(0.1)
        await provider.aclose()
        response = await slow
        assert isinstance(response, Response)
        assert response.status_code == 200
        assert not any(provider._pool._idle.values())

    async def test_header_injection_is_refused_before_sending(self, echo: tuple[Echo, str]) -> None:
        """CR/LF in a header is a permanent failure and nothing reaches the server."""
        sink, base_url = echo
        provider = _provider(base_url)
        try:
            error = await provider.request("POST", "/x", content=b"x", headers={"X-A": "a\r\nX-Injected: 1"})
        finally:
            await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.PERMANENT
        assert sink.seen == []


async def test_https_with_verified_certificate() -> None:
    """The client speaks TLS and verifies the server's certificate."""
    import ssl

    trustme = pytest.importorskip("trustme")
    from broadcastio.http._client import Client, Timeouts
    from broadcastio.http._connection import Caps

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="secure")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = runner.addresses[0][1]
    trusting = Client(max_connections=2, caps=Caps(), ssl_context=client_context)
    default = Client(max_connections=2, caps=Caps())  # does not trust the test CA
    origin = ("https", "127.0.0.1", port)
    request = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    timeouts = Timeouts(5, 5, 5, 10)
    try:
        status, _, body, _, _ = await trusting.send(origin, "GET", request, timeouts)
        failure = None
        try:
            await default.send(origin, "GET", request, timeouts)
        except Exception as exc:
            failure = exc
    finally:
        await trusting.aclose()
        await default.aclose()
        await runner.cleanup()
    assert status == 200
    assert body == b"secure"
    assert failure is not None
    assert failure.to_error().error_class is ErrorClass.TRANSIENT  # type: ignore[attr-defined]
