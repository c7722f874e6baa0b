"""``telegram``: messages and documents through the Telegram Bot API.

Text goes out with ``sendMessage``; each attachment with ``sendDocument``
(a multipart upload), the text riding as the first document's caption when
it fits. The Bot API has no idempotency key, so sends are not idempotent
and a timeout after the request was written is ambiguous.
"""

from __future__ import annotations

import importlib.metadata
import re
import time
from typing import Any

import httpx
from broadcastio import (
    Attachment,
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorCode,
    Message,
    ProviderHealth,
    RetryPolicy,
    error_from_exception,
)
from broadcastio.http import HttpProvider, json_object, parse_retry_after
from broadcastio.logs import MASK, get_logger, redact_url_pattern, scrub

from broadcastio_telegram._errors import error_from_answer

__all__ = ["CAPTION_LIMIT", "DEFAULT_BASE_URL", "TEXT_LIMIT", "TOKEN_PATTERN", "TelegramProvider", "redact_tokens"]

TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
"""What a Bot API token looks like: the bot id, a colon, a URL-safe secret."""

# The Bot API puts the token in the URL path (``/bot<token>/sendMessage``) and httpx logs every
# request URL at INFO: core's filter on that logger, and ``scrub``, mask anything token-shaped.
_ANY_TOKEN = re.compile(r"\d{1,20}(?::|%3[Aa])[A-Za-z0-9_-]{20,100}")
redact_url_pattern(_ANY_TOKEN, MASK)


def redact_tokens(text: str) -> str:
    """``text`` with anything shaped like a bot token replaced by ``***``."""
    return _ANY_TOKEN.sub(MASK, text)


DEFAULT_BASE_URL = "https://api.telegram.org"
TEXT_LIMIT = 4096
"""Characters ``sendMessage`` accepts (after entity parsing)."""
CAPTION_LIMIT = 1024
"""Characters a document caption may have."""

_PARSE_MODES = {"html": "HTML", "markdownv2": "MarkdownV2", "markdown": "Markdown"}
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
_USER_AGENT = f"broadcastio-telegram/{importlib.metadata.version('broadcastio-telegram')}"

log = get_logger("broadcastio.telegram")


class TelegramProvider(HttpProvider):
    """Sends to a Telegram chat as a bot.

    The address is a chat id (``123456789``, ``-1001234567890``) or a public
    channel's ``@username``.

    :param token: the bot token from BotFather (secret: it is part of every
        URL, so it is masked in errors, repr and httpx's request log).
    :param parse_mode: ``"HTML"``, ``"MarkdownV2"`` or ``"Markdown"`` to have
        Telegram format the text; None sends it as plain text.
    :param base_url: API root; tests point it at a local server.
    """

    channel = "telegram"
    secret_fields = ("token",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "telegram",
        token: str,
        parse_mode: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            # Never echo the value: it may be a real token with a typo.
            raise ConfigurationError(
                f"provider {name!r}: token does not look like a Bot API token ('<bot id>:<secret>' from BotFather)"
            )
        if parse_mode is not None and (not isinstance(parse_mode, str) or parse_mode.lower() not in _PARSE_MODES):
            raise ConfigurationError(
                f"provider {name!r}: parse_mode must be None, 'HTML', 'MarkdownV2' or 'Markdown', got {parse_mode!r}"
            )
        super().__init__(
            name=name,
            channel="telegram",
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            headers={"User-Agent": _USER_AGENT},
            max_connections=max_connections,
            transport=transport,
            retry_policy=retry_policy,
        )
        self.token = token
        self.parse_mode = _PARSE_MODES[parse_mode.lower()] if parse_mode else None

    # --- sending -------------------------------------------------------------

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One ``sendMessage``, or one ``sendDocument`` per attachment."""
        chat_id = address.strip()
        if not _CHAT_ID.match(chat_id):
            error = DeliveryError.permanent(
                ErrorCode.INVALID_RECIPIENT, "Telegram chat must be a numeric chat id or an @channel username"
            )
            return self._failed(error)
        text = message.text
        if not text and not message.attachments:
            error = DeliveryError.permanent(ErrorCode.REJECTED, "Telegram needs text or an attachment; text is empty")
            return self._failed(error)
        if self.parse_mode is None and len(text) > TEXT_LIMIT:
            error = DeliveryError.permanent(
                "telegram.message_too_long", f"text is {len(text)} characters; Telegram accepts {TEXT_LIMIT}"
            )
            return self._failed(error)
        common: dict[str, Any] = {"chat_id": chat_id}
        if message.metadata.priority == "low":
            common["disable_notification"] = True
        message_ids: list[str] = []
        steps = self._steps(text, message.attachments)
        for number, (method, text_part, attachment) in enumerate(steps, start=1):
            outcome = await self._step(method, common, text_part, attachment)
            if isinstance(outcome, DeliveryError):
                if message_ids:
                    outcome = DeliveryError.ambiguous(
                        "telegram.partial_delivery",
                        f"parts 1-{number - 1} of {len(steps)} were delivered (message ids "
                        f"{', '.join(message_ids)}), then {outcome.code}: {outcome.message}",
                    )
                return self._failed(outcome)
            message_ids.append(outcome)
        log.debug("telegram.sent", provider=self.name, parts=len(steps), message_ids=message_ids)
        return DeliveryResult.success(",".join(message_ids))

    @staticmethod
    def _steps(text: str, attachments: tuple[Attachment, ...]) -> list[tuple[str, str | None, Attachment | None]]:
        """The calls one message needs: text alone, or documents with the text as first caption."""
        if not attachments:
            return [("sendMessage", text, None)]
        steps: list[tuple[str, str | None, Attachment | None]] = []
        caption: str | None = text or None
        if text and len(text) > CAPTION_LIMIT:
            steps.append(("sendMessage", text, None))
            caption = None
        for attachment in attachments:
            steps.append(("sendDocument", caption, attachment))
            caption = None
        return steps

    async def _step(
        self, method: str, common: dict[str, Any], text: str | None, attachment: Attachment | None
    ) -> str | DeliveryError:
        if attachment is None:
            payload: dict[str, Any] = {**common, "text": text}
            if self.parse_mode:
                payload["parse_mode"] = self.parse_mode
            return await self._call(method, json=payload)
        fields = {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in common.items()}
        if text:
            fields["caption"] = text
            if self.parse_mode:
                fields["parse_mode"] = self.parse_mode
        files = {"document": (attachment.filename, attachment.content, attachment.mime_type)}
        return await self._call(method, data=fields, files=files)

    async def _call(self, method: str, **kwargs: Any) -> str | DeliveryError:
        """One Bot API call: the sent message's id, or a classified, token-free error."""
        answer = await self._answer("POST", method, **kwargs)
        if isinstance(answer, DeliveryError):
            return answer
        result = answer.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return str(message_id) if message_id is not None else ""

    async def _answer(self, http_method: str, method: str, **kwargs: Any) -> dict[str, Any] | DeliveryError:
        """The ``ok`` answer of a Bot API method, or a classified error; raises for a rejected token."""
        try:
            response = await self.request(http_method, f"/bot{self.token}/{method}", **kwargs)
        except Exception as exc:  # anything unexpected may print the URL: classify it here, scrubbed
            response = error_from_exception(exc)
        if isinstance(response, DeliveryError):
            return DeliveryError(
                code=response.code,
                message=scrub(response.message, (self.token,)),
                error_class=response.error_class,
                retry_after=response.retry_after,
            )
        answer = json_object(response)
        if response.status_code == 200 and answer.get("ok") is True:
            return answer
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        try:
            error = error_from_answer(response.status_code, answer, provider=self.name, retry_after=retry_after)
        except ConfigurationError as exc:
            raise ConfigurationError(scrub(str(exc), (self.token,))) from None
        return DeliveryError(
            code=error.code,
            message=scrub(error.message, (self.token,)),
            error_class=error.error_class,
            retry_after=error.retry_after,
        )

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("telegram.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    # --- health --------------------------------------------------------------

    async def health(self) -> ProviderHealth:
        """``getMe``: proves the API is reachable and the token valid, sends nothing."""
        started = time.monotonic()
        try:
            answer = await self._answer("GET", "getMe")
        except ConfigurationError as exc:
            return ProviderHealth(healthy=False, detail=str(exc), latency_ms=(time.monotonic() - started) * 1000.0)
        latency_ms = (time.monotonic() - started) * 1000.0
        if isinstance(answer, DeliveryError):
            return ProviderHealth(healthy=False, detail=f"{answer.code}: {answer.message}", latency_ms=latency_ms)
        result = answer.get("result")
        username = result.get("username") if isinstance(result, dict) else None
        return ProviderHealth(healthy=True, detail=f"bot @{username}" if username else "bot ok", latency_ms=latency_ms)
