"""``apprise``: one provider for every Apprise service.

Apprise plugins are blocking (requests, smtplib), and its ``async_notify``
only runs that same blocking code in Apprise's own thread pool, so each
send runs ``Apprise.notify`` in a worker thread (``asyncio.to_thread``).

Apprise tells a caller only how each service ended: SUCCESS, FAILURE or
TIMEOUT (no status code, no reason it is safe to quote). How those map onto
broadcastio's classes, and why:

- every service SUCCESS: delivered;
- TIMEOUT (the call deadline passed with a service in flight): ambiguous,
  the service may still deliver;
- FAILURE: the service refused or could not be reached. Apprise reports a
  refusal (4xx/5xx), a refused connection and a read timeout alike, and the
  first two are what it reports almost always, so the default class is
  transient; set ``failure_class`` to ``"ambiguous"`` where a duplicate is
  worse than a miss, or ``"permanent"`` to fall back without retrying;
- some services SUCCESS and others not (several URLs): ambiguous
  (``apprise.partial``), since a retry would repeat the delivered ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

import apprise
from apprise.attachment.memory import AttachMemory
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorClass,
    ErrorCode,
    Message,
    Provider,
    ProviderHealth,
    RetryPolicy,
    error_from_exception,
)
from broadcastio.logs import get_logger

from broadcastio_apprise._services import ALL_TAG, build_apprise, silence_apprise_logging

__all__ = ["AppriseProvider"]

_CLASSES = {"transient": ErrorClass.TRANSIENT, "permanent": ErrorClass.PERMANENT, "ambiguous": ErrorClass.AMBIGUOUS}
_Status = apprise.AppriseResultStatus

log = get_logger("broadcastio.apprise")


class AppriseProvider(Provider):
    """Sends each message to the configured Apprise URLs (slack://, mailto://, ntfy://, json://, ...).

    :param urls: an Apprise URL, a list of them, or a mapping of tag to URL(s);
        secret (URLs carry tokens and passwords).
    :param timeout: seconds the whole Apprise call may take; past it the send is ambiguous.
    :param failure_class: the class of a service's FAILURE: ``"transient"``
        (default), ``"permanent"`` or ``"ambiguous"``.
    """

    channel = "apprise"
    secret_fields = ("urls",)
    idempotent = False

    def __init__(
        self,
        *,
        name: str = "apprise",
        urls: str | Sequence[str] | Mapping[str, str | Sequence[str]],
        timeout: float = 10.0,
        failure_class: str = "transient",
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigurationError(f"provider {name!r}: timeout must be > 0 seconds")
        if failure_class not in _CLASSES:
            raise ConfigurationError(
                f"provider {name!r}: failure_class must be 'transient', 'permanent' or 'ambiguous', "
                f"got {failure_class!r}"
            )
        silence_apprise_logging()
        self.name = name
        self.channel = "apprise"
        self.urls = urls
        self.timeout = float(timeout)
        self.failure_class = _CLASSES[failure_class]
        self.retry_policy = retry_policy
        self._apprise, self.services = build_apprise(urls, provider=name)
        self._tags = {tag for service in self.services for tag in service.tags}

    def _tag_for(self, address: str) -> str | DeliveryError:
        """The Apprise tag an address selects: a configured tag, or every URL."""
        label = address.strip()
        if not self._tags or label in (ALL_TAG, "*"):
            return ALL_TAG  # no tags configured: the address is only a label
        if label in self._tags:
            return label
        return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, f"no Apprise URLs are tagged {label!r}")

    def _notify(self, tag: str, message: Message) -> tuple[_Status, list[tuple[str, _Status]]]:
        """Apprise's blocking notify, in a worker thread; the overall and per-service statuses."""
        body, body_format = (message.text, apprise.NotifyFormat.TEXT)
        if not body and message.html:
            body, body_format = message.html, apprise.NotifyFormat.HTML
        notify_type = apprise.NotifyType.WARNING if message.metadata.priority == "high" else apprise.NotifyType.INFO
        attach = None
        if message.attachments:
            attach = apprise.AppriseAttachment(
                [
                    AttachMemory(content=item.content, name=item.filename, mimetype=item.mime_type)  # type: ignore[no-untyped-call]
                    for item in message.attachments
                ]
            )
        with self._apprise.notify(
            attach=attach,
            body=body,
            title=message.subject or "",
            notify_type=notify_type,
            body_format=body_format,
            tag=tag,
            timeout=self.timeout,
        ) as result:
            return result.status, [(str(item.name), item.status) for item in result]

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One Apprise call to the URLs the address selects, off the event loop."""
        tag = self._tag_for(address)
        if isinstance(tag, DeliveryError):
            return self._failed(tag)
        try:
            status, services = await asyncio.to_thread(self._notify, tag, message)
        except Exception as exc:
            return self._failed(error_from_exception(exc))
        if status is _Status.SUCCESS:
            log.debug("apprise.sent", provider=self.name, services=[name for name, _ in services])
            return DeliveryResult.success(None)
        return self._failed(self._error(status, services))

    def _error(self, status: _Status, services: list[tuple[str, _Status]]) -> DeliveryError:
        summary = ", ".join(f"{name} {state.name}" for name, state in services) or "no service was called"
        delivered = any(state is _Status.SUCCESS for _, state in services)
        if status is _Status.NOMATCH:
            return DeliveryError.permanent(ErrorCode.REJECTED, f"Apprise matched no service ({summary})")
        if delivered:
            return DeliveryError.ambiguous("apprise.partial", f"some services were notified: {summary}")
        if any(state is _Status.TIMEOUT for _, state in services) or status is _Status.TIMEOUT:
            return DeliveryError.ambiguous(ErrorCode.TIMEOUT, f"Apprise timed out after {self.timeout:g} s: {summary}")
        return DeliveryError(
            code="apprise.failed", message=f"Apprise reported {summary}", error_class=self.failure_class
        )

    def _failed(self, error: DeliveryError) -> DeliveryResult:
        log.info("apprise.failed", provider=self.name, code=error.code, error_class=str(error.error_class))
        return DeliveryResult.failure(error)

    async def health(self) -> ProviderHealth:
        """A TCP connect to each self-hosted service (json://, ntfy://, mailto://, ...); cloud APIs are not probed.

        Apprise has no health check of its own; a connection proves the
        server is there without sending anything.
        """
        started = time.monotonic()
        probed = [service for service in self.services if service.endpoint is not None]
        failures: list[str] = []
        for service in probed:
            assert service.endpoint is not None
            host, port = service.endpoint
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=min(self.timeout, 5.0))
            except (OSError, TimeoutError) as exc:
                failures.append(f"{service.scheme}:// unreachable ({type(exc).__name__})")
                continue
            writer.close()
            await _closed(writer)
        latency_ms = (time.monotonic() - started) * 1000.0
        if failures:
            return ProviderHealth(healthy=False, detail="; ".join(failures), latency_ms=latency_ms)
        schemes = ", ".join(sorted({service.scheme for service in self.services}))
        detail = f"{len(probed)} of {len(self.services)} services reachable ({schemes}); cloud services not probed"
        return ProviderHealth(healthy=True, detail=detail, latency_ms=latency_ms)


async def _closed(writer: Any) -> None:
    try:
        await writer.wait_closed()
    except OSError:
        pass
