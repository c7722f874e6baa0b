"""Real SMTP servers for the email provider's tests (aiosmtpd, 127.0.0.1, ephemeral ports).

Each server runs in its own thread and event loop (aiosmtpd's Controller),
so it answers async tests and the contract suite's ``asyncio.run`` alike.
A :class:`ScriptedHandler` records every accepted message and can be told
to answer a command with a given reply, or to drop the connection.
"""

from __future__ import annotations

import asyncio
import collections
import email
import email.policy
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USERNAME = "mailer"
PASSWORD = "s3cret-smtp-pass"
FROM = "Alerts <alerts@example.com>"
TO = "bob@example.org"


@dataclass
class Received:
    """One message the server accepted (or saw the end of)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class ScriptedHandler:
    """aiosmtpd handler: replies from per-command queues, default success.

    ``data_action`` may be ``"drop"`` (record the message, then close the
    connection without a reply) or ``"hang"`` (record it, never reply).
    """

    received: list[Received] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    mail_options: list[list[str]] = field(default_factory=list)
    mail_replies: collections.deque[str] = field(default_factory=collections.deque)
    rcpt_replies: collections.deque[str] = field(default_factory=collections.deque)
    data_replies: collections.deque[str] = field(default_factory=collections.deque)
    data_action: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.commands.append("EHLO")
        session.host_name = hostname
        return responses

    async def handle_NOOP(self, server: SMTP, session: Session, envelope: Envelope, arg: str) -> str:
        self.commands.append("NOOP")
        return "250 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.commands.append("QUIT")
        return "221 Bye"

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append("MAIL")
        self.mail_options.append(list(options))
        if self.mail_replies:
            return self.mail_replies.popleft()
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.commands.append("RCPT")
        if self.rcpt_replies:
            return self.rcpt_replies.popleft()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.commands.append("DATA")
        record = Received(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            content=bytes(envelope.original_content or b""),
            over_tls=session.ssl is not None,
            authenticated=bool(session.authenticated),
        )
        if self.data_replies:
            return self.data_replies.popleft()
        with self.lock:
            self.received.append(record)
        if self.data_action == "drop":
            assert server.transport is not None
            server.transport.close()
            return "250 OK"  # written to a closed transport: the client never sees it
        if self.data_action == "hang":
            await asyncio.sleep(3600)
        return "250 OK"


class EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: learns the bound port before its self-check."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    controller: EphemeralController
    handler: ScriptedHandler

    @property
    def port(self) -> int:
        return int(self.controller.port)


ServerFactory = Callable[..., SmtpServer]


@pytest.fixture
def smtp_server_factory() -> Iterator[ServerFactory]:
    """Start aiosmtpd servers on 127.0.0.1; all are stopped after the test.

    Keywords: ``auth`` (offer AUTH, over plain text too), ``starttls``
    (an ``ssl.SSLContext`` to offer STARTTLS with), ``implicit_tls`` (an
    ``ssl.SSLContext`` wrapping the listener: SMTPS).
    """
    started: list[EphemeralController] = []

    def start(
        *,
        auth: bool = False,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        handler: ScriptedHandler | None = None,
    ) -> SmtpServer:
        handler = handler or ScriptedHandler()
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 10.0}
        if auth:
            # Offered over plain text for the tests; not *required* (aiosmtpd warns about that
            # combination), so tests check Received.authenticated instead.
            kwargs.update(authenticator=_authenticator, auth_require_tls=False)
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        controller = EphemeralController(handler, hostname="127.0.0.1", port=0, ssl_context=implicit_tls, **kwargs)
        controller.start()
        started.append(controller)
        return SmtpServer(controller=controller, handler=handler)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: ServerFactory) -> SmtpServer:
    """A plain SMTP server without STARTTLS or AUTH."""
    return smtp_server_factory()


@dataclass
class TlsFiles:
    server_context: ssl.SSLContext
    ca_file: Path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA made at test time and a server certificate for 127.0.0.1 signed by it."""
    ca = trustme.CA()
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)
    ca_file = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return TlsFiles(server_context=context, ca_file=ca_file)
