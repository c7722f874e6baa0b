"""One SMTP connection: open it (TLS, EHLO, AUTH), remember the phase, close it politely."""

from __future__ import annotations

import ssl

import aiosmtplib
from broadcastio import ConfigurationError

from broadcastio_email._classify import Phase
from broadcastio_email._config import TlsMode

__all__ = ["Connection", "Endpoint"]

_QUIT_TIMEOUT = 2.0


class Endpoint:
    """Where and how to connect; shared, read-only, by every connection of a provider."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        tls: TlsMode,
        tls_context: ssl.SSLContext | None,
        username: str | None,
        password: str | None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_context = tls_context
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return f"Endpoint(host={self.host!r}, port={self.port}, tls={self.tls!r})"


class Connection:
    """One SMTP connection, for a health check or for a pool's sends.

    :attr:`phase` says how far the conversation got, which is what decides
    whether a failure is transient or ambiguous; :attr:`messages` counts the
    transactions it completed.
    """

    def __init__(self, endpoint: Endpoint, *, timeout: float, local_hostname: str) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.phase: Phase = "connect"
        self.messages = 0
        self.smtp = aiosmtplib.SMTP(
            hostname=endpoint.host,
            port=endpoint.port,
            timeout=timeout,
            use_tls=endpoint.tls == "implicit",
            start_tls=False,  # STARTTLS is driven below, so a server without it can be refused
            tls_context=endpoint.tls_context,
            local_hostname=local_hostname,
        )

    async def _hello(self) -> None:
        self.phase = "ehlo"
        try:
            await self.smtp.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not self.smtp.is_connected:
                raise
            await self.smtp.helo()  # an old server without ESMTP

    async def open(self, *, login: bool) -> None:
        """Connect, say EHLO, upgrade with STARTTLS when configured, and log in.

        Raises ConfigurationError when STARTTLS is required but not offered.
        """
        self.phase = "connect"
        await self.smtp.connect()
        await self._hello()
        if self.endpoint.tls == "starttls":
            if not self.smtp.supports_extension("starttls"):
                raise ConfigurationError(
                    f"SMTP server {self.endpoint.host}:{self.endpoint.port} does not offer STARTTLS and "
                    "tls='starttls' requires it; nothing was sent. Use tls='implicit' for an SMTPS port, "
                    "or tls='none' to send in plain text on purpose"
                )
            self.phase = "starttls"
            await self.smtp.starttls()
            await self._hello()  # RFC 3207: forget what was said before TLS
        if login and self.endpoint.username is not None:
            self.phase = "auth"
            await self.smtp.login(self.endpoint.username, self.endpoint.password or "")

    async def close(self) -> None:
        """QUIT when still connected (best effort, short timeout), then drop the socket."""
        try:
            if self.smtp.is_connected:
                await self.smtp.quit(timeout=min(self.timeout, _QUIT_TIMEOUT))
        except (aiosmtplib.SMTPException, OSError):
            pass  # the outcome is already decided; a failed goodbye changes nothing
        finally:
            self.smtp.close()
