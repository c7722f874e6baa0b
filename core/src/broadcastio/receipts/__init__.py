"""Delivery receipts in: signed provider callbacks, verified and recorded.

:func:`receipts_app` is an ASGI application (Starlette) to serve on its own
(``broadcastio receipts serve``) or mount inside a FastAPI/Starlette app.
Plugins contribute each provider's endpoint through the
``broadcastio_receipt_endpoints`` hook; every endpoint checks the
provider's signature before anything else. Needs the ``receipts`` extra
(``pip install 'broadcastio[receipts]'``) for the app; the records and the
handlers do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from broadcastio.receipts._endpoint import (
    DEFAULT_MAX_BODY_BYTES,
    ReceiptEndpoint,
    ReceiptHandler,
    ReceiptReply,
    ReceiptRequest,
    signatures_match,
)
from broadcastio.receipts._memory import MemoryReceiptSink
from broadcastio.receipts._model import Receipt, ReceiptLevel, ReceiptSink, RecordOutcome

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from broadcastio.plugins import PluginManager

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MemoryReceiptSink",
    "Receipt",
    "ReceiptEndpoint",
    "ReceiptHandler",
    "ReceiptLevel",
    "ReceiptReply",
    "ReceiptRequest",
    "ReceiptSink",
    "RecordOutcome",
    "receipts_app",
    "signatures_match",
]


def receipts_app(
    sink: ReceiptSink,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    plugin_manager: PluginManager | None = None,
    public_base_url: str | None = None,
) -> Starlette:
    """The receipts ASGI application.

    :param sink: where verified receipts are recorded.
    :param endpoints: the providers to receive receipts for: provider name to
        its settings with its ``type`` (the ``[[providers]]`` entries of
        ``broadcastio.toml``, where the secrets are). Each provider whose
        type has a registered endpoint is served at ``/<name><path>``
        (``/sms/status``, ``/whatsapp-cloud/webhook``, ``/whatsapp/ack``).
    :param max_body_bytes: longer bodies are refused with 413, unread.
    :param plugin_manager: where the endpoints come from and the
        ``broadcastio_receipt`` hooks go (default: the installed plugins).
    :param public_base_url: the URL at which providers reach this app (behind
        TLS termination or when mounted under a prefix, e.g.
        ``https://hooks.example.com/receipts``); Twilio signs the full URL,
        so it must be exactly what the provider called. Default: the URL the
        request arrived at.
    :raises ConfigurationError: a secret an endpoint needs is missing, or a bad argument.
    """
    from broadcastio.receipts._app import build_app

    return build_app(
        sink,
        endpoints,
        max_body_bytes=max_body_bytes,
        plugin_manager=plugin_manager,
        public_base_url=public_base_url,
    )
