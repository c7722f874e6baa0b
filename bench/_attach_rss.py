"""Peak RSS of one shared attachment sent to many recipients by email.

Run: ``python bench/_attach_rss.py [--n 1000] [--mb 20]`` (needs
``broadcastio-email``). One ``Attachment`` object of ``--mb`` MiB goes to
``--n`` recipients through ``abroadcast`` at the default concurrency, to the
loopback sink of ``bench/_smtp_sink.py`` in its own process. The last line
is ``attach_peak_mb=<m>`` (this process's peak resident memory, MiB), which
``bench/outbox.py`` reads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


async def run(port: int, n: int, megabytes: int) -> tuple[int, float]:
    from broadcastio import Attachment, Message, Orchestrator
    from broadcastio.testing import isolated_plugin_manager
    from broadcastio_email import EmailProvider

    shared = Attachment(filename="report.bin", content=os.urandom(megabytes * 1024 * 1024))
    provider = EmailProvider(host="127.0.0.1", port=port, tls="none", from_address="bench@example.com")
    messages = (
        Message(recipient=f"user{i}@example.org", subject="report", text="attached", attachments=(shared,))
        for i in range(n)
    )
    started = time.perf_counter()
    async with Orchestrator([provider], plugin_manager=isolated_plugin_manager()) as orchestrator:
        ok = sum([result.ok async for result in orchestrator.abroadcast(messages)])
    return ok, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=20)
    args = parser.parse_args()
    sink = subprocess.Popen([sys.executable, str(HERE / "_smtp_sink.py")], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        ok, seconds = asyncio.run(run(port, args.n, args.mb))
    finally:
        sink.kill()
        sink.wait()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"shared attachment: {args.mb} MiB to {args.n} recipients, {ok} delivered in {seconds:.1f} s")
    print(f"attach_peak_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
