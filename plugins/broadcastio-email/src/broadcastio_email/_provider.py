"""The ``email`` provider: one SMTP transaction per send, over a small pool of connections."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import ssl
import time
from collections.abc import Callable
from typing import ClassVar

import aiosmtplib
from broadcastio import (
    ConfigurationError,
    DeliveryError,
    DeliveryResult,
    ErrorCode,
    InvalidMessageError,
    Message,
    Provider,
    ProviderHealth,
    RetryPolicy,
)
from broadcastio.logs import get_logger

from broadcastio_email._addresses import mask_address
from broadcastio_email._budget import ByteBudget
from broadcastio_email._classify import classify, recipient_refusal
from broadcastio_email._compose import AttachmentParts, ComposedEmail, compose, estimated_size
from broadcastio_email._config import (
    DEFAULT_PORTS,
    TlsMode,
    build_tls_context,
    check_port,
    check_timeout,
    mailbox,
)
from broadcastio_email._connection import Connection, Endpoint
from broadcastio_email._pool import ConnectionPool
from broadcastio_email._stream import STREAM_THRESHOLD, stream_data

__all__ = ["EmailProvider"]

_log = get_logger("broadcastio.email")


class EmailProvider(Provider):
    """Sends a message as one email through an SMTP server (aiosmtplib).

    Each send is one transaction (MAIL, RCPT, DATA) on a connection of a
    small pool (TLS, EHLO and AUTH once per connection). Concurrent sends
    never share a connection; only a connection whose transaction completed
    is reused, so a failure cannot leave one half-way through a
    transaction. A pooled connection the server closed while idle is
    replaced before anything is sent.

    :param host: SMTP server name or IP address.
    :param port: defaults to 587 (starttls), 465 (implicit) or 25 (none).
    :param from_address: the sender, ``user@domain`` or ``Name <user@domain>``.
    :param reply_to: optional Reply-To address.
    :param username: AUTH user name; ``password`` is required with it.
    :param tls: ``"starttls"`` (default; the server MUST offer STARTTLS or
        send raises ConfigurationError), ``"implicit"`` (SMTPS) or ``"none"``
        (plain text, on purpose: local relays and tests).
    :param validate_certs: verify the server certificate and host name.
    :param ca_file: PEM file of CA certificates to trust instead of the system's.
    :param tls_context: a ready ``ssl.SSLContext`` (overrides the two above).
    :param timeout: seconds allowed for each SMTP step of a send.
    :param health_timeout: seconds allowed for a whole health check.
    :param local_hostname: name given in EHLO (default: this host's FQDN).
    :param max_connections: connections open at once, which is also the
        provider's ``max_in_flight`` (default 10, well under the 50 per client
        a stock postfix allows).
    :param max_messages_per_connection: transactions before a connection is
        closed and replaced.
    :param idle_timeout: seconds an unused connection stays open.
    :param max_bytes_in_flight: estimated bytes of emails being built and
        sent at once (default 32 MiB); large attachments then go a few at a
        time instead of multiplying memory by the concurrency.
    """

    channel = "email"
    idempotent = False
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    def __init__(
        self,
        name: str = "email",
        *,
        host: str,
        from_address: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: TlsMode = "starttls",
        validate_certs: bool = True,
        ca_file: str | os.PathLike[str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        reply_to: str | None = None,
        timeout: float = 30.0,
        health_timeout: float = 5.0,
        local_hostname: str | None = None,
        retry_policy: RetryPolicy | None = None,
        max_connections: int = 10,
        max_messages_per_connection: int = 100,
        idle_timeout: float = 30.0,
        max_bytes_in_flight: int = 32 * 1024 * 1024,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError("email provider: name must be a non-empty string")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise ConfigurationError(f"email provider {name!r}: host must be a host name or IP address, got {host!r}")
        if (username is None) != (password is None):
            raise ConfigurationError(f"email provider {name!r}: give both username and password, or neither")
        if username is not None and (not isinstance(username, str) or not username):
            raise ConfigurationError(f"email provider {name!r}: username must be a non-empty string")
        if password is not None and not isinstance(password, str):
            raise ConfigurationError(f"email provider {name!r}: password must be a string")
        if local_hostname is not None and (not isinstance(local_hostname, str) or not local_hostname.isascii()):
            raise ConfigurationError(f"email provider {name!r}: local_hostname must be an ASCII host name")
        self.name = name
        self.retry_policy = retry_policy
        self.from_address = mailbox("from_address", from_address)
        self.reply_to = mailbox("reply_to", reply_to) if reply_to is not None else None
        self.tls: TlsMode = tls
        context = build_tls_context(tls, validate_certs=validate_certs, ca_file=ca_file, tls_context=tls_context)
        self.port = check_port(DEFAULT_PORTS[tls] if port is None else port)
        self.host = host.strip()
        self.username = username
        self.password = password
        self.timeout = check_timeout("timeout", timeout)
        self.health_timeout = check_timeout("health_timeout", health_timeout)
        self._endpoint = Endpoint(
            host=self.host, port=self.port, tls=tls, tls_context=context, username=username, password=password
        )
        self._local_hostname = local_hostname
        for label, value in (
            ("max_connections", max_connections),
            ("max_messages_per_connection", max_messages_per_connection),
            ("max_bytes_in_flight", max_bytes_in_flight),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"email provider {name!r}: {label} must be an integer >= 1, got {value!r}")
        self.max_in_flight = max_connections
        self._pool = ConnectionPool(
            self._fresh_connection,
            size=max_connections,
            idle_seconds=check_timeout("idle_timeout", idle_timeout),
            max_messages=max_messages_per_connection,
        )
        self._budget = ByteBudget(max_bytes_in_flight)
        self._parts = AttachmentParts()

    def __repr__(self) -> str:
        secret = ", password='***'" if self.password else ""
        return (
            f"EmailProvider(name={self.name!r}, channel={self.channel!r}, host={self.host!r}, "
            f"port={self.port}, tls={self.tls!r}{secret})"
        )

    async def _connection(self, step_timeout: float) -> Connection:
        if self._local_hostname is None:
            # socket.getfqdn may block on DNS: once per provider, off the loop.
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        return Connection(self._endpoint, timeout=step_timeout, local_hostname=self._local_hostname)

    async def _fresh_connection(self) -> Connection:
        return await self._connection(self.timeout)

    def preflight(self, message: Message, address: str) -> DeliveryError | None:
        """The checks ``send`` makes before connecting: address, headers, attachments."""
        try:
            compose(message, address, from_address=self.from_address, reply_to=self.reply_to)
        except InvalidMessageError as exc:
            return DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, str(exc))
        return None

    async def send(self, message: Message, address: str) -> DeliveryResult:
        """One SMTP transaction to ``address``; the message is checked before connecting."""
        weight = await self._budget.acquire(estimated_size(message, self._parts))
        try:
            return await self._send(message, address)
        finally:
            await self._budget.release(weight)

    async def _send(self, message: Message, address: str) -> DeliveryResult:
        composed = compose(message, address, from_address=self.from_address, reply_to=self.reply_to, parts=self._parts)
        started = time.perf_counter()
        while True:
            connection, reused = await self._pool.acquire()
            completed = False
            try:
                result = await self._transact(connection, composed, fresh=not reused)
                completed = result.error is None
            except (aiosmtplib.SMTPException, OSError) as exc:  # TimeoutError is an OSError
                if reused and _went_stale(exc, connection):
                    continue  # closed by the server while idle, before MAIL: nothing was sent
                error = classify(exc, connection.phase, redact=_redactor(composed.recipient), tls=self.tls)
                result = DeliveryResult.failure(error)
            finally:
                await self._pool.release(connection, reusable=completed)
            break
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        to = mask_address(composed.recipient)
        if result.error is None:
            _log.debug("email.sent", provider=self.name, to=to, message_id=composed.message_id, ms=elapsed_ms)
        else:
            _log.info(
                "email.failed",
                provider=self.name,
                to=to,
                phase=connection.phase,
                code=result.error.code,
                error_class=result.error.error_class.value,
                ms=elapsed_ms,
            )
        return result

    async def _transact(self, connection: Connection, composed: ComposedEmail, *, fresh: bool) -> DeliveryResult:
        if fresh:
            await connection.open(login=True)
        smtp = connection.smtp
        size = composed.size
        options = [f"SIZE={size}"] if smtp.supports_extension("size") else []
        connection.phase = "mail"
        await smtp.mail(composed.sender, options=options)
        connection.phase = "rcpt"
        recipients = [composed.recipient]
        refused: dict[str, tuple[int, str]] = {}
        for recipient in recipients:
            try:
                await smtp.rcpt(recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                refused[recipient] = (exc.code, exc.message)
        if len(refused) == len(recipients):
            return DeliveryResult.failure(recipient_refusal(refused, redact=_redactor(composed.recipient)))
        connection.phase = "data"
        if size >= STREAM_THRESHOLD:
            await stream_data(smtp, composed.pieces, step_timeout=self.timeout)
        else:
            await smtp.data(composed.data)
        return DeliveryResult.success(composed.message_id)

    async def health(self) -> ProviderHealth:
        """Connect, EHLO (and STARTTLS when configured), NOOP, QUIT, within ``health_timeout``."""
        started = time.perf_counter()
        detail = f"{self.host}:{self.port} answered"
        healthy = True
        connection: Connection | None = None
        try:
            async with asyncio.timeout(self.health_timeout):
                connection = await self._connection(self.health_timeout)
                await connection.open(login=False)
                await connection.smtp.noop()
        except ConfigurationError as exc:
            healthy, detail = False, str(exc)
        except (aiosmtplib.SMTPException, OSError) as exc:
            healthy = False
            reason = str(exc) or type(exc).__name__
            detail = f"{self.host}:{self.port} unreachable or unhealthy ({type(exc).__name__}: {reason})"
        finally:
            if connection is not None:
                await connection.close()
        return ProviderHealth(
            healthy=healthy,
            detail=detail,
            checked_at=dt.datetime.now(dt.UTC),
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def aclose(self) -> None:
        """QUIT the pooled connections."""
        await self._pool.aclose()


def _went_stale(exc: BaseException, connection: Connection) -> bool:
    """Whether a reused connection failed at MAIL because the server had closed it.

    A lost connection, or the 421 a server sends when it drops an idle
    client, before MAIL was accepted: nothing of this message was sent.
    """
    if connection.phase != "mail":
        return False
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return exc.code == 421
    return isinstance(exc, (aiosmtplib.SMTPServerDisconnected, ConnectionError))


def _redactor(address: str) -> Callable[[str], str]:
    """Mask the recipient wherever the server echoes it back in a reply."""
    masked = mask_address(address)

    def redact(text: str) -> str:
        return text.replace(address, masked)

    return redact
