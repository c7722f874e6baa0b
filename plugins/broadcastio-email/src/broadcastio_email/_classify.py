"""Map SMTP failures to broadcastio's error classes, knowing where they happened.

The phase matters: before DATA nothing can have been queued, so a lost
connection or a timeout is transient; once the message content is on its
way, the server may have queued it, so the same failure is ambiguous.
Reply codes decide the rest: 4xx transient, 5xx permanent, and replies that
only a configuration change can fix (bad credentials, AUTH required, an
unverifiable certificate, a TLS mode the port does not speak) raise
:class:`~broadcastio.ConfigurationError`. A 421 or a 4.7.x reply (too many
connections, rate limit) is a throttling answer: ``rate_limited``, which
pauses the provider instead of opening its breaker.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Mapping
from typing import Literal, TypeVar

import aiosmtplib
from broadcastio import ConfigurationError, DeliveryError, ErrorCode

from broadcastio_email._addresses import mask_address

__all__ = ["Phase", "classify", "recipient_refusal", "reply_error"]

Phase = Literal["connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data"]
"""Where in the SMTP conversation a send was when it failed. ``data`` covers
the DATA command and the message content; aiosmtplib sends both in one call,
so a loss between DATA and its 354 reply is also (conservatively) ambiguous."""

Redact = Callable[[str], str]
E = TypeVar("E", bound=BaseException)

RECIPIENT_REFUSED = "smtp.recipient_refused"
INVALID_RESPONSE = "smtp.invalid_response"

_AUTH_REPLY_CODES = frozenset({530, 534, 535, 538})
"""530 authentication required, 534 mechanism too weak, 535 credentials
invalid, 538 encryption required for the mechanism."""


_THROTTLE_STATUS = re.compile(r"^\s*4\.7\.\d{1,3}\b")
"""RFC 3463 4.7.x: a transient security or policy status (rate limits, too many connections)."""


def _keep(text: str) -> str:
    return text


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    seen: BaseException | None = exc
    for _ in range(8):  # causes form short chains; bound the walk anyway
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def reply_error(code: int, text: str, *, phase: Phase, redact: Redact = _keep) -> DeliveryError:
    """A DeliveryError for an SMTP reply: 4xx transient, 5xx permanent.

    A reply that is neither (malformed, or an unexpected 2xx/3xx) is a
    protocol fault: permanent before DATA, ambiguous during it.
    """
    detail = f"SMTP {code} during {phase}: {redact(text)}".rstrip(": ")
    if code == 421 or (400 <= code < 500 and _THROTTLE_STATUS.match(text)):
        return DeliveryError.transient(ErrorCode.RATE_LIMITED, detail)
    if 400 <= code < 500:
        return DeliveryError.transient(f"smtp.{code}", detail)
    if 500 <= code < 600:
        return DeliveryError.permanent(f"smtp.{code}", detail)
    if phase == "data":
        return DeliveryError.ambiguous(INVALID_RESPONSE, f"{detail} (the server may have queued the message)")
    return DeliveryError.permanent(INVALID_RESPONSE, detail)


def recipient_refusal(refusals: Mapping[str, tuple[int, str]], *, redact: Redact = _keep) -> DeliveryError:
    """One DeliveryError reporting every refused recipient with its reply.

    Transient when every refusal is a 4xx (mailbox busy, greylisting),
    permanent as soon as one is a 5xx. Addresses are masked.
    """
    parts = [f"{mask_address(address)}: {code} {redact(text)}" for address, (code, text) in refusals.items()]
    detail = "recipient refused: " + "; ".join(parts)
    if refusals and all(400 <= code < 500 for code, _ in refusals.values()):
        return DeliveryError.transient(RECIPIENT_REFUSED, detail)
    return DeliveryError.permanent(RECIPIENT_REFUSED, detail)


def _raise_if_configuration(exc: BaseException, phase: Phase, redact: Redact, tls: str | None) -> None:
    certificate = _cause(exc, ssl.SSLCertVerificationError)
    if certificate is not None:
        reason = getattr(certificate, "verify_message", None) or certificate
        raise ConfigurationError(
            f"the SMTP server's TLS certificate failed verification ({reason}); "
            "set ca_file or tls_context for a private CA, or validate_certs=False for a test server"
        ) from exc
    handshake = _cause(exc, ssl.SSLError)
    if tls == "implicit" and phase == "connect" and handshake is not None:
        # The port answered, but not with TLS: a plain or STARTTLS port. Retrying cannot fix it.
        raise ConfigurationError(
            f"tls='implicit' but the SMTP port did not answer a TLS handshake ({handshake.reason or handshake}); "
            "use tls='starttls' for a submission port (587) or tls='none' for a plain one, or the SMTPS port (465)"
        ) from exc
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        auth_refused = code in _AUTH_REPLY_CODES and phase in ("auth", "mail")
        if auth_refused or (phase == "auth" and 500 <= code < 600):
            raise ConfigurationError(
                f"the SMTP server refused authentication ({code} {redact(exc.message)}); "
                "check username, password and the tls setting"
            ) from exc
    elif (
        phase == "auth"
        and isinstance(exc, aiosmtplib.SMTPException)
        and not isinstance(exc, (ConnectionError, TimeoutError))
    ):
        # aiosmtplib raises a bare SMTPException when the server offers no AUTH
        # (or no mechanism it knows): only configuration can fix that.
        raise ConfigurationError(f"SMTP authentication is not possible: {exc.message}") from exc


def classify(exc: BaseException, phase: Phase, *, redact: Redact = _keep, tls: str | None = None) -> DeliveryError:
    """The DeliveryError for an exception raised during ``phase`` (``tls`` is the provider's mode).

    Raises :class:`ConfigurationError` instead when only configuration can
    fix the failure.
    """
    _raise_if_configuration(exc, phase, redact, tls)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return recipient_refusal({exc.recipient: (exc.code, exc.message)}, redact=redact)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return recipient_refusal({item.recipient: (item.code, item.message) for item in exc.recipients}, redact=redact)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return reply_error(exc.code, exc.message, phase=phase, redact=redact)
    timed_out = isinstance(exc, TimeoutError)
    code = ErrorCode.TIMEOUT if timed_out else ErrorCode.CONNECTION_FAILED
    what = "timed out" if timed_out else "lost the connection"
    text = f"{type(exc).__name__}: {redact(str(exc))}" if str(exc) else type(exc).__name__
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        if phase == "data":
            return DeliveryError.ambiguous(
                code, f"SMTP {what} during DATA ({text}); the server may have queued the message"
            )
        return DeliveryError.transient(code, f"SMTP {what} during {phase}, before the message was sent ({text})")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return DeliveryError.permanent("smtp.not_supported", f"SMTP server does not support what was asked ({text})")
    return DeliveryError.permanent("smtp.error", f"SMTP error during {phase} ({text})")
