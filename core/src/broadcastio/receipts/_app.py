"""The receipts ASGI application: one Starlette route per configured provider endpoint.

Each request is read up to the size cap (a longer body is refused with 413
before it is read whole), handed to the provider's handler, which verifies
the signature before anything else, and only then are the receipts of a 2xx
reply recorded by the sink and reported to ``broadcastio_receipt`` hooks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from msgspec import structs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from broadcastio._dispatch import HookDispatcher
from broadcastio._errors import ConfigurationError, PluginError
from broadcastio.events import ReceiptEvent
from broadcastio.plugins import PluginManager, make_plugin_manager
from broadcastio.receipts._endpoint import (
    DEFAULT_MAX_BODY_BYTES,
    ReceiptEndpoint,
    ReceiptHandler,
    ReceiptRequest,
)
from broadcastio.receipts._model import ReceiptSink

__all__ = ["build_app", "receipt_endpoints"]

_log = structlog.get_logger("broadcastio.receipts")


class _TooLarge(Exception):
    pass


def receipt_endpoints(plugin_manager: PluginManager) -> dict[str, list[ReceiptEndpoint]]:
    """The endpoints every plugin registered, by provider type."""
    found: dict[str, list[ReceiptEndpoint]] = {}
    for impl in plugin_manager.hook.broadcastio_receipt_endpoints.get_hookimpls():
        owner = plugin_manager.get_name(impl.plugin) or repr(impl.plugin)
        records: Iterable[object] = impl.function() or ()  # type: ignore[assignment]
        for record in records:
            if not isinstance(record, ReceiptEndpoint):
                raise PluginError(f"plugin {owner!r} registered {record!r}, not a ReceiptEndpoint")
            found.setdefault(record.provider_type, []).append(record)
    return found


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _route_path(request: Request) -> str:
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


class _Served:
    """One provider's endpoint: its handler and where its receipts go."""

    def __init__(
        self,
        *,
        provider: str,
        handler: ReceiptHandler,
        sink: ReceiptSink,
        hooks: HookDispatcher,
        public_base_url: str | None,
        max_body_bytes: int,
    ) -> None:
        self.provider = provider
        self.handler = handler
        self.sink = sink
        self.hooks = hooks
        self.public_base_url = public_base_url
        self.max_body_bytes = max_body_bytes

    def _public_url(self, request: Request) -> str:
        if self.public_base_url is not None:
            base = self.public_base_url
        else:
            base = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        query = request.url.query
        return base.rstrip("/") + _route_path(request) + (f"?{query}" if query else "")

    async def handle(self, request: Request) -> Response:
        try:
            body = await _read_capped(request, self.max_body_bytes)
        except _TooLarge:
            _log.info("receipts.too_large", provider=self.provider, limit=self.max_body_bytes)
            return PlainTextResponse("body too large", status_code=413, headers={"Connection": "close"})
        incoming = ReceiptRequest(
            method=request.method,
            url=self._public_url(request),
            headers={key.lower(): value for key, value in request.headers.items()},
            query=dict(request.query_params),
            body=body,
            received_at_unix=time.time(),
        )
        reply = self.handler(incoming)
        if not 200 <= reply.status < 300:
            _log.info("receipts.refused", provider=self.provider, status=reply.status, reason=reply.body)
            return Response(reply.body, status_code=reply.status, media_type=reply.content_type)
        for receipt in reply.receipts:
            receipt = structs.replace(receipt, provider=self.provider)
            outcome = await self.sink.record(receipt)
            _log.debug(
                "receipts.recorded",
                provider=self.provider,
                status=receipt.status,
                level=receipt.level.name.lower(),
                outcome=outcome,
            )
            if self.hooks.wants("broadcastio_receipt"):
                self.hooks.fire("broadcastio_receipt", ReceiptEvent(receipt=receipt, outcome=outcome))
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type)


async def _healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app(
    sink: ReceiptSink,
    endpoints: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    plugin_manager: PluginManager | None = None,
    public_base_url: str | None = None,
) -> Starlette:
    """See :func:`broadcastio.receipts.receipts_app`."""
    if not isinstance(sink, ReceiptSink):
        raise ConfigurationError(f"receipts_app: sink must have an async record(receipt), got {type(sink).__name__}")
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise ConfigurationError(f"receipts_app: max_body_bytes must be a positive integer, got {max_body_bytes!r}")
    if public_base_url is not None and not public_base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"receipts_app: public_base_url must be an http:// or https:// URL, got {public_base_url!r}"
        )
    manager = plugin_manager if plugin_manager is not None else make_plugin_manager()
    hooks = HookDispatcher(manager)
    registered = receipt_endpoints(manager)
    routes: list[Route] = [Route("/healthz", _healthz, methods=["GET"])]
    for name, settings in (endpoints or {}).items():
        provider_type = settings.get("type")
        if not isinstance(provider_type, str):
            raise ConfigurationError(f"receipts_app: provider {name!r} needs a 'type'")
        options = {key: value for key, value in settings.items() if key != "type"}
        for endpoint in registered.get(provider_type, ()):
            try:
                handler = endpoint.handler_factory(options)
            except ConfigurationError as exc:
                raise ConfigurationError(f"receipts for provider {name!r}: {exc}") from None
            served = _Served(
                provider=name,
                handler=handler,
                sink=sink,
                hooks=hooks,
                public_base_url=public_base_url,
                max_body_bytes=max_body_bytes,
            )
            routes.append(Route(f"/{name}{endpoint.path}", served.handle, methods=list(endpoint.methods)))
    return Starlette(routes=routes)
