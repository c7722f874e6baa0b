"""broadcastio.receipts counts each receipt by provider type, level and outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import httpx
from broadcastio import hookimpl
from broadcastio.receipts import (
    MemoryReceiptSink,
    Receipt,
    ReceiptEndpoint,
    ReceiptHandler,
    ReceiptLevel,
    ReceiptReply,
    ReceiptRequest,
    receipts_app,
)
from broadcastio.testing import isolated_plugin_manager
from broadcastio_otel import OpenTelemetryHooks


class Gateway:
    """A receipt endpoint whose body is ``<message id> <status>`` (no signature: counting is under test)."""

    @staticmethod
    def factory(settings: Mapping[str, Any]) -> ReceiptHandler:
        def handle(request: ReceiptRequest) -> ReceiptReply:
            message_id, word = request.body.decode().split()
            receipt = Receipt(
                provider_type="gateway",
                receipt_id=f"{message_id}:{word}",
                provider_message_id=message_id,
                level=ReceiptLevel[word.upper()],
                status=word,
                occurred_at=dt.datetime.now(dt.UTC),
            )
            return ReceiptReply(receipts=(receipt,))

        return handle

    @hookimpl
    def broadcastio_receipt_endpoints(self) -> list[ReceiptEndpoint]:
        return [ReceiptEndpoint(provider_type="gateway", path="/r", methods=("POST",), handler_factory=self.factory)]


async def test_receipts_are_counted_by_type_level_and_outcome(telemetry: Any, hooks: OpenTelemetryHooks) -> None:
    manager = isolated_plugin_manager()
    manager.register(Gateway(), name="gateway")
    manager.register(hooks, name="otel")
    app = receipts_app(MemoryReceiptSink({"M1"}), {"gw": {"type": "gateway"}}, plugin_manager=manager)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for body in ("M1 delivered", "M1 delivered", "M1 sent", "M2 read"):
            assert (await http.post("/gw/r", content=body)).status_code == 200
    points = {tuple(sorted(a.items())): p.value for a, p in telemetry.points("broadcastio.receipts")}

    def key(level: str, outcome: str) -> tuple[tuple[str, str], ...]:
        return (
            ("broadcastio.provider.type", "gateway"),
            ("broadcastio.receipt.level", level),
            ("broadcastio.receipt.outcome", outcome),
        )

    assert points == {
        key("delivered", "recorded"): 1,
        key("delivered", "duplicate"): 1,
        key("sent", "stale"): 1,
        key("read", "orphaned"): 1,
    }
