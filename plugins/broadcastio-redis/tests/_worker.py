"""One worker process of the shared-limits tests: ``build_orchestrator(config, coordinator=RedisCoordinator(...))``.

Its configuration has one ``webhook`` provider (the broadcastio-webhook plugin, found through its entry point).

Run as ``python _worker.py SETTINGS_JSON``. Sends ``count`` messages (keys
``<name>-<i>``) to the receiver, at most one every ``pace`` seconds when set,
starting at wall time ``start_at``; with ``outbox`` set, journals them there
first. Writes one JSON line per result and per breaker change to ``log``,
then ``{"done": ...}`` with the outbox's final counts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from broadcastio import Message, Metadata, Outbox, build_orchestrator, hookimpl
from broadcastio.events import BreakerChangeEvent, ResultEvent
from broadcastio.plugins import make_plugin_manager
from broadcastio_redis import RedisCoordinator


class EventLog:
    """Breaker changes and every failed delivery (also the deferred ones an outbox run does not yield)."""

    def __init__(self, out: Any) -> None:
        self.out = out

    @hookimpl
    def broadcastio_breaker_changed(self, event: BreakerChangeEvent) -> None:
        self.out.write(json.dumps({"breaker": event.state, "t": time.time()}) + "\n")
        self.out.flush()

    @hookimpl
    def broadcastio_result(self, event: ResultEvent) -> None:
        if event.result.error is not None:
            self.out.write(json.dumps({"failed": str(event.result.error.code), "t": time.time()}) + "\n")
            self.out.flush()


def config_text(settings: dict[str, Any]) -> str:
    """The worker's broadcastio.toml: one webhook provider, built through the installed plugin."""
    lines = [
        "[breaker]",
        f"failure_threshold = {settings.get('threshold', 5)}",
        f"cooldown = {settings.get('cooldown', 30.0)}",
        "[health]",
        "enabled = false",
        "[[providers]]",
        'name = "hook"',
        'type = "webhook"',
    ]
    if settings.get("per_second"):
        lines.append(f"rate_limit = {{ per_second = {settings['per_second']}, burst = {settings.get('burst', 1)} }}")
    if settings.get("max_in_flight"):
        lines.append(f"max_in_flight = {settings['max_in_flight']}")
    lines += ["[providers.settings]", f"url = {json.dumps(settings['url'])}", "timeout = 60.0"]
    lines += ["[providers.settings.headers]", f"X-Worker = {json.dumps(settings['name'])}"]
    return "\n".join(lines) + "\n"


async def main(settings: dict[str, Any]) -> None:
    name = settings["name"]
    config = Path(settings["log"]).with_suffix(".toml")
    config.write_text(config_text(settings), encoding="utf-8")
    lease = settings.get("lease", 30.0)
    coordinator = RedisCoordinator(settings["redis"], namespace=settings["namespace"], lease=lease)
    out = open(settings["log"], "a", encoding="utf-8")  # noqa: ASYNC230, SIM115 - one small local file
    orchestrator = build_orchestrator(
        config,
        plugin_manager=make_plugin_manager(env={"BROADCASTIO_PLUGINS": "webhook"}),
        hooks=[EventLog(out)],
        coordinator=coordinator,
    )

    async def messages() -> AsyncIterator[Message]:
        for index in range(settings["count"]):
            if settings.get("pace"):
                await asyncio.sleep(settings["pace"])
            key = f"{name}-{index}"
            yield Message(recipient="receiver", text=f"{name} {index}", metadata=Metadata(idempotency_key=key))

    await asyncio.sleep(max(0.0, settings["start_at"] - time.time()))
    outbox = Outbox(settings["outbox"]) if settings.get("outbox") else None
    extra: dict[str, Any] = {"outbox": outbox, "campaign": name, "deadline": 60.0} if outbox is not None else {}
    async for result in orchestrator.abroadcast(messages(), concurrency=settings.get("concurrency", 8), **extra):
        error = result.error
        line = {"t": time.time(), "key": result.idempotency_key, "status": result.status}
        if error is not None:
            line.update(code=str(error.code), message=error.message)
        out.write(json.dumps(line) + "\n")
        out.flush()
    counts = {}
    if outbox is not None:
        status = outbox.status()
        counts = {"sent": status.sent, "pending": status.pending, "failed": status.failed, "unknown": status.unknown}
        outbox.close()
    await orchestrator.aclose()
    out.write(json.dumps({"done": counts}) + "\n")
    out.close()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
