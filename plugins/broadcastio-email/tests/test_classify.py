"""Classification rules that a live server cannot easily show (several refused recipients, odd replies)."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest
from broadcastio import ConfigurationError, ErrorClass, ErrorCode
from broadcastio_email._classify import classify, recipient_refusal, reply_error


class TestRefusals:
    def test_every_refused_recipient_is_reported(self) -> None:
        """aiosmtplib's per-recipient refusal mapping becomes one error listing each (masked) recipient."""
        error = recipient_refusal({"alice@example.com": (550, "no such user"), "bob@example.org": (451, "later")})
        assert error.code == "smtp.recipient_refused"
        assert error.error_class is ErrorClass.PERMANENT  # one 5xx makes it permanent
        assert "a***@example.com: 550 no such user" in error.message
        assert "b***@example.org: 451 later" in error.message

    def test_all_4xx_refusals_are_transient(self) -> None:
        """Only temporary refusals: trying again may work."""
        error = recipient_refusal({"a@x.com": (450, "busy"), "b@x.com": (452, "full")})
        assert error.error_class is ErrorClass.TRANSIENT

    def test_aiosmtplib_recipients_refused(self) -> None:
        """SMTPRecipientsRefused (every recipient refused) maps through the same rule."""
        exc = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "unknown", "a@x.com")])
        error = classify(exc, "rcpt")
        assert error.code == "smtp.recipient_refused"
        assert error.error_class is ErrorClass.PERMANENT


class TestReplies:
    @pytest.mark.parametrize(
        ("code", "text"),
        [(421, "4.7.0 Too many connections"), (421, "Service not available"), (450, "4.7.1 Rate limit exceeded")],
    )
    def test_throttling_replies_are_rate_limited(self, code: int, text: str) -> None:
        """421 and 4.7.x replies ask us to slow down: transient rate_limited, which never trips the breaker."""
        error = reply_error(code, text, phase="mail")
        assert (error.code, error.error_class) == (ErrorCode.RATE_LIMITED, ErrorClass.TRANSIENT)
        assert f"SMTP {code}" in error.message

    @pytest.mark.parametrize(
        ("code", "expected"), [(450, ErrorClass.TRANSIENT), (452, ErrorClass.TRANSIENT), (552, ErrorClass.PERMANENT)]
    )
    def test_code_decides_the_class(self, code: int, expected: ErrorClass) -> None:
        """4xx transient, 5xx permanent, coded smtp.<code>."""
        error = reply_error(code, "text", phase="mail")
        assert (error.code, error.error_class) == (f"smtp.{code}", expected)

    def test_malformed_reply_during_data_is_ambiguous(self) -> None:
        """A reply that is not 4xx/5xx after the content was sent may hide a queued message."""
        assert reply_error(-1, "garbage", phase="data").error_class is ErrorClass.AMBIGUOUS
        assert reply_error(-1, "garbage", phase="mail").error_class is ErrorClass.PERMANENT

    def test_lost_connection_before_data_is_transient(self) -> None:
        """Before DATA nothing can have been queued."""
        error = classify(aiosmtplib.SMTPServerDisconnected("Connection lost"), "rcpt")
        assert (error.code, error.error_class) == (ErrorCode.CONNECTION_FAILED, ErrorClass.TRANSIENT)

    def test_read_timeout_during_data_is_ambiguous(self) -> None:
        """A timeout waiting for the reply to DATA is ambiguous."""
        error = classify(aiosmtplib.SMTPReadTimeoutError("Timed out"), "data")
        assert (error.code, error.error_class) == (ErrorCode.TIMEOUT, ErrorClass.AMBIGUOUS)

    def test_auth_4xx_is_transient_but_5xx_raises(self) -> None:
        """A temporary AUTH failure (454) may be retried; a 5xx AUTH refusal is configuration."""
        assert (
            classify(aiosmtplib.SMTPAuthenticationError(454, "try later"), "auth").error_class is ErrorClass.TRANSIENT
        )
        with pytest.raises(ConfigurationError):
            classify(aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), "auth")

    def test_certificate_failure_raises(self) -> None:
        """An unverifiable certificate, however wrapped, is a configuration error."""
        cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
        wrapper = aiosmtplib.SMTPConnectError("Error connecting")
        wrapper.__cause__ = cause
        with pytest.raises(ConfigurationError, match="certificate"):
            classify(wrapper, "connect")
