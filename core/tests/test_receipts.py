"""The receipts app: signature first, size cap, orphans, replays, hooks, mounting.

A small test plugin registers a receipt endpoint signed with HMAC-SHA256 of
the body (the providers' own endpoints are tested in their plugins).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from broadcastio import ConfigurationError, DeliveryError, PluginError, ReceiptEvent, hookimpl
from broadcastio.receipts import (
    MemoryReceiptSink,
    Receipt,
    ReceiptEndpoint,
    ReceiptHandler,
    ReceiptLevel,
    ReceiptReply,
    ReceiptRequest,
    receipts_app,
    signatures_match,
)
from broadcastio.testing import isolated_plugin_manager
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

SECRET = "test-secret-0123456789"
LEVELS = {"sent": ReceiptLevel.SENT, "delivered": ReceiptLevel.DELIVERED, "failed": ReceiptLevel.FAILED}


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class EchoPlugin:
    """Registers ``/<name>/hook`` for provider type ``echo``; records what handlers saw."""

    def __init__(self) -> None:
        self.seen: list[ReceiptRequest] = []
        self.parsed = 0

    def factory(self, settings: Mapping[str, Any]) -> ReceiptHandler:
        secret = settings.get("secret")
        if not isinstance(secret, str):
            raise ConfigurationError("echo receipts need 'secret'")

        def handle(request: ReceiptRequest) -> ReceiptReply:
            self.seen.append(request)
            if not signatures_match(sign(request.body, secret), request.headers.get("x-sig")):
                return ReceiptReply.forbidden("bad signature")
            self.parsed += 1
            body = json.loads(request.body)
            receipts = tuple(
                Receipt(
                    provider_type="echo",
                    receipt_id=f"{item['id']}:{item['status']}",
                    provider_message_id=item["id"],
                    level=LEVELS[item["status"]],
                    status=item["status"],
                    error=DeliveryError.permanent("echo.failed", "gone") if item["status"] == "failed" else None,
                    occurred_at=dt.datetime.now(dt.UTC),
                )
                for item in body
            )
            return ReceiptReply(receipts=receipts, body="ok")

        return handle

    @hookimpl
    def broadcastio_receipt_endpoints(self) -> list[ReceiptEndpoint]:
        return [ReceiptEndpoint(provider_type="echo", path="/hook", methods=("POST",), handler_factory=self.factory)]


class ReceiptRecorder:
    def __init__(self) -> None:
        self.events: list[ReceiptEvent] = []

    @hookimpl
    def broadcastio_receipt(self, event: ReceiptEvent) -> None:
        self.events.append(event)


class Broken:
    @hookimpl
    def broadcastio_receipt(self, event: ReceiptEvent) -> None:
        raise RuntimeError("observer bug")


@pytest.fixture
def plugin() -> EchoPlugin:
    return EchoPlugin()


@pytest.fixture
def recorder() -> ReceiptRecorder:
    return ReceiptRecorder()


def make_app(plugin: EchoPlugin, sink: MemoryReceiptSink, *hooks: object, **options: Any) -> Starlette:
    manager = isolated_plugin_manager()
    manager.register(plugin, name="echo")
    for index, hook in enumerate(hooks):
        manager.register(hook, name=f"hook{index}")
    return receipts_app(sink, {"gw": {"type": "echo", "secret": SECRET}}, plugin_manager=manager, **options)


def client(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def body_of(*items: tuple[str, str]) -> bytes:
    return json.dumps([{"id": message_id, "status": status} for message_id, status in items]).encode()


async def test_signed_receipt_is_recorded_and_reported(plugin: EchoPlugin, recorder: ReceiptRecorder) -> None:
    """A correctly signed callback is 200; the sink records it with the provider name; the hook sees it."""
    sink = MemoryReceiptSink({"M1"})
    body = body_of(("M1", "delivered"))
    async with client(make_app(plugin, sink, recorder)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 200
    assert response.text == "ok"
    assert [r.provider_message_id for r in sink.receipts] == ["M1"]
    assert sink.receipts[0].provider == "gw"
    assert sink.level_of("M1") is ReceiptLevel.DELIVERED
    assert [(e.receipt.status, e.outcome) for e in recorder.events] == [("delivered", "recorded")]


@pytest.mark.parametrize("signature", [None, "", "0" * 64, "not-hex"])
async def test_bad_or_missing_signature_is_403_and_records_nothing(
    plugin: EchoPlugin, recorder: ReceiptRecorder, signature: str | None
) -> None:
    """No signature, an empty one or a wrong one: 403, nothing parsed, recorded or reported."""
    sink = MemoryReceiptSink()
    body = body_of(("M1", "delivered"))
    headers = {} if signature is None else {"X-Sig": signature}
    async with client(make_app(plugin, sink, recorder)) as http:
        response = await http.post("/gw/hook", content=body, headers=headers)
    assert response.status_code == 403
    assert plugin.parsed == 0
    assert sink.receipts == []
    assert sink.orphans == []
    assert sink.outcomes == []
    assert recorder.events == []


async def test_signature_with_another_secret_is_refused(plugin: EchoPlugin) -> None:
    sink = MemoryReceiptSink()
    body = body_of(("M1", "delivered"))
    async with client(make_app(plugin, sink)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body, "another-secret")})
    assert response.status_code == 403
    assert sink.outcomes == []


async def test_unknown_message_is_200_and_kept_as_orphan(plugin: EchoPlugin, recorder: ReceiptRecorder) -> None:
    """A receipt for a message the sink does not know is acknowledged (so the provider stops) and kept."""
    sink = MemoryReceiptSink({"M1"})
    body = body_of(("NOPE", "delivered"))
    async with client(make_app(plugin, sink, recorder)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 200
    assert [r.provider_message_id for r in sink.orphans] == ["NOPE"]
    assert sink.receipts == []
    assert [e.outcome for e in recorder.events] == ["orphaned"]


async def test_replay_is_idempotent(plugin: EchoPlugin, recorder: ReceiptRecorder) -> None:
    """The same receipt twice is 200 both times and recorded once."""
    sink = MemoryReceiptSink({"M1"})
    body = body_of(("M1", "sent"))
    async with client(make_app(plugin, sink, recorder)) as http:
        for _ in range(3):
            response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
            assert response.status_code == 200
    assert len(sink.receipts) == 1
    assert [e.outcome for e in recorder.events] == ["recorded", "duplicate", "duplicate"]


async def test_levels_only_rise_and_failed_is_terminal(plugin: EchoPlugin) -> None:
    """sent after delivered is stale; failed after sent is recorded; anything after failed is stale."""
    sink = MemoryReceiptSink({"A", "B"})
    body = body_of(("A", "delivered"), ("A", "sent"), ("B", "sent"), ("B", "failed"), ("B", "delivered"))
    async with client(make_app(plugin, sink)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 200
    assert sink.outcomes == ["recorded", "stale", "recorded", "recorded", "stale"]
    assert sink.level_of("A") is ReceiptLevel.DELIVERED
    assert sink.level_of("B") is ReceiptLevel.FAILED
    assert sink.receipts[3].error is not None
    assert sink.receipts[3].error.code == "echo.failed"


async def test_declared_oversize_body_is_413_without_the_handler(plugin: EchoPlugin) -> None:
    sink = MemoryReceiptSink()
    body = b"[" + b" " * 5000 + b"]"
    async with client(make_app(plugin, sink, max_body_bytes=1024)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 413
    assert plugin.seen == []
    assert sink.outcomes == []


async def test_streamed_oversize_body_is_refused_before_it_is_read_whole(plugin: EchoPlugin) -> None:
    """Without a Content-Length, the app stops pulling chunks once the cap is passed."""
    app = make_app(plugin, MemoryReceiptSink(), max_body_bytes=4096)
    pulled = 0
    chunks = 100

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": pulled < chunks}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/gw/hook",
        "raw_path": b"/gw/hook",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert pulled <= 6, f"read {pulled} chunks of 1 KiB for a 4 KiB cap"
    assert plugin.seen == []


async def test_a_failing_hook_does_not_change_the_answer(plugin: EchoPlugin, recorder: ReceiptRecorder) -> None:
    sink = MemoryReceiptSink()
    body = body_of(("M1", "delivered"))
    async with client(make_app(plugin, sink, Broken(), recorder)) as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 200
    assert len(recorder.events) == 1
    assert sink.outcomes == ["recorded"]


async def test_mounted_under_a_prefix_the_handler_sees_the_public_url(plugin: EchoPlugin) -> None:
    """Inside a Starlette app at /receipts, the handler's URL is the public base URL + the endpoint path + query."""
    sink = MemoryReceiptSink()
    inner = make_app(plugin, sink, public_base_url="https://hooks.example.com/receipts/")
    outer = Starlette(routes=[Mount("/receipts", app=inner)])
    body = body_of(("M1", "delivered"))
    async with client(outer) as http:
        response = await http.post("/receipts/gw/hook?key=k1", content=body, headers={"X-Sig": sign(body)})
        missing = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 200
    assert plugin.seen[0].url == "https://hooks.example.com/receipts/gw/hook?key=k1"
    assert plugin.seen[0].query == {"key": "k1"}
    assert missing.status_code == 404
    assert sink.outcomes == ["recorded"]


async def test_without_public_url_the_request_url_is_used(plugin: EchoPlugin) -> None:
    sink = MemoryReceiptSink()
    body = body_of(("M1", "delivered"))
    async with client(make_app(plugin, sink), base_url="http://127.0.0.1:9999") as http:
        await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert plugin.seen[0].url == "http://127.0.0.1:9999/gw/hook"


async def test_wrong_method_is_refused(plugin: EchoPlugin) -> None:
    async with client(make_app(plugin, MemoryReceiptSink())) as http:
        response = await http.get("/gw/hook")
    assert response.status_code == 405
    assert plugin.seen == []


def test_missing_secret_is_a_configuration_error_naming_the_provider(plugin: EchoPlugin) -> None:
    manager = isolated_plugin_manager()
    manager.register(plugin, name="echo")
    with pytest.raises(ConfigurationError, match="'gw'.*secret"):
        receipts_app(MemoryReceiptSink(), {"gw": {"type": "echo"}}, plugin_manager=manager)


def test_bad_arguments_are_configuration_errors() -> None:
    manager = isolated_plugin_manager()
    with pytest.raises(ConfigurationError, match="sink"):
        receipts_app(object(), plugin_manager=manager)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="max_body_bytes"):
        receipts_app(MemoryReceiptSink(), max_body_bytes=0, plugin_manager=manager)
    with pytest.raises(ConfigurationError, match="public_base_url"):
        receipts_app(MemoryReceiptSink(), public_base_url="hooks.example.com", plugin_manager=manager)
    with pytest.raises(ConfigurationError, match="type"):
        receipts_app(MemoryReceiptSink(), {"gw": {"secret": "x"}}, plugin_manager=manager)
    with pytest.raises(ConfigurationError, match="path"):
        ReceiptEndpoint(provider_type="x", path="hook", methods=("POST",), handler_factory=lambda s: None)  # type: ignore[arg-type,return-value]


def test_a_plugin_registering_something_else_is_refused() -> None:
    class Wrong:
        @hookimpl
        def broadcastio_receipt_endpoints(self) -> list[object]:
            return ["not an endpoint"]

    manager = isolated_plugin_manager()
    manager.register(Wrong(), name="wrong")
    with pytest.raises(PluginError, match="not a ReceiptEndpoint"):
        receipts_app(MemoryReceiptSink(), plugin_manager=manager)


async def test_providers_without_receipts_get_no_route(plugin: EchoPlugin) -> None:
    manager = isolated_plugin_manager()
    manager.register(plugin, name="echo")
    app = receipts_app(MemoryReceiptSink(), {"mail": {"type": "email", "host": "x"}}, plugin_manager=manager)
    async with client(app) as http:
        assert (await http.post("/mail/hook", content=b"[]")).status_code == 404
        assert (await http.get("/healthz")).text == "ok"


def test_signatures_match_is_strict() -> None:
    assert signatures_match("abc", "abc")
    assert signatures_match(b"abc", "abc")
    assert not signatures_match("abc", None)
    assert not signatures_match("abc", "abd")
    assert not signatures_match("abc", "")


async def test_memory_sink_matches_by_idempotency_key_too() -> None:
    sink = MemoryReceiptSink({"key-1"})
    receipt = Receipt(
        provider_type="sms",
        receipt_id="r1",
        provider_message_id="SM1",
        idempotency_key="key-1",
        level=ReceiptLevel.SENT,
        status="sent",
        occurred_at=dt.datetime.now(dt.UTC),
    )
    assert await sink.record(receipt) == "recorded"
    assert sink.level_of("key-1") is ReceiptLevel.SENT
    assert sink.level_of("SM1") is ReceiptLevel.SENT


# --- broadcastio receipts serve (its refusals; serving is tested as a child process in broadcastio-sms) -----


def _serve(tmp_path: Any, *args: str) -> Any:
    from broadcastio.cli import CliState, cli
    from click.testing import CliRunner

    config = tmp_path / "broadcastio.toml"
    config.write_text('[[providers]]\nname = "mem"\ntype = "memory"\n', encoding="utf-8")
    state = CliState(plugin_manager_factory=isolated_plugin_manager, env={})
    return CliRunner().invoke(cli, ["receipts", "serve", "-c", str(config), *args], obj=state)


def test_serve_wants_an_existing_outbox(tmp_path: Any) -> None:
    result = _serve(tmp_path, "--outbox", str(tmp_path / "box.db"))
    assert result.exit_code == 2
    assert "no outbox at" in result.output


def test_serve_without_a_receipt_endpoint_is_a_usage_error(tmp_path: Any) -> None:
    result = _serve(tmp_path, "--port", "1")
    assert result.exit_code == 2
    assert "no configured provider has a receipt endpoint" in result.output


async def test_a_failing_sink_answers_500_so_the_provider_tries_again(plugin: EchoPlugin) -> None:
    class Locked(MemoryReceiptSink):
        async def record(self, receipt: Receipt) -> Any:
            raise OSError("database is locked")

    body = body_of(("M1", "delivered"))
    app = make_app(plugin, Locked())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/gw/hook", content=body, headers={"X-Sig": sign(body)})
    assert response.status_code == 500


# --- the memory sink's invariants, for any order of receipts --------------------------------------

_RECEIPTS = st.lists(
    st.tuples(st.sampled_from(["A", "B", "X"]), st.sampled_from(list(ReceiptLevel))),
    max_size=30,
)


@given(_RECEIPTS)
def test_memory_sink_levels_never_fall_and_replays_change_nothing(items: list[tuple[str, ReceiptLevel]]) -> None:
    """Whatever arrives, in any order and repeated: each receipt_id counts once, a known message's
    level only rises until FAILED, which is final, and unknown messages stay orphans."""
    sink = MemoryReceiptSink({"A", "B"})
    seen: set[str] = set()
    expected: dict[str, ReceiptLevel] = {}

    async def run() -> None:
        for message_id, level in items:
            receipt = Receipt(
                provider_type="x",
                receipt_id=f"{message_id}:{level.name}",
                provider_message_id=message_id,
                level=level,
                status=level.name.lower(),
                occurred_at=dt.datetime.now(dt.UTC),
            )
            before = sink.level_of(message_id)
            outcome = await sink.record(receipt)
            if receipt.receipt_id in seen:
                assert outcome == "duplicate"
            elif message_id == "X":
                assert outcome == "orphaned"
            elif before is None or (
                before is not ReceiptLevel.FAILED and (level is ReceiptLevel.FAILED or level > before)
            ):
                assert outcome == "recorded"
                expected[message_id] = level
            else:
                assert outcome == "stale"
            seen.add(receipt.receipt_id)
            after = sink.level_of(message_id)
            if before is ReceiptLevel.FAILED:
                assert after is ReceiptLevel.FAILED

    asyncio.run(run())
    assert {key: sink.level_of(key) for key in expected} == expected
    assert sink.level_of("X") is None
    assert len(sink.receipts) + len(sink.orphans) == len(seen)
