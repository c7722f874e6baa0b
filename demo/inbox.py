"""A local SMTP server that keeps every message it accepts (aiosmtpd on 127.0.0.1, ephemeral port).

It stands in for a real mail relay so the demo needs no account and sends
nothing off this machine. It speaks plain SMTP: no STARTTLS, no AUTH.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["LocalSmtpServer", "ReceivedMail"]


@dataclass(frozen=True)
class ReceivedMail:
    """One message the server accepted: the SMTP envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def body(self) -> str:
        """The plain-text part, or an empty string."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if isinstance(part, EmailMessage) else ""


class _Recorder:
    """aiosmtpd handler: accept every message and keep it."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        mail = ReceivedMail(mail_from=envelope.mail_from or "", rcpt_tos=tuple(envelope.rcpt_tos), message=parsed)
        with self.lock:
            self.received.append(mail)
        return "250 OK: kept by the demo inbox"


class _EphemeralController(Controller):
    """aiosmtpd's Controller on port 0.

    With ``port=0`` the stock Controller keeps ``port == 0`` and its
    readiness self-check connects to port 0 and fails; reading the bound
    port before that check (as plugins/broadcastio-email/tests does) fixes both.
    """

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class LocalSmtpServer:
    """The demo's mail relay: start it, point an email provider at ``host:port``, read ``received``."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._controller = _EphemeralController(
            self._recorder, hostname=self.host, port=0, server_hostname="demo-inbox.localhost", ready_timeout=10.0
        )
        self._started = False

    @property
    def port(self) -> int:
        """The bound port (0 until started)."""
        return int(self._controller.port)

    @property
    def received(self) -> list[ReceivedMail]:
        """Messages accepted so far, oldest first."""
        with self._recorder.lock:
            return list(self._recorder.received)

    def start(self) -> LocalSmtpServer:
        """Listen on 127.0.0.1 and an ephemeral port; returns once the server answers."""
        self._controller.start()
        self._started = True
        return self

    def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        if self._started:
            self._started = False
            self._controller.stop()

    def __enter__(self) -> LocalSmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
