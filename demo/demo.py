"""The main job, runnable with no service at all.

Sends two messages through an orchestrator whose first provider is
scripted to fail (transient, then permanent) and whose fallback is the
``file`` provider, then prints both traces and what landed on disk.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from broadcastio import (
    DeliveryError,
    ErrorCode,
    FileProvider,
    MemoryProvider,
    Message,
    Orchestrator,
    Recipient,
    RetryPolicy,
)
from broadcastio.testing import isolated_plugin_manager

from trace_table import render_trace  # type: ignore[import-not-found]


def main() -> None:
    outbox = Path(tempfile.mkdtemp(prefix="broadcastio-demo-"))
    flaky_sms = MemoryProvider("sms-gateway", "sms")
    flaky_sms.script(
        DeliveryError.transient(ErrorCode.SERVICE_UNAVAILABLE, "gateway busy", retry_after=0.2),
        DeliveryError.transient(ErrorCode.SERVICE_UNAVAILABLE, "gateway still busy"),
    )
    email_outbox = FileProvider("email-outbox", "email", directory=outbox)
    orchestrator = Orchestrator(
        [flaky_sms, email_outbox],
        retry=RetryPolicy(max_attempts=2, backoff="exponential", base_delay=0.1, max_delay=1.0),
        plugin_manager=isolated_plugin_manager(),
    )
    alice = Recipient(phone="+15550100001", email="alice@example.com", name="Alice")
    with orchestrator:
        first = orchestrator.send(Message(recipient=alice, subject="Disk alert", text="db-1 is 91% full"), trace=True)
        print(render_trace("1. SMS gateway busy twice, falls back to email", first))
        second = orchestrator.send(Message(recipient=alice, text="db-1 is back to 60%"), trace=True)
        print(render_trace("2. SMS gateway recovered", second))
    print(f"\n{email_outbox.path} now holds:")
    print(email_outbox.path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
