"""One run of a journalled broadcast, to be killed at a random moment.

``python _child.py OUTBOX URL first|again idempotent|plain COUNT``: the
first run broadcasts COUNT messages; a later run resumes what the outbox
holds and then broadcasts the same messages again (stable keys), which
journals whatever a killed run never reached. Prints ``DONE`` at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from broadcastio import Message, Metadata, Orchestrator
from broadcastio.outbox import Outbox
from broadcastio.testing import isolated_plugin_manager
from broadcastio_webhook import WebhookProvider


def messages(count: int) -> Iterator[Message]:
    for i in range(count):
        yield Message(recipient=f"user-{i}", text=f"hello {i}", metadata=Metadata(idempotency_key=f"crash-{i}"))


def main(path: str, url: str, phase: str, mode: str, count: int) -> None:
    provider = WebhookProvider(name="sink", url=url, idempotent=mode == "idempotent", timeout=5.0)
    orchestrator = Orchestrator([provider], plugin_manager=isolated_plugin_manager())
    with Outbox(path, lease_seconds=2.0) as outbox:
        try:
            if phase == "again":
                for _ in orchestrator.resume(outbox, concurrency=64):
                    pass
            for _ in orchestrator.broadcast(messages(count), outbox=outbox, concurrency=64):
                pass
        finally:
            orchestrator.close()
    sys.stdout.write("DONE\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
