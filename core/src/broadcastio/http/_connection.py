"""One keep-alive HTTP/1.1 connection, its responses parsed by httptools (llhttp).

llhttp (Node's parser) does the parsing and most of the strictness: it
refuses Content-Length with Transfer-Encoding, malformed chunk sizes
(``-1``, ``0x2``, ``+2``, ``1_0``, trailing spaces), chunk data not ended
by CRLF, and control bytes (NUL, DEL, ...) in header names and values;
every "dangerous leniency" is switched off explicitly. This module adds
what llhttp leaves to its embedder: a single final ``chunked`` as the only
transfer coding, HTTP/1.0 or 1.1 only, and the caps on head size, header
count, interim (1xx) answers, framing bytes without progress (an endless
chunk-size line or trailer) and body size. A refused answer fails the
exchange and closes the connection, which is never reused.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httptools

from broadcastio.http._failures import Failure, HttpFailure
from broadcastio.http._response import RawHeaders

__all__ = ["Answer", "Caps", "Connection"]

Answer = tuple[int, RawHeaders, bytes, bool, str]
"""status, raw headers, body (still Content-Encoded), whether the connection may be reused, HTTP version"""

_MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Caps:
    """Bounds on one response; memory per connection is bounded by them.

    :param max_head: bytes of status lines and headers, interim answers included.
    :param max_headers: header lines (trailers included).
    :param max_interim: 1xx interim answers before the final one.
    :param max_framing: bytes received in a row without body progress after
        the head (a chunk-size line with extensions, trailers).
    :param max_body: body bytes, before and after Content-Encoding is undone.
    """

    max_head: int = 64 * 1024
    max_headers: int = 100
    max_interim: int = 8
    max_framing: int = 8 * 1024
    max_body: int = 4 * _MiB


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing; the reason is kept on the connection."""


class Connection(asyncio.Protocol):
    """A TCP (or TLS) connection; one exchange at a time, parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop, caps: Caps) -> None:
        self.loop = loop
        self.caps = caps
        self.transport: asyncio.Transport | None = None
        self.parser = self._new_parser()
        self.waiter: asyncio.Future[Answer] | None = None
        self.closed = False
        self.received = False  # any byte of the current exchange arrived
        self.idle_since = 0.0
        self.last_read = 0.0
        self._fresh_parser = False
        self._reset(False)

    def _new_parser(self) -> httptools.HttpResponseParser:
        parser = httptools.HttpResponseParser(self)
        parser.set_dangerous_leniencies(
            lenient_headers=False,
            lenient_chunked_length=False,
            lenient_keep_alive=False,
            lenient_transfer_encoding=False,
            lenient_version=False,
            lenient_data_after_close=False,
            lenient_optional_lf_after_cr=False,
            lenient_optional_cr_before_lf=False,
            lenient_optional_crlf_after_chunk=False,
            lenient_spaces_after_chunk_size=False,
        )
        return parser

    def _reset(self, head_request: bool) -> None:
        self.head_request = head_request
        self.in_head = True
        self.head_bytes = 0
        self.header_count = 0
        self.interim = 0
        self.headers: RawHeaders = []
        self.content_length: int | None = None
        self.chunked = False
        self.status = 0
        self.version = "HTTP/1.1"
        self.keep_alive = False
        self.body: list[bytes] = []
        self.body_size = 0
        self.framing = 0
        self.progress = False
        self.done = False
        self.extra = False
        self.reason = ""

    # --- asyncio callbacks -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted
            return
        self.received = True
        self.last_read = self.loop.time()
        try:
            if self.in_head and self.head_bytes + len(data) > self.caps.max_head:
                room = self.caps.max_head - self.head_bytes
                view = memoryview(data)
                self._feed(view[:room])
                if self.in_head:
                    self._refuse(f"response head over {self.caps.max_head} bytes")
                self._feed(view[room:])
            else:
                if self.in_head:
                    self.head_bytes += len(data)
                self._feed(data)
        except (httptools.HttpParserError, _Refused) as exc:
            if self.done and not self.reason:
                self.extra = True  # bytes after a complete answer: do not reuse
            else:
                self._fail(self.reason or f"malformed response: {exc}")
                return
        if self.done:
            waiter.set_result(
                (self.status, self.headers, b"".join(self.body), self.keep_alive and not self.extra, self.version)
            )

    def _feed(self, data: bytes | memoryview) -> None:
        self.progress = False
        self.parser.feed_data(data)
        if not self.in_head and not self.done:
            if self.progress:
                self.framing = 0
            else:
                self.framing += len(data)
                if self.framing > self.caps.max_framing:
                    self._refuse(f"over {self.caps.max_framing} bytes of chunk framing without data")

    def eof_received(self) -> bool:
        self._finish_at_close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish_at_close()
        self._fail("server closed the connection before a complete response")

    # --- parser callbacks (httptools) ---------------------------------------

    def _refuse(self, reason: str) -> None:
        self.reason = reason
        raise _Refused(reason)

    def on_message_begin(self) -> None:
        if self.done:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > self.caps.max_headers:
            self._refuse(f"response has over {self.caps.max_headers} headers")
        if not self.in_head:
            return  # a trailer: counted, ignored
        self.headers.append((name, value))
        size = len(name)
        if size == 14 and name.lower() == b"content-length":
            self.content_length = int(value)  # llhttp checked the digits and refused duplicates
        elif size == 17 and name.lower() == b"transfer-encoding":
            if self.chunked or value.strip().lower() != b"chunked":
                self._refuse(f"Transfer-Encoding {value[:40]!r}: only a single 'chunked' is accepted")
            self.chunked = True

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:
            if status == 101:
                self._refuse("101 Switching Protocols to a request that asked for no upgrade")
            self.interim += 1
            if self.interim > self.caps.max_interim:
                self._refuse(f"over {self.caps.max_interim} interim (1xx) responses")
            self.headers = []
            self.content_length = None
            self.chunked = False
            return
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._refuse(f"unsupported HTTP version {version[:10]!r}")
        self.in_head = False
        self.status = status
        self.version = "HTTP/1.1" if version == "1.1" else "HTTP/1.0"
        self.keep_alive = parser.should_keep_alive()
        self.progress = True
        bodiless = self.head_request or status in (204, 304)
        length = self.content_length
        if length is not None and length > self.caps.max_body and not bodiless:
            self._refuse(f"response body of {length} bytes is over the {self.caps.max_body}-byte cap")
        if self.head_request:
            # llhttp cannot be told a HEAD answer has no body: end it here, parse the next on a new parser.
            self.done = True
            self._fresh_parser = True

    def on_body(self, body: bytes) -> None:
        if self.done:
            self.extra = True
            return
        self.progress = True
        self.body_size += len(body)
        if self.body_size > self.caps.max_body:
            self._refuse(f"response body over the {self.caps.max_body}-byte cap")
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.in_head or self.done:
            return  # an interim answer, or a HEAD answer already complete
        self.done = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()

    # --- exchanges -------------------------------------------------------------

    def start(self, data: bytes, head_request: bool) -> asyncio.Future[Answer]:
        """Write one request; the future resolves with its whole answer."""
        if self._fresh_parser:
            self.parser = self._new_parser()
            self._fresh_parser = False
        self._reset(head_request)
        self.received = False
        self.waiter = waiter = self.loop.create_future()
        self.last_read = self.loop.time()
        assert self.transport is not None
        self.transport.write(data)
        return waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def fail(self, kind: Failure, message: str) -> None:
        """End the current exchange with ``message`` and close: never reused."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(HttpFailure(kind, message))
        self.close()

    def _fail(self, message: str) -> None:
        self.fail(Failure.PROTOCOL, message)

    def _finish_at_close(self) -> None:
        """A response framed by the end of the connection (no length, not chunked) ends here."""
        waiter = self.waiter
        if waiter is None or waiter.done() or self.in_head or self.done:
            return
        if self.chunked or self.content_length is not None or self.status in (204, 304):
            return  # cut short: connection_lost reports it
        waiter.set_result((self.status, self.headers, b"".join(self.body), False, self.version))
