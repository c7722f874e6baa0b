"""A fast loopback SMTP sink for benchmarks: accepts everything, keeps nothing.

aiosmtpd reads DATA line by line in Python, which makes it the bottleneck for
multi-megabyte messages; this sink scans each read for the end-of-data
marker instead. Run as ``python bench/_smtp_sink.py``: it prints its port on
the first line and serves until killed. A benchmark peer, not a mail server.
"""

from __future__ import annotations

import asyncio
import sys

_END = b"\r\n.\r\n"


class Sink(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        self.tail = b""
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        if self.in_data:
            window = self.tail + data
            index = window.find(_END)
            if index < 0:
                self.tail = window[-4:]
                return
            self.in_data = False
            self.tail = b""
            self.transport.write(b"250 2.0.0 queued\r\n")
            data = window[index + len(_END) :]
        self.buffer += data
        while not self.in_data and b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.transport.write(b"250-sink\r\n250-SIZE 104857600\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.transport.write(b"354 go ahead\r\n")
                self.in_data = True
                rest, self.buffer = self.buffer, b""
                if rest:
                    self.data_received(rest)
                return
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
