"""``matrix``: one ``m.room.message`` event per message, idempotent by transaction id.

``PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId}``: the
homeserver uses the transaction id to make the request idempotent (scoped
to the access token's device), so a retry of the same message with the
same id returns the first event instead of posting twice. The txnId is
derived from the message's idempotency key and the room, so the
orchestrator may retry an ambiguous timeout safely.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import time
import urllib.parse
from typing import Any

import httpx
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorCode,
    Message,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.http import HttpProvider, Response, json_object

from broadcastio_matrix._errors import error_from_answer

__all__ = ["CLIENT_API", "MatrixProvider", "transaction_id"]

CLIENT_API = "/_matrix/client/v3"
_ROOM_ID = re.compile(r"^![^\s:/]{1,255}(:[A-Za-z0-9.\-\[\]:]{1,255})?$")
"""``!opaque:server``, or ``!opaque`` alone (room version 12 ids carry no server name)."""
_ALIAS = re.compile(r"^#[^\s:]{1,255}:[A-Za-z0-9.\-\[\]:]{1,255}$")
_MSGTYPES = frozenset({"m.text", "m.notice"})
_HEALTH_TIMEOUT = 5.0
_USER_AGENT = f"broadcastio-matrix/{importlib.metadata.version('broadcastio-matrix')}"


def transaction_id(idempotency_key: str, room_id: str) -> str:
    """The txnId for one message in one room: stable across retries, distinct per room."""
    digest = hashlib.sha256(f"{room_id}\n{idempotency_key}".encode()).hexdigest()[:32]
    return f"broadcastio.{digest}"


class MatrixProvider(HttpProvider):
    """Sends a text message (m.room.message) to a Matrix room the account has joined.

    The address is a room id (``!AbCdEf:example.org``, or a room version
    12 id without a server name), percent-encoded in the path, or a room
    alias (``#ops:example.org``), resolved through the room directory first.

    :param homeserver: the client-server API base, ``https://matrix.example.org``.
    :param access_token: the bot account's access token; secret, sent only
        as ``Authorization: Bearer``.
    :param msgtype: ``"m.text"`` (default) or ``"m.notice"`` (what bots
        conventionally send; clients show it less loudly).
    """

    channel = "matrix"
    secret_fields = ("access_token",)
    idempotent = True

    def __init__(
        self,
        *,
        name: str = "matrix",
        homeserver: str,
        access_token: str,
        msgtype: str = "m.text",
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(access_token, str) or not access_token or any(c.isspace() for c in access_token):
            raise ConfigurationError(f"provider {name!r}: access_token must be a non-empty token without spaces")
        if msgtype not in _MSGTYPES:
            raise ConfigurationError(f"provider {name!r}: msgtype must be 'm.text' or 'm.notice', got {msgtype!r}")
        if not isinstance(homeserver, str):
            raise ConfigurationError(f"provider {name!r}: homeserver must be a URL string")
        super().__init__(
            name=name,
            channel="matrix",
            base_url=homeserver.rstrip("/"),
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT, "Authorization": f"Bearer {access_token}"},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.homeserver = homeserver
        self.access_token = access_token
        self.msgtype = msgtype

    def _content(self, message: Message) -> dict[str, Any] | DeliveryError:
        if message.attachments:
            return DeliveryError.permanent(
                "matrix.attachments_unsupported", "the Matrix provider sends text only; this message has attachments"
            )
        body = message.text
        if message.subject:
            body = f"{message.subject}\n\n{body}" if body else message.subject
        if not body.strip():
            return DeliveryError.permanent(ErrorCode.REJECTED, "Matrix needs a text body; the message has none")
        content: dict[str, Any] = {"msgtype": self.msgtype, "body": body}
        if message.html:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = message.html
        return content

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One PUT; the homeserver's ``event_id`` is the result's id."""
        room_id = address.strip()
        if not _ROOM_ID.match(room_id) and not _ALIAS.match(room_id):
            return DeliveryResult.failure(
                DeliveryError.permanent(
                    ErrorCode.INVALID_RECIPIENT, "Matrix address must be a room id (!id:server) or alias (#name:server)"
                )
            )
        content = self._content(message)
        if isinstance(content, DeliveryError):
            return DeliveryResult.failure(content)
        if room_id.startswith("#"):
            resolved = await self._resolve(room_id)
            if isinstance(resolved, DeliveryError):
                return DeliveryResult.failure(resolved)
            room_id = resolved
        txn_id = transaction_id(message.metadata.idempotency_key, room_id)
        path = f"{CLIENT_API}/rooms/{urllib.parse.quote(room_id, safe='')}/send/m.room.message/{txn_id}"
        response = await self.request("PUT", path, json=content)
        if isinstance(response, DeliveryError):
            return DeliveryResult.failure(response)
        answer = json_object(response)
        if response.status_code == 200 and isinstance(answer.get("event_id"), str):
            return DeliveryResult.success(answer["event_id"])
        return DeliveryResult.failure(self._error(response, answer))

    async def _resolve(self, alias: str) -> str | DeliveryError:
        """The room id behind ``#alias:server`` (``GET /directory/room/{alias}``); sends nothing."""
        path = f"{CLIENT_API}/directory/room/{urllib.parse.quote(alias, safe='')}"
        response = await self.request("GET", path)
        if isinstance(response, DeliveryError):
            # A look-up that timed out sent no message: transient, never ambiguous.
            return DeliveryError.transient(response.code, f"resolving the room alias: {response.message}")
        answer = json_object(response)
        room_id = answer.get("room_id")
        if response.status_code == 200 and isinstance(room_id, str) and _ROOM_ID.match(room_id):
            return room_id
        if response.status_code == 200:
            return DeliveryError.permanent("matrix.bad_alias_answer", "the homeserver resolved the alias to no room id")
        return self._error(response, answer)

    def _error(self, response: Response, answer: dict[str, Any]) -> DeliveryError:
        if response.status_code == 200:
            return DeliveryError.ambiguous("matrix.no_event_id", "the homeserver answered 200 without an event_id")
        return error_from_answer(
            response.status_code, answer, provider=self.name, retry_after_header=response.headers.get("Retry-After")
        )

    async def health(self) -> ProviderHealth:
        """``GET /account/whoami``: the homeserver answers and the token is valid; sends nothing."""
        started = time.monotonic()
        response = await self.request("GET", f"{CLIENT_API}/account/whoami", timeout=min(self.timeout, _HEALTH_TIMEOUT))
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(response, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"{response.code}: {response.message}", latency_ms=latency_ms)
        answer = json_object(response)
        if response.status_code == 200 and isinstance(answer.get("user_id"), str):
            return ProviderHealth(healthy=True, detail=f"logged in as {answer['user_id']}", latency_ms=latency_ms)
        try:
            error = self._error(response, answer)
        except ConfigurationError as exc:
            return ProviderHealth(healthy=False, detail=str(exc), latency_ms=latency_ms)
        return ProviderHealth(healthy=False, detail=f"{error.code}: {error.message}", latency_ms=latency_ms)
