"""The HTTP client against hostile servers: every refusal, cap and clock.

Each scenario is a local asyncio server on 127.0.0.1 scripted to misbehave
the way a broken endpoint (or an attacker between us and a plain-HTTP
endpoint) would. Each asserts the outcome class, that it ended within its
bound, that Python's peak allocation stayed small (tracemalloc), and that
200 normal sends sharing the event loop meanwhile finished in normal time.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from broadcastio import ErrorClass, ErrorCode
from broadcastio.http import HttpProvider, Response

Script = Callable[[asyncio.StreamWriter, int], Awaitable[bool]]
"""Answers request number n (1-based) on a connection; True keeps the connection for the next one."""

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
PEAK_BYTES = 12 * 1024 * 1024  # a body cap of 4 MiB plus the test's own bookkeeping
NORMAL_SENDS = 200
NORMAL_SECONDS = 5.0  # they take well under a second; a stalled loop takes tens


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return head


class Server:
    """An asyncio server on 127.0.0.1 running ``script`` for each request; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        number = 0
        try:
            while await _read_request(reader) is not None:
                number += 1
                self.requests += 1
                if not await self.script(writer, number):
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


async def answer(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def replies(*answers: bytes, keep: bool = True) -> Script:
    """Answer the server's n-th request, whatever its connection, with ``answers[n-1]`` (the last one repeats)."""
    served = [0]

    async def script(writer: asyncio.StreamWriter, number: int) -> bool:
        served[0] += 1
        await answer(writer, answers[min(served[0], len(answers)) - 1])
        return keep

    return script


def endless(head: bytes, piece: bytes, *, pause: float = 0.0, limit: float = 20.0) -> Script:
    """Send ``head`` then ``piece`` for ever (bounded by ``limit`` seconds), until the client hangs up."""

    async def script(writer: asyncio.StreamWriter, number: int) -> bool:
        await answer(writer, head)
        ends = time.monotonic() + limit
        while time.monotonic() < ends and not writer.is_closing():
            await answer(writer, piece)
            await asyncio.sleep(pause)
        return False

    return script


def silent_close() -> Script:
    async def script(writer: asyncio.StreamWriter, number: int) -> bool:
        return False

    return script


@dataclass(frozen=True)
class Case:
    name: str
    script: Script
    outcome: ErrorClass | None  # None: a response is expected
    within: float  # seconds the exchange may take
    method: str = "POST"
    options: tuple[tuple[str, Any], ...] = ()


def _chunk_size_case(size: bytes) -> Case:
    return Case(
        f"chunk size {size.decode()}", replies(CHUNKED + size + b"\r\nab\r\n0\r\n\r\n"), ErrorClass.AMBIGUOUS, 1.0
    )


def _header_case(name: str, header: bytes) -> Case:
    head = b"HTTP/1.1 200 OK\r\n" + header + b"\r\nContent-Length: 2\r\n\r\nok"
    return Case(name, replies(head), ErrorClass.AMBIGUOUS, 1.0)


CASES = [
    Case("endless chunk-size line (extension)", endless(CHUNKED + b"1;", b"a" * 16384), ErrorClass.AMBIGUOUS, 1.0),
    Case("endless chunk-size line (zeros)", endless(CHUNKED, b"0" * 16384), ErrorClass.AMBIGUOUS, 1.0),
    Case("endless chunk-size line (digits)", endless(CHUNKED, b"f" * 16384), ErrorClass.AMBIGUOUS, 1.0),
    Case("endless trailer", endless(CHUNKED + b"2\r\nab\r\n0\r\nX-T: ", b"t" * 16384), ErrorClass.AMBIGUOUS, 1.0),
    Case("1xx flood", endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 500), ErrorClass.AMBIGUOUS, 1.0),
    Case(
        "Content-Length with Transfer-Encoding",
        replies(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    *(_chunk_size_case(size) for size in (b"-1", b"0x2", b"+2", b"1_0", b"2 ")),
    Case("no CRLF after chunk data", replies(CHUNKED + b"2\r\nabXX0\r\n\r\n"), ErrorClass.AMBIGUOUS, 1.0),
    Case(
        "Transfer-Encoding: xchunked",
        replies(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case(
        "Transfer-Encoding: gzip, chunked",
        replies(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case(
        "Transfer-Encoding twice",
        replies(CHUNKED[:-2] + b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    _header_case("NUL in a header value", b"X-A: a\x00b"),
    _header_case("DEL in a header value", b"X-A: a\x7fb"),
    _header_case("DEL in a header name", b"X-\x7fA: ab"),
    _header_case("ESC in a header value", b"X-A: a\x1bb"),
    _header_case("obsolete line folding", b"X-A: a\r\n b"),
    Case("HTTP/2.0 status line", replies(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), ErrorClass.AMBIGUOUS, 1.0),
    Case(
        "head over the cap",
        replies(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\nok"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case(
        "10,000 headers",
        replies(b"HTTP/1.1 200 OK\r\n" + b"X-H: 1\r\n" * 10_000 + b"Content-Length: 2\r\n\r\nok"),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case(
        "slow-loris, 1 byte per second",
        endless(b"HTTP/1.1 200 OK\r\n", b"X", pause=1.0),
        ErrorClass.AMBIGUOUS,
        3.5,
        options=(("timeout", 1.5), ("deadline", 2.5)),
    ),
    Case(
        "close mid-body",
        replies(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf", keep=False),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case("close mid-chunk", replies(CHUNKED + b"a\r\nhalf", keep=False), ErrorClass.AMBIGUOUS, 1.0),
    Case("close before answering", silent_close(), ErrorClass.AMBIGUOUS, 1.0),
    Case(
        "1xx then final",
        replies(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK),
        None,
        1.0,
    ),
    Case(
        "10 GB Content-Length",
        endless(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n", b"x" * 65536),
        ErrorClass.AMBIGUOUS,
        1.0,
    ),
    Case("endless chunked body", endless(CHUNKED, b"10000\r\n" + b"x" * 65536 + b"\r\n"), ErrorClass.AMBIGUOUS, 2.0),
    Case("endless body until close", endless(b"HTTP/1.1 200 OK\r\n\r\n", b"x" * 65536), ErrorClass.AMBIGUOUS, 2.0),
    Case(
        "gzip bomb",
        replies(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"),
        ErrorClass.AMBIGUOUS,
        2.0,
    ),
    Case("no answer at all", endless(b"", b"", pause=0.5), ErrorClass.AMBIGUOUS, 2.0, options=(("timeout", 0.5),)),
]


def _gzip_bomb() -> bytes:
    import gzip

    body = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body


CASES = [
    Case(case.name, replies(_gzip_bomb()), case.outcome, case.within) if case.name == "gzip bomb" else case
    for case in CASES
]


async def _normal_sends(url: str) -> float:
    """200 sends to a well-behaved server on the same loop; the seconds they took."""
    provider = HttpProvider(name="normal", channel="test", base_url=url, max_connections=16)
    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(provider.request("POST", "/n", content=b"x") for _ in range(NORMAL_SENDS)))
    finally:
        await provider.aclose()
    assert all(isinstance(result, Response) and result.status_code == 200 for result in results)
    return time.perf_counter() - started


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_hostile_server(case: Case) -> None:
    """Refused (or answered) as expected, in time, in bounded memory, without stalling the loop."""
    options: dict[str, Any] = {"timeout": 2.0, "deadline": 3.0, **dict(case.options)}
    tracemalloc.start()
    try:
        async with Server(case.script) as url, Server(replies(OK)) as normal_url:
            provider = HttpProvider(name="hostile", channel="test", base_url=url, **options)
            try:
                started = time.perf_counter()
                hostile = asyncio.ensure_future(provider.request(case.method, "/h", content=b"{}"))
                normal_seconds = await _normal_sends(normal_url)
                result = await hostile
                elapsed = time.perf_counter() - started
            finally:
                await provider.aclose()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if case.outcome is None:
        assert isinstance(result, Response), result
        assert result.status_code == 200
    else:
        assert not isinstance(result, Response), f"accepted: {result!r}"
        assert result.error_class is case.outcome, result
    assert elapsed < case.within + 1.0, f"took {elapsed:.2f} s"
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.1f} MB"
    assert normal_seconds < NORMAL_SECONDS, f"200 normal sends took {normal_seconds:.2f} s"


class TestConnectionReuse:
    async def test_reused_after_a_clean_response(self) -> None:
        """Keep-alive: three clean answers, one connection."""
        server = Server(replies(OK))
        async with server as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                results = [await provider.request("POST", "/x", content=b"1") for _ in range(3)]
            finally:
                await provider.aclose()
        assert all(isinstance(result, Response) for result in results)
        assert server.connections == 1

    @pytest.mark.parametrize(
        "refused",
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            CHUNKED + b"0x2\r\nab\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-A: \x00\r\nContent-Length: 2\r\n\r\nok",
        ],
        ids=["CL+TE", "bad chunk size", "NUL"],
    )
    async def test_never_reused_after_a_refused_response(self, refused: bytes) -> None:
        """A refused answer closes its connection: the next request (smuggled answer or not) gets a new one."""
        server = Server(replies(refused + OK, OK))  # the refused answer drags a smuggled one behind it
        async with server as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                first = await provider.request("POST", "/x", content=b"1")
                second = await provider.request("POST", "/x", content=b"2")
            finally:
                await provider.aclose()
        assert not isinstance(first, Response)
        assert first.error_class is ErrorClass.AMBIGUOUS
        assert isinstance(second, Response)
        assert second.content == b"ok"
        assert server.connections == 2

    async def test_bytes_after_the_answer_stop_reuse(self) -> None:
        """Anything after a complete answer (pipelined junk) means the connection is not reused."""
        server = Server(replies(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra", OK))
        async with server as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                first = await provider.request("GET", "/x")
                second = await provider.request("GET", "/x")
            finally:
                await provider.aclose()
        assert isinstance(first, Response)
        assert first.content == b"ok"
        assert isinstance(second, Response)
        assert second.content == b"ok"
        assert server.connections == 2

    @pytest.mark.parametrize(
        ("method", "status", "head"),
        [
            ("HEAD", 200, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
            ("POST", 204, b"HTTP/1.1 204 No Content\r\n\r\n"),
            ("GET", 304, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n"),
        ],
    )
    async def test_bodiless_answers(self, method: str, status: int, head: bytes) -> None:
        """HEAD, 204 and 304 have no body whatever Content-Length says; the connection is reused."""
        server = Server(replies(head, OK))
        async with server as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                first = await provider.request(method, "/x")
                second = await provider.request("GET", "/x")
            finally:
                await provider.aclose()
        assert isinstance(first, Response)
        assert first.status_code == status
        assert first.content == b""
        assert isinstance(second, Response)
        assert second.content == b"ok"
        assert server.connections == 1

    @pytest.mark.parametrize(("method", "retried"), [("GET", True), ("PUT", True), ("POST", False), ("PATCH", False)])
    async def test_stale_idle_connection(self, method: str, retried: bool) -> None:
        """A kept-alive connection closed as it is reused: idempotent methods go again once, others do not."""

        async def script(writer: asyncio.StreamWriter, number: int) -> bool:
            if number == 1:
                await answer(writer, OK)
                return True
            return False  # the second request on the first connection: closed unanswered

        first_connection = Server(script)
        async with first_connection as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                first = await provider.request(method, "/x", content=b"a")
                second = await provider.request(method, "/x", content=b"b")
            finally:
                await provider.aclose()
        assert isinstance(first, Response)
        if retried:
            assert isinstance(second, Response), second
            assert first_connection.connections == 2
        else:
            assert not isinstance(second, Response)
            assert second.error_class is ErrorClass.AMBIGUOUS
            assert first_connection.connections == 1


class TestBeforeWriting:
    async def test_pool_timeout_is_transient(self) -> None:
        """No free connection in time: nothing was written, transient."""

        async def slow(writer: asyncio.StreamWriter, number: int) -> bool:
            await asyncio.sleep(0.5)
            await answer(writer, OK)
            return True

        async with Server(slow) as url:
            provider = HttpProvider(name="p", channel="test", base_url=url, max_connections=1)
            try:
                busy = asyncio.ensure_future(provider.request("POST", "/x", content=b"1"))
                await asyncio.sleep(0.05)
                import httpx

                error = await provider.request("POST", "/x", content=b"2", timeout=httpx.Timeout(5.0, pool=0.05))
                await busy
            finally:
                await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.TRANSIENT

    @pytest.mark.parametrize(
        "value",
        ["a\x00b", "a\x0bb", "a\x0cb", "a\x1bb", "a\x7fb", "a\x85b", "a\rb", "a\nb", "ключ"],
        ids=["NUL", "VT", "FF", "ESC", "DEL", "NEL", "CR", "LF", "not latin-1"],
    )
    async def test_bad_per_message_header_is_rejected_unsent(self, value: str) -> None:
        """A per-message header (an idempotency key) that cannot be sent: permanent rejected, nothing written."""
        server = Server(replies(OK))
        async with server as url:
            provider = HttpProvider(name="p", channel="test", base_url=url)
            try:
                error = await provider.request("POST", "/x", content=b"1", headers={"Idempotency-Key": value})
            finally:
                await provider.aclose()
        assert not isinstance(error, Response)
        assert error.error_class is ErrorClass.PERMANENT
        assert error.code == ErrorCode.REJECTED
        assert server.requests == 0

    @pytest.mark.parametrize(
        "headers",
        [
            {"X-A": "a\x00"},
            {"X-A": "a\x85"},
            {"X-A": "é\u2603"},
            {"Bad Name": "v"},
            {"X-A:": "v"},
            {"X-A": "a\r\nX-B: 1"},
        ],
    )
    def test_bad_static_header_raises_at_construction(self, headers: dict[str, str]) -> None:
        """A provider header that cannot be sent is a configuration error, raised at construction."""
        from broadcastio import ConfigurationError

        with pytest.raises(ConfigurationError, match="provider 'p'"):
            HttpProvider(name="p", channel="test", base_url="http://127.0.0.1:1", headers=headers)


async def test_a_finished_exchange_clock_never_touches_the_next() -> None:
    """The first exchange's timer, set again for later while data trickled, must not fail the second one."""

    async def trickle(writer: asyncio.StreamWriter, number: int) -> bool:
        await answer(writer, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
        await asyncio.sleep(0.6)
        await answer(writer, b"ab")
        await asyncio.sleep(0.6)  # the first exchange's timer fires meanwhile and is set again, for its deadline
        await answer(writer, b"cd")
        return True

    server = Server(trickle)
    async with server as url:
        provider = HttpProvider(name="p", channel="test", base_url=url, timeout=1.0, deadline=1.6)
        try:
            first = await provider.request("GET", "/x")
            second = await provider.request("GET", "/x")
        finally:
            await provider.aclose()
    assert isinstance(first, Response)
    assert isinstance(second, Response), second
    assert second.content == b"abcd"
    assert server.connections == 1


async def test_a_slow_upload_is_not_silence() -> None:
    """While the request is still being written (a large body, a slow reader), the inactivity clock waits."""
    body = b"x" * (32 * 1024 * 1024)

    async def slow_reader(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(1.5)  # three inactivity timeouts before reading a byte of the body
        await reader.readexactly(len(body))
        writer.write(OK)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow_reader, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    provider = HttpProvider(name="p", channel="test", base_url=f"http://127.0.0.1:{port}", timeout=0.5, deadline=10.0)
    try:
        response = await provider.request("POST", "/upload", content=body)
    finally:
        await provider.aclose()
        server.close()
        await server.wait_closed()
    assert isinstance(response, Response), response
    assert response.content == b"ok"


@pytest.mark.parametrize(
    ("method", "url", "options"),
    [
        ("GE T", "/x", {}),
        ("POST", "ftp://elsewhere/x", {}),
        ("POST", "/x", {"json": {1j: 2}}),
        ("POST", "/x", {"headers": {"X-A": 1}}),
    ],
    ids=["method not a token", "not http", "json not encodable", "header value not a string"],
)
async def test_requests_that_cannot_be_sent_are_rejected_unsent(method: str, url: str, options: dict[str, Any]) -> None:
    """A method, URL, body or header we cannot send: permanent rejected, no exception, nothing written."""
    server = Server(replies(OK))
    async with server as base_url:
        provider = HttpProvider(name="p", channel="test", base_url=base_url)
        try:
            error = await provider.request(method, url, **options)
        finally:
            await provider.aclose()
    assert not isinstance(error, Response)
    assert error.error_class is ErrorClass.PERMANENT
    assert error.code == ErrorCode.REJECTED
    assert server.requests == 0
