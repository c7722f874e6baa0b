"""Receipt endpoints of the WhatsApp providers, against requests signed as each sender signs them.

- Cloud API: the webhook handshake and ``X-Hub-Signature-256`` as Meta's
  webhook documentation describes them, with bodies in its documented shape.
- node-whatsapp: ``X-Broadcastio-Signature`` exactly as its ``src/acks.js``
  signs (``JSON.stringify`` of ``{event, id, ack, at}``, HMAC-SHA256 over
  ``"<t>.<body>"``). node-whatsapp's ack callback is not merged in this tree
  yet, so the service itself is not started here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import broadcastio_whatsapp
import httpx
import pytest
from broadcastio import ConfigurationError, ErrorClass
from broadcastio.receipts import MemoryReceiptSink, ReceiptLevel, receipts_app
from broadcastio.testing import isolated_plugin_manager
from broadcastio_whatsapp import WhatsAppCloudProvider, WhatsAppProvider, ack_signature, hub_signature

APP_SECRET = "meta-app-secret-5d1e"
VERIFY_TOKEN = "verify-me-8842"
ACK_SECRET = "node-ack-secret-0123456789"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjUzMDJCRjI2RTM0MDMA"
NODE_ID = "true_15550100000@c.us_3EB0C767D26A1D6B5B3C"


@pytest.fixture
def sink() -> MemoryReceiptSink:
    return MemoryReceiptSink({WAMID, NODE_ID, "key-1"})


@pytest.fixture
def app(sink: MemoryReceiptSink) -> Any:
    manager = isolated_plugin_manager()
    manager.register(broadcastio_whatsapp, name="whatsapp")
    endpoints = {
        "wa-cloud": {
            "type": "whatsapp-cloud",
            "phone_number_id": "106540352242922",
            "access_token": "graph-token",
            "app_secret": APP_SECRET,
            "webhook_verify_token": VERIFY_TOKEN,
        },
        "wa": {"type": "whatsapp", "ack_secret": ACK_SECRET},
    }
    return receipts_app(sink, endpoints, plugin_manager=manager, public_base_url="https://hooks.example.com")


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8787")


# --- Cloud API ------------------------------------------------------------------------------------


def status(word: str, *, message_id: str = WAMID, key: str | None = "key-1", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": message_id, "status": word, "timestamp": "1750030073", "recipient_id": "16505551234"}
    if key is not None:
        item["biz_opaque_callback_data"] = key
    item.update(extra)
    return item


def webhook(*statuses: dict[str, Any]) -> bytes:
    """A status webhook in the shape Meta documents."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                            "statuses": list(statuses),
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    return json.dumps(payload).encode()


def hub_headers(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": hub_signature(secret, body)}


def test_hub_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hub_signature(APP_SECRET, body) == f"sha256={expected}"


async def test_verification_handshake_echoes_the_challenge(app: Any) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with client(app) as http:
        response = await http.get("/wa-cloud/webhook", params=query)
    assert response.status_code == 200
    assert response.text == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
    ],
)
async def test_handshake_with_a_wrong_token_is_403(app: Any, query: dict[str, str]) -> None:
    async with client(app) as http:
        response = await http.get("/wa-cloud/webhook", params=query)
    assert response.status_code == 403
    assert response.text != "1"


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("sent", ReceiptLevel.SENT),
        ("delivered", ReceiptLevel.DELIVERED),
        ("read", ReceiptLevel.READ),
        ("failed", ReceiptLevel.FAILED),
    ],
)
async def test_statuses_become_levels_with_the_echoed_key(
    app: Any, sink: MemoryReceiptSink, word: str, level: ReceiptLevel
) -> None:
    body = webhook(status(word))
    async with client(app) as http:
        response = await http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body))
    assert response.status_code == 200
    (receipt,) = sink.receipts
    assert (receipt.level, receipt.status, receipt.provider_message_id) == (level, word, WAMID)
    assert receipt.idempotency_key == "key-1"
    assert receipt.provider == "wa-cloud"
    assert receipt.occurred_at.timestamp() == 1750030073


@pytest.mark.parametrize(
    ("code", "error_class"),
    [(131026, ErrorClass.PERMANENT), (131016, ErrorClass.TRANSIENT), (135000, ErrorClass.PERMANENT)],
)
async def test_failed_status_error_codes_are_classified(
    app: Any, sink: MemoryReceiptSink, code: int, error_class: ErrorClass
) -> None:
    errors = [{"code": code, "title": "Message undeliverable", "error_data": {"details": "x"}}]
    body = webhook(status("failed", errors=errors))
    async with client(app) as http:
        assert (await http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body))).status_code == 200
    error = sink.receipts[0].error
    assert error is not None
    assert (error.code, error.error_class) == (f"whatsapp-cloud.{code}", error_class)


async def test_a_batch_an_orphan_a_replay_and_a_stale_status(app: Any, sink: MemoryReceiptSink) -> None:
    body = webhook(status("read"), status("delivered"), status("delivered", message_id="wamid.OTHER", key=None))
    async with client(app) as http:
        assert (await http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body))).status_code == 200
        assert (await http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body))).status_code == 200
    assert sink.outcomes == ["recorded", "stale", "orphaned", "duplicate", "duplicate", "duplicate"]


async def test_a_webhook_without_statuses_records_nothing(app: Any, sink: MemoryReceiptSink) -> None:
    """Incoming messages come to the same webhook: acknowledged, no receipt."""
    payload = {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": [{"id": "x"}]}}]}]}
    body = json.dumps(payload).encode()
    async with client(app) as http:
        assert (await http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body))).status_code == 200
    assert sink.outcomes == []


@pytest.mark.parametrize("case", ["missing", "wrong secret", "sha1 prefix", "tampered", "bare hex"])
async def test_unverifiable_webhooks_are_403(app: Any, sink: MemoryReceiptSink, case: str) -> None:
    body = webhook(status("delivered"))
    headers = hub_headers(body)
    if case == "missing":
        del headers["X-Hub-Signature-256"]
    elif case == "wrong secret":
        headers = hub_headers(body, "another-secret")
    elif case == "sha1 prefix":
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].replace("sha256=", "sha1=")
    elif case == "tampered":
        body = body.replace(b'"delivered"', b'"read"')
    else:
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].removeprefix("sha256=")
    async with client(app) as http:
        response = await http.post("/wa-cloud/webhook", content=body, headers=headers)
    assert response.status_code == 403
    assert sink.outcomes == []


async def test_signed_garbage_is_400_and_oversize_is_413(app: Any, sink: MemoryReceiptSink) -> None:
    garbage = b"not json"
    big = webhook(*[status("delivered", message_id=f"wamid.{n}") for n in range(1000)])
    assert len(big) > 64 * 1024
    async with client(app) as http:
        assert (await http.post("/wa-cloud/webhook", content=garbage, headers=hub_headers(garbage))).status_code == 400
        assert (await http.post("/wa-cloud/webhook", content=big, headers=hub_headers(big))).status_code == 413
    assert sink.outcomes == []


def test_cloud_endpoint_needs_its_secrets() -> None:
    from broadcastio_whatsapp._receipts import cloud_endpoint

    with pytest.raises(ConfigurationError, match="app_secret"):
        cloud_endpoint().handler_factory({"webhook_verify_token": "x"})
    with pytest.raises(ConfigurationError, match="webhook_verify_token"):
        cloud_endpoint().handler_factory({"app_secret": "x"})


def test_cloud_provider_accepts_and_hides_the_webhook_secrets() -> None:
    provider = WhatsAppCloudProvider(
        phone_number_id="1065", access_token="tok", app_secret=APP_SECRET, webhook_verify_token=VERIFY_TOKEN
    )
    assert APP_SECRET not in repr(provider)
    assert VERIFY_TOKEN not in repr(provider)


# --- node-whatsapp --------------------------------------------------------------------------------


def ack_body(ack: str, message_id: str = NODE_ID) -> bytes:
    """What acks.js posts: JSON.stringify({event, id, ack, at}), compact."""
    payload = {"event": "message_ack", "id": message_id, "ack": ack, "at": "2026-12-01T22:00:00.000Z"}
    return json.dumps(payload, separators=(",", ":")).encode()


def ack_headers(body: bytes, *, t: int | None = None, secret: str = ACK_SECRET) -> dict[str, str]:
    timestamp = int(time.time()) if t is None else t
    return {"content-type": "application/json", "X-Broadcastio-Signature": ack_signature(secret, timestamp, body)}


def test_ack_signature_is_hmac_sha256_over_t_dot_body() -> None:
    body = ack_body("read")
    digest = hmac.new(ACK_SECRET.encode(), b"1764626400." + body, hashlib.sha256).hexdigest()
    assert ack_signature(ACK_SECRET, 1764626400, body) == f"t=1764626400,v1={digest}"


@pytest.mark.parametrize(
    ("ack", "level"),
    [
        ("error", ReceiptLevel.FAILED),
        ("pending", ReceiptLevel.ACCEPTED),
        ("server", ReceiptLevel.SENT),
        ("device", ReceiptLevel.DELIVERED),
        ("read", ReceiptLevel.READ),
    ],
)
async def test_acks_become_levels(app: Any, sink: MemoryReceiptSink, ack: str, level: ReceiptLevel) -> None:
    body = ack_body(ack)
    async with client(app) as http:
        response = await http.post("/wa/ack", content=body, headers=ack_headers(body))
    assert response.status_code == 200
    (receipt,) = sink.receipts
    assert (receipt.level, receipt.status, receipt.provider_message_id) == (level, ack, NODE_ID)
    assert receipt.provider_type == "whatsapp"
    assert receipt.occurred_at.isoformat() == "2026-12-01T22:00:00+00:00"
    if level is ReceiptLevel.FAILED:
        assert receipt.error is not None
        assert receipt.error.code == "whatsapp.ACK_ERROR"
    else:
        assert receipt.error is None


@pytest.mark.parametrize("case", ["missing", "wrong secret", "stale", "future", "tampered", "malformed", "no v1"])
async def test_unverifiable_or_stale_acks_are_403(app: Any, sink: MemoryReceiptSink, case: str) -> None:
    """A timestamp more than 300 s away is refused, so a captured callback cannot be replayed later."""
    body = ack_body("read")
    now = int(time.time())
    headers = ack_headers(body)
    if case == "missing":
        del headers["X-Broadcastio-Signature"]
    elif case == "wrong secret":
        headers = ack_headers(body, secret="another-secret-0123456")
    elif case == "stale":
        headers = ack_headers(body, t=now - 301)
    elif case == "future":
        headers = ack_headers(body, t=now + 301)
    elif case == "tampered":
        body = ack_body("error")
    elif case == "malformed":
        headers["X-Broadcastio-Signature"] = "v1=abc,t=soon"
    else:
        headers["X-Broadcastio-Signature"] = f"t={now}"
    async with client(app) as http:
        response = await http.post("/wa/ack", content=body, headers=headers)
    assert response.status_code == 403
    assert sink.outcomes == []


async def test_ack_replays_orphans_and_unknown_acks(app: Any, sink: MemoryReceiptSink) -> None:
    read, other, odd = ack_body("read"), ack_body("device", "true_1@c.us_X"), ack_body("played")
    async with client(app) as http:
        assert (await http.post("/wa/ack", content=read, headers=ack_headers(read))).status_code == 200
        assert (await http.post("/wa/ack", content=read, headers=ack_headers(read))).status_code == 200
        assert (await http.post("/wa/ack", content=other, headers=ack_headers(other))).status_code == 200
        assert (await http.post("/wa/ack", content=odd, headers=ack_headers(odd))).status_code == 400
    assert sink.outcomes == ["recorded", "duplicate", "orphaned"]


def test_node_endpoint_settings() -> None:
    from broadcastio_whatsapp._receipts import node_endpoint

    with pytest.raises(ConfigurationError, match="ack_secret"):
        node_endpoint().handler_factory({})
    with pytest.raises(ConfigurationError, match="ack_tolerance_seconds"):
        node_endpoint().handler_factory({"ack_secret": ACK_SECRET, "ack_tolerance_seconds": 0})
    provider = WhatsAppProvider(ack_secret=ACK_SECRET, ack_tolerance_seconds=60)
    assert ACK_SECRET not in repr(provider)


async def test_a_tighter_tolerance_refuses_sooner(sink: MemoryReceiptSink) -> None:
    manager = isolated_plugin_manager()
    manager.register(broadcastio_whatsapp, name="whatsapp")
    tight = receipts_app(
        sink,
        {"wa": {"type": "whatsapp", "ack_secret": ACK_SECRET, "ack_tolerance_seconds": 10}},
        plugin_manager=manager,
    )
    body = ack_body("read")
    async with client(tight) as http:
        old = await http.post("/wa/ack", content=body, headers=ack_headers(body, t=int(time.time()) - 30))
        fresh = await http.post("/wa/ack", content=body, headers=ack_headers(body))
    assert (old.status_code, fresh.status_code) == (403, 200)


# --- over real HTTP, through `broadcastio receipts serve` -------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_meta_and_node_whatsapp_over_http(tmp_path: Path) -> None:
    """A child process serving both WhatsApp endpoints: Meta's handshake, a signed status webhook,
    a node-whatsapp ack signed as acks.js signs it, and forged ones refused."""
    config = tmp_path / "broadcastio.toml"
    config.write_text(
        '[[providers]]\nname = "wa-cloud"\ntype = "whatsapp-cloud"\n[providers.settings]\n'
        'phone_number_id = "106540352242922"\naccess_token = "graph-token"\n'
        'app_secret = "${META_APP_SECRET}"\nwebhook_verify_token = "${META_VERIFY_TOKEN}"\n'
        '[[providers]]\nname = "wa"\ntype = "whatsapp"\n[providers.settings]\nack_secret = "${WA_ACK_SECRET}"\n',
        encoding="utf-8",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "META_APP_SECRET": APP_SECRET,
        "META_VERIFY_TOKEN": VERIFY_TOKEN,
        "WA_ACK_SECRET": ACK_SECRET,
        "BROADCASTIO_PLUGINS": "whatsapp",
    }
    command = [sys.executable, "-m", "broadcastio", "receipts", "serve", "-c", str(config), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "receipts serve did not start in 20 s"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=5) as http:
            query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
            assert http.get("/wa-cloud/webhook", params=query).text == "42"
            wrong = {**query, "hub.verify_token": "nope"}
            assert http.get("/wa-cloud/webhook", params=wrong).status_code == 403
            body = webhook(status("delivered"))
            assert http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body)).status_code == 200
            assert http.post("/wa-cloud/webhook", content=body, headers=hub_headers(body, "x")).status_code == 403
            ack = ack_body("read")
            assert http.post("/wa/ack", content=ack, headers=ack_headers(ack)).status_code == 200
            stale = ack_headers(ack, t=int(time.time()) - 600)
            assert http.post("/wa/ack", content=ack, headers=stale).status_code == 403
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert [line for line in stdout.splitlines() if line.startswith("receipt ")] == [
        f"receipt wa-cloud {WAMID} delivered recorded",
        f"receipt wa {NODE_ID} read recorded",
    ]
    assert APP_SECRET not in stdout + stderr
    assert ACK_SECRET not in stdout + stderr
