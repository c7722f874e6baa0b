"""TLS modes against real aiosmtpd servers with a certificate made at test time."""

from __future__ import annotations

import ssl

import pytest
from broadcastio import ConfigurationError, Message
from broadcastio_email import EmailProvider

from .conftest import FROM, PASSWORD, TO, USERNAME, ServerFactory, SmtpServer, TlsFiles


def provider(server: SmtpServer, **settings: object) -> EmailProvider:
    options: dict[str, object] = {"from_address": FROM, "local_hostname": "client.test"}
    options.update(settings)
    return EmailProvider(host="127.0.0.1", port=server.port, **options)  # type: ignore[arg-type]


MESSAGE = Message(recipient=TO, subject="tls", text="over tls")


class TestStartTlsRequired:
    async def test_server_without_starttls_raises_and_receives_nothing(self, smtp_server: SmtpServer) -> None:
        """By default STARTTLS is required: a server not offering it is a ConfigurationError, not a plain send."""
        with pytest.raises(ConfigurationError, match="does not offer STARTTLS"):
            await provider(smtp_server).send(MESSAGE, TO)

        assert "MAIL" not in smtp_server.handler.commands
        assert smtp_server.handler.received == []

    async def test_health_reports_missing_starttls(self, smtp_server: SmtpServer) -> None:
        """health() of a starttls provider against a server without STARTTLS is unhealthy and says why."""
        health = await provider(smtp_server).health()
        assert not health.healthy
        assert "STARTTLS" in health.detail

    async def test_tls_none_is_an_explicit_opt_out(self, smtp_server: SmtpServer) -> None:
        """tls='none' delivers in plain text to the same server."""
        result = await provider(smtp_server, tls="none").send(MESSAGE, TO)
        assert result.ok, result.error
        assert not smtp_server.handler.received[0].over_tls


class TestStartTls:
    async def test_starttls_is_negotiated_with_a_private_ca(
        self, smtp_server_factory: ServerFactory, tls_files: TlsFiles
    ) -> None:
        """STARTTLS upgrades the session (the server sees TLS) and the certificate is verified against ca_file."""
        server = smtp_server_factory(starttls=tls_files.server_context)
        result = await provider(server, ca_file=tls_files.ca_file).send(MESSAGE, TO)

        assert result.ok, result.error
        [received] = server.handler.received
        assert received.over_tls
        assert received.message["Subject"] == "tls"

    async def test_auth_after_starttls(self, smtp_server_factory: ServerFactory, tls_files: TlsFiles) -> None:
        """Credentials are sent only after the STARTTLS upgrade, and the session is authenticated."""
        server = smtp_server_factory(starttls=tls_files.server_context, auth=True)
        result = await provider(server, ca_file=tls_files.ca_file, username=USERNAME, password=PASSWORD).send(
            MESSAGE, TO
        )

        assert result.ok, result.error
        [received] = server.handler.received
        assert received.over_tls
        assert received.authenticated

    async def test_untrusted_certificate_raises(self, smtp_server_factory: ServerFactory, tls_files: TlsFiles) -> None:
        """A certificate the system store does not trust is a ConfigurationError, and nothing is sent."""
        server = smtp_server_factory(starttls=tls_files.server_context)
        with pytest.raises(ConfigurationError, match="certificate failed verification"):
            await provider(server).send(MESSAGE, TO)
        assert server.handler.received == []

    async def test_validate_certs_false_accepts_any_certificate(
        self, smtp_server_factory: ServerFactory, tls_files: TlsFiles
    ) -> None:
        """validate_certs=False still encrypts, without verifying the certificate."""
        server = smtp_server_factory(starttls=tls_files.server_context)
        result = await provider(server, validate_certs=False).send(MESSAGE, TO)
        assert result.ok, result.error
        assert server.handler.received[0].over_tls

    async def test_tls_context_is_used(self, smtp_server_factory: ServerFactory, tls_files: TlsFiles) -> None:
        """A caller's own SSLContext is used as given."""
        server = smtp_server_factory(starttls=tls_files.server_context)
        context = ssl.create_default_context(cafile=str(tls_files.ca_file))
        result = await provider(server, tls_context=context).send(MESSAGE, TO)
        assert result.ok, result.error

    async def test_health_negotiates_starttls(self, smtp_server_factory: ServerFactory, tls_files: TlsFiles) -> None:
        """health() upgrades with STARTTLS too, so a bad certificate shows before the first send."""
        server = smtp_server_factory(starttls=tls_files.server_context)
        good = await provider(server, ca_file=tls_files.ca_file).health()
        bad = await provider(server).health()
        assert good.healthy, good.detail
        assert not bad.healthy


class TestImplicitTls:
    async def test_smtps_delivers(self, smtp_server_factory: ServerFactory, tls_files: TlsFiles) -> None:
        """tls='implicit' speaks TLS from the first byte (SMTPS)."""
        server = smtp_server_factory(implicit_tls=tls_files.server_context)
        sender = provider(server, tls="implicit", ca_file=tls_files.ca_file)
        result = await sender.send(MESSAGE, TO)
        health = await sender.health()

        assert result.ok, result.error
        assert health.healthy, health.detail
        assert len(server.handler.received) == 1

    async def test_smtps_with_untrusted_certificate_raises(
        self, smtp_server_factory: ServerFactory, tls_files: TlsFiles
    ) -> None:
        """Implicit TLS verifies the certificate as well."""
        server = smtp_server_factory(implicit_tls=tls_files.server_context)
        with pytest.raises(ConfigurationError, match="certificate failed verification"):
            await provider(server, tls="implicit").send(MESSAGE, TO)
