"""The sync facade's engine: one event loop in a background thread.

Providers keep pooled connections bound to one loop, so every sync call of
one orchestrator runs on the same private loop instead of a new one each time.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import AsyncGenerator, Coroutine, Iterator
from typing import Any, TypeVar

from broadcastio._errors import UsageError

__all__ = ["LoopThread", "ensure_no_running_loop"]

T = TypeVar("T")


def ensure_no_running_loop(method: str, async_method: str) -> None:
    """Refuse a sync call made from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UsageError(
        f"Orchestrator.{method}() is the sync facade and cannot run inside an event loop; "
        f"use 'await orchestrator.{async_method}(...)' instead"
    )


class LoopThread:
    """A daemon thread running one event loop, started on first use."""

    def __init__(self, name: str = "broadcastio-sync") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def started(self) -> bool:
        return self._loop is not None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and wait for its result.

        If the waiting thread is interrupted (Ctrl-C), the coroutine is
        cancelled on the loop rather than left pending.
        """
        # Run in a copy of the caller's context, so context variables (an
        # OpenTelemetry span, a request id) reach the coroutine on the loop thread.
        future = contextvars.copy_context().run(asyncio.run_coroutine_threadsafe, coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Cancel what is still running, stop the loop and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def cancel_pending() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await loop.shutdown_asyncgens()

        asyncio.run_coroutine_threadsafe(cancel_pending(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def iterate(self, stream: AsyncGenerator[T, None], buffer: int) -> Iterator[T]:
        """Run ``stream`` on the private loop and hand its items to this thread,
        at most ``buffer`` ahead of the consumer."""
        handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, buffer))
        stop = False

        async def pump() -> None:
            try:
                async for result in stream:
                    while True:  # hand over without blocking the loop thread for long
                        try:
                            handoff.put_nowait(("result", result))
                            break
                        except queue.Full:
                            if stop:
                                return
                            await asyncio.sleep(0.001)
                    if stop:
                        return
                handoff.put(("done", None))
            except BaseException as exc:
                handoff.put(("error", exc))
            finally:
                await stream.aclose()

        future = asyncio.run_coroutine_threadsafe(pump(), self.loop)
        try:
            while True:
                kind, value = handoff.get()
                if kind == "result":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            stop = True
            while not future.done():
                try:
                    handoff.get(timeout=0.05)
                except queue.Empty:
                    pass
