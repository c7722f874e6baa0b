"""The library is silent unless asked: a program that configures no logging sees nothing.

A child process sends through every installed plugin (a delivery and a
failure each, health checks, close) with every entry point loaded (so the
otel hooks run too) and no logging configured; its stdout and stderr must be
empty. The SMTP server runs in this process (real aiosmtpd on 127.0.0.1);
the HTTP providers answer through httpx.MockTransport in the API's shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from broadcastio.testing.servers import closed_port

pytestmark = pytest.mark.timeout(120)

CHILD = r"""
import asyncio, json, sys
import httpx
from broadcastio import Message, Orchestrator, Recipient
from broadcastio.plugins import make_plugin_manager
from broadcastio_email import EmailProvider
from broadcastio_sms import TwilioSmsProvider
from broadcastio_telegram import TelegramProvider
from broadcastio_webhook import WebhookProvider
from broadcastio_whatsapp import WhatsAppCloudProvider, WhatsAppProvider

SMTP_PORT, CLOSED_PORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi"

def answer(request):
    path = request.url.path
    if request.method == "GET" and path.endswith(".json"):
        return httpx.Response(200, json={"sid": "AC" + "0" * 32, "status": "active"})
    if request.method == "GET":
        return httpx.Response(200, json={"status": "ok", "state": "ready", "ok": True, "result": {"id": 1}})
    if b"broken" in request.content:
        return httpx.Response(500, json={"error": {"message": "boom", "code": 1}, "ok": False, "error_code": 500})
    if path.endswith("/Messages.json"):
        return httpx.Response(201, json={"sid": "SM" + "0" * 32, "status": "queued"})
    if "/bot" in path:
        return httpx.Response(200, json={"ok": True, "result": {"message_id": 7}})
    if path.endswith("/messages") and "/v" in path:
        return httpx.Response(200, json={"messages": [{"id": "wamid.1"}]})
    return httpx.Response(200, json={"id": "1", "to": "x", "replayed": False})

mock = httpx.MockTransport(answer)
providers = [
    EmailProvider(host="127.0.0.1", port=SMTP_PORT, from_address="alerts@example.com", tls="none"),
    TwilioSmsProvider(account_sid="AC" + "0" * 32, auth_token="t" * 32, from_number="+15005550006", transport=mock),
    TelegramProvider(token=TOKEN, transport=mock),
    WebhookProvider(url="http://127.0.0.1:9/hook", secret="s3cret", transport=mock),
    WhatsAppProvider(base_url="http://127.0.0.1:9", token="t", transport=mock),
    WhatsAppCloudProvider(phone_number_id="1234", access_token="a" * 20, transport=mock),
]
unreachable = EmailProvider(
    name="email-down", host="127.0.0.1", port=CLOSED_PORT, from_address="a@example.com", tls="none"
)

async def main():
    results = {}
    alice = Recipient(phone="+14155550101", email="alice@example.com", telegram="12345", addresses={"webhook": "alice"})
    for provider in [*providers, unreachable]:
        async with Orchestrator([provider], plugin_manager=make_plugin_manager()) as orchestrator:
            await orchestrator.ahealth()
            for text in ("hello", "broken"):
                result = await orchestrator.asend(Message(recipient=alice, text=text), trace=True)
                results[f"{provider.name}:{text}"] = result.status
    with open(OUT, "w") as out:
        json.dump(results, out)

asyncio.run(main())
"""


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        return "554 5.6.0 refused" if b"broken" in content else "250 OK"


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = closed_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_no_output_without_logging_configured(smtp_port: int, tmp_path: Path) -> None:
    """Sends, failures and health checks through every plugin write nothing to stdout or stderr."""
    out = tmp_path / "results.json"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(smtp_port), str(closed_port()), str(out)],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONWARNINGS": "default"},
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout == ""
    assert child.stderr == ""
    results = json.loads(out.read_text())
    delivered = {key.removesuffix(":hello") for key, status in results.items() if status == "delivered"}
    assert delivered == {"email", "sms", "telegram", "webhook", "whatsapp", "whatsapp-cloud"}, results
    assert results["email-down:hello"] == "failed"
