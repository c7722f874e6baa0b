"""DATA for large emails, streamed in chunks instead of copied whole.

aiosmtplib's ``SMTP.data`` normalises line ends and dot-stuffs the whole
message with two regular expressions and then concatenates the terminator:
for a 27 MB base64 attachment that is about a second of CPU and six copies
of the message in memory per send, which is what made one shared 20 MB
attachment cost over a gigabyte at campaign concurrency. Our emails are
already CRLF (the SMTP policy), and the shared attachment bodies are base64,
which never puts ``.`` at the start of a line. So a large email goes out as
DATA through aiosmtplib's own command path for the command and the reply,
with the body written in bounded chunks; only the small pieces around the
attachments are dot-stuffed. Small emails keep ``SMTP.data``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import aiosmtplib

__all__ = ["STREAM_THRESHOLD", "stream_data"]

STREAM_THRESHOLD = 1024 * 1024
"""Emails at least this large (bytes) are streamed."""

_CHUNK = 256 * 1024
_HIGH_WATER = 1024 * 1024
_LEADING_DOT = re.compile(rb"(?m)^\.")


async def _drained(transport: asyncio.WriteTransport, step_timeout: float) -> None:
    """Wait until the transport's buffer is below the high-water mark (bounded memory per connection)."""
    async with asyncio.timeout(step_timeout):
        while transport.get_write_buffer_size() > _HIGH_WATER:
            if transport.is_closing():
                raise aiosmtplib.SMTPServerDisconnected("Connection lost while sending DATA")
            await asyncio.sleep(0.001)


async def stream_data(
    smtp: aiosmtplib.SMTP, pieces: Sequence[tuple[bytes | bytearray, bool]], *, step_timeout: float
) -> None:
    """Send DATA with ``pieces`` as the content: (bytes, needs dot-stuffing) each, CRLF, in order.

    Every piece starts at the beginning of a line. Raises aiosmtplib's
    exceptions as ``SMTP.data`` does (SMTPDataError on a refusal).
    """
    protocol = smtp.protocol
    if protocol is None or protocol.transport is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    start = await smtp.execute_command(b"DATA", timeout=step_timeout)
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    transport = protocol.transport
    assert isinstance(transport, asyncio.WriteTransport)
    ends_with_newline = True
    for data, stuff in pieces:
        if not data:
            continue
        if stuff:
            data = _LEADING_DOT.sub(b"..", bytes(data))
        view = memoryview(data)
        for offset in range(0, len(view), _CHUNK):
            protocol.write(bytes(view[offset : offset + _CHUNK]))
            await _drained(transport, step_timeout)
        ends_with_newline = data.endswith(b"\r\n")
    protocol.write(b".\r\n" if ends_with_newline else b"\r\n.\r\n")
    reply = await protocol.read_response(timeout=step_timeout)
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
