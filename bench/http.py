"""HTTP client throughput side by side: raw sockets, aiohttp, broadcastio's client, two broadcasts.

Run: ``python bench/http.py [--n 20000] [--rounds 3]``.

Needs: ``broadcastio[http]``, ``broadcastio-webhook`` and ``aiohttp``.

All on 127.0.0.1, against the raw asyncio sink of ``bench/broadcast.py`` in
its own process (pinned to core 0; each measurement in a fresh child process
pinned to core 1), 64 requests in flight:

- raw asyncio sockets: 64 keep-alive connections, a prebuilt request, the
  answer found by its known length: the ceiling;
- aiohttp: a plain ``ClientSession.post`` loop;
- broadcastio's client alone: ``HttpProvider.request`` with the webhook's
  per-message shape (a JSON body and an ``Idempotency-Key`` header);
- the webhook broadcast end to end: ``Orchestrator.abroadcast`` through
  ``WebhookProvider``;
- a Twilio-shaped form broadcast: the same broadcast through a provider
  sending ``data=`` forms with Basic auth, as ``broadcastio-sms`` does.

Rows run interleaved for ``--rounds`` rounds and the best run of each counts
(a shared 2-core machine moves single runs by tens of percent). Each row also
reports the CPU the client process spent per message and the state of glibc's
allocator in that process: asyncio reads into 256 KiB buffers, above glibc's
initial 128 KiB ``M_MMAP_THRESHOLD``; until the dynamic threshold has risen
past that (glibc raises it when an mmapped block is freed, unless a
``MALLOC_*_`` variable fixes it), every read is an mmap/munmap pair, which
costs raw sockets most of their speed. Rows are only compared in the same
state. The last line is ``http_ratio client=... broadcast=... vs_aiohttp=... form_vs_json=...``.
"""

from __future__ import annotations

import os
import sys

# This file is named http.py, and ``python bench/<any>.py`` puts this folder first on sys.path, so
# ``import http`` (the standard library's, which httpx and aiohttp use) could land here.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ELSEWHERE = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
if __name__ == "http":
    # Imported as the standard library's package by another bench script: hand over to the real one
    # (the import system returns whatever sys.modules holds once this module has run).
    import importlib

    del sys.modules["http"]
    _saved, sys.path[:] = sys.path[:], _ELSEWHERE
    try:
        sys.modules["http"] = importlib.import_module("http")
    finally:
        sys.path[:] = _saved
else:
    sys.path[:] = _ELSEWHERE  # run as the benchmark: the standard library's http stays reachable

import argparse  # noqa: E402
import asyncio  # noqa: E402
import ctypes  # noqa: E402
import importlib.util  # noqa: E402
import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

CONCURRENCY = 64
ACCOUNT_SID = "AC" + "0" * 32
_RESPONSE_LENGTH = 11  # the sink's {"ok":true}


def _broadcast_bench() -> Any:
    """bench/broadcast.py, loaded by path (its sink and helpers)."""
    spec = importlib.util.spec_from_file_location("bench_broadcast", os.path.join(_HERE, "broadcast.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_broadcast"] = module
    spec.loader.exec_module(module)
    return module


def _sink_main(conn: Any) -> None:
    _broadcast_bench()._sink_main(conn)


# --- allocator state -------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks")
    ] + [("keepcost", ctypes.c_size_t)]


def allocator_state() -> str:
    """Whether a 256 KiB allocation (asyncio's read buffer) is mmapped here: "mmap", "heap", or why unknown."""
    fixed = sorted(name for name in os.environ if name.startswith("MALLOC_") and name.endswith("_"))
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return "not glibc"
    mallinfo2.restype = _MallInfo2
    before = mallinfo2().hblks
    block = bytearray(256 * 1024)
    mmapped = mallinfo2().hblks > before
    del block
    state = "mmap" if mmapped else "heap"
    return f"{state} (fixed by {','.join(fixed)})" if fixed else state


# --- workloads (each in a fresh child process) ---------------------------------


def _request_bytes(port: int) -> bytes:
    body = b'{"to":"user-1","text":"bench message","idempotency_key":"key-1"}'
    head = (
        f"POST /hook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _RawClient(asyncio.Protocol):
    """One keep-alive connection sending a prebuilt request, answer found by its known length."""

    def __init__(self) -> None:
        self.buffer = b""
        self.waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and len(self.buffer) >= end + 4 + _RESPONSE_LENGTH:
            self.buffer = self.buffer[end + 4 + _RESPONSE_LENGTH :]
            if self.waiter is not None:
                self.waiter.set_result(None)


async def _run_raw(url: str, n: int) -> int:
    loop = asyncio.get_running_loop()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    request = _request_bytes(port)
    remaining = n

    async def worker() -> int:
        nonlocal remaining
        _, protocol = await loop.create_connection(_RawClient, "127.0.0.1", port)
        done = 0
        while remaining > 0:
            remaining -= 1
            protocol.waiter = loop.create_future()
            protocol.transport.write(request)
            await protocol.waiter
            done += 1
        protocol.transport.close()
        return done

    return sum(await asyncio.gather(*(worker() for _ in range(CONCURRENCY))))


async def _run_aiohttp(url: str, n: int) -> int:
    return int(await _broadcast_bench()._run_aiohttp(url, n))


async def _run_client(url: str, n: int) -> int:
    from broadcastio.http import HttpProvider

    bench = _broadcast_bench()
    provider = HttpProvider(name="bench", channel="webhook", base_url=url, headers={"Content-Type": "application/json"})
    keys = iter(range(n))

    async def send_one(body: bytes) -> bool:
        response = await provider.request("POST", url, content=body, headers={"Idempotency-Key": f"k-{next(keys)}"})
        return not isinstance(response, BaseException) and getattr(response, "status_code", 0) == 200

    try:
        return int(await bench._pump(n, send_one))
    finally:
        await provider.aclose()


async def _run_webhook(url: str, n: int) -> int:
    return int(await _broadcast_bench()._run_broadcastio(url, n))


def _form_provider(url: str) -> Any:
    """A provider shaped like broadcastio-sms's Twilio one: a form POST with Basic auth, JSON answer."""
    from broadcastio import DeliveryError, DeliveryResult, Message
    from broadcastio.http import HttpProvider, json_object

    class TwilioShaped(HttpProvider):
        def __init__(self) -> None:
            super().__init__(
                name="form",
                channel="webhook",
                base_url=url.rsplit("/", 1)[0],
                headers={"User-Agent": "broadcastio-sms/bench", "Accept": "application/json"},
                auth=(ACCOUNT_SID, "secret-token"),
            )
            self.path = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

        async def send(self, message: Message, address: str) -> DeliveryResult:
            form = {"To": address, "From": "+15550100", "Body": message.text}
            response = await self.request("POST", self.path, data=form)
            if isinstance(response, DeliveryError):
                return DeliveryResult.failure(response)
            if response.status_code not in (200, 201):
                return DeliveryResult.failure(DeliveryError.permanent("rejected", f"HTTP {response.status_code}"))
            sid = json_object(response).get("sid")
            return DeliveryResult.success(sid if isinstance(sid, str) else None)

    return TwilioShaped()


async def _run_form(url: str, n: int) -> int:
    from broadcastio import Orchestrator
    from broadcastio.testing import isolated_plugin_manager

    bench = _broadcast_bench()
    async with Orchestrator([_form_provider(url)], plugin_manager=isolated_plugin_manager()) as orchestrator:
        return int(await bench._broadcast(orchestrator, n))


RUNNERS: dict[str, tuple[str, Callable[[str, int], Any]]] = {
    "raw": ("raw asyncio sockets (ceiling)", _run_raw),
    "aiohttp": ("aiohttp ClientSession, plain", _run_aiohttp),
    "client": ("broadcastio HttpProvider.request alone", _run_client),
    "webhook": ("broadcastio webhook broadcast (end to end)", _run_webhook),
    "form": ("broadcastio Twilio-shaped form broadcast", _run_form),
}


def _child(kind: str, url: str, n: int, conn: Any) -> None:
    """One measurement in a fresh process: (ok, seconds, CPU seconds, allocator state before, after)."""
    bench = _broadcast_bench()
    bench._pin(1)
    import aiohttp  # noqa: F401
    import broadcastio.http  # noqa: F401
    import broadcastio_webhook  # noqa: F401

    state_before = allocator_state()
    runner = RUNNERS[kind][1]
    cpu = time.process_time()
    start = time.perf_counter()
    ok = asyncio.run(runner(url, n))
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    conn.send((ok, seconds, cpu, state_before, allocator_state()))


def _measure(ctx: Any, kind: str, url: str, n: int) -> tuple[Any, ...]:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child, args=(kind, url, n, child))
    process.start()
    try:
        if not parent.poll(600):
            raise RuntimeError(f"{kind} did not finish in 600 s")
        result: tuple[Any, ...] = parent.recv()
    finally:
        process.join(10)
        if process.is_alive():
            process.terminate()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per run (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, best counts (default 3)")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    sink = ctx.Process(target=_sink_main, args=(child,), daemon=True)
    sink.start()
    try:
        url = f"http://127.0.0.1:{parent.recv()}/hook"
        print(f"sink: raw asyncio HTTP/1.1 in process {sink.pid} at {url}; cores: {os.cpu_count()}")
        print(f"N={args.n}, concurrency {CONCURRENCY}, {args.rounds} interleaved rounds, best run counts")
        print(f"allocator in this process: {allocator_state()}")
        print()
        best: dict[str, tuple[float, float, str]] = {}
        for round_number in range(1, args.rounds + 1):
            for kind in RUNNERS:
                ok, seconds, cpu, before, after = _measure(ctx, kind, url, args.n)
                rate = args.n / seconds
                state = before if before == after else f"{before}->{after}"
                print(
                    f"  round {round_number} {kind:<8} {rate:>8.0f} msg/s  {cpu / args.n * 1e6:>5.1f} µs CPU/msg  "
                    f"allocator {state:<10} ({ok}/{args.n} ok)",
                    flush=True,
                )
                if ok == args.n and (kind not in best or rate > best[kind][0]):
                    best[kind] = (rate, cpu / args.n * 1e6, state)
        print()
        print(f"{'client':<46} {'msg/s':>9} {'CPU µs/msg':>11}  allocator")
        for kind, (label, _) in RUNNERS.items():
            if kind in best:
                rate, cpu_us, state = best[kind]
                print(f"{label:<46} {rate:>9.0f} {cpu_us:>11.1f}  {state}")
        states = {best[kind][2] for kind in best}
        if len(states) > 1:
            print(f"warning: rows ran in different allocator states ({', '.join(sorted(states))}); compare with care")
        print()
        client = best.get("client", (0.0,))[0]
        webhook = best.get("webhook", (0.0,))[0]
        aiohttp_rate = best.get("aiohttp", (0.0,))[0]
        form = best.get("form", (0.0,))[0]
        print(
            f"http_ratio client={client:.0f} broadcast={webhook:.0f} "
            f"vs_aiohttp={webhook / aiohttp_rate if aiohttp_rate else 0:.2f} "
            f"form_vs_json={form / webhook if webhook else 0:.2f}"
        )
    finally:
        sink.terminate()
        sink.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
