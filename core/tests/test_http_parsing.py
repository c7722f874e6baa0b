"""The parser boundary, fuzzed: however a response is split into reads.

Valid responses parse to the same status, headers and body whatever the
split; responses made invalid in a known way are refused; random bytes
either parse or are refused, and nothing else escapes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from broadcastio.http._connection import Caps, Connection
from broadcastio.http._failures import HttpFailure
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
_RESERVED = {"content-length", "transfer-encoding", "connection"}


class _Transport:
    """Just enough of an asyncio transport: the connection writes and closes it."""

    def __init__(self) -> None:
        self.closed = False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _feed(pieces: list[bytes], *, head_request: bool = False) -> tuple[Any, ...] | HttpFailure:
    """Feed ``pieces`` as successive reads, then end the connection; the answer or the failure."""
    loop = asyncio.new_event_loop()
    try:
        connection = Connection(loop, Caps(max_body=64 * 1024))
        connection.connection_made(_Transport())  # type: ignore[arg-type]
        waiter = connection.start(b"GET / HTTP/1.1\r\n\r\n", head_request)
        for piece in pieces:
            if waiter.done():
                break
            connection.data_received(piece)
        if not waiter.done():
            connection.eof_received()
            connection.connection_lost(None)
        exc = waiter.exception()
        if exc is not None:
            assert isinstance(exc, HttpFailure), repr(exc)  # nothing else escapes
            return exc
        status, headers, body, _, version = waiter.result()
        return status, tuple(headers), body, version
    finally:
        loop.close()


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [piece for piece in pieces if piece] or [data]


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, tuple[Any, ...]]:
    """A valid response and what it must parse to."""
    status = draw(st.integers(200, 599).filter(lambda code: code not in (204, 304)))
    names = draw(st.lists(_TOKEN.filter(lambda name: name.lower() not in _RESERVED), max_size=6))
    headers = [(name.encode(), draw(_VALUE).encode()) for name in names]
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    interim = draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue\r\n\r\n"]))
    if framing == "length":
        headers.append((b"Content-Length", str(len(body)).encode()))
        payload = body
    elif framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        sizes = draw(st.lists(st.integers(1, 64), max_size=8))
        payload, at = b"", 0
        for size in sizes:
            part = body[at : at + size]
            if part:
                payload += b"%x\r\n" % len(part) + part + b"\r\n"
            at += size
        if at < len(body):
            payload += b"%x\r\n" % (len(body) - at) + body[at:] + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        payload = body
    head = b"HTTP/1.1 %d Reason\r\n" % status + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    data = interim + head + b"\r\n" + payload
    return data, (status, tuple(headers), body, "HTTP/1.1")


_INVALID = [
    (b"Content-Length: 2\r\n", b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"),
    (b"Content-Length: 2\r\n", b"Transfer-Encoding: gzip, chunked\r\n"),
    (b"Content-Length: 2\r\n", b"Transfer-Encoding: xchunked\r\n"),
    (b"Content-Length: 2\r\n", b"Content-Length: 2\r\nX-Bad: a\x00b\r\n"),
    (b"Content-Length: 2\r\n", b"Content-Length: 2\r\nX-Bad: a\x7fb\r\n"),
    (b"Content-Length: 2\r\n", b"Content-Length: 2\r\nX Bad: ab\r\n"),
    (b"Content-Length: 2\r\n", b"Content-Length: -2\r\n"),
    (b"Content-Length: 2\r\n", b"Content-Length: 0x2\r\n"),
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n", b"Transfer-Encoding: chunked\r\n\r\n0x2\r\n"),
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n", b"Transfer-Encoding: chunked\r\n\r\n-2\r\n"),
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n", b"Transfer-Encoding: chunked\r\n\r\n+2\r\n"),
    (b"Transfer-Encoding: chunked\r\n\r\n2\r\n", b"Transfer-Encoding: chunked\r\n\r\n1_0\r\n"),
    (b"\r\nok\r\n0\r\n", b"\r\nokX0\r\n"),
    (b"HTTP/1.1 200", b"HTTP/2.0 200"),
]
_TEMPLATES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
]


@st.composite
def invalid_responses(draw: st.DrawFn) -> bytes:
    """A response made invalid by one known mutation."""
    old, new = draw(st.sampled_from(_INVALID))
    templates = [template for template in _TEMPLATES if old in template]
    return draw(st.sampled_from(templates)).replace(old, new, 1)


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(responses(), st.lists(st.integers(0, 2000), max_size=12))
def test_valid_responses_parse_the_same_however_split(response: tuple[bytes, tuple[Any, ...]], cuts: list[int]) -> None:
    data, expected = response
    assert _feed([data]) == expected
    assert _feed(_split(data, cuts)) == expected
    assert _feed([bytes([byte]) for byte in data]) == expected


@_SETTINGS
@given(invalid_responses(), st.lists(st.integers(0, 200), max_size=8))
def test_invalid_responses_are_refused_however_split(data: bytes, cuts: list[int]) -> None:
    assert isinstance(_feed([data]), HttpFailure)
    assert isinstance(_feed(_split(data, cuts)), HttpFailure)


@_SETTINGS
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_random_bytes_parse_or_are_refused(data: bytes, cuts: list[int]) -> None:
    outcome = _feed(_split(data, cuts) if data else [])
    assert isinstance(outcome, (tuple, HttpFailure))


@_SETTINGS
@given(responses(), st.lists(st.integers(0, 2000), max_size=12))
def test_head_answers_end_at_the_head(response: tuple[bytes, tuple[Any, ...]], cuts: list[int]) -> None:
    data, (status, headers, _, version) = response
    head = data[: data.index(b"\r\n\r\n", data.index(b"HTTP/1.1 %d" % status)) + 4]
    assert _feed(_split(head, cuts), head_request=True) == (status, headers, b"", version)
